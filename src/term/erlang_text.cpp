// erlang_text.cpp: Erlang's lexical rules (see erlang_text.hpp).
#include "term/erlang_text.hpp"

#include <algorithm>
#include <array>

#include "term/utf8.hpp"

namespace beamline::detail::erlang_text {

namespace {
constexpr std::array<std::string_view, 29> reserved_words = {
    "after", "and",   "andalso", "band",   "begin",   "bnot", "bor", "bsl",  "bsr", "bxor",
    "case",  "catch", "cond",    "div",    "else",    "end",  "fun", "if",   "let", "maybe",
    "not",   "of",    "or",      "orelse", "receive", "rem",  "try", "when", "xor"};
}  // namespace

bool is_reserved_word(std::string_view name) noexcept {
  return std::find(reserved_words.begin(), reserved_words.end(), name) != reserved_words.end();
}

bool atom_needs_quotes(std::string_view name) noexcept {
  std::size_t position = 0;
  const auto first = utf8::decode(name, position);
  if (!first || !is_lowercase_letter(*first)) return true;
  while (position < name.size()) {
    const auto c = utf8::decode(name, position);
    if (!c || !is_name_character(*c)) return true;
  }
  return is_reserved_word(name);
}

void append_quoted_character(std::string& out, char32_t c, char quote) {
  switch (c) {
    case '\b':
      out += "\\b";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\v':
      out += "\\v";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\r':
      out += "\\r";
      return;
    case 27:
      out += "\\e";
      return;
    case 127:
      out += "\\d";
      return;
    case '\\':
      out += "\\\\";
      return;
    default:
      break;
  }
  if (c == static_cast<char32_t>(quote)) {
    out.push_back('\\');
    out.push_back(quote);
  } else if (c < 32 || (c >= 0x80 && c < 0xA0)) {
    // Other controls, in three octal digits like Erlang: '\001', '\200'.
    out.push_back('\\');
    out.push_back(static_cast<char>('0' + ((c >> 6) & 7)));
    out.push_back(static_cast<char>('0' + ((c >> 3) & 7)));
    out.push_back(static_cast<char>('0' + (c & 7)));
  } else {
    utf8::append(out, c);
  }
}

void append_atom(std::string& out, std::string_view name) {
  if (!atom_needs_quotes(name)) {
    out += name;
    return;
  }
  out.push_back('\'');
  std::size_t position = 0;
  while (position < name.size()) {
    // Atom names are valid UTF-8 (checked when interned).
    const auto c = utf8::decode(name, position);
    if (!c) break;
    append_quoted_character(out, *c, '\'');
  }
  out.push_back('\'');
}

}  // namespace beamline::detail::erlang_text
