// etf_decode.cpp: binary_to_term, the external term format read into terms.
//
// The decoder is a loop over the input with an explicit stack of open containers,
// never a recursion, so the depth of the input costs heap (bounded by max_depth),
// not C++ stack. It builds every container in place:
//
// - On a container's tag it checks the element count against the bytes left (each
//   element takes at least one byte), allocates the heap object at its final size with
//   every slot `undefined` (the all-zero term), stores the container into the slot
//   that was waiting for it, and pushes a frame {next slot, end}. The next
//   terms go into the frame's slots in wire order. So memory is at most a small
//   multiple of the input's size, and nothing is copied or moved afterwards.
// - The term being decoded is owned by `root` from the first container on. If
//   anything throws, destroying `root` frees what was built: unfilled slots are
//   `undefined`, which owns nothing. No cleanup code, no partial states to track.
// - A list's tail is decoded after the list's frame is popped ("tail call"), so a
//   chain of LIST_EXT tails, which some encoders write for [H | T], does not deepen
//   the stack.
// - Maps are sorted, and checked for repeated keys, when their frame completes, i.e.
//   when every key and value is whole. MAP_EXT may list keys in any order (OTP's
//   hash-trie order for big maps); ours are sorted in map-key order (term.hpp).
// - A fun's free variables are its frame's slots; when they are done, the decoder
//   checks the fun's Size field against the bytes the fun took.
//
// Rejected: decoding children into a std::vector and building the container at the
// end (the natural recursive shape): every element would be moved once more and every
// container would cost a second allocation; the in-place slots also make error
// cleanup free. Recursion with a depth counter: simple, but a depth limit high enough
// for real data (deep {H, T} chains) would still overflow small thread stacks.
//
// Binaries: when the input is a binary term (decoder(term)), a BINARY_EXT of at least
// min_shared_binary bytes becomes a slice of it (term::sub_binary), zero copy; so does
// one inside a compressed term, sharing the inflated buffer.
#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <zlib.h>

#include "beamline/etf.hpp"
#include "beamline/fun.hpp"
#include "term/etf_tags.hpp"
#include "term/heap_objects.hpp"
#include "term/small_stack.hpp"
#include "term/term_order.hpp"
#include "term/term_printer.hpp"
#include "term/utf8.hpp"

namespace beamline::etf {

decode_error::decode_error(std::size_t offset, const std::string& problem)
    : std::invalid_argument("ETF decode error at offset " + std::to_string(offset) + ": " +
                            problem),
      offset_(offset),
      problem_(problem) {}

namespace {

using beamline::detail::allocate_object;
using beamline::detail::fun_object;
using beamline::detail::heap_object;
using beamline::detail::term_access;
using detail::tag;
using detail::tag_name;
using term_tag = term_access::tag;

// The per-thread cache of recently decoded atoms (see reader::make_atom).
struct recent_atom {
  std::uint64_t key;
  std::uint32_t index_plus_one;  // 0: empty
};
constexpr std::size_t recent_atom_slots = 256;
constinit thread_local recent_atom recent_atoms[recent_atom_slots] = {};

// A hash of a name from its length and its first and last eight bytes: enough to tell
// apart the atoms of a message, and cheaper than hashing every byte.
std::uint64_t cheap_name_hash(std::string_view name) noexcept {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  const std::size_t n = name.size();
  if (n >= 8) {
    std::memcpy(&first, name.data(), 8);
    std::memcpy(&last, name.data() + n - 8, 8);
  } else if (n > 0) {
    std::memcpy(&first, name.data(), n);
  }
  std::uint64_t h = (first * 0x9E3779B97F4A7C15ull) ^ (last * 0xC2B2AE3D27D4EB4Full) ^ n;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

// An open container: the slots its next terms go into.
struct frame {
  enum class kind : std::uint8_t { tuple, list, map, fun };
  term* next;           // the next slot to fill; for a map, the next key (its value follows)
  term* end;            // past the last element slot; for a map, past the last key
  term* slots;          // a list chunk's tail slot (elements follow); a map's first key
  std::uint32_t count;  // a map's entries (the values are count slots after the keys)
  kind what;
  bool value_next;         // a map: the next term is the value of the key at `next`
  std::uint32_t fun_size;  // a fun's Size field
  std::size_t start;       // a map's tag offset (for errors); a fun's Size field offset

  static frame of(kind what, term* slots, std::uint32_t count, std::size_t start,
                  std::uint32_t fun_size = 0) noexcept {
    term* first = what == kind::list ? slots + 1 : slots;
    return {first, first + count, slots, count, what, false, fun_size, start};
  }
};

std::string quoted_tag(std::uint8_t byte) {
  const std::string_view name = tag_name(byte);
  if (!name.empty()) return std::string(name);
  return "tag " + std::to_string(byte);
}

std::string describe(const term& t) {
  std::string text;
  beamline::detail::append_term(text, t, 100);
  return text;
}

// Puts a freshly made term into a slot that holds `undefined` (owning nothing), so
// the old value needs no release.
inline void place(term* slot, term&& value) noexcept {
  new (slot) term(std::move(value));
}

class reader {
 public:
  reader(std::span<const std::byte> input, std::size_t position, const decode_options& options,
         const term* owner) noexcept
      : data_(reinterpret_cast<const std::uint8_t*>(input.data())),
        size_(input.size()),
        position_(position),
        options_(options),
        owner_(owner) {}

  std::size_t position() const noexcept { return position_; }

  // A term, with the version byte (and so possibly compressed) if the options say so.
  term read_external() {
    if (options_.version_byte) {
      need(1, position_, "the version byte");
      const std::uint8_t version = data_[position_];
      if (version != version_byte) {
        fail(position_, "expected the version byte 131, got " + std::to_string(version) +
                            (version == 112 || version == 68
                                 ? " (a distribution header or pass-through byte, not a term)"
                                 : ""));
      }
      ++position_;
      if (position_ < size_ && data_[position_] == static_cast<std::uint8_t>(tag::compressed))
        return read_compressed();
    }
    return read_term();
  }

 private:
  [[noreturn]] static void fail(std::size_t offset, const std::string& problem) {
    throw decode_error(offset, problem);
  }

  std::size_t left() const noexcept { return size_ - position_; }

  // At least `count` bytes left, or an error about `what` (which starts at `offset`).
  void need(std::uint64_t count, std::size_t offset, std::string_view what) const {
    if (count > left()) [[unlikely]]
      fail_truncated(count, offset, what);
  }
  [[noreturn, gnu::noinline, gnu::cold]] void fail_truncated(std::uint64_t count,
                                                             std::size_t offset,
                                                             std::string_view what) const {
    fail(offset, "unexpected end of input in " + std::string(what) + ": needs " +
                     std::to_string(count) + " more byte" + (count == 1 ? "" : "s") + ", " +
                     std::to_string(left()) + " left");
  }
  // A count of elements each at least `bytes_each` long fits in what is left.
  void need_elements(std::uint64_t count, std::uint64_t bytes_each, std::size_t offset,
                     std::uint8_t tag_byte, const char* unit) const {
    if (count * bytes_each > left()) [[unlikely]]
      fail_elements(count, offset, tag_byte, unit);
  }
  [[noreturn, gnu::noinline, gnu::cold]] void fail_elements(std::uint64_t count, std::size_t offset,
                                                            std::uint8_t tag_byte,
                                                            const char* unit) const {
    fail(offset, quoted_tag(tag_byte) + " of " + std::to_string(count) + " " + unit +
                     " cannot fit in the " + std::to_string(left()) + " bytes left");
  }

  // Big-endian fields; the caller has checked that they are there.
  template <class T>
  T big_endian() noexcept {
    T value;
    std::memcpy(&value, data_ + position_, sizeof value);
    position_ += sizeof value;
    if constexpr (std::endian::native == std::endian::little) {
      if constexpr (sizeof value == 2) value = __builtin_bswap16(value);
      if constexpr (sizeof value == 4) value = __builtin_bswap32(value);
      if constexpr (sizeof value == 8) value = __builtin_bswap64(value);
    }
    return value;
  }
  std::uint8_t u8() noexcept { return data_[position_++]; }
  std::uint16_t u16() noexcept { return big_endian<std::uint16_t>(); }
  std::uint32_t u32() noexcept { return big_endian<std::uint32_t>(); }
  std::uint64_t u64() noexcept { return big_endian<std::uint64_t>(); }

  term read_compressed();
  term read_term();
  term read_scalar(std::uint8_t tag_byte, std::size_t offset);
  atom read_atom(std::string_view role);
  atom atom_from(std::uint8_t tag_byte, std::size_t offset);
  atom make_atom(const std::uint8_t* bytes, std::size_t length, bool latin1, std::size_t offset);
  atom lookup_atom(std::string_view name, std::size_t offset);
  std::int64_t read_integer(std::string_view role, std::int64_t low, std::int64_t high);
  term read_big(std::uint64_t length, std::size_t offset, std::uint8_t tag_byte);
  term read_float_text(std::size_t offset);
  term read_binary(std::size_t offset);
  term read_bit_binary(std::size_t offset);
  term read_pid(std::uint8_t tag_byte, std::size_t offset);
  term read_port(std::uint8_t tag_byte, std::size_t offset);
  term read_reference(std::uint8_t tag_byte, std::size_t offset);
  term read_export(std::size_t offset);
  term read_string(std::size_t offset);
  void finish_map(const frame& f);
  void finish_fun(const frame& f);

  // Maps a node name and creation to node 0 when they are this node's.
  struct node_fields {
    std::uint32_t node;
    std::uint32_t creation;
  };
  static node_fields localize(atom node, std::uint32_t creation) noexcept {
    const beamline::detail::local_identity local = beamline::detail::local_node_identity_now();
    if (node == local.name && creation == local.creation) return {0, 0};
    return {node.index(), creation};
  }

  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t position_;
  const decode_options& options_;
  const term* owner_;  // the binary term data_ belongs to, or nullptr
};

// --- The compressed form -----------------------------------------------------------

term reader::read_compressed() {
  const std::size_t start = position_;  // the tag 80
  ++position_;
  need(4, start, "the compressed form's size");
  const std::uint32_t size = u32();
  if (size == 0) fail(start, "the compressed form declares an uncompressed size of 0");
  if (size > options_.max_uncompressed_size) {
    fail(start, "the compressed form's uncompressed size " + std::to_string(size) +
                    " is over the limit of " + std::to_string(options_.max_uncompressed_size) +
                    " bytes (decode_options::max_uncompressed_size)");
  }
  const std::size_t stream_start = position_;
  std::size_t consumed = 0;
  const term inflated = term::make_binary(size, [&](std::span<std::byte> out) {
    z_stream stream{};
    if (inflateInit(&stream) != Z_OK) fail(start, "zlib could not start inflating");
    struct end_stream {
      z_stream* s;
      ~end_stream() { inflateEnd(s); }
    } guard{&stream};
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());  // at most the u32 size
    const std::uint8_t* input = data_ + stream_start;
    std::size_t input_left = size_ - stream_start;
    for (;;) {
      if (stream.avail_in == 0 && input_left > 0) {
        const std::size_t chunk = std::min<std::size_t>(input_left, 1u << 30);
        stream.next_in = const_cast<Bytef*>(input);
        stream.avail_in = static_cast<uInt>(chunk);
        input += chunk;
        input_left -= chunk;
      }
      const int status = inflate(&stream, Z_NO_FLUSH);
      if (status == Z_STREAM_END) break;
      if (status == Z_OK) continue;
      if (status == Z_BUF_ERROR && stream.avail_out == 0) {
        fail(start, "the compressed data inflates to more than the declared " +
                        std::to_string(size) + " bytes");
      }
      if (status == Z_BUF_ERROR) fail(size_, "the compressed data is truncated");
      fail(stream_start + stream.total_in,
           std::string("invalid zlib data: ") + (stream.msg != nullptr ? stream.msg : "error"));
    }
    if (stream.total_out != size) {
      fail(start, "the compressed data inflates to " + std::to_string(stream.total_out) +
                      " bytes, not the declared " + std::to_string(size));
    }
    consumed = stream.total_in;
  });
  decode_options inner_options = options_;
  inner_options.version_byte = false;
  const std::span<const std::byte> inner_bytes = inflated.bytes();
  reader inner(inner_bytes, 0, inner_options, &inflated);
  term result;
  try {
    result = inner.read_term();
  } catch (const decode_error& e) {
    throw decode_error(e.offset(), e.problem() + " (offset in the uncompressed data of the " +
                                       "compressed term at offset " + std::to_string(start) + ")");
  }
  if (inner.position() != inner_bytes.size()) {
    fail(start, std::to_string(inner_bytes.size() - inner.position()) +
                    " bytes after the term in the uncompressed data");
  }
  position_ = stream_start + consumed;
  return result;
}

// --- The walk --------------------------------------------------------------------------

term reader::read_term() {
  term root;
  term* destination = &root;
  beamline::detail::small_stack<frame, 16> open;
  for (;;) {
    // Decode one term into *destination; a container opens a frame.
    const std::size_t offset = position_;
    need(1, offset, "a term (its tag byte)");
    const std::uint8_t tag_byte = u8();
    std::uint64_t count = 0;
    frame opened;  // set when `opens`
    bool opens = false;
    switch (static_cast<tag>(tag_byte)) {
      case tag::small_tuple:
      case tag::large_tuple: {
        const bool small = tag_byte == static_cast<std::uint8_t>(tag::small_tuple);
        need(small ? 1 : 4, offset, tag_name(tag_byte));
        count = small ? u8() : u32();
        if (count == 0) {
          place(destination, term_access::make_inline(term_tag::empty_tuple, 0));
          break;
        }
        need_elements(count, 1, offset, tag_byte, "elements");
        heap_object* o = allocate_object<heap_object>(
            term_tag::tuple, static_cast<std::uint32_t>(count), 0, count * sizeof(term));
        term* slots = term_access::terms_after(o);
        for (std::uint64_t i = 0; i < count; ++i) new (slots + i) term();
        place(destination, term_access::adopt(o));
        opened = frame::of(frame::kind::tuple, slots, static_cast<std::uint32_t>(count), offset);
        opens = true;
        break;
      }
      case tag::list: {
        need(4, offset, "LIST_EXT");
        count = u32();
        need_elements(count + 1, 1, offset, tag_byte, "elements and a tail");
        if (count == 0) continue;  // just the tail, decoded into the same destination
        heap_object* o = allocate_object<heap_object>(
            term_tag::list, static_cast<std::uint32_t>(count), 0, (count + 1) * sizeof(term));
        term* slots = term_access::terms_after(o);
        for (std::uint64_t i = 0; i <= count; ++i) new (slots + i) term();
        place(destination, term_access::adopt(o));
        opened = frame::of(frame::kind::list, slots, static_cast<std::uint32_t>(count), offset);
        opens = true;
        break;
      }
      case tag::map: {
        need(4, offset, "MAP_EXT");
        count = u32();
        if (count == 0) {
          place(destination, term_access::make_inline(term_tag::empty_map, 0));
          break;
        }
        need_elements(count, 2, offset, tag_byte, "entries");
        heap_object* o = allocate_object<heap_object>(
            term_tag::map, static_cast<std::uint32_t>(count), 0, 2 * count * sizeof(term));
        term* slots = term_access::terms_after(o);
        for (std::uint64_t i = 0; i < 2 * count; ++i) new (slots + i) term();
        place(destination, term_access::adopt(o));
        opened = frame::of(frame::kind::map, slots, static_cast<std::uint32_t>(count), offset);
        opens = true;
        break;
      }
      case tag::new_fun: {
        const std::size_t size_offset = position_;
        need(4, offset, "NEW_FUN_EXT");
        const std::uint32_t size = u32();
        constexpr std::uint32_t fixed = 4 + 1 + 16 + 4 + 4;  // up to NumFree
        if (size < fixed) {
          fail(offset, "NEW_FUN_EXT size " + std::to_string(size) + " is less than its " +
                           std::to_string(fixed) + " bytes of fixed fields");
        }
        need(size - 4, offset, "NEW_FUN_EXT");
        const std::uint8_t arity = u8();
        std::array<std::uint8_t, 16> uniq;
        std::memcpy(uniq.data(), data_ + position_, uniq.size());
        position_ += uniq.size();
        const std::uint32_t index = u32();
        const std::uint32_t free_count = u32();
        need_elements(free_count, 1, offset, tag_byte, "free variables");
        const atom module = read_atom("a fun's module");
        const auto old_index =
            static_cast<std::uint32_t>(read_integer("a fun's OldIndex", 0, 0xffffffff));
        const auto old_uniq =
            static_cast<std::uint32_t>(read_integer("a fun's OldUniq", 0, 0xffffffff));
        const std::size_t pid_offset = position_;
        need(1, pid_offset, "a fun's creator pid");
        const std::uint8_t pid_tag = u8();
        if (pid_tag != static_cast<std::uint8_t>(tag::new_pid) &&
            pid_tag != static_cast<std::uint8_t>(tag::pid)) {
          fail(pid_offset, "a fun's creator must be a pid, got " + quoted_tag(pid_tag));
        }
        const pid creator = read_pid(pid_tag, pid_offset).as_pid();
        auto* o = allocate_object<fun_object>(term_tag::fun, free_count, 0,
                                              std::size_t{free_count} * sizeof(term));
        o->module = module.index();
        o->function = 0;
        o->index = index;
        o->old_index = old_index;
        o->old_uniq = old_uniq;
        o->arity = arity;
        o->uniq = uniq;
        o->creator = creator;
        auto* slots = const_cast<term*>(term_access::free_variables(o));
        for (std::uint32_t i = 0; i < free_count; ++i) new (slots + i) term();
        place(destination, term_access::adopt(o));
        opened = frame::of(frame::kind::fun, slots, free_count, size_offset, size);
        if (free_count == 0) {
          finish_fun(opened);
        } else {
          opens = true;
        }
        break;
      }
      // The most common scalars, decoded in place (the rest through read_scalar).
      case tag::small_integer:
        need(1, offset, "SMALL_INTEGER_EXT");
        new (destination) term(u8());
        break;
      case tag::integer:
        need(4, offset, "INTEGER_EXT");
        new (destination) term(static_cast<std::int32_t>(u32()));
        break;
      case tag::new_float: {
        need(8, offset, "NEW_FLOAT_EXT");
        const double value = std::bit_cast<double>(u64());
        if (!std::isfinite(value))
          fail(offset, "NEW_FLOAT_EXT holds an infinity or NaN; Erlang floats are finite");
        new (destination) term(value);
        break;
      }
      case tag::nil:
        new (destination) term(term::nil());
        break;
      case tag::small_atom_utf8:
      case tag::atom_latin1:
        new (destination) term(atom_from(tag_byte, offset));
        break;
      default:
        place(destination, read_scalar(tag_byte, offset));
        break;
    }
    if (opens) {
      if (open.size() >= options_.max_depth) {
        fail(offset, "nesting deeper than " + std::to_string(options_.max_depth) +
                         " (decode_options::max_depth)");
      }
      open.push(opened);
    }

    // Find the next slot to fill, closing the frames that are complete.
    for (;;) {
      if (open.empty()) return root;
      frame& f = open.top();
      if (f.next != f.end) {
        if (f.what != frame::kind::map) {
          destination = f.next++;
        } else if (!f.value_next) {
          destination = f.next;
          f.value_next = true;
        } else {
          destination = f.next + f.count;
          f.value_next = false;
          ++f.next;
        }
        break;
      }
      const frame done = f;
      open.pop();
      if (done.what == frame::kind::list) {
        destination = done.slots;  // the tail, decoded at the parent's depth
        break;
      }
      if (done.what == frame::kind::map) finish_map(done);
      if (done.what == frame::kind::fun) finish_fun(done);
    }
  }
}

void reader::finish_map(const frame& f) {
  term* keys = f.slots;
  term* values = f.slots + f.count;
  const auto before = [](const term& a, const term& b) {
    return beamline::detail::compare_terms(a, b, beamline::detail::order_mode::key) < 0;
  };
  const std::uint32_t n = f.count;
  if (n <= 32) {
    // Insertion sort: OTP writes small maps already sorted, so this is one pass.
    for (std::uint32_t i = 1; i < n; ++i) {
      for (std::uint32_t j = i; j > 0 && before(keys[j], keys[j - 1]); --j) {
        std::swap(keys[j], keys[j - 1]);
        std::swap(values[j], values[j - 1]);
      }
    }
  } else {
    std::vector<std::uint32_t> order(n);
    for (std::uint32_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return before(keys[a], keys[b]); });
    std::vector<term> sorted;
    sorted.reserve(std::size_t{n} * 2);
    for (std::uint32_t i = 0; i < n; ++i) sorted.push_back(std::move(keys[order[i]]));
    for (std::uint32_t i = 0; i < n; ++i) sorted.push_back(std::move(values[order[i]]));
    for (std::uint32_t i = 0; i < 2 * n; ++i) f.slots[i] = std::move(sorted[i]);
  }
  for (std::uint32_t i = 1; i < n; ++i) {
    if (keys[i] == keys[i - 1])
      fail(f.start, "MAP_EXT has the key " + describe(keys[i]) + " more than once");
  }
}

void reader::finish_fun(const frame& f) {
  const std::size_t used = position_ - f.start;
  if (used != f.fun_size) {
    fail(f.start, "NEW_FUN_EXT's Size field says " + std::to_string(f.fun_size) +
                      " bytes, but the fun takes " + std::to_string(used));
  }
}

// --- Scalars ---------------------------------------------------------------------------

term reader::read_scalar(std::uint8_t tag_byte, std::size_t offset) {
  switch (static_cast<tag>(tag_byte)) {
    case tag::small_integer:
      need(1, offset, "SMALL_INTEGER_EXT");
      return term(u8());
    case tag::integer:
      need(4, offset, "INTEGER_EXT");
      return term(static_cast<std::int32_t>(u32()));
    case tag::small_big: {
      need(2, offset, "SMALL_BIG_EXT");
      const std::uint8_t length = u8();
      return read_big(length, offset, tag_byte);
    }
    case tag::large_big: {
      need(5, offset, "LARGE_BIG_EXT");
      const std::uint32_t length = u32();
      return read_big(length, offset, tag_byte);
    }
    case tag::new_float: {
      need(8, offset, "NEW_FLOAT_EXT");
      const double value = std::bit_cast<double>(u64());
      if (!std::isfinite(value))
        fail(offset, "NEW_FLOAT_EXT holds an infinity or NaN; Erlang floats are finite");
      return term(value);
    }
    case tag::float_text:
      return read_float_text(offset);
    case tag::atom_latin1:
    case tag::small_atom_latin1:
    case tag::atom_utf8:
    case tag::small_atom_utf8:
    case tag::atom_cache_ref:
      return term(atom_from(tag_byte, offset));
    case tag::nil:
      return term::nil();
    case tag::string:
      return read_string(offset);
    case tag::binary:
      return read_binary(offset);
    case tag::bit_binary:
      return read_bit_binary(offset);
    case tag::new_pid:
    case tag::pid:
      return read_pid(tag_byte, offset);
    case tag::new_port:
    case tag::v4_port:
    case tag::port:
      return read_port(tag_byte, offset);
    case tag::newer_reference:
    case tag::new_reference:
    case tag::reference:
      return read_reference(tag_byte, offset);
    case tag::export_fun:
      return read_export(offset);
    case tag::compressed:
      fail(offset, "the compressed form (tag 80) is only valid right after the version byte");
    case tag::old_fun:
      fail(offset, "FUN_EXT (tag 117) is the old fun format, removed in OTP 23");
    case tag::local:
      fail(offset, "LOCAL_EXT (tag 121) is a node-local encoding, not valid here");
    case tag::small_tuple:
    case tag::large_tuple:
    case tag::list:
    case tag::map:
    case tag::new_fun:
      break;  // containers: read_term handles them
  }
  if (tag_byte == version_byte)
    fail(offset, "unexpected version byte 131 inside a term (tag 131 is not a term)");
  fail(offset, "unknown tag " + std::to_string(tag_byte));
}

term reader::read_big(std::uint64_t length, std::size_t offset, std::uint8_t tag_byte) {
  const bool negative = u8() != 0;
  need(length, offset, tag_name(tag_byte));
  const std::uint8_t* digits = data_ + position_;
  position_ += length;
  while (length > 0 && digits[length - 1] == 0) --length;  // non-canonical high zeros
  if (length <= 8) {
    std::uint64_t magnitude = 0;
    for (std::uint64_t i = length; i-- > 0;) magnitude = (magnitude << 8) | digits[i];
    constexpr std::uint64_t int64_max = std::numeric_limits<std::int64_t>::max();
    if (!negative && magnitude <= int64_max) return term(static_cast<std::int64_t>(magnitude));
    if (negative && magnitude <= int64_max + 1) {
      return term(static_cast<std::int64_t>(0 - magnitude));  // wraps to the negative value
    }
  }
  const std::uint64_t limbs = (length + 7) / 8;
  if (limbs > std::numeric_limits<std::uint32_t>::max())
    fail(offset, "integer too large");  // unreachable: length fits in 32 bits
  heap_object* o =
      allocate_object<heap_object>(term_tag::big_integer, static_cast<std::uint32_t>(limbs),
                                   negative ? 1 : 0, limbs * sizeof(std::uint64_t));
  auto* out = const_cast<std::uint64_t*>(term_access::limbs(o));
  if constexpr (std::endian::native == std::endian::little) {
    out[limbs - 1] = 0;  // the bytes past the top digit
    std::memcpy(out, digits, length);
  } else {
    for (std::uint64_t limb = 0; limb < limbs; ++limb) {
      std::uint64_t value = 0;
      const std::uint64_t end = std::min<std::uint64_t>(length, limb * 8 + 8);
      for (std::uint64_t i = end; i-- > limb * 8;) value = (value << 8) | digits[i];
      out[limb] = value;
    }
  }
  return term_access::adopt(o);
}

// FLOAT_EXT: 31 bytes of text as C's "%.20e" writes it, NUL-padded. Read as OTP does:
// the text before the first NUL must be [+-]digits(.|,)digits[(e|E)[+-]digits] and
// a finite double; what follows the NUL is ignored.
term reader::read_float_text(std::size_t offset) {
  constexpr std::size_t width = 31;
  need(width, offset, "FLOAT_EXT");
  const char* text = reinterpret_cast<const char*>(data_ + position_);
  position_ += width;
  std::size_t length = 0;
  while (length < width && text[length] != '\0') ++length;
  std::string number(text, length);
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < number.size() && number[i] >= '0' && number[i] <= '9') ++i;
    return i > from;
  };
  if (i < number.size() && (number[i] == '+' || number[i] == '-')) ++i;
  bool valid = digits();
  if (valid && i < number.size() && (number[i] == '.' || number[i] == ',')) {
    number[i++] = '.';
    valid = digits();
  } else {
    valid = false;
  }
  if (valid && i < number.size() && (number[i] == 'e' || number[i] == 'E')) {
    ++i;
    if (i < number.size() && (number[i] == '+' || number[i] == '-')) ++i;
    valid = digits();
  }
  if (!valid || i != number.size())
    fail(offset, "FLOAT_EXT text \"" + number + "\" is not a float");
  const std::size_t skip = number[0] == '+' ? 1 : 0;  // from_chars takes no '+'
  double value = 0;
  const auto [end, error] =
      std::from_chars(number.data() + skip, number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size() || !std::isfinite(value))
    fail(offset, "FLOAT_EXT text \"" + number + "\" is out of the range of a double");
  return term(value);
}

atom reader::read_atom(std::string_view role) {
  const std::size_t offset = position_;
  need(1, offset, role);
  const std::uint8_t tag_byte = u8();
  switch (static_cast<tag>(tag_byte)) {
    case tag::atom_latin1:
    case tag::small_atom_latin1:
    case tag::atom_utf8:
    case tag::small_atom_utf8:
    case tag::atom_cache_ref:
      return atom_from(tag_byte, offset);
    default:
      fail(offset, std::string(role) + " must be an atom, got " + quoted_tag(tag_byte));
  }
}

atom reader::atom_from(std::uint8_t tag_byte, std::size_t offset) {
  switch (static_cast<tag>(tag_byte)) {
    case tag::atom_cache_ref: {
      need(1, offset, "ATOM_CACHE_REF");
      const std::uint8_t index = u8();
      if (options_.atom_cache_refs.empty())
        fail(offset, "ATOM_CACHE_REF outside a distribution message (no atom cache given)");
      if (index >= options_.atom_cache_refs.size()) {
        fail(offset, "ATOM_CACHE_REF " + std::to_string(index) + " past the header's " +
                         std::to_string(options_.atom_cache_refs.size()) + " atoms");
      }
      return options_.atom_cache_refs[index];
    }
    case tag::atom_latin1:
    case tag::atom_utf8: {
      need(2, offset, tag_name(tag_byte));
      const std::uint16_t length = u16();
      need(length, offset, tag_name(tag_byte));
      const std::uint8_t* bytes = data_ + position_;
      position_ += length;
      return make_atom(bytes, length, tag_byte == static_cast<std::uint8_t>(tag::atom_latin1),
                       offset);
    }
    default: {  // the small forms
      need(1, offset, tag_name(tag_byte));
      const std::uint8_t length = u8();
      need(length, offset, tag_name(tag_byte));
      const std::uint8_t* bytes = data_ + position_;
      position_ += length;
      return make_atom(bytes, length, tag_byte == static_cast<std::uint8_t>(tag::small_atom_latin1),
                       offset);
    }
  }
}

atom reader::make_atom(const std::uint8_t* bytes, std::size_t length, bool latin1,
                       std::size_t offset) {
  // Latin-1 names become UTF-8 (at most two bytes per character).
  char converted[2 * detail::max_atom_characters];
  std::string_view name(reinterpret_cast<const char*>(bytes), length);
  if (latin1) {
    if (length > detail::max_atom_characters) {
      fail(offset, "atom of " + std::to_string(length) + " characters; at most " +
                       std::to_string(detail::max_atom_characters) + " allowed");
    }
  }
  if (latin1 && !beamline::detail::utf8::is_ascii(name)) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < length; ++i) {
      const std::uint8_t c = bytes[i];
      if (c < 0x80) {
        converted[out++] = static_cast<char>(c);
      } else {
        converted[out++] = static_cast<char>(0xC0 | (c >> 6));
        converted[out++] = static_cast<char>(0x80 | (c & 0x3F));
      }
    }
    name = std::string_view(converted, out);
  } else if (length > 4 * detail::max_atom_characters) {
    fail(offset, "atom of " + std::to_string(length) + " bytes, more than 255 characters");
  }
  // Most atoms in a message were seen before on this thread: a small direct-mapped
  // cache from a cheap hash of the name to the atom skips the table's hash and probe.
  // An entry is checked against the atom's name, so a stale or colliding one is just
  // a miss. The table never removes atoms, so a cached index always names its atom.
  const std::uint64_t key = cheap_name_hash(name);
  recent_atom& cached = recent_atoms[key % recent_atom_slots];
  if (cached.key == key && cached.index_plus_one != 0) {
    const atom candidate = atom::from_index(cached.index_plus_one - 1);
    if (candidate.name() == name) return candidate;
  }
  const atom found = lookup_atom(name, offset);
  cached = {key, found.index() + 1};
  return found;
}

atom reader::lookup_atom(std::string_view name, std::size_t offset) {
  if (options_.existing_atoms_only) {
    if (const auto existing = atom::existing(name)) return *existing;
    fail(offset, "unknown atom '" + std::string(name).substr(0, 100) +
                     "' (decode_options::existing_atoms_only)");
  }
  try {
    return atom(name);
  } catch (const std::length_error& e) {
    fail(offset, std::string("cannot add an atom: ") + e.what());
  } catch (const std::invalid_argument& e) {
    fail(offset, e.what());
  }
}

// An integer field written as an integer term (SMALL_INTEGER_EXT, INTEGER_EXT or a
// big form), in [low, high].
std::int64_t reader::read_integer(std::string_view role, std::int64_t low, std::int64_t high) {
  const std::size_t offset = position_;
  need(1, offset, role);
  const std::uint8_t tag_byte = u8();
  switch (static_cast<tag>(tag_byte)) {
    case tag::small_integer:
    case tag::integer:
    case tag::small_big:
    case tag::large_big: {
      const term value = read_scalar(tag_byte, offset);
      if (value.is_integer() && value.as_bigint().fits_int64()) {
        const std::int64_t v = value.as_int();
        if (v >= low && v <= high) return v;
      }
      fail(offset, std::string(role) + " " + describe(value) + " is out of range");
    }
    default:
      fail(offset, std::string(role) + " must be an integer, got " + quoted_tag(tag_byte));
  }
}

term reader::read_string(std::size_t offset) {
  need(2, offset, "STRING_EXT");
  const std::uint16_t length = u16();
  need(length, offset, "STRING_EXT");
  const std::uint8_t* bytes = data_ + position_;
  position_ += length;
  if (length == 0) return term::nil();
  heap_object* chunk = allocate_object<heap_object>(term_tag::list, length, 0,
                                                    (std::size_t{length} + 1) * sizeof(term));
  term* slots = term_access::terms_after(chunk);
  new (slots) term(term::nil());
  for (std::size_t i = 0; i < length; ++i) new (slots + 1 + i) term(bytes[i]);
  return term_access::adopt(chunk);
}

term reader::read_binary(std::size_t offset) {
  need(4, offset, "BINARY_EXT");
  const std::uint32_t length = u32();
  need(length, offset, "BINARY_EXT");
  const std::size_t start = position_;
  position_ += length;
  if (owner_ != nullptr && length >= options_.min_shared_binary && length > 0)
    return owner_->sub_binary(start, length);
  return term::binary(data_ + start, length);
}

term reader::read_bit_binary(std::size_t offset) {
  need(5, offset, "BIT_BINARY_EXT");
  const std::uint32_t length = u32();
  const std::uint8_t bits = u8();
  if (length == 0 ? bits != 0 : (bits == 0 || bits > 8)) {
    fail(offset, "BIT_BINARY_EXT with " + std::to_string(bits) + " bits in the last of " +
                     std::to_string(length) + " bytes (1 to 8, or 0 for no bytes)");
  }
  need(length, offset, "BIT_BINARY_EXT");
  const std::size_t start = position_;
  position_ += length;
  if (bits == 8) {
    if (owner_ != nullptr && length >= options_.min_shared_binary)
      return owner_->sub_binary(start, length);
    return term::binary(data_ + start, length);
  }
  return term::bitstring(std::as_bytes(std::span<const std::uint8_t>(data_ + start, length)),
                         (std::size_t{length} - (length > 0 ? 1 : 0)) * 8 + bits);
}

term reader::read_pid(std::uint8_t tag_byte, std::size_t offset) {
  const atom node = read_atom("a pid's node");
  const bool old = tag_byte == static_cast<std::uint8_t>(tag::pid);
  need(old ? 9 : 12, offset, tag_name(tag_byte));
  const std::uint32_t id = u32();
  const std::uint32_t serial = u32();
  const std::uint32_t creation = old ? u8() : u32();
  if (old && creation > detail::max_old_creation)
    fail(offset, "PID_EXT creation " + std::to_string(creation) + " is over 3");
  const node_fields where = localize(node, creation);
  return term(pid{id, serial, where.node, where.creation});
}

term reader::read_port(std::uint8_t tag_byte, std::size_t offset) {
  const atom node = read_atom("a port's node");
  std::uint64_t id = 0;
  std::uint32_t creation = 0;
  switch (static_cast<tag>(tag_byte)) {
    case tag::v4_port:
      need(12, offset, "V4_PORT_EXT");
      id = u64();
      creation = u32();
      break;
    case tag::new_port:
      need(8, offset, "NEW_PORT_EXT");
      id = u32();
      creation = u32();
      break;
    default:
      need(5, offset, "PORT_EXT");
      id = u32();
      creation = u8();
      if (creation > detail::max_old_creation)
        fail(offset, "PORT_EXT creation " + std::to_string(creation) + " is over 3");
      break;
  }
  const node_fields where = localize(node, creation);
  return term(port{id, where.node, where.creation});
}

term reader::read_reference(std::uint8_t tag_byte, std::size_t offset) {
  ref r;
  std::uint32_t creation = 0;
  atom node;
  if (tag_byte == static_cast<std::uint8_t>(tag::reference)) {
    node = read_atom("a reference's node");
    need(5, offset, "REFERENCE_EXT");
    r.length = 1;
    r.words[0] = u32();
    creation = u8();
  } else {
    need(2, offset, tag_name(tag_byte));
    r.length = u16();
    // OTP 25 accepts 0 words but corrupts its heap with such a reference (the VM
    // crashes later); 1 to 5 words is what any node makes.
    if (r.length == 0 || r.length > detail::max_reference_words) {
      fail(offset,
           quoted_tag(tag_byte) + " of " + std::to_string(r.length) + " words; 1 to 5 allowed");
    }
    node = read_atom("a reference's node");
    const bool newer = tag_byte == static_cast<std::uint8_t>(tag::newer_reference);
    need((newer ? 4 : 1) + 4 * std::size_t{r.length}, offset, tag_name(tag_byte));
    creation = newer ? u32() : u8();
    for (std::uint32_t i = 0; i < r.length; ++i) r.words[i] = u32();
    if (newer) {
      const node_fields where = localize(node, creation);
      r.node = where.node;
      r.creation = where.creation;
      return term(r);
    }
  }
  // The deprecated forms: a two-bit creation and an 18-bit first word.
  if (creation > detail::max_old_creation) {
    fail(offset, quoted_tag(tag_byte) + " creation " + std::to_string(creation) + " is over 3");
  }
  if (r.length > 0 && r.words[0] > detail::max_old_reference_word) {
    fail(offset,
         quoted_tag(tag_byte) + " first word " + std::to_string(r.words[0]) + " is over 18 bits");
  }
  const node_fields where = localize(node, creation);
  r.node = where.node;
  r.creation = where.creation;
  return term(r);
}

term reader::read_export(std::size_t) {
  const atom module = read_atom("EXPORT_EXT's module");
  const atom function = read_atom("EXPORT_EXT's function");
  const auto arity = static_cast<std::uint8_t>(read_integer("EXPORT_EXT's arity", 0, 255));
  return term::fun(external_fun{module, function, arity});
}

}  // namespace

// --- The public interface --------------------------------------------------------------

decoder::decoder(std::span<const std::byte> input, const decode_options& options)
    : input_(input), options_(options) {}

decoder::decoder(std::string_view input, const decode_options& options)
    : decoder(std::as_bytes(std::span<const char>(input.data(), input.size())), options) {}

decoder::decoder(const term& binary, const decode_options& options) : options_(options) {
  if (!binary.is_binary()) {
    throw decode_error(0, binary.is_bitstring()
                              ? "the input is a bitstring, not whole bytes"
                              : "the input is not a binary but " + describe(binary));
  }
  input_ = binary.bytes();
  if (!input_.empty()) owner_ = &binary;
}

term decoder::next() {
  reader r(input_, position_, options_, owner_);
  term result = r.read_external();
  position_ = r.position();
  return result;
}

void decoder::skip(std::size_t bytes) {
  if (bytes > remaining()) {
    throw decode_error(position_, "cannot skip " + std::to_string(bytes) + " bytes, " +
                                      std::to_string(remaining()) + " left");
  }
  position_ += bytes;
}

namespace {
term decode_whole(decoder& d) {
  term result = d.next();
  if (!d.at_end()) {
    throw decode_error(d.position(), std::to_string(d.remaining()) + " byte" +
                                         (d.remaining() == 1 ? "" : "s") + " after the term");
  }
  return result;
}
}  // namespace

term binary_to_term(std::span<const std::byte> bytes, const decode_options& options) {
  decoder d(bytes, options);
  return decode_whole(d);
}

term binary_to_term(std::string_view bytes, const decode_options& options) {
  decoder d(bytes, options);
  return decode_whole(d);
}

term binary_to_term(const term& binary, const decode_options& options) {
  decoder d(binary, options);
  return decode_whole(d);
}

}  // namespace beamline::etf
