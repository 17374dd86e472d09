// W5 fanin on CAF 0.17, the peer of bench/workloads/fanin.cpp: a receiver actor
// spawns 100 sender actors that each send it the integers 0 .. 99,999 from their
// initialisation (then terminate); the receiver sums all 10,000,000. The clock
// runs from the first spawn to the last receive; the receiver then tells the main
// thread. RESULT: msgs_per_sec.
#include "caf_support.hpp"

caf::behavior sender(caf::event_based_actor* self, caf::actor to, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) self->send(to, i);
  return {};
}

struct fanin_result {
  std::int64_t sum = 0;
  double seconds = 0;
};

struct receiver_state {
  std::int64_t sum = 0;
  std::int64_t received = 0;
  peer::clock_type::time_point start;
};

caf::behavior receiver(caf::stateful_actor<receiver_state>* self, std::int64_t senders, std::int64_t per_sender,
                       fanin_result* result, caf::actor main_thread) {
  self->state.start = peer::clock_type::now();
  for (std::int64_t s = 0; s < senders; ++s) self->spawn(sender, caf::actor_cast<caf::actor>(self), per_sender);
  return {
      [=](std::int64_t value) {
        self->state.sum += value;
        if (++self->state.received == senders * per_sender) {
          result->sum = self->state.sum;
          result->seconds = peer::milliseconds_between(self->state.start, peer::clock_type::now()) / 1000.0;
          self->send(main_thread, peer::done_atom::value);
          self->quit();
        }
      },
  };
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const std::int64_t senders = 100;
  const std::int64_t per_sender = peer::scaled(args, 100'000);
  fanin_result result;
  {
    peer::config configuration(args);
    caf::actor_system system(configuration);
    caf::scoped_actor main_thread(system, true);
    auto receiver_actor = system.spawn(receiver, senders, per_sender, &result, caf::actor_cast<caf::actor>(main_thread));
    main_thread->receive([](peer::done_atom) {});
  }
  std::int64_t expected = senders * (per_sender * (per_sender - 1) / 2);
  peer::report("fanin", result.sum == expected, args, {{"senders", senders}, {"per_sender", per_sender}},
               {{"msgs_per_sec", static_cast<double>(senders * per_sender) / result.seconds}});
}
