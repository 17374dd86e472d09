// etf_encode.cpp: term_to_binary, terms written in the external term format.
//
// One pass, straight into the output buffer, with OTP 25's choice of tags (etf.hpp
// lists them). The walk is pre-order with an explicit stack of "pending" entries,
// never a recursion, so a term nested a million deep encodes in constant C++ stack:
//
// - A container writes its header (tag and count) and pushes one entry that hands
//   out its children in order: a tuple's elements, a map's keys and values
//   alternately, a list's elements across its chunks and then its final tail.
// - NEW_FUN_EXT starts with the byte size of the whole fun, known only at its end:
//   the encoder writes a placeholder and pushes a "patch the size" entry under the
//   fun's free variables; popping it writes the size.
//
// Lists need a look ahead: OTP writes a proper list of at most 65535 integers in
// 0..255 as STRING_EXT, anything else as LIST_EXT with the element count up front,
// so the encoder first walks the list (counting, and checking for a string), then
// writes it. Two walks over the elements, no copy.
//
// term_to_binary must end in a binary term of exactly the right size, unknown until the
// end. It encodes into a reusable scratch buffer and copies that into the new binary;
// but the bytes of large binaries inside the term (at least gather_threshold) are not
// copied into the scratch buffer: the writer leaves a "hole" (where, which bytes) and
// the final copy gathers them from the source binary. So every byte is copied once
// into the result, plus once more for the small parts only. (Rejected: a first pass to
// compute the exact size, which costs a second walk of every term, small or not.)
//
// The compressed form is encoded as usual into a scratch buffer, then deflated with
// zlib at the requested level into the output; as OTP does, if the zlib stream would
// not fit in (uncompressed size - 5) bytes, i.e. compressing would make the result
// larger, the uncompressed form is written instead.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <zlib.h>

#include "beamline/etf.hpp"
#include "beamline/fun.hpp"
#include "term/etf_tags.hpp"
#include "term/heap_objects.hpp"
#include "term/small_stack.hpp"
#include "term/term_order.hpp"
#include "term/utf8.hpp"

namespace beamline::etf {

// --- buffer ----------------------------------------------------------------------------

void buffer::reserve(std::size_t capacity) {
  if (capacity > capacity_) grow(capacity - size_);
}

void buffer::grow(std::size_t more) {
  if (more > std::numeric_limits<std::size_t>::max() / 2 - size_)
    throw std::length_error("etf::buffer: too large");
  const std::size_t capacity = std::max({capacity_ * 2, size_ + more, std::size_t{256}});
  auto storage = std::make_unique_for_overwrite<std::byte[]>(capacity);
  if (size_ > 0) std::memcpy(storage.get(), storage_.get(), size_);
  storage_ = std::move(storage);
  capacity_ = capacity;
}

void buffer::append(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  std::memcpy(extend(bytes.size()), bytes.data(), bytes.size());
}

namespace {

using beamline::detail::binary_object;
using beamline::detail::external_pid_object;
using beamline::detail::external_port_object;
using beamline::detail::external_ref_object;
using beamline::detail::fun_object;
using beamline::detail::heap_object;
using beamline::detail::term_access;
using detail::tag;
using term_tag = term_access::tag;

// Binaries at least this long are gathered by term_to_binary rather than copied twice.
constexpr std::size_t gather_threshold = 512;

// Bytes the output should have at `at` (before the output's byte `at`) that are not in
// the output buffer: a large binary's bytes, copied straight into the final binary.
struct hole {
  std::size_t at;
  const std::byte* data;
  std::size_t size;
};

// What is left to write of an open container.
struct pending {
  enum class kind : std::uint8_t { elements, map_entries, list, fun_size };
  kind what;
  std::uint32_t count;       // elements; map entries
  std::uint64_t index;       // the next child (a map has 2 * count); fun_size: the hole
                             // bytes before the Size field
  const term* terms;         // elements; map keys (values follow); a list's final tail
  const heap_object* chunk;  // the list chunk being written, or nullptr once at the tail
  std::size_t size_field;    // fun_size: where the fun's Size field is in the output
};

class writer {
 public:
  // With `holes`, large binaries' bytes are left out of `out` and listed there.
  writer(buffer& out, const encode_options& options, std::vector<hole>* holes = nullptr) noexcept
      : out_(out), options_(options), holes_(holes) {}

  void write(const term& root);
  // The bytes left out as holes.
  std::size_t hole_bytes() const noexcept { return hole_bytes_; }

 private:
  void u8(std::uint8_t v) { *out_.extend(1) = static_cast<std::byte>(v); }
  void u16(std::uint16_t v) {
    std::byte* p = out_.extend(2);
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v);
  }
  void u32(std::uint32_t v) {
    std::byte* p = out_.extend(4);
    store32(p, v);
  }
  static void store32(std::byte* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::byte>(v >> 24);
    p[1] = static_cast<std::byte>(v >> 16);
    p[2] = static_cast<std::byte>(v >> 8);
    p[3] = static_cast<std::byte>(v);
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void raw(const void* data, std::size_t size) {
    if (size > 0) std::memcpy(out_.extend(size), data, size);
  }
  void tag_byte(tag t) { u8(static_cast<std::uint8_t>(t)); }

  static std::uint32_t checked_u32(std::size_t n, const char* what) {
    if (n > std::numeric_limits<std::uint32_t>::max())
      throw std::length_error(std::string("ETF cannot hold ") + what + " of " + std::to_string(n) +
                              " (more than 2^32 - 1)");
    return static_cast<std::uint32_t>(n);
  }

  void one(const term& t);
  void atom_of(atom a);
  void write_atom_name(atom a);
  void small_integer(std::int64_t v);
  void big_integer(const heap_object* o);
  void binary(const term& t);
  std::uint32_t node(std::uint32_t node_index, std::uint32_t creation);
  void pid_of(const pid& p);
  void port_of(const port& p);
  void ref_of(const ref& r);
  void fun(const term& t);
  void list(const term& t);

  // Where recently written atoms are in the output, so that an atom written again
  // (a node name in every pid, a record tag in every tuple) is copied from there, not
  // looked up and converted again. Direct-mapped by atom index; a key is index + 1.
  static constexpr std::size_t recent_atom_slots = 8;
  struct recent_atom {
    std::size_t offset;
    std::size_t size;
  };

  buffer& out_;
  const encode_options& options_;
  std::vector<hole>* holes_;
  std::size_t hole_bytes_ = 0;
  std::uint32_t recent_keys_[recent_atom_slots] = {};
  recent_atom recent_[recent_atom_slots];  // valid where the key is set
  beamline::detail::small_stack<pending, 16> open_;
};

void writer::write(const term& root) {
  one(root);
  while (!open_.empty()) {
    pending& p = open_.top();
    const term* next = nullptr;
    switch (p.what) {
      case pending::kind::elements:
        if (p.index < p.count) next = p.terms + p.index++;
        break;
      case pending::kind::map_entries:
        if (p.index < 2 * std::uint64_t{p.count}) {
          const std::uint64_t i = p.index++;
          next = p.terms + (i % 2 == 0 ? i / 2 : p.count + i / 2);
        }
        break;
      case pending::kind::list:
        if (p.chunk != nullptr) {
          next = term_access::terms_after(p.chunk) + 1 + p.index;
          if (++p.index == p.chunk->count) {
            const term& tail = term_access::terms_after(p.chunk)[0];
            if (term_access::tag_of(tail) == term_tag::list) {
              p.chunk = term_access::object_of(tail);
              p.index = term_access::aux_of(tail);
            } else {
              p.chunk = nullptr;
              p.terms = &tail;
            }
          }
        } else if (p.terms != nullptr) {
          next = p.terms;  // the final tail ([] for a proper list)
          p.terms = nullptr;
        }
        break;
      case pending::kind::fun_size:  // counting the hole bytes inside the fun
        store32(const_cast<std::byte*>(out_.data()) + p.size_field,
                static_cast<std::uint32_t>(out_.size() + hole_bytes_ - p.size_field - p.index));
        break;
    }
    if (next == nullptr) {
      open_.pop();
      continue;
    }
    one(*next);  // may push: p is not used after this
  }
}

void writer::one(const term& t) {
  switch (term_access::tag_of(t)) {
    case term_tag::atom:
      atom_of(t.as_atom());
      return;
    case term_tag::small_integer:
      small_integer(static_cast<std::int64_t>(term_access::payload_of(t)));
      return;
    case term_tag::big_integer:
      big_integer(term_access::object_of(t));
      return;
    case term_tag::float_:
      tag_byte(tag::new_float);
      u64(term_access::payload_of(t));
      return;
    case term_tag::nil:
      tag_byte(tag::nil);
      return;
    case term_tag::empty_tuple:
      tag_byte(tag::small_tuple);
      u8(0);
      return;
    case term_tag::empty_map:
      tag_byte(tag::map);
      u32(0);
      return;
    case term_tag::empty_binary:
      tag_byte(tag::binary);
      u32(0);
      return;
    case term_tag::binary:
      binary(t);
      return;
    case term_tag::local_pid:
    case term_tag::external_pid:
      pid_of(t.as_pid());
      return;
    case term_tag::local_port:
    case term_tag::external_port:
      port_of(t.as_port());
      return;
    case term_tag::local_ref:
    case term_tag::external_ref:
      ref_of(t.as_ref());
      return;
    case term_tag::tuple: {
      const std::span<const term> elements = term_access::tuple_elements(t);
      if (elements.size() <= 255) {
        tag_byte(tag::small_tuple);
        u8(static_cast<std::uint8_t>(elements.size()));
      } else {
        tag_byte(tag::large_tuple);
        u32(static_cast<std::uint32_t>(elements.size()));
      }
      open_.push({pending::kind::elements, static_cast<std::uint32_t>(elements.size()), 0,
                  elements.data(), nullptr, 0});
      return;
    }
    case term_tag::map: {
      const std::span<const term> keys = term_access::map_keys(t);
      tag_byte(tag::map);
      u32(static_cast<std::uint32_t>(keys.size()));
      open_.push({pending::kind::map_entries, static_cast<std::uint32_t>(keys.size()), 0,
                  keys.data(), nullptr, 0});
      return;
    }
    case term_tag::list:
      list(t);
      return;
    case term_tag::fun:
      fun(t);
      return;
  }
}

// An atom: a cache reference when the options list it; otherwise OTP 25's choice.
void writer::atom_of(atom a) {
  for (std::size_t i = 0; i < options_.atom_cache_refs.size(); ++i) {
    if (options_.atom_cache_refs[i] == a) {
      tag_byte(tag::atom_cache_ref);
      u8(static_cast<std::uint8_t>(i));
      return;
    }
  }
  const std::size_t slot = a.index() % recent_atom_slots;
  if (recent_keys_[slot] == a.index() + 1) {
    const recent_atom earlier = recent_[slot];
    std::byte* p = out_.extend(earlier.size);  // may move the buffer: copy after
    std::memcpy(p, out_.data() + earlier.offset, earlier.size);
    return;
  }
  const std::size_t start = out_.size();
  write_atom_name(a);
  recent_keys_[slot] = a.index() + 1;
  recent_[slot] = {start, out_.size() - start};
}

void writer::write_atom_name(atom a) {
  const std::string_view name = a.name();
  const std::size_t size = name.size();
  if (size <= 255 && (options_.minor_version == 2 || beamline::detail::utf8::is_ascii(name))) {
    // The common case in one piece: ATOM_EXT (minor version 1) or SMALL_ATOM_UTF8_EXT.
    const bool latin1 = options_.minor_version == 1;
    const std::size_t header = latin1 ? 3 : 2;
    std::byte* p = out_.extend(header + size);
    p[0] = static_cast<std::byte>(latin1 ? tag::atom_latin1 : tag::small_atom_utf8);
    if (latin1) {
      p[1] = std::byte{0};
      p[2] = static_cast<std::byte>(size);
    } else {
      p[1] = static_cast<std::byte>(size);
    }
    if (size > 0) std::memcpy(p + header, name.data(), size);
    return;
  }
  if (options_.minor_version == 1) {
    // Latin-1 when every character is at most U+00FF: ASCII as it is, U+0080..U+00FF
    // from their two UTF-8 bytes (C2 or C3, then a continuation byte).
    std::size_t characters = 0;
    bool latin1 = true;
    for (std::size_t i = 0; i < name.size(); ++i, ++characters) {
      const auto c = static_cast<std::uint8_t>(name[i]);
      if (c < 0x80) continue;
      if ((c == 0xC2 || c == 0xC3) && i + 1 < name.size()) {
        ++i;
        continue;
      }
      latin1 = false;
      break;
    }
    if (latin1) {
      tag_byte(tag::atom_latin1);
      u16(static_cast<std::uint16_t>(characters));
      if (characters == name.size()) {
        raw(name.data(), name.size());
        return;
      }
      std::byte* p = out_.extend(characters);
      for (std::size_t i = 0; i < name.size(); ++i) {
        const auto c = static_cast<std::uint8_t>(name[i]);
        if (c < 0x80) {
          *p++ = static_cast<std::byte>(c);
        } else {
          *p++ = static_cast<std::byte>(((c & 0x1F) << 6) | (name[i + 1] & 0x3F));
          ++i;
        }
      }
      return;
    }
  }
  if (name.size() <= 255) {
    tag_byte(tag::small_atom_utf8);
    u8(static_cast<std::uint8_t>(name.size()));
  } else {
    tag_byte(tag::atom_utf8);
    u16(static_cast<std::uint16_t>(name.size()));  // at most 255 * 4 bytes
  }
  raw(name.data(), name.size());
}

void writer::small_integer(std::int64_t v) {
  if (v >= 0 && v <= 255) {
    tag_byte(tag::small_integer);
    u8(static_cast<std::uint8_t>(v));
    return;
  }
  if (v >= std::numeric_limits<std::int32_t>::min() &&
      v <= std::numeric_limits<std::int32_t>::max()) {
    tag_byte(tag::integer);
    u32(static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
    return;
  }
  const std::uint64_t magnitude =
      v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  const auto length = static_cast<std::uint8_t>((std::bit_width(magnitude) + 7) / 8);
  tag_byte(tag::small_big);
  u8(length);
  u8(v < 0 ? 1 : 0);
  std::byte* p = out_.extend(length);
  for (std::uint8_t i = 0; i < length; ++i) p[i] = static_cast<std::byte>(magnitude >> (8 * i));
}

void writer::big_integer(const heap_object* o) {
  const std::uint64_t* limbs = term_access::limbs(o);
  const std::size_t count = o->count;  // canonical: the top limb is not zero
  const std::size_t length =
      (count - 1) * 8 + (static_cast<std::size_t>(std::bit_width(limbs[count - 1])) + 7) / 8;
  if (length <= 255) {
    tag_byte(tag::small_big);
    u8(static_cast<std::uint8_t>(length));
  } else {
    tag_byte(tag::large_big);
    u32(checked_u32(length, "an integer"));
  }
  u8(o->flags != 0 ? 1 : 0);
  std::byte* p = out_.extend(length);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, limbs, length);  // little-endian limbs are the little-endian digits
  } else {
    for (std::size_t i = 0; i < length; ++i)
      p[i] = static_cast<std::byte>(limbs[i / 8] >> (8 * (i % 8)));
  }
}

void writer::binary(const term& t) {
  const auto* o = static_cast<const binary_object*>(term_access::object_of(t));
  const std::uint32_t size = checked_u32(o->size, "a binary");
  if (o->flags == 8) {
    tag_byte(tag::binary);
    u32(size);
  } else {
    tag_byte(tag::bit_binary);
    u32(size);
    u8(o->flags);
  }
  if (holes_ != nullptr && o->size >= gather_threshold) {
    holes_->push_back({out_.size(), o->data, o->size});
    hole_bytes_ += o->size;
    return;
  }
  raw(o->data, o->size);
}

// Node 0 is this node: its name and creation are the ones set_local_node_identity set.
// Writes the node's name and returns the creation to write.
std::uint32_t writer::node(std::uint32_t node_index, std::uint32_t creation) {
  if (node_index == 0) {
    const beamline::detail::local_identity local = beamline::detail::local_node_identity_now();
    atom_of(local.name);
    return local.creation;
  }
  atom_of(atom::from_index(node_index));
  return creation;
}

void writer::pid_of(const pid& p) {
  tag_byte(tag::new_pid);
  const std::uint32_t creation = node(p.node, p.creation);
  std::byte* out = out_.extend(12);
  store32(out, p.id);
  store32(out + 4, p.serial);
  store32(out + 8, creation);
}

void writer::port_of(const port& p) {
  const bool v4 = p.id > detail::max_new_port_id;
  tag_byte(v4 ? tag::v4_port : tag::new_port);
  const std::uint32_t creation = node(p.node, p.creation);
  if (v4) {
    u64(p.id);
  } else {
    u32(static_cast<std::uint32_t>(p.id));
  }
  u32(creation);
}

void writer::ref_of(const ref& r) {
  // The null reference (no words) has no external form: OTP 25 would decode one into a
  // reference that corrupts its heap.
  if (r.length == 0) throw badarg("the null reference (#Ref<0>) cannot be encoded");
  tag_byte(tag::newer_reference);
  u16(static_cast<std::uint16_t>(r.length));
  const std::uint32_t creation = node(r.node, r.creation);
  std::byte* out = out_.extend(4 + 4 * std::size_t{r.length});
  store32(out, creation);
  for (std::uint32_t i = 0; i < r.length; ++i) store32(out + 4 + 4 * i, r.words[i]);
}

void writer::fun(const term& t) {
  const auto* o = static_cast<const fun_object*>(term_access::object_of(t));
  if ((o->flags & fun_object::external_flag) != 0) {
    tag_byte(tag::export_fun);
    atom_of(atom::from_index(o->module));
    atom_of(atom::from_index(o->function));
    tag_byte(tag::small_integer);
    u8(o->arity);
    return;
  }
  tag_byte(tag::new_fun);
  const std::size_t size_field = out_.size();
  u32(0);  // the size, patched when the free variables are written
  u8(o->arity);
  raw(o->uniq.data(), o->uniq.size());
  u32(o->index);
  u32(o->count);
  atom_of(atom::from_index(o->module));
  small_integer(o->old_index);
  small_integer(o->old_uniq);
  pid_of(o->creator);
  open_.push({pending::kind::fun_size, 0, hole_bytes_, nullptr, nullptr, size_field});
  if (o->count > 0) {
    open_.push({pending::kind::elements, o->count, 0, term_access::free_variables(o), nullptr, 0});
  }
}

void writer::list(const term& t) {
  // Count the elements and see whether OTP would write a STRING_EXT.
  std::size_t length = 0;
  bool bytes_only = true;
  const term::list_view elements = t.as_list();
  for (auto it = elements.begin(); it != elements.end(); ++it) {
    ++length;
    if (bytes_only) {
      const term& e = *it;
      bytes_only = length <= detail::max_string_ext_length &&
                   term_access::tag_of(e) == term_tag::small_integer &&
                   term_access::payload_of(e) <= 255;
    }
  }
  const term& tail = elements.tail();
  if (bytes_only && term_access::tag_of(tail) == term_tag::nil) {
    tag_byte(tag::string);
    u16(static_cast<std::uint16_t>(length));
    std::byte* p = out_.extend(length);
    for (const term& e : elements) *p++ = static_cast<std::byte>(term_access::payload_of(e));
    return;
  }
  tag_byte(tag::list);
  u32(checked_u32(length, "a list"));
  open_.push(
      {pending::kind::list, 0, term_access::aux_of(t), nullptr, term_access::object_of(t), 0});
}

// The compressed form: 131, 80, the uncompressed size, then the zlib stream, if that
// is no larger than the plain form.
void encode_compressed(const term& t, buffer& out, const encode_options& options) {
  thread_local buffer scratch;
  scratch.clear();
  encode_options plain = options;
  plain.compression = 0;
  plain.version_byte = false;
  writer(scratch, plain).write(t);
  if (scratch.size() > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("ETF cannot compress a term of more than 4 GiB");
  const std::size_t start = out.size();
  out.append(std::as_bytes(std::span<const std::uint8_t>(&version_byte, 1)));
  if (scratch.size() > 5) {
    const std::size_t limit = scratch.size() - 5;
    std::byte* header = out.extend(5 + limit);
    header[0] = static_cast<std::byte>(tag::compressed);
    const auto size = static_cast<std::uint32_t>(scratch.size());
    for (int i = 0; i < 4; ++i) header[1 + i] = static_cast<std::byte>(size >> (24 - 8 * i));
    uLongf written = limit;
    const int status = compress2(reinterpret_cast<Bytef*>(header + 5), &written,
                                 reinterpret_cast<const Bytef*>(scratch.data()), scratch.size(),
                                 options.compression);
    if (status == Z_OK) {
      out.truncate(start + 1 + 5 + written);
      return;
    }
    if (status != Z_BUF_ERROR) throw std::runtime_error("zlib compress2 failed");
    out.truncate(start + 1);
  }
  out.append(scratch.bytes());
}

void check_options(const encode_options& options) {
  if (options.minor_version != 1 && options.minor_version != 2) {
    throw badarg("etf::encode_options::minor_version must be 1 or 2, got " +
                 std::to_string(options.minor_version));
  }
  if (options.compression < 0 || options.compression > 9) {
    throw badarg("etf::encode_options::compression must be 0 to 9, got " +
                 std::to_string(options.compression));
  }
  if (options.atom_cache_refs.size() > 256)
    throw badarg("etf::encode_options::atom_cache_refs holds at most 256 atoms");
}

}  // namespace

void encode(const term& t, buffer& out, const encode_options& options) {
  check_options(options);
  const std::size_t start = out.size();
  try {
    if (options.compression > 0 && options.version_byte) {
      encode_compressed(t, out, options);
      return;
    }
    if (options.version_byte) *out.extend(1) = static_cast<std::byte>(version_byte);
    writer(out, options).write(t);
  } catch (...) {
    out.truncate(start);  // no partial term left behind
    throw;
  }
}

term term_to_binary(const term& t, const encode_options& options) {
  struct scratch_space {
    buffer bytes;
    std::vector<hole> holes;
  };
  thread_local scratch_space space;
  buffer& scratch = space.bytes;
  std::vector<hole>& holes = space.holes;
  scratch.clear();
  holes.clear();
  std::size_t hole_bytes = 0;
  if (options.compression > 0) {
    encode(t, scratch, options);
  } else {
    check_options(options);
    if (options.version_byte) *scratch.extend(1) = static_cast<std::byte>(version_byte);
    writer w(scratch, options, &holes);
    w.write(t);
    hole_bytes = w.hole_bytes();
  }
  return term::make_binary(scratch.size() + hole_bytes, [&](std::span<std::byte> bytes) {
    std::byte* out = bytes.data();
    std::size_t from = 0;
    for (const hole& h : holes) {
      std::memcpy(out, scratch.data() + from, h.at - from);
      out += h.at - from;
      std::memcpy(out, h.data, h.size);
      out += h.size;
      from = h.at;
    }
    if (scratch.size() > from) std::memcpy(out, scratch.data() + from, scratch.size() - from);
  });
}

}  // namespace beamline::etf
