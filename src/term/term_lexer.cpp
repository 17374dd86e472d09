// term_lexer.cpp: the tokens of Erlang term and pattern syntax (see term_lexer.hpp).
#include "term/term_lexer.hpp"

#include <charconv>
#include <limits>

#include "term/erlang_text.hpp"
#include "term/utf8.hpp"

namespace beamline::detail {

namespace {

bool is_blank(char32_t c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int digit_value(char32_t c) noexcept {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'z') return static_cast<int>(c - 'a' + 10);
  if (c >= 'A' && c <= 'Z') return static_cast<int>(c - 'A' + 10);
  return 99;
}

std::string quote_for_message(char32_t c) {
  std::string text = "'";
  if (c < 32 || c == 127) {
    text += "\\x" + std::to_string(static_cast<unsigned>(c));
  } else {
    utf8::append(text, c);
  }
  return text + "'";
}

}  // namespace

void term_lexer::fail(std::size_t offset, const std::string& problem) {
  throw parse_error(offset, problem);
}

// The code point at the current position, without consuming it; 0 at the end.
char32_t term_lexer::peek_character(std::size_t& length) const {
  if (position_ >= text_.size()) {
    length = 0;
    return 0;
  }
  std::size_t next = position_;
  const auto c = utf8::decode(text_, next);
  if (!c) fail(position_, "invalid UTF-8");
  length = next - position_;
  return *c;
}

char32_t term_lexer::read_character() {
  std::size_t length = 0;
  const char32_t c = peek_character(length);
  if (length == 0) fail(position_, "unexpected end of input");
  position_ += length;
  return c;
}

void term_lexer::skip_blanks() {
  while (position_ < text_.size()) {
    const char c = text_[position_];
    if (c == '%') {  // a comment, to the end of the line
      while (position_ < text_.size() && text_[position_] != '\n') ++position_;
    } else if (is_blank(static_cast<unsigned char>(c))) {
      ++position_;
    } else {
      return;
    }
  }
}

token term_lexer::next() {
  skip_blanks();
  token t;
  t.offset = position_;
  if (position_ >= text_.size()) return t;
  const std::size_t start = position_;
  std::size_t length = 0;
  const char32_t c = peek_character(length);
  const auto rest = text_.substr(position_);
  const auto punctuation = [&](std::size_t size) {
    t.kind = token_kind::punctuation;
    t.text = std::string(rest.substr(0, size));
    position_ += size;
    return t;
  };
  if (erlang_text::is_digit(c)) return read_number(start);
  if (erlang_text::is_lowercase_letter(c)) return read_name(start, token_kind::atom);
  if (erlang_text::is_uppercase_letter(c) || c == '_')
    return read_name(start, token_kind::variable);
  switch (c) {
    case '\'':
      return read_quoted(start, '\'');
    case '"':
      return read_quoted(start, '"');
    case '$': {
      ++position_;
      char32_t code = read_character();
      if (code == '\\') code = read_escape();
      t.kind = token_kind::number;
      t.value = term(code);
      return t;
    }
    case '{':
    case '}':
    case '[':
    case ']':
    case '(':
    case ')':
    case ',':
    case '|':
    case '/':
    case '-':
    case '+':
    case '.':
      return punctuation(1);
    case ':':
      return punctuation(rest.starts_with(":=") ? 2 : 1);
    case '=':
      if (rest.starts_with("=>")) return punctuation(2);
      fail(start, "unexpected '='");
    case '>':
      if (rest.starts_with(">>")) return punctuation(2);
      fail(start, "unexpected '>'");
    case '<':
      if (rest.starts_with("<<")) return punctuation(2);
      if (rest.size() > 1 && erlang_text::is_digit(static_cast<unsigned char>(rest[1])))
        return read_identity(start, "<");
      fail(start, "unexpected '<'");
    case '#':
      if (rest.starts_with("#{")) return punctuation(2);
      if (rest.starts_with("#Ref<")) return read_identity(start, "#Ref<");
      if (rest.starts_with("#Port<")) return read_identity(start, "#Port<");
      if (rest.starts_with("#Fun<"))
        fail(start,
             "#Fun<...> does not read back: a closure cannot be rebuilt from its printed form");
      fail(start, "unexpected '#'");
    default:
      fail(start, "unexpected character " + quote_for_message(c));
  }
}

std::string describe(const token& t) {
  switch (t.kind) {
    case token_kind::end:
      return "the end of the input";
    case token_kind::atom:
      return "atom '" + t.text + "'";
    case token_kind::variable:
      return "variable " + t.text;
    case token_kind::number:
      return "number " + t.value.to_string();
    case token_kind::string:
      return "a string";
    case token_kind::punctuation:
      return "'" + t.text + "'";
    case token_kind::identity:
      return t.value.to_string();
  }
  return "a token";
}

// Digits, with single underscores between digits as Erlang allows (1_000_000).
token term_lexer::read_number(std::size_t start) {
  token t;
  t.offset = start;
  t.kind = token_kind::number;
  const auto read_digits = [&](int base, std::string& digits) {
    while (position_ < text_.size()) {
      const char c = text_[position_];
      if (digit_value(static_cast<unsigned char>(c)) < base) {
        digits.push_back(c);
        ++position_;
      } else if (c == '_' && !digits.empty() && position_ + 1 < text_.size() &&
                 digit_value(static_cast<unsigned char>(text_[position_ + 1])) < base) {
        ++position_;
      } else {
        break;
      }
    }
  };
  std::string digits;
  read_digits(10, digits);
  const auto at = [&](std::size_t i) { return i < text_.size() ? text_[i] : '\0'; };
  if (at(position_) == '#') {  // Base#Digits
    unsigned base = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), base);
    if (error != std::errc() || end != digits.data() + digits.size() || base < 2 || base > 36)
      fail(start, "integer base must be 2..36, got " + digits);
    ++position_;
    std::string value;
    read_digits(static_cast<int>(base), value);
    if (value.empty()) fail(position_, "expected digits in base " + std::to_string(base));
    t.value = term::integer_from_string(value, base);
    return t;
  }
  if (at(position_) == '.' &&
      erlang_text::is_digit(static_cast<unsigned char>(at(position_ + 1)))) {
    digits.push_back('.');
    ++position_;
    read_digits(10, digits);
    if (at(position_) == 'e' || at(position_) == 'E') {
      std::size_t exponent = position_ + 1;
      if (at(exponent) == '-' || at(exponent) == '+') ++exponent;
      if (erlang_text::is_digit(static_cast<unsigned char>(at(exponent)))) {
        digits.push_back('e');
        if (at(position_ + 1) == '-') digits.push_back('-');
        position_ = exponent;
        read_digits(10, digits);
      }
    }
    double value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size() || !std::isfinite(value))
      fail(start, "float out of range: " + digits);
    t.value = term(value);
    return t;
  }
  t.value = term::integer_from_string(digits);
  return t;
}

token term_lexer::read_name(std::size_t start, token_kind kind) {
  token t;
  t.offset = start;
  t.kind = kind;
  std::size_t length = 0;
  while (erlang_text::is_name_character(peek_character(length)) && length > 0) position_ += length;
  t.text = std::string(text_.substr(start, position_ - start));
  return t;
}

std::uint64_t term_lexer::read_decimal(std::uint64_t max, const char* what) {
  const std::size_t start = position_;
  std::uint64_t value = 0;
  while (position_ < text_.size() &&
         erlang_text::is_digit(static_cast<unsigned char>(text_[position_]))) {
    const auto digit = static_cast<std::uint64_t>(text_[position_] - '0');
    if (value > (max - digit) / 10) fail(start, std::string(what) + " out of range");
    value = value * 10 + digit;
    ++position_;
  }
  if (position_ == start) fail(start, std::string("expected the digits of ") + what);
  return value;
}

// <0.Id.Serial>, #Port<0.Id>, #Ref<0.W.W.W>: local identities only, since the
// printed form of a remote one does not say which node it belongs to.
token term_lexer::read_identity(std::size_t start, std::string_view prefix) {
  constexpr std::uint64_t max32 = std::numeric_limits<std::uint32_t>::max();
  token t;
  t.offset = start;
  t.kind = token_kind::identity;
  position_ += prefix.size();
  const auto expect = [&](char c) {
    if (position_ >= text_.size() || text_[position_] != c)
      fail(position_, std::string("expected '") + c + "' in " + std::string(prefix) + "...>");
    ++position_;
  };
  const std::size_t node_offset = position_;
  if (read_decimal(max32, "node number") != 0) {
    fail(node_offset,
         "only local identities (node number 0) can be read: the printed form of a remote one "
         "does not name its node");
  }
  if (prefix == "#Ref<" && position_ < text_.size() && text_[position_] == '>') {
    ++position_;  // #Ref<0>: the null reference, with no words
    t.value = term(ref{});
    return t;
  }
  expect('.');
  if (prefix == "<") {
    const auto id = static_cast<std::uint32_t>(read_decimal(max32, "pid id"));
    expect('.');
    const auto serial = static_cast<std::uint32_t>(read_decimal(max32, "pid serial"));
    expect('>');
    t.value = term(pid{id, serial, 0, 0});
  } else if (prefix == "#Port<") {
    const std::uint64_t id = read_decimal(std::numeric_limits<std::uint64_t>::max(), "port id");
    expect('>');
    t.value = term(port{id, 0, 0});
  } else {
    std::uint32_t words_from_top[ref::max_words];
    std::uint32_t length = 0;
    for (;;) {
      if (length == ref::max_words) fail(position_, "a reference has at most 5 words");
      words_from_top[length++] = static_cast<std::uint32_t>(read_decimal(max32, "reference word"));
      if (position_ < text_.size() && text_[position_] == '.') {
        ++position_;
        continue;
      }
      expect('>');
      break;
    }
    ref r;
    r.length = length;
    for (std::uint32_t i = 0; i < length; ++i) r.words[length - 1 - i] = words_from_top[i];
    t.value = term(r);
  }
  return t;
}

// After a backslash: Erlang's escapes.
char32_t term_lexer::read_escape() {
  const std::size_t start = position_;
  const char32_t c = read_character();
  switch (c) {
    case 'b':
      return '\b';
    case 'd':
      return 127;
    case 'e':
      return 27;
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 's':
      return ' ';
    case 't':
      return '\t';
    case 'v':
      return '\v';
    case '^':
      return read_character() & 0x1F;  // \^A is 1
    case 'x': {
      char32_t value = 0;
      if (position_ < text_.size() && text_[position_] == '{') {  // \x{3BB}
        ++position_;
        int digits = 0;
        while (position_ < text_.size() && text_[position_] != '}') {
          const int digit = digit_value(static_cast<unsigned char>(text_[position_]));
          if (digit >= 16 || ++digits > 6) fail(position_, "bad \\x{...} escape");
          value = value * 16 + static_cast<char32_t>(digit);
          ++position_;
        }
        if (position_ >= text_.size() || digits == 0) fail(start, "bad \\x{...} escape");
        ++position_;
      } else {  // \x41: exactly two digits
        for (int i = 0; i < 2; ++i) {
          const int digit = position_ < text_.size()
                                ? digit_value(static_cast<unsigned char>(text_[position_]))
                                : 99;
          if (digit >= 16) fail(position_, "expected a hex digit in \\x escape");
          value = value * 16 + static_cast<char32_t>(digit);
          ++position_;
        }
      }
      if (!utf8::is_scalar_value(value)) fail(start, "escape is not a Unicode character");
      return value;
    }
    default:
      if (c >= '0' && c <= '7') {  // one to three octal digits
        char32_t value = c - '0';
        for (int i = 0; i < 2 && position_ < text_.size() && text_[position_] >= '0' &&
                        text_[position_] <= '7';
             ++i)
          value = value * 8 + static_cast<char32_t>(text_[position_++] - '0');
        return value;
      }
      return c;  // \\ \' \" and any other character stand for themselves
  }
}

token term_lexer::read_quoted(std::size_t start, char quote) {
  token t;
  t.offset = start;
  t.kind = quote == '"' ? token_kind::string : token_kind::atom;
  t.quoted = true;
  ++position_;
  for (;;) {
    if (position_ >= text_.size())
      fail(start, std::string("unterminated ") + (quote == '"' ? "string" : "quoted atom"));
    char32_t c = read_character();
    if (c == static_cast<char32_t>(quote)) break;
    if (c == '\\') c = read_escape();
    t.characters.push_back(c);
  }
  if (quote == '\'') {
    for (char32_t c : t.characters) utf8::append(t.text, c);
  }
  return t;
}

}  // namespace beamline::detail
