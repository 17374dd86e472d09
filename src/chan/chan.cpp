// chan.cpp: the channel core (beamline/detail/chan_core.hpp): a buffer, two queues
// of waiters, and the hand-off between them, under one lock per channel.
#include <sched.h>
#include <algorithm>
#include <chrono>

#include <cstdio>
#include <functional>
#include <new>
#include <stdexcept>
#include <string>

#include "beamline/chan.hpp"
#include "beamline/detail/chan_core.hpp"
#include "beamline/select.hpp"
#include "core/node_runtime.hpp"
#include "core/signals.hpp"

namespace beamline::detail {

std::int64_t timeout_deadline(std::int64_t timeout_ns);

// --- what the typed side needs (beamline/chan.hpp) ---------------------------------------

void throw_send_on_closed() {
  throw error(atom("send_on_closed_channel"), "beamline: send on a closed channel");
}

void throw_close_of_closed() {
  throw error(atom("close_of_closed_channel"),
              "beamline: close of a closed channel (or of the nil channel)");
}

void throw_blocking_in_process(const char* operation) {
  throw std::logic_error(std::string("beamline: chan::") + operation +
                         " blocks its thread: a process uses co_await send() / receive()");
}

std::int64_t chan_deadline(std::chrono::nanoseconds timeout) {
  return timeout_deadline(timeout.count());
}

void chan_block_thread(chan_group& group) noexcept {
  while (!group.is_ready()) group.ready.wait(0, std::memory_order_acquire);
}

// --- select (beamline/select.hpp) ---------------------------------------------------------

__extension__ using uint128 = unsigned __int128;

void random_order(std::uint8_t* order, std::size_t n) noexcept {
  // xorshift64*, one state per thread, seeded from its address and the clock.
  thread_local std::uint64_t state = 0;
  auto next = []() noexcept {
    if (state == 0)
      state = (reinterpret_cast<std::uintptr_t>(&state) ^
               static_cast<std::uint64_t>(
                   std::chrono::steady_clock::now().time_since_epoch().count())) |
              1;
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1DULL;
  };
  for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint8_t>(i);
  // Fisher-Yates with few draws: the index in [0, i) is the high half of r * i and
  // the low half is what is left of r's randomness for the next step (batched
  // ranged random integers); a fresh draw once the product of the ranges used
  // passes 2^24, so at least 32 random bits remain behind each index.
  std::uint64_t r = next();
  std::uint64_t used = 1;
  for (std::size_t i = n; i > 1; --i) {
    if (used > (std::uint64_t{1} << 24)) {
      r = next();
      used = 1;
    }
    const uint128 m = static_cast<uint128>(r) * i;
    const auto j = static_cast<std::size_t>(m >> 64);
    r = static_cast<std::uint64_t>(m);
    used *= i;
    std::swap(order[i - 1], order[j]);
  }
}

namespace {

// The distinct channels of `cores`, in address order (nulls first), in place.
void sort_channels(chan_core** cores, std::size_t n) noexcept {
  std::sort(cores, cores + n, std::less<chan_core*>());
}

}  // namespace

void lock_channels(chan_core** cores, std::size_t n) noexcept BL_NO_THREAD_SAFETY_ANALYSIS {
  sort_channels(cores, n);
  for (std::size_t i = 0; i < n; ++i)
    if (cores[i] != nullptr && (i == 0 || cores[i] != cores[i - 1])) cores[i]->lock();
}

void unlock_channels(chan_core** cores, std::size_t n) noexcept BL_NO_THREAD_SAFETY_ANALYSIS {
  for (std::size_t i = n; i-- > 0;)
    if (cores[i] != nullptr && (i == 0 || cores[i] != cores[i - 1])) cores[i]->unlock();
}

// --- the lock ------------------------------------------------------------------------------

void chan_lock::lock_slow() noexcept {
  for (int tries = 0;; ++tries) {
    while (locked_.load(std::memory_order_relaxed)) {
      if (tries < 256) {
        __builtin_ia32_pause();
        ++tries;
      } else {
        sched_yield();
      }
    }
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
  }
}

// --- wakes -----------------------------------------------------------------------------

void chan_wakes::add(node_runtime* node, const pid& process) {
  if (first_.first == nullptr)
    first_ = {node, process};
  else
    more_.emplace_back(node, process);
}

void chan_wakes::deliver() noexcept {
  if (first_.first != nullptr) first_.first->wake(first_.second);
  for (const auto& [node, process] : more_) node->wake(process);
}

// --- queues ----------------------------------------------------------------------------

void chan_core::queue::push(chan_waiter& w) noexcept {
  w.prev = tail;
  w.next = nullptr;
  if (tail != nullptr)
    tail->next = &w;
  else
    head = &w;
  tail = &w;
  w.queued = true;
  if (w.prev == nullptr) waiting.store(true, std::memory_order_relaxed);
}

void chan_core::queue::remove(chan_waiter& w) noexcept {
  if (w.prev != nullptr)
    w.prev->next = w.next;
  else
    head = w.next;
  if (w.next != nullptr)
    w.next->prev = w.prev;
  else
    tail = w.prev;
  w.prev = w.next = nullptr;
  w.queued = false;
  if (head == nullptr) waiting.store(false, std::memory_order_relaxed);
}

chan_waiter* chan_core::queue::claim_first() noexcept {
  while (chan_waiter* w = head) {
    remove(*w);
    if (w->group->claim(w->index)) return w;
    // Its wait was completed by another of its cases (a select): it leaves.
  }
  return nullptr;
}

// --- the channel -------------------------------------------------------------------------

chan_core::chan_core(std::size_t capacity, const chan_value_ops& ops)
    : ops_(ops), capacity_(capacity) {
  if (capacity_ != 0)
    buffer_ = static_cast<unsigned char*>(
        ::operator new(capacity_* ops_.size, std::align_val_t(ops_.align)));
}

chan_core::~chan_core() {
  critical_section critical;
  lock_guard guard(lock_);
  const std::size_t count = count_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < count; ++i) ops_.destroy(cell(head_ + i));
  if (buffer_ != nullptr) ::operator delete(buffer_, std::align_val_t(ops_.align));
}

void chan_core::complete(chan_waiter& w, bool closed, chan_wakes& wakes) noexcept {
  chan_group& g = *w.group;
  g.closed = closed;
  node_runtime* const node = g.node;
  const pid process = g.process;
  // Once `ready` is set a waiting process may see it and go on without taking this
  // channel's lock: the group is not touched after.
  if (node != nullptr) {
    g.ready.store(1, std::memory_order_release);
    try {
      wakes.add(node, process);
    } catch (...) {
      std::fputs("beamline: out of memory waking a process blocked on a channel\n", stderr);
    }
  } else {
    // A plain thread leaves every channel (taking its lock, which we hold) before
    // its group goes: it may be notified after `ready` is set.
    g.ready.store(1, std::memory_order_release);
    g.ready.notify_all();
  }
}

chan_core::outcome chan_core::send_locked(void* value, chan_waiter* w, chan_wakes& wakes) {
  if (closed_.load(std::memory_order_relaxed)) return outcome::closed;
  if (chan_waiter* receiver = receivers_.claim_first()) {
    ops_.move_to(receiver->slot, value);
    complete(*receiver, false, wakes);
    return outcome::done;
  }
  if (const std::size_t count = count_.load(std::memory_order_relaxed); count < capacity_) {
    ops_.move_to(cell(head_ + count), value);
    count_.store(count + 1, std::memory_order_relaxed);
    return outcome::done;
  }
  if (w != nullptr) enqueue_locked(*w, true);
  return outcome::would_block;
}

chan_core::outcome chan_core::receive_locked(void* storage, chan_waiter* w, chan_wakes& wakes) {
  if (const std::size_t count = count_.load(std::memory_order_relaxed); count > 0) {
    ops_.move_to(storage, cell(head_));
    if (++head_ == capacity_) head_ = 0;
    // A sender waits only when the buffer is full: its value takes the freed place.
    if (chan_waiter* sender = senders_.claim_first()) {
      ops_.move_to(cell(head_ + count - 1), sender->slot);
      complete(*sender, false, wakes);
    } else {
      count_.store(count - 1, std::memory_order_relaxed);
    }
    return outcome::done;
  }
  if (chan_waiter* sender = senders_.claim_first()) {
    ops_.move_to(storage, sender->slot);
    complete(*sender, false, wakes);
    return outcome::done;
  }
  if (closed_.load(std::memory_order_relaxed)) return outcome::closed;
  if (w != nullptr) enqueue_locked(*w, false);
  return outcome::would_block;
}

void chan_core::enqueue_locked(chan_waiter& w, bool sender) {
  w.sending = sender;
  (sender ? senders_ : receivers_).push(w);
}

void chan_core::dequeue_locked(chan_waiter& w) noexcept {
  if (w.queued) (w.sending ? senders_ : receivers_).remove(w);
}

void chan_core::leave(chan_waiter& w) noexcept {
  critical_section critical;
  lock_guard guard(lock_);
  dequeue_locked(w);
}

chan_core::outcome chan_core::operate(bool sending, void* slot, chan_waiter* w) {
  chan_wakes wakes;
  outcome result;
  {
    critical_section critical;
    lock_guard guard(lock_);
    result = sending ? send_locked(slot, w, wakes) : receive_locked(slot, w, wakes);
  }
  wakes.deliver();
  return result;
}

bool chan_core::close() {
  chan_wakes wakes;
  {
    critical_section critical;
    lock_guard guard(lock_);
    if (closed_.load(std::memory_order_relaxed)) return false;
    closed_.store(true, std::memory_order_relaxed);
    while (chan_waiter* w = receivers_.claim_first()) complete(*w, true, wakes);
    while (chan_waiter* w = senders_.claim_first()) complete(*w, true, wakes);
  }
  wakes.deliver();
  return true;
}

std::size_t chan_core::length() const {
  critical_section critical;
  lock_guard guard(lock_);
  return count_.load(std::memory_order_relaxed);
}

}  // namespace beamline::detail
