// term_parse_test: reading Erlang term syntax, and the errors for bad input.
#include <gtest/gtest.h>

#include "beamline/fun.hpp"
#include "beamline/term.hpp"

namespace bl = beamline;

namespace {

using bl::term;

// The parse_error that parsing `text` throws.
bl::parse_error error_of(std::string_view text) {
  try {
    term::parse(text);
  } catch (const bl::parse_error& e) {
    return e;
  }
  return bl::parse_error(0, "(no error)");
}

TEST(term_parse, atoms) {
  EXPECT_EQ(term::parse("ok"), bl::atoms::ok);
  EXPECT_EQ(term::parse("'EXIT'"), bl::atoms::EXIT);
  EXPECT_EQ(term::parse("''"), bl::atoms::empty);
  EXPECT_EQ(term::parse("nonode@nohost"), bl::atoms::nonode_at_nohost);
  EXPECT_EQ(term::parse("'hello world'"), bl::atom("hello world"));
  EXPECT_EQ(term::parse("'a\\'b'"), bl::atom("a'b"));
  EXPECT_EQ(term::parse("'\\n\\t\\s\\e\\d\\^A\\101\\x41\\x{3bb}'"), bl::atom("\n\t \x1b\x7f\x01"
                                                                             "AAλ"));
  EXPECT_EQ(term::parse("'end'"), bl::atom("end"));
  EXPECT_EQ(term::parse("ßa"), bl::atom("ßa"));
  EXPECT_EQ(term::parse("a@b_C9"), bl::atom("a@b_C9"));
  EXPECT_EQ(term::parse("true"), term(true));
}

TEST(term_parse, integers) {
  EXPECT_EQ(term::parse("42"), 42);
  EXPECT_EQ(term::parse("-42"), -42);
  EXPECT_EQ(term::parse("- 42"), -42);
  EXPECT_EQ(term::parse("+7"), 7);
  EXPECT_EQ(term::parse("1_000_000"), 1000000);
  EXPECT_EQ(term::parse("16#ff"), 255);
  EXPECT_EQ(term::parse("16#FF_FF"), 65535);
  EXPECT_EQ(term::parse("2#101"), 5);
  EXPECT_EQ(term::parse("-16#10"), -16);
  EXPECT_EQ(term::parse("36#zz"), 1295);
  EXPECT_EQ(term::parse("$a"), 97);
  EXPECT_EQ(term::parse("$\\n"), 10);
  EXPECT_EQ(term::parse("$\\\\"), 92);
  EXPECT_EQ(term::parse("$\\s"), 32);
  EXPECT_EQ(term::parse("$ "), 32);
  EXPECT_EQ(term::parse("$λ"), 955);
  EXPECT_EQ(term::parse("$\\^A"), 1);
  EXPECT_EQ(term::parse("-9223372036854775808"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(term::parse("123456789012345678901234567890"),
            term::integer_from_string("123456789012345678901234567890"));
  EXPECT_EQ(term::parse("-123456789012345678901234567890"),
            term::integer_from_string("-123456789012345678901234567890"));
  EXPECT_EQ(term::parse("16#10000000000000000"), term::integer_from_string("18446744073709551616"));
}

TEST(term_parse, floats) {
  EXPECT_EQ(term::parse("1.0"), 1.0);
  EXPECT_EQ(term::parse("0.1"), 0.1);
  EXPECT_EQ(term::parse("1.0e100"), 1.0e100);
  EXPECT_EQ(term::parse("1.0E-5"), 1.0e-5);
  EXPECT_EQ(term::parse("2.5e+3"), 2500.0);
  EXPECT_EQ(term::parse("-0.0"), term(-0.0));
  EXPECT_EQ(term::parse("1_000.5"), 1000.5);
  EXPECT_EQ(term::parse("5.0e-324"), 5.0e-324);
  EXPECT_EQ(error_of("1.0e400").problem(), "float out of range: 1.0e400");
}

TEST(term_parse, strings_and_binaries) {
  EXPECT_EQ(term::parse("\"abc\""), term::string("abc"));
  EXPECT_EQ(term::parse("\"\""), term::nil());
  EXPECT_EQ(term::parse("\"ab\" \"cd\""), term::string("abcd"));
  EXPECT_EQ(term::parse("\"a\\\"b\""), term::string("a\"b"));
  EXPECT_EQ(term::parse("\"hλ\""), term::list({104, 955}));
  EXPECT_EQ(term::parse("<<>>"), term::binary(""));
  EXPECT_EQ(term::parse("<<\"x\">>"), term::binary("x"));
  EXPECT_EQ(term::parse("<<1,2,3>>"), term::binary(std::string_view("\x01\x02\x03", 3)));
  EXPECT_EQ(term::parse("<< 1 , 2 >>"), term::binary(std::string_view("\x01\x02", 2)));
  EXPECT_EQ(term::parse("<<\"λ\"/utf8>>"), term::binary("λ"));
  EXPECT_EQ(term::parse("<<955/utf8>>"), term::binary("λ"));
  EXPECT_EQ(term::parse("<<\"ab\", \"c\">>"), term::binary("abc"));
  EXPECT_EQ(term::parse("<<$a, $b>>"), term::binary("ab"));
  EXPECT_EQ(term::parse("<<-1>>"), term::binary("\xff"));
  EXPECT_EQ(term::parse("<<256:16>>"), term::binary(std::string_view("\x01\x00", 2)));
  EXPECT_EQ(term::parse("<<1:16/big-unsigned-integer>>"),
            term::binary(std::string_view("\x00\x01", 2)));
  EXPECT_EQ(term::parse("<<-1:72>>"), term::binary(std::string(9, '\xff')));
  EXPECT_EQ(term::parse("<<1:3>>").to_string(), "<<1:3>>");
  EXPECT_EQ(term::parse("<<97,98,99,1:1>>").bit_size(), 25u);
  EXPECT_EQ(term::parse("<<0:0>>"), term::binary(""));
  EXPECT_EQ(error_of("<<\"λ\">>").problem(), "character above 255 in a binary: add /utf8");
  EXPECT_EQ(error_of("<<1.5>>").problem(),
            "expected an integer or a string in a binary, found number 1.5");
  EXPECT_EQ(error_of("<<1/float>>").problem(), "unsupported binary segment type atom 'float'");
  EXPECT_EQ(error_of("<<1:8/utf8>>").problem(), "a utf8 segment takes no size");
}

TEST(term_parse, wide_binary_segments_fill_whole_bytes_fast) {
  // A segment may be 2^24 bits wide; its sign bits were appended one at a time, so a
  // few such segments in a short text took seconds (found by fuzz_term_parse).
  const term wide = term::parse("<<-1:16777216, 0:16777216, 5:16777216>>");
  const std::string_view bytes = wide.as_binary();
  ASSERT_EQ(bytes.size(), std::size_t{3} << 21);
  EXPECT_EQ(bytes.find_first_not_of('\xff'), std::size_t{1} << 21);
  EXPECT_EQ(bytes.substr(std::size_t{1} << 21).find_first_not_of('\0'),
            bytes.size() - (std::size_t{1} << 21) - 1);
  EXPECT_EQ(bytes.back(), '\x05');
  // Unaligned: 3 bits, then -1 in 70 bits (6 sign bits beyond 64).
  const std::byte expected[] = {std::byte{0x3f}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
                                std::byte{0xff}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
                                std::byte{0xff}, std::byte{0x80}};
  EXPECT_EQ(term::parse("<<1:3, -1:70>>"), term::bitstring(expected, 73));
  const std::byte zeros[9] = {};
  EXPECT_EQ(term::parse("<<0:67>>"), term::bitstring(zeros, 67));
}

TEST(term_parse, containers) {
  EXPECT_EQ(term::parse("{}"), term::tuple());
  EXPECT_EQ(term::parse("{ok, 1}"), term::tuple(bl::atoms::ok, 1));
  EXPECT_EQ(term::parse("{ { } , [ ] , #{ } }"),
            term::tuple(term::tuple(), term::nil(), term::map({})));
  EXPECT_EQ(term::parse("[]"), term::nil());
  EXPECT_EQ(term::parse("[1,2,3]"), term::list({1, 2, 3}));
  EXPECT_EQ(term::parse("[a|b]"), term::improper_list({bl::atom("a")}, bl::atom("b")));
  EXPECT_EQ(term::parse("[1,2|[3]]"), term::list({1, 2, 3}));
  EXPECT_EQ(term::parse("[1|[]]"), term::list({1}));
  EXPECT_EQ(term::parse("#{a => 1, 1.0 => b}"),
            term::map({{bl::atom("a"), 1}, {1.0, bl::atom("b")}}));
  EXPECT_EQ(term::parse("#{a => 1, a => 2}"), term::map({{bl::atom("a"), 2}}));
  EXPECT_EQ(term::parse("#{{k} => [v]}"),
            term::map({{term::tuple(bl::atom("k")), term::list({bl::atom("v")})}}));
}

TEST(term_parse, identities_and_funs) {
  EXPECT_EQ(term::parse("<0.93.0>"), term(bl::pid{93, 0, 0, 0}));
  EXPECT_EQ(term::parse("<0.1.2>").as_pid(), (bl::pid{1, 2, 0, 0}));
  bl::ref r;
  r.length = 3;
  r.words = {3, 2, 1, 0, 0};
  EXPECT_EQ(term::parse("#Ref<0.1.2.3>"), term(r));
  EXPECT_EQ(term::parse("#Port<0.5>"), term(bl::port{5, 0, 0}));
  EXPECT_EQ(term::parse(term(bl::ref{}).to_string()), term(bl::ref{}));  // the null reference
  bl::ref five;
  five.length = 5;
  five.words = {1, 2, 3, 4, 5};
  EXPECT_EQ(term::parse("#Ref<0.5.4.3.2.1>"), term(five));
  EXPECT_EQ(term::parse("fun lists:map/2"),
            term::fun(bl::external_fun{bl::atom("lists"), bl::atom("map"), 2}));
  EXPECT_EQ(term::parse("fun 'a b':'end'/0"),
            term::fun(bl::external_fun{bl::atom("a b"), bl::atom("end"), 0}));
  EXPECT_EQ(error_of("<1.2.3>").offset(), 1u);
  EXPECT_NE(error_of("<1.2.3>").problem().find("only local identities"), std::string::npos);
  EXPECT_NE(error_of("#Fun<erl_eval.6.3316493>").problem().find("does not read back"),
            std::string::npos);
  EXPECT_NE(error_of("fun lists:map/256").problem().find("arity"), std::string::npos);
  EXPECT_NE(error_of("#Ref<0.1.2.3.4.5.6>").problem().find("at most 5 words"), std::string::npos);
}

TEST(term_parse, whitespace_comments_and_final_dot) {
  EXPECT_EQ(term::parse("  {ok,\n\t1}  "), term::tuple(bl::atoms::ok, 1));
  EXPECT_EQ(term::parse("{ok, 1}."), term::tuple(bl::atoms::ok, 1));
  EXPECT_EQ(term::parse("{ok, 1} .\n"), term::tuple(bl::atoms::ok, 1));
  EXPECT_EQ(term::parse("% a comment\n[1, % one\n 2]"), term::list({1, 2}));
  EXPECT_EQ(term::parse("1."), 1);
}

TEST(term_parse, errors_say_where_and_what) {
  const bl::parse_error unclosed = error_of("{a, b");
  EXPECT_EQ(unclosed.offset(), 5u);
  EXPECT_EQ(unclosed.problem(), "expected ',' or '}', found the end of the input");
  EXPECT_STREQ(unclosed.what(),
               "parse error at offset 5: expected ',' or '}', found the end of the input");
  EXPECT_EQ(error_of("").problem(), "expected a term, found the end of the input");
  EXPECT_EQ(error_of("{a b}").offset(), 3u);
  EXPECT_EQ(error_of("[1 2]").problem(), "expected ',', '|' or ']', found number 2");
  EXPECT_EQ(error_of("[1|2|3]").problem(), "expected ']' after the tail of a list, found '|'");
  EXPECT_EQ(error_of("{ok} x").problem(), "unexpected atom 'x' after the term");
  EXPECT_EQ(error_of("X").problem(),
            "variable X in a term: variables are only allowed in patterns");
  EXPECT_EQ(error_of("{_}").offset(), 1u);
  EXPECT_EQ(error_of("end").problem(),
            "'end' is a reserved word: write it in quotes to make it an atom");
  EXPECT_EQ(error_of("'abc").problem(), "unterminated quoted atom");
  EXPECT_EQ(error_of("\"abc").problem(), "unterminated string");
  EXPECT_EQ(error_of("#{a, b}").problem(), "expected '=>' after a map key, found ','");
  EXPECT_EQ(error_of("#{a := b}").problem(), "expected '=>' after a map key, found ':='");
  EXPECT_EQ(error_of("1e10").offset(), 1u);
  EXPECT_EQ(error_of("37#1").problem(), "integer base must be 2..36, got 37");
  EXPECT_EQ(error_of("16#").problem(), "expected digits in base 16");
  EXPECT_EQ(error_of("- a").problem(), "expected a number after '-', found atom 'a'");
  EXPECT_EQ(error_of("@").problem(), "unexpected character '@'");
  EXPECT_EQ(error_of("\xff").problem(), "invalid UTF-8");
  EXPECT_EQ(error_of("'\\x{110000}'").problem(), "escape is not a Unicode character");
  EXPECT_NE(error_of(std::string("'") + std::string(256, 'a') + "'").problem().find("too long"),
            std::string::npos);
  // A parse_error is a std::invalid_argument.
  EXPECT_THROW(term::parse("{"), std::invalid_argument);
}

TEST(term_parse, deep_nesting_is_read_without_recursion) {
  const int depth = static_cast<int>(200000 * BEAMLINE_STRESS_SCALE) + 1000;
  const std::string text = std::string(depth, '{') + std::string(depth, '}');
  const term t = term::parse(text);
  const term* inner = &t;
  int levels = 0;
  while (inner->is_tuple() && inner->size() == 1) {
    inner = &inner->element(0);
    ++levels;
  }
  EXPECT_EQ(levels, depth - 1);
  EXPECT_EQ(*inner, term::tuple());
  const bl::parse_error unbalanced = error_of(std::string(depth, '['));
  EXPECT_EQ(unbalanced.offset(), static_cast<std::size_t>(depth));
}

}  // namespace
