// bench_available: the available registry (bl::names::available) on a cluster of
// beamline nodes (bench/names/names.py runs it; docs/benchmarks/names.md).
//
//   bench_available --name NAME --cookie C --peer
//   bench_available --name NAME --cookie C --connect NODE... [--names K] [--paced P]
//                   [--lookups L] [--rate R]
//   bench_available --name NAME --cookie C --merge K --merge-with NODE
//
// --peer: starts the scope and a recorder (registered locally as `recorder`) that
// subscribes to it and notes, for each registration it hears of, how long after the
// registration it arrived (the registering node puts its clock in the metadata; the
// nodes share this host's clock). Prints "ready NAME", runs until killed.
// Default: connects to the peers, then
//   - registers K names ({b, I}, each for a process of its own) as fast as it can,
//     and asks each peer for the arrival delays of those K (throughput, replication
//     delay p50/p99 under that load, time until the last arrived);
//   - looks one name up L times (whereis_name, a local read);
//   - registers P names one per millisecond: replication delay p50/p99 at low load;
//   - registers R names in one second, R/1000 each millisecond: replication delay
//     p50/p99 at that steady rate (the target: 100,000 a second within 10 ms).
// --merge K: registers K names ({m, I}) while alone, then connects to NODE (a peer) and
// times until NODE has heard of all K (as after a partition heals).
// Prints one line: RESULT {...} (JSON).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "beamline/available.hpp"
#include "beamline/beamline.hpp"
#include "beamline/dist.hpp"

namespace bl = beamline;
namespace av = bl::names::available;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> connect_to;
long names = 100'000, paced = 2000, lookups = 1'000'000, merge = 0, rate = 100'000;
std::string merge_with;
bool peer_mode = false;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bl::process holder() {
  co_await bl::receive([](const bl::term&) {});
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

// The peer's recorder: {available, _, registered, _, _, SentUs, _} events, and
//   reset                      forget what was noted
//   {report, From, Expected}   From ! {report, Count, P50Us, P99Us, LastArrivalUs}
//                              once Expected registrations arrived (or after 60 s)
bl::process recorder() {
  bl::register_name(bl::atom("recorder"), bl::self());
  co_await av::subscribe(av::default_scope());
  std::vector<double> delays;
  std::int64_t last = 0;
  bl::pid waiting;
  long expected = 0;
  std::int64_t deadline = 0;
  const bl::atom registered("registered"), reset("reset"), report("report");
  auto answer = [&] {
    bl::send(waiting, bl::term::tuple({report, static_cast<std::int64_t>(delays.size()),
                                       percentile(delays, 0.5), percentile(delays, 0.99), last}));
    waiting = bl::pid();
  };
  for (;;) {
    bl::term t;
    const bool got = co_await bl::receive(
        [&](bl::term m) {
          t = std::move(m);
          return true;
        },
        bl::after(100ms, [] { return false; }));
    if (got && t.is_tuple() && t.size() == 7 && t[2] == bl::term(registered) && t[5].is_integer()) {
      last = now_us();
      delays.push_back(static_cast<double>(last - t[5].as_int()));
    } else if (got && t == bl::term(reset)) {
      delays.clear();
      last = 0;
    } else if (got && t.is_tuple() && t.size() == 3 && t[0] == bl::term(report)) {
      waiting = t[1].as_pid();
      expected = t[2].as_int();
      deadline = now_us() + 60'000'000;
    }
    if (waiting && (static_cast<long>(delays.size()) >= expected || now_us() > deadline)) answer();
  }
}

// Registers {Tag, I} for I in [from, to), each for a process of its own.
void register_range(bl::atom tag, long from, long to, std::vector<bl::pid>& holders) {
  for (long i = from; i < to; ++i) {
    const bl::term name = bl::term::tuple({tag, i});
    if (!av::register_name(av::default_scope(), name, holders[static_cast<std::size_t>(i - from)],
                           now_us()))
      std::fprintf(stderr, "bench_available: {%s,%ld} was taken\n", std::string(tag.name()).c_str(),
                   i);
  }
}

std::vector<bl::pid> spawn_holders(long k) {
  std::vector<bl::pid> out;
  out.reserve(static_cast<std::size_t>(k));
  for (long i = 0; i < k; ++i) out.push_back(bl::spawn(holder));
  return out;
}

// Each peer's report once it has heard of `expected` registrations since its reset.
bl::task<std::vector<bl::term>> reports(const std::vector<bl::atom>& peers, long expected) {
  std::vector<bl::term> out;
  for (bl::atom node : peers) {
    bl::term request = bl::term::tuple({bl::atom("report"), bl::self(), expected});
    bl::dist::send(bl::atom("recorder"), node, std::move(request));
    bl::term reply = co_await bl::receive(
        bl::when([](const bl::term& t) { return t.is_tuple() && t.size() == 5; },
                 [](bl::term t) { return t; }));
    out.push_back(std::move(reply));
  }
  co_return out;
}

void reset(const std::vector<bl::atom>& peers) {
  for (bl::atom node : peers) bl::dist::send(bl::atom("recorder"), node, bl::atom("reset"));
}

bl::process run() {
  std::string json;
  auto field = [&](const char* key, double value) {
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "%s\"%s\": %.3f", json.empty() ? "" : ", ", key, value);
    json += buffer;
  };
  auto started = co_await av::start(av::default_scope());
  if (!started.is_ok()) {
    std::fprintf(stderr, "bench_available: the scope did not start\n");
    bl::stop_node();
    co_return;
  }
  if (peer_mode) {
    bl::spawn(recorder);
    co_await bl::sleep(10ms);
    std::printf("ready %s\n", std::string(bl::dist::node_name().name()).c_str());
    std::fflush(stdout);
    co_await bl::receive([](bl::atom) {});  // runs until killed
    co_return;
  }
  if (merge > 0) {
    std::vector<bl::pid> holders = spawn_holders(merge);
    register_range(bl::atom("m"), 0, merge, holders);
    const std::vector<bl::atom> peer{bl::atom(merge_with)};
    const std::int64_t t0 = now_us();
    if (!co_await bl::dist::connect_node(peer[0])) {
      std::fprintf(stderr, "bench_available: cannot connect to %s\n", merge_with.c_str());
      bl::stop_node();
      co_return;
    }
    // (The recorder forgets what it noted before: this reset travels on the new
    // connection ahead of this node's sync, which waits for the peer's discover.)
    reset(peer);
    std::vector<bl::term> r = co_await reports(peer, merge);
    field("available_merge_names", static_cast<double>(r[0][1].as_int()));
    field("available_merge_converged_ms", static_cast<double>(r[0][4].as_int() - t0) / 1000);
  } else {
    std::vector<bl::atom> peers;
    for (const std::string& node : connect_to) {
      peers.emplace_back(node);
      if (!co_await bl::dist::connect_node(peers.back()))
        std::fprintf(stderr, "bench_available: cannot connect to %s\n", node.c_str());
    }
    co_await bl::sleep(200ms);  // the scope servers have found each other
    reset(peers);
    std::vector<bl::pid> holders = spawn_holders(names);
    const std::int64_t t0 = now_us();
    register_range(bl::atom("b"), 0, names, holders);
    const std::int64_t t1 = now_us();
    field("available_registrations", static_cast<double>(names));
    field("available_register_per_s",
          static_cast<double>(names) * 1e6 / static_cast<double>(t1 - t0));
    std::vector<bl::term> burst = co_await reports(peers, names);
    std::vector<double> p50, p99, done;
    for (const bl::term& r : burst) {
      p50.push_back(r[2].as_double());
      p99.push_back(r[3].as_double());
      done.push_back(static_cast<double>(r[4].as_int() - t0) / 1000);
    }
    field("available_burst_replication_p50_ms", *std::max_element(p50.begin(), p50.end()) / 1000);
    field("available_burst_replication_p99_ms", *std::max_element(p99.begin(), p99.end()) / 1000);
    field("available_burst_all_arrived_ms", *std::max_element(done.begin(), done.end()));

    const bl::term probe = bl::term::tuple({bl::atom("b"), names / 2});
    std::size_t found = 0;
    const auto l0 = std::chrono::steady_clock::now();
    for (long i = 0; i < lookups; ++i)
      found += av::whereis_name(av::default_scope(), probe).has_value() ? 1 : 0;
    field("available_lookup_ns",
          std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - l0).count() /
              static_cast<double>(lookups));
    if (found != static_cast<std::size_t>(lookups))
      std::fprintf(stderr, "bench_available: lookups missed\n");

    reset(peers);
    std::vector<bl::pid> more = spawn_holders(paced);
    for (long i = 0; i < paced; ++i) {
      std::vector<bl::pid> one(1, more[static_cast<std::size_t>(i)]);
      register_range(bl::atom("b"), names + i, names + i + 1, one);
      co_await bl::sleep(1ms);
    }
    std::vector<bl::term> slow = co_await reports(peers, paced);
    p50.clear();
    p99.clear();
    for (const bl::term& r : slow) {
      p50.push_back(r[2].as_double());
      p99.push_back(r[3].as_double());
    }
    field("available_replication_p50_ms", *std::max_element(p50.begin(), p50.end()) / 1000);
    field("available_replication_p99_ms", *std::max_element(p99.begin(), p99.end()) / 1000);

    // At a steady `rate` a second for one second: rate / 1000 every millisecond.
    reset(peers);
    const long per_ms = std::max(1L, rate / 1000);
    std::vector<bl::pid> steady = spawn_holders(per_ms * 1000);
    const auto s0 = std::chrono::steady_clock::now();
    for (long tick = 0; tick < 1000; ++tick) {
      std::vector<bl::pid> batch(steady.begin() + tick * per_ms,
                                 steady.begin() + (tick + 1) * per_ms);
      const long first = names + paced + tick * per_ms;
      register_range(bl::atom("b"), first, first + per_ms, batch);
      const auto next = s0 + std::chrono::milliseconds(tick + 1);
      const auto now = std::chrono::steady_clock::now();
      if (next > now)
        co_await bl::sleep(std::chrono::duration_cast<std::chrono::microseconds>(next - now));
    }
    const double steady_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
    std::vector<bl::term> at_rate = co_await reports(peers, per_ms * 1000);
    p50.clear();
    p99.clear();
    for (const bl::term& r : at_rate) {
      p50.push_back(r[2].as_double());
      p99.push_back(r[3].as_double());
    }
    field("available_rate_per_s", static_cast<double>(per_ms * 1000) / steady_s);
    field("available_rate_replication_p50_ms", *std::max_element(p50.begin(), p50.end()) / 1000);
    field("available_rate_replication_p99_ms", *std::max_element(p99.begin(), p99.end()) / 1000);
  }
  std::printf("RESULT {\"system\": \"beamline\", %s}\n", json.c_str());
  std::fflush(stdout);
  bl::stop_node();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--peer") == 0)
        peer_mode = true;
      else if (i + 1 >= argc)
        break;
      else if (std::strcmp(argv[i], "--connect") == 0)
        connect_to.emplace_back(argv[++i]);
      else if (std::strcmp(argv[i], "--names") == 0)
        names = std::atol(argv[++i]);
      else if (std::strcmp(argv[i], "--paced") == 0)
        paced = std::atol(argv[++i]);
      else if (std::strcmp(argv[i], "--lookups") == 0)
        lookups = std::atol(argv[++i]);
      else if (std::strcmp(argv[i], "--rate") == 0)
        rate = std::atol(argv[++i]);
      else if (std::strcmp(argv[i], "--merge") == 0)
        merge = std::atol(argv[++i]);
      else if (std::strcmp(argv[i], "--merge-with") == 0)
        merge_with = argv[++i];
    }
    bl::node node(bl::node_options::from_args(argc, argv));
    auto dist = bl::dist::options::from_args(argc, argv);
    if (!dist || names < 1 || paced < 1 || lookups < 1 || rate < 1000 ||
        (merge > 0 && merge_with.empty()) || (!peer_mode && merge == 0 && connect_to.empty())) {
      std::fprintf(stderr,
                   "usage: bench_available --name NAME --cookie C (--peer | --connect NODE... "
                   "[--names K] [--paced P] [--lookups L] [--rate R] | --merge K --merge-with "
                   "NODE)\n");
      return 2;
    }
    bl::dist::start(node, *dist);
    node.spawn(run);
    return node.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_available: %s\n", e.what());
    return 1;
  }
}
