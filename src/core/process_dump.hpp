// process_dump.hpp: every process described in a few lines, from each one's own
// answer to process_info_of: what SIGQUIT prints, and the idle report
// (node_options::idle_report).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "beamline/pid.hpp"
#include "beamline/process.hpp"

namespace beamline::detail {

struct process_dump {
  std::size_t processes = 0;  // described (the caller aside)
  std::string lines;          // two lines a process
  // What a process is doing, without its counters: equal dumps mean nothing moved.
  std::string signature;
};

// Describes `pids` other than the caller, each waited for up to 100 ms.
task<process_dump> describe_processes(std::vector<pid> pids);

}  // namespace beamline::detail
