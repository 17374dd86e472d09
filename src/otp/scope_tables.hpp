// scope_tables.hpp: the per-node tables of a cluster registry's scopes (pg's groups,
// the available registry's names), found from any process of the node without a
// lock.
//
// A table is made when its scope first starts on a node and kept for the life of
// the OS process (its server empties it when it ends, and a new server of the scope
// takes it over): a lookup keeps a per-thread pointer to the last table it used and
// takes no lock and no reference count to get there. A table is small when empty,
// and a program starts few scopes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "beamline/atom.hpp"
#include "beamline/detail/thread_state.hpp"
#include "beamline/dist.hpp"
#include "beamline/pid.hpp"
#include "beamline/process.hpp"
#include "beamline/term.hpp"

namespace beamline::detail {

template <class Table>
class scope_tables {
 public:
  // This node's table of `scope`, or nullptr if the scope never ran here.
  static Table* find(atom scope) {
    thread_local key cached_key{nullptr, 0};
    thread_local Table* cached = nullptr;
    const key k{this_thread.node, scope.index()};
    if (cached && cached_key == k) return cached;
    std::lock_guard guard(lock());
    auto it = all().find(k);
    if (it == all().end()) return nullptr;
    cached_key = k;
    cached = it->second;
    return cached;
  }

  // This node's table of `scope`, made if needed (by the scope's server).
  static Table& get(atom scope) {
    std::lock_guard guard(lock());
    Table*& t = all()[key{this_thread.node, scope.index()}];
    if (!t) t = new Table();  // kept: see above
    return *t;
  }

 private:
  struct key {
    const void* node;
    std::uint32_t scope;
    friend bool operator==(const key&, const key&) = default;
  };
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept {
      return std::hash<const void*>()(k.node) ^ (std::size_t{k.scope} * 0x9E3779B97F4A7C15ull);
    }
  };
  static std::mutex& lock() {
    static auto* m = new std::mutex();  // never destroyed: lookups may run at exit
    return *m;
  }
  static std::unordered_map<key, Table*, key_hash>& all() {
    static auto* m = new std::unordered_map<key, Table*, key_hash>();
    return *m;
  }
};

// A scope server's hold on its node's table of the scope (Table has `lock`, `server`
// and clear()): made in the server, it takes the table over, emptied; destroyed, it
// empties it unless a newer server of the scope has taken it over meanwhile.
template <class Table>
class table_hold {
 public:
  explicit table_hold(atom scope) : table_(&scope_tables<Table>::get(scope)), owner_(self()) {
    std::lock_guard guard(table_->lock);
    table_->clear();  // (what a previous server of the scope left)
    table_->server = owner_;
  }
  table_hold(const table_hold&) = delete;
  table_hold& operator=(const table_hold&) = delete;
  ~table_hold() {
    std::lock_guard guard(table_->lock);
    if (table_->server != owner_) return;
    table_->clear();
    table_->server = pid();
  }
  Table* operator->() const noexcept { return table_; }

 private:
  Table* table_;
  pid owner_;
};

// Subscribes the calling scope server to nodeup and sends {discover, Self} to the
// server of `scope` on every visible node (pg's discovery, used by both registries).
inline void discover_peers(atom scope) {
  dist::monitor_nodes(true);
  const term discover = term::tuple({atom("discover"), self()});
  for (atom node : dist::nodes()) dist::send(scope, node, discover);
}

}  // namespace beamline::detail
