// C2 chan_buffered: one producer, one consumer, 2,000,000 integers through one
// channel, run three times: capacity 0, 16 and 1,024. The producer sends 0 .. n-1
// and closes the channel; the consumer (the main process) sums until it sees the
// channel closed. The clock runs from the producer's spawn to the close.
// RESULT: items_per_sec_cap0, items_per_sec_cap16, items_per_sec_cap1024.
#include "bench_support.hpp"

namespace bl = beamline;

bl::process producer(bl::chan<long> out, long items) {
  for (long i = 0; i < items; ++i) co_await out.send(i);
  out.close();
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long items = bench::scaled(args, 2'000'000);
  const std::size_t capacities[] = {0, 16, 1024};
  double items_per_sec[3] = {};
  bool all_ok = true;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    for (std::size_t run = 0; run < 3; ++run) {
      auto channel = bl::make_chan<long>(capacities[run]);
      long sum = 0;
      auto start = bench::clock_type::now();
      bl::spawn(producer, channel, items);
      while (std::optional<long> value = co_await channel.receive()) sum += *value;
      double seconds = bench::ms_between(start, bench::clock_type::now()) / 1000.0;
      items_per_sec[run] = static_cast<double>(items) / seconds;
      all_ok = all_ok && sum == items * (items - 1) / 2;
    }
  });
  node.run();
  bench::report("C2", all_ok, args, {{"items", std::to_string(items)}},
                {{"items_per_sec_cap0", items_per_sec[0]},
                 {"items_per_sec_cap16", items_per_sec[1]},
                 {"items_per_sec_cap1024", items_per_sec[2]}});
}
