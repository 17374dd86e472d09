// beamline/term.hpp: the dynamic Erlang term.
//
// A term is an immutable Erlang value in 16 bytes: a one-byte tag, a few bytes of
// per-tag extra data, and an 8-byte payload. Atoms, integers that fit in 64 bits,
// floats, [], {}, #{}, <<>>, local pids, local ports and local references of up to
// three words live in the 16 bytes and cost no allocation; copying them is a 16-byte
// copy. Everything else is "boxed": the payload points to an immutable heap object
// with an intrusive atomic reference count, so copying a boxed term is one relaxed
// increment and a term can be shared between threads freely. There is no virtual
// dispatch and no std::shared_ptr anywhere in it.
//
// Invariants (what makes equality structural; docs/design/term.md has the layouts):
// - Canonical form: every value has exactly one representation. An integer that fits
//   in int64 is always small; a local pid, port or short local ref is always inline;
//   an empty tuple, map or binary always uses its inline tag.
// - Heap objects never change after construction; their reference count is the only
//   mutable field. Floats are finite. Binaries keep the unused low bits of a partial
//   last byte zero. Map keys are sorted in Erlang's map-key order, without duplicates.
// - A non-empty list is a chunk (an array of elements plus a tail term) and an offset
//   into it; the tail is [] for a proper list, another list to continue, or anything
//   else for an improper list. tail() of a list shares its chunk: no allocation.
// - Destroying, comparing, hashing, printing and parsing never recurse on the depth
//   of a term (they keep their own stacks), so deep terms from the network are safe.
//
// Order and equality (Erlang's, docs/terms.md):
// - operator== is exact equality, Erlang's =:=: 1 != 1.0, and 0.0 != -0.0 (OTP 27).
// - operator<=> is Erlang's term order
//     number < atom < reference < fun < port < pid < tuple < map < [] < list < bitstring
//   made total and consistent with ==: where Erlang's order calls two different terms
//   equal (1 and 1.0, 0.0 and -0.0) the integer comes before the float and -0.0
//   before 0.0. So std::map<term, ...> keeps 1 and 1.0 apart, as an Erlang map does.
// - compare() and equal_numeric() are Erlang's own order and ==, where 1 == 1.0.
//
// Accessors for the wrong kind throw beamline::badarg (a std::invalid_argument) with
// a message naming what was expected and what was found; they never invoke UB.
#pragma once

#include <atomic>
#include <bit>
#include <cmath>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <iterator>
#include <limits>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/bigint.hpp"
#include "beamline/pid.hpp"
#include "beamline/port.hpp"
#include "beamline/ref.hpp"

namespace beamline {

class term;
struct external_fun;  // fun.hpp
struct local_fun;     // fun.hpp

// A type a term can be made from (checked where used, when term is complete).
template <class T>
concept term_source = std::constructible_from<term, T>;

// Thrown by term accessors used on the wrong kind of term, or out of range.
class badarg : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Thrown by term::parse and pattern's parsing constructor: where and what.
class parse_error : public std::invalid_argument {
 public:
  parse_error(std::size_t offset, const std::string& problem);
  // The byte offset in the input where the problem is.
  std::size_t offset() const noexcept { return offset_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::size_t offset_;
  std::string problem_;
};

namespace detail {
// The header of every boxed term's heap object. Only `references` ever changes.
struct heap_object {
  // Owners of the object. When it drops to zero, the dying object reuses it as the
  // link of the destroy list (see term.cpp), so destruction needs no recursion.
  std::atomic<std::uint64_t> references;
  std::uint32_t count;     // tuple arity, list chunk length, map size, limbs, free variables
  std::uint8_t tag;        // the tag of the terms that point here
  std::uint8_t flags;      // bigint: negative; binary: bits used in the last byte; fun: kind
  std::uint16_t reserved;  // zero
};

void destroy_heap_object(heap_object* object) noexcept;
struct term_access;  // src/term's access to the representation
}  // namespace detail

class term {
 public:
  // What a term is. Listed in Erlang's term order (integers and floats share a rank).
  enum class kind : std::uint8_t {
    integer,  // small or big: one kind for users
    float_,
    atom,
    ref,
    fun,
    port,
    pid,
    tuple,
    map,
    nil,     // []
    list,    // a non-empty list, proper or improper
    binary,  // bytes, or a bitstring whose last byte is partial
  };

  class list_iterator;
  class list_view;
  struct map_entry;
  class map_iterator;
  class map_view;

  // --- Construction --------------------------------------------------------------

  // The atom `undefined`.
  constexpr term() noexcept : term(atoms::undefined) {}

  constexpr term(atom a) noexcept  // NOLINT(google-explicit-constructor)
      : tag_(tag::atom), small_(0), reserved_(0), aux_(0), payload_(a.index()) {}

  // true and false are the atoms true and false, as in Erlang.
  constexpr term(bool b) noexcept  // NOLINT(google-explicit-constructor)
      : term(b ? atoms::true_ : atoms::false_) {}

  // Any integer type. Character types (char, char8_t, char16_t, char32_t, wchar_t)
  // give the character's code, like Erlang's $a: term('a') is 97, and a char is read
  // as unsigned, so term('\xff') is 255. Values that fit in int64 never allocate.
  template <non_bool_integral T>
  constexpr term(T value)  // NOLINT(google-explicit-constructor)
      : tag_(tag::small_integer),
        small_(0),
        reserved_(0),
        aux_(0),
        payload_(static_cast<std::uint64_t>(integer_value(value))) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
      if (value > static_cast<T>(std::numeric_limits<std::int64_t>::max()))
        become_big_unsigned(value);
    }
  }

  // A float. Erlang floats are finite: infinities and NaN throw badarg.
  term(double value)  // NOLINT(google-explicit-constructor)
      : tag_(tag::float_),
        small_(0),
        reserved_(0),
        aux_(0),
        payload_(std::bit_cast<std::uint64_t>(value)) {
    if (!std::isfinite(value)) throw_not_finite(value);
  }
  term(float value) : term(static_cast<double>(value)) {}  // NOLINT(google-explicit-constructor)

  // A pid: inline when local (node 0, creation 0), boxed when remote.
  term(const pid& p) : term(tag::local_pid) {  // NOLINT(google-explicit-constructor)
    if (p.node == 0 && p.creation == 0) {
      payload_ = p.id | (std::uint64_t{p.serial} << 32);
    } else {
      become_boxed(p);
    }
  }
  // A reference: inline when local with at most three words, boxed otherwise. Words
  // past the length are ignored (stored as zero). More than 5 words throw badarg.
  term(const ref& r) : term(tag::local_ref) {  // NOLINT(google-explicit-constructor)
    if (r.node == 0 && r.creation == 0 && r.length <= 3) {
      small_ = static_cast<std::uint8_t>(r.length);
      aux_ = r.length > 2 ? r.words[2] : 0;
      payload_ =
          (r.length > 0 ? r.words[0] : 0) | (std::uint64_t{r.length > 1 ? r.words[1] : 0} << 32);
    } else {
      become_boxed(r);
    }
  }
  // A port: inline when local, boxed when remote.
  term(const port& p) : term(tag::local_port) {  // NOLINT(google-explicit-constructor)
    if (p.node == 0 && p.creation == 0) {
      payload_ = p.id;
    } else {
      become_boxed(p);
    }
  }
  // An integer of any size; small when it fits in int64.
  term(const bigint& value);  // NOLINT(google-explicit-constructor)

  // Pointers do not convert: without this, term("text") would silently be the atom
  // true (pointer to bool). Say atom("text"), term::string or term::binary instead.
  template <class T>
  term(T*) = delete;
  term(std::nullptr_t) = delete;
  term(long double) = delete;  // would lose precision silently; cast to double

  term(const term& other) noexcept
      : tag_(other.tag_),
        small_(other.small_),
        reserved_(other.reserved_),
        aux_(other.aux_),
        payload_(other.payload_) {
    if (is_boxed()) add_reference(object());
  }
  term(term&& other) noexcept
      : tag_(other.tag_),
        small_(other.small_),
        reserved_(other.reserved_),
        aux_(other.aux_),
        payload_(other.payload_) {
    other.become_undefined();
  }
  term& operator=(const term& other) noexcept {
    if (other.is_boxed()) add_reference(other.object());
    release();
    copy_fields(other);
    return *this;
  }
  term& operator=(term&& other) noexcept {
    if (this != &other) {
      release();
      copy_fields(other);
      other.become_undefined();  // a moved-from term is `undefined`
    }
    return *this;
  }
  constexpr ~term() { release(); }

  // [].
  static constexpr term nil() noexcept { return term(tag::nil); }

  // {E1, E2, ...}: term::tuple({a, b}) or term::tuple(a, b), or from a span.
  static term tuple(std::initializer_list<term> elements) {
    return tuple(std::span<const term>(elements.begin(), elements.size()));
  }
  static term tuple(std::span<const term> elements);
  static term tuple(std::vector<term>&& elements);  // moves the elements in
  template <term_source... Elements>
  static term tuple(Elements&&... elements) {
    if constexpr (sizeof...(Elements) == 0) {
      return term(tag::empty_tuple);
    } else {
      term parts[] = {term(std::forward<Elements>(elements))...};
      return adopt_tuple(parts, sizeof...(Elements));
    }
  }

  // [E1, E2, ...]; [] when empty.
  static term list(std::initializer_list<term> elements) {
    return list(std::span<const term>(elements.begin(), elements.size()));
  }
  static term list(std::span<const term> elements) { return improper_list(elements, nil()); }
  static term list(std::vector<term>&& elements) {
    return improper_list(std::move(elements), nil());
  }
  // [E1, E2, ... | Tail]; just Tail when there are no elements. A list tail continues
  // the list: improper_list({1, 2}, list({3})) is [1,2,3], sharing [3]'s storage.
  static term improper_list(std::initializer_list<term> elements, term tail) {
    return improper_list(std::span<const term>(elements.begin(), elements.size()), std::move(tail));
  }
  static term improper_list(std::span<const term> elements, term tail);
  static term improper_list(std::vector<term>&& elements, term tail);  // moves them in
  // [Head | Tail] in O(1).
  static term cons(term head, term tail);

  // An Erlang string: the list of the code points of UTF-8 text ([] when empty).
  // Throws badarg if `utf8` is not valid UTF-8.
  static term string(std::string_view utf8);
  // The list of the bytes of `latin1`, one element per byte (ETF's STRING_EXT).
  static term latin1_string(std::string_view latin1);

  // A binary holding a copy of the bytes.
  static term binary(std::string_view bytes);
  static term binary(std::span<const std::byte> bytes);
  static term binary(const std::uint8_t* data, std::size_t size);
  // A bitstring of `bit_size` bits, taken from the start of `bytes` (most
  // significant bit first, as Erlang does); bit_size <= 8 * bytes.size().
  static term bitstring(std::span<const std::byte> bytes, std::size_t bit_size);
  // A binary of `size` bytes written once by fill(std::span<std::byte>), then
  // immutable: build a big buffer without a copy, then share it with sub_binary().
  template <class Fill>
  static term make_binary(std::size_t size, Fill&& fill) {
    term result = allocate_binary(size);
    std::forward<Fill>(fill)(result.writable_bytes_of_new_binary());
    return result;
  }

  // #{K1 => V1, ...}. A repeated key keeps its last value, as in Erlang.
  static term map(std::initializer_list<std::pair<term, term>> entries) {
    return map(std::span<const std::pair<term, term>>(entries.begin(), entries.size()));
  }
  static term map(std::span<const std::pair<term, term>> entries);

  // An integer from text: optional sign, then digits in `base` (2..36); any size.
  // Throws badarg on bad text.
  static term integer_from_string(std::string_view text, unsigned base = 10);

  // fun M:F/A (EXPORT_EXT) and an Erlang closure (NEW_FUN_EXT); see fun.hpp.
  static term fun(const external_fun& f);
  static term fun(const local_fun& f);

  // Reads Erlang term syntax (see docs/terms.md); throws parse_error on bad input.
  static term parse(std::string_view text);

  // --- Queries ---------------------------------------------------------------------

  constexpr enum kind kind() const noexcept { return kind_of(tag_); }
  static std::string_view kind_name(enum kind k) noexcept;  // "integer", "float", ...

  // The is_* tests follow Erlang's guards: is_list() is true for [] as well, and
  // is_binary() only for whole bytes while is_bitstring() is true for any binary.
  constexpr bool is_integer() const noexcept {
    return tag_ == tag::small_integer || tag_ == tag::big_integer;
  }
  constexpr bool is_float() const noexcept { return tag_ == tag::float_; }
  constexpr bool is_number() const noexcept { return is_integer() || is_float(); }
  constexpr bool is_atom() const noexcept { return tag_ == tag::atom; }
  constexpr bool is_boolean() const noexcept {
    return tag_ == tag::atom &&
           (payload_ == atoms::true_.index() || payload_ == atoms::false_.index());
  }
  constexpr bool is_ref() const noexcept {
    return tag_ == tag::local_ref || tag_ == tag::external_ref;
  }
  constexpr bool is_fun() const noexcept { return tag_ == tag::fun; }
  constexpr bool is_port() const noexcept {
    return tag_ == tag::local_port || tag_ == tag::external_port;
  }
  constexpr bool is_pid() const noexcept {
    return tag_ == tag::local_pid || tag_ == tag::external_pid;
  }
  constexpr bool is_tuple() const noexcept {
    return tag_ == tag::tuple || tag_ == tag::empty_tuple;
  }
  constexpr bool is_map() const noexcept { return tag_ == tag::map || tag_ == tag::empty_map; }
  constexpr bool is_nil() const noexcept { return tag_ == tag::nil; }
  constexpr bool is_list() const noexcept { return tag_ == tag::list || tag_ == tag::nil; }
  constexpr bool is_bitstring() const noexcept {
    return tag_ == tag::binary || tag_ == tag::empty_binary;
  }
  bool is_binary() const noexcept {
    return tag_ == tag::empty_binary || (tag_ == tag::binary && object()->flags == 8);
  }

  // --- Scalars ---------------------------------------------------------------------

  atom as_atom() const {
    if (tag_ != tag::atom) throw_wrong_kind("an atom");
    return atom(static_cast<std::uint32_t>(payload_));
  }
  // The atoms true and false.
  bool as_bool() const;
  // An integer that fits in int64 (throws badarg for other integers too).
  std::int64_t as_int() const {
    if (tag_ != tag::small_integer) throw_not_int64();
    return static_cast<std::int64_t>(payload_);
  }
  // Any integer.
  bigint as_bigint() const;
  // A float (integers are not converted: use as_int or as_bigint).
  double as_double() const {
    if (tag_ != tag::float_) throw_wrong_kind("a float");
    return std::bit_cast<double>(payload_);
  }
  pid as_pid() const {
    if (tag_ == tag::local_pid) {
      return pid{static_cast<std::uint32_t>(payload_), static_cast<std::uint32_t>(payload_ >> 32),
                 0, 0};
    }
    return external_pid();
  }
  ref as_ref() const;
  port as_port() const;
  // Funs: an export fun (fun M:F/A) or a closure from an Erlang node.
  bool is_external_fun() const;
  external_fun as_external_fun() const;
  local_fun as_local_fun() const;

  // --- Tuples (and map sizes) ------------------------------------------------------

  // A tuple's arity, or a map's number of entries.
  std::size_t size() const;
  // A tuple's elements, numbered from 0 (Erlang's element/2 counts from 1).
  std::span<const term> elements() const {
    if (tag_ == tag::tuple) return {terms_after(object()), object()->count};
    if (tag_ != tag::empty_tuple) throw_wrong_kind("a tuple");
    return {};
  }
  const term& element(std::size_t index) const {
    const std::span<const term> all = elements();
    if (index >= all.size()) throw_out_of_range(index, all.size());
    return all[index];
  }
  const term& operator[](std::size_t index) const { return element(index); }

  // --- Lists -----------------------------------------------------------------------

  // The first element of a non-empty list (Erlang's hd/1).
  const term& head() const;
  // The list after its first element (Erlang's tl/1), sharing storage: no copy.
  term tail() const;
  // The elements of a list or [], with its tail: for (const term& e : t.as_list()).
  list_view as_list() const;
  // The number of elements of a proper list (throws for improper lists).
  std::size_t length() const;
  // Whether this is [] or a list ending in [].
  bool is_proper_list() const noexcept;
  // A proper list of Unicode code points as UTF-8 (throws badarg otherwise).
  std::string as_string() const;

  // --- Binaries --------------------------------------------------------------------

  // A binary's bytes (throws for bitstrings that are not whole bytes).
  std::string_view as_binary() const;
  // A bitstring's bytes, a partial last byte included (its unused low bits are 0).
  std::span<const std::byte> bytes() const;
  std::size_t byte_size() const;  // bytes, a partial last byte included
  std::size_t bit_size() const;
  // The bytes [offset, offset + length) of a binary, sharing its storage.
  term sub_binary(std::size_t offset, std::size_t length) const;

  // --- Maps ------------------------------------------------------------------------

  // The value for `key` (matched exactly: 1 and 1.0 are different keys), or nullptr.
  const term* find(const term& key) const;
  // The value for `key`; throws badarg when absent.
  const term& at(const term& key) const;
  // The entries in Erlang's map order: for (auto [key, value] : t.as_map()).
  map_view as_map() const;

  // --- Comparison, hashing, printing -----------------------------------------------

  // Exact equality, Erlang's =:=.
  friend bool operator==(const term& a, const term& b) noexcept {
    if (a.tag_ != b.tag_) return false;
    if (a.payload_ == b.payload_ && a.aux_ == b.aux_ && a.small_ == b.small_) return true;
    if (!a.is_boxed()) return false;  // canonical: unequal inline bits are unequal values
    return equal_boxed(a, b);
  }
  // Erlang's term order, made total (see the top of this file).
  friend std::strong_ordering operator<=>(const term& a, const term& b) noexcept {
    if (a.tag_ == tag::small_integer && b.tag_ == tag::small_integer) {
      return static_cast<std::int64_t>(a.payload_) <=> static_cast<std::int64_t>(b.payload_);
    }
    return compare_total(a, b);
  }

  // Consistent with ==.
  std::size_t hash() const noexcept;

  // Erlang syntax on one line, as io:format("~tp") would print it without line
  // breaks: {ok,<0.93.0>}, [1,2,3], "abc", <<"x">>, #{a => 1}, 1.0e100.
  std::string to_string() const;
  friend std::ostream& operator<<(std::ostream& os, const term& t);

 private:
  friend struct detail::term_access;
  friend class list_iterator;
  friend class list_view;

  // The representation. Tags before first_boxed live in the 16 bytes.
  enum class tag : std::uint8_t {
    atom,           // payload: atom index
    small_integer,  // payload: int64
    float_,         // payload: double bits
    nil,
    empty_tuple,
    empty_map,
    empty_binary,
    local_pid,    // payload: id | serial << 32
    local_port,   // payload: id
    local_ref,    // small: length (0..3); payload: words[0] | words[1] << 32; aux: words[2]
    big_integer,  // boxed from here on: payload is a detail::heap_object*
    tuple,
    list,  // aux: offset of the first element in the chunk
    map,
    binary,
    external_pid,
    external_port,
    external_ref,
    fun,
  };
  static constexpr tag first_boxed = tag::big_integer;

  constexpr explicit term(tag t) noexcept
      : tag_(t), small_(0), reserved_(0), aux_(0), payload_(0) {}

  static constexpr enum kind kind_of(tag t) noexcept {
    switch (t) {
      case tag::small_integer:
      case tag::big_integer:
        return kind::integer;
      case tag::float_:
        return kind::float_;
      case tag::atom:
        return kind::atom;
      case tag::local_ref:
      case tag::external_ref:
        return kind::ref;
      case tag::fun:
        return kind::fun;
      case tag::local_port:
      case tag::external_port:
        return kind::port;
      case tag::local_pid:
      case tag::external_pid:
        return kind::pid;
      case tag::empty_tuple:
      case tag::tuple:
        return kind::tuple;
      case tag::empty_map:
      case tag::map:
        return kind::map;
      case tag::nil:
        return kind::nil;
      case tag::list:
        return kind::list;
      case tag::empty_binary:
      case tag::binary:
        return kind::binary;
    }
    return kind::atom;  // unreachable: every tag is listed
  }

  template <class T>
  static constexpr std::int64_t integer_value(T value) noexcept {
    if constexpr (std::is_same_v<std::remove_cv_t<T>, char>) {
      return static_cast<unsigned char>(value);
    } else {
      return static_cast<std::int64_t>(value);
    }
  }

  constexpr bool is_boxed() const noexcept { return tag_ >= first_boxed; }
  detail::heap_object* object() const noexcept {
    return reinterpret_cast<detail::heap_object*>(static_cast<std::uintptr_t>(payload_));
  }
  // The terms stored right after a heap object's header (tuple elements, a list
  // chunk's tail then elements, a map's keys then values).
  static const term* terms_after(const detail::heap_object* o) noexcept {
    return std::launder(reinterpret_cast<const term*>(reinterpret_cast<const std::byte*>(o) +
                                                      sizeof(detail::heap_object)));
  }

  static void add_reference(detail::heap_object* o) noexcept {
    // Relaxed: a new owner needs no ordering; it already sees the object through the
    // term it copies.
    o->references.fetch_add(1, std::memory_order_relaxed);
  }
  constexpr void release() noexcept {
    if (!is_boxed()) return;
    detail::heap_object* o = object();
    // A count of 1 is ours alone: nobody else can add a reference, so skip the atomic
    // read-modify-write. Acquire (both paths) makes every other former owner's use of
    // the object happen before we destroy it; release publishes ours to the last one.
    if (o->references.load(std::memory_order_acquire) == 1 ||
        o->references.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      detail::destroy_heap_object(o);
    }
  }
  void copy_fields(const term& other) noexcept {
    tag_ = other.tag_;
    small_ = other.small_;
    reserved_ = other.reserved_;
    aux_ = other.aux_;
    payload_ = other.payload_;
  }
  void become_undefined() noexcept {
    tag_ = tag::atom;
    payload_ = atoms::undefined.index();
  }

  void become_big_unsigned(std::uint64_t value);
  void become_boxed(const pid& p);
  void become_boxed(const ref& r);
  void become_boxed(const port& p);
  pid external_pid() const;
  static term adopt_tuple(term* elements, std::size_t count);
  static term allocate_binary(std::size_t size);
  std::span<std::byte> writable_bytes_of_new_binary() noexcept;
  static bool equal_boxed(const term& a, const term& b) noexcept;
  static std::strong_ordering compare_total(const term& a, const term& b) noexcept;

  [[noreturn]] void throw_wrong_kind(const char* expected) const;
  [[noreturn]] void throw_not_int64() const;
  [[noreturn]] static void throw_not_finite(double value);
  [[noreturn]] static void throw_out_of_range(std::size_t index, std::size_t size);

  tag tag_;
  std::uint8_t small_;
  std::uint16_t reserved_;
  std::uint32_t aux_;
  std::uint64_t payload_;
};

static_assert(sizeof(term) == 16, "a term is two words");

// Iterates a list's elements across its chunks. An iterator advanced to the end
// remembers the list's tail (rest() returns it).
class term::list_iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = term;
  using difference_type = std::ptrdiff_t;
  using pointer = const term*;
  using reference = const term&;

  list_iterator() noexcept = default;  // the end

  const term& operator*() const noexcept { return term::terms_after(chunk_)[1 + index_]; }
  const term* operator->() const noexcept { return &**this; }
  list_iterator& operator++() noexcept {
    if (++index_ == chunk_->count) {
      const term& tail = term::terms_after(chunk_)[0];
      if (tail.tag_ == term::tag::list) {
        chunk_ = tail.object();
        index_ = tail.aux_;
      } else {
        tail_ = &tail;
        chunk_ = nullptr;
        index_ = 0;
      }
    }
    return *this;
  }
  list_iterator operator++(int) noexcept {
    list_iterator before = *this;
    ++*this;
    return before;
  }
  friend bool operator==(const list_iterator& a, const list_iterator& b) noexcept {
    return a.chunk_ == b.chunk_ && a.index_ == b.index_;
  }

  // The list from this element on, sharing storage; at the end, the list's tail
  // ([] for a proper list).
  term rest() const;

 private:
  friend class term;
  friend class list_view;
  friend struct detail::term_access;
  list_iterator(const detail::heap_object* chunk, std::uint32_t index) noexcept
      : chunk_(chunk), index_(index) {}

  const detail::heap_object* chunk_ = nullptr;  // nullptr at the end
  std::uint32_t index_ = 0;
  const term* tail_ = nullptr;  // once at the end: the last chunk's tail
};

// A list's elements and tail, valid while the list term lives.
class term::list_view {
 public:
  list_iterator begin() const noexcept {
    if (list_->tag_ != term::tag::list) return {};
    return {list_->object(), list_->aux_};
  }
  list_iterator end() const noexcept { return {}; }
  bool empty() const noexcept { return list_->tag_ != term::tag::list; }
  // [] for a proper list (and for [] itself), the final non-list tail otherwise.
  const term& tail() const noexcept;

 private:
  friend class term;
  explicit list_view(const term* list) noexcept : list_(list) {}
  const term* list_;
};

struct term::map_entry {
  const term& key;
  const term& value;
};

class term::map_iterator {
 public:
  using iterator_concept = std::forward_iterator_tag;
  using iterator_category = std::input_iterator_tag;
  using value_type = map_entry;
  using difference_type = std::ptrdiff_t;
  using reference = map_entry;

  map_iterator() noexcept = default;
  map_entry operator*() const noexcept { return {keys_[index_], keys_[count_ + index_]}; }
  map_iterator& operator++() noexcept {
    ++index_;
    return *this;
  }
  map_iterator operator++(int) noexcept {
    map_iterator before = *this;
    ++index_;
    return before;
  }
  friend bool operator==(const map_iterator& a, const map_iterator& b) noexcept {
    return a.index_ == b.index_;
  }

 private:
  friend class map_view;
  map_iterator(const term* keys, std::size_t count, std::size_t index) noexcept
      : keys_(keys), count_(count), index_(index) {}
  const term* keys_ = nullptr;  // the values follow the keys
  std::size_t count_ = 0;
  std::size_t index_ = 0;
};

// A map's entries in Erlang's map order, valid while the map term lives.
class term::map_view {
 public:
  map_iterator begin() const noexcept { return {keys_.data(), keys_.size(), 0}; }
  map_iterator end() const noexcept { return {keys_.data(), keys_.size(), keys_.size()}; }
  std::size_t size() const noexcept { return keys_.size(); }
  bool empty() const noexcept { return keys_.empty(); }
  std::span<const term> keys() const noexcept { return keys_; }
  std::span<const term> values() const noexcept { return values_; }

 private:
  friend class term;
  map_view(std::span<const term> keys, std::span<const term> values) noexcept
      : keys_(keys), values_(values) {}
  std::span<const term> keys_;
  std::span<const term> values_;
};

// Erlang's own term order, where 1 == 1.0 (and 0.0 == -0.0): the order of Erlang's
// <, =<, == and sorting. Weak: equivalent terms need not be equal (==).
std::weak_ordering compare(const term& a, const term& b) noexcept;

// Erlang's == (arithmetic equality): compare(a, b) == 0.
inline bool equal_numeric(const term& a, const term& b) noexcept {
  return compare(a, b) == std::weak_ordering::equivalent;
}

// The name and creation that term order uses for this node's own pids, ports and
// references (node 0), when comparing them with remote ones. Until set (when the
// node joins a cluster): 'nonode@nohost' and 0.
void set_local_node_identity(atom name, std::uint32_t creation) noexcept;

}  // namespace beamline

template <>
struct std::hash<beamline::term> {
  std::size_t operator()(const beamline::term& t) const noexcept { return t.hash(); }
};

// The fun descriptions hold terms, so they come after term is complete.
#include "beamline/fun.hpp"
