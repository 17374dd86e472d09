// W5 fanin: 100 senders x 100,000 integers to one receiver (10,000,000 messages).
// RESULT: msgs_per_sec.
#include "bench_support.hpp"

namespace bl = beamline;

// A long loop reaches a suspension point now and then (co_await check()), so that
// the receiver, woken onto this worker, gets its turn when the slice is spent.
bl::process sender(bl::pid to, long count) {
  for (long i = 0; i < count; ++i) {
    bl::send(to, i);
    co_await bl::check();
  }
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long senders = 100;
  const long per_sender = bench::scaled(args, 100'000);
  long sum = 0;
  double seconds = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    auto start = bench::clock_type::now();
    for (long s = 0; s < senders; ++s) bl::spawn(sender, bl::self(), per_sender);
    for (long k = 0; k < senders * per_sender; ++k) sum += co_await bl::receive<long>();
    seconds = bench::ms_between(start, bench::clock_type::now()) / 1000.0;
  });
  node.run();
  long expected = senders * (per_sender * (per_sender - 1) / 2);
  bench::report("fanin", sum == expected, args,
                {{"senders", std::to_string(senders)}, {"per_sender", std::to_string(per_sender)}},
                {{"msgs_per_sec", static_cast<double>(senders * per_sender) / seconds}});
}
