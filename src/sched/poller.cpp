// poller.cpp: see poller.hpp.
#include "sched/poller.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "sched/timespec.hpp"

namespace beamline::io {

namespace {

constexpr std::uint32_t read_events = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI;
constexpr std::uint32_t write_events = EPOLLOUT | EPOLLHUP | EPOLLERR;
constexpr int batch = 128;

// Whether the kernel has epoll_pwait2 (nanosecond timeouts, Linux 5.11); without
// it, timeouts round up to whole milliseconds.
std::atomic<bool> have_pwait2{true};

}  // namespace

poller::poller(const poller_hooks& hooks) : hooks_(hooks) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    int e = errno;
    ::close(epoll_fd_);
    throw std::system_error(e, std::generic_category(), "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: read back in dispatch
  ev.data.u64 = wake_key;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    int e = errno;
    ::close(wake_fd_);
    ::close(epoll_fd_);
    throw std::system_error(e, std::generic_category(), "epoll_ctl");
  }
}

poller::~poller() {
  ::close(wake_fd_);
  ::close(epoll_fd_);
  for (auto& chunk : chunks_) delete[] chunk.load(std::memory_order_relaxed);
}

poll_descriptor* poller::at(std::uint32_t index) const noexcept {
  // Acquire: pairs with the release that published the chunk in add().
  poll_descriptor* chunk = chunks_[index >> chunk_bits].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : &chunk[index & (chunk_size - 1)];
}

poll_descriptor* poller::add(int fd, std::error_code& error) noexcept {
  poll_descriptor* d = nullptr;
  {
    detail::lock_guard guard(free_lock_);
    if (free_head_ != 0) {
      d = at(free_head_ - 1);
      free_head_ = d->next_free;
    } else {
      if (created_ == chunk_size * max_chunks) {
        error = std::make_error_code(std::errc::too_many_files_open);
        return nullptr;
      }
      std::uint32_t index = created_;
      if ((index & (chunk_size - 1)) == 0) {
        auto* chunk = new (std::nothrow) poll_descriptor[chunk_size];
        if (chunk == nullptr) {
          error = std::make_error_code(std::errc::not_enough_memory);
          return nullptr;
        }
        for (std::uint32_t i = 0; i < chunk_size; ++i) chunk[i].index = index + i;
        chunks_[index >> chunk_bits].store(chunk, std::memory_order_release);
      }
      ++created_;
      d = at(index);
    }
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  // Relaxed: only this thread changes the generation of a record it holds.
  ev.data.u64 = d->index | (std::uint64_t{d->generation.load(std::memory_order_relaxed)} << 32);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    error = std::error_code(errno, std::generic_category());
    recycle(*d);
    return nullptr;
  }
  registered_.fetch_add(1, std::memory_order_relaxed);
  return d;
}

void poller::release(poll_descriptor& d, int fd, bool deregister) noexcept {
  if (deregister && fd >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  // Release: a poller thread that reads the new generation (acquire) drops the
  // event; one that read the old one may still wake a waiter once (see the header).
  d.generation.fetch_add(1, std::memory_order_release);
  d.waiter[read_side].store(0, std::memory_order_relaxed);
  d.waiter[write_side].store(0, std::memory_order_relaxed);
  registered_.fetch_sub(1, std::memory_order_relaxed);
  recycle(d);
}

void poller::recycle(poll_descriptor& d) noexcept {
  detail::lock_guard guard(free_lock_);
  d.next_free = free_head_;
  free_head_ = d.index + 1;
}

int poller::dispatch(int timeout_ms, const std::optional<std::int64_t>& timeout_ns) noexcept {
  epoll_event events[batch];
  int n;
  if (timeout_ms != 0 && have_pwait2.load(std::memory_order_relaxed)) {
    timespec ts{};
    timespec* tsp = sched::relative_timespec(timeout_ns, ts);
    n = ::epoll_pwait2(epoll_fd_, events, batch, tsp, nullptr);
    if (n < 0 && errno == ENOSYS) {
      have_pwait2.store(false, std::memory_order_relaxed);
      n = ::epoll_wait(epoll_fd_, events, batch, timeout_ms);
    }
  } else {
    n = ::epoll_wait(epoll_fd_, events, batch, timeout_ms);
  }
  int dispatched = 0;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t key = events[i].data.u64;
    if (key == wake_key) {
      std::uint64_t count;
      [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
      continue;
    }
    poll_descriptor* d = at(static_cast<std::uint32_t>(key));
    if (d == nullptr) continue;
    if (d->generation.load(std::memory_order_acquire) != static_cast<std::uint32_t>(key >> 32))
      continue;  // closed since: a stale event
    const std::uint32_t e = events[i].events;
    for (int s = 0; s < 2; ++s) {
      if ((e & (s == read_side ? read_events : write_events)) == 0) continue;
      // seq_cst: the poller's half of the handshake in the header.
      d->sequence[s].fetch_add(1, std::memory_order_seq_cst);
      if (d->waiter[s].load(std::memory_order_seq_cst) == 0) continue;
      std::uint64_t token = d->waiter[s].exchange(0, std::memory_order_seq_cst);
      if (token != 0) hooks_.wake(hooks_.context, token);
    }
    ++dispatched;
  }
  return dispatched;
}

bool poller::poll_now() {
  // Nothing registered: nothing can be ready (spinning workers call this often).
  if (registered_.load(std::memory_order_relaxed) == 0) return false;
  return dispatch(0, std::nullopt) > 0;
}

void poller::wait(std::optional<std::int64_t> timeout_ns) {
  int timeout_ms = -1;
  if (timeout_ns) {
    std::int64_t ns = *timeout_ns < 0 ? 0 : *timeout_ns;
    timeout_ms = static_cast<int>(std::min<std::int64_t>((ns + 999'999) / 1'000'000, 1 << 30));
    if (timeout_ms == 0 && ns > 0) timeout_ms = 1;
    if (ns == 0) timeout_ms = 0;
  }
  dispatch(timeout_ms, timeout_ns);
}

void poller::wake() noexcept {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace beamline::io
