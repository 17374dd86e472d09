// bench_global: one node of a cluster measures its names (bench/names/names.py runs
// it beside the same measurement on Erlang nodes, bench/names/erl_bench.escript).
//
//   bench_global --name NAME --cookie C [--connect NODE]... [--names K] [--lookups L]
//                [--merge K --merge-with NODE]
//
// Default mode: connects to each NODE and waits for global:sync(); then
//   - registers K global names ({bench, I}, each for a process of its own), one after
//     the other, timing each registration;
//   - looks one of them up L times (bl::names::global::whereis_name, a local read);
//   - joins K processes to pg groups ({bench, I}) and looks one group up L times.
// --merge K: registers K names while alone, then connects to NODE and times how long
// until global's exchange with it is done (global:sync() returns), as after a
// partition heals.
// Prints one line: RESULT {...} (JSON).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "beamline/beamline.hpp"
#include "beamline/dist.hpp"
#include "beamline/global.hpp"
#include "beamline/pg.hpp"

namespace bl = beamline;
namespace global = bl::names::global;
using clock_type = std::chrono::steady_clock;

namespace {

std::vector<std::string> connect_to;
long names = 2000, lookups = 1'000'000, merge = 0;
std::string merge_with;

double us_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

bl::process holder() {
  co_await bl::receive([](const bl::term&) {});
}

bl::term bench_name(long i) {
  return bl::term::tuple({bl::atom("bench"), i});
}

// Registers {bench, I} for I < k, each for a new process; the time of each in us.
bl::task<std::vector<double>> register_all(long k) {
  std::vector<double> took;
  took.reserve(static_cast<std::size_t>(k));
  for (long i = 0; i < k; ++i) {
    const bl::pid p = bl::spawn(holder);
    const auto t0 = clock_type::now();
    const bool yes = co_await global::register_name(bench_name(i), p);
    took.push_back(us_since(t0));
    if (!yes) std::fprintf(stderr, "bench_global: {bench,%ld} was taken\n", i);
  }
  co_return took;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

bl::process run() {
  std::string json;
  auto field = [&](const char* key, double value) {
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "%s\"%s\": %.3f", json.empty() ? "" : ", ", key, value);
    json += buffer;
  };
  if (merge > 0) {
    const auto t0 = clock_type::now();
    co_await register_all(merge);
    field("merge_names", static_cast<double>(merge));
    field("merge_register_alone_ms", us_since(t0) / 1000);
    const auto t1 = clock_type::now();
    if (!co_await bl::dist::connect_node(bl::atom(merge_with))) {
      std::fprintf(stderr, "bench_global: cannot connect to %s\n", merge_with.c_str());
      bl::stop_node();
      co_return;
    }
    co_await global::sync();
    field("merge_converged_ms", us_since(t1) / 1000);
    field("names_known_after", static_cast<double>(global::registered_names().size()));
  } else {
    for (const std::string& node : connect_to)
      if (!co_await bl::dist::connect_node(bl::atom(node)))
        std::fprintf(stderr, "bench_global: cannot connect to %s\n", node.c_str());
    co_await global::sync();
    field("nodes", static_cast<double>(bl::dist::nodes().size() + 1));
    const auto t0 = clock_type::now();
    const std::vector<double> took = co_await register_all(names);
    const double total_us = us_since(t0);
    field("global_registrations", static_cast<double>(names));
    field("global_register_per_s", static_cast<double>(names) / (total_us / 1e6));
    field("global_register_mean_us", total_us / static_cast<double>(names));
    field("global_register_p50_us", percentile(took, 0.5));
    field("global_register_p99_us", percentile(took, 0.99));

    const bl::term probe = bench_name(names / 2);
    std::size_t found = 0;
    const auto t1 = clock_type::now();
    for (long i = 0; i < lookups; ++i) found += global::whereis_name(probe).has_value() ? 1 : 0;
    field("global_lookup_ns", us_since(t1) * 1000 / static_cast<double>(lookups));
    if (found != static_cast<std::size_t>(lookups))
      std::fprintf(stderr, "bench_global: lookups missed\n");

    co_await bl::pg::start(bl::pg::default_scope());
    std::vector<bl::pid> members;
    for (long i = 0; i < names; ++i) members.push_back(bl::spawn(holder));
    const auto t2 = clock_type::now();
    for (long i = 0; i < names; ++i)
      co_await bl::pg::join(bench_name(i), members[static_cast<std::size_t>(i)]);
    const double join_us = us_since(t2);
    field("pg_join_per_s", static_cast<double>(names) / (join_us / 1e6));
    field("pg_join_mean_us", join_us / static_cast<double>(names));
    std::size_t seen = 0;
    const auto t3 = clock_type::now();
    for (long i = 0; i < lookups; ++i) seen += bl::pg::get_members(probe).size();
    field("pg_lookup_ns", us_since(t3) * 1000 / static_cast<double>(lookups));
    if (seen != static_cast<std::size_t>(lookups))
      std::fprintf(stderr, "bench_global: pg lookups missed\n");
  }
  std::printf("RESULT {\"system\": \"beamline\", %s}\n", json.c_str());
  std::fflush(stdout);
  bl::stop_node();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    for (int i = 1; i + 1 < argc; ++i) {
      if (std::strcmp(argv[i], "--connect") == 0)
        connect_to.emplace_back(argv[++i]);
      else if (std::strcmp(argv[i], "--names") == 0)
        names = std::atol(argv[++i]);
      else if (std::strcmp(argv[i], "--lookups") == 0)
        lookups = std::atol(argv[++i]);
      else if (std::strcmp(argv[i], "--merge") == 0)
        merge = std::atol(argv[++i]);
      else if (std::strcmp(argv[i], "--merge-with") == 0)
        merge_with = argv[++i];
    }
    bl::node node(bl::node_options::from_args(argc, argv));
    auto dist = bl::dist::options::from_args(argc, argv);
    if (!dist || names < 1 || lookups < 1 || (merge > 0 && merge_with.empty())) {
      std::fprintf(stderr,
                   "usage: bench_global --name NAME --cookie C [--connect NODE]... [--names K] "
                   "[--lookups L] [--merge K --merge-with NODE]\n");
      return 2;
    }
    bl::dist::start(node, *dist);
    node.spawn(run);
    return node.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_global: %s\n", e.what());
    return 1;
  }
}
