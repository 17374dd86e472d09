// C4 chan_pipeline: 10,000 stages chained by unbuffered channels, each adding 1 to
// what it receives and passing it on; 100 values (0 .. 99) pass through all of
// them. A feeder process sends the values into the first channel and closes it;
// each stage closes its output once its input is closed; the main process reads
// the last channel. The stages are spawned before the clock starts; it stops at
// the last value out. As in W3 the chain keeps its length and the scale sets the
// values. RESULT: ns_per_hop (hops = stages x values).
#include "bench_support.hpp"

namespace bl = beamline;

bl::process stage(bl::chan<long> in, bl::chan<long> out) {
  while (std::optional<long> value = co_await in.receive()) co_await out.send(*value + 1);
  out.close();
}

bl::process feeder(bl::chan<long> out, long values) {
  for (long i = 0; i < values; ++i) co_await out.send(i);
  out.close();
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long stages = 10'000;
  const long values = bench::scaled(args, 100);
  long sum = 0;
  long received = 0;
  double ns_per_hop = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    auto first = bl::make_chan<long>(0);
    auto last = first;
    for (long i = 0; i < stages; ++i) {
      auto next = bl::make_chan<long>(0);
      bl::spawn(stage, last, next);
      last = next;
    }
    auto start = bench::clock_type::now();
    bl::spawn(feeder, first, values);
    for (long k = 0; k < values; ++k) {
      std::optional<long> value = co_await last.receive();
      if (!value) break;
      sum += *value;
      ++received;
    }
    ns_per_hop = bench::ms_between(start, bench::clock_type::now()) * 1e6 /
                 static_cast<double>(stages * values);
    // The close follows the values down the chain: every stage ends.
    while (co_await last.receive()) ++received;
  });
  node.run();
  const long expected = values * (values - 1) / 2 + values * stages;
  bench::report("C4", received == values && sum == expected, args,
                {{"stages", std::to_string(stages)},
                 {"values", std::to_string(values)},
                 {"hops", std::to_string(stages * values)}},
                {{"ns_per_hop", ns_per_hop}});
}
