// registry.cpp: Elixir's Registry (registry.hpp): the tables, their watchers, the
// owner process, and the node-wide table of named registries.
//
// Who touches what:
// - A partition's tables (by_key, by_pid) are shared: any process reads them under
//   the partition's shared lock (lookup, dispatch, keys, count) and a registering
//   process writes its own entries under the exclusive lock. The partition's
//   watcher removes a dead process's entries, also under the exclusive lock.
// - A watcher's `monitored` map is its own (only the watcher process touches it).
// - The metadata table is shared: any process reads it under meta_lock_ shared and
//   writes it under meta_lock_ exclusive. It is a lock of its own, never held with a
//   partition's.
// - Queries (match, select and their counts) match patterns under a partition's
//   shared lock, copying out each matching entry with its bindings, and run the
//   caller's guard and projection only after the lock is released, as dispatch runs
//   its function: user code never runs under a registry lock, so it may call the
//   registry, and a slow guard holds up no registration.
// - registry_state::alive_ is written by the owner when it ends (release) and read by
//   every operation (acquire), so an operation on an ended registry fails cleanly.
//
// Protocol between a registering process P and the watcher W of a partition:
// when P's first entry appears in the partition (by_pid[P] was empty), P sends W
// watch{P} after releasing the lock; W monitors P unless it already does. P can
// only have entries while alive, and a monitor of a process that has already ended
// delivers DOWN at once, so every entry is eventually removed: on DOWN, W deletes
// every entry whose pid is P (by_pid[P] lists their keys). W never deletes an entry
// of another process: a unique key taken over from a dead holder belongs to its
// new pid.
//
// unregister_match reads the caller's values under the key (shared lock), decides
// which go with the pattern and guard (no lock), then removes those (exclusive
// lock). Between the two locks nothing else can change the caller's entries: only a
// process writes its own entries, the watcher removes only a dead process's, and a
// unique key is taken over only from a dead holder. So the caller's entries are
// found again in the same order; each is checked to hold the value that was read,
// in case the guard itself changed the caller's registrations.
#include <algorithm>
#include <atomic>
#include <string>
#include <unordered_map>

#include "beamline/detail/thread_safety.hpp"
#include "beamline/links.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/otp/registry.hpp"
#include "beamline/receive.hpp"
#include "beamline/registry.hpp"
#include "core/runtime_access.hpp"
#include "term/term_hash.hpp"

namespace beamline {

namespace detail {

namespace {

struct watch {
  pid process;
};
struct stop_watching {};

struct partition {
  mutable shared_mutex lock;
  std::unordered_map<term, std::vector<registry::entry>, detail::cached_term_hash> by_key
      BL_GUARDED_BY(lock);
  // One key per registration.
  std::unordered_map<pid, std::vector<term>> by_pid BL_GUARDED_BY(lock);
  pid watcher;  // set before any registration
};

}  // namespace

class registry_state final : public via_registry {
 public:
  registry_state(registry::keys_mode mode, unsigned partitions, std::optional<atom> name)
      : mode_(mode), name_(name) {
    for (unsigned i = 0; i < std::max(1u, partitions); ++i)
      partitions_.push_back(std::make_unique<partition>());
  }

  registry::keys_mode mode() const noexcept { return mode_; }
  unsigned partition_count() const noexcept { return static_cast<unsigned>(partitions_.size()); }
  partition& part(std::size_t i) noexcept { return *partitions_[i]; }
  bool alive() const noexcept { return alive_.load(std::memory_order_acquire); }
  void set_alive(bool a) noexcept { alive_.store(a, std::memory_order_release); }
  pid owner;
  const std::optional<atom>& name() const noexcept { return name_; }

  partition& for_key(const term& key) noexcept {
    return *partitions_[std::hash<term>{}(key) % partitions_.size()];
  }
  partition& for_pid(const pid& p) noexcept {
    return *partitions_[std::hash<pid>{}(p) % partitions_.size()];
  }
  // The partition a registration by `p` under `key` lives in.
  partition& home(const term& key, const pid& p) noexcept {
    return mode_ == registry::unique ? for_key(key) : for_pid(p);
  }

  status register_key(const term& key, term value, const pid& p) {
    partition& part = home(key, p);
    bool first = false;
    {
      lock_guard lock(part.lock);
      std::vector<registry::entry>& entries = part.by_key[key];
      if (mode_ == registry::unique && !entries.empty()) {
        const pid holder = entries.front().first;
        if (holder == p || is_alive(holder)) {
          return status::error(term::tuple({atom("already_registered"), term(holder)}));
        }
        drop_key_of(part, holder, key);  // its watcher has not cleaned up yet
        entries.clear();
      }
      entries.emplace_back(p, std::move(value));
      std::vector<term>& mine = part.by_pid[p];
      first = mine.empty();
      mine.push_back(key);
    }
    if (first) send(part.watcher, watch{p});
    return status::ok();
  }

  void unregister(const term& key, const pid& p) {
    partition& part = home(key, p);
    lock_guard lock(part.lock);
    auto it = part.by_key.find(key);
    if (it == part.by_key.end()) return;
    auto& entries = it->second;
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const registry::entry& e) { return e.first == p; }),
                  entries.end());
    if (entries.empty()) part.by_key.erase(it);
    auto mine = part.by_pid.find(p);
    if (mine != part.by_pid.end()) {
      auto& keys = mine->second;
      keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
      if (keys.empty()) part.by_pid.erase(mine);
    }
  }

  // Deletes every entry of a process that has ended (its watcher's DOWN).
  void forget(partition& part, const pid& p) {
    lock_guard lock(part.lock);
    auto mine = part.by_pid.find(p);
    if (mine == part.by_pid.end()) return;
    for (const term& key : mine->second) {
      auto it = part.by_key.find(key);
      if (it == part.by_key.end()) continue;
      auto& entries = it->second;
      entries.erase(std::remove_if(entries.begin(), entries.end(),
                                   [&](const registry::entry& e) { return e.first == p; }),
                    entries.end());
      if (entries.empty()) part.by_key.erase(it);
    }
    part.by_pid.erase(mine);
  }

  // The partitions that can hold entries under `key`: the key's own for a unique
  // registry, every one for a duplicate registry.
  template <class F>
  void for_each_partition_of(const term& key, F&& f) {
    if (mode_ == registry::unique) {
      f(for_key(key));
    } else {
      for (const auto& part : partitions_) f(*part);
    }
  }

  void lookup_in(const partition& part, const term& key, std::vector<registry::entry>& out) const {
    shared_lock lock(part.lock);
    auto it = part.by_key.find(key);
    if (it == part.by_key.end()) return;
    for (const registry::entry& e : it->second)
      if (is_alive(e.first)) out.push_back(e);
  }

  std::vector<registry::entry> lookup(const term& key) {
    std::vector<registry::entry> out;
    for_each_partition_of(key, [&](const partition& part) { lookup_in(part, key, out); });
    return out;
  }

  // A live entry whose value matched a query's pattern, with the bindings (the guard
  // has not been asked yet).
  struct value_match {
    registry::entry entry;
    bindings found;
  };

  std::vector<value_match> match(const term& key, const pattern& value_pattern) {
    std::vector<value_match> out;
    for_each_partition_of(key, [&](const partition& part) {
      shared_lock lock(part.lock);
      auto it = part.by_key.find(key);
      if (it == part.by_key.end()) return;
      for (const registry::entry& e : it->second) {
        if (!is_alive(e.first)) continue;
        if (auto found = value_pattern.match(e.second)) out.push_back({e, std::move(*found)});
      }
    });
    return out;
  }

  // A live registration, as {Key, Pid, Value}, that matched select's pattern.
  struct registration_match {
    term registration;
    bindings found;
  };

  std::vector<registration_match> select(const pattern& registration) {
    std::vector<registration_match> out;
    for (const auto& part : partitions_) {
      shared_lock lock(part->lock);
      for (const auto& [key, entries] : part->by_key) {
        for (const registry::entry& e : entries) {
          if (!is_alive(e.first)) continue;
          term whole = term::tuple({key, term(e.first), e.second});
          if (auto found = registration.match(whole))
            out.push_back({std::move(whole), std::move(*found)});
        }
      }
    }
    return out;
  }

  void unregister_match(const term& key, const pattern& value_pattern, const registry::guard& when,
                        const pid& p) {
    partition& part = home(key, p);
    std::vector<term> values;  // p's values under key, in table order
    {
      shared_lock lock(part.lock);
      auto it = part.by_key.find(key);
      if (it == part.by_key.end()) return;
      for (const registry::entry& e : it->second)
        if (e.first == p) values.push_back(e.second);
    }
    std::vector<bool> doomed(values.size(), false);
    bool any = false;
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto found = value_pattern.match(values[i]);
      doomed[i] = found && (!when || when(*found));
      any = any || doomed[i];
    }
    if (!any) return;

    lock_guard lock(part.lock);
    auto it = part.by_key.find(key);
    if (it == part.by_key.end()) return;
    auto& entries = it->second;
    std::size_t mine = 0;  // the index of p's next entry among p's own
    std::size_t removed = 0;
    auto kept = entries.begin();
    for (auto e = entries.begin(); e != entries.end(); ++e) {
      bool remove = false;
      if (e->first == p) {
        remove = mine < values.size() && doomed[mine] && e->second == values[mine];
        ++mine;
      }
      if (remove) {
        ++removed;
        continue;
      }
      if (kept != e) *kept = std::move(*e);
      ++kept;
    }
    entries.erase(kept, entries.end());
    if (entries.empty()) part.by_key.erase(it);
    drop_keys_of(part, p, key, removed);
  }

  // --- metadata ---------------------------------------------------------------------

  std::optional<term> meta(atom key) const {
    shared_lock lock(meta_lock_);
    auto it = meta_.find(key);
    if (it == meta_.end()) return std::nullopt;
    return it->second;
  }
  void put_meta(atom key, term value) {
    lock_guard lock(meta_lock_);
    meta_.insert_or_assign(key, std::move(value));
  }
  void delete_meta(atom key) {
    lock_guard lock(meta_lock_);
    meta_.erase(key);
  }

  // --- via_registry ---------------------------------------------------------------

  bool register_name(const term& key, const pid& process) override {
    if (mode_ != registry::unique || !alive()) return false;
    return register_key(key, atoms::undefined, process).is_ok();
  }
  void unregister_name(const term& key) override {
    if (alive()) unregister(key, self());
  }
  std::optional<pid> whereis_name(const term& key) const override {
    if (!alive()) return std::nullopt;
    auto entries = const_cast<registry_state*>(this)->lookup(key);
    if (entries.empty()) return std::nullopt;
    return entries.front().first;
  }
  std::string describe() const override { return name_ ? std::string(name_->name()) : "registry"; }

 private:
  // Removes `key` from a dead holder's by_pid list (the lock is held).
  static void drop_key_of(partition& part, const pid& holder, const term& key)
      BL_REQUIRES(part.lock) {
    auto mine = part.by_pid.find(holder);
    if (mine == part.by_pid.end()) return;
    auto& keys = mine->second;
    keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
    if (keys.empty()) part.by_pid.erase(mine);
  }

  // Removes `count` of the occurrences of `key` from p's by_pid list, one per
  // registration removed (the lock is held).
  static void drop_keys_of(partition& part, const pid& p, const term& key, std::size_t count)
      BL_REQUIRES(part.lock) {
    auto mine = part.by_pid.find(p);
    if (mine == part.by_pid.end() || count == 0) return;
    auto& keys = mine->second;
    for (auto k = keys.begin(); k != keys.end() && count > 0;) {
      if (*k == key) {
        k = keys.erase(k);
        --count;
      } else {
        ++k;
      }
    }
    if (keys.empty()) part.by_pid.erase(mine);
  }

  registry::keys_mode mode_;
  std::optional<atom> name_;
  std::vector<std::unique_ptr<partition>> partitions_;
  std::atomic<bool> alive_{true};
  mutable shared_mutex meta_lock_;
  std::unordered_map<atom, term> meta_ BL_GUARDED_BY(meta_lock_);
};

namespace {

// --- named registries, per node ---------------------------------------------------------

struct named_key {
  node_runtime* node;
  std::uint32_t name;
  friend bool operator==(const named_key&, const named_key&) = default;
};
struct named_key_hash {
  std::size_t operator()(const named_key& k) const noexcept {
    return std::hash<const void*>{}(k.node) ^ (std::size_t{k.name} * 0x9E3779B97F4A7C15ull);
  }
};

mutex names_lock;
// The table of named registries (guarded by names_lock: a function-local static
// cannot carry BL_GUARDED_BY, so its accessor requires the lock instead).
std::unordered_map<named_key, std::weak_ptr<registry_state>, named_key_hash>& named_registries()
    BL_REQUIRES(names_lock) {
  static std::unordered_map<named_key, std::weak_ptr<registry_state>, named_key_hash> table;
  return table;
}

// --- the watcher of one partition ---------------------------------------------------------

process watcher(std::shared_ptr<registry_state> state, std::size_t index) {
  std::unordered_map<pid, ref> monitored;
  partition& part = state->part(index);
  for (;;) {
    bool done = false;
    co_await receive(
        [&](watch w) {
          if (monitored.count(w.process) == 0) monitored.emplace(w.process, monitor(w.process));
        },
        [&](down_message d) {
          auto it = monitored.find(d.from);
          if (it == monitored.end() || it->second != d.monitor) return;
          monitored.erase(it);
          state->forget(part, d.from);
        },
        [&](stop_watching) { done = true; });
    if (done) co_return;
  }
}

// --- the owner ----------------------------------------------------------------------------

class registry_owner {
 public:
  explicit registry_owner(std::shared_ptr<registry_state> state) : state_(std::move(state)) {
    trap_exit(true);
    state_->owner = self();
    for (unsigned i = 0; i < state_->partition_count(); ++i)
      state_->part(i).watcher = spawn_link(&watcher, state_, static_cast<std::size_t>(i));
    if (state_->name()) {
      lock_guard guard(names_lock);
      named_registries()[named_key{this_thread.node, state_->name()->index()}] = state_;
    }
  }
  registry_owner(const registry_owner&) = delete;
  registry_owner& operator=(const registry_owner&) = delete;

  // Ends with the owner, however it ends (its frame is destroyed even when killed).
  ~registry_owner() {
    state_->set_alive(false);
    if (state_->name()) {
      lock_guard guard(names_lock);
      auto& table = named_registries();
      auto it = table.find(named_key{this_thread.node, state_->name()->index()});
      if (it != table.end() && it->second.lock() == state_) table.erase(it);
    }
  }

  // A watcher that ends takes the registry with it (its supervisor restarts it).
  gen_server::result handle_info(const exit_message& e) { return gen_server::stopping(e.reason); }

  void terminate(const term&) {
    state_->set_alive(false);
    for (unsigned i = 0; i < state_->partition_count(); ++i) {
      unlink(state_->part(i).watcher);
      send(state_->part(i).watcher, stop_watching{});
    }
  }

 private:
  std::shared_ptr<registry_state> state_;
};

}  // namespace

}  // namespace detail

// --- the handle ---------------------------------------------------------------------------

task<registry::started> registry::start_link(options how) {
  auto state = std::make_shared<detail::registry_state>(how.keys, how.partitions, how.name);
  gen_server::start_options start_as;
  if (how.name) start_as = gen_server::start_options(*how.name);
  start_result r =
      co_await gen_server::start_link<detail::registry_owner>(std::move(start_as), state);
  co_return started(std::move(r), std::move(state));
}

registry registry::started::registry() const {
  pid_or_throw();
  return beamline::registry(state_);
}

std::optional<registry> registry::named(atom name) {
  detail::lock_guard guard(detail::names_lock);
  auto& table = detail::named_registries();
  auto it = table.find(detail::named_key{detail::this_thread.node, name.index()});
  if (it == table.end()) return std::nullopt;
  std::shared_ptr<detail::registry_state> state = it->second.lock();
  if (!state || !state->alive()) return std::nullopt;
  return registry(std::move(state));
}

detail::registry_state& registry::state() const {
  if (!state_ || !state_->alive())
    throw error(atoms::badarg, "registry: unknown registry (it has ended, or was never started)");
  return *state_;
}

status registry::register_key(const term& key, term value) const {
  return state().register_key(key, std::move(value), self());
}

void registry::unregister(const term& key) const {
  state().unregister(key, self());
}

std::vector<registry::entry> registry::lookup(const term& key) const {
  return state().lookup(key);
}

void registry::dispatch(const term& key,
                        const std::function<void(const std::vector<entry>&)>& f) const {
  detail::registry_state& s = state();
  if (s.mode() == unique) {
    std::vector<entry> entries;
    s.lookup_in(s.for_key(key), key, entries);
    if (!entries.empty()) f(entries);
    return;
  }
  for (unsigned i = 0; i < s.partition_count(); ++i) {
    std::vector<entry> entries;
    s.lookup_in(s.part(i), key, entries);
    if (!entries.empty()) f(entries);
  }
}

std::vector<term> registry::keys(const pid& process) const {
  detail::registry_state& s = state();
  std::vector<term> out;
  auto collect = [&](const detail::partition& part) {
    detail::shared_lock lock(part.lock);
    auto it = part.by_pid.find(process);
    if (it != part.by_pid.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  };
  if (s.mode() == duplicate) {
    collect(s.for_pid(process));
  } else {
    for (unsigned i = 0; i < s.partition_count(); ++i) collect(s.part(i));
  }
  return out;
}

std::size_t registry::count() const {
  detail::registry_state& s = state();
  std::size_t n = 0;
  for (unsigned i = 0; i < s.partition_count(); ++i) {
    const detail::partition& part = s.part(i);
    detail::shared_lock lock(part.lock);
    for (const auto& [key, entries] : part.by_key) n += entries.size();
  }
  return n;
}

std::optional<std::pair<term, term>> registry::update_value(
    const term& key, const std::function<term(const term&)>& f) const {
  detail::registry_state& s = state();
  if (s.mode() != unique) return std::nullopt;
  const pid me = self();
  detail::partition& part = s.for_key(key);
  detail::lock_guard lock(part.lock);
  auto it = part.by_key.find(key);
  if (it == part.by_key.end() || it->second.empty() || it->second.front().first != me)
    return std::nullopt;
  term old = it->second.front().second;
  term updated = f(old);
  it->second.front().second = updated;
  return std::pair{std::move(updated), std::move(old)};
}

std::vector<registry::entry> registry::match(const term& key, const pattern& value_pattern,
                                             const guard& when) const {
  std::vector<entry> out;
  for (auto& m : state().match(key, value_pattern))
    if (!when || when(m.found)) out.push_back(std::move(m.entry));
  return out;
}

std::size_t registry::count_match(const term& key, const pattern& value_pattern,
                                  const guard& when) const {
  std::vector<detail::registry_state::value_match> matches = state().match(key, value_pattern);
  if (!when) return matches.size();
  return static_cast<std::size_t>(
      std::count_if(matches.begin(), matches.end(), [&](const auto& m) { return when(m.found); }));
}

void registry::unregister_match(const term& key, const pattern& value_pattern,
                                const guard& when) const {
  state().unregister_match(key, value_pattern, when, self());
}

std::vector<term> registry::select(const pattern& registration, const guard& when,
                                   const projection& result) const {
  std::vector<term> out;
  for (auto& m : state().select(registration)) {
    if (when && !when(m.found)) continue;
    out.push_back(result ? result(m.found) : std::move(m.registration));
  }
  return out;
}

std::size_t registry::count_select(const pattern& registration, const guard& when) const {
  std::vector<detail::registry_state::registration_match> matches = state().select(registration);
  if (!when) return matches.size();
  return static_cast<std::size_t>(
      std::count_if(matches.begin(), matches.end(), [&](const auto& m) { return when(m.found); }));
}

std::optional<term> registry::meta(atom key) const {
  return state().meta(key);
}

void registry::put_meta(atom key, term value) const {
  state().put_meta(key, std::move(value));
}

void registry::delete_meta(atom key) const {
  state().delete_meta(key);
}

via_name registry::via(term key) const {
  state();
  return via_name{state_, std::move(key)};
}

pid registry::owner() const {
  return state().owner;
}

registry::keys_mode registry::mode() const {
  return state().mode();
}

unsigned registry::partitions() const {
  return state().partition_count();
}

}  // namespace beamline
