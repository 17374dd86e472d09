// beamline/detail/process_slot.hpp: the part of a process that other threads touch.
//
// A slot of the process table (src/core/process_table.hpp, which documents the
// inbox protocol and slot reuse). It is here, in a public header, so that the
// owner's cheapest test, "has anything arrived?", is inline on every receive and
// check().
#pragma once

#include <atomic>
#include <cstdint>

#include "beamline/detail/signal.hpp"

namespace beamline::detail {

struct schedulable;

inline signal* blocked_tag() noexcept {
  return reinterpret_cast<signal*>(std::uintptr_t{1});
}
inline signal* closed_tag() noexcept {
  return reinterpret_cast<signal*>(std::uintptr_t{2});
}

// A cache line each: senders CAS the inbox of the process they send to, and two
// busy receivers side by side in the table, each fed from its own worker, would
// otherwise share a line between cores (W5 with two receivers on two workers:
// 21-22 M msgs/s packed, 113-119 M aligned; 32 more bytes per process).
struct alignas(64) process_slot {
  std::atomic<signal*> inbox{nullptr};
  std::atomic<std::uint32_t> serial{0};
  std::atomic<std::uint32_t> name{0};  // registered name's atom index + 1; 0: none
  // About how many messages wait for the owner (inbox and message queue): senders
  // add one (a plain load and store, so concurrent sends may lose counts: a
  // heuristic, not a count), and the owner sets it to its queue length when it
  // drains. Sends to a process with a backlog cost the
  // sender more reductions, as on BEAM, so a flood slows its senders down instead
  // of growing the receiver's queue without bound.
  std::atomic<std::uint32_t> backlog{0};
  // The worker the owner last ran on (node_runtime's worker tag; 0: none): the send
  // penalty applies only to senders on that worker, the only ones whose slices
  // compete with the owner's.
  std::atomic<std::uint32_t> worker_tag{0};
  // The occupant as the scheduler sees it, for the sender whose push wakes it: a pid
  // gives access to the process's inbox and to its turn in a run queue, never to its
  // control block. Set before the process is runnable.
  schedulable* task = nullptr;
  // A wake-up signal that costs no allocation (node_runtime::wake, for channels):
  // in the inbox at most once at a time (wake_queued), since one wake-up says all
  // there is to say, "ask your wait again". Whoever destroys it, as any signal is
  // destroyed once taken (or dropped when stale or left at the end), clears
  // wake_queued instead of freeing it (slot_wake_type).
  signal wake_node{};
  std::atomic<bool> wake_queued{false};
};

static_assert(sizeof(process_slot) == 64, "a slot is one cache line");

// The type of every slot's wake_node.
extern const signal_type slot_wake_type;

}  // namespace beamline::detail
