// Unit tests of a worker's timeline ring (sched/timeline.hpp): what a copy holds,
// how a run's end is written into it, and a reader racing the writer.
#include "sched/timeline.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {

using beamline::sched::timeline_ring;
using beamline::sched::trace_event;
using beamline::sched::trace_kind;

std::int64_t fixed_now() {
  return 1'000'000;
}

std::uint64_t process(std::uint32_t slot, std::uint32_t serial) {
  return std::uint64_t{serial} << 32 | slot;
}

TEST(timeline_ring, a_copy_holds_the_events_in_order) {
  timeline_ring ring(8);
  EXPECT_TRUE(ring.copy().empty());
  ring.run(process(3, 7));
  ring.mark(trace_kind::park, 0, 5000);
  const std::vector<trace_event> events = ring.copy();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind(), trace_kind::run);
  EXPECT_EQ(events[0].slot(), 3u);
  EXPECT_EQ(events[0].serial(), 7u);
  EXPECT_EQ(events[1].kind(), trace_kind::park);
  EXPECT_EQ(events[1].time(6000), 5000);
}

TEST(timeline_ring, a_run_keeps_the_slot_and_the_serial) {
  timeline_ring ring(4);
  ring.run(process(9, 0x2bcdef12));
  const trace_event e = ring.copy().at(0);
  EXPECT_EQ(e.kind(), trace_kind::run);
  EXPECT_EQ(e.slot(), 9u);
  EXPECT_EQ(e.serial(), 0x2bcdef12u);
}

TEST(timeline_ring, a_tick_is_marked_once_per_value) {
  timeline_ring ring(8);
  ring.mark_tick(1, fixed_now);
  ring.mark_tick(1, fixed_now);
  ring.run(process(2, 1));
  ring.mark_tick(2, fixed_now);
  const std::vector<trace_event> events = ring.copy();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind(), trace_kind::tick);
  EXPECT_EQ(events[0].time(fixed_now()), fixed_now());
  EXPECT_EQ(events[1].kind(), trace_kind::run);
  EXPECT_EQ(events[2].kind(), trace_kind::tick);
}

// (All but one: a copy cannot tell a slot being written again from one that is not.)
TEST(timeline_ring, keeps_the_newest_events_when_full) {
  timeline_ring ring(4);
  for (std::uint32_t i = 0; i < 10; ++i) ring.run(process(i, 0));
  const std::vector<trace_event> events = ring.copy();
  ASSERT_EQ(events.size(), 3u);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(events[i].slot(), 7 + i);
}

TEST(timeline_ring, a_mark_time_unwraps_past_48_bits) {
  timeline_ring ring(4);
  const std::int64_t at = (std::int64_t{1} << 50) + 12345;
  ring.mark(trace_kind::steal, 3, at);
  const trace_event e = ring.copy().at(0);
  EXPECT_EQ(e.time(at + 1'000'000'000), at);
  EXPECT_EQ(e.time(at - 5), at);  // written after the reader's clock read
  EXPECT_EQ(e.aux(), 3u);
}

// A reader copies while the owner writes runs numbered in order: every copy is a
// run of consecutive numbers, however the two interleave.
TEST(timeline_ring, a_reader_never_sees_a_torn_or_reordered_copy) {
  timeline_ring ring(64);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (std::uint32_t i = 1; i <= 200'000; ++i) ring.run(process(i, i));
    done = true;
  });
  bool finished = false;
  do {
    finished = done.load();  // one copy at least after the writer's last event
    const std::vector<trace_event> events = ring.copy();
    for (std::size_t k = 1; k < events.size(); ++k) {
      ASSERT_EQ(events[k].slot(), events[k - 1].slot() + 1);
      ASSERT_EQ(events[k].serial(), events[k].slot());
    }
    if (finished) {
      ASSERT_EQ(events.size(), 63u);
      EXPECT_EQ(events.back().slot(), 200'000u);
    }
  } while (!finished);
  writer.join();
}

}  // namespace
