// term_concurrency_test: terms shared between threads. Copies and releases from many
// threads at once must keep every reference count exact (ASan finds a count that
// frees too early, LeakSanitizer one that never frees, TSan a missing order), and
// reading a shared term from many threads must see the same value.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "beamline/term.hpp"
#include "term_generator.hpp"

namespace bl = beamline;

namespace {

using bl::term;

constexpr int thread_count = 8;

int scaled(int n) {
  return static_cast<int>(n * BEAMLINE_STRESS_SCALE) + 10;
}

template <class Body>
void run_threads(Body&& body) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body(t);
    });
  }
  go.store(true, std::memory_order_release);
  for (std::thread& thread : threads) thread.join();
}

TEST(term_concurrency, copies_and_releases_across_threads) {
  const term shared =
      term::tuple(bl::atoms::ok, term::list({1, 2, 3}), term::binary(std::string(100, 'x')),
                  term::map({{1, term::string("one")}}));
  const std::string text = shared.to_string();
  run_threads([&](int) {
    std::vector<term> copies;
    for (int i = 0; i < scaled(20000); ++i) {
      copies.push_back(shared);
      copies.push_back(shared[1].tail());                  // shares a list chunk
      copies.push_back(shared[2].sub_binary(i % 50, 10));  // shares the bytes
      if (copies.size() > 64) copies.erase(copies.begin(), copies.begin() + 32);
    }
    EXPECT_EQ(copies.front().kind(), copies.front().kind());
  });
  EXPECT_EQ(shared.to_string(), text);
}

// The last owner may be any thread: every term has one owner per thread, the threads
// drop theirs at the same time, and whichever drops last frees it.
TEST(term_concurrency, last_release_races) {
  const int count = scaled(5000);
  std::vector<std::vector<term>> owners(thread_count);
  {
    std::vector<term> made;
    for (int i = 0; i < count; ++i)
      made.push_back(term::tuple(i, term::list({i, term::binary("payload").sub_binary(1, 3)})));
    for (auto& mine : owners) mine = made;  // thread_count owners each
  }
  run_threads([&](int t) {
    std::vector<term>& mine = owners[static_cast<std::size_t>(t)];
    for (int i = 0; i < count; ++i) EXPECT_EQ(mine[static_cast<std::size_t>(i)][0], i);
    mine.clear();  // races with the other threads' clear() on the same objects
  });
}

TEST(term_concurrency, concurrent_reads_agree) {
  beamline_test::term_generator generate(99);
  std::vector<term> terms;
  for (int i = 0; i < 50; ++i) terms.push_back(generate.any(4));
  std::vector<std::string> printed;
  std::vector<std::size_t> hashes;
  for (const term& t : terms) {
    printed.push_back(t.to_string());
    hashes.push_back(t.hash());
  }
  run_threads([&](int t) {
    for (int round = 0; round < scaled(20); ++round) {
      for (std::size_t i = 0; i < terms.size(); ++i) {
        const term copy = terms[(i + static_cast<std::size_t>(t)) % terms.size()];
        const std::size_t j = (i + static_cast<std::size_t>(t)) % terms.size();
        EXPECT_EQ(copy.to_string(), printed[j]);
        EXPECT_EQ(copy.hash(), hashes[j]);
        EXPECT_EQ(copy, terms[j]);
        EXPECT_EQ(term::parse(printed[j]), copy);
      }
    }
  });
}

// Deep terms whose last reference is dropped on another thread.
TEST(term_concurrency, deep_terms_released_elsewhere) {
  std::vector<term> deep;
  for (int t = 0; t < thread_count; ++t) {
    term nested = term::nil();
    for (int i = 0; i < scaled(20000); ++i) nested = term::cons(term::tuple(i), std::move(nested));
    deep.push_back(std::move(nested));
  }
  run_threads([&](int t) { term mine = std::move(deep[static_cast<std::size_t>(t)]); });
}

}  // namespace
