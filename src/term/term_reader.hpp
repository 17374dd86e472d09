// term_reader.hpp: the grammar of Erlang terms and patterns, over any builder.
//
// One reader serves term::parse and pattern's parsing constructor: it recognizes the
// syntax and hands each piece to a Builder, which makes a term or a pattern node of
// it. A Builder provides:
//
//   using node = ...;
//   static constexpr std::string_view map_arrow;     // "=>" for terms, ":=" for patterns
//   node literal(term value, std::size_t offset);
//   node variable(const std::string& name, std::size_t offset);  // _ is a variable too
//   node tuple(std::vector<node>&& elements);
//   node list(std::vector<node>&& elements, node&& tail);
//   node map(std::vector<std::pair<node, node>>&& entries, std::size_t offset);
//
// Grammar (Erlang's, for data): atoms, numbers (with a leading - or +), strings
// (adjacent strings concatenate), <<segments>>, {...}, [... | Tail], #{K => V},
// fun M:F/A, pids, ports and refs; optionally a final '.'. Binary segments are
// Value[:Size][/Type] with Value an integer, a character or a string, and Type
// utf8, integer, big, signed or unsigned.
//
// The reader keeps its own stack of open containers rather than recursing, so input
// nested a million deep is read (or rejected) without exhausting the C++ stack.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "beamline/fun.hpp"
#include "beamline/term.hpp"
#include "term/erlang_text.hpp"
#include "term/term_lexer.hpp"
#include "term/utf8.hpp"

namespace beamline::detail {

// Bits appended most significant first, as binaries hold them.
class bit_writer {
 public:
  void append(std::uint64_t value, unsigned count) {  // the low `count` (<= 64) bits
    for (unsigned i = count; i-- > 0;) append_bit((value >> i) & 1);
  }
  void append_bit(std::uint64_t bit) {
    if (bit_count_ % 8 == 0) bytes_.push_back(std::byte{0});
    if (bit != 0) bytes_.back() |= static_cast<std::byte>(0x80 >> (bit_count_ % 8));
    ++bit_count_;
  }
  // `count` copies of one bit, whole bytes at a time where aligned (a segment may be
  // 2^24 bits wide: bit by bit, a few such segments took seconds).
  void append_repeated(std::uint64_t bit, std::size_t count) {
    for (; count != 0 && bit_count_ % 8 != 0; --count) append_bit(bit);
    bytes_.resize(bytes_.size() + count / 8, bit != 0 ? std::byte{0xff} : std::byte{0});
    bit_count_ += count / 8 * 8;
    for (count %= 8; count != 0; --count) append_bit(bit);
  }
  term finish() const { return term::bitstring(bytes_, bit_count_); }

 private:
  std::vector<std::byte> bytes_;
  std::size_t bit_count_ = 0;
};

template <class Builder>
class term_reader {
 public:
  using node = typename Builder::node;

  term_reader(std::string_view text, Builder& builder) : lexer_(text), builder_(builder) {}

  // The one term of the input, with an optional final '.'.
  node read_all() {
    node result = read_value();
    token t = next();
    if (t.is(".")) t = next();
    if (t.kind != token_kind::end)
      term_lexer::fail(t.offset, "unexpected " + describe(t) + " after the term");
    return result;
  }

 private:
  static constexpr std::size_t max_segment_bits = std::size_t{1} << 24;

  enum class container : std::uint8_t { tuple, list, map };
  struct open_container {
    container kind;
    std::size_t offset;
    std::vector<node> elements;
    std::vector<std::pair<node, node>> entries;
    std::optional<node> key;  // map: the key waiting for its value
    bool in_tail = false;     // list: after '|'
  };

  token next() {
    if (lookahead_) {
      token t = std::move(*lookahead_);
      lookahead_.reset();
      return t;
    }
    return lexer_.next();
  }
  const token& peek() {
    if (!lookahead_) lookahead_ = lexer_.next();
    return *lookahead_;
  }
  token expect(std::string_view punctuation, const char* context) {
    token t = next();
    if (!t.is(punctuation)) {
      term_lexer::fail(t.offset, "expected '" + std::string(punctuation) + "' " + context +
                                     ", found " + describe(t));
    }
    return t;
  }

  node read_value() {
    std::vector<open_container> stack;
    for (;;) {
      // A value, or the start of a container (then read its first element).
      token t = next();
      std::optional<node> value;
      if (t.is("{") || t.is("[") || t.is("#{")) {
        const char* close = t.is("[") ? "]" : "}";
        if (peek().is(close)) {
          next();
          if (t.is("{")) {
            value = builder_.tuple({});
          } else if (t.is("[")) {
            value = builder_.literal(term::nil(), t.offset);
          } else {
            value = builder_.map({}, t.offset);
          }
        } else {
          const container kind =
              t.is("{") ? container::tuple : (t.is("[") ? container::list : container::map);
          stack.push_back(open_container{kind, t.offset, {}, {}, std::nullopt, false});
          continue;
        }
      } else {
        value = read_simple(std::move(t));
      }
      // Give the value to the open containers, closing those that end here.
      for (;;) {
        if (stack.empty()) return std::move(*value);
        open_container& open = stack.back();
        if (open.kind == container::map && !open.key) {
          open.key = std::move(*value);
          const token arrow = next();
          if (!arrow.is(Builder::map_arrow)) {
            term_lexer::fail(arrow.offset, "expected '" + std::string(Builder::map_arrow) +
                                               "' after a map key, found " + describe(arrow));
          }
          break;  // read the value
        }
        if (open.kind == container::map) {
          open.entries.emplace_back(std::move(*open.key), std::move(*value));
          open.key.reset();
        } else if (open.in_tail) {
          expect("]", "after the tail of a list");
          value = builder_.list(std::move(open.elements), std::move(*value));
          stack.pop_back();
          continue;
        } else {
          open.elements.push_back(std::move(*value));
        }
        const token separator = next();
        if (separator.is(",")) break;  // read the next element
        if (open.kind == container::list && separator.is("|")) {
          open.in_tail = true;
          break;  // read the tail
        }
        if (open.kind == container::tuple && separator.is("}")) {
          value = builder_.tuple(std::move(open.elements));
        } else if (open.kind == container::list && separator.is("]")) {
          value = builder_.list(std::move(open.elements),
                                builder_.literal(term::nil(), separator.offset));
        } else if (open.kind == container::map && separator.is("}")) {
          value = builder_.map(std::move(open.entries), open.offset);
        } else {
          const char* expected =
              open.kind == container::tuple
                  ? "',' or '}'"
                  : (open.kind == container::list ? "',', '|' or ']'" : "',' or '}'");
          term_lexer::fail(separator.offset,
                           std::string("expected ") + expected + ", found " + describe(separator));
        }
        stack.pop_back();
      }
    }
  }

  // Everything that is not a container.
  node read_simple(token t) {
    switch (t.kind) {
      case token_kind::number:
      case token_kind::identity:
        return builder_.literal(std::move(t.value), t.offset);
      case token_kind::string: {
        std::u32string characters = std::move(t.characters);
        while (peek().kind == token_kind::string) characters += next().characters;
        std::vector<term> codes(characters.begin(), characters.end());
        return builder_.literal(term::list(codes), t.offset);
      }
      case token_kind::variable:
        return builder_.variable(t.text, t.offset);
      case token_kind::atom:
        if (!t.quoted && t.text == "fun") return builder_.literal(read_export_fun(), t.offset);
        if (!t.quoted && erlang_text::is_reserved_word(t.text))
          term_lexer::fail(
              t.offset,
              "'" + t.text + "' is a reserved word: write it in quotes to make it an atom");
        return builder_.literal(make_atom(t), t.offset);
      case token_kind::punctuation:
        if (t.is("-") || t.is("+")) {
          const token number = next();
          if (number.kind != token_kind::number)
            term_lexer::fail(number.offset,
                             "expected a number after '" + t.text + "', found " + describe(number));
          return builder_.literal(t.is("-") ? negate(number.value) : number.value, t.offset);
        }
        if (t.is("<<")) return builder_.literal(read_binary(), t.offset);
        term_lexer::fail(t.offset, "expected a term, found " + describe(t));
      case token_kind::end:
        term_lexer::fail(t.offset, "expected a term, found the end of the input");
    }
    term_lexer::fail(t.offset, "expected a term");
  }

  static term make_atom(const token& t) {
    try {
      return atom(t.text);
    } catch (const std::exception& e) {
      term_lexer::fail(t.offset, e.what());
    }
  }

  static term negate(const term& number) {
    if (number.is_float()) return term(-number.as_double());
    return term(-number.as_bigint());
  }

  // After `fun`: Module:Function/Arity.
  term read_export_fun() {
    const token module = next();
    if (module.kind != token_kind::atom)
      term_lexer::fail(module.offset, "expected a module name after 'fun'");
    expect(":", "after the module of a fun");
    const token function = next();
    if (function.kind != token_kind::atom)
      term_lexer::fail(function.offset, "expected a function name in a fun");
    expect("/", "after the function of a fun");
    const token arity = next();
    if (arity.kind != token_kind::number || !arity.value.is_integer() || arity.value < term(0) ||
        arity.value > term(255))
      term_lexer::fail(arity.offset, "expected an arity 0..255 in a fun");
    return term::fun(external_fun{make_atom(module).as_atom(), make_atom(function).as_atom(),
                                  static_cast<std::uint8_t>(arity.value.as_int())});
  }

  // After `<<`: segments up to `>>`.
  term read_binary() {
    bit_writer bits;
    if (peek().is(">>")) {
      next();
      return bits.finish();
    }
    for (;;) {
      token value = next();
      bool negative = false;
      if (value.is("-")) {
        negative = true;
        value = next();
      }
      std::u32string characters;
      std::vector<std::int64_t> integers;
      if (value.kind == token_kind::string && !negative) {
        characters = std::move(value.characters);
        while (peek().kind == token_kind::string) characters += next().characters;
        integers.assign(characters.begin(), characters.end());
      } else if (value.kind == token_kind::number && value.value.is_integer()) {
        if (value.value.kind() == term::kind::integer && value.value.as_bigint().fits_int64()) {
          const std::int64_t v = value.value.as_int();
          integers.push_back(negative ? -v : v);
        } else {
          term_lexer::fail(value.offset, "binary segment value out of range");
        }
      } else {
        term_lexer::fail(value.offset,
                         "expected an integer or a string in a binary, found " + describe(value));
      }
      std::optional<std::size_t> size;
      if (peek().is(":")) {
        next();
        const token given = next();
        if (given.kind != token_kind::number || !given.value.is_integer() ||
            given.value < term(0) || given.value > term(max_segment_bits))
          term_lexer::fail(given.offset,
                           "expected a segment size 0.." + std::to_string(max_segment_bits));
        size = static_cast<std::size_t>(given.value.as_int());
      }
      bool as_utf8 = false;
      if (peek().is("/")) {
        next();
        for (;;) {
          const token type = next();
          if (type.kind == token_kind::atom && type.text == "utf8") {
            as_utf8 = true;
          } else if (type.kind != token_kind::atom ||
                     (type.text != "integer" && type.text != "big" && type.text != "signed" &&
                      type.text != "unsigned")) {
            term_lexer::fail(type.offset, "unsupported binary segment type " + describe(type));
          }
          if (!peek().is("-")) break;
          next();
        }
      }
      if (as_utf8 && size) term_lexer::fail(value.offset, "a utf8 segment takes no size");
      for (const std::int64_t v : integers) {
        if (as_utf8) {
          if (v < 0 || v > 0x10FFFF || !utf8::is_scalar_value(static_cast<char32_t>(v)))
            term_lexer::fail(value.offset, "not a Unicode character in a utf8 segment");
          std::string encoded;
          utf8::append(encoded, static_cast<char32_t>(v));
          for (char c : encoded) bits.append(static_cast<unsigned char>(c), 8);
          continue;
        }
        const std::size_t width = size.value_or(8);
        if (!size && !characters.empty() && v > 255)
          term_lexer::fail(value.offset, "character above 255 in a binary: add /utf8");
        // Sign bits beyond 64, then the low bits: two's complement of any width.
        if (width > 64) bits.append_repeated(v < 0 ? 1 : 0, width - 64);
        bits.append(static_cast<std::uint64_t>(v),
                    static_cast<unsigned>(std::min<std::size_t>(width, 64)));
      }
      const token separator = next();
      if (separator.is(">>")) return bits.finish();
      if (!separator.is(","))
        term_lexer::fail(separator.offset,
                         "expected ',' or '>>' in a binary, found " + describe(separator));
    }
  }

  term_lexer lexer_;
  Builder& builder_;
  std::optional<token> lookahead_;
};

}  // namespace beamline::detail
