// W4 pingpong on CAF 0.17, the peer of bench/workloads/pingpong.cpp: two
// event-based actors, 1,000,000 round trips; each ping carries the sender's
// handle and a counter, the partner answers counter + 1. RESULT:
// ns_per_round_trip.
//
// The pinger spawns its partner from its initialisation and writes its figures
// into `pingpong_result`, then tells the main thread once its partner has
// answered the final -1.
#include "caf_support.hpp"

caf::behavior pong(caf::event_based_actor* self) {
  return {
      [=](const caf::actor& from, std::int64_t counter) {
        self->send(from, counter + 1);
        if (counter < 0) self->quit();
      },
  };
}

struct pingpong_result {
  std::int64_t counter = 0;
  double ns_per_round_trip = 0;
};

struct pinger_state {
  caf::actor partner;
  std::int64_t rounds_done = 0;
  bool finishing = false;  // the final -1 is sent; its answer ends the pinger
  peer::clock_type::time_point start;
};

caf::behavior pinger(caf::stateful_actor<pinger_state>* self, std::int64_t rounds, pingpong_result* result,
                     caf::actor main_thread) {
  self->state.partner = self->spawn(pong);
  self->state.start = peer::clock_type::now();
  self->send(self->state.partner, caf::actor_cast<caf::actor>(self), std::int64_t{0});
  return {
      [=](std::int64_t counter) {
        if (self->state.finishing) {
          self->send(main_thread, peer::done_atom::value);
          self->quit();
          return;
        }
        if (++self->state.rounds_done < rounds) {
          self->send(self->state.partner, caf::actor_cast<caf::actor>(self), counter);
          return;
        }
        result->counter = counter;
        result->ns_per_round_trip = peer::milliseconds_between(self->state.start, peer::clock_type::now()) * 1e6 /
                                    static_cast<double>(rounds);
        self->send(self->state.partner, caf::actor_cast<caf::actor>(self), std::int64_t{-1});
        self->state.partner = nullptr;
        self->state.finishing = true;
      },
  };
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const std::int64_t rounds = peer::scaled(args, 1'000'000);
  pingpong_result result;
  {
    peer::config configuration(args);
    caf::actor_system system(configuration);
    caf::scoped_actor main_thread(system, true);
    auto pinger_actor = system.spawn(pinger, rounds, &result, caf::actor_cast<caf::actor>(main_thread));
    main_thread->receive([](peer::done_atom) {});
  }
  peer::report("pingpong", result.counter == rounds, args, {{"round_trips", rounds}},
               {{"ns_per_round_trip", result.ns_per_round_trip}});
}
