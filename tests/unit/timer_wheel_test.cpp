// Unit tests of the hierarchical timing wheel: expiry order, never early, removal,
// cascading across levels and rotations, and a randomized comparison with a sort.
#include "sched/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace {

using beamline::sched::timer_node;
using beamline::sched::timer_wheel;

TEST(timer_wheel, fires_due_timers_in_deadline_order_and_never_early) {
  timer_wheel wheel(1000);
  std::vector<timer_node> nodes(5);
  std::uint64_t expiries[5] = {1005, 1001, 1100, 5000, 1001};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(wheel.insert(nodes[i], expiries[i]));
  std::vector<std::uint64_t> fired;
  wheel.advance(1004, [&](timer_node& n) { fired.push_back(n.expiry_tick); });
  EXPECT_EQ(fired, (std::vector<std::uint64_t>{1001, 1001}));
  wheel.advance(6000, [&](timer_node& n) {
    EXPECT_LE(n.expiry_tick, wheel.now());
    fired.push_back(n.expiry_tick);
  });
  EXPECT_EQ(fired, (std::vector<std::uint64_t>{1001, 1001, 1005, 1100, 5000}));
  EXPECT_TRUE(wheel.empty());
}

TEST(timer_wheel, refuses_timers_already_due) {
  timer_wheel wheel(100);
  timer_node n;
  EXPECT_FALSE(wheel.insert(n, 100));
  EXPECT_FALSE(wheel.insert(n, 7));
  EXPECT_TRUE(wheel.insert(n, 101));
}

TEST(timer_wheel, removed_timers_do_not_fire) {
  timer_wheel wheel(0);
  timer_node a, b;
  wheel.insert(a, 10);
  wheel.insert(b, 10);
  wheel.remove(a);
  int count = 0;
  wheel.advance(100, [&](timer_node& n) {
    EXPECT_EQ(&n, &b);
    ++count;
  });
  EXPECT_EQ(count, 1);
}

TEST(timer_wheel, next_expiry_is_a_lower_bound_of_the_earliest_timer) {
  timer_wheel wheel(50);
  EXPECT_FALSE(wheel.next_expiry().has_value());
  timer_node a, b;
  wheel.insert(a, 5000);
  wheel.insert(b, 300000);
  ASSERT_TRUE(wheel.next_expiry().has_value());
  EXPECT_LE(*wheel.next_expiry(), 5000u);
  EXPECT_GT(*wheel.next_expiry(), 50u);
}

TEST(timer_wheel, crosses_top_level_rotations) {
  std::uint64_t rotation = std::uint64_t{1} << 36;
  timer_wheel wheel(rotation - 10);
  timer_node a, b;
  ASSERT_TRUE(wheel.insert(a, rotation + 5));  // in the next rotation
  ASSERT_TRUE(wheel.insert(b, rotation - 5));
  std::vector<timer_node*> fired;
  wheel.advance(rotation, [&](timer_node& n) { fired.push_back(&n); });
  EXPECT_EQ(fired, std::vector<timer_node*>{&b});
  wheel.advance(rotation + 5, [&](timer_node& n) { fired.push_back(&n); });
  EXPECT_EQ(fired, (std::vector<timer_node*>{&b, &a}));
}

TEST(timer_wheel, random_timers_fire_exactly_when_due) {
  std::mt19937_64 rng(7);
  timer_wheel wheel(12345);
  std::vector<timer_node> nodes(5000);
  std::uniform_int_distribution<std::uint64_t> delay(1, 1u << 22);
  for (auto& n : nodes) wheel.insert(n, wheel.now() + delay(rng));
  // Remove a fifth of them.
  for (std::size_t i = 0; i < nodes.size(); i += 5) wheel.remove(nodes[i]);
  std::uint64_t now = wheel.now();
  std::size_t fired = 0;
  while (!wheel.empty()) {
    now += 1 + rng() % 50000;
    wheel.advance(now, [&](timer_node& n) {
      EXPECT_LE(n.expiry_tick, now);
      EXPECT_GT(n.expiry_tick, now - 50001);  // not late beyond this step
      ++fired;
    });
  }
  EXPECT_EQ(fired, nodes.size() - nodes.size() / 5);
}

}  // namespace
