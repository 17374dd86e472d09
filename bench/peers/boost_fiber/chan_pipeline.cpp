// C4 chan_pipeline on Boost.Fiber, the peer of bench/workloads/chan_pipeline.cpp:
// 10,000 stage fibers chained by unbuffered_channels, each adding 1 and passing
// on; a feeder fiber pushes 100 values (0 .. 99) into the first channel and closes
// it, each stage closes its output once its input is closed, and the main fiber
// reads the last channel. The stages are launched before the clock starts; it
// stops at the last value out. The chain keeps its length and the scale sets the
// values. RESULT: ns_per_hop (hops = stages x values).
#include <memory>

#include "fiber_support.hpp"

using channel_type = boost::fibers::unbuffered_channel<long>;

void stage(channel_type* in, channel_type* out) {
  long value = 0;
  while (in->pop(value) == boost::fibers::channel_op_status::success) out->push(value + 1);
  out->close();
}

void feeder(channel_type* out, long values) {
  for (long i = 0; i < values; ++i) out->push(i);
  out->close();
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const long stages = 10'000;
  const long values = peer::scaled(args, 100);
  long sum = 0;
  long received = 0;
  double ns_per_hop = 0;
  {
    peer::work_stealing_threads threads(args.threads);
    std::vector<std::unique_ptr<channel_type>> channels;
    channels.reserve(stages + 1);
    for (long i = 0; i <= stages; ++i) channels.push_back(std::make_unique<channel_type>());
    std::vector<boost::fibers::fiber> fibers;
    fibers.reserve(stages + 1);
    for (long i = 0; i < stages; ++i)
      fibers.push_back(peer::launch(stage, channels[i].get(), channels[i + 1].get()));
    channel_type& last = *channels[stages];
    auto start = peer::clock_type::now();
    fibers.push_back(peer::launch(feeder, channels[0].get(), values));
    long value = 0;
    for (long k = 0; k < values; ++k) {
      if (last.pop(value) != boost::fibers::channel_op_status::success) break;
      sum += value;
      ++received;
    }
    ns_per_hop = peer::milliseconds_between(start, peer::clock_type::now()) * 1e6 /
                 static_cast<double>(stages * values);
    // The close follows the values down the chain: every stage ends.
    while (last.pop(value) == boost::fibers::channel_op_status::success) ++received;
    for (auto& fiber : fibers) fiber.join();
  }
  const long expected = values * (values - 1) / 2 + values * stages;
  peer::report("C4", received == values && sum == expected, args,
               {{"stages", stages}, {"values", values}, {"hops", stages * values}},
               {{"ns_per_hop", ns_per_hop}});
}
