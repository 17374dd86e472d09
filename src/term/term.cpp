// term.cpp: building, reading and destroying terms (the representation is in
// term.hpp and heap_objects.hpp; order and hashing in term_order.cpp, printing in
// term_print.cpp, parsing in term_parse.cpp).
//
// Destruction is iterative: when a reference count reaches zero, the object goes on
// a singly linked "destroy list" threaded through its own (now unused) reference
// count; releasing its children may push more objects; the loop frees until the list
// is empty. A list of a million cons cells or a tuple nested a million deep is freed
// with constant stack, which matters because such terms can arrive from the network.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "beamline/fun.hpp"
#include "beamline/term.hpp"
#include "term/heap_objects.hpp"
#include "term/term_order.hpp"
#include "term/term_printer.hpp"
#include "term/utf8.hpp"

namespace beamline {

using detail::allocate_object;
using detail::binary_object;
using detail::external_pid_object;
using detail::external_port_object;
using detail::external_ref_object;
using detail::fun_object;
using detail::heap_object;
using detail::term_access;
using term_tag = term_access::tag;

parse_error::parse_error(std::size_t offset, const std::string& problem)
    : std::invalid_argument("parse error at offset " + std::to_string(offset) + ": " + problem),
      offset_(offset),
      problem_(problem) {}

// --- Destruction ---------------------------------------------------------------------

namespace detail {
namespace {

heap_object* next_to_destroy(const heap_object* o) noexcept {
  return reinterpret_cast<heap_object*>(
      static_cast<std::uintptr_t>(o->references.load(std::memory_order_relaxed)));
}

// Drops a reference that a dying object held; the last one queues the object.
void release_into(heap_object* o, heap_object*& pending) noexcept {
  // The same protocol as term::release(); see there for the memory orders.
  if (o->references.load(std::memory_order_acquire) == 1 ||
      o->references.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // Dead: nobody else can read the count now, so it becomes the list link.
    o->references.store(reinterpret_cast<std::uintptr_t>(pending), std::memory_order_relaxed);
    pending = o;
  }
}

void release_terms_into(const term* terms, std::size_t count, heap_object*& pending) noexcept {
  for (std::size_t i = 0; i < count; ++i) {
    if (term_access::is_boxed(terms[i])) release_into(term_access::object_of(terms[i]), pending);
  }
}

}  // namespace

void destroy_heap_object(heap_object* object) noexcept {
  object->references.store(0, std::memory_order_relaxed);  // the end of the list
  heap_object* pending = object;
  while (pending != nullptr) {
    heap_object* current = pending;
    pending = next_to_destroy(current);
    // The terms inside are released here rather than by their destructors, which
    // would recurse; they hold nothing else, so their storage is simply freed.
    switch (static_cast<term_tag>(current->tag)) {
      case term_tag::tuple:
        release_terms_into(term_access::terms_after(current), current->count, pending);
        break;
      case term_tag::list:  // the tail, then the elements
        release_terms_into(term_access::terms_after(current), std::size_t{current->count} + 1,
                           pending);
        break;
      case term_tag::map:  // the keys, then the values
        release_terms_into(term_access::terms_after(current), std::size_t{current->count} * 2,
                           pending);
        break;
      case term_tag::binary:
        if (heap_object* owner = static_cast<binary_object*>(current)->owner)
          release_into(owner, pending);
        break;
      case term_tag::fun:
        release_terms_into(term_access::free_variables(static_cast<fun_object*>(current)),
                           current->count, pending);
        break;
      default:  // big integers, external pids, ports and refs hold no references
        break;
    }
    ::operator delete(current);
  }
}

}  // namespace detail

// --- Scalars ---------------------------------------------------------------------------

void term::become_boxed(const pid& p) {
  auto* o = allocate_object<external_pid_object>(tag::external_pid, 0, 0);
  o->value = p;
  *this = term_access::adopt(o);
}

void term::become_boxed(const ref& r) {
  if (r.length > ref::max_words) {
    throw badarg("a reference has at most " + std::to_string(ref::max_words) + " words, got " +
                 std::to_string(r.length));
  }
  auto* o = allocate_object<external_ref_object>(tag::external_ref, 0, 0);
  o->value = r;
  // Words past the length are zero, so equal refs have equal bits.
  for (std::uint32_t i = r.length; i < ref::max_words; ++i) o->value.words[i] = 0;
  *this = term_access::adopt(o);
}

void term::become_boxed(const port& p) {
  auto* o = allocate_object<external_port_object>(tag::external_port, 0, 0);
  o->value = p;
  *this = term_access::adopt(o);
}

term::term(const bigint& value) : term(tag::small_integer) {
  if (const auto small = value.to_int64()) {
    payload_ = static_cast<std::uint64_t>(*small);
    return;
  }
  const std::span<const std::uint64_t> limbs = value.limbs();
  if (limbs.size() > std::numeric_limits<std::uint32_t>::max()) throw badarg("integer too large");
  auto* o = allocate_object<heap_object>(tag::big_integer, static_cast<std::uint32_t>(limbs.size()),
                                         value.is_negative() ? 1 : 0,
                                         limbs.size() * sizeof(std::uint64_t));
  std::memcpy(const_cast<std::uint64_t*>(term_access::limbs(o)), limbs.data(),
              limbs.size() * sizeof(std::uint64_t));
  *this = term_access::adopt(o);
}

void term::become_big_unsigned(std::uint64_t value) {
  *this = term(bigint(value));
}

// --- Tuples ----------------------------------------------------------------------------

namespace {

std::uint32_t checked_count(std::size_t count, const char* what) {
  if (count > std::numeric_limits<std::uint32_t>::max())
    throw badarg(std::string(what) + " too large: " + std::to_string(count));
  return static_cast<std::uint32_t>(count);
}

heap_object* allocate_terms(term_tag tag, std::size_t count, std::size_t slots) {
  return allocate_object<heap_object>(tag, static_cast<std::uint32_t>(count), 0,
                                      slots * sizeof(term));
}

}  // namespace

term term::tuple(std::span<const term> elements) {
  if (elements.empty()) return term(tag::empty_tuple);
  heap_object* o =
      allocate_terms(tag::tuple, checked_count(elements.size(), "tuple"), elements.size());
  term* slots = term_access::terms_after(o);
  for (std::size_t i = 0; i < elements.size(); ++i) new (slots + i) term(elements[i]);
  return term_access::adopt(o);
}

term term::tuple(std::vector<term>&& elements) {
  if (elements.empty()) return term(tag::empty_tuple);
  return adopt_tuple(elements.data(), checked_count(elements.size(), "tuple"));
}

term term::adopt_tuple(term* elements, std::size_t count) {
  heap_object* o = allocate_terms(tag::tuple, count, count);
  term* slots = term_access::terms_after(o);
  for (std::size_t i = 0; i < count; ++i) new (slots + i) term(std::move(elements[i]));
  return term_access::adopt(o);
}

// --- Lists -----------------------------------------------------------------------------

namespace {

constexpr std::size_t max_chunk_length = std::numeric_limits<std::uint32_t>::max();

// A list chunk of `length` elements with its tail in place; the caller constructs
// the elements at terms_after(chunk) + 1 before anything can throw.
heap_object* allocate_chunk(std::size_t length, term tail) {
  heap_object* chunk = allocate_terms(term_tag::list, length, length + 1);
  new (term_access::terms_after(chunk)) term(std::move(tail));
  return chunk;
}

term* chunk_elements(heap_object* chunk) noexcept {
  return term_access::terms_after(chunk) + 1;
}

}  // namespace

namespace {

// Chunks hold at most 2^32 - 1 elements: longer lists chain chunks, built from the
// end. Element i is made by place(slot, i).
template <class Place>
term build_list(std::size_t length, term tail, Place&& place) {
  std::size_t end = length;
  while (end > 0) {
    const std::size_t begin = end > max_chunk_length ? end - max_chunk_length : 0;
    heap_object* chunk = allocate_chunk(end - begin, std::move(tail));
    term* slots = chunk_elements(chunk);
    for (std::size_t i = begin; i < end; ++i) place(slots + (i - begin), i);
    tail = term_access::adopt(chunk);
    end = begin;
  }
  return tail;
}

}  // namespace

term term::improper_list(std::span<const term> elements, term tail) {
  return build_list(elements.size(), std::move(tail),
                    [&](term* slot, std::size_t i) { new (slot) term(elements[i]); });
}

term term::improper_list(std::vector<term>&& elements, term tail) {
  return build_list(elements.size(), std::move(tail),
                    [&](term* slot, std::size_t i) { new (slot) term(std::move(elements[i])); });
}

term term::cons(term head, term tail) {
  heap_object* chunk = allocate_chunk(1, std::move(tail));
  new (chunk_elements(chunk)) term(std::move(head));
  return term_access::adopt(chunk);
}

term term::string(std::string_view utf8) {
  const auto length = detail::utf8::count_code_points(utf8);
  if (!length) throw badarg("term::string: the text is not valid UTF-8");
  if (*length == 0) return nil();
  if (*length > max_chunk_length) {
    std::vector<term> codes;
    codes.reserve(*length);
    for (std::size_t position = 0; position < utf8.size();)
      codes.emplace_back(*detail::utf8::decode(utf8, position));
    return list(codes);
  }
  heap_object* chunk = allocate_chunk(*length, nil());
  term* slots = chunk_elements(chunk);
  std::size_t position = 0;
  for (std::size_t i = 0; i < *length; ++i)
    new (slots + i) term(*detail::utf8::decode(utf8, position));
  return term_access::adopt(chunk);
}

term term::latin1_string(std::string_view latin1) {
  if (latin1.empty()) return nil();
  if (latin1.size() > max_chunk_length) {
    std::vector<term> codes(latin1.begin(), latin1.end());
    return list(codes);
  }
  heap_object* chunk = allocate_chunk(latin1.size(), nil());
  term* slots = chunk_elements(chunk);
  for (std::size_t i = 0; i < latin1.size(); ++i) new (slots + i) term(latin1[i]);
  return term_access::adopt(chunk);
}

const term& term::head() const {
  if (tag_ != tag::list) throw_wrong_kind("a non-empty list");
  return terms_after(object())[1 + aux_];
}

term term::tail() const {
  if (tag_ != tag::list) throw_wrong_kind("a non-empty list");
  if (aux_ + 1 < object()->count) return term_access::share(object(), aux_ + 1);
  return terms_after(object())[0];
}

term::list_view term::as_list() const {
  if (tag_ != tag::list && tag_ != tag::nil) throw_wrong_kind("a list");
  return list_view(this);
}

const term& term::list_view::tail() const noexcept {
  if (list_->tag_ != tag::list) return *list_;
  const heap_object* chunk = list_->object();
  for (;;) {
    const term& tail = terms_after(chunk)[0];
    if (tail.tag_ != tag::list) return tail;
    chunk = tail.object();
  }
}

term term::list_iterator::rest() const {
  if (chunk_ != nullptr) return term_access::share(const_cast<heap_object*>(chunk_), index_);
  return tail_ != nullptr ? *tail_ : nil();
}

std::size_t term::length() const {
  if (tag_ != tag::list && tag_ != tag::nil) throw_wrong_kind("a list");
  std::size_t length = 0;
  const term* t = this;
  while (t->tag_ == tag::list) {
    length += t->object()->count - t->aux_;
    t = &terms_after(t->object())[0];
  }
  if (t->tag_ != tag::nil) throw_wrong_kind("a proper list");
  return length;
}

bool term::is_proper_list() const noexcept {
  const term* t = this;
  while (t->tag_ == tag::list) t = &terms_after(t->object())[0];
  return t->tag_ == tag::nil;
}

std::string term::as_string() const {
  if (tag_ != tag::list && tag_ != tag::nil)
    throw_wrong_kind("a string (a list of character codes)");
  std::string text;
  const list_view elements = as_list();
  for (const term& e : elements) {
    const auto code = static_cast<std::int64_t>(e.payload_);
    if (e.tag_ != tag::small_integer || code < 0 || code > 0x10FFFF ||
        !detail::utf8::is_scalar_value(static_cast<char32_t>(code))) {
      throw_wrong_kind("a string (a list of character codes)");
    }
    detail::utf8::append(text, static_cast<char32_t>(code));
  }
  if (!elements.tail().is_nil()) throw_wrong_kind("a string (a list of character codes)");
  return text;
}

// --- Binaries ----------------------------------------------------------------------------

term term::allocate_binary(std::size_t size) {
  if (size == 0) return term(tag::empty_binary);
  auto* o = allocate_object<binary_object>(tag::binary, 0, 8, size);
  o->data = reinterpret_cast<const std::byte*>(o + 1);
  o->size = size;
  o->owner = nullptr;
  return term_access::adopt(o);
}

std::span<std::byte> term::writable_bytes_of_new_binary() noexcept {
  if (tag_ != tag::binary) return {};
  auto* o = static_cast<binary_object*>(object());
  return {const_cast<std::byte*>(o->data), o->size};
}

term term::binary(std::span<const std::byte> bytes) {
  term result = allocate_binary(bytes.size());
  if (!bytes.empty())
    std::memcpy(result.writable_bytes_of_new_binary().data(), bytes.data(), bytes.size());
  return result;
}

term term::binary(std::string_view bytes) {
  return binary(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
}

term term::binary(const std::uint8_t* data, std::size_t size) {
  return binary(std::as_bytes(std::span<const std::uint8_t>(data, size)));
}

term term::bitstring(std::span<const std::byte> bytes, std::size_t bit_size) {
  if (bit_size > bytes.size() * 8) {
    throw badarg("term::bitstring: " + std::to_string(bit_size) + " bits from " +
                 std::to_string(bytes.size()) + " bytes");
  }
  const std::size_t byte_count = (bit_size + 7) / 8;
  term result = binary(bytes.first(byte_count));
  const auto used_bits = static_cast<std::uint8_t>(bit_size % 8 == 0 ? 8 : bit_size % 8);
  if (used_bits != 8) {
    auto* o = static_cast<binary_object*>(result.object());
    o->flags = used_bits;
    // Canonical form: the unused low bits of the last byte are zero.
    std::byte& last = result.writable_bytes_of_new_binary()[byte_count - 1];
    last &= static_cast<std::byte>(0xFF << (8 - used_bits));
  }
  return result;
}

std::string_view term::as_binary() const {
  if (tag_ == tag::empty_binary) return {};
  if (tag_ != tag::binary || object()->flags != 8) throw_wrong_kind("a binary");
  const auto* o = static_cast<const binary_object*>(object());
  return {reinterpret_cast<const char*>(o->data), o->size};
}

std::span<const std::byte> term::bytes() const {
  if (tag_ == tag::empty_binary) return {};
  if (tag_ != tag::binary) throw_wrong_kind("a bitstring");
  return term_access::binary_bytes(*this);
}

std::size_t term::byte_size() const {
  return bytes().size();
}

std::size_t term::bit_size() const {
  if (tag_ == tag::empty_binary) return 0;
  if (tag_ != tag::binary) throw_wrong_kind("a bitstring");
  return term_access::binary_bit_size(*this);
}

term term::sub_binary(std::size_t offset, std::size_t length) const {
  const std::span<const std::byte> all = bytes();
  const std::size_t whole_bytes = bit_size() / 8;
  if (offset > whole_bytes || length > whole_bytes - offset) {
    throw badarg("sub_binary(" + std::to_string(offset) + ", " + std::to_string(length) +
                 ") out of range for " + std::to_string(whole_bytes) + " bytes");
  }
  if (length == 0) return term(tag::empty_binary);
  if (offset == 0 && length == all.size()) return *this;  // the whole binary (whole bytes)
  const auto* source = static_cast<const binary_object*>(object());
  // Slices always point at the binary that owns the bytes, never at another slice.
  heap_object* owner = source->owner != nullptr ? source->owner : object();
  auto* o = allocate_object<binary_object>(tag::binary, 0, 8);
  o->data = all.data() + offset;
  o->size = length;
  o->owner = owner;
  add_reference(owner);
  return term_access::adopt(o);
}

// --- Maps ------------------------------------------------------------------------------

term term::map(std::span<const std::pair<term, term>> entries) {
  if (entries.empty()) return term(tag::empty_map);
  // Sort by key (stable), then keep the last entry of each run of equal keys.
  std::vector<std::size_t> order(entries.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return detail::compare_terms(entries[a].first, entries[b].first, detail::order_mode::key) < 0;
  });
  std::vector<std::size_t> unique;
  unique.reserve(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i + 1 < order.size() && entries[order[i]].first == entries[order[i + 1]].first) continue;
    unique.push_back(order[i]);
  }
  const std::uint32_t size = checked_count(unique.size(), "map");
  heap_object* o = allocate_terms(tag::map, size, std::size_t{size} * 2);
  term* keys = term_access::terms_after(o);
  term* values = keys + size;
  for (std::size_t i = 0; i < size; ++i) {
    new (keys + i) term(entries[unique[i]].first);
    new (values + i) term(entries[unique[i]].second);
  }
  return term_access::adopt(o);
}

const term* term::find(const term& key) const {
  if (tag_ == tag::empty_map) return nullptr;
  if (tag_ != tag::map) throw_wrong_kind("a map");
  const std::span<const term> keys = term_access::map_keys(*this);
  const term* values = keys.data() + keys.size();
  if (keys.size() <= 16) {
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == key) return values + i;
    return nullptr;
  }
  std::size_t low = 0;
  std::size_t high = keys.size();
  while (low < high) {
    const std::size_t middle = low + (high - low) / 2;
    const int order = detail::compare_terms(keys[middle], key, detail::order_mode::key);
    if (order == 0) return values + middle;
    if (order < 0) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return nullptr;
}

const term& term::at(const term& key) const {
  if (const term* value = find(key)) return *value;
  std::string message = "key ";
  detail::append_term(message, key, 200);
  throw badarg(message + " not found in the map");
}

term::map_view term::as_map() const {
  if (tag_ == tag::empty_map) return {{}, {}};
  if (tag_ != tag::map) throw_wrong_kind("a map");
  return {term_access::map_keys(*this), term_access::map_values(*this)};
}

std::size_t term::size() const {
  switch (tag_) {
    case tag::tuple:
    case tag::map:
      return object()->count;
    case tag::empty_tuple:
    case tag::empty_map:
      return 0;
    default:
      throw_wrong_kind("a tuple or a map");
  }
}

// --- Identities ------------------------------------------------------------------------

pid term::external_pid() const {
  if (tag_ != tag::external_pid) throw_wrong_kind("a pid");
  return static_cast<const external_pid_object*>(object())->value;
}

ref term::as_ref() const {
  if (tag_ == tag::local_ref) {
    ref r;
    r.length = small_;
    r.words[0] = static_cast<std::uint32_t>(payload_);
    r.words[1] = static_cast<std::uint32_t>(payload_ >> 32);
    r.words[2] = aux_;
    return r;
  }
  if (tag_ != tag::external_ref) throw_wrong_kind("a reference");
  return static_cast<const external_ref_object*>(object())->value;
}

port term::as_port() const {
  if (tag_ == tag::local_port) return port{payload_, 0, 0};
  if (tag_ != tag::external_port) throw_wrong_kind("a port");
  return static_cast<const external_port_object*>(object())->value;
}

bool term::as_bool() const {
  if (tag_ == tag::atom && payload_ == atoms::true_.index()) return true;
  if (tag_ == tag::atom && payload_ == atoms::false_.index()) return false;
  throw_wrong_kind("a boolean (true or false)");
}

bigint term::as_bigint() const {
  if (tag_ == tag::small_integer) return bigint(static_cast<std::int64_t>(payload_));
  if (tag_ != tag::big_integer) throw_wrong_kind("an integer");
  return bigint::from_limbs({term_access::limbs(object()), object()->count}, object()->flags != 0);
}

term term::integer_from_string(std::string_view text, unsigned base) {
  try {
    return term(bigint::from_string(text, base));
  } catch (const std::invalid_argument& e) {
    throw badarg(std::string("term::integer_from_string: ") + e.what());
  }
}

// --- Funs ------------------------------------------------------------------------------

term term::fun(const external_fun& f) {
  auto* o = allocate_object<fun_object>(tag::fun, 0, fun_object::external_flag);
  o->module = f.module.index();
  o->function = f.function.index();
  o->arity = f.arity;
  return term_access::adopt(o);
}

term term::fun(const local_fun& f) {
  const std::uint32_t count = checked_count(f.free_variables.size(), "fun environment");
  auto* o = allocate_object<fun_object>(tag::fun, count, 0, std::size_t{count} * sizeof(term));
  o->module = f.module.index();
  o->arity = f.arity;
  o->uniq = f.uniq;
  o->index = f.index;
  o->old_index = f.old_index;
  o->old_uniq = f.old_uniq;
  o->creator = f.creator;
  auto* slots = const_cast<term*>(term_access::free_variables(o));
  for (std::uint32_t i = 0; i < count; ++i) new (slots + i) term(f.free_variables[i]);
  return term_access::adopt(o);
}

bool term::is_external_fun() const {
  if (tag_ != tag::fun) throw_wrong_kind("a fun");
  return (object()->flags & fun_object::external_flag) != 0;
}

external_fun term::as_external_fun() const {
  if (!is_external_fun()) throw_wrong_kind("an external fun (fun M:F/A)");
  const auto* o = static_cast<const fun_object*>(object());
  return {atom(o->module), atom(o->function), o->arity};
}

local_fun term::as_local_fun() const {
  if (is_external_fun()) throw_wrong_kind("a local fun (a closure)");
  const auto* o = static_cast<const fun_object*>(object());
  local_fun f;
  f.module = atom(o->module);
  f.arity = o->arity;
  f.uniq = o->uniq;
  f.index = o->index;
  f.old_index = o->old_index;
  f.old_uniq = o->old_uniq;
  f.creator = o->creator;
  const term* free = term_access::free_variables(o);
  f.free_variables.assign(free, free + o->count);
  return f;
}

// --- Errors ----------------------------------------------------------------------------

std::string_view term::kind_name(enum kind k) noexcept {
  switch (k) {
    case kind::integer:
      return "integer";
    case kind::float_:
      return "float";
    case kind::atom:
      return "atom";
    case kind::ref:
      return "reference";
    case kind::fun:
      return "fun";
    case kind::port:
      return "port";
    case kind::pid:
      return "pid";
    case kind::tuple:
      return "tuple";
    case kind::map:
      return "map";
    case kind::nil:
      return "[]";
    case kind::list:
      return "list";
    case kind::binary:
      return "bitstring";
  }
  return "term";
}

void term::throw_wrong_kind(const char* expected) const {
  std::string message = "expected ";
  message += expected;
  message += ", got ";
  if (kind() != kind::nil) {
    message += kind_name(kind());
    message += ' ';
  }
  detail::append_term(message, *this, 200);
  throw badarg(message);
}

void term::throw_not_int64() const {
  if (tag_ != tag::big_integer) throw_wrong_kind("an integer");
  std::string message = "integer ";
  detail::append_term(message, *this, 200);
  throw badarg(message + " does not fit in 64 bits");
}

void term::throw_not_finite(double value) {
  throw badarg(std::string("Erlang floats are finite, got ") +
               (std::isnan(value) ? "NaN" : (value > 0 ? "+infinity" : "-infinity")));
}

void term::throw_out_of_range(std::size_t index, std::size_t size) {
  throw badarg("element " + std::to_string(index) + " out of range for a tuple of " +
               std::to_string(size) + " elements");
}

}  // namespace beamline
