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

}  // namespace beamline::detail
