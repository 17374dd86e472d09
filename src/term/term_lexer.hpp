// term_lexer.hpp: the tokens of Erlang term and pattern syntax.
//
// Owns Erlang's lexical grammar for the subset terms and patterns use: atoms (plain
// and quoted), variables, integers (1_000, 16#ff, $a), floats (1.5e-3), strings with
// Erlang's escapes, punctuation, and the printed forms of pids (<0.1.2>), ports
// (#Port<0.5>) and references (#Ref<0.1.2.3>), which are single tokens. Whitespace
// and % comments separate tokens. Input must be UTF-8; Latin-1 letters count as
// letters, as in Erlang. Every error is a parse_error with the byte offset.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "beamline/term.hpp"

namespace beamline::detail {

enum class token_kind : std::uint8_t {
  end,          // no more input
  atom,         // text: the name; quoted: whether it was written in quotes
  variable,     // text: the name (_ alone is a wildcard)
  number,       // value: an integer or a float
  string,       // characters: the code points
  punctuation,  // text: { } [ ] ( ) , | => := << >> #{ : / - + .
  identity,     // value: a pid, port or reference
};

struct token {
  token_kind kind = token_kind::end;
  std::size_t offset = 0;
  std::string text;
  bool quoted = false;
  term value;
  std::u32string characters;

  bool is(std::string_view punctuation) const noexcept {
    return kind == token_kind::punctuation && text == punctuation;
  }
};

class term_lexer {
 public:
  explicit term_lexer(std::string_view text) noexcept : text_(text) {}

  // The next token; throws parse_error on malformed input.
  token next();

  [[noreturn]] static void fail(std::size_t offset, const std::string& problem);

 private:
  char32_t peek_character(std::size_t& length) const;
  char32_t read_character();
  void skip_blanks();
  token read_number(std::size_t start);
  token read_name(std::size_t start, token_kind kind);
  token read_quoted(std::size_t start, char quote);
  char32_t read_escape();
  token read_identity(std::size_t start, std::string_view prefix);
  std::uint64_t read_decimal(std::uint64_t max, const char* what);

  std::string_view text_;
  std::size_t position_ = 0;
};

// A human-readable description of a token for error messages: "'}'", "atom foo".
std::string describe(const token& t);

}  // namespace beamline::detail
