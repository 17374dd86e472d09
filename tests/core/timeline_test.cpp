// timeline_*: the scheduling timeline (bl::observe::timeline): each worker's runs,
// parks and hand-offs, read back as lanes, and written as Trace Event JSON.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <system_error>

#include "beamline/detail/thread_state.hpp"
#include "beamline/observe.hpp"
#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace observe = bl::observe;

class timeline_test : public node_test {};
BEAMLINE_SWEEP_WORKERS(timeline_test);

struct ball {
  int left;
};
struct stop {};

std::vector<const observe::timeline_run*> runs_of(const observe::scheduling_timeline& t,
                                                  bl::pid p) {
  std::vector<const observe::timeline_run*> out;
  for (const auto& lane : t.lanes)
    for (const auto& run : lane.runs)
      if (run.process == p) out.push_back(&run);
  return out;
}

// Two processes pass a ball 200 times: both show on the lanes, in order on each
// lane and inside the window, and the registered one is labelled with its name
// while it lives.
TEST_P(timeline_test, a_ping_pong_pair_shows_on_the_lanes) {
  observe::scheduling_timeline t;
  bl::pid ping, pong;
  run([&]() -> bl::process {
    pong = bl::spawn([]() -> bl::process {
      bl::register_name(bl::atom("pong"), bl::self());
      for (;;) {
        auto [from, b] = co_await bl::receive<bl::pid, ball>();
        bl::send(from, ball{b.left - 1});
        if (b.left <= 1) break;
      }
      co_await bl::receive([](stop) {});
    });
    ping = bl::self();
    for (int left = 200; left > 0;) {
      bl::send(pong, bl::self(), ball{left});
      left = (co_await bl::receive<ball>()).left;
    }
    t = observe::timeline(10s);
    bl::send(pong, stop{});
  });
  ASSERT_EQ(t.lanes.size(), GetParam().schedulers);
  const auto pongs = runs_of(t, pong);
  EXPECT_GE(pongs.size(), 100u);
  EXPECT_FALSE(runs_of(t, ping).empty());
  for (const auto& lane : t.lanes) {
    std::int64_t previous_end = t.from_ns;
    for (const auto& r : lane.runs) {
      EXPECT_LE(r.start_ns, r.end_ns);
      EXPECT_GE(r.end_ns, t.from_ns);
      EXPECT_LE(r.end_ns, t.now_ns);
      EXPECT_GE(r.start_ns, std::min(previous_end, r.end_ns) - 1);
      previous_end = r.end_ns;
    }
  }
  auto label = std::find_if(t.labels.begin(), t.labels.end(),
                            [&](const auto& l) { return l.first == pong; });
  ASSERT_NE(label, t.labels.end());
  EXPECT_EQ(label->second, "pong");
}

// A node whose only process sleeps has its workers parked meanwhile.
TEST_P(timeline_test, an_idle_worker_shows_parked) {
  observe::scheduling_timeline t;
  run([&]() -> bl::process {
    co_await bl::sleep(30ms);
    t = observe::timeline(1s);
  });
  std::int64_t parked = 0;
  for (const auto& lane : t.lanes)
    for (const auto& [from, to] : lane.parked) parked = std::max(parked, to - from);
  EXPECT_GE(parked, std::chrono::nanoseconds(10ms).count());
}

// A process that runs native code past its slice loses its worker: its run is
// handed off, and lasted about as long as the slice.
TEST_P(timeline_test, a_preempted_run_is_handed_off) {
  if (GetParam().deterministic) GTEST_SKIP() << "no preemption in deterministic mode";
  observe::scheduling_timeline t;
  bl::pid hog;
  run([&]() -> bl::process {
    // It spins until it is off its worker (the monitor may first have to start a
    // spare thread to hand the worker to), 10 s at most.
    hog = bl::spawn([]() -> bl::process {
      const auto until = std::chrono::steady_clock::now() + 10s;
      volatile unsigned spin = 0;
      while (bl::detail::this_thread.worker != nullptr && std::chrono::steady_clock::now() < until)
        spin = spin + 1;
      co_return;
    });
    bl::monitor(hog);
    co_await bl::receive<bl::down_message>();
    // The spare thread that took the worker over writes the hand-off when it wakes,
    // which may be after the hog has ended.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    do {
      t = observe::timeline(20s);
      for (const auto& lane : t.lanes)
        for (const auto& r : lane.runs)
          if (r.process == hog && r.handed_off) co_return;
      co_await bl::sleep(5ms);
    } while (std::chrono::steady_clock::now() < deadline);
  });
  const auto runs = runs_of(t, hog);
  auto handed = std::find_if(runs.begin(), runs.end(),
                             [](const observe::timeline_run* r) { return r->handed_off; });
  ASSERT_NE(handed, runs.end());
  EXPECT_GE((*handed)->end_ns - (*handed)->start_ns, std::chrono::nanoseconds(1ms).count());
}

// Runs shorter than the resolution that follow one another are drawn as one.
TEST_P(timeline_test, short_runs_merge_at_a_coarse_resolution) {
  observe::scheduling_timeline fine, coarse;
  run([&]() -> bl::process {
    for (int i = 0; i < 2000; ++i) co_await bl::yield();
    fine = observe::timeline(10s);
    coarse = observe::timeline(10s, 10ms);
  });
  std::size_t fine_runs = 0, coarse_spans = 0, coarse_runs = 0;
  for (const auto& lane : fine.lanes) fine_runs += lane.runs.size();
  for (const auto& lane : coarse.lanes) {
    coarse_spans += lane.runs.size();
    for (const auto& r : lane.runs) coarse_runs += r.runs;
  }
  EXPECT_GE(fine_runs, 2000u);
  EXPECT_LT(coarse_spans, fine_runs / 10);
  // Merging keeps the count (runs that ended before the window are not in either).
  EXPECT_GE(coarse_runs + 16, fine_runs);
}

TEST_P(timeline_test, the_trace_json_names_each_run_after_its_process) {
  std::string json;
  bl::pid worker;
  run([&]() -> bl::process {
    worker = bl::spawn([]() -> bl::process { co_await bl::sleep(1ms); });
    bl::register_name(bl::atom("tracer"), bl::self());
    co_await bl::sleep(5ms);
    json = observe::to_trace_json(observe::timeline(10s));
  });
  EXPECT_NE(json.find("\"traceEvents\""), std::string::npos);
  EXPECT_NE(json.find("\"" + worker.to_string()), std::string::npos);
  EXPECT_NE(json.find("tracer"), std::string::npos);
  EXPECT_NE(json.find("\"thread_name\""), std::string::npos);
}

TEST_P(timeline_test, the_flight_recorder_reports_a_file_it_cannot_write) {
  bool threw = false;
  run([&]() -> bl::process {
    try {
      observe::write_timeline("/nonexistent-directory/timeline.json");
    } catch (const std::system_error&) {
      threw = true;
    }
    co_return;
  });
  EXPECT_TRUE(threw);
}

TEST(timeline_off, a_node_without_a_timeline_has_empty_lanes) {
  bl::node_options o;
  o.schedulers = 2;
  o.timeline_events = 0;
  bl::node node(o);
  observe::scheduling_timeline t;
  node.spawn([&]() -> bl::process {
    for (int i = 0; i < 100; ++i) co_await bl::yield();
    t = observe::timeline(10s);
  });
  node.run();
  ASSERT_EQ(t.lanes.size(), 2u);
  for (const auto& lane : t.lanes) EXPECT_TRUE(lane.runs.empty());
}

}  // namespace
