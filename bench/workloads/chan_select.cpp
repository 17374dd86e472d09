// C3 chan_select: 4 producers, each with its own channel of capacity 16, send the
// integers 1 .. 1,000,000 each and close it; one consumer (the main process)
// selects over the 4 channels until all are closed, switching a closed channel's
// case off by setting it to the nil channel (Go's idiom). The clock runs from the
// first producer's spawn to the last close seen. RESULT: items_per_sec.
#include <array>

#include "bench_support.hpp"

namespace bl = beamline;

bl::process producer(bl::chan<long> out, long items) {
  for (long i = 1; i <= items; ++i) co_await out.send(i);
  out.close();
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  constexpr std::size_t producers = 4;
  constexpr std::size_t capacity = 16;
  const long per_producer = bench::scaled(args, 1'000'000);
  long sum = 0;
  long received = 0;
  double seconds = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    std::array<bl::chan<long>, producers> open;
    for (auto& channel : open) channel = bl::make_chan<long>(capacity);
    auto start = bench::clock_type::now();
    for (auto& channel : open) bl::spawn(producer, channel, per_producer);
    std::size_t still_open = producers;
    auto take = [&](std::size_t k) {
      return [&, k](std::optional<long> value) {
        if (value) {
          sum += *value;
          ++received;
        } else {
          open[k] = bl::chan<long>();  // nil: this case is off
          --still_open;
        }
      };
    };
    while (still_open > 0)
      co_await bl::select(bl::on_receive(open[0], take(0)), bl::on_receive(open[1], take(1)),
                          bl::on_receive(open[2], take(2)), bl::on_receive(open[3], take(3)));
    seconds = bench::ms_between(start, bench::clock_type::now()) / 1000.0;
  });
  node.run();
  const long total = static_cast<long>(producers) * per_producer;
  const long expected = static_cast<long>(producers) * (per_producer * (per_producer + 1) / 2);
  bench::report("C3", received == total && sum == expected, args,
                {{"producers", std::to_string(producers)},
                 {"per_producer", std::to_string(per_producer)},
                 {"capacity", std::to_string(capacity)}},
                {{"items_per_sec", static_cast<double>(total) / seconds}});
}
