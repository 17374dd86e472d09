// C3 chan_select on Boost.Fiber, the peer of bench/workloads/chan_select.cpp: 4
// producer fibers, each with its own channel of capacity 16 (buffered_channel(16),
// which holds 15: see chan_buffered.cpp), push 1 .. 1,000,000 and close it; one
// consumer, the main fiber, takes from the 4 until all are closed. The clock runs
// from the first producer's launch to the last close seen. RESULT: items_per_sec.
//
// Boost.Fiber has no select, so the consumer does what a select does without
// parking: it polls the channels still open with try_pop, starting one further on
// each time so that none is favoured (Go picks among ready cases at random), and
// takes the first value it finds; a closed channel (try_pop says closed once it is
// drained) is dropped from the poll. When all are empty it yields to the other
// fibers instead of waiting on the 4 channels at once, which Boost cannot do: the
// closest equivalent (a real select would park and be woken). Parking in a
// blocking pop on one channel instead measured the same. The result is bimodal
// (bench/peers/README.md): fast when the producers share the consumer's thread,
// slow when work stealing moved them to the other one, which then sleeps and is
// woken for every value taken.
#include <array>

#include "fiber_support.hpp"

using channel_type = boost::fibers::buffered_channel<long>;
constexpr std::size_t producers = 4;
constexpr std::size_t capacity = 16;  // holds 15

void producer(channel_type* out, long items) {
  for (long i = 1; i <= items; ++i) out->push(i);
  out->close();
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const long per_producer = peer::scaled(args, 1'000'000);
  long sum = 0;
  long received = 0;
  double seconds = 0;
  {
    peer::work_stealing_threads threads(args.threads);
    std::vector<std::unique_ptr<channel_type>> channels;
    for (std::size_t k = 0; k < producers; ++k)
      channels.push_back(std::make_unique<channel_type>(capacity));
    std::vector<boost::fibers::fiber> fibers;
    auto start = peer::clock_type::now();
    for (auto& channel : channels)
      fibers.push_back(peer::launch(producer, channel.get(), per_producer));
    std::array<channel_type*, producers> open;
    for (std::size_t k = 0; k < producers; ++k) open[k] = channels[k].get();
    std::size_t still_open = producers;
    std::size_t first = 0;
    long value = 0;
    while (still_open > 0) {
      bool took = false;
      for (std::size_t i = 0; i < still_open && !took; ++i) {
        std::size_t k = (first + i) % still_open;
        switch (open[k]->try_pop(value)) {
          case boost::fibers::channel_op_status::success:
            sum += value;
            ++received;
            took = true;
            break;
          case boost::fibers::channel_op_status::closed:
            open[k] = open[still_open - 1];  // off the poll
            --still_open;
            took = true;
            break;
          default:
            break;
        }
      }
      first = still_open == 0 ? 0 : (first + 1) % still_open;
      if (!took) boost::this_fiber::yield();
    }
    seconds = peer::milliseconds_between(start, peer::clock_type::now()) / 1000.0;
    for (auto& fiber : fibers) fiber.join();
  }
  const long total = static_cast<long>(producers) * per_producer;
  const long expected = static_cast<long>(producers) * (per_producer * (per_producer + 1) / 2);
  peer::report("C3", received == total && sum == expected, args,
               {{"producers", static_cast<long>(producers)},
                {"per_producer", per_producer},
                {"capacity", static_cast<long>(capacity)}},
               {{"items_per_sec", static_cast<double>(total) / seconds}});
}
