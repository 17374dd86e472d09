// os_signals.cpp: see os_signals.hpp.
#include "core/os_signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "beamline/detail/thread_safety.hpp"
#include "beamline/links.hpp"
#include "beamline/messages.hpp"
#include "beamline/process_info.hpp"
#include "beamline/receive.hpp"
#include "core/node_runtime.hpp"
#include "core/outside_spawn.hpp"
#include "core/process_dump.hpp"
#include "sched/thread_signals.hpp"

namespace beamline::detail {

namespace {

constexpr std::array<int, 3> handled_signals{SIGTERM, SIGINT, SIGQUIT};

// The handler's only state: where to write. -1 while no node handles signals.
std::atomic<int> signal_pipe_write{-1};

void on_signal(int number) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(number);
  const int fd = signal_pipe_write.load(std::memory_order_relaxed);
  if (fd >= 0) [[maybe_unused]]
    auto written = ::write(fd, &byte, 1);
  errno = saved;
}

struct signal_state {
  mutex lock;
  std::vector<node_runtime*> nodes BL_GUARDED_BY(lock);
  // Shutdown signals each running node has had (a second one stops it at once).
  std::unordered_map<node_runtime*, int> shutdowns BL_GUARDED_BY(lock);
  std::array<struct sigaction, handled_signals.size()> previous BL_GUARDED_BY(lock){};
  int pipe_read BL_GUARDED_BY(lock) = -1;
  std::thread reader BL_GUARDED_BY(lock);
};

signal_state& state() {
  static signal_state* s = new signal_state();  // never destroyed: handlers may outlive main
  return *s;
}

// Erlang's init:stop(): the processes spawned from outside, newest first, each with
// the processes linked to it (a supervisor started with start_link, which then shuts
// its children down in order), get `shutdown` and are waited for; then run() returns.
process orderly_shutdown(node_runtime* node, std::vector<pid> roots) {
  const std::optional<std::chrono::milliseconds> limit = node->options().shutdown_timeout;
  for (auto root = roots.rbegin(); root != roots.rend(); ++root) {
    std::vector<pid> group{*root};
    if (auto info = co_await process_info_of(*root, std::chrono::seconds(1)))
      for (const pid& linked : info->links)
        if (linked != self() && std::find(group.begin(), group.end(), linked) == group.end())
          group.push_back(linked);
    std::vector<ref> monitors;
    for (const pid& p : group) monitors.push_back(monitor(p));
    exit(*root, atoms::shutdown);
    const auto deadline = std::chrono::steady_clock::now() + limit.value_or(std::chrono::hours(0));
    while (!monitors.empty()) {
      auto ended = [&](const down_message& d) {
        std::erase(monitors, d.monitor);
        return true;
      };
      if (!limit) {
        co_await receive(ended);
        continue;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !co_await receive(ended, after(left, [] { return false; }))) {
        std::fprintf(stderr,
                     "beamline: shutdown: %s and the processes linked to it did not end within "
                     "shutdown_timeout; stopping anyway\n",
                     root->to_string().c_str());
        break;
      }
    }
  }
  node->stop();
}

// Go's goroutine dump, for processes.
process dump_processes(std::vector<pid> pids) {
  process_dump dump = co_await describe_processes(std::move(pids));
  std::string out = "beamline: SIGQUIT: ";
  out += std::to_string(dump.processes);
  out += dump.processes == 1 ? " process" : " processes";
  out += " (this dump aside)\n";
  out += dump.lines;
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
}

void act(int number) {
  signal_state& s = state();
  lock_guard guard(s.lock);
  for (node_runtime* node : s.nodes) {
    if (number == SIGQUIT) {
      spawn_from_outside(*node, [node]() { return dump_processes(node->live_pids()); });
    } else if (s.shutdowns[node]++ == 0) {
      std::fprintf(stderr, "beamline: %s: shutting down (again to stop at once)\n",
                   number == SIGINT ? "SIGINT" : "SIGTERM");
      spawn_from_outside(*node, [node]() { return orderly_shutdown(node, node->roots()); });
    } else {
      node->stop();
    }
  }
}

void read_signals(int fd) {
  for (;;) {
    unsigned char byte = 0;
    ssize_t n = ::read(fd, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) return;  // 0: the last node stopped handling signals
    act(byte);
  }
}

}  // namespace

os_signal_scope::os_signal_scope(node_runtime& node) : node_(&node) {
  signal_state& s = state();
  lock_guard guard(s.lock);
  s.nodes.push_back(node_);
  if (s.nodes.size() > 1) return;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("beamline: signal pipe");
    return;
  }
  s.pipe_read = fds[0];
  signal_pipe_write.store(fds[1], std::memory_order_relaxed);
  {
    sched::process_signals_blocked for_the_new_thread;
    s.reader = std::thread(read_signals, fds[0]);
  }
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (std::size_t i = 0; i < handled_signals.size(); ++i)
    ::sigaction(handled_signals[i], &action, &s.previous[i]);
}

os_signal_scope::~os_signal_scope() {
  signal_state& s = state();
  std::thread reader;
  int write_fd = -1, read_fd = -1;
  {
    lock_guard guard(s.lock);
    std::erase(s.nodes, node_);
    s.shutdowns.erase(node_);
    if (!s.nodes.empty() || !s.reader.joinable()) return;
    for (std::size_t i = 0; i < handled_signals.size(); ++i)
      ::sigaction(handled_signals[i], &s.previous[i], nullptr);
    write_fd = signal_pipe_write.exchange(-1, std::memory_order_relaxed);
    read_fd = std::exchange(s.pipe_read, -1);
    reader = std::move(s.reader);
  }
  const unsigned char stop = 0;
  [[maybe_unused]] auto written = ::write(write_fd, &stop, 1);
  reader.join();  // outside the lock: it may be acting on a signal
  ::close(write_fd);
  ::close(read_fd);
}

}  // namespace beamline::detail
