// W1 skynet on CAF 0.17, the peer of bench/workloads/skynet.cpp: a root spawns 10
// child actors, each 10 more, down to 1,000,000 leaves (at --scale 1; the tree
// stays a power of ten, so scale picks the depth); leaf i sends i to its parent,
// parents sum their 10 children and send up. RESULT: wall_ms.
//
// Every node is an event-based actor; a leaf sends from its initialisation and,
// having no behaviour, terminates at once. The root is a scoped_actor on the main
// thread that spawns the top of the tree and blocks for the sum.
#include "caf_support.hpp"

struct node_state {
  std::int64_t sum = 0;
  int received = 0;
};

caf::behavior skynet(caf::stateful_actor<node_state>* self, caf::actor parent, std::int64_t number,
                     std::int64_t size) {
  if (size == 1) {
    self->send(parent, number);
    return {};
  }
  std::int64_t child = size / 10;
  for (std::int64_t i = 0; i < 10; ++i)
    self->spawn(skynet, caf::actor_cast<caf::actor>(self), number + i * child, child);
  return {
      [=](std::int64_t value) {
        self->state.sum += value;
        if (++self->state.received == 10) {
          self->send(parent, self->state.sum);
          self->quit();
        }
      },
  };
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  std::int64_t leaves = 1;
  while (leaves * 10 <= peer::scaled(args, 1'000'000)) leaves *= 10;
  std::int64_t sum = -1;
  double wall_ms = 0;
  {
    peer::config configuration(args);
    caf::actor_system system(configuration);
    caf::scoped_actor root(system, true);
    auto start = peer::clock_type::now();
    root->spawn(skynet, caf::actor_cast<caf::actor>(root), std::int64_t{0}, leaves);
    root->receive([&](std::int64_t value) { sum = value; });
    wall_ms = peer::milliseconds_between(start, peer::clock_type::now());
  }
  peer::report("skynet", sum == leaves * (leaves - 1) / 2, args, {{"leaves", leaves}}, {{"wall_ms", wall_ms}});
}
