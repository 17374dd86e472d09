// term_print_test: terms in Erlang syntax, checked against what erl prints.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "beamline/fun.hpp"
#include "beamline/term.hpp"
#include "erlang_floats.hpp"

namespace bl = beamline;

namespace {

using bl::term;

std::string bits_text(std::initializer_list<int> bytes, std::size_t bit_size) {
  std::vector<std::byte> data;
  for (int b : bytes) data.push_back(static_cast<std::byte>(b));
  return term::bitstring(data, bit_size).to_string();
}

TEST(term_print, scalars) {
  EXPECT_EQ(term(42).to_string(), "42");
  EXPECT_EQ(term(-42).to_string(), "-42");
  EXPECT_EQ(term(std::numeric_limits<std::int64_t>::min()).to_string(), "-9223372036854775808");
  EXPECT_EQ(term::integer_from_string("-123456789012345678901234567890").to_string(),
            "-123456789012345678901234567890");
  EXPECT_EQ(term(bl::atoms::ok).to_string(), "ok");
  EXPECT_EQ(term(bl::atoms::EXIT).to_string(), "'EXIT'");
  EXPECT_EQ(term(true).to_string(), "true");
  EXPECT_EQ(term::nil().to_string(), "[]");
  EXPECT_EQ(term::tuple().to_string(), "{}");
  EXPECT_EQ(term::map({}).to_string(), "#{}");
  EXPECT_EQ(term::binary("").to_string(), "<<>>");
}

TEST(term_print, floats_as_erlang_prints_them) {
  EXPECT_EQ(term(1.0).to_string(), "1.0");
  EXPECT_EQ(term(0.1).to_string(), "0.1");
  EXPECT_EQ(term(1.0e100).to_string(), "1.0e100");
  EXPECT_EQ(term(-0.0).to_string(), "-0.0");
  EXPECT_EQ(term(0.0).to_string(), "0.0");
  EXPECT_EQ(term(123456789.0).to_string(), "123456789.0");
  EXPECT_EQ(term(1.0e15).to_string(), "1.0e15");
  EXPECT_EQ(term(9007199254740992.0).to_string(), "9.007199254740992e15");
  EXPECT_EQ(term(0.0001).to_string(), "0.0001");
  EXPECT_EQ(term(0.000123).to_string(), "1.23e-4");
  EXPECT_EQ(term(3.0e5).to_string(), "3.0e5");
  EXPECT_EQ(term(100.0).to_string(), "100.0");
  EXPECT_EQ(term(5.0e-324).to_string(), "5.0e-324");
  EXPECT_EQ(term(1.7976931348623157e308).to_string(), "1.7976931348623157e308");
  for (const auto& example : beamline_test::erlang_floats) {
    double d;
    std::memcpy(&d, &example.bits, sizeof d);
    EXPECT_EQ(term(d).to_string(), example.printed) << std::hex << example.bits;
  }
}

TEST(term_print, tuples_lists_maps) {
  EXPECT_EQ(term::tuple(bl::atoms::ok, bl::pid{93, 0, 0, 0}).to_string(), "{ok,<0.93.0>}");
  EXPECT_EQ(term::list({1, 2, 3}).to_string(), "[1,2,3]");
  EXPECT_EQ(term::improper_list({1, 2}, 3).to_string(), "[1,2|3]");
  EXPECT_EQ(term::improper_list({bl::atom("a")}, bl::atom("b")).to_string(), "[a|b]");
  EXPECT_EQ(term::improper_list({1}, term::list({2, 3})).to_string(), "[1,2,3]");
  EXPECT_EQ(term::map({{bl::atom("a"), 1}}).to_string(), "#{a => 1}");
  // Map order: integers, then floats, then the rest in term order (from erl).
  EXPECT_EQ(
      term::map({{1.0, bl::atom("b")}, {2, bl::atom("a")}, {bl::atom("k"), term::list({1, 2})}})
          .to_string(),
      "#{2 => a,1.0 => b,k => [1,2]}");
  EXPECT_EQ(term::tuple(bl::atom("a"), term::string("b"), term::tuple(term::map({}), term::nil()))
                .to_string(),
            "{a,\"b\",{#{},[]}}");
}

TEST(term_print, printable_lists_are_strings) {
  EXPECT_EQ(term::string("abc").to_string(), "\"abc\"");
  EXPECT_EQ(term::list({97, 98}).to_string(), "\"ab\"");
  EXPECT_EQ(term::string("a\nb").to_string(), "\"a\\nb\"");
  EXPECT_EQ(term::string("\"q\"").to_string(), "\"\\\"q\\\"\"");
  EXPECT_EQ(term::string("\\").to_string(), "\"\\\\\"");
  EXPECT_EQ(term::string("'").to_string(), "\"'\"");
  EXPECT_EQ(term::list({8, 9, 10, 11, 12, 13, 27}).to_string(), "\"\\b\\t\\n\\v\\f\\r\\e\"");
  // Unicode text prints as a string (the ~tp rule).
  EXPECT_EQ(term::string("hλé").to_string(), "\"hλé\"");
  EXPECT_EQ(term::list({160}).to_string(), "\"\u00a0\"");
  // Not printable: numbers (from erl).
  EXPECT_EQ(term::list({7, 8, 9, 11, 12, 13}).to_string(), "[7,8,9,11,12,13]");
  EXPECT_EQ(term::list({97, 127}).to_string(), "[97,127]");
  EXPECT_EQ(term::list({0}).to_string(), "[0]");
  EXPECT_EQ(term::list({0x80}).to_string(), "[128]");
  EXPECT_EQ(term::list({0xD800}).to_string(), "[55296]");
  EXPECT_EQ(term::list({0x110000}).to_string(), "[1114112]");
  EXPECT_EQ(term::list({-1}).to_string(), "[-1]");
  EXPECT_EQ(term::improper_list({97, 98}, 99).to_string(), "[97,98|99]");
  EXPECT_EQ(term::list({97, bl::atom("b")}).to_string(), "[97,b]");
}

TEST(term_print, binaries_and_bitstrings) {
  EXPECT_EQ(term::binary("x").to_string(), "<<\"x\">>");
  EXPECT_EQ(term::binary("a\nb").to_string(), "<<\"a\\nb\">>");
  EXPECT_EQ(term::binary("\"q\\").to_string(), "<<\"\\\"q\\\\\">>");
  EXPECT_EQ(term::binary(std::string_view("\x01\x02\x03", 3)).to_string(), "<<1,2,3>>");
  EXPECT_EQ(term::binary("λ").to_string(), "<<\"λ\"/utf8>>");
  EXPECT_EQ(term::binary("h\xc3\xa9").to_string(), "<<\"hé\"/utf8>>");
  EXPECT_EQ(term::binary("\xc8\x89").to_string(), "<<\"ȉ\"/utf8>>");
  EXPECT_EQ(term::binary("\xc8\xc9").to_string(), "<<\"ÈÉ\">>");
  // Not UTF-8 but printable Latin-1: one character per byte, as Erlang prints it.
  EXPECT_EQ(term::binary("\xe9t\xe9").to_string(), "<<\"été\">>");
  EXPECT_EQ(term::binary("a\xc3\xa9\xc8").to_string(), "<<\"aÃ©È\">>");  // from erl
  EXPECT_EQ(term::binary("\xa0").to_string(), "<<\"\u00a0\">>");
  EXPECT_EQ(term::binary("\x7f").to_string(), "<<127>>");
  EXPECT_EQ(term::binary("\x85").to_string(), "<<133>>");
  EXPECT_EQ(term::binary("\x07").to_string(), "<<7>>");
  EXPECT_EQ(term::binary("\x08").to_string(), "<<\"\\b\">>");
  EXPECT_EQ(term::binary(std::string_view("a\0", 2)).to_string(), "<<97,0>>");
  EXPECT_EQ(bits_text({0x20}, 3), "<<1:3>>");
  EXPECT_EQ(bits_text({'a', 'b', 'c', 0x80}, 25), "<<97,98,99,1:1>>");
  EXPECT_EQ(bits_text({255, 0}, 9), "<<255,0:1>>");
}

TEST(term_print, identities_and_funs) {
  EXPECT_EQ(term(bl::pid{93, 0, 0, 0}).to_string(), "<0.93.0>");
  EXPECT_EQ(term(bl::pid{93, 0, bl::atom("n@h").index(), 1}).to_string(), "<1.93.0>");
  bl::ref r;
  r.length = 3;
  r.words = {3, 2, 1, 0, 0};
  EXPECT_EQ(term(r).to_string(), "#Ref<0.1.2.3>");
  EXPECT_EQ(term(bl::port{5, 0, 0}).to_string(), "#Port<0.5>");
  EXPECT_EQ(term::fun(bl::external_fun{bl::atom("lists"), bl::atom("map"), 2}).to_string(),
            "fun lists:map/2");
  EXPECT_EQ(term::fun(bl::external_fun{bl::atom("a b"), bl::atom("end"), 0}).to_string(),
            "fun 'a b':'end'/0");
  bl::local_fun f;
  f.module = bl::atom("erl_eval");
  f.old_index = 6;
  f.old_uniq = 3316493;
  EXPECT_EQ(term::fun(f).to_string(), "#Fun<erl_eval.6.3316493>");
}

TEST(term_print, stream_operator) {
  std::ostringstream out;
  out << term::tuple(bl::atoms::ok, 1);
  EXPECT_EQ(out.str(), "{ok,1}");
}

}  // namespace
