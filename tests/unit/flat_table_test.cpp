// Unit tests of the open-addressing table behind links and monitors, checked
// against std::unordered_map under random inserts and erases.
#include "core/flat_table.hpp"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace {

using beamline::detail::flat_table;

TEST(flat_table, inserts_finds_and_erases) {
  flat_table<int, int> t;
  EXPECT_EQ(t.find(1), nullptr);
  t.insert(1, 10);
  t.insert(2, 20);
  ASSERT_NE(t.find(1), nullptr);
  EXPECT_EQ(*t.find(2), 20);
  EXPECT_TRUE(t.erase(1));
  EXPECT_FALSE(t.erase(1));
  EXPECT_EQ(t.find(1), nullptr);
  EXPECT_EQ(t.size(), 1u);
}

TEST(flat_table, matches_unordered_map_under_churn) {
  flat_table<std::uint64_t, std::uint64_t> t;
  std::unordered_map<std::uint64_t, std::uint64_t> reference;
  std::mt19937_64 rng(99);
  for (int step = 0; step < 200000; ++step) {
    std::uint64_t key = rng() % 3000;
    if (rng() % 3 == 0) {
      EXPECT_EQ(t.erase(key), reference.erase(key) == 1);
    } else if (reference.find(key) == reference.end()) {
      t.insert(key, key * 7);
      reference[key] = key * 7;
    }
    if (step % 997 == 0) {
      ASSERT_EQ(t.size(), reference.size());
      for (auto& [k, v] : reference) {
        ASSERT_NE(t.find(k), nullptr) << k;
        ASSERT_EQ(*t.find(k), v);
      }
      std::size_t visited = 0;
      t.for_each([&](std::uint64_t k, std::uint64_t v) {
        ++visited;
        EXPECT_EQ(reference.at(k), v);
      });
      EXPECT_EQ(visited, reference.size());
    }
  }
}

}  // namespace
