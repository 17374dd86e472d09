// erlang_text.hpp: Erlang's lexical rules, shared by the printer and the parser.
//
// Owns the facts both directions must agree on, so that what the printer writes the
// parser reads back: which characters are letters (Erlang counts Latin-1 letters),
// the reserved words, when an atom needs quotes, how a character is escaped inside
// quotes, and which characters make a list print as a string.
#pragma once

#include <string>
#include <string_view>

namespace beamline::detail::erlang_text {

// a-z and the Latin-1 lowercase letters (U+00DF..U+00FF except the division sign).
constexpr bool is_lowercase_letter(char32_t c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 0xDF && c <= 0xFF && c != 0xF7);
}

// A-Z and the Latin-1 uppercase letters (U+00C0..U+00DE except the multiplication sign).
constexpr bool is_uppercase_letter(char32_t c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7);
}

constexpr bool is_digit(char32_t c) noexcept {
  return c >= '0' && c <= '9';
}

// A character that may follow the first one of an unquoted atom or a variable.
constexpr bool is_name_character(char32_t c) noexcept {
  return is_lowercase_letter(c) || is_uppercase_letter(c) || is_digit(c) || c == '_' || c == '@';
}

// Erlang's reserved words (OTP 27, where `maybe` and `else` joined them).
bool is_reserved_word(std::string_view name) noexcept;

// Whether the atom `name` needs quotes to read back as the same atom.
bool atom_needs_quotes(std::string_view name) noexcept;

// Appends an atom as Erlang writes it, quoted and escaped when it must be.
void append_atom(std::string& out, std::string_view name);

// Appends one character inside a quoted atom (quote '\'') or string (quote '"'):
// the quote and backslash escaped, controls as \n, \t, ... or octal, the rest UTF-8.
void append_quoted_character(std::string& out, char32_t c, char quote);

// Whether a character code lets a list print as a string: the printable ASCII
// characters, \b \t \n \v \f \r \e, and every printable Unicode character from U+00A0
// (the rule of Erlang's ~tp with +pc unicode; see docs/terms.md).
constexpr bool is_printable_character(char32_t c) noexcept {
  return (c >= 32 && c <= 126) || (c >= 8 && c <= 13) || c == 27 || (c >= 0xA0 && c < 0xD800) ||
         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

}  // namespace beamline::detail::erlang_text
