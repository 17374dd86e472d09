// caf_support.hpp: what every CAF 0.17 peer program shares. The contract of
// bench/workloads/bench_support.hpp (`--scale F` multiplies the sizes,
// `--schedulers N` sets the worker threads, default 2; a checksum line, and last
// a line `RESULT {json}` with "system":"caf"), and the actor system configuration:
// the default work-stealing scheduler with `scheduler.max-threads` workers. The
// command line is ours, so it is not handed to CAF's own option parser.
#pragma once

#include <unistd.h>

#include <caf/all.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace peer {

using clock_type = std::chrono::steady_clock;

struct arguments {
  double scale = 1.0;
  std::size_t threads = 2;
};

inline arguments parse(int argc, char** argv) {
  arguments parsed;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--scale") == 0) parsed.scale = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--schedulers") == 0 && std::atoi(argv[i + 1]) > 0)
      parsed.threads = static_cast<std::size_t>(std::atoi(argv[i + 1]));
  }
  return parsed;
}

// Tells the main thread that the measured work is over. The main thread waits for
// it on a hidden scoped_actor rather than in actor_system::await_all_actors_done:
// in 0.17 that can return early while actors that end at once (a leaf, a sender,
// a churned child) are being spawned, because the count of running actors drops
// to zero for a moment (and a scoped_actor counts as running, hidden or not).
//
// The main thread also keeps the handle of the actor it spawns: CAF terminates an
// actor that nothing holds a strong reference to (exit_reason::unreachable) once it
// is idle, and monitors and down messages only hold weak ones.
using done_atom = caf::atom_constant<caf::atom("done")>;

// A configuration for an actor system with `parsed.threads` scheduler workers.
class config : public caf::actor_system_config {
 public:
  explicit config(const arguments& parsed) { set("scheduler.max-threads", parsed.threads); }
};

inline std::int64_t scaled(const arguments& parsed, std::int64_t n) {
  auto value = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * parsed.scale));
  return value < 1 ? 1 : value;
}

inline double milliseconds_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// Resident set size of this program, in bytes.
inline long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Prints the checksum line and the RESULT line. `parameters` are integers,
// `figures` are written with three decimals.
inline void report(const char* workload, bool checksum_ok, const arguments& parsed,
                   const std::vector<std::pair<std::string, std::int64_t>>& parameters,
                   const std::vector<std::pair<std::string, double>>& figures) {
  std::printf("checksum %s\n", checksum_ok ? "ok" : "WRONG");
  std::string json = "{\"workload\":\"" + std::string(workload) + "\",\"system\":\"caf\",\"checksum_ok\":" +
                     (checksum_ok ? "true" : "false") + ",\"schedulers\":" + std::to_string(parsed.threads) +
                     ",\"scale\":" + std::to_string(parsed.scale);
  for (auto& [key, value] : parameters) json += ",\"" + key + "\":" + std::to_string(value);
  for (auto& [key, value] : figures) {
    char text[64];
    std::snprintf(text, sizeof text, "%.3f", value);
    json += ",\"" + key + "\":" + text;
  }
  json += "}";
  std::printf("RESULT %s\n", json.c_str());
  std::fflush(stdout);
}

}  // namespace peer
