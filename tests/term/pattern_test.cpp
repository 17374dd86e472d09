// pattern_test: parsing and building patterns, matching, bindings, repeated
// variables, and patterns as receive predicates.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "beamline/pattern.hpp"

namespace bl = beamline;

namespace {

using bl::pattern;
using bl::term;

TEST(pattern, literals_match_exactly) {
  const pattern ok("ok");
  EXPECT_TRUE(ok.matches(bl::atoms::ok));
  EXPECT_FALSE(ok.matches(bl::atoms::error));
  EXPECT_TRUE(pattern("1").matches(1));
  EXPECT_FALSE(pattern("1").matches(1.0));  // matching is =:=
  EXPECT_TRUE(pattern("{ok, 1}").matches(term::tuple(bl::atoms::ok, 1)));
  EXPECT_TRUE(pattern("\"abc\"").matches(term::string("abc")));
  EXPECT_TRUE(pattern("<<\"abc\">>").matches(term::binary("abc")));
  EXPECT_TRUE(pattern(term::tuple(1, 2)).matches(term::tuple(1, 2)));
  EXPECT_TRUE(pattern(bl::atoms::ok)(bl::atoms::ok));
}

TEST(pattern, wildcards_and_variables) {
  const pattern p("{ok, X, _}");
  EXPECT_TRUE(p.matches(term::tuple(bl::atoms::ok, 1, 2)));
  EXPECT_FALSE(p.matches(term::tuple(bl::atoms::ok, 1)));
  EXPECT_FALSE(p.matches(term::tuple(bl::atoms::error, 1, 2)));
  EXPECT_FALSE(p.matches(term::list({bl::atoms::ok, 1, 2})));
  const auto b = p.match(term::tuple(bl::atoms::ok, term::string("x"), 2));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ((*b)["X"], term::string("x"));
  EXPECT_EQ(b->size(), 1u);
  EXPECT_EQ(b->name(0), "X");
  EXPECT_EQ(b->value(0), term::string("x"));
  EXPECT_EQ(b->find("Y"), nullptr);
  EXPECT_THROW((void)(*b)["Y"], bl::badarg);
  EXPECT_FALSE(p.match(bl::atoms::ok).has_value());
  EXPECT_EQ(p.variables().size(), 1u);
}

TEST(pattern, exit_and_down_messages) {
  const pattern exit_pattern("{'EXIT', _, Reason}");
  const term exit_message = term::tuple(bl::atoms::EXIT, bl::pid{5, 0, 0, 0}, bl::atoms::normal);
  const auto b = exit_pattern.match(exit_message);
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["Reason"], bl::atoms::normal);
  const pattern down("{'DOWN', Ref, process, Pid, Reason}");
  const term down_message = term::tuple(bl::atoms::DOWN, bl::ref::local(7), bl::atoms::process,
                                        bl::pid{5, 0, 0, 0}, bl::atoms::noproc);
  const auto d = down.match(down_message);
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["Ref"], bl::ref::local(7));
  EXPECT_EQ((*d)["Pid"], bl::pid({5, 0, 0, 0}));
  EXPECT_EQ((*d)["Reason"], bl::atoms::noproc);
}

TEST(pattern, repeated_variables_must_be_equal) {
  const pattern same("{X, X}");
  EXPECT_TRUE(same.matches(term::tuple(1, 1)));
  EXPECT_FALSE(same.matches(term::tuple(1, 2)));
  EXPECT_FALSE(same.matches(term::tuple(1, 1.0)));  // =:=
  EXPECT_TRUE(same.matches(term::tuple(term::list({1, 2}), term::list({1, 2}))));
  const auto b = same.match(term::tuple(bl::atoms::ok, bl::atoms::ok));
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["X"], bl::atoms::ok);
  EXPECT_EQ(same.variables().size(), 1u);
  // _Name variables bind and must repeat equal too, as in Erlang; _ never binds.
  EXPECT_FALSE(pattern("{_A, _A}").matches(term::tuple(1, 2)));
  EXPECT_TRUE(pattern("{_, _}").matches(term::tuple(1, 2)));
  // Across nesting and lists: [H | T] with H repeated inside T.
  const pattern nested("{X, [X | _]}");
  EXPECT_TRUE(nested.matches(term::tuple(1, term::list({1, 2}))));
  EXPECT_FALSE(nested.matches(term::tuple(1, term::list({2, 1}))));
}

TEST(pattern, lists) {
  const pattern head_tail("[H | T]");
  const auto b = head_tail.match(term::list({1, 2, 3}));
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["H"], 1);
  EXPECT_EQ((*b)["T"], term::list({2, 3}));
  EXPECT_FALSE(head_tail.matches(term::nil()));
  EXPECT_FALSE(head_tail.matches(term::tuple()));
  const auto improper = head_tail.match(term::improper_list({1}, bl::atoms::ok));
  ASSERT_TRUE(improper);
  EXPECT_EQ((*improper)["T"], bl::atoms::ok);
  const pattern two("[A, B]");
  EXPECT_TRUE(two.matches(term::list({1, 2})));
  EXPECT_FALSE(two.matches(term::list({1, 2, 3})));
  EXPECT_FALSE(two.matches(term::list({1})));
  EXPECT_FALSE(two.matches(term::improper_list({1, 2}, 3)));
  EXPECT_TRUE(pattern("[1, 2 | _]").matches(term::list({1, 2, 3, 4})));
  EXPECT_TRUE(pattern("[1, 2 | _]").matches(term::list({1, 2})));
  EXPECT_FALSE(pattern("[1, 2 | _]").matches(term::list({1})));
  EXPECT_TRUE(pattern("[]").matches(term::nil()));
  // Lists made of several chunks match the same.
  EXPECT_TRUE(two.matches(term::cons(1, term::list({2}))));
  const auto split =
      pattern("[A, B | Rest]").match(term::improper_list({1}, term::list({2, 3, 4})));
  ASSERT_TRUE(split);
  EXPECT_EQ((*split)["B"], 2);
  EXPECT_EQ((*split)["Rest"], term::list({3, 4}));
  // A string pattern is a list pattern.
  EXPECT_TRUE(pattern("[$a | _]").matches(term::string("abc")));
  EXPECT_TRUE(pattern("\"ab\"").matches(term::list({'a', 'b'})));
}

TEST(pattern, maps_match_at_least_the_given_keys) {
  const pattern p("#{type := request, id := Id}");
  const term message = term::map(
      {{bl::atom("type"), bl::atom("request")}, {bl::atom("id"), 7}, {bl::atom("extra"), 1}});
  const auto b = p.match(message);
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["Id"], 7);
  EXPECT_FALSE(p.matches(term::map({{bl::atom("type"), bl::atom("request")}})));
  EXPECT_FALSE(p.matches(term::map({{bl::atom("type"), bl::atom("reply")}, {bl::atom("id"), 7}})));
  EXPECT_FALSE(p.matches(term::list({1})));
  EXPECT_TRUE(pattern("#{}").matches(term::map({{1, 2}})));
  EXPECT_FALSE(pattern("#{}").matches(term::tuple()));
  EXPECT_TRUE(pattern("#{1 := _}").matches(term::map({{1, 2}})));
  EXPECT_FALSE(pattern("#{1 := _}").matches(term::map({{1.0, 2}})));
}

TEST(pattern, built_in_cpp) {
  const pattern p = pattern::tuple(bl::atoms::ok, pattern::any(), pattern::var("X"));
  EXPECT_EQ(p.to_string(), "{ok,_,X}");
  const auto b = p.match(term::tuple(bl::atoms::ok, 1, 2));
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["X"], 2);
  const pattern same = pattern::tuple(pattern::var("X"), pattern::var("X"));
  EXPECT_TRUE(same.matches(term::tuple(1, 1)));
  EXPECT_FALSE(same.matches(term::tuple(1, 2)));
  // Variables merge by name across parts built separately.
  const pattern x = pattern::var("X");
  EXPECT_FALSE(pattern::tuple(x, pattern::tuple(x)).matches(term::tuple(1, term::tuple(2))));
  const pattern ht = pattern::list({pattern::var("H")}, pattern::var("T"));
  EXPECT_EQ(ht.to_string(), "[H|T]");
  EXPECT_TRUE(ht.matches(term::list({1})));
  EXPECT_EQ(pattern::list({1, 2}).to_string(), "[1,2]");
  const pattern m = pattern::map({{bl::atom("k"), pattern::var("V")}});
  EXPECT_EQ(m.to_string(), "#{k := V}");
  EXPECT_EQ((*m.match(term::map({{bl::atom("k"), 3}})))["V"], 3);
  EXPECT_EQ(pattern::tuple({pattern(1), pattern::any()}).to_string(), "{1,_}");
  EXPECT_EQ(pattern::tuple().to_string(), "{}");
  EXPECT_THROW(pattern::var("x"), bl::badarg);
  EXPECT_THROW(pattern::var("_"), bl::badarg);
  EXPECT_THROW(pattern::var(""), bl::badarg);
  EXPECT_NO_THROW(pattern::var("_Tag"));
}

TEST(pattern, literal_parts_fold_into_one_term) {
  EXPECT_EQ(pattern("{ok, [1, 2], #{}}").variables().size(), 0u);
  EXPECT_EQ(pattern::tuple(bl::atoms::ok, 1).to_string(), "{ok,1}");
  EXPECT_EQ(pattern("{a, {b, X}}").to_string(), "{a,{b,X}}");
  EXPECT_EQ(pattern("[1, 2 | T]").to_string(), "[1,2|T]");
  EXPECT_EQ(pattern("#{a := 1}").to_string(), "#{a := 1}");
}

TEST(pattern, parse_errors) {
  EXPECT_THROW(pattern("{ok, "), bl::parse_error);
  EXPECT_THROW(pattern("#{a => X}"), bl::parse_error);  // patterns use :=
  try {
    pattern("#{K := 1}");
    FAIL();
  } catch (const bl::parse_error& e) {
    EXPECT_EQ(e.problem(), "map pattern keys must be literal terms, not patterns");
  }
}

TEST(pattern, is_a_predicate) {
  const std::vector<term> mailbox = {term::tuple(bl::atoms::error, 1),
                                     term::tuple(bl::atoms::ok, 2), bl::atoms::ok};
  const auto found = std::find_if(mailbox.begin(), mailbox.end(), pattern("{ok, _}"));
  ASSERT_NE(found, mailbox.end());
  EXPECT_EQ((*found)[1], 2);
  const std::function<bool(const term&)> guard = pattern("{error, _}");
  EXPECT_TRUE(guard(mailbox[0]));
  const pattern copy = pattern("{ok, _}");
  EXPECT_EQ(copy.to_string(), "{ok,_}");
}

TEST(pattern, bindings_outlive_the_pattern_and_term) {
  std::optional<bl::bindings> b;
  {
    const pattern p("{X, Y}");
    b = p.match(term::tuple(term::string("left"), term::list({1, 2})));
  }
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["X"], term::string("left"));
  EXPECT_EQ((*b)["Y"], term::list({1, 2}));
}

TEST(pattern, many_variables) {
  const pattern p("{A, B, C, D, E, F, G, H, A}");
  EXPECT_TRUE(p.matches(term::tuple(1, 2, 3, 4, 5, 6, 7, 8, 1)));
  EXPECT_FALSE(p.matches(term::tuple(1, 2, 3, 4, 5, 6, 7, 8, 9)));
  const auto b = p.match(term::tuple(1, 2, 3, 4, 5, 6, 7, 8, 1));
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["H"], 8);
}

}  // namespace
