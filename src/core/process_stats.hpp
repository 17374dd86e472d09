// process_stats.hpp: what the observer reads of each process, published by the
// process's own thread.
//
// A process's figures (reductions, queue length, what it waits for...) live in its
// control block, which only its own thread may read. For the observer to list a
// million processes without asking each one (a signal and a reply apiece) or
// stopping the world, a process copies its figures into its entry of this table,
// beside the process table and indexed the same way, each time it suspends (it
// waits or yields) while the node is being observed: a few relaxed stores into one
// cache line. A process that has not run since shows figures that are still true.
//
// Observation starts with the first snapshot (node_runtime::begin_observing) and
// stops when the observer says nobody watches (end_observing); meanwhile the
// scheduler runs the run loop's observed instance, and otherwise the plain one,
// which has no trace of this. Young processes publish only when asked
// (node_runtime::maybe_publish). Each start begins a new epoch:
// figures from an earlier one may be out of date, and the snapshot wakes those
// processes (a wake-up costs no allocation: node_runtime::wake) so that they check
// their wait again and publish. See docs/design/observer.md.
//
// Every field is an atomic written with relaxed stores and read with relaxed
// loads: figures from one publication may mix with the next, which a monitor
// tolerates. The serial says whose figures they are: the first publication of a new
// occupant clears it, writes the fields, then stores the occupant's serial + 1
// (release); a reader that sees that value (acquire) before and after reading has
// that occupant's figures.
//
// Rejected: reading the control blocks from the observer's thread (a process's
// frame is freed when it ends: a use after free); a signal per process (a million
// wake-ups and replies per refresh); publishing once per epoch only (a process that
// publishes, then takes a message and waits again, would show the first figures
// until it next runs).
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <string>

#include "beamline/detail/process_control.hpp"

namespace beamline::detail {

// How process_info and the observer print a wait (process_info.cpp): "receive",
// "io read", ...; and `text (file:line)` when the file is known.
const char* wait_reason_name(wait_reason reason, bool write_side) noexcept;
std::string with_site(std::string text, const char* file, unsigned line);

// signal::flags of the slot's wake-up when a snapshot sends it: publish.
inline constexpr std::uint8_t observe_wake_flag = 1;

// flags: state (bits 0-1), wait reason (2-5), priority (6-7), trap_exit (8),
// io write side (9).
enum class published_state : std::uint32_t { none = 0, runnable = 1, waiting = 2 };

struct alignas(64) process_stats {
  // Written by the process at each suspension while observed (one cache line).
  std::atomic<std::uint32_t> serial{0};  // occupant's serial + 1; 0 while rewritten
  std::atomic<std::uint32_t> epoch{0};   // the observation epoch of the last publication
  std::atomic<std::uint64_t> reductions{0};
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> messages_out{0};
  std::atomic<std::uint64_t> wait_site{0};  // wait_site's bits
  std::atomic<std::uint32_t> queue_len{0};
  std::atomic<std::uint32_t> memory{0};     // bytes (saturated)
  std::atomic<std::uint32_t> relations{0};  // links << 16 | monitors (each saturated)
  std::atomic<std::uint32_t> flags{0};
  // Written at the occupant's first publication.
  std::atomic<const char*> initial_function{nullptr};
  std::atomic<std::uint64_t> initial_site{0};  // wait_site's bits for the body's file:line
  // Written by the process when a run of it was preempted while observed (its
  // worker handed to a spare thread: docs/design/preemption.md): how many times,
  // and when last (scheduler::now_ns). Zeroed at the occupant's first publication.
  std::atomic<std::uint32_t> preemptions{0};
  std::atomic<std::int64_t> preempted_ns{0};
  // Written by snapshots: the reductions they saw last and when (rates).
  std::atomic<std::uint64_t> seen_reductions{0};
  std::atomic<std::int64_t> seen_ns{0};
};

static_assert(sizeof(process_stats) == 128, "two cache lines per process");

// One entry per process-table slot, reserved at once and touched only where
// processes publish.
class stats_table {
 public:
  explicit stats_table(std::uint32_t capacity) : capacity_(capacity) {
    void* memory = ::mmap(nullptr, bytes(), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) throw std::bad_alloc();
    // Huge pages where the system gives them: entries of processes all over the
    // table are first written at about the same time (when observation starts), and
    // one fault per 2 MiB costs far less than one per 4 KiB.
    ::madvise(memory, bytes(), MADV_HUGEPAGE);
    entries_ = static_cast<process_stats*>(memory);  // zero pages: every field 0
  }
  ~stats_table() { ::munmap(entries_, bytes()); }
  stats_table(const stats_table&) = delete;
  stats_table& operator=(const stats_table&) = delete;

  process_stats& at(std::uint32_t index) const noexcept { return entries_[index]; }

 private:
  std::size_t bytes() const noexcept { return sizeof(process_stats) * capacity_; }

  process_stats* entries_;
  std::uint32_t capacity_;
};

}  // namespace beamline::detail
