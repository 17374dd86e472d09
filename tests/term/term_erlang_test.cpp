// term_erlang_test: checks printing, reading and order against a real Erlang node.
//
// Random terms are printed by us and read by Erlang (file:consult), which prints
// each one back (io_lib:format("~tp") with +pc unicode, on one line), sorts them,
// and compares neighbours with =:= and ==. Our text, sort order and equalities must
// be Erlang's exactly. Skipped when `erl` is not installed (scripts/deps.sh installs
// it). The generator leaves out what Erlang's reader cannot read (pids, ports, refs)
// and what Erlang 25 treats differently from OTP 27, which we follow: -0.0, and the
// reserved words maybe and else. Erlang also prints fun lists:'end'/1 without the
// quotes, which does not read back; we keep them (docs/terms.md).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "beamline/term.hpp"
#include "term_generator.hpp"

namespace bl = beamline;

namespace {

using bl::term;

bool erl_available() {
  return std::system("command -v erl >/dev/null 2>&1") == 0;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(term_erlang, erlang_reads_prints_sorts_and_compares_like_us) {
  if (!erl_available()) GTEST_SKIP() << "erl is not installed";
  beamline_test::generator_options options;
  options.identities = false;
  options.negative_zero = false;
  options.new_reserved = false;
  options.reserved_functions = false;
  beamline_test::term_generator generate(4242, options);
  std::vector<term> terms;
  const int count = static_cast<int>(1500 * BEAMLINE_STRESS_SCALE) + 100;
  for (int i = 0; i < count; ++i) {
    terms.push_back(generate.any(4));
    terms.push_back(generate.variant_of(terms.back()));
  }

  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("beamline_term_erlang_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string input = (dir / "terms.txt").string();
  const std::string output = (dir / "erlang.txt").string();
  {
    std::ofstream out(input, std::ios::binary);
    for (const term& t : terms) out << t.to_string() << ".\n";
  }
  const std::string script =
      "{ok, Ts} = file:consult(\"" + input +
      "\"),"
      "Printed = [[io_lib:format(\"~*tp\", [100000000, T]), 10] || T <- Ts],"
      "Sorted = [integer_to_list(I) || {_, I} <- lists:sort(lists:zip(Ts, lists:seq(0, length(Ts) "
      "- 1)))],"
      "Pairs = lists:zip(lists:droplast(Ts), tl(Ts)),"
      "Exact = [case A =:= B of true -> $1; false -> $0 end || {A, B} <- Pairs],"
      "Arith = [case A == B of true -> $1; false -> $0 end || {A, B} <- Pairs],"
      "ok = file:write_file(\"" +
      output +
      "\", unicode:characters_to_binary("
      "[Printed, lists:join($,, Sorted), 10, Exact, 10, Arith, 10])),"
      "halt().";
  const std::string command =
      "erl -noshell +pc unicode -eval '" + script + "' > " + (dir / "log.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << "erl failed; see " << (dir / "log.txt").string();
  std::ifstream in(output, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<std::string> lines = lines_of(text);
  ASSERT_EQ(lines.size(), terms.size() + 3);

  // Erlang prints each term as we do.
  for (std::size_t i = 0; i < terms.size(); ++i)
    EXPECT_EQ(lines[i], terms[i].to_string()) << "term " << i;

  // Erlang sorts them as compare() does (ties in input order, as sorting {T, I} does).
  std::vector<std::size_t> order(terms.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return bl::compare(terms[a], terms[b]) < 0;
  });
  std::string ours;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i > 0) ours += ',';
    ours += std::to_string(order[i]);
  }
  EXPECT_EQ(lines[terms.size()], ours);

  // =:= is our ==, and == is our equal_numeric, on neighbours (each term is followed
  // by a variant built to be equal or numerically equal).
  std::string exact;
  std::string arithmetic;
  for (std::size_t i = 0; i + 1 < terms.size(); ++i) {
    exact += terms[i] == terms[i + 1] ? '1' : '0';
    arithmetic += bl::equal_numeric(terms[i], terms[i + 1]) ? '1' : '0';
  }
  EXPECT_EQ(lines[terms.size() + 1], exact);
  EXPECT_EQ(lines[terms.size() + 2], arithmetic);
  std::filesystem::remove_all(dir);
}

}  // namespace
