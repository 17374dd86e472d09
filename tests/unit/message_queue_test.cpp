// Unit tests of the owner's message queue (beamline/detail/mailbox.hpp): the save
// point a receive resumes from, receive marks, unlinking in the middle, and one-off
// removals that leave a receive's scan where it was.
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "beamline/detail/mailbox.hpp"

namespace {

using beamline::detail::destroy;
using beamline::detail::make_signal;
using beamline::detail::message_queue;
using beamline::detail::payload_of;
using beamline::detail::signal_kind;
using signal = beamline::detail::signal;
using payload = std::tuple<int>;

signal* make(int value) {
  return make_signal<payload>(signal_kind::message, value);
}
int value_of(signal* s) {
  return std::get<0>(payload_of<payload>(s));
}

// Frees whatever is left in the queue at the end of a test.
struct queue_fixture : ::testing::Test {
  message_queue q;
  ~queue_fixture() override {
    for (signal* s = q.take_all(); s != nullptr;) {
      signal* next = s->next;
      destroy(s);
      s = next;
    }
  }
  void append(std::initializer_list<int> values) {
    for (int v : values) q.append(make(v));
  }
  std::vector<int> contents() const {
    std::vector<int> out;
    for (signal* s = q.first(); s != nullptr; s = s->next) out.push_back(value_of(s));
    return out;
  }
  // Unlinks and frees the message a link points to, returning its value.
  int take(signal** link) {
    signal* s = q.unlink(link);
    int v = value_of(s);
    destroy(s);
    return v;
  }
};

using message_queue_test = queue_fixture;

TEST_F(message_queue_test, appends_in_order_and_counts) {
  EXPECT_TRUE(q.empty());
  append({1, 2, 3});
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.length(), 3u);
  EXPECT_EQ(contents(), (std::vector<int>{1, 2, 3}));
}

TEST_F(message_queue_test, a_scan_resumes_after_the_messages_it_rejected) {
  append({1, 2, 3});
  q.start_scan(0);
  std::vector<int> seen;
  auto want_4 = [&](signal* s) {
    seen.push_back(value_of(s));
    return value_of(s) == 4;
  };
  EXPECT_EQ(q.scan(want_4), nullptr);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  // New messages arrive; the same receive looks only at them.
  append({5, 4});
  seen.clear();
  signal** link = q.scan(want_4);
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(seen, (std::vector<int>{5, 4}));
  EXPECT_EQ(take(link), 4);
  q.end_scan();
  EXPECT_EQ(contents(), (std::vector<int>{1, 2, 3, 5}));
  // The next receive starts at the head again.
  q.start_scan(0);
  seen.clear();
  EXPECT_EQ(q.scan(want_4), nullptr);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 5}));
  EXPECT_EQ(q.scanned(), 3u + 2u + 4u);
}

TEST_F(message_queue_test, unlinking_the_last_rejected_message_keeps_the_save_point) {
  append({1, 2});
  q.start_scan(0);
  EXPECT_EQ(q.scan([](signal*) { return false; }), nullptr);  // the save point is past 2
  // A one-off removal of 2 (the message just before the save point).
  signal* two = q.take_if(0, [](signal* s) { return value_of(s) == 2; });
  ASSERT_NE(two, nullptr);
  destroy(two);
  // The scan still sees only what arrives from now on, and appends still work.
  append({3});
  std::vector<int> seen;
  EXPECT_EQ(q.scan([&](signal* s) {
    seen.push_back(value_of(s));
    return false;
  }),
            nullptr);
  EXPECT_EQ(seen, (std::vector<int>{3}));
  EXPECT_EQ(contents(), (std::vector<int>{1, 3}));
  EXPECT_EQ(q.length(), 2u);
}

TEST_F(message_queue_test, unlinking_in_the_middle_and_at_the_tail_keeps_the_queue_whole) {
  append({1, 2, 3, 4});
  q.start_scan(0);
  EXPECT_EQ(take(q.scan([](signal* s) { return value_of(s) == 2; })), 2);
  q.end_scan();
  q.start_scan(0);
  EXPECT_EQ(take(q.scan([](signal* s) { return value_of(s) == 4; })), 4);  // the tail
  q.end_scan();
  append({5});  // appends after the new tail
  EXPECT_EQ(contents(), (std::vector<int>{1, 3, 5}));
  EXPECT_EQ(q.length(), 3u);
  signal* first = q.take_first();
  EXPECT_EQ(value_of(first), 1);
  destroy(first);
  EXPECT_EQ(contents(), (std::vector<int>{3, 5}));
}

TEST_F(message_queue_test, a_marked_scan_starts_at_the_messages_that_arrived_after_the_mark) {
  append({1, 2});
  q.set_mark(42);
  append({3, 4});
  std::vector<int> seen;
  q.start_scan(42);
  EXPECT_EQ(q.scan([&](signal* s) {
    seen.push_back(value_of(s));
    return false;
  }),
            nullptr);
  EXPECT_EQ(seen, (std::vector<int>{3, 4}));
  q.end_scan();
  // An unknown key scans from the head.
  seen.clear();
  q.start_scan(7);
  q.scan([&](signal* s) {
    seen.push_back(value_of(s));
    return false;
  });
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4}));
  q.end_scan();
}

TEST_F(message_queue_test, a_mark_survives_the_removal_of_the_message_before_it) {
  append({1, 2});
  q.set_mark(42);  // the mark is the link after 2
  append({3});
  // Remove 2, the message the mark's link belongs to, then the head.
  destroy(q.take_if(0, [](signal* s) { return value_of(s) == 2; }));
  signal* head = q.take_first();
  EXPECT_EQ(value_of(head), 1);
  destroy(head);
  std::vector<int> seen;
  q.start_scan(42);
  q.scan([&](signal* s) {
    seen.push_back(value_of(s));
    return false;
  });
  EXPECT_EQ(seen, (std::vector<int>{3}));
  q.end_scan();
  // take_if from the mark finds only messages after it.
  EXPECT_EQ(q.take_if(42, [](signal* s) { return value_of(s) == 1; }), nullptr);
  signal* three = q.take_if(42, [](signal* s) { return value_of(s) == 3; });
  ASSERT_NE(three, nullptr);
  destroy(three);
  EXPECT_TRUE(q.empty());
  append({6});  // the tail moved back to the head
  EXPECT_EQ(contents(), (std::vector<int>{6}));
}

TEST_F(message_queue_test, two_marks_are_kept_the_oldest_replaced_first) {
  append({1});
  q.set_mark(10);
  append({2});
  q.set_mark(20);
  append({3});
  q.set_mark(30);  // replaces 10
  append({4});
  auto from = [&](std::uint64_t key) {
    std::vector<int> seen;
    q.start_scan(key);
    q.scan([&](signal* s) {
      seen.push_back(value_of(s));
      return false;
    });
    q.end_scan();
    return seen;
  };
  EXPECT_EQ(from(20), (std::vector<int>{3, 4}));
  EXPECT_EQ(from(30), (std::vector<int>{4}));
  EXPECT_EQ(from(10), (std::vector<int>{1, 2, 3, 4}));  // forgotten: from the head
}

TEST_F(message_queue_test, take_all_empties_the_queue_and_forgets_the_marks) {
  append({1, 2});
  q.set_mark(5);
  signal* all = q.take_all();
  int n = 0;
  for (signal* s = all; s != nullptr;) {
    signal* next = s->next;
    destroy(s);
    s = next;
    ++n;
  }
  EXPECT_EQ(n, 2);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.length(), 0u);
  append({3});
  std::vector<int> seen;
  q.start_scan(5);
  q.scan([&](signal* s) {
    seen.push_back(value_of(s));
    return false;
  });
  q.end_scan();
  EXPECT_EQ(seen, (std::vector<int>{3}));
}

}  // namespace
