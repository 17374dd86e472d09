// term_cli: beamline-term's decode, encode and reencode (tools/term_cli.hpp) on inputs
// the fuzz target (fuzz/beamline_term_fuzz.cpp) found or checks: bad input is exit
// status 1 with one line on stderr, never an uncaught exception.
#include <gtest/gtest.h>

#include <string>

#include "term_cli.hpp"

namespace {

namespace cli = beamline::term_cli;

cli::arguments command(const char* name) {
  cli::arguments a;
  a.command = name;
  return a;
}

TEST(term_cli, encode_of_the_null_reference_is_an_input_error) {
  // #Ref<0> parses but has no external form: encoding threw badarg out of the tool.
  const cli::outcome o = cli::run(command("encode"), "#Ref<0>.\n");
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err,
            "beamline-term: the term cannot be encoded: the null reference (#Ref<0>) cannot be "
            "encoded\n");
}

TEST(term_cli, an_error_quoting_the_input_is_still_one_line) {
  // The parse error quotes an atom holding a newline (found by fuzz_beamline_term).
  const cli::outcome o = cli::run(command("encode"), "ok 'x\ny'");
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << o.err;
  EXPECT_NE(o.err.find("x\\ny"), std::string::npos) << o.err;
}

TEST(term_cli, encode_then_decode_gives_the_term_back) {
  const cli::outcome encoded = cli::run(command("encode"), "{ok, [1, <<\"x\">>], #{a => b}}.");
  ASSERT_EQ(encoded.status, 0) << encoded.err;
  const cli::outcome decoded = cli::run(command("decode"), encoded.out);
  EXPECT_EQ(decoded.status, 0) << decoded.err;
  EXPECT_EQ(decoded.out, "{ok,[1,<<\"x\">>],#{a => b}}\n");
}

TEST(term_cli, bad_input_is_status_1_with_one_line) {
  for (const char* name : {"decode", "reencode"}) {
    const cli::outcome o = cli::run(command(name), std::string("\x83\x64\x00", 3));
    EXPECT_EQ(o.status, 1) << name;
    EXPECT_EQ(o.out, "") << name;
    EXPECT_TRUE(o.err.starts_with("beamline-term: ")) << o.err;
    EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << o.err;
  }
  const cli::outcome o = cli::run(command("encode"), "{ok,");
  EXPECT_EQ(o.status, 1);
  EXPECT_TRUE(o.err.starts_with("beamline-term: parse error at offset 4")) << o.err;
}

}  // namespace
