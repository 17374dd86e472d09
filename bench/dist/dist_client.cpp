// bench_dist_client: the driving node of W8 and W9 (BENCHMARKS.md), against a node
// running bench_dist_server's contract (beamline, or bench/peers/erlang/dist_peer.escript
// on a BEAM node).
//
//   bench_dist_client --name NAME --cookie C --to NODE w8|w9 [--scale F] [--schedulers N]
//
// W8: resets NODE's `sink`, then sends 1,000,000 {self(), {msg, I}} to it, never
// more than two windows of 10,000 unacknowledged (it waits for the ack of window k
// before sending window k + 2); RESULT msgs_per_sec.
// W9: 100,000 sequential gen_server calls {echo, I} to {calls, NODE}, each timed;
// RESULT us_per_call (mean) and p99_us.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "../workloads/bench_support.hpp"

namespace bl = beamline;
using namespace std::chrono_literals;

namespace {

bool checksum = false;

bl::task<bool> reset_sink(bl::atom to) {
  bl::dist::send(bl::atom("sink"), to, bl::term::tuple({bl::self(), bl::atom("reset")}));
  bool ok = false;
  co_await bl::receive(
      bl::when([](const bl::term& t) { return t == bl::term(bl::atom("reset_ok")); },
               [&](const bl::term&) { ok = true; }),
      bl::after(10s, [] {}));
  co_return ok;
}

bl::process w8(bench::arguments a, bl::atom to) {
  if (!co_await bl::dist::connect_node(to) || !co_await reset_sink(to)) {
    std::fprintf(stderr, "bench_dist_client: %s does not answer\n", std::string(to.name()).c_str());
    bl::stop_node();
    co_return;
  }
  const long total = bench::scaled(a, 1'000'000) / 10'000 * 10'000;
  const long window = 10'000;
  const bl::atom sink("sink"), msg("msg"), ack("ack");
  const bl::term me(bl::self());
  long acked = 0;
  auto wait_ack = [&]() -> bl::task<bool> {
    bool got = false;
    co_await bl::receive(
        bl::when([&](const bl::term& t) { return t.is_tuple() && t.size() == 2 && t[0] == ack; },
                 [&](const bl::term& t) {
                   acked = t[1].as_int();
                   got = true;
                 }),
        bl::after(30s, [] {}));
    co_return got;
  };
  const auto start = bench::clock_type::now();
  bool ok = true;
  for (long sent = 0; sent < total && ok;) {
    // At most two windows unacknowledged.
    while (ok && sent - acked >= 2 * window) ok = co_await wait_ack();
    for (long i = 0; i < window; ++i, ++sent)
      bl::dist::send(sink, to, bl::term::tuple({me, bl::term::tuple({msg, sent})}));
  }
  while (ok && acked < total) ok = co_await wait_ack();
  const double seconds = bench::ms_between(start, bench::clock_type::now()) / 1000;
  checksum = ok && acked == total;
  bench::report("w8", checksum, a, {{"messages", std::to_string(total)}},
                {{"msgs_per_sec", static_cast<double>(total) / seconds}});
  bl::stop_node();
}

bl::process w9(bench::arguments a, bl::atom to) {
  if (!co_await bl::dist::connect_node(to)) {
    std::fprintf(stderr, "bench_dist_client: %s does not answer\n", std::string(to.name()).c_str());
    bl::stop_node();
    co_return;
  }
  const long calls = bench::scaled(a, 100'000);
  const bl::atom calls_name("calls"), echo("echo"), gen_call("$gen_call");
  const bl::term me(bl::self());
  std::vector<double> micros;
  micros.reserve(static_cast<std::size_t>(calls));
  long sum = 0;
  const auto start = bench::clock_type::now();
  for (long i = 1; i <= calls; ++i) {
    const auto t0 = bench::clock_type::now();
    // gen_server:call's shapes: {'$gen_call', {From, Tag}, Request}, answered {Tag, Reply}.
    const bl::ref tag = bl::make_ref();
    bl::dist::send(
        calls_name, to,
        bl::term::tuple({gen_call, bl::term::tuple({me, tag}), bl::term::tuple({echo, i})}));
    bool got = false;
    co_await bl::receive(
        bl::when([&](const bl::term& t) { return t.is_tuple() && t.size() == 2 && t[0] == tag; },
                 [&](const bl::term& t) {
                   sum += t[1].as_int();
                   got = true;
                 }),
        bl::after(10s, [] {}));
    if (!got) break;
    micros.push_back(
        std::chrono::duration<double, std::micro>(bench::clock_type::now() - t0).count());
  }
  const double total_us =
      std::chrono::duration<double, std::micro>(bench::clock_type::now() - start).count();
  checksum = sum == calls * (calls + 1) / 2;
  std::vector<double> sorted = micros;
  std::sort(sorted.begin(), sorted.end());
  const double p99 =
      sorted.empty() ? 0 : sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)];
  bench::report("w9", checksum, a, {{"calls", std::to_string(calls)}},
                {{"us_per_call", total_us / static_cast<double>(calls)}, {"p99_us", p99}});
  bl::stop_node();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::arguments a = bench::parse(argc, argv);
    auto dist = bl::dist::options::from_args(argc, argv);
    std::string to, workload;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--to" && i + 1 < argc)
        to = argv[++i];
      else if (arg == "w8" || arg == "w9")
        workload = arg;
    }
    if (!dist || to.empty() || workload.empty()) {
      std::fprintf(stderr, "usage: bench_dist_client --name NAME --cookie C --to NODE w8|w9\n");
      return 2;
    }
    bl::node node(a.node);
    bl::dist::start(node, *dist);
    if (workload == "w8")
      node.spawn(w8, a, bl::atom(to));
    else
      node.spawn(w9, a, bl::atom(to));
    node.run();
    return checksum ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_dist_client: %s\n", e.what());
    return 1;
  }
}
