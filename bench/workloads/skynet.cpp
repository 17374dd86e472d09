// W1 skynet: a root spawns 10 children, each 10 more, 6 levels deep: 1,000,000
// leaves; leaf i sends i to its parent, parents sum and send up. RESULT: wall_ms.
#include "bench_support.hpp"

namespace bl = beamline;

bl::process skynet(bl::pid parent, long number, long size) {
  if (size == 1) {
    bl::send(parent, number);
    co_return;
  }
  long child = size / 10;
  for (long i = 0; i < 10; ++i) bl::spawn(skynet, bl::self(), number + i * child, child);
  long sum = 0;
  for (int i = 0; i < 10; ++i) sum += co_await bl::receive<long>();
  bl::send(parent, sum);
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  // The tree must stay a power of ten: scale picks the depth.
  long leaves = 1;
  while (leaves * 10 <= bench::scaled(args, 1'000'000)) leaves *= 10;
  long sum = -1;
  double wall_ms = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    auto start = bench::clock_type::now();
    bl::spawn(skynet, bl::self(), 0L, leaves);
    sum = co_await bl::receive<long>();
    wall_ms = bench::ms_between(start, bench::clock_type::now());
  });
  node.run();
  bench::report("skynet", sum == leaves * (leaves - 1) / 2, args,
                {{"leaves", std::to_string(leaves)},
                 {"preemptions", std::to_string(node.statistics().preemptions)}},
                {{"wall_ms", wall_ms}});
}
