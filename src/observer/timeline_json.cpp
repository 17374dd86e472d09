// timeline_json.cpp: the scheduling timeline in the Trace Event format
// (observe::to_trace_json), which chrome://tracing and Perfetto open, and the
// flight recorder that writes it to a file (observe::write_timeline).
#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <system_error>
#include <unordered_map>

#include "beamline/observe.hpp"

namespace beamline::observe {

namespace {

using json = nlohmann::json;

double micros(std::int64_t ns, std::int64_t origin) {
  return static_cast<double>(ns - origin) / 1000.0;
}

}  // namespace

std::string to_trace_json(const scheduling_timeline& timeline) {
  std::unordered_map<std::uint64_t, std::string> labels;
  for (const auto& [process, label] : timeline.labels)
    labels[std::uint64_t{process.serial} << 32 | process.id] = label;
  const std::int64_t origin = timeline.from_ns;
  json events = json::array();
  events.push_back({{"name", "process_name"},
                    {"ph", "M"},
                    {"pid", 1},
                    {"args", {{"name", "beamline scheduler"}}}});
  for (const timeline_lane& lane : timeline.lanes) {
    const int tid = static_cast<int>(lane.worker) + 1;
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", 1},
                      {"tid", tid},
                      {"args", {{"name", "worker " + std::to_string(lane.worker)}}}});
    for (const timeline_run& run : lane.runs) {
      const std::string process = run.process.to_string();
      const std::string& label = labels[std::uint64_t{run.process.serial} << 32 | run.process.id];
      std::string name = label.empty() ? process : process + " " + label;
      if (run.runs > 1) name += " and " + std::to_string(run.runs - 1) + " more runs";
      events.push_back(
          {{"name", name},
           {"cat", "run"},
           {"ph", "X"},
           {"pid", 1},
           {"tid", tid},
           {"ts", micros(run.start_ns, origin)},
           {"dur", micros(run.end_ns, run.start_ns)},
           {"args", {{"pid", process}, {"handed_off", run.handed_off}, {"runs", run.runs}}}});
    }
    for (const auto& [from, to] : lane.parked)
      events.push_back({{"name", "parked"},
                        {"cat", "idle"},
                        {"ph", "X"},
                        {"pid", 1},
                        {"tid", tid},
                        {"ts", micros(std::max(from, origin), origin)},
                        {"dur", micros(to, std::max(from, origin))}});
    for (const auto& [at, victim] : lane.steals)
      events.push_back({{"name", "steal from worker " + std::to_string(victim)},
                        {"ph", "i"},
                        {"s", "t"},
                        {"pid", 1},
                        {"tid", tid},
                        {"ts", micros(at, origin)}});
  }
  return json{{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

void write_timeline(const std::string& path, std::chrono::milliseconds window) {
  write_timeline(path, timeline(window));
}

void write_timeline(const std::string& path, const scheduling_timeline& timeline) {
  const std::string text = to_trace_json(timeline);
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::system_error(errno, std::generic_category(), path);
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int write_error = errno;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) {
    std::remove(path.c_str());
    throw std::system_error(written ? errno : write_error, std::generic_category(), path);
  }
}

}  // namespace beamline::observe
