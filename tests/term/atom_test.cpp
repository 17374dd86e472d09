// atom_test: interning, names, built-in atoms, order, quoting, and interning from
// many threads at once.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "beamline/atom.hpp"

namespace bl = beamline;

namespace {

TEST(atom, builtin_atoms_are_constexpr_with_fixed_indices) {
  static_assert(bl::atoms::undefined.index() == 0);
  static_assert(bl::atom().index() == 0);
  static_assert(bl::atoms::ok == bl::atom::builtin("ok"));
  static_assert(bl::atoms::ok != bl::atoms::error);
  static_assert(bl::atoms::EXIT.is_builtin());
  EXPECT_EQ(bl::atoms::undefined.name(), "undefined");
  EXPECT_EQ(bl::atoms::EXIT.name(), "EXIT");
  EXPECT_EQ(bl::atoms::DOWN.name(), "DOWN");
  EXPECT_EQ(bl::atoms::true_.name(), "true");
  EXPECT_EQ(bl::atoms::false_.name(), "false");
  EXPECT_EQ(bl::atoms::throw_.name(), "throw");
  EXPECT_EQ(bl::atoms::empty.name(), "");
  EXPECT_EQ(bl::atoms::nonode_at_nohost.name(), "nonode@nohost");
  EXPECT_EQ(bl::atoms::gen_call.name(), "$gen_call");
  EXPECT_EQ(bl::atoms::gen_cast.name(), "$gen_cast");
}

TEST(atom, interning_a_builtin_name_gives_the_builtin) {
  EXPECT_EQ(bl::atom("ok"), bl::atoms::ok);
  EXPECT_EQ(bl::atom("EXIT"), bl::atoms::EXIT);
  EXPECT_EQ(bl::atom(""), bl::atoms::empty);
  EXPECT_EQ(bl::atom("nonode@nohost"), bl::atoms::nonode_at_nohost);
}

TEST(atom, interning_is_idempotent) {
  const bl::atom a("atom_test_some_name");
  const bl::atom b(std::string("atom_test_some_") + "name");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.index(), b.index());
  EXPECT_EQ(a.name(), "atom_test_some_name");
  EXPECT_FALSE(a.is_builtin());
  EXPECT_NE(a, bl::atom("atom_test_other_name"));
}

TEST(atom, names_with_nul_and_unicode) {
  const std::string with_nul("a\0b", 3);
  const bl::atom nul(with_nul);
  EXPECT_EQ(nul.name(), with_nul);
  EXPECT_NE(nul, bl::atom("a"));
  const bl::atom lambda("λx");
  EXPECT_EQ(lambda.name(), "λx");
}

TEST(atom, rejects_invalid_utf8) {
  EXPECT_THROW(bl::atom("\xff"), std::invalid_argument);
  EXPECT_THROW(bl::atom("\xc0\x80"), std::invalid_argument);      // overlong NUL
  EXPECT_THROW(bl::atom("\xed\xa0\x80"), std::invalid_argument);  // a surrogate
  EXPECT_THROW(bl::atom("abc\xe2\x82"), std::invalid_argument);   // truncated
}

TEST(atom, length_limit_is_255_characters) {
  EXPECT_NO_THROW(bl::atom(std::string(255, 'a')));
  EXPECT_THROW(bl::atom(std::string(256, 'a')), std::invalid_argument);
  // Characters, not bytes: 255 two-byte characters are fine.
  std::string wide;
  for (int i = 0; i < 255; ++i) wide += "é";
  EXPECT_NO_THROW(bl::atom{wide});
  wide += "é";
  try {
    bl::atom{wide};
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("256 characters"), std::string::npos) << e.what();
  }
}

TEST(atom, existing_never_creates) {
  EXPECT_EQ(bl::atom::existing("ok"), bl::atoms::ok);
  EXPECT_FALSE(bl::atom::existing("atom_test_never_interned_anywhere").has_value());
  const bl::atom made("atom_test_existing");
  EXPECT_EQ(bl::atom::existing("atom_test_existing"), made);
  EXPECT_FALSE(bl::atom::existing("\xff").has_value());
}

TEST(atom, from_index) {
  const bl::atom a("atom_test_from_index");
  EXPECT_EQ(bl::atom::from_index(a.index()), a);
  EXPECT_EQ(bl::atom::from_index(0), bl::atoms::undefined);
  EXPECT_THROW(bl::atom::from_index(static_cast<std::uint32_t>(bl::atom::count()) + 1000),
               std::invalid_argument);
  EXPECT_THROW(bl::atom::from_index(0xFFFFFFFF), std::invalid_argument);
}

TEST(atom, order_is_by_name_bytewise) {
  const bl::atom b("atom_test_b");
  const bl::atom a("atom_test_a");  // interned after b: a higher index, a smaller name
  EXPECT_LT(a, b);
  EXPECT_GT(b, a);
  EXPECT_LT(bl::atoms::EXIT, bl::atoms::ok);  // 'E' < 'o'
  EXPECT_LT(bl::atoms::empty, bl::atoms::EXIT);
  EXPECT_LT(bl::atom("abc"), bl::atom("abcd"));
  EXPECT_LT(bl::atom("abcdefgh"), bl::atom("abcdefghi"));  // equal 8-byte prefixes
  EXPECT_LT(bl::atom("abcdefgh1"), bl::atom("abcdefgh2"));
  EXPECT_LT(bl::atom("z"), bl::atom("é"));  // bytewise UTF-8 is code point order
  EXPECT_LT(bl::atom("a"), bl::atom(std::string("a\0", 2)));
  EXPECT_EQ(bl::atom("same") <=> bl::atom("same"), std::strong_ordering::equal);
}

TEST(atom, quoting_follows_erlang) {
  EXPECT_EQ(bl::atoms::ok.to_string(), "ok");
  EXPECT_EQ(bl::atoms::EXIT.to_string(), "'EXIT'");
  EXPECT_EQ(bl::atoms::empty.to_string(), "''");
  EXPECT_EQ(bl::atoms::nonode_at_nohost.to_string(), "nonode@nohost");
  EXPECT_EQ(bl::atoms::gen_call.to_string(), "'$gen_call'");
  EXPECT_EQ(bl::atom("hello world").to_string(), "'hello world'");
  EXPECT_EQ(bl::atom("a@b").to_string(), "a@b");
  EXPECT_EQ(bl::atom("x_Y1").to_string(), "x_Y1");
  EXPECT_EQ(bl::atom("_x").to_string(), "'_x'");
  EXPECT_EQ(bl::atom("9a").to_string(), "'9a'");
  EXPECT_EQ(bl::atom("a.b").to_string(), "'a.b'");
  EXPECT_EQ(bl::atom("foo-bar").to_string(), "'foo-bar'");
  for (const char* reserved : {"and", "end", "receive", "fun", "when", "of", "maybe", "else"})
    EXPECT_EQ(bl::atom(reserved).to_string(), std::string("'") + reserved + "'");
  EXPECT_EQ(bl::atom("a'b").to_string(), "'a\\'b'");
  EXPECT_EQ(bl::atom("a\\b").to_string(), "'a\\\\b'");
  EXPECT_EQ(bl::atom("\n").to_string(), "'\\n'");
  EXPECT_EQ(bl::atom(std::string("\0", 1)).to_string(), "'\\000'");
  EXPECT_EQ(bl::atom("\x7f").to_string(), "'\\d'");
  EXPECT_EQ(bl::atom("\xc2\x80").to_string(), "'\\200'");
  // Latin-1 letters count as letters, as in Erlang; other characters need quotes.
  EXPECT_EQ(bl::atom("ßa").to_string(), "ßa");
  EXPECT_EQ(bl::atom("aÄ").to_string(), "aÄ");
  EXPECT_EQ(bl::atom("Ä").to_string(), "'Ä'");
  EXPECT_EQ(bl::atom("a×").to_string(), "'a×'");
  EXPECT_EQ(bl::atom("λ").to_string(), "'λ'");
  EXPECT_TRUE(bl::atom::needs_quotes("EXIT"));
  EXPECT_FALSE(bl::atom::needs_quotes("ok"));
}

TEST(atom, hash_is_by_index) {
  std::unordered_set<bl::atom> set{bl::atoms::ok, bl::atoms::error, bl::atom("ok")};
  EXPECT_EQ(set.size(), 2u);
}

TEST(atom, count_grows) {
  const std::size_t before = bl::atom::count();
  bl::atom("atom_test_count_" + std::to_string(before));
  EXPECT_EQ(bl::atom::count(), before + 1);
  EXPECT_LE(bl::atom::count(), bl::atom::max_count);
}

// Many threads intern overlapping names while others read names: every name gets one
// index, every index one name.
TEST(atom, concurrent_interning_from_many_threads) {
  constexpr int threads = 8;
  const int names = static_cast<int>(4000 * BEAMLINE_STRESS_SCALE) + 100;
  std::vector<std::vector<std::uint32_t>> seen(threads, std::vector<std::uint32_t>(names));
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      // Each thread walks all the names from its own starting point, half of them
      // backwards, so that threads race on the same new names.
      for (int k = 0; k < names; ++k) {
        const int rotated = (k + t * 97) % names;
        const int i = t % 2 == 0 ? rotated : names - 1 - rotated;
        const bl::atom a("concurrent_atom_" + std::to_string(i));
        seen[t][i] = a.index();
        EXPECT_EQ(a.name(), "concurrent_atom_" + std::to_string(i));
        // Read back an earlier atom through a lock-free lookup.
        EXPECT_EQ(bl::atom::from_index(seen[t][i]).name(), a.name());
      }
    });
  }
  go = true;
  for (auto& w : workers) w.join();
  std::set<std::uint32_t> distinct;
  for (int i = 0; i < names; ++i) {
    for (int t = 1; t < threads; ++t) ASSERT_EQ(seen[t][i], seen[0][i]) << "name " << i;
    distinct.insert(seen[0][i]);
  }
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(names));
}

}  // namespace
