// term_order_test: Erlang's term order and equality (==, =:=), the total order of
// <=>, map-key order, and hashing, including properties over random terms.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "beamline/fun.hpp"
#include "beamline/term.hpp"
#include "term_generator.hpp"

namespace bl = beamline;

namespace {

using bl::term;

bl::local_fun closure(const char* module, std::uint32_t old_index, std::uint32_t old_uniq,
                      std::vector<term> free = {}) {
  bl::local_fun f;
  f.module = bl::atom(module);
  f.old_index = old_index;
  f.old_uniq = old_uniq;
  f.free_variables = std::move(free);
  return f;
}

// Strictly increasing in both Erlang's order and the total order.
void expect_increasing(const std::vector<term>& terms) {
  for (std::size_t i = 0; i + 1 < terms.size(); ++i) {
    EXPECT_LT(terms[i], terms[i + 1]) << terms[i] << " < " << terms[i + 1];
    EXPECT_EQ(bl::compare(terms[i], terms[i + 1]), std::weak_ordering::less)
        << terms[i] << " < " << terms[i + 1];
    EXPECT_GT(terms[i + 1], terms[i]);
  }
}

TEST(term_order, kinds_in_erlang_order) {
  // number < atom < reference < fun < port < pid < tuple < map < [] < list < bitstring
  expect_increasing({
      term::integer_from_string("99999999999999999999999999"),
      bl::atoms::empty,
      bl::ref::local(1),
      term::fun(closure("m", 0, 0)),
      term::fun(bl::external_fun{bl::atom("a"), bl::atom("b"), 0}),
      bl::port{1, 0, 0},
      bl::pid{1, 0, 0, 0},
      term::tuple(),
      term::tuple(1, 2, 3, 4, 5, 6, 7),
      term::map({}),
      term::nil(),
      term::list({1}),
      term::binary(""),
  });
}

TEST(term_order, integers_and_floats_compare_by_exact_value) {
  expect_increasing({
      term::integer_from_string("-100000000000000000000"),
      -1.0e19,
      std::numeric_limits<std::int64_t>::min(),
      -1.5,
      -1,
      0,
      0.5,
      1,
      1.5,
      9007199254740992.0,  // 2^53
      9007199254740993,    // 2^53 + 1, not representable as a double
      9007199254740994.0,  // 2^53 + 2
      std::numeric_limits<std::int64_t>::max(),
      9223372036854775808.0,  // 2^63
      term::integer_from_string("9223372036854775809"),
      1.0e19,
      term::integer_from_string("100000000000000000000"),
      1.0e300,
  });
  // Big integers against floats of equal value.
  const term two_to_64 = term::integer_from_string("18446744073709551616");
  EXPECT_TRUE(bl::equal_numeric(two_to_64, 18446744073709551616.0));
  EXPECT_NE(two_to_64, term(18446744073709551616.0));
  EXPECT_TRUE(bl::equal_numeric(term::integer_from_string("-18446744073709551616"),
                                -18446744073709551616.0));
  EXPECT_EQ(bl::compare(term::integer_from_string("18446744073709551617"), 18446744073709551616.0),
            std::weak_ordering::greater);
}

TEST(term_order, one_and_one_point_zero) {
  const term one(1);
  const term one_float(1.0);
  // Exact equality: different terms.
  EXPECT_NE(one, one_float);
  // Erlang's ==: equal.
  EXPECT_TRUE(bl::equal_numeric(one, one_float));
  EXPECT_EQ(bl::compare(one, one_float), std::weak_ordering::equivalent);
  // The total order puts the integer first.
  EXPECT_LT(one, one_float);
  EXPECT_EQ(one <=> one_float, std::strong_ordering::less);
  // Inside containers too.
  EXPECT_NE(term::tuple(1), term::tuple(1.0));
  EXPECT_TRUE(bl::equal_numeric(term::tuple(1), term::tuple(1.0)));
  EXPECT_TRUE(bl::equal_numeric(term::list({1, 2}), term::list({1.0, 2.0})));
  EXPECT_LT(term::tuple(1, 5), term::tuple(1.0, 0));  // decided by the tie-break, first
  EXPECT_EQ(bl::compare(term::tuple(1, 5), term::tuple(1.0, 0)), std::weak_ordering::greater);
  // Improper tails compare with == too.
  EXPECT_TRUE(bl::equal_numeric(term::improper_list({1}, 2), term::improper_list({1}, 2.0)));
}

TEST(term_order, negative_zero) {
  EXPECT_NE(term(0.0), term(-0.0));  // distinct under =:= (OTP 27)
  EXPECT_TRUE(bl::equal_numeric(0.0, -0.0));
  EXPECT_LT(term(-0.0), term(0.0));
  EXPECT_LT(term(0), term(-0.0));  // integer first among equal numbers
  EXPECT_NE(term(0.0).hash(), term(-0.0).hash());
}

TEST(term_order, atoms_by_name) {
  expect_increasing(
      {bl::atoms::empty, bl::atom("Zebra"), bl::atom("a"), bl::atom("aa"), bl::atom("b")});
}

TEST(term_order, tuples_by_size_then_elements) {
  expect_increasing({term::tuple(), term::tuple(9), term::tuple(1, 2), term::tuple(1, 3),
                     term::tuple(2, 0), term::tuple(0, 0, 0)});
}

TEST(term_order, lists_element_by_element_then_tails) {
  // From erl: [] < [a|b] < [a] < [a,b]; [a|b] < [a,b]; [a|c] > [a|b].
  const term a = bl::atom("a");
  const term b = bl::atom("b");
  const term c = bl::atom("c");
  expect_increasing({term::nil(), term::improper_list({a}, b), term::list({a}), term::list({a, b}),
                     term::list({b})});
  EXPECT_LT(term::improper_list({a}, b), term::list({a, b}));
  EXPECT_GT(term::improper_list({a}, c), term::improper_list({a}, b));
  // A list whose tail is a bitstring ends after one that continues.
  EXPECT_GT(term::improper_list({1}, term::binary("")), term::list({1, 2}));
  EXPECT_LT(term::improper_list({1}, 5), term::list({1, 2}));
  // Chunking does not matter.
  EXPECT_EQ(term::improper_list({1, 2}, term::list({3})), term::cons(1, term::list({2, 3})));
  EXPECT_EQ(term::list({1, 2, 3}).tail(), term::list({2, 3}));
}

TEST(term_order, maps_by_size_then_keys_then_values) {
  const term a = bl::atom("a");
  const term b = bl::atom("b");
  expect_increasing({term::map({}), term::map({{b, 1}}), term::map({{a, 1}, {b, 1}}),
                     term::map({{a, 1}, {b, 2}}), term::map({{a, 2}, {b, 0}}),
                     term::map({{a, 0}, {b, 0}, {bl::atom("c"), 0}})});
  // Keys compare in map-key order, where every integer is before every float
  // (from erl: #{2 => a} < #{1.0 => a}, #{1 => a} < #{1.0 => a}, #{1 => a} /= #{1.0 => a}).
  EXPECT_LT(term::map({{2, a}}), term::map({{1.0, a}}));
  EXPECT_EQ(bl::compare(term::map({{2, a}}), term::map({{1.0, a}})), std::weak_ordering::less);
  EXPECT_FALSE(bl::equal_numeric(term::map({{1, a}}), term::map({{1.0, a}})));
  // Values compare in the usual order (from erl: #{a => 1} == #{a => 1.0}, and
  // #{a => 2} > #{a => 1.0}).
  EXPECT_TRUE(bl::equal_numeric(term::map({{a, 1}}), term::map({{a, 1.0}})));
  EXPECT_NE(term::map({{a, 1}}), term::map({{a, 1.0}}));
  EXPECT_GT(term::map({{a, 2}}), term::map({{a, 1.0}}));
  // Keys nested in keys use key order too: {2} before {1.0}.
  const term nested_keys = term::map({{term::tuple(1.0), 0}, {term::tuple(2), 0}});
  std::vector<term> keys;
  for (auto [key, value] : nested_keys.as_map()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<term>{term::tuple(2), term::tuple(1.0)}));
}

TEST(term_order, bitstrings_bit_by_bit_then_length) {
  // The order erl sorts these in.
  const auto bits = [](std::initializer_list<int> bytes, std::size_t bit_size) {
    std::vector<std::byte> data;
    for (int b : bytes) data.push_back(static_cast<std::byte>(b));
    return term::bitstring(data, bit_size);
  };
  expect_increasing({term::binary(""), bits({0x00}, 1), bits({1}, 8), bits({1, 2}, 16),
                     bits({0x02}, 7), bits({0x80}, 1), bits({128}, 8), bits({255, 0x00}, 9)});
}

TEST(term_order, pids_ports_refs) {
  // Pids: serial before id (from erl: <0.6.0> < <0.5.1>).
  EXPECT_LT(term(bl::pid{6, 0, 0, 0}), term(bl::pid{5, 1, 0, 0}));
  EXPECT_LT(term(bl::port{1, 0, 0}), term(bl::port{2, 0, 0}));
  // References: their words as one number, most significant first.
  bl::ref small_ref;
  small_ref.length = 3;
  small_ref.words = {9, 0, 1, 0, 0};
  bl::ref big_ref;
  big_ref.length = 3;
  big_ref.words = {0, 0, 2, 0, 0};
  EXPECT_LT(term(small_ref), term(big_ref));
  bl::ref short_ref;
  short_ref.length = 1;
  short_ref.words[0] = 9;
  bl::ref padded = short_ref;
  padded.length = 3;  // the same number, more words
  EXPECT_TRUE(bl::equal_numeric(short_ref, padded));
  EXPECT_NE(term(short_ref), term(padded));
  EXPECT_LT(term(short_ref), term(padded));
}

TEST(term_order, remote_identities_order_by_node_name) {
  const std::uint32_t alpha = bl::atom("alpha@host").index();
  const std::uint32_t zulu = bl::atom("zulu@host").index();
  const term on_alpha(bl::pid{1, 0, alpha, 1});
  const term on_zulu(bl::pid{1, 0, zulu, 1});
  const term local(bl::pid{1, 0, 0, 0});
  EXPECT_LT(on_alpha, on_zulu);
  // This node is 'nonode@nohost' until it joins a cluster: between the two.
  EXPECT_LT(on_alpha, local);
  EXPECT_LT(local, on_zulu);
  bl::set_local_node_identity(bl::atom("aaa@host"), 1);
  EXPECT_LT(local, on_alpha);
  bl::set_local_node_identity(bl::atom("zzzz@host"), 1);
  EXPECT_GT(local, on_zulu);
  // Same name and creation as this node: still a different term, after the local one.
  const term same_node(bl::pid{1, 0, bl::atom("zzzz@host").index(), 1});
  EXPECT_NE(local, same_node);
  EXPECT_LT(local, same_node);
  bl::set_local_node_identity(bl::atoms::nonode_at_nohost, 0);
  // Creation orders remote nodes of one name.
  EXPECT_LT(term(bl::pid{1, 1, alpha, 1}), term(bl::pid{1, 1, alpha, 2}));
  // Pids compare serial and number before the node (from erl, OTP 25: sorting
  // <a@host.740.2>, <b@test.908.0>, <a@host.5.1>, <b@test.5.1> gives
  // <b@test.908.0>, <a@host.5.1>, <b@test.5.1>, <a@host.740.2>); ports and refs do not.
  const std::uint32_t b_test = bl::atom("b@test").index();
  const std::uint32_t a_host = bl::atom("a@host").index();
  expect_increasing({term(bl::pid{908, 0, b_test, 7}), term(bl::pid{5, 1, a_host, 1}),
                     term(bl::pid{5, 1, b_test, 7}), term(bl::pid{740, 2, a_host, 1})});
  EXPECT_LT(term(bl::pid{9, 9, zulu, 1}), term(bl::pid{1, 10, alpha, 1}));
  EXPECT_LT(term(bl::port{9, alpha, 1}), term(bl::port{1, zulu, 1}));
  bl::ref remote_ref = bl::ref::local(5);
  remote_ref.node = zulu;
  EXPECT_GT(term(remote_ref), term(bl::ref::local(5)));
}

TEST(term_order, funs) {
  const term local_a = term::fun(closure("t", 0, 5));
  const term local_b = term::fun(closure("t", 1, 5));
  const term local_env_1 = term::fun(closure("t", 1, 5, {1}));
  const term local_env_2 = term::fun(closure("t", 1, 5, {2}));
  const term export_ab0 = term::fun(bl::external_fun{bl::atom("a"), bl::atom("b"), 0});
  const term export_filter = term::fun(bl::external_fun{bl::atom("lists"), bl::atom("filter"), 2});
  const term export_map = term::fun(bl::external_fun{bl::atom("lists"), bl::atom("map"), 2});
  // The order erl sorts them in: local funs first, then exports by module, name, arity.
  expect_increasing(
      {local_a, local_b, local_env_1, local_env_2, export_ab0, export_filter, export_map});
  EXPECT_TRUE(
      bl::equal_numeric(term::fun(closure("t", 1, 5, {1})), term::fun(closure("t", 1, 5, {1.0}))));
  bl::local_fun other_uniq = closure("t", 1, 5, {1});
  other_uniq.uniq[0] = 1;
  EXPECT_NE(term::fun(other_uniq), local_env_1);
}

TEST(term_order, sorting_matches_erlang_sort) {
  // lists:sort([[], [a], [a|b], [a,b], {}, {a}, #{}, <<>>, a, 1, 1.0]) in erl gives
  // [1,1.0,a,{},{a},#{},[],[a|b],[a],[a,b],<<>>] (1 and 1.0 are equal there; the
  // total order puts 1 first).
  std::vector<term> terms = {term::nil(),
                             term::list({bl::atom("a")}),
                             term::improper_list({bl::atom("a")}, bl::atom("b")),
                             term::list({bl::atom("a"), bl::atom("b")}),
                             term::tuple(),
                             term::tuple(bl::atom("a")),
                             term::map({}),
                             term::binary(""),
                             bl::atom("a"),
                             1.0,
                             1};
  std::sort(terms.begin(), terms.end());
  EXPECT_EQ(term::list(terms).to_string(), "[1,1.0,a,{},{a},#{},[],[a|b],[a],[a,b],<<>>]");
}

// Properties over random terms: <=> is a strict total order consistent with == and
// hashing; compare() is a weak order that <=> refines.
TEST(term_order, random_terms_obey_order_laws) {
  beamline_test::term_generator generate(2024);
  const int count = static_cast<int>(400 * BEAMLINE_STRESS_SCALE) + 40;
  std::vector<term> terms;
  for (int i = 0; i < count; ++i) {
    terms.push_back(generate.any(4));
    // Near-duplicates: numerically equal numbers, equal copies built differently.
    terms.push_back(generate.variant_of(terms.back()));
  }
  for (const term& a : terms) {
    EXPECT_EQ(a, a);
    EXPECT_EQ(a <=> a, std::strong_ordering::equal);
    for (const term& b : terms) {
      const auto total = a <=> b;
      const auto arithmetic = bl::compare(a, b);
      ASSERT_EQ(total == 0, a == b) << a << " vs " << b;
      ASSERT_EQ(b <=> a, 0 <=> total) << a << " vs " << b;
      ASSERT_EQ(bl::compare(b, a), 0 <=> arithmetic) << a << " vs " << b;
      if (a == b) {
        ASSERT_EQ(a.hash(), b.hash()) << a;
        ASSERT_TRUE(arithmetic == 0) << a;
      }
      // The total order refines Erlang's: where Erlang's decides, they agree.
      if (arithmetic != 0) {
        ASSERT_EQ(total < 0, arithmetic < 0) << a << " vs " << b;
      }
    }
  }
  // Transitivity, checked by sorting: a sorted sequence is pairwise ordered.
  std::sort(terms.begin(), terms.end());
  for (std::size_t i = 0; i + 1 < terms.size(); ++i) {
    ASSERT_LE(terms[i], terms[i + 1]);
    ASSERT_TRUE(bl::compare(terms[i], terms[i + 1]) <= 0);
  }
  for (std::size_t i = 0; i + 2 < terms.size(); i += 3) ASSERT_LE(terms[i], terms[i + 2]);
}

}  // namespace
