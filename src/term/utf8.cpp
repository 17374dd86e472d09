// utf8.cpp: UTF-8 decoding, encoding and validation (see utf8.hpp).
#include "term/utf8.hpp"

namespace beamline::detail::utf8 {

std::optional<char32_t> decode(std::string_view text, std::size_t& position) noexcept {
  if (position >= text.size()) return std::nullopt;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(position);
  if (lead < 0x80) {
    ++position;
    return char32_t{lead};
  }
  // The lead byte gives the length, its payload bits, and the smallest code point
  // that needs that length (anything smaller is an overlong encoding).
  std::size_t length = 0;
  char32_t code_point = 0;
  char32_t minimum = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1F;
    minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0F;
    minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07;
    minimum = 0x10000;
  } else {
    return std::nullopt;  // a continuation byte or 0xF8..0xFF cannot start a sequence
  }
  if (text.size() - position < length) return std::nullopt;
  for (std::size_t i = 1; i < length; ++i) {
    const unsigned char continuation = byte(position + i);
    if ((continuation & 0xC0) != 0x80) return std::nullopt;
    code_point = (code_point << 6) | (continuation & 0x3F);
  }
  if (code_point < minimum || !is_scalar_value(code_point)) return std::nullopt;
  position += length;
  return code_point;
}

std::optional<std::size_t> count_code_points(std::string_view text) noexcept {
  std::size_t count = 0;
  std::size_t position = 0;
  while (position < text.size()) {
    // ASCII fast path: most names are ASCII.
    if (static_cast<unsigned char>(text[position]) < 0x80) {
      ++position;
    } else if (!decode(text, position)) {
      return std::nullopt;
    }
    ++count;
  }
  return count;
}

void append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace beamline::detail::utf8
