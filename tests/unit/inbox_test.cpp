// Unit tests of the inbox protocol (beamline/detail/mailbox.hpp): order per sender, the
// blocked tag handing the wake-up to exactly one sender, and closed inboxes.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <tuple>
#include <vector>

#include "beamline/detail/mailbox.hpp"

namespace {

using beamline::detail::process_slot;
using beamline::detail::push_result;
using beamline::detail::signal_kind;
using namespace beamline::detail;
using payload = std::tuple<int, int>;  // sender, sequence number

beamline::detail::signal* make(int sender, int seq) {
  return make_signal<payload>(signal_kind::message, sender, seq);
}

TEST(inbox, keeps_each_senders_order) {
  process_slot slot;
  constexpr int senders = 4, per_sender = 50000;
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s)
    threads.emplace_back([&, s] {
      for (int i = 0; i < per_sender; ++i) inbox_push(slot, make(s, i));
    });
  std::vector<int> next(senders, 0);
  int received = 0;
  while (received < senders * per_sender) {
    for (beamline::detail::signal* s = inbox_take_all(slot); s != nullptr;) {
      beamline::detail::signal* following = s->next;
      auto [sender, seq] = payload_of<payload>(s);
      EXPECT_EQ(seq, next[sender]++);
      destroy(s);
      ++received;
      s = following;
    }
  }
  for (auto& t : threads) t.join();
}

TEST(inbox, exactly_one_sender_wakes_a_blocked_owner) {
  for (int round = 0; round < 2000; ++round) {
    process_slot slot;
    ASSERT_TRUE(inbox_try_block(slot));
    std::atomic<int> wakers{0};
    std::vector<std::thread> threads;
    for (int s = 0; s < 3; ++s)
      threads.emplace_back([&, s] {
        if (inbox_push(slot, make(s, 0)) == push_result::woke) wakers.fetch_add(1);
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(wakers.load(), 1);
    int count = 0;
    for (beamline::detail::signal* s = inbox_take_all(slot); s != nullptr;) {
      beamline::detail::signal* following = s->next;
      destroy(s);
      ++count;
      s = following;
    }
    EXPECT_EQ(count, 3);
  }
}

TEST(inbox, owner_cannot_block_with_pending_signals) {
  process_slot slot;
  inbox_push(slot, make(0, 0));
  EXPECT_FALSE(inbox_try_block(slot));
  destroy(inbox_take_all(slot));
  EXPECT_TRUE(inbox_try_block(slot));
}

TEST(inbox, a_closed_inbox_refuses_pushes_and_returns_leftovers) {
  process_slot slot;
  inbox_push(slot, make(0, 1));
  inbox_push(slot, make(0, 2));
  beamline::detail::signal* left = inbox_close(slot);
  ASSERT_NE(left, nullptr);
  EXPECT_EQ(std::get<1>(payload_of<payload>(left)), 1);
  EXPECT_EQ(std::get<1>(payload_of<payload>(left->next)), 2);
  destroy(left->next);
  destroy(left);
  beamline::detail::signal* late = make(0, 3);
  EXPECT_EQ(inbox_push(slot, late), push_result::closed);
  destroy(late);
}

}  // namespace
