// beamline/pattern.hpp: Erlang patterns, for selective receive.
//
// A pattern is a term with holes: `_` matches anything, a variable (X, Reason, _Tag)
// matches anything and binds it, and a variable that appears twice must match equal
// values ({X, X} matches {1, 1}, not {1, 2}). Everything else must match exactly,
// as Erlang's matching does (=:=: the pattern 1 does not match 1.0). Map patterns
// match maps that have at least the given keys: #{k := V}.
//
//   bl::pattern exit_pattern("{'EXIT', _, Reason}");
//   if (auto b = exit_pattern.match(message)) log((*b)["Reason"]);
//   co_await bl::receive(bl::pattern("{ok, _}"), ...);   // a pattern is a predicate
//
// The same patterns built in C++, without parsing:
//
//   using bl::pattern;
//   pattern::tuple(bl::atoms::EXIT, pattern::any(), pattern::var("Reason"));
//   pattern::list({pattern::var("H")}, pattern::var("T"));    // [H | T]
//   pattern::map({{bl::atom("k"), pattern::var("V")}});        // #{k := V}
//
// A pattern is immutable and cheap to copy (its compiled form is shared). Parts of
// a pattern without variables are folded into one literal term when built, so
// matching them is one term comparison. matches() allocates nothing unless a
// variable repeats; match() allocates the bindings it returns.
#pragma once

#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "beamline/term.hpp"

namespace beamline {

namespace detail {
struct pattern_program;
}

class pattern;

// What converts to a literal pattern: anything a term can be made from, other than a
// term or pattern themselves (they have their own constructors).
template <class T>
concept literal_pattern_source = term_source<T> && !std::same_as<std::remove_cvref_t<T>, term> &&
                                 !std::same_as<std::remove_cvref_t<T>, pattern>;

// The values a successful match bound to the pattern's variables.
class bindings {
 public:
  // The value bound to `name`; throws badarg if the pattern has no such variable.
  const term& operator[](std::string_view name) const;
  // The value bound to `name`, or nullptr if the pattern has no such variable.
  const term* find(std::string_view name) const noexcept;

  // The variables in the order they first appear in the pattern, and their values.
  std::size_t size() const noexcept { return values_.size(); }
  std::string_view name(std::size_t index) const;
  const term& value(std::size_t index) const { return values_.at(index); }

 private:
  friend class pattern;
  bindings(std::shared_ptr<const detail::pattern_program> program, std::vector<term> values)
      : program_(std::move(program)), values_(std::move(values)) {}

  std::shared_ptr<const detail::pattern_program> program_;
  std::vector<term> values_;  // by variable slot
};

class pattern {
 public:
  // Parses Erlang pattern syntax: term syntax plus variables and _, with := in maps.
  // Throws parse_error.
  explicit pattern(std::string_view source);
  explicit pattern(const char* source) : pattern(std::string_view(source)) {}
  explicit pattern(const std::string& source) : pattern(std::string_view(source)) {}

  // A literal: matches terms exactly equal (=:=) to the value. Anything a term can
  // be made from converts: pattern(bl::atoms::ok), pattern(42).
  pattern(const term& literal);  // NOLINT(google-explicit-constructor)
  template <literal_pattern_source T>
  pattern(T&& value) : pattern(term(std::forward<T>(value))) {}  // NOLINT

  // _: matches anything, binds nothing.
  static pattern any();
  // A variable: matches anything and binds it under `name` (which must start with an
  // uppercase letter or _, and not be _ alone).
  static pattern var(std::string_view name);

  // {P1, P2, ...}. Each part is a pattern, or anything a term can be made from.
  template <class... Parts>
  static pattern tuple(Parts&&... parts) {
    if constexpr (sizeof...(Parts) == 0) {
      return tuple(std::span<const pattern>());
    } else {
      const pattern patterns[] = {part(std::forward<Parts>(parts))...};
      return tuple(std::span<const pattern>(patterns));
    }
  }
  static pattern tuple(std::initializer_list<pattern> elements) {
    return tuple(std::span<const pattern>(elements.begin(), elements.size()));
  }
  static pattern tuple(std::span<const pattern> elements);
  // [P1, P2, ...] and [P1, P2, ... | Tail].
  static pattern list(std::initializer_list<pattern> elements) {
    return list(std::span<const pattern>(elements.begin(), elements.size()), term::nil());
  }
  static pattern list(std::initializer_list<pattern> elements, const pattern& tail) {
    return list(std::span<const pattern>(elements.begin(), elements.size()), tail);
  }
  static pattern list(std::span<const pattern> elements, const pattern& tail);
  // #{K1 := P1, ...}: maps with at least these keys, whose values match.
  static pattern map(std::initializer_list<std::pair<term, pattern>> entries) {
    return map(std::span<const std::pair<term, pattern>>(entries.begin(), entries.size()));
  }
  static pattern map(std::span<const std::pair<term, pattern>> entries);

  bool matches(const term& t) const;
  bool operator()(const term& t) const { return matches(t); }
  // The bindings of a successful match; nothing if the term does not match.
  std::optional<bindings> match(const term& t) const;

  // The variables, in the order they first appear.
  std::span<const std::string> variables() const noexcept;

  // Erlang syntax: {ok,X,_}.
  std::string to_string() const;
  friend std::ostream& operator<<(std::ostream& os, const pattern& p);

 private:
  explicit pattern(std::shared_ptr<const detail::pattern_program> program) noexcept
      : program_(std::move(program)) {}

  template <class Part>
  static pattern part(Part&& value) {
    if constexpr (std::is_convertible_v<Part, std::string_view>) {
      static_assert(
          !std::is_convertible_v<Part, std::string_view>,
          "a C++ string is ambiguous in a pattern: write pattern::var(\"X\"), "
          "pattern(\"...\"), atom(\"...\"), term::string(\"...\") or term::binary(\"...\")");
      return any();
    } else {
      return pattern(std::forward<Part>(value));
    }
  }

  std::shared_ptr<const detail::pattern_program> program_;
};

}  // namespace beamline
