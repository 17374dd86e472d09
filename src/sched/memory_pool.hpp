// memory_pool.hpp: size-class pools with per-thread caches, for coroutine frames,
// process control blocks and message nodes.
//
// Why: spawning a process and sending a message each allocate. Fresh memory is
// expensive on these machines (a first touch of a 4 KiB page costs ~2 us), and a
// general-purpose malloc pays for headers and cross-thread frees. Here a block
// belongs to a size class; a thread keeps, per class, an active free list, one full
// batch in reserve and a stash of full batches (up to 256 KiB), and recycles
// blocks without synchronisation.
// Lists move whole between a thread and the central list of the class (one mutex
// per class), so blocks freed on one thread (a receiver) flow back to the thread
// that allocates (the senders) a batch at a time.
//
// The fast paths (a pop from or a push onto the calling thread's active list of the
// class) are inline in beamline/detail/allocation.hpp, through one constinit
// thread-local pointer to that thread's lists: with them out of line, a message's
// allocation and free cost about 80 instructions (callgrind on W5), and inlining
// them made W5 20 % faster, W1 8 % and W7 6 % (2 workers, 7 alternating runs).
//
// Invariants:
// - A block is in exactly one place: in use, in one thread cache, or in one central
//   batch. Blocks move between threads only in whole batches through the central
//   lists, whose mutex orders the hand-over.
// - Fresh memory comes from 2 MiB chunks of a reserved address range (advised for
//   transparent huge pages, which cut the cost of first touches) and is never
//   returned to the operating system while the program runs.
// - Under AddressSanitizer the pool is bypassed (operator new/delete), so the
//   sanitizer sees every use-after-free and leak.
//
// Rejected: a per-thread pool with remote-free queues (one atomic push per
// cross-thread free, and memory pinned to the thread that first allocated it);
// glibc malloc (16-byte header, arena locks on cross-thread frees).
#pragma once

#include <cstddef>
#include <cstdint>

namespace beamline::sched {

struct memory_pool_stats {
  std::size_t reserved_bytes;  // fresh memory carved from chunks so far
  std::size_t chunk_count;
};

memory_pool_stats memory_pool_statistics() noexcept;

// Gives this thread's cached blocks back to the central lists (called when a
// worker thread ends; also safe to call at any time).
void memory_pool_flush_thread_cache() noexcept;

}  // namespace beamline::sched
