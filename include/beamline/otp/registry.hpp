// beamline/otp/registry.hpp: Elixir's Registry, a local key-value process registry.
//
//     auto workers = (co_await bl::registry::start_link({.keys = bl::registry::unique,
//                                                        .partitions = 4,
//                                                        .name = bl::atom("workers")}))
//                        .registry();
//     workers.register_key(bl::term(42), bl::atom("meta"));   // registers the caller
//     auto entries = workers.lookup(bl::term(42));            // [{Pid, meta}]
//     co_await bl::gen_server::start_link<worker>(workers.via(bl::term(7)));  // a via name
//     auto same = bl::registry::named(bl::atom("workers"));   // from anywhere on the node
//
// Keys and values are terms. A process registers itself (register_key) under a key
// with a value; `unique` registries allow one process per key, `duplicate` ones
// any number (a process may register a key several times). lookup, dispatch,
// keys, count and the queries below read the tables directly, from any process,
// without messages. Entries are removed when their process ends: each partition
// has a watcher process that monitors the processes registered in it and deletes
// their entries on DOWN. Until the DOWN is handled a dead owner's entries still
// exist, but lookup and the queries skip them and a unique key held by a dead
// process can be taken at once (Elixir checks liveness the same way).
//
// Queries take Erlang patterns (pattern.hpp) where Elixir takes match specs:
//
//     workers.match(bl::atom("topic"), bl::pattern("{shard, N}"));    // [{Pid, Value}]
//     workers.select(bl::pattern("{Key, _, busy}"), {},               // every busy key
//                    [](const bl::bindings& b) { return b["Key"]; });
//
// match, count_match and unregister_match look at the values under one key;
// select and count_select at every registration, as the term {Key, Pid, Value}.
// A guard, the C++ form of a match spec's guards, is a predicate over the
// pattern's bindings; a projection, the form of its body, makes select's result
// from them. Guards and projections run in the calling process after the tables'
// locks are released, so they may do anything, the registry's own operations
// included.
//
// Metadata (meta, put_meta, delete_meta) is a registry-wide table from atoms to
// terms, readable and writable from any process without messages; it is empty when
// the registry starts and goes with it.
//
// Partitions split the tables (and their locks and watchers) for scale: a unique
// key lives in the partition its hash selects; a duplicate registry partitions by
// the registering pid, so lookups read every partition (Elixir's layout).
//
// The registry itself is a gen_server (the owner of the tables, which traps exits
// and links its watchers): start_link fits in a supervision tree, and when the
// owner ends the tables go with it; operations on a handle whose registry has
// ended throw beamline::error(badarg), Elixir's "unknown registry".
//
// Not here: listeners (Elixir's :listeners), and dispatch with an MFA (it takes a
// C++ function).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/otp/server_ref.hpp"
#include "beamline/otp/start_result.hpp"
#include "beamline/pattern.hpp"
#include "beamline/pid.hpp"
#include "beamline/process.hpp"
#include "beamline/term.hpp"

namespace beamline {

namespace detail {
class registry_state;
}

class registry {
 public:
  enum keys_mode : std::uint8_t { unique, duplicate };

  // (An aggregate of trivially destructible members: safe to write inline, even in
  // a co_await expression with g++ 12.)
  struct options {
    keys_mode keys = unique;
    unsigned partitions = 1;
    std::optional<atom> name;  // registry::named(name) finds it; the owner process gets the name
  };

  using entry = std::pair<pid, term>;
  // A guard: which matches a query keeps, decided from the pattern's bindings (the
  // C++ form of a match spec's guards). An empty guard keeps every match.
  using guard = std::function<bool(const bindings&)>;
  // What select returns for a match, made from its bindings (a match spec's body).
  using projection = std::function<term(const bindings&)>;

  class started : public start_result {
   public:
    started(start_result r, std::shared_ptr<detail::registry_state> state)
        : start_result(std::move(r)), state_(std::move(state)) {}
    // The handle; beamline::error with the reason if the start failed.
    beamline::registry registry() const;

   private:
    std::shared_ptr<detail::registry_state> state_;
  };

  // Starts a registry linked to the caller.
  static task<started> start_link(options how);
  // The registry started under `name` on this node, if it is running.
  static std::optional<registry> named(atom name);

  registry() = default;

  // Registers the calling process under `key` with `value`: ok, or
  // {error, {already_registered, Pid}} when a unique key is held by a live process
  // (the caller included).
  status register_key(const term& key, term value = atoms::undefined) const;
  // Removes the calling process's registrations of `key`.
  void unregister(const term& key) const;
  // The live processes registered under `key`, with their values.
  std::vector<entry> lookup(const term& key) const;
  // Calls f with the entries under `key` of each partition that has some (from the
  // calling process, outside any lock). Nothing if none.
  void dispatch(const term& key, const std::function<void(const std::vector<entry>&)>& f) const;
  // The keys `process` is registered under.
  std::vector<term> keys(const pid& process) const;
  // Every registration (of live and not yet removed processes).
  std::size_t count() const;
  // Unique registries: replaces the caller's value under `key` with f(old), and
  // returns {new, old}; nullopt if the caller does not hold `key`.
  std::optional<std::pair<term, term>> update_value(
      const term& key, const std::function<term(const term&)>& f) const;

  // The live entries under `key` whose value matches `value_pattern` and `when`.
  std::vector<entry> match(const term& key, const pattern& value_pattern,
                           const guard& when = {}) const;
  // How many entries match(key, value_pattern, when) returns.
  std::size_t count_match(const term& key, const pattern& value_pattern,
                          const guard& when = {}) const;
  // Removes the calling process's registrations of `key` whose value matches
  // `value_pattern` and `when`; other processes' entries stay.
  void unregister_match(const term& key, const pattern& value_pattern,
                        const guard& when = {}) const;
  // Every live registration, as the term {Key, Pid, Value}, that matches
  // `registration` and `when`: result(bindings) for each, or the tuple itself when
  // there is no projection. In no particular order.
  std::vector<term> select(const pattern& registration, const guard& when = {},
                           const projection& result = {}) const;
  // How many terms select(registration, when) returns.
  std::size_t count_select(const pattern& registration, const guard& when = {}) const;

  // The registry's metadata under `key`; nullopt if none was put.
  std::optional<term> meta(atom key) const;
  // Sets the metadata under `key`, replacing any value there.
  void put_meta(atom key, term value) const;
  // Removes the metadata under `key` (nothing if there is none).
  void delete_meta(atom key) const;

  // {via, Registry, Key}: a name for gen_server::start_options and server_ref
  // (unique registries).
  via_name via(term key) const;
  // The owner process (for links, monitors, supervision).
  pid owner() const;
  keys_mode mode() const;
  unsigned partitions() const;

  friend bool operator==(const registry& a, const registry& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  explicit registry(std::shared_ptr<detail::registry_state> state) : state_(std::move(state)) {}
  detail::registry_state& state() const;  // badarg if the registry has ended

  std::shared_ptr<detail::registry_state> state_;
};

}  // namespace beamline
