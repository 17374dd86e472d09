// beamline/otp/server_ref.hpp: how a behaviour's process is addressed.
//
// Erlang addresses a server by pid, by registered name, or by {via, Module, Name},
// where Module is a name registry with register_name/whereis_name/unregister_name.
// A server_ref is the same three choices:
//
//     bl::server_ref a = some_pid;                      // a pid
//     bl::server_ref b = bl::atom("kv");                // a locally registered name
//     bl::server_ref c = workers.via(bl::term(42));     // a key of a bl::registry
//
// A name is resolved each time it is used (a call, a cast), so a server that was
// restarted under the same name is found again. `via_registry` is the interface a
// registry implements to name servers; beamline's own bl::registry (registry.hpp)
// does, and so can any user type.
//
// Timeouts of the behaviours are std::chrono::milliseconds; `bl::infinity` means
// "no timeout", as Erlang's `infinity`.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "beamline/atom.hpp"
#include "beamline/pid.hpp"
#include "beamline/process.hpp"
#include "beamline/term.hpp"

namespace beamline {

// No timeout (Erlang's `infinity`) for calls, stops and shutdowns.
inline constexpr std::chrono::milliseconds infinity = std::chrono::milliseconds::max();

// A registry that can name processes: Erlang's {via, Module, Name} protocol. Every
// member may be called from any process; register_name registers the calling
// process (`process` is always self()).
class via_registry {
 public:
  virtual ~via_registry() = default;
  // Registers `process` under `key`; false if the key is taken by a live process.
  virtual bool register_name(const term& key, const pid& process) = 0;
  // What a behaviour starting under a via name calls, in its own process: by default
  // register_name; a registry whose registration takes messages (the cluster's
  // bl::names::global) registers here instead.
  virtual task<bool> register_name_async(const term& key, const pid& process);
  // Removes the calling process's registration of `key`, if any.
  virtual void unregister_name(const term& key) = 0;
  // The process registered under `key`, if any.
  virtual std::optional<pid> whereis_name(const term& key) const = 0;
  // For messages and errors: how this registry prints.
  virtual std::string describe() const = 0;
};

// {via, Registry, Key}.
struct via_name {
  std::shared_ptr<via_registry> registry;
  term key;

  term to_term() const;  // {via, '<registry>', Key}
  friend bool operator==(const via_name& a, const via_name& b) noexcept {
    return a.registry == b.registry && a.key == b.key;
  }
};

class server_ref {
 public:
  server_ref() = default;
  server_ref(const pid& p) : target_(p) {}                 // NOLINT(google-explicit-constructor)
  server_ref(atom name) : target_(name) {}                 // NOLINT(google-explicit-constructor)
  server_ref(via_name name) : target_(std::move(name)) {}  // NOLINT(google-explicit-constructor)

  bool is_pid() const noexcept { return std::holds_alternative<pid>(target_); }
  bool is_name() const noexcept { return std::holds_alternative<atom>(target_); }
  bool is_via() const noexcept { return std::holds_alternative<via_name>(target_); }
  const pid* as_pid() const noexcept { return std::get_if<pid>(&target_); }
  const atom* as_name() const noexcept { return std::get_if<atom>(&target_); }
  const via_name* as_via() const noexcept { return std::get_if<via_name>(&target_); }

  // The process it names now, or nullopt (a name nobody holds). A pid is returned
  // as is, alive or not. Needs a node (call it from a process or a node's thread).
  std::optional<pid> resolve() const;

  // As Erlang prints a ServerRef: <0.42.0>, kv, or {via, Registry, Key}.
  term to_term() const;
  std::string to_string() const { return to_term().to_string(); }

  friend bool operator==(const server_ref&, const server_ref&) = default;

 private:
  std::variant<pid, atom, via_name> target_;
};

}  // namespace beamline
