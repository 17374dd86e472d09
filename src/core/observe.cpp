// observe.cpp: see beamline/observe.hpp; the published figures are described in
// core/process_stats.hpp.
//
// Scans run in the observing process itself, a chunk of the process table at a
// time (for_each_live): a million entries take tens of milliseconds, and a worker
// goes on with its other processes between chunks.
#include "beamline/observe.hpp"

#include <sys/resource.h>
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "beamline/blocking.hpp"
#include "beamline/dist.hpp"
#include "beamline/receive.hpp"
#include "core/node_runtime.hpp"

namespace beamline {

namespace detail {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

const char* reason_text(std::uint32_t reason, bool write_side) noexcept {
  return wait_reason_name(static_cast<wait_reason>(reason), write_side);
}

std::string with_site(std::string text, wait_site site) {
  return detail::with_site(std::move(text), site.file(), site.line());
}

// One entry's figures, read consistently (see process_stats.hpp). Present only if
// published in the current epoch; the initial call is kept from an earlier one.
struct published {
  bool present = false;
  std::uint64_t reductions = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t wait_site_bits = 0;
  const char* initial_function = nullptr;
  std::uint64_t initial_site_bits = 0;
  std::uint32_t queue_len = 0;
  std::uint32_t memory = 0;
  std::uint32_t relations = 0;
  std::uint32_t flags = 0;
  std::uint32_t preemptions = 0;
  std::int64_t preempted_ns = 0;
};

published read_entry(const process_stats& s, std::uint32_t serial, std::uint32_t epoch) noexcept {
  published p;
  const std::uint32_t tag = serial + 1;
  if (s.serial.load(std::memory_order_acquire) != tag) return p;
  const std::uint32_t published_epoch = s.epoch.load(relaxed);
  p.reductions = s.reductions.load(relaxed);
  p.messages_in = s.messages_in.load(relaxed);
  p.messages_out = s.messages_out.load(relaxed);
  p.wait_site_bits = s.wait_site.load(relaxed);
  p.initial_function = s.initial_function.load(relaxed);
  p.initial_site_bits = s.initial_site.load(relaxed);
  p.queue_len = s.queue_len.load(relaxed);
  p.memory = s.memory.load(relaxed);
  p.relations = s.relations.load(relaxed);
  p.flags = s.flags.load(relaxed);
  p.preemptions = s.preemptions.load(relaxed);
  p.preempted_ns = s.preempted_ns.load(relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (s.serial.load(relaxed) != tag) return published{};
  if (published_epoch == epoch) {
    p.present = true;
    return p;
  }
  published stale;
  stale.initial_function = p.initial_function;
  stale.initial_site_bits = p.initial_site_bits;
  return stale;
}

// Reductions per second since the snapshot that last looked at this process (at
// least min_interval before; that snapshot's baseline moves to now); 0 the first
// time one looks.
double rate_of(process_stats& s, const published& p, std::int64_t now) noexcept {
  constexpr std::int64_t min_interval = 200'000'000;
  if (!p.present) return 0;
  const std::uint64_t seen = s.seen_reductions.load(relaxed);
  const std::int64_t seen_ns = s.seen_ns.load(relaxed);
  if (seen_ns == 0) {  // the first snapshot to look at this process: rates from now
    s.seen_reductions.store(p.reductions, relaxed);
    s.seen_ns.store(now, relaxed);
    return 0;
  }
  if (now <= seen_ns || p.reductions < seen) return 0;
  const double rate =
      static_cast<double>(p.reductions - seen) * 1e9 / static_cast<double>(now - seen_ns);
  if (now - seen_ns >= min_interval) {
    s.seen_reductions.store(p.reductions, relaxed);
    s.seen_ns.store(now, relaxed);
  }
  return rate;
}

std::uint32_t state_of(const published& p) noexcept {
  return p.present ? (p.flags & 3u) : 0;
}

std::string status_of(const published& p) {
  switch (static_cast<published_state>(state_of(p))) {
    case published_state::none:
      return "new";
    case published_state::runnable:
      return "runnable";
    case published_state::waiting:
      break;
  }
  std::string s = "waiting: ";
  s += reason_text((p.flags >> 2) & 15u, ((p.flags >> 9) & 1u) != 0);
  return with_site(std::move(s), wait_site::from_bits(p.wait_site_bits));
}

std::string initial_call_of(const published& p) {
  if (p.initial_function == nullptr) return "unknown";
  return with_site(p.initial_function, wait_site::from_bits(p.initial_site_bits));
}

std::optional<atom> name_of(const process_slot& slot) noexcept {
  const std::uint32_t name = slot.name.load(std::memory_order_acquire);
  if (name == 0) return std::nullopt;
  return atom::from_index(name - 1);
}

bool contains(std::string_view text, std::string_view part) noexcept {
  return text.find(part) != std::string_view::npos;
}

// Whether the filter text is in the process's name, initial call or status (the
// pieces they are printed from: line numbers are not matched).
bool matches(std::string_view filter, const published& p, std::optional<atom> name) {
  if (filter.empty()) return true;
  if (name && contains(name->name(), filter)) return true;
  if (p.initial_function != nullptr && contains(p.initial_function, filter)) return true;
  const char* file = wait_site::from_bits(p.initial_site_bits).file();
  if (file != nullptr && contains(file, filter)) return true;
  switch (static_cast<published_state>(state_of(p))) {
    case published_state::none:
      return contains("new", filter);
    case published_state::runnable:
      return contains("runnable", filter);
    case published_state::waiting:
      break;
  }
  if (contains("waiting: ", filter)) return true;
  if (contains(reason_text((p.flags >> 2) & 15u, ((p.flags >> 9) & 1u) != 0), filter)) return true;
  file = wait_site::from_bits(p.wait_site_bits).file();
  return file != nullptr && contains(file, filter);
}

observe::process_row row_of(const pid& id, const published& p, double rate,
                            std::optional<atom> name, std::int64_t now) {
  observe::process_row row;
  row.process = id;
  row.registered_name = name;
  row.initial_call = initial_call_of(p);
  row.status = status_of(p);
  row.reductions = p.reductions;
  row.reductions_per_second = rate;
  row.messages_in = p.messages_in;
  row.messages_out = p.messages_out;
  row.message_queue_len = p.queue_len;
  row.memory = p.memory;
  row.priority = static_cast<beamline::priority>((p.flags >> 6) & 3u);
  row.trap_exit = ((p.flags >> 8) & 1u) != 0;
  row.links = p.relations >> 16;
  row.monitors = p.relations & 0xffffu;
  row.preemptions = p.preemptions;
  if (p.preemptions != 0 && now >= p.preempted_ns)
    row.last_preempted = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(now - p.preempted_ns));
  return row;
}

struct candidate {
  std::uint64_t key;
  double rate;
  std::uint32_t index;
  std::uint32_t serial;
  std::string_view name;
};

std::uint64_t key_of(observe::sort_key key, const published& p, double rate,
                     const pid& id) noexcept {
  switch (key) {
    case observe::sort_key::pid:
    case observe::sort_key::name:
      return std::uint64_t{id.serial} << 32 | id.id;  // pid order
    case observe::sort_key::reductions:
      return p.reductions;
    case observe::sort_key::reductions_per_second:
      return static_cast<std::uint64_t>(rate);
    case observe::sort_key::memory:
      return p.memory;
    case observe::sort_key::message_queue_len:
      return p.queue_len;
    case observe::sort_key::messages_in:
      return p.messages_in;
    case observe::sort_key::messages_out:
      return p.messages_out;
    case observe::sort_key::preemptions:
      return p.preemptions;
  }
  return 0;
}

// Scans go through the process table in chunks, charging reductions and checking
// for signals and the end of the time slice between chunks, as any process's loop
// does: the observing process shares its worker and the others stay free.
constexpr std::uint32_t scan_chunk = 4096;

// Calls f(pid, slot) for each live process of the node, `scan_chunk` slots at a time.
template <class F>
task<void> for_each_live(const node_runtime& node, F f) {
  const process_table& table = const_cast<node_runtime&>(node).table();
  process_control& self = current_process("observe");
  const std::uint32_t end = table.high_water();
  for (std::uint32_t base = 1; base < end; base += scan_chunk) {
    const std::uint32_t stop = std::min(end, base + scan_chunk);
    for (std::uint32_t i = base; i < stop; ++i) {
      const process_slot& slot = table.at(i);
      if (slot.inbox.load(std::memory_order_acquire) == closed_tag()) continue;
      f(pid{i, slot.serial.load(std::memory_order_acquire), 0, 0}, slot);
    }
    self.charge(scan_chunk / 4);
    co_await check();
  }
}

// The sort key of a published entry without reading the rest (0: not published in
// this epoch).
std::uint64_t read_key(const process_stats& s, std::uint32_t serial, std::uint32_t epoch,
                       observe::sort_key key) noexcept {
  const std::uint32_t tag = serial + 1;
  if (s.serial.load(std::memory_order_acquire) != tag || s.epoch.load(relaxed) != epoch) return 0;
  std::uint64_t value = 0;
  switch (key) {
    case observe::sort_key::reductions:
      value = s.reductions.load(relaxed);
      break;
    case observe::sort_key::memory:
      value = s.memory.load(relaxed);
      break;
    case observe::sort_key::message_queue_len:
      value = s.queue_len.load(relaxed);
      break;
    case observe::sort_key::messages_in:
      value = s.messages_in.load(relaxed);
      break;
    case observe::sort_key::messages_out:
      value = s.messages_out.load(relaxed);
      break;
    case observe::sort_key::preemptions:
      value = s.preemptions.load(relaxed);
      break;
    default:
      break;
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  return s.serial.load(relaxed) == tag ? value : 0;
}

// Whether a process has published in this epoch.
bool published_in(const process_stats& s, const pid& id, std::uint32_t epoch) noexcept {
  return s.serial.load(std::memory_order_acquire) == id.serial + 1 &&
         s.epoch.load(relaxed) == epoch;
}

// A blocked process that has not published: the next snapshot asks it
// (observe_and_settle), if it has lived that long.
void note_unpublished(std::vector<pid>& found, const process_stats& s, const pid& id,
                      const process_slot& slot, std::uint32_t epoch) {
  if (slot.inbox.load(std::memory_order_relaxed) == blocked_tag() && !published_in(s, id, epoch))
    found.push_back(id);
}

task<observe::process_page> scan_processes(const node_runtime& node,
                                           const observe::process_query& q, std::uint32_t epoch) {
  const stats_table& stats = *node.stats();
  const std::int64_t now = sched::scheduler::now_ns();
  const bool by_name = q.sort == observe::sort_key::name;
  const bool by_pid = q.sort == observe::sort_key::pid;
  const bool by_rate = q.sort == observe::sort_key::reductions_per_second;
  // Without a filter or the rate, a scan reads each entry's key alone.
  const bool plain = q.filter.empty() && !by_rate;
  const std::size_t wanted = q.offset + q.limit;
  // A short page keeps its best candidates in a heap (the worst on top); a deep one
  // sorts them all.
  const bool heap = wanted <= 4096;
  auto before = [&q](const candidate& a, const candidate& b) {
    if (q.sort == observe::sort_key::name && a.name != b.name)
      return q.descending ? a.name > b.name : a.name < b.name;
    if (a.key != b.key) return q.descending ? a.key > b.key : a.key < b.key;
    // Ties in pid order, whichever the direction.
    return (std::uint64_t{a.serial} << 32 | a.index) < (std::uint64_t{b.serial} << 32 | b.index);
  };
  std::vector<candidate> kept;
  std::vector<pid> unpublished;
  std::uint64_t matched = 0;
  co_await for_each_live(node, [&](const pid& id, const process_slot& slot) {
    process_stats& entry = stats.at(id.id);
    note_unpublished(unpublished, entry, id, slot, epoch);
    candidate c{0, 0, id.id, id.serial, {}};
    if (plain) {
      c.key = by_pid || by_name ? key_of(q.sort, published{}, 0, id)
                                : read_key(entry, id.serial, epoch, q.sort);
      if (by_name) {
        const std::optional<atom> name = name_of(slot);
        c.name = name ? name->name() : std::string_view();
      }
    } else {
      const published p = read_entry(entry, id.serial, epoch);
      const std::optional<atom> name = name_of(slot);
      if (!matches(q.filter, p, name)) return;
      if (by_rate) c.rate = rate_of(entry, p, now);
      c.key = key_of(q.sort, p, c.rate, id);
      c.name = name ? name->name() : std::string_view();
    }
    ++matched;
    if (!heap) {
      kept.push_back(c);
    } else if (kept.size() < wanted) {
      kept.push_back(c);
      std::push_heap(kept.begin(), kept.end(), before);
    } else if (before(c, kept.front())) {
      std::pop_heap(kept.begin(), kept.end(), before);
      kept.back() = c;
      std::push_heap(kept.begin(), kept.end(), before);
    }
  });
  observe::process_page page;
  page.matched = matched;
  page.unpublished = unpublished.size();
  const_cast<node_runtime&>(node).keep_unpublished(std::move(unpublished));
  if (heap) {
    std::sort_heap(kept.begin(), kept.end(), before);
  } else {
    const std::size_t end = std::min(kept.size(), wanted);
    std::partial_sort(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(end), kept.end(),
                      before);
  }
  const process_table& table = const_cast<node_runtime&>(node).table();
  for (std::size_t i = q.offset; i < std::min(kept.size(), wanted); ++i) {
    const candidate& c = kept[i];
    const pid id{c.index, c.serial, 0, 0};
    process_stats& entry = stats.at(c.index);
    const published p = read_entry(entry, c.serial, epoch);
    const double rate = by_rate ? c.rate : rate_of(entry, p, now);
    page.rows.push_back(row_of(id, p, rate, name_of(table.at(c.index)), now));
  }
  co_return page;
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Nanoseconds a thread has run, from /proc (-1: unknown).
std::int64_t thread_cpu_ns(int tid) {
  if (tid <= 0) return -1;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
  std::ifstream schedstat(path);
  std::int64_t ns = -1;
  if (!(schedstat >> ns)) return -1;
  return ns;
}

}  // namespace

// Nanoseconds the whole program has run, on every thread.
std::int64_t program_cpu_ns() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  auto ns = [](const timeval& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 +
           static_cast<std::int64_t>(t.tv_usec) * 1000;
  };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

node_runtime::utilization node_runtime::worker_utilization() {
  const unsigned n = scheduler_.worker_count();
  utilization result;
  std::vector<double>& shares = result.workers;
  shares.assign(n, 0.0);
  const std::int64_t now = sched::scheduler::now_ns();
  lock_guard guard(observe_lock_);
  worker_samples_.resize(n);
  for (unsigned i = 0; i < n; ++i) {
    const int tid = scheduler_.worker_thread(i);
    const std::int64_t cpu = thread_cpu_ns(tid);
    worker_sample& last = worker_samples_[i];
    if (last.tid == tid && cpu >= last.cpu_ns && now > last.wall_ns) {
      shares[i] = std::clamp(
          static_cast<double>(cpu - last.cpu_ns) / static_cast<double>(now - last.wall_ns), 0.0,
          1.0);
    } else if (cpu >= 0 && now > started_ns_) {
      // First look, or another thread took the worker over (a preemption): since start.
      shares[i] =
          std::clamp(static_cast<double>(cpu) / static_cast<double>(now - started_ns_), 0.0, 1.0);
    }
    last = {tid, cpu, now};
  }
  const std::int64_t cpu = program_cpu_ns();
  const worker_sample& last = program_sample_;
  const std::int64_t since_cpu = last.cpu_ns >= 0 ? last.cpu_ns : 0;
  const std::int64_t since_wall = last.cpu_ns >= 0 ? last.wall_ns : started_ns_;
  if (cpu >= since_cpu && now > since_wall)
    result.program_cores =
        static_cast<double>(cpu - since_cpu) / static_cast<double>(now - since_wall);
  program_sample_ = {0, cpu, now};
  return result;
}

}  // namespace detail

namespace observe {

std::string_view to_string(sort_key key) noexcept {
  switch (key) {
    case sort_key::pid:
      return "pid";
    case sort_key::name:
      return "name";
    case sort_key::reductions:
      return "reductions";
    case sort_key::reductions_per_second:
      return "reductions_per_second";
    case sort_key::memory:
      return "memory";
    case sort_key::message_queue_len:
      return "message_queue_len";
    case sort_key::messages_in:
      return "messages_in";
    case sort_key::messages_out:
      return "messages_out";
    case sort_key::preemptions:
      return "preemptions";
  }
  return "pid";
}

std::optional<sort_key> sort_key_from(std::string_view name) noexcept {
  for (sort_key k : {sort_key::pid, sort_key::name, sort_key::reductions,
                     sort_key::reductions_per_second, sort_key::memory, sort_key::message_queue_len,
                     sort_key::messages_in, sort_key::messages_out, sort_key::preemptions})
    if (to_string(k) == name) return k;
  return std::nullopt;
}

namespace {

// Starts observing if nobody was. Then (publishing has just started: the first
// snapshot, or the first after end()) the processes whose figures are not of this
// epoch are woken, each checks its wait again and publishes, and they get up to
// `settle` to do it. Returns the epoch.
task<std::uint32_t> observe_and_settle(detail::node_runtime* node,
                                       std::chrono::milliseconds settle) {
  const detail::node_runtime::observation o = node->begin_observing();
  const pid self = detail::current_process("observe").self();
  const detail::stats_table& stats = *node->stats();
  auto unasked = [&](const pid& p, const detail::process_slot& slot) {
    return p != self && slot.inbox.load(std::memory_order_acquire) == detail::blocked_tag() &&
           !detail::published_in(stats.at(p.id), p, o.epoch);
  };
  std::vector<pid> waiting;
  if (o.started) {
    // Every blocked process: a runnable one publishes when it next suspends.
    co_await detail::for_each_live(*node, [&](const pid& p, const detail::process_slot& slot) {
      if (unasked(p, slot)) waiting.push_back(p);
    });
  } else {
    // Those the previous snapshot found blocked and unpublished, if they still are.
    for (const pid& p : node->take_unpublished()) {
      const detail::process_slot* slot = node->table().find(p.id);
      if (slot != nullptr && node->alive(p) && unasked(p, *slot)) waiting.push_back(p);
    }
  }
  for (const pid& p : waiting) node->wake(p, true);
  const auto deadline = std::chrono::steady_clock::now() + settle;
  while (!waiting.empty() && std::chrono::steady_clock::now() < deadline) {
    co_await sleep(std::chrono::milliseconds(5));
    std::erase_if(waiting, [&](const pid& p) {
      return !node->alive(p) || detail::published_in(stats.at(p.id), p, o.epoch);
    });
  }
  co_return o.epoch;
}

}  // namespace

task<process_page> processes(const process_query& query, std::chrono::milliseconds settle) {
  detail::node_runtime* node = &detail::current_process("observe::processes").node();
  const std::uint32_t epoch = co_await observe_and_settle(node, settle);
  co_return co_await detail::scan_processes(*node, query, epoch);
}

task<node_summary> summary(std::chrono::milliseconds settle) {
  detail::node_runtime* node = &detail::current_process("observe::summary").node();
  const std::uint32_t epoch = co_await observe_and_settle(node, settle);
  node_summary s;
  const node_statistics counts = node->statistics();
  s.uptime =
      std::chrono::milliseconds((sched::scheduler::now_ns() - node->started_ns()) / 1'000'000);
  s.schedulers = node->scheduler().worker_count();
  s.processes = counts.live_processes;
  s.process_limit = node->options().max_processes;
  s.processes_spawned = counts.processes_spawned;
  s.processes_exited = counts.processes_exited;
  s.preemptions = counts.preemptions;
  s.preempted_threads = counts.preempted_threads;
  s.flood_migrations = counts.flood_migrations;
  const detail::stats_table& stats = *node->stats();
  std::vector<pid> unpublished;
  co_await detail::for_each_live(*node, [&](const pid& id, const detail::process_slot& slot) {
    detail::note_unpublished(unpublished, stats.at(id.id), id, slot, epoch);
    const detail::published p = detail::read_entry(stats.at(id.id), id.serial, epoch);
    switch (static_cast<detail::published_state>(detail::state_of(p))) {
      case detail::published_state::runnable:
        ++s.runnable;
        break;
      case detail::published_state::none:
        ++s.unpublished;
        break;
      case detail::published_state::waiting:
        ++s.waiting;
        break;
    }
    s.reductions += p.reductions;
    s.messages_queued += p.queue_len;
    s.memory_processes += p.memory;
  });
  node->keep_unpublished(std::move(unpublished));
  s.memory_resident = detail::resident_bytes();
  s.atoms = atom::count();
  s.io_bytes_in = node->poller().input_bytes();
  s.io_bytes_out = node->poller().output_bytes();
  const dist::traffic carried = dist::total_traffic();
  s.dist_bytes_in = carried.bytes_in;
  s.dist_bytes_out = carried.bytes_out;
  s.dist_messages_in = carried.messages_in;
  s.dist_messages_out = carried.messages_out;
  // Reading /proc for each worker's CPU time: off the schedulers.
  const detail::node_runtime::utilization used =
      co_await blocking([node] { return node->worker_utilization(); }, dirty_pool::io);
  for (unsigned i = 0; i < s.schedulers; ++i)
    s.workers.push_back({node->scheduler().worker_runs(i), used.workers[i],
                         node->scheduler().worker_queue_length(i)});
  s.global_run_queue = node->scheduler().global_queue_length();
  s.program_cores = used.program_cores;
  co_return s;
}

void end() {
  detail::current_process("observe::end").node().end_observing();
}

task<std::optional<process_info>> process(pid target, std::size_t max_messages,
                                          std::chrono::milliseconds timeout) {
  co_return co_await process_info_of(target, timeout, max_messages);
}

}  // namespace observe

}  // namespace beamline
