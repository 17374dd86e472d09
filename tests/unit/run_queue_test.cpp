// Unit tests of the bounded run queue: FIFO order, capacity, stealing, and a race
// of one owner against several thieves in which every task is taken exactly once.
#include "sched/run_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace {

using beamline::sched::run_queue;

struct item {
  int id;
};

TEST(run_queue, is_fifo_for_the_owner) {
  run_queue<item, 8> q;
  item items[5] = {{0}, {1}, {2}, {3}, {4}};
  for (auto& i : items) ASSERT_TRUE(q.push_back(&i));
  for (int expected = 0; expected < 5; ++expected) EXPECT_EQ(q.pop_front()->id, expected);
  EXPECT_EQ(q.pop_front(), nullptr);
}

TEST(run_queue, refuses_pushes_when_full) {
  run_queue<item, 4> q;
  item items[5] = {};
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.push_back(&items[i]));
  EXPECT_FALSE(q.push_back(&items[4]));
  EXPECT_EQ(q.size(), 4u);
}

TEST(run_queue, take_half_moves_the_oldest) {
  run_queue<item, 8> q;
  item items[8];
  for (int i = 0; i < 8; ++i) {
    items[i].id = i;
    q.push_back(&items[i]);
  }
  item* out[4];
  ASSERT_EQ(q.take_half(out), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i]->id, i);
  EXPECT_EQ(q.pop_front()->id, 4);
}

TEST(run_queue, steal_half_moves_about_half_into_the_thief) {
  run_queue<item, 16> victim;
  run_queue<item, 16> thief;
  item items[10];
  for (int i = 0; i < 10; ++i) {
    items[i].id = i;
    victim.push_back(&items[i]);
  }
  item* first = victim.steal_half_into(thief);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->id, 0);
  EXPECT_EQ(thief.size() + 1 + victim.size(), 10u);
  EXPECT_EQ(victim.size(), 5u);
}

TEST(run_queue, pop_random_returns_every_task_once) {
  run_queue<item, 16> q;
  item items[10];
  for (int i = 0; i < 10; ++i) {
    items[i].id = i;
    q.push_back(&items[i]);
  }
  std::mt19937_64 rng(42);
  std::vector<int> seen;
  while (item* t = q.pop_random(rng)) seen.push_back(t->id);
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(seen[i], i);
}

TEST(run_queue, owner_and_thieves_take_each_task_exactly_once) {
  constexpr int total = 200000;
  constexpr int thieves = 3;
  run_queue<item, 64> owner_queue;
  std::vector<item> items(total);
  std::vector<std::atomic<int>> taken(total);
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < thieves; ++t) {
    threads.emplace_back([&] {
      run_queue<item, 64> mine;
      while (!done.load(std::memory_order_acquire)) {
        if (item* first = owner_queue.steal_half_into(mine)) {
          taken[first->id].fetch_add(1);
          while (item* i = mine.pop_front()) taken[i->id].fetch_add(1);
        }
      }
    });
  }
  int next = 0;
  while (next < total) {
    items[next].id = next;
    if (owner_queue.push_back(&items[next])) {
      ++next;
    } else if (item* i = owner_queue.pop_front()) {
      taken[i->id].fetch_add(1);
    }
    if (next % 3 == 0)
      if (item* i = owner_queue.pop_front()) taken[i->id].fetch_add(1);
  }
  while (item* i = owner_queue.pop_front()) taken[i->id].fetch_add(1);
  done.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  for (int i = 0; i < total; ++i) ASSERT_EQ(taken[i].load(), 1) << "task " << i;
}

}  // namespace
