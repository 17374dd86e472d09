// W3 ring: 10,000 processes in a ring, a token goes round 100 times (1,000,000
// hops). RESULT: ns_per_hop.
#include "bench_support.hpp"

namespace bl = beamline;

bl::process member(bl::pid next) {
  for (;;) {
    long left = co_await bl::receive<long>();
    bl::send(next, left - 1);
    if (left <= 0) co_return;
  }
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long size = 10'000;
  const long hops = bench::scaled(args, 1'000'000);
  long counted = 0;
  double ns_per_hop = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    bl::pid next = bl::self();
    for (long i = 1; i < size; ++i) next = bl::spawn(member, next);
    auto start = bench::clock_type::now();
    bl::send(next, hops - 1);
    counted = 1;
    for (;;) {
      long left = co_await bl::receive<long>();
      ++counted;
      bl::send(next, left - 1);
      if (left <= 0) break;
    }
    ns_per_hop =
        bench::ms_between(start, bench::clock_type::now()) * 1e6 / static_cast<double>(hops);
  });
  node.run();
  // The leader handles one hop in `size`: hops / size + 1 receives plus its send.
  bool ok = counted == hops / size + 1;
  bench::report("ring", ok, args,
                {{"processes", std::to_string(size)}, {"hops", std::to_string(hops)}},
                {{"ns_per_hop", ns_per_hop}});
}
