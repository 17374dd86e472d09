// W7 churn on CAF 0.17, the peer of bench/workloads/churn.cpp: 1,000,000 actors
// spawned in batches (at most 10,000 alive, refilled when half have gone), each
// terminates at once (it has no behaviour); the spawner monitors each (spawn with
// caf::monitored) and counts every down_msg in its down handler, then tells the
// main thread. RESULT: wall_ms.
#include <algorithm>

#include "caf_support.hpp"

using unused_atom = caf::atom_constant<caf::atom("unused")>;

constexpr std::int64_t max_alive = 10'000;

caf::behavior short_lived(caf::event_based_actor*) { return {}; }

struct churn_result {
  std::int64_t downs = 0;
  double wall_ms = 0;
};

struct spawner_state {
  std::int64_t spawned = 0;
  std::int64_t downs = 0;
  std::int64_t target = 0;
  peer::clock_type::time_point start;
};

// Spawns up to max_alive alive, and sets the count of downs to wait for before the
// next batch: half of max_alive more (refill at half).
void spawn_batch(caf::stateful_actor<spawner_state>* self, std::int64_t total) {
  auto& state = self->state;
  std::int64_t batch = std::min(max_alive - (state.spawned - state.downs), total - state.spawned);
  for (std::int64_t i = 0; i < batch; ++i) self->spawn<caf::monitored>(short_lived);
  state.spawned += batch;
  state.target = std::min(total, state.downs + max_alive / 2);
}

caf::behavior spawner(caf::stateful_actor<spawner_state>* self, std::int64_t total, churn_result* result,
                      caf::actor main_thread) {
  self->state.start = peer::clock_type::now();
  self->set_down_handler([=](caf::down_msg&) {
    auto& state = self->state;
    ++state.downs;
    if (state.downs == total) {
      result->downs = state.downs;
      result->wall_ms = peer::milliseconds_between(state.start, peer::clock_type::now());
      self->send(main_thread, peer::done_atom::value);
      self->quit();
    } else if (state.downs == state.target) {
      spawn_batch(self, total);
    }
  });
  spawn_batch(self, total);
  // An actor without a behaviour terminates; this one lives on down messages.
  return {
      [](unused_atom) {},
  };
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const std::int64_t total = peer::scaled(args, 1'000'000);
  churn_result result;
  {
    peer::config configuration(args);
    caf::actor_system system(configuration);
    caf::scoped_actor main_thread(system, true);
    auto spawner_actor = system.spawn(spawner, total, &result, caf::actor_cast<caf::actor>(main_thread));
    main_thread->receive([](peer::done_atom) {});
  }
  peer::report("churn", result.downs == total, args, {{"processes", total}}, {{"wall_ms", result.wall_ms}});
}
