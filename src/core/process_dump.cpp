// process_dump.cpp: see process_dump.hpp.
#include "core/process_dump.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "beamline/process_info.hpp"

namespace beamline::detail {

namespace {

void append_pids(std::string& out, const std::vector<pid>& pids) {
  for (std::size_t i = 0; i < pids.size(); ++i) {
    if (i != 0) out += ' ';
    out += pids[i].to_string();
  }
}

}  // namespace

task<process_dump> describe_processes(std::vector<pid> pids) {
  std::erase(pids, self());
  process_dump dump;
  dump.processes = pids.size();
  for (const pid& p : pids) {
    std::optional<process_info> info = co_await process_info_of(p, std::chrono::milliseconds(100));
    std::string& out = dump.lines;
    out += "  ";
    out += p.to_string();
    dump.signature += p.to_string();
    if (!info) {
      out += "  no answer within 100 ms (running without a pause, or ended)\n";
      dump.signature += " ?\n";
      continue;
    }
    if (info->registered_name) {
      out += ' ';
      out += info->registered_name->to_string();
    }
    out += "  ";
    out += info->status;
    dump.signature += ' ';
    dump.signature += info->status;
    dump.signature += ' ';
    dump.signature += std::to_string(info->message_queue_len);
    dump.signature += '\n';
    out += "\n      initial call ";
    out += info->initial_call;
    out += "; queue ";
    out += std::to_string(info->message_queue_len);
    out += ", reductions ";
    out += std::to_string(info->reductions);
    if (!info->links.empty()) {
      out += ", links ";
      append_pids(out, info->links);
    }
    if (!info->monitors.empty()) {
      out += ", monitors ";
      append_pids(out, info->monitors);
    }
    out += '\n';
  }
  co_return dump;
}

}  // namespace beamline::detail
