// node.cpp: the public face of a node (node.hpp) over its runtime.
#include "beamline/node.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/node_runtime.hpp"
#include "observer/server.hpp"

namespace beamline {

node_options node_options::from_args(int argc, char** argv) {
  node_options o;
  auto number = [&](int& i, const char* flag) -> unsigned long long {
    if (i + 1 >= argc) throw std::invalid_argument(std::string(flag) + " needs a value");
    char* end = nullptr;
    unsigned long long v = std::strtoull(argv[++i], &end, 10);
    if (end == argv[i] || *end != '\0')
      throw std::invalid_argument(std::string(flag) + ": not a number: " + argv[i]);
    return v;
  };
  auto text = [&](int& i, const char* flag) -> std::string {
    if (i + 1 >= argc) throw std::invalid_argument(std::string(flag) + " needs a value");
    return argv[++i];
  };
  observer_options observer;
  bool observed = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--observer") == 0) {
      const unsigned long long port = number(i, "--observer");
      if (port > 65535)
        throw std::invalid_argument("--observer: not a port: " + std::string(argv[i]));
      observer.port = static_cast<std::uint16_t>(port);
      observed = true;
    } else if (std::strcmp(argv[i], "--observer-address") == 0) {
      observer.address = text(i, "--observer-address");
    } else if (std::strcmp(argv[i], "--observer-token") == 0) {
      observer.token = text(i, "--observer-token");
    } else if (std::strcmp(argv[i], "--observer-record") == 0) {
      observer.record_dir = text(i, "--observer-record");
    } else if (std::strcmp(argv[i], "--observer-manage") == 0) {
      observer.manage = true;
    } else if (std::strcmp(argv[i], "--schedulers") == 0) {
      o.schedulers = static_cast<unsigned>(number(i, "--schedulers"));
      if (o.schedulers == 0) throw std::invalid_argument("--schedulers must be at least 1");
    } else if (std::strcmp(argv[i], "--idle-report") == 0) {
      o.idle_report = std::chrono::seconds(number(i, "--idle-report"));
    } else if (std::strcmp(argv[i], "--max-processes") == 0) {
      o.max_processes = static_cast<std::uint32_t>(number(i, "--max-processes"));
    } else if (std::strcmp(argv[i], "--no-preemption") == 0) {
      o.preemption = false;
    } else if (std::strcmp(argv[i], "--timeline-events") == 0) {
      o.timeline_events = static_cast<std::size_t>(number(i, "--timeline-events"));
      if (o.timeline_events > (std::size_t{1} << 30))
        throw std::invalid_argument("--timeline-events: at most 2^30");
    } else if (std::strcmp(argv[i], "--no-flood-affinity") == 0) {
      o.flood_affinity = false;
    } else if (std::strcmp(argv[i], "--deterministic") == 0) {
      o.deterministic = true;
      o.shuffle_seed = number(i, "--deterministic");
    }
  }
  if (observed) o.observer = std::move(observer);
  return o;
}

node::node(node_options options) : runtime_(std::make_unique<detail::node_runtime>(options)) {
  if (options.observer) observer_url_ = observer::start(*this, *options.observer);
}

namespace {

// The nodes left to preempted threads (below), kept reachable from a global for the
// rest of the program: they are meant to live until it ends, and a leak checker
// that ran after their threads had finished would otherwise report them.
void keep_until_exit(detail::node_runtime* runtime) {
  static detail::mutex lock;
  static auto* left = new std::vector<detail::node_runtime*>();  // never freed, on purpose
  detail::lock_guard guard(lock);
  left->push_back(runtime);
}

}  // namespace

node::~node() {
  // A process preempted onto a thread of its own may be a hog that was killed and
  // has not reached its next check() yet: it ends within a slice or so. Wait for
  // such threads a little (1 s at most) rather than leave the node to them at once.
  std::uint32_t running = runtime_->scheduler().preempted_threads();
  for (int waited_ms = 0; running != 0 && waited_ms < 1000; ++waited_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    running = runtime_->scheduler().preempted_threads();
  }
  if (running != 0) {
    // Those threads run native code that nothing can interrupt, inside processes
    // of this node: its memory must outlive them, so it is left to them.
    std::fprintf(stderr,
                 "beamline: node destroyed while %u preempted processes still run native "
                 "code; their node is left in memory until they end\n",
                 running);
    keep_until_exit(runtime_.release());
  }
}

int node::run() {
  entered_api guard(*runtime_);
  return runtime_->run();
}

void node::note_root(const pid& p) {
  runtime_->note_root(p);
}

std::vector<pid> node::processes() const {
  return runtime_->live_pids();
}

void node::stop() noexcept {
  runtime_->stop();
}

ref node::make_ref() {
  return detail::node_runtime::make_ref();
}

node_statistics node::statistics() const noexcept {
  return runtime_->statistics();
}

const node_options& node::options() const noexcept {
  return runtime_->options();
}

void node::shut_down() noexcept {
  runtime_->shut_down();
}

node::entered_api::entered_api(detail::node_runtime& node) noexcept
    : previous_(detail::this_thread.node), previous_worker_(detail::this_thread.node_worker) {
  if (previous_ != &node) {
    detail::this_thread.node = &node;
    detail::this_thread.node_worker = nullptr;
  }
}

node::entered_api::~entered_api() {
  detail::this_thread.node = previous_;
  detail::this_thread.node_worker = previous_worker_;
}

}  // namespace beamline
