// W2 spawn_idle on Boost.Fiber, the peer of bench/workloads/spawn_idle.cpp: start
// 1,000,000 fibers that each wait on their own mailbox; measure the time until
// every one has reached its receive and the RSS per fiber; then push each a value
// and time until all have exited. RESULT: spawn_ms, bytes_per_process,
// teardown_ms.
//
// A fiber's process is its stack, its context and its mailbox (a buffered_channel
// of two slots, the smallest Boost allows). Boost cannot tell whether a fiber is
// parked, so each counts itself in just before its receive; the spawner yields
// until all have. Teardown joins every fiber.
#include <atomic>
#include <memory>

#include "fiber_support.hpp"

using mailbox_type = boost::fibers::buffered_channel<int>;

void idle(mailbox_type* mailbox, std::atomic<long>* waiting) {
  waiting->fetch_add(1, std::memory_order_relaxed);
  mailbox->value_pop();
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const long n = peer::scaled(args, 1'000'000);
  double spawn_ms = 0, teardown_ms = 0;
  long rss_before = 0, rss_after = 0;
  bool all_exited = false;
  std::vector<std::unique_ptr<mailbox_type>> mailboxes;
  std::vector<boost::fibers::fiber> fibers;
  {
    peer::work_stealing_threads threads(args.threads);
    std::atomic<long> waiting{0};
    mailboxes.reserve(static_cast<std::size_t>(n));
    fibers.reserve(static_cast<std::size_t>(n));
    // The two handle vectors are the spawner's, not the fibers' (ours discounts
    // its pid vector the same way).
    rss_before = peer::resident_bytes() + n * static_cast<long>(sizeof(mailboxes[0]) + sizeof(fibers[0]));
    auto start = peer::clock_type::now();
    for (long i = 0; i < n; ++i) {
      mailboxes.push_back(std::make_unique<mailbox_type>(2));
      fibers.push_back(peer::launch(idle, mailboxes.back().get(), &waiting));
    }
    while (waiting.load(std::memory_order_relaxed) < n) boost::this_fiber::yield();
    spawn_ms = peer::milliseconds_between(start, peer::clock_type::now());
    boost::this_fiber::sleep_for(std::chrono::milliseconds(50));
    rss_after = peer::resident_bytes();
    auto teardown_start = peer::clock_type::now();
    for (auto& mailbox : mailboxes) mailbox->push(0);
    for (auto& fiber : fibers) fiber.join();
    mailboxes.clear();
    teardown_ms = peer::milliseconds_between(teardown_start, peer::clock_type::now());
    all_exited = true;
  }
  bool ok = static_cast<long>(fibers.size()) == n && all_exited;
  double bytes = static_cast<double>(rss_after - rss_before) / static_cast<double>(n);
  peer::report("spawn_idle", ok, args, {{"processes", n}},
               {{"spawn_ms", spawn_ms}, {"bytes_per_process", bytes}, {"teardown_ms", teardown_ms}});
}
