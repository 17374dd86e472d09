// beamline/otp/detail/call_slot.hpp: how a late reply is kept out of a caller's mailbox.
//
// A call with a timeout can give up before the server replies. OTP 24+ sends the
// reply to a process alias that the caller deactivates when it gives up, so the
// runtime drops a late reply (EEP 53). Term calls do that here too (alias.hpp);
// typed calls and task awaits, which never leave the node, share a call_slot
// between the caller and the replier instead: one word of state that both change
// with a compare-and-swap, with no envelope per reply and no alias table entry.
//
//   waiting  -> replied     the replier won: it sends the reply (no suspension point
//                           lies between the swap and the send, so the reply is
//                           queued or in flight, never lost)
//   waiting  -> abandoned   the caller timed out first: the replier drops the reply
//
// A caller that loses the race (finds `replied` when it times out) waits for the
// reply, which is certain to arrive, and returns it: OTP's "a reply that slipped in
// is returned" rule. A slot is shared by the caller, the request (in the `from` the
// server holds) and any copy of that `from`: an intrusive atomic count keeps it, in
// the runtime's pooled memory. Calls without a timeout need no slot (no late reply
// can exist), so they do not pay for one.
#pragma once

#include <atomic>
#include <cstdint>
#include <new>
#include <utility>

#include "beamline/detail/allocation.hpp"

namespace beamline::detail {

class call_slot {
 public:
  enum state : std::uint8_t { waiting, replied, abandoned };

  static call_slot* make() { return ::new (pool_allocate(sizeof(call_slot))) call_slot(); }

  // The replier: true if it may send (the caller is still waiting). Acquire-release:
  // the caller that later reads `replied` must see everything the replier did first.
  bool try_reply() noexcept {
    std::uint8_t expected = waiting;
    return state_.compare_exchange_strong(expected, replied, std::memory_order_acq_rel);
  }
  // The caller, at its timeout: true if it gave up before any reply was sent.
  bool try_abandon() noexcept {
    std::uint8_t expected = waiting;
    return state_.compare_exchange_strong(expected, abandoned, std::memory_order_acq_rel);
  }
  state current() const noexcept {
    return static_cast<state>(state_.load(std::memory_order_acquire));
  }

  // Relaxed increment: a new owner is made from an existing one, which keeps the
  // slot alive meanwhile. Acquire-release decrement: each owner's use of the slot
  // happens before the last owner frees it. (Not a release decrement and an acquire
  // fence: ThreadSanitizer does not model standalone fences.)
  void retain() noexcept { references_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (references_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      this->~call_slot();
      pool_deallocate(this, sizeof(call_slot));
    }
  }

 private:
  call_slot() noexcept = default;
  std::atomic<std::uint32_t> references_{1};
  std::atomic<std::uint8_t> state_{waiting};
};

// An owning pointer to a call_slot (null for calls without a timeout).
class slot_ptr {
 public:
  slot_ptr() noexcept = default;
  explicit slot_ptr(call_slot* adopted) noexcept : slot_(adopted) {}
  slot_ptr(const slot_ptr& other) noexcept : slot_(other.slot_) {
    if (slot_ != nullptr) slot_->retain();
  }
  slot_ptr(slot_ptr&& other) noexcept : slot_(std::exchange(other.slot_, nullptr)) {}
  slot_ptr& operator=(slot_ptr other) noexcept {
    std::swap(slot_, other.slot_);
    return *this;
  }
  ~slot_ptr() {
    if (slot_ != nullptr) slot_->release();
  }

  call_slot* get() const noexcept { return slot_; }
  call_slot* operator->() const noexcept { return slot_; }
  explicit operator bool() const noexcept { return slot_ != nullptr; }

 private:
  call_slot* slot_ = nullptr;
};

}  // namespace beamline::detail
