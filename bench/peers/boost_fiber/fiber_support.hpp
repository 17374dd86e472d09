// fiber_support.hpp: what every Boost.Fiber peer program shares. The contract of
// bench/workloads/bench_support.hpp (`--scale F` multiplies the sizes,
// `--schedulers N` sets the threads, default 2; a checksum line, and last a line
// `RESULT {json}` with "system":"boost_fiber"), plus:
//  - work_stealing_threads: the main thread and N - 1 helper threads joined in one
//    boost::fibers::algo::work_stealing scheduler for as long as the object lives.
//    Helpers park their main fiber on a fiber condition variable; their dispatcher
//    steals ready fibers from the others. A thread with nothing to run or steal
//    sleeps on a condition variable (suspend = true) until a fiber is made ready
//    for it. The algorithm's default (suspend = false) spins instead, and its
//    spinning stealer takes fibers away from the thread that is about to run them:
//    measured here it made ring 4x, fan-in 8x and spawn_idle 2-3x slower, so the
//    peer uses the setting that is better for every workload.
//  - launch: starts a fiber on a small fixed-size stack. The default stack (128 KiB
//    from malloc, so one mmap each) cannot hold a million fibers under the kernel's
//    65,530-mapping limit; 16 KiB from the heap holds every workload here with room
//    to spare, and only the pages a fiber touches become resident.
#pragma once

#include <unistd.h>

#include <boost/fiber/all.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace peer {

using clock_type = std::chrono::steady_clock;

struct arguments {
  double scale = 1.0;
  unsigned threads = 2;
};

inline arguments parse(int argc, char** argv) {
  arguments parsed;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--scale") == 0) parsed.scale = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--schedulers") == 0 && std::atoi(argv[i + 1]) > 0)
      parsed.threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
  }
  return parsed;
}

inline long scaled(const arguments& parsed, long n) {
  long value = std::lround(static_cast<double>(n) * parsed.scale);
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
                   const std::vector<std::pair<std::string, long>>& parameters,
                   const std::vector<std::pair<std::string, double>>& figures) {
  std::printf("checksum %s\n", checksum_ok ? "ok" : "WRONG");
  std::string json = "{\"workload\":\"" + std::string(workload) +
                     "\",\"system\":\"boost_fiber\",\"checksum_ok\":" +
                     (checksum_ok ? "true" : "false") +
                     ",\"schedulers\":" + std::to_string(parsed.threads) +
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

inline constexpr std::size_t fiber_stack_bytes = 16 * 1024;

// Starts `function(arguments...)` as a fiber on a fiber_stack_bytes stack, queued
// behind the fibers already ready (launch::post) unless `policy` says otherwise.
template <typename Function, typename... Arguments>
boost::fibers::fiber launch(boost::fibers::launch policy, Function&& function, Arguments&&... arguments) {
  return boost::fibers::fiber(policy, std::allocator_arg, boost::fibers::fixedsize_stack(fiber_stack_bytes),
                              std::forward<Function>(function), std::forward<Arguments>(arguments)...);
}

template <typename Function, typename... Arguments>
boost::fibers::fiber launch(Function&& function, Arguments&&... arguments) {
  return launch(boost::fibers::launch::post, std::forward<Function>(function),
                std::forward<Arguments>(arguments)...);
}

// The calling (main) thread and threads - 1 helpers, all in one work-stealing
// scheduler until destruction. Construct it before starting any fiber.
class work_stealing_threads {
 public:
  explicit work_stealing_threads(unsigned threads) {
    for (unsigned i = 1; i < threads; ++i)
      helpers_.emplace_back([this, threads] {
        boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(threads, true);
        std::unique_lock<boost::fibers::mutex> lock(mutex_);
        stop_requested_.wait(lock, [this] { return stopping_; });
      });
    // Returns once every thread has registered (the algorithm's barrier).
    boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(threads, true);
  }

  work_stealing_threads(const work_stealing_threads&) = delete;
  work_stealing_threads& operator=(const work_stealing_threads&) = delete;

  ~work_stealing_threads() {
    {
      std::unique_lock<boost::fibers::mutex> lock(mutex_);
      stopping_ = true;
    }
    stop_requested_.notify_all();
    for (auto& helper : helpers_) helper.join();
  }

 private:
  boost::fibers::mutex mutex_;
  boost::fibers::condition_variable stop_requested_;
  bool stopping_ = false;  // guarded by mutex_
  std::vector<std::thread> helpers_;
};

}  // namespace peer
