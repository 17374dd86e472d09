// float_format.cpp: floats as Erlang writes them (see float_format.hpp).
#include "term/float_format.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace beamline::detail {

void append_erlang_float(std::string& out, double value) {
  if (value == 0) {
    out += std::signbit(value) ? "-0.0" : "0.0";
    return;
  }
  // The shortest round-trip digits, as d.ddde[+-]x.
  char buffer[64];
  const auto [end, error] =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  (void)error;  // 64 bytes always suffice for a double
  std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  if (text.front() == '-') {
    out.push_back('-');
    text.remove_prefix(1);
  }
  const std::size_t e = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e))
    if (c != '.') digits.push_back(c);
  const int scientific_exponent = std::atoi(std::string(text.substr(e + 1)).c_str());
  const auto length = static_cast<int>(digits.size());
  // value = digits * 10^exponent
  const int exponent = scientific_exponent - (length - 1);

  // Erlang's choice of notation.
  int lower = -(length + 2);
  int upper = 1;
  if (length == 1) {
    lower = -4;
    upper = 2;
  } else if (scientific_exponent >= 10) {
    upper = 2;
  }
  bool fixed = lower <= exponent && exponent <= upper;
  if (fixed) {
    // Around 2^53 fixed notation would show digits the double does not have.
    const std::uint64_t mantissa = std::strtoull(digits.c_str(), nullptr, 10);
    if ((mantissa >= (std::uint64_t{1} << 53) && exponent == 0) ||
        (mantissa > (std::uint64_t{1} << 52) / 5 && exponent == 1) ||
        (mantissa > (std::uint64_t{1} << 51) / 25 && exponent == 2)) {
      fixed = false;
    }
  }

  if (fixed) {
    if (exponent >= 0) {  // 17290.0
      out += digits;
      out.append(static_cast<std::size_t>(exponent), '0');
      out += ".0";
    } else if (length + exponent > 0) {  // 17.29
      const auto whole = static_cast<std::size_t>(length + exponent);
      out += std::string_view(digits).substr(0, whole);
      out.push_back('.');
      out += std::string_view(digits).substr(whole);
    } else {  // 0.001729
      out += "0.";
      out.append(static_cast<std::size_t>(-(length + exponent)), '0');
      out += digits;
    }
    return;
  }
  out.push_back(digits[0]);  // 1.729e4, 1.0e100
  out.push_back('.');
  if (length > 1) {
    out += std::string_view(digits).substr(1);
  } else {
    out.push_back('0');
  }
  out.push_back('e');
  out += std::to_string(scientific_exponent);
}

}  // namespace beamline::detail
