// beamline/detail/print.hpp: a message's values as text, for diagnostics (a
// gen_server's "dropped a message it has no handler for" line, the observer).
//
// Each value prints as: its to_string() (terms, pids, refs, atoms); a string,
// quoted; a number or a bool; through operator<< where the type has one; a range
// (vector, list, ...) as [a,b,...]; a pair or tuple as {a,b}; anything else as
// its type's name in angle brackets. Long texts are cut at max_printed bytes.
#pragma once

#include <concepts>
#include <cstddef>
#include <ostream>
#include <ranges>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace beamline::detail {

inline constexpr std::size_t max_printed = 1000;

// The demangled name of a type (the library's; cut at 255 characters).
std::string type_name(const std::type_info& type);

template <class T>
void print_value(std::string& out, const T& value);

template <class T>
concept has_to_string = requires(const T& v) {
  { v.to_string() } -> std::convertible_to<std::string>;
};
template <class T>
concept streamable = requires(std::ostream& os, const T& v) {
  os << v;
};
template <class T>
concept tuple_like = requires {
  std::tuple_size<T>::value;
};

template <class Tuple, std::size_t... I>
void print_elements(std::string& out, const Tuple& t, std::index_sequence<I...>) {
  ((out += (I == 0 ? "" : ","), print_value(out, std::get<I>(t))), ...);
}

template <class T>
void print_value(std::string& out, const T& value) {
  if (out.size() > max_printed) return;
  if constexpr (has_to_string<T>) {
    out += value.to_string();
  } else if constexpr (std::is_same_v<T, bool>) {
    out += value ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<T>) {
    out += std::to_string(value);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out += '"';
    out += std::string_view(value);
    out += '"';
  } else if constexpr (streamable<T>) {
    std::ostringstream s;
    s << value;
    out += s.str();
  } else if constexpr (std::ranges::input_range<const T>) {
    out += '[';
    bool first = true;
    for (const auto& element : value) {
      if (!first) out += ',';
      first = false;
      print_value(out, element);
      if (out.size() > max_printed) break;
    }
    out += ']';
  } else if constexpr (tuple_like<T>) {
    out += '{';
    print_elements(out, value, std::make_index_sequence<std::tuple_size_v<T>>{});
    out += '}';
  } else {
    out += '<';
    out += type_name(typeid(T));
    out += '>';
  }
}

// A message's payload (the tuple of the values sent): one value prints alone, more
// as a tuple, as Erlang prints the message.
template <class Payload>
std::string print_payload(const Payload& payload) {
  std::string out;
  if constexpr (tuple_like<Payload>) {
    if constexpr (std::tuple_size_v<Payload> == 1)
      print_value(out, std::get<0>(payload));
    else
      print_value(out, payload);
  } else {
    print_value(out, payload);
  }
  if (out.size() > max_printed) {
    out.resize(max_printed);
    out += "...";
  }
  return out;
}

}  // namespace beamline::detail
