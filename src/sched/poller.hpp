// poller.hpp: the node's netpoller, an edge-triggered epoll set that idle workers
// wait on (docs/design/io.md).
//
// It is the scheduler's idle wait, so it lives with the scheduler: it knows file
// descriptors and opaque waiter tokens, not processes. A node installs one as its
// scheduler's idle_poller and gives it a wake hook that turns a token back into a
// process to make runnable. Its namespace stays beamline::io, the one the socket
// types (beamline/net/socket.hpp) name it by.
//
// Each registered file descriptor has a poll_descriptor, a record that lives as
// long as the poller (records are recycled, never freed), named in epoll's data
// word by (index, generation). Per direction (read, write) it holds:
//   sequence  bumped by the poller on every readiness edge for that direction;
//   waiter    the token of the process waiting for that direction, or 0.
//
// The protocol between a waiting process and the poller (a Dekker handshake, both
// sides seq_cst):
//   process:  store waiter = token; load sequence; if it moved since the attempt
//             that returned EAGAIN, try again; otherwise block.
//   poller:   bump sequence; exchange waiter with 0; wake the token if one was there.
// Either the process sees the new sequence, or the poller sees the waiter: a
// readiness edge is never lost, and a process only waits after EAGAIN (the
// edge-triggered rule).
//
// Lifetime: release() bumps the generation before the record is reused, so an
// event still in flight for a closed descriptor is recognised as stale and dropped.
// A poller thread that read the old generation just before the bump may still bump
// the sequence and wake the record's next waiter once: a spurious wake-up, which
// waiters tolerate (they try again and wait again). It never touches the file
// descriptor, and a token names a pid, whose serial the node checks, so a process
// that died while waiting is never touched either.
//
// Interest is fixed at registration (both directions, edge-triggered), as Go does:
// there is no modify step and no re-arming after each event.
//
// Rejected: epoll_data.ptr to a per-socket object (freed on close while another
// thread may hold an event naming it: use-after-free); level-triggered with
// re-arming (one epoll_ctl per wait); a dedicated poller thread (a thread hop per
// event, and a second sleeping thread beside the parked workers).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <system_error>

#include "beamline/detail/thread_safety.hpp"
#include "sched/scheduler.hpp"

namespace beamline::io {

enum side : int { read_side = 0, write_side = 1 };

struct poll_descriptor {
  // Bumped by release(); epoll's data word carries the value at registration.
  std::atomic<std::uint32_t> generation{1};
  std::atomic<std::uint32_t> sequence[2] = {0, 0};  // readiness edges seen, per side
  std::atomic<std::uint64_t> waiter[2] = {0, 0};    // token waiting per side; 0: none
  std::uint32_t index = 0;                          // set once, at creation
  std::uint32_t next_free = 0;                      // free list (poller::free_lock_)
};

struct poller_hooks {
  void* context = nullptr;
  // Makes the process named by `token` look at its wait again (any thread).
  void (*wake)(void* context, std::uint64_t token) noexcept = nullptr;
};

class poller final : public sched::idle_poller {
 public:
  // Throws std::system_error if the epoll set or the eventfd cannot be made.
  explicit poller(const poller_hooks& hooks);
  ~poller() override;
  poller(const poller&) = delete;
  poller& operator=(const poller&) = delete;

  // Registers `fd` (non-blocking) for both directions, edge-triggered. On success
  // the returned record belongs to the caller until release().
  poll_descriptor* add(int fd, std::error_code& error) noexcept BL_EXCLUDES(free_lock_);
  // Forgets `d` (the caller closes its file descriptor afterwards, which removes
  // it from the epoll set; pass deregister=true if the descriptor stays open).
  void release(poll_descriptor& d, int fd, bool deregister) noexcept BL_EXCLUDES(free_lock_);

  // idle_poller: dispatch ready events, wait for them, interrupt a wait.
  bool poll_now() override;
  void wait(std::optional<std::int64_t> timeout_ns) override;
  void wake() noexcept override;

  std::uint32_t registered() const noexcept { return registered_.load(std::memory_order_relaxed); }

  // Bytes the node's sockets (net::tcp_socket, net::udp_socket: the distribution's
  // included) have read and written, as erlang:statistics(io) counts them. One
  // relaxed add per system call that moved bytes, next to which it is noise.
  void count_input(std::size_t bytes) noexcept {
    traffic_.input.fetch_add(bytes, std::memory_order_relaxed);
  }
  void count_output(std::size_t bytes) noexcept {
    traffic_.output.fetch_add(bytes, std::memory_order_relaxed);
  }
  std::uint64_t input_bytes() const noexcept {
    return traffic_.input.load(std::memory_order_relaxed);
  }
  std::uint64_t output_bytes() const noexcept {
    return traffic_.output.load(std::memory_order_relaxed);
  }

 private:
  static constexpr std::uint32_t chunk_bits = 10;
  static constexpr std::uint32_t chunk_size = 1u << chunk_bits;
  static constexpr std::uint32_t max_chunks = 1024;  // about a million descriptors
  static constexpr std::uint64_t wake_key = ~std::uint64_t{0};

  poll_descriptor* at(std::uint32_t index) const noexcept;
  void recycle(poll_descriptor& d) noexcept BL_EXCLUDES(free_lock_);  // back on the free list
  // Returns the number of socket events dispatched.
  int dispatch(int timeout_ms, const std::optional<std::int64_t>& timeout_ns) noexcept;

  poller_hooks hooks_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<std::uint32_t> registered_{0};
  // Written by every worker: a cache line of their own.
  struct alignas(64) traffic {
    std::atomic<std::uint64_t> input{0};
    std::atomic<std::uint64_t> output{0};
  };
  traffic traffic_;

  // Records: chunks never move or go away while the poller lives, so a poller
  // thread may read any published chunk without a lock.
  std::atomic<poll_descriptor*> chunks_[max_chunks] = {};
  // The free list of records, threaded through poll_descriptor::next_free (which
  // the analysis cannot tie to this lock: it is a field of another type).
  detail::mutex free_lock_;
  std::uint32_t free_head_ BL_GUARDED_BY(free_lock_) = 0;  // index + 1 of the first free; 0: none
  std::uint32_t created_ BL_GUARDED_BY(free_lock_) = 0;    // records made so far
};

}  // namespace beamline::io
