// W5 fanin: 100 senders x 100,000 integers to one receiver (10,000,000 messages).
// RESULT: msgs_per_sec.
//
// --receivers N (not part of W5) splits the senders among N receivers, each with
// its own 100/N senders: independent floods side by side, to see how the
// scheduler spreads them over the workers.
#include <algorithm>

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

// Spawns `senders` senders to itself and sums what they send.
bl::task<long> receive_flood(long senders, long per_sender) {
  long sum = 0;
  for (long s = 0; s < senders; ++s) bl::spawn(sender, bl::self(), per_sender);
  for (long k = 0; k < senders * per_sender; ++k) sum += co_await bl::receive<long>();
  co_return sum;
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  long receivers = 1;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--receivers") == 0) receivers = std::max(1L, std::atol(argv[i + 1]));
  const long senders = 100;
  const long per_receiver = senders / receivers;
  const long per_sender = bench::scaled(args, 100'000);
  long sum = 0;
  double seconds = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    auto start = bench::clock_type::now();
    if (receivers == 1) {
      sum = co_await receive_flood(senders, per_sender);
    } else {
      bl::pid me = bl::self();
      for (long r = 0; r < receivers; ++r)
        bl::spawn([me, per_receiver, per_sender]() -> bl::process {
          long part = co_await receive_flood(per_receiver, per_sender);
          bl::send(me, part);
        });
      for (long r = 0; r < receivers; ++r) sum += co_await bl::receive<long>();
    }
    seconds = bench::ms_between(start, bench::clock_type::now()) / 1000.0;
  });
  node.run();
  const long total = receivers * per_receiver * per_sender;
  long expected = receivers * per_receiver * (per_sender * (per_sender - 1) / 2);
  bench::report("fanin", sum == expected, args,
                {{"senders", std::to_string(receivers * per_receiver)},
                 {"receivers", std::to_string(receivers)},
                 {"per_sender", std::to_string(per_sender)}},
                {{"msgs_per_sec", static_cast<double>(total) / seconds}});
}
