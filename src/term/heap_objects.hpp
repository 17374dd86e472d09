// heap_objects.hpp: the heap objects behind boxed terms, and src/term's access to
// term's representation.
//
// Every object starts with detail::heap_object (term.hpp): a reference count, a
// 32-bit count, the tag of the terms that point to it and 8 bits of flags. What
// follows depends on the tag:
//
//   tag           count        flags              then
//   tuple         arity        -                  term elements[arity]
//   list          length       -                  term tail; term elements[length]
//   map           size         -                  term keys[size]; term values[size]
//   big_integer   limbs        1 if negative      uint64 limbs[count], least significant first
//   binary        -            bits in last byte  binary_object fields; bytes if owner is null
//   external_pid  -            -                  pid
//   external_port -            -                  port
//   external_ref  -            -                  ref
//   fun           free vars    1 if external      fun_object fields; term free_variables[count]
//
// Objects are allocated with ::operator new, constructed in place, written once by
// the function that makes them, and never changed again; destroy_heap_object (in
// term.cpp) frees them. A new object starts with one reference, which the term that
// term_access::adopt() makes takes over.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>

#include "beamline/term.hpp"

namespace beamline::detail {

// A binary: the bytes follow the object, or it is a slice of `owner`'s bytes.
struct binary_object : heap_object {
  const std::byte* data;
  std::size_t size;    // bytes, a partial last byte included
  heap_object* owner;  // the binary whose bytes these are, or nullptr if they follow
};

struct external_pid_object : heap_object {
  pid value;
};

struct external_port_object : heap_object {
  port value;
};

struct external_ref_object : heap_object {
  ref value;
};

struct fun_object : heap_object {
  static constexpr std::uint8_t external_flag = 1;
  std::uint32_t module;    // atom index
  std::uint32_t function;  // atom index (external funs)
  std::uint32_t index;
  std::uint32_t old_index;
  std::uint32_t old_uniq;
  std::uint8_t arity;
  std::array<std::uint8_t, 16> uniq;
  pid creator;
};

// The representation of terms, for the code in src/term that builds and reads it.
struct term_access {
  using tag = term::tag;
  static constexpr tag first_boxed = term::first_boxed;

  static tag tag_of(const term& t) noexcept { return t.tag_; }
  static bool is_boxed(const term& t) noexcept { return t.is_boxed(); }
  static heap_object* object_of(const term& t) noexcept { return t.object(); }
  static std::uint64_t payload_of(const term& t) noexcept { return t.payload_; }
  static std::uint32_t aux_of(const term& t) noexcept { return t.aux_; }
  static std::uint8_t small_of(const term& t) noexcept { return t.small_; }

  // A term of an inline tag.
  static term make_inline(tag t, std::uint64_t payload, std::uint32_t aux = 0,
                          std::uint8_t small = 0) noexcept {
    term result(t);
    result.payload_ = payload;
    result.aux_ = aux;
    result.small_ = small;
    return result;
  }
  // A term for a new object, taking over the reference it was born with.
  static term adopt(heap_object* object, std::uint32_t aux = 0) noexcept {
    term result(static_cast<tag>(object->tag));
    result.payload_ = reinterpret_cast<std::uintptr_t>(object);
    result.aux_ = aux;
    return result;
  }
  // A new term for an object that already has owners.
  static term share(heap_object* object, std::uint32_t aux = 0) noexcept {
    term::add_reference(object);
    return adopt(object, aux);
  }

  static term* terms_after(heap_object* o) noexcept {
    return const_cast<term*>(term::terms_after(o));
  }
  static const term* terms_after(const heap_object* o) noexcept { return term::terms_after(o); }
  static const std::uint64_t* limbs(const heap_object* o) noexcept {
    return std::launder(reinterpret_cast<const std::uint64_t*>(
        reinterpret_cast<const std::byte*>(o) + sizeof(heap_object)));
  }
  static const term* free_variables(const fun_object* o) noexcept {
    return std::launder(
        reinterpret_cast<const term*>(reinterpret_cast<const std::byte*>(o) + sizeof(fun_object)));
  }
  static std::span<const term> tuple_elements(const term& t) noexcept {
    if (t.tag_ != tag::tuple) return {};
    return {terms_after(t.object()), t.object()->count};
  }
  static std::span<const term> map_keys(const term& t) noexcept {
    if (t.tag_ != tag::map) return {};
    return {terms_after(t.object()), t.object()->count};
  }
  static std::span<const term> map_values(const term& t) noexcept {
    if (t.tag_ != tag::map) return {};
    return {terms_after(t.object()) + t.object()->count, t.object()->count};
  }
  // The bytes and bit size of a bitstring term.
  static std::span<const std::byte> binary_bytes(const term& t) noexcept {
    if (t.tag_ != tag::binary) return {};
    const auto* b = static_cast<const binary_object*>(t.object());
    return {b->data, b->size};
  }
  // After a list iterator has reached the end: the list's final tail.
  static const term& end_tail(const term::list_iterator& end) noexcept { return *end.tail_; }
  static term::list_iterator list_begin(const term& list) noexcept {
    return {list.object(), list.aux_};
  }
  static std::size_t binary_bit_size(const term& t) noexcept {
    if (t.tag_ != tag::binary) return 0;
    const auto* b = static_cast<const binary_object*>(t.object());
    return b->size * 8 - (8 - b->flags);
  }
};

// Allocates an Object (heap_object or a type derived from it) with `extra` bytes
// after it, with one reference and the given header fields.
template <class Object>
Object* allocate_object(term_access::tag tag, std::uint32_t count, std::uint8_t flags,
                        std::size_t extra = 0) {
  void* memory = ::operator new(sizeof(Object) + extra);
  auto* object = new (memory) Object();
  object->references.store(1, std::memory_order_relaxed);
  object->count = count;
  object->tag = static_cast<std::uint8_t>(tag);
  object->flags = flags;
  object->reserved = 0;
  return object;
}

}  // namespace beamline::detail
