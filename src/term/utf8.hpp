// utf8.hpp: UTF-8 decoding, encoding and validation for atoms, strings and syntax.
//
// Valid UTF-8 here is RFC 3629's: shortest encodings only, no surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF. Atom names and the text that term::parse
// reads must be valid; binaries may hold any bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace beamline::detail::utf8 {

// Decodes the code point at text[position] and advances position past it; returns
// nothing (and leaves position alone) at an invalid or truncated sequence.
std::optional<char32_t> decode(std::string_view text, std::size_t& position) noexcept;

// The number of code points in `text`, or nothing if it is not valid UTF-8.
std::optional<std::size_t> count_code_points(std::string_view text) noexcept;

// Appends the UTF-8 encoding of a code point (which must be a Unicode scalar value).
void append(std::string& out, char32_t code_point);

// Whether every byte is below 0x80 (ASCII), looking at eight bytes at a time.
inline bool is_ascii(std::string_view text) noexcept {
  std::size_t i = 0;
  std::uint64_t high_bits = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    high_bits |= word;
  }
  for (; i < text.size(); ++i) high_bits |= static_cast<unsigned char>(text[i]);
  return (high_bits & 0x8080808080808080ull) == 0;
}

// Whether a code point is a Unicode scalar value (encodable in UTF-8).
constexpr bool is_scalar_value(char32_t c) noexcept {
  return c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
}

}  // namespace beamline::detail::utf8
