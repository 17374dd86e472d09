// C2 chan_buffered on Boost.Fiber, the peer of bench/workloads/chan_buffered.cpp:
// a producer fiber pushes 0 .. n-1 (n = 2,000,000) through one channel and closes
// it; the main fiber sums until the channel is closed. Run three times, for the
// capacities 0, 16 and 1,024. The clock runs from the producer's launch to the
// close.
//
// The channels: capacity 0 is an unbuffered_channel (a push waits for its pop).
// A buffered_channel's capacity must be a power of two, at least 2, and it holds
// one value less, so capacity 16 is buffered_channel(16), holding 15 values, and
// capacity 1,024 is buffered_channel(1024), holding 1,023: the nearest Boost
// allows, one slot short (as fan-in's mailbox). Doubling instead (32 and 2,048,
// holding 31 and 2,047) would give Boost twice the room the others have (measured
// here: capacity 16 about 25 % faster, 1,024 unchanged).
// RESULT: items_per_sec_cap0, items_per_sec_cap16, items_per_sec_cap1024.
#include "fiber_support.hpp"

template <class Channel>
void producer(Channel* out, long items) {
  for (long i = 0; i < items; ++i) out->push(i);
  out->close();
}

// One run: the items per second, and whether the sum was right.
template <class Channel>
std::pair<double, bool> run(Channel& channel, long items) {
  long sum = 0;
  long value = 0;
  auto start = peer::clock_type::now();
  auto producer_fiber = peer::launch(producer<Channel>, &channel, items);
  while (channel.pop(value) == boost::fibers::channel_op_status::success) sum += value;
  double seconds = peer::milliseconds_between(start, peer::clock_type::now()) / 1000.0;
  producer_fiber.join();
  return {static_cast<double>(items) / seconds, sum == items * (items - 1) / 2};
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const long items = peer::scaled(args, 2'000'000);
  std::pair<double, bool> cap0, cap16, cap1024;
  {
    peer::work_stealing_threads threads(args.threads);
    boost::fibers::unbuffered_channel<long> unbuffered;
    cap0 = run(unbuffered, items);
    boost::fibers::buffered_channel<long> sixteen(16);  // holds 15
    cap16 = run(sixteen, items);
    boost::fibers::buffered_channel<long> thousand(1024);  // holds 1,023
    cap1024 = run(thousand, items);
  }
  peer::report("C2", cap0.second && cap16.second && cap1024.second, args, {{"items", items}},
               {{"items_per_sec_cap0", cap0.first},
                {"items_per_sec_cap16", cap16.first},
                {"items_per_sec_cap1024", cap1024.first}});
}
