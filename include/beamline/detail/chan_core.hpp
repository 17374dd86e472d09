// beamline/detail/chan_core.hpp: the type-erased heart of a channel (bl::chan<T>,
// beamline/chan.hpp): its buffer, its queues of waiting senders and receivers, and
// the hand-off between them. docs/design/channels.md states the invariants.
//
// A wait (one send or receive, or a select over several) is a chan_group: whoever
// completes it first claims it (a CAS on `fired`), moves the value while holding
// the channel's lock, then publishes `ready` and wakes the waiter: a process
// through a wake signal, a plain thread through the atomic itself. Each operation
// of the wait is a chan_waiter queued on its channel. A waiter leaves every queue
// it is still in before its memory goes (it resumed, timed out, or its process was
// killed), taking each channel's lock: so a completion that had already begun is
// over by then.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "beamline/detail/thread_safety.hpp"
#include "beamline/detail/thread_state.hpp"
#include "beamline/pid.hpp"

namespace beamline::detail {

class node_runtime;

// How a channel moves values of its type: `move_to` move-constructs *to from *from
// and destroys *from; `destroy` destroys a value.
struct chan_value_ops {
  std::size_t size;
  std::size_t align;
  void (*move_to)(void* to, void* from) noexcept;
  void (*destroy)(void* value) noexcept;
};

template <class T>
inline constexpr chan_value_ops chan_ops_of{
    sizeof(T), alignof(T),
    [](void* to, void* from) noexcept {
      T* source = static_cast<T*>(from);
      ::new (to) T(std::move(*source));
      source->~T();
    },
    [](void* value) noexcept { static_cast<T*>(value)->~T(); }};

// One wait: who waits, and how it ended.
struct chan_group {
  std::atomic<int> fired{-1};           // the case that completed it (claimed); -1: none yet
  std::atomic<std::uint32_t> ready{0};  // 1 once that case's transfer is done
  bool closed = false;                  // that case found its channel closed (set before ready)
  // A process waits (node != null), or a plain thread waits on `ready`.
  node_runtime* node = nullptr;
  pid process;

  bool claim(int index) noexcept {
    int none = -1;
    return fired.compare_exchange_strong(none, index, std::memory_order_acq_rel);
  }
  bool is_ready() const noexcept { return ready.load(std::memory_order_acquire) != 0; }
};

// One operation of a wait, queued on its channel.
struct chan_waiter {
  chan_waiter* prev = nullptr;
  chan_waiter* next = nullptr;
  chan_group* group = nullptr;
  int index = 0;         // the case it is (of group)
  void* slot = nullptr;  // send: the value to move from; receive: storage to construct into
  bool queued = false;
  bool sending = false;  // queued among the senders (else the receivers)
};

// Processes to wake once the channels' locks are released (a pairing wakes one; a
// close may wake many).
class chan_wakes {
 public:
  void add(node_runtime* node, const pid& process);
  void deliver() noexcept;

 private:
  std::pair<node_runtime*, pid> first_{nullptr, pid{}};
  std::vector<std::pair<node_runtime*, pid>> more_;
};

// A channel's lock: held for a few dozen instructions at a time, so a waiter spins
// (and, past a few hundred tries, yields its thread) rather than sleeping in the
// kernel, which under contention between two cores costs more than the whole
// operation. The runtime defers preemption while a process holds it
// (critical_section), so the holder is never moved off its worker mid-operation.
class BL_CAPABILITY("mutex") chan_lock {
 public:
  void lock() BL_ACQUIRE() {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  void unlock() BL_RELEASE() { locked_.store(false, std::memory_order_release); }

 private:
  void lock_slow() noexcept;
  std::atomic<bool> locked_{false};
};

class chan_core {
 public:
  enum class outcome : std::uint8_t { done, closed, would_block };

  chan_core(std::size_t capacity, const chan_value_ops& ops);
  ~chan_core();
  chan_core(const chan_core&) = delete;
  chan_core& operator=(const chan_core&) = delete;

  // One operation that waits if it must: done, closed (a send throws, a receive
  // reports it), or would_block: `w` is queued and will be completed. `w` must
  // belong to a chan_group whose waiter is set.
  outcome send(void* value, chan_waiter& w) { return operate(true, value, &w); }
  outcome receive(void* storage, chan_waiter& w) { return operate(false, storage, &w); }
  // The same without waiting: would_block instead of queueing.
  outcome try_send(void* value) { return operate(true, value, nullptr); }
  outcome try_receive(void* storage) { return operate(false, storage, nullptr); }

  // Under lock() (select holds every channel of its cases): the same, completing
  // the waiters they pair with into `wakes`; `w` is queued on would_block when not
  // null.
  outcome send_locked(void* value, chan_waiter* w, chan_wakes& wakes) BL_REQUIRES(lock_);
  outcome receive_locked(void* storage, chan_waiter* w, chan_wakes& wakes) BL_REQUIRES(lock_);
  void enqueue_locked(chan_waiter& w, bool sender) BL_REQUIRES(lock_);
  // Takes `w` out of its queue if it is still there.
  void dequeue_locked(chan_waiter& w) noexcept BL_REQUIRES(lock_);
  // The same, taking the lock: after it, no completion of `w` is under way.
  void leave(chan_waiter& w) noexcept BL_EXCLUDES(lock_);

  // Go's close: receivers drain the buffer, then see the channel closed; waiting
  // senders (and later ones) fail. False if it was closed already.
  bool close();

  // The common cases inline, with the value's type known: a send into a buffer
  // with room and no receiver waiting; a receive of a buffered value with no sender
  // waiting. False when the case is another (then the general path decides).
  template <class T>
  bool send_fast(T& value) BL_EXCLUDES(lock_) {
    if (capacity_ == 0) return false;
    critical_section critical;
    lock_guard guard(lock_);
    const std::size_t count = count_.load(std::memory_order_relaxed);
    if (closed_.load(std::memory_order_relaxed) || receivers_.head != nullptr || count == capacity_)
      return false;
    ::new (cell(head_ + count)) T(std::move(value));
    count_.store(count + 1, std::memory_order_relaxed);
    return true;
  }
  template <class T>
  bool receive_fast(void* storage) BL_EXCLUDES(lock_) {
    if (capacity_ == 0) return false;
    critical_section critical;
    lock_guard guard(lock_);
    const std::size_t count = count_.load(std::memory_order_relaxed);
    if (count == 0 || senders_.head != nullptr) return false;
    T* slot = static_cast<T*>(cell(head_));
    ::new (storage) T(std::move(*slot));
    slot->~T();
    if (++head_ == capacity_) head_ = 0;
    count_.store(count - 1, std::memory_order_relaxed);
    return true;
  }

  // Whether a receive, or a send, could proceed now, read without the lock: a hint,
  // possibly stale by the time it returns, with which select's first pass skips a
  // case without locking its channel (its locked pass decides). The fields read are
  // atomics written only under the lock, with plain stores.
  bool may_receive() const noexcept BL_NO_THREAD_SAFETY_ANALYSIS {
    return count_.load(std::memory_order_relaxed) != 0 ||
           senders_.waiting.load(std::memory_order_relaxed) ||
           closed_.load(std::memory_order_relaxed);
  }
  bool may_send() const noexcept BL_NO_THREAD_SAFETY_ANALYSIS {
    return count_.load(std::memory_order_relaxed) < capacity_ ||
           receivers_.waiting.load(std::memory_order_relaxed) ||
           closed_.load(std::memory_order_relaxed);
  }

  std::size_t length() const BL_EXCLUDES(lock_);
  std::size_t capacity() const noexcept { return capacity_; }

  void lock() BL_ACQUIRE(lock_) { lock_.lock(); }
  void unlock() BL_RELEASE(lock_) { lock_.unlock(); }

 private:
  struct queue {
    chan_waiter* head = nullptr;
    chan_waiter* tail = nullptr;
    std::atomic<bool> waiting{false};  // head != nullptr, for may_send/may_receive
    void push(chan_waiter& w) noexcept;
    void remove(chan_waiter& w) noexcept;
    // The first waiter whose wait can still be claimed for it, claimed and taken out
    // of the queue; the others met on the way are dropped (their wait ended).
    chan_waiter* claim_first() noexcept;
  };

  // Place `i` of the ring, for i < 2 * capacity_ (head_ + an offset up to count_):
  // a subtraction, not a division.
  // One send or receive under the lock (w: queue it if it must wait), then the wakes.
  outcome operate(bool sending, void* slot, chan_waiter* w) BL_EXCLUDES(lock_);

  void* cell(std::size_t i) const noexcept {
    return buffer_ + (i < capacity_ ? i : i - capacity_) * ops_.size;
  }
  static void complete(chan_waiter& w, bool closed, chan_wakes& wakes) noexcept;

  const chan_value_ops& ops_;
  const std::size_t capacity_;
  unsigned char* buffer_ = nullptr;  // capacity_ values, a ring from head_

  mutable chan_lock lock_;
  std::size_t head_ BL_GUARDED_BY(lock_) = 0;
  // (Atomics so that may_send/may_receive can read them; written under the lock.)
  std::atomic<std::size_t> count_ BL_GUARDED_BY(lock_){0};
  std::atomic<bool> closed_ BL_GUARDED_BY(lock_){false};
  queue senders_ BL_GUARDED_BY(lock_);
  queue receivers_ BL_GUARDED_BY(lock_);
};

}  // namespace beamline::detail
