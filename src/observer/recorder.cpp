// recorder.cpp: the flight recorder. While observer_options::record_dir is set, the
// last seconds of the scheduling timeline are written there (as Trace Event JSON,
// observe::to_trace_json) when something worth looking back at happens: a process
// was preempted (a hog kept its worker past its slice) or a mailbox alarm was
// raised; and on request (POST /api/timeline/record).
#include <time.h>

#include <cstdio>
#include <system_error>

#include "beamline/blocking.hpp"
#include "beamline/observe.hpp"
#include "beamline/receive.hpp"
#include "beamline/spawn.hpp"
#include "core/node_runtime.hpp"
#include "core/observe_timeline.hpp"
#include "observer/server.hpp"

namespace beamline::observer {

namespace {

using namespace std::chrono_literals;

constexpr std::chrono::seconds recorded_window{5};
// Runs shorter than this that follow one another are written as one (a file of the
// full rings of a busy node is some 15 MB; this keeps it to a few).
constexpr std::chrono::microseconds recorded_resolution{5};

// "DIR/timeline-20261208-014502.123-preemption.json" (UTC).
std::string record_path(const std::string& dir, const std::string& why) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  std::tm utc{};
  ::gmtime_r(&now.tv_sec, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  char millis[16];
  std::snprintf(millis, sizeof millis, ".%03d", static_cast<int>(now.tv_nsec / 1'000'000));
  return dir + "/timeline-" + stamp + millis + "-" + why + ".json";
}

}  // namespace

task<record_result> record_now(server_state& state, std::string why) {
  if (state.options.record_dir.empty())
    co_return record_result{false, "no record directory (--observer-record DIR)"};
  state.last_record_ns.store(sched::scheduler::now_ns(), std::memory_order_relaxed);
  const observe::detail::timeline_copy rings = observe::detail::copy_timeline();
  const std::string path = record_path(state.options.record_dir, why);
  // The rest on a blocking thread: a slow or full disk holds up no worker, and
  // building the lanes and the text (tens of milliseconds) is not preempted.
  co_return co_await blocking(
      [&rings, &path]() -> record_result {
        try {
          observe::write_timeline(
              path, observe::detail::lanes_of(rings, recorded_window, recorded_resolution));
          return {true, path};
        } catch (const std::system_error& e) {
          return {false, e.what()};
        }
      },
      dirty_pool::io);
}

process record_timeline(std::shared_ptr<server_state> state) {
  become_service();
  detail::node_runtime& node = detail::current_process("observer").node();
  std::uint64_t preemptions = node.statistics().preemptions;
  std::uint64_t alarms = state->alarms_raised.load(std::memory_order_relaxed);
  int written = 0;
  while (written < max_records) {
    co_await sleep(50ms);  // soon after: a busy worker's ring holds a fraction of a second
    const std::uint64_t p = node.statistics().preemptions;
    const std::uint64_t a = state->alarms_raised.load(std::memory_order_relaxed);
    const char* why = p != preemptions ? "preemption" : a != alarms ? "alarm" : nullptr;
    preemptions = p;
    alarms = a;
    if (why == nullptr) continue;
    // Within record_interval of the last file: that one holds most of it already.
    const std::int64_t since =
        sched::scheduler::now_ns() - state->last_record_ns.load(std::memory_order_relaxed);
    if (since < std::chrono::nanoseconds(record_interval).count()) continue;
    const record_result r = co_await record_now(*state, why);
    if (r.written) {
      ++written;
      std::fprintf(stderr, "beamline: observer: timeline recorded (%s): %s\n", why, r.text.c_str());
    } else {
      std::fprintf(stderr, "beamline: observer: could not record the timeline: %s\n",
                   r.text.c_str());
    }
  }
  std::fprintf(stderr, "beamline: observer: %d timelines recorded: the recorder stops\n",
               max_records);
}

}  // namespace beamline::observer
