// W3 ring on CAF 0.17, the peer of bench/workloads/ring.cpp: 10,000 event-based
// actors in a ring, one of them the leader; a token counting down from 1,000,000
// hops goes round 100 times; a member that sees the count reach zero passes it on
// and terminates, so the ring unwinds behind it. RESULT: ns_per_hop.
//
// The members are spawned with caf::lazy_init: each is first scheduled when the
// token reaches it. Scheduled at once, the 9,999 initialisations would sit in the
// leader's worker queue, and the other worker stealing them one at a time from its
// tail walks the whole queue each time in CAF 0.17 (quadratic, inside the clock).
//
// The leader spawns the other 9,999 from its initialisation, starts the clock and
// sends the token; it writes its figures into `ring_result` as it terminates and
// tells the main thread.
#include "caf_support.hpp"

caf::behavior member(caf::event_based_actor* self, caf::actor next) {
  return {
      [=](std::int64_t left) {
        self->send(next, left - 1);
        if (left <= 0) self->quit();
      },
  };
}

struct ring_result {
  std::int64_t counted = 0;
  double ns_per_hop = 0;
};

struct leader_state {
  caf::actor next;
  std::int64_t counted = 0;
  peer::clock_type::time_point start;
};

caf::behavior leader(caf::stateful_actor<leader_state>* self, std::int64_t size, std::int64_t hops,
                     ring_result* result, caf::actor main_thread) {
  caf::actor next = caf::actor_cast<caf::actor>(self);
  for (std::int64_t i = 1; i < size; ++i) next = self->spawn<caf::lazy_init>(member, next);
  self->state.next = next;
  self->state.start = peer::clock_type::now();
  self->send(next, hops - 1);
  self->state.counted = 1;
  return {
      [=](std::int64_t left) {
        ++self->state.counted;
        self->send(self->state.next, left - 1);
        if (left <= 0) {
          result->counted = self->state.counted;
          result->ns_per_hop = peer::milliseconds_between(self->state.start, peer::clock_type::now()) * 1e6 /
                               static_cast<double>(hops);
          self->state.next = nullptr;
          self->send(main_thread, peer::done_atom::value);
          self->quit();
        }
      },
  };
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const std::int64_t size = 10'000;
  const std::int64_t hops = peer::scaled(args, 1'000'000);
  ring_result result;
  {
    peer::config configuration(args);
    caf::actor_system system(configuration);
    caf::scoped_actor main_thread(system, true);
    auto leader_actor = system.spawn(leader, size, hops, &result, caf::actor_cast<caf::actor>(main_thread));
    main_thread->receive([](peer::done_atom) {});
  }
  // The leader handles one hop in `size`: hops / size + 1 receives plus its send.
  peer::report("ring", result.counted == hops / size + 1, args, {{"processes", size}, {"hops", hops}},
               {{"ns_per_hop", result.ns_per_hop}});
}
