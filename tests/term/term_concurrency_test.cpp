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
  std::string bytes;
  for (int i = 0; i < 100; ++i) bytes += static_cast<char>('a' + i % 26);
  const term shared = term::tuple(bl::atoms::ok, term::list({1, 2, 3}), term::binary(bytes),
                                  term::map({{1, term::string("one")}}));
  const std::string text = shared.to_string();
  run_threads([&](int) {
    // What each copy must equal, built apart from `shared` (no reference to it).
    const term whole = term::tuple(bl::atoms::ok, term::list({1, 2, 3}), term::binary(bytes),
                                   term::map({{1, term::string("one")}}));
    const term tail = term::list({2, 3});
    struct copy {
      term value;
      term expected;
    };
    std::vector<copy> copies;
    std::size_t checked = 0;
    auto check_all = [&] {
      for (const copy& c : copies) {
        EXPECT_EQ(c.value, c.expected);
        ++checked;
      }
    };
    for (int i = 0; i < scaled(20000); ++i) {
      const auto at = static_cast<std::size_t>(i % 50);
      copies.push_back({shared, whole});
      copies.push_back({shared[1].tail(), tail});  // a list chunk
      copies.push_back(
          {shared[2].sub_binary(at, 10), term::binary(bytes.substr(at, 10))});  // bytes
      if (copies.size() > 64) {
        if (i % 64 == 0) check_all();
        copies.erase(copies.begin(), copies.begin() + 32);
      }
    }
    check_all();
    EXPECT_GT(checked, copies.size());
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
  // The same terms again, from a second generator of the same seed: equal values
  // that share no memory with the ones the threads read.
  beamline_test::term_generator again(99);
  std::vector<term> expected;
  for (int i = 0; i < 50; ++i) expected.push_back(again.any(4));
  std::vector<std::string> printed;
  std::vector<std::size_t> hashes;
  for (const term& t : expected) {
    printed.push_back(t.to_string());
    hashes.push_back(t.hash());
  }
  run_threads([&](int t) {
    for (int round = 0; round < scaled(20); ++round) {
      for (std::size_t i = 0; i < terms.size(); ++i) {
        const std::size_t j = (i + static_cast<std::size_t>(t)) % terms.size();
        const term copy = terms[j];
        EXPECT_EQ(copy.to_string(), printed[j]);
        EXPECT_EQ(copy.hash(), hashes[j]);
        EXPECT_EQ(copy, expected[j]);
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
