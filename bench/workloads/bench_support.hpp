// bench_support.hpp: the contract every workload program keeps (BENCHMARKS.md):
// `--scale F` multiplies the sizes, `--schedulers N` sets the workers (default:
// one per core), a checksum line, and last a line `RESULT {json}`.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "beamline/beamline.hpp"

namespace bench {

namespace bl = beamline;
using clock_type = std::chrono::steady_clock;

struct arguments {
  double scale = 1.0;
  bl::node_options node;
};

inline arguments parse(int argc, char** argv) {
  arguments a;
  a.node = bl::node_options::from_args(argc, argv);
  a.node.log_crashes = false;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--scale") == 0) a.scale = std::atof(argv[i + 1]);
  return a;
}

inline long scaled(const arguments& a, long n) {
  long v = std::lround(static_cast<double>(n) * a.scale);
  return v < 1 ? 1 : v;
}

inline double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Resident set size of this program, in bytes.
inline long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Prints the checksum line and the RESULT line. `figures` are (key, value) pairs;
// `parameters` are written as given (already JSON values).
inline void report(const char* workload, bool checksum_ok, const arguments& a,
                   const std::vector<std::pair<std::string, std::string>>& parameters,
                   const std::vector<std::pair<std::string, double>>& figures) {
  std::printf("checksum %s\n", checksum_ok ? "ok" : "WRONG");
  std::string json =
      "{\"workload\":\"" + std::string(workload) +
      "\",\"system\":\"beamline\",\"checksum_ok\":" + (checksum_ok ? "true" : "false") +
      ",\"schedulers\":" + std::to_string(a.node.schedulers) +
      ",\"scale\":" + std::to_string(a.scale);
  for (auto& [k, v] : parameters) json += ",\"" + k + "\":" + v;
  for (auto& [k, v] : figures) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    json += ",\"" + k + "\":" + buf;
  }
  json += "}";
  std::printf("RESULT %s\n", json.c_str());
  std::fflush(stdout);
}

}  // namespace bench
