// W2 spawn_idle on CAF 0.17, the peer of bench/workloads/spawn_idle.cpp: spawn
// 1,000,000 event-based actors that each wait for a message; measure the time
// until every one has been initialised (is waiting in its behaviour) and the RSS
// per actor; then send each a message and time until all have terminated.
// RESULT: spawn_ms, bytes_per_process, teardown_ms.
//
// CAF initialises a spawned actor later, on a worker, so each idle actor counts
// itself in from its initialisation and the last one tells the main thread.
//
// The main thread spawns (system.spawn in a loop, the plain CAF way), so it is a
// third thread doing the allocations while the 2 workers run the
// initialisations; ours spawns from a process on one of its 2 schedulers. The
// fairer shape, a spawner actor on a worker, is quadratic in CAF 0.17: the idle
// worker steals from the tail of the spawner's queue and take_tail walks the
// whole singly linked queue to find the new tail (100,000 spawns took 12-16 s).
#include <atomic>

#include "caf_support.hpp"

using all_waiting_atom = caf::atom_constant<caf::atom("waiting")>;

// Shared by the main thread and every idle actor.
struct readiness {
  std::atomic<std::int64_t> waiting{0};
  std::int64_t expected = 0;
  caf::actor observer;  // told all_waiting_atom once all are waiting
};

caf::behavior idle(caf::event_based_actor* self, readiness* ready) {
  if (ready->waiting.fetch_add(1, std::memory_order_relaxed) + 1 == ready->expected)
    self->send(ready->observer, all_waiting_atom::value);
  return {
      [=](int) { self->quit(); },
  };
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const std::int64_t n = peer::scaled(args, 1'000'000);
  double spawn_ms = 0, teardown_ms = 0;
  long rss_before = 0, rss_after = 0;
  std::size_t still_running = 1;
  {
    peer::config configuration(args);
    caf::actor_system system(configuration);
    readiness ready;
    ready.expected = n;
    peer::clock_type::time_point teardown_start;
    {
      // A scoped_actor counts as running: it must be gone before the await below.
      caf::scoped_actor main_thread(system);
      ready.observer = caf::actor_cast<caf::actor>(main_thread);
      std::vector<caf::actor> idle_actors;
      idle_actors.reserve(static_cast<std::size_t>(n));
      // The vector of handles is not the actors' (ours discounts its pid vector
      // the same way).
      rss_before = peer::resident_bytes() + n * static_cast<long>(sizeof(caf::actor));
      auto start = peer::clock_type::now();
      for (std::int64_t i = 0; i < n; ++i) idle_actors.push_back(system.spawn(idle, &ready));
      main_thread->receive([](all_waiting_atom) {});
      spawn_ms = peer::milliseconds_between(start, peer::clock_type::now());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      rss_after = peer::resident_bytes();
      teardown_start = peer::clock_type::now();
      for (auto& idle_actor : idle_actors) main_thread->send(idle_actor, 0);
      idle_actors.clear();
      ready.observer = nullptr;
    }
    system.await_all_actors_done();
    teardown_ms = peer::milliseconds_between(teardown_start, peer::clock_type::now());
    still_running = system.registry().running();
  }
  double bytes = static_cast<double>(rss_after - rss_before) / static_cast<double>(n);
  peer::report("spawn_idle", still_running == 0, args, {{"processes", n}},
               {{"spawn_ms", spawn_ms}, {"bytes_per_process", bytes}, {"teardown_ms", teardown_ms}});
}
