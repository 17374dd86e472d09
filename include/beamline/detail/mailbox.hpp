// beamline/detail/mailbox.hpp: a process's mailbox, both halves.
//
// The shared inbox. Every signal to a process (a message, an exit signal, a link
// request, a DOWN, a wake-up) is pushed onto its inbox, a lock-free LIFO kept in
// the process's slot (process_slot.hpp) so that a sender needs only the pid. One CAS
// per push; the head doubles as the owner's wait state, as in CAF:
//   nullptr        empty; the owner is running or runnable
//   a signal*      pending signals, newest first
//   blocked_tag()  empty, and the owner is suspended waiting for a signal: the
//                  sender that replaces it must make the owner runnable
//   closed_tag()   the owner has ended: pushes fail and the sender drops the signal
// The owner takes the whole chain with one exchange and reverses it, which yields
// the signals in push order, so every sender's signals arrive in the order sent.
// Rejected: a Vyukov MPSC queue plus a separate state word (two atomics per send and
// a Dekker-style handshake to block).
//
// The message queue. The owner moves messages from the inbox into a singly linked
// FIFO that only it touches (other signals are acted on as they are taken:
// process_control::drain_inbox). A selective receive scans it oldest first from the
// save point, the first message the current receive has not yet rejected, so a
// receive woken by a new message resumes its scan where it stopped. A receive mark
// (the BEAM's trick for replies) remembers the queue's tail when a reference is
// made; a receive that only accepts messages carrying that reference starts its scan
// there instead of at the head.
//
// Every walk over the queue is one of this class's: scan() for a receive (it moves
// the save point), take_if() for a one-off removal (a flush, a stale DOWN), and
// take_all() when the process ends. The header is public because receive's
// templates inline the scan and its first-message fast path.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "beamline/detail/process_slot.hpp"
#include "beamline/detail/signal.hpp"

namespace beamline::detail {

// --- the shared inbox -----------------------------------------------------------

enum class push_result : std::uint8_t { queued, woke, closed };

// Any thread: appends s (release). `woke`: the owner was blocked and the caller
// must make it runnable.
inline push_result inbox_push(process_slot& slot, signal* s) noexcept {
  signal* head = slot.inbox.load(std::memory_order_relaxed);
  for (;;) {
    if (head == closed_tag()) return push_result::closed;
    s->next = head == blocked_tag() ? nullptr : head;
    // acq_rel: release publishes the signal; acquire pairs with the owner's
    // release when it blocked, so its control block is visible to the waker.
    if (slot.inbox.compare_exchange_weak(head, s, std::memory_order_acq_rel,
                                         std::memory_order_relaxed))
      return head == blocked_tag() ? push_result::woke : push_result::queued;
  }
}

// Owner: whether anything has arrived (the cheapest test, on every receive and check).
inline bool inbox_nonempty(const process_slot& slot) noexcept {
  return slot.inbox.load(std::memory_order_relaxed) != nullptr;
}

// Reverses a chain of signals linked through `next`.
inline signal* reverse_chain(signal* s) noexcept {
  signal* fifo = nullptr;
  while (s != nullptr) {
    signal* next = s->next;
    s->next = fifo;
    fifo = s;
    s = next;
  }
  return fifo;
}

// Owner: takes every pending signal, oldest first.
inline signal* inbox_take_all(process_slot& slot) noexcept {
  if (slot.inbox.load(std::memory_order_relaxed) == nullptr) return nullptr;
  return reverse_chain(slot.inbox.exchange(nullptr, std::memory_order_acquire));
}

// Owner: marks itself blocked if the inbox is empty. On success the process may be
// made runnable by another thread at once: the caller must not touch it again.
inline bool inbox_try_block(process_slot& slot) noexcept {
  signal* expected = nullptr;
  return slot.inbox.compare_exchange_strong(expected, blocked_tag(), std::memory_order_acq_rel,
                                            std::memory_order_relaxed);
}

// Owner, ending: closes the inbox and returns what was left in it, oldest first.
inline signal* inbox_close(process_slot& slot) noexcept {
  signal* s = slot.inbox.exchange(closed_tag(), std::memory_order_acq_rel);
  if (s == blocked_tag() || s == closed_tag()) return nullptr;
  return reverse_chain(s);
}

// --- the message queue (owner only) ---------------------------------------------

class message_queue {
 public:
  message_queue() noexcept = default;
  message_queue(const message_queue&) = delete;
  message_queue& operator=(const message_queue&) = delete;

  std::uint32_t length() const noexcept { return length_; }
  bool empty() const noexcept { return head_ == nullptr; }
  signal* first() const noexcept { return head_; }
  // Messages looked at by receives so far, modulo 2^32 (a statistic).
  std::uint32_t scanned() const noexcept { return scanned_; }

  void append(signal* s) noexcept {
    s->next = nullptr;
    *tail_ = s;
    tail_ = &s->next;
    ++length_;
  }

  // Removes the first message (a receive's fast path matched it at the head).
  signal* take_first() noexcept {
    ++scanned_;
    signal* s = head_;
    head_ = s->next;
    if (tail_ == &s->next) tail_ = &head_;
    for (mark& m : marks_)
      if (m.link == &s->next) m.link = &head_;
    --length_;
    save_ = &head_;
    s->next = nullptr;
    return s;
  }

  // Removes the message *link points to (a link scan() returned), keeping the save
  // point, the tail and the marks valid. The caller owns the removed node.
  signal* unlink(signal** link) noexcept {
    signal* s = *link;
    *link = s->next;
    if (tail_ == &s->next) tail_ = link;
    if (save_ == &s->next) save_ = link;
    for (mark& m : marks_)
      if (m.link == &s->next) m.link = link;
    --length_;
    s->next = nullptr;
    return s;
  }

  // --- a receive's scan ---------------------------------------------------------
  // Starts a receive: its scan begins at the mark recorded for since_key (0: none)
  // if that mark is still known, and at the head otherwise.
  void start_scan(std::uint64_t since_key) noexcept { save_ = scan_start(since_key); }
  // Looks at the messages from the save point on, oldest first, until `accept`
  // returns true for one: returns the link to it (for unlink), or null. The save
  // point moves past every rejected message, so the next scan of the same receive
  // looks only at messages that arrived since.
  template <class Accept>
  signal** scan(Accept&& accept) {
    for (signal** link = save_; *link != nullptr; link = &(*link)->next) {
      signal* s = *link;
      ++scanned_;
      if (accept(s)) return link;
      save_ = &s->next;
    }
    return nullptr;
  }
  // Ends a receive: the next one starts at the head.
  void end_scan() noexcept { save_ = &head_; }

  // Removes the first message from the mark of since_key (0: the head) that
  // `accept` takes, or returns null; the save point is not involved.
  template <class Accept>
  signal* take_if(std::uint64_t since_key, Accept&& accept) {
    for (signal** link = scan_start(since_key); *link != nullptr; link = &(*link)->next)
      if (accept(*link)) return unlink(link);
    return nullptr;
  }

  // Bytes of the queued messages (process_info's memory; walks the queue).
  std::size_t bytes() const noexcept;
  // The same, walking at most `sample` messages and scaling up (the observer).
  std::size_t bytes_estimate(std::uint32_t sample) const noexcept;

  // Takes the whole queue, oldest first, leaving it empty (the process ends).
  signal* take_all() noexcept {
    signal* all = head_;
    head_ = nullptr;
    tail_ = &head_;
    save_ = &head_;
    length_ = 0;
    marks_[0] = marks_[1] = mark{};
    return all;
  }

  // Records a receive mark for key at the queue's tail: the messages that arrive
  // from now on. Two marks are kept, the oldest replaced first.
  void set_mark(std::uint64_t key) noexcept {
    marks_[1] = marks_[0];
    marks_[0] = mark{key, tail_};
  }

 private:
  signal** scan_start(std::uint64_t since_key) noexcept {
    if (since_key != 0)
      for (const mark& m : marks_)
        if (m.key == since_key && m.link != nullptr) return m.link;
    return &head_;
  }

  struct mark {
    std::uint64_t key = 0;
    signal** link = nullptr;
  };

  signal* head_ = nullptr;
  signal** tail_ = &head_;  // the link to append at
  signal** save_ = &head_;  // first link not yet rejected by the current receive
  std::uint32_t length_ = 0;
  std::uint32_t scanned_ = 0;
  mark marks_[2];  // the newest first
};

}  // namespace beamline::detail
