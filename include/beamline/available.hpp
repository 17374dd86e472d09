// beamline/available.hpp: an available (AP) name registry for beamline clusters:
// unique names with metadata that every node resolves, and that keep working on
// both sides of a partition.
//
//     co_await bl::names::available::start_link(bl::atom("services"));  // on each node
//     namespace av = bl::names::available;
//     av::register_name(bl::atom("services"), bl::atom("billing"), bl::self(), meta);
//     std::optional<bl::pid> p = av::whereis_name(bl::atom("services"), bl::atom("billing"));
//
// A scope is a server registered under the scope's name; each node that takes part
// runs one (start it after bl::dist::start). The servers of one scope find each
// other on every visible node that is or becomes connected, and each node is the
// authority for its own processes: register_name writes this node's table at once
// and answers (no message to another node, no lock across the cluster); the scope
// server then tells the other nodes (asynchronously, in order). A lookup reads this
// node's table (no message), from any process of the node.
//
// Consistency: available and eventually consistent. While nodes cannot reach each
// other (a partition), each side keeps serving: names of processes on the other side
// are removed (with the reason {netsplit, Node}), and a name can be registered on
// both sides. When the sides meet again, they exchange their registrations, and a
// name held by two processes is resolved the same way on every node: by default the
// most recent registration keeps it (registration times in microseconds of the
// registering node's clock; equal times: the process whose node name, then number,
// sorts last) and the other process's node removes its registration and ends it
// with the exit reason {name_conflict, Name, Meta, Winner} (a process that traps
// exits gets that message and stays alive, without the name). A resolver given to
// start_link decides instead (it must decide the same on every node). The same
// resolution settles two registrations of one name made at once on two connected
// nodes, before either has heard of the other: both callers got true, and one of
// them loses the name a moment later.
//
// Events: a process that subscribes gets, for every change this node sees, the term
// messages
//   {available, Scope, registered, Name, Pid, Meta, Reason}
//   {available, Scope, unregistered, Name, Pid, Meta, Reason}
//   {available, Scope, conflict, Name, KeptPid, DiscardedPid}
// with Reason one of: normal (register_name, unregister_name, on whichever node);
// {sync, Node} (learned, or found gone, when the scope servers of this node and Node
// exchange their registrations: on connect and after a partition heals);
// {process_down, ExitReason} (the process ended); {netsplit, Node} (the connection
// to its node was lost); {scope_down, Node} (its node's scope server ended);
// {name_conflict, Name, Meta, Winner} (it lost a conflict).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/otp/server_ref.hpp"
#include "beamline/otp/start_result.hpp"
#include "beamline/pid.hpp"
#include "beamline/process.hpp"
#include "beamline/term.hpp"

namespace beamline::names::available {

// The scope used when none is named.
inline atom default_scope() {
  static const atom scope("available");  // (made once: a lookup should not intern)
  return scope;
}

// One name's holder as this node knows it.
struct registration {
  pid process;
  term meta;
  std::int64_t time_us = 0;  // when it was registered, on its node's clock
  atom node;                 // the node of the process
};

// Decides a conflict: the process that keeps `name`, given its two registrations
// (`older` the one the default rule discards). Must return one of the two and
// decide the same on every node (it runs on each node that sees the conflict);
// anything else keeps the default rule's choice.
using resolver =
    std::function<pid(const term& name, const registration& older, const registration& newer)>;

// Starts the scope server `scope`, registered under that name (linked to the caller
// with start_link): {error, {already_started, Pid}} if the name is taken.
task<start_result> start_link(atom scope, resolver method = {});
task<start_result> start(atom scope, resolver method = {});

// Registers `process` (of this node) under `name` with `meta`; false if this node
// knows a holder of `name`. A process may hold several names. Answers at once; the
// other nodes learn of it shortly after. Throws bl::error(badarg) if the scope is
// not running here, std::invalid_argument for a process of another node.
bool register_name(atom scope, term name, pid process, term meta = atoms::undefined);
// Removes `name` if a process of this node holds it; false otherwise.
bool unregister_name(atom scope, const term& name);

// Who holds `name`, as this node knows it (no message; any process of the node).
std::optional<pid> whereis_name(atom scope, const term& name);
std::optional<registration> lookup(atom scope, const term& name);
// Every name this node knows, with its holder; how many.
std::vector<std::pair<term, registration>> registrations(atom scope);
std::size_t count(atom scope);

// Subscribes the calling process to the scope's events (above), until unsubscribe
// or its end.
task<void> subscribe(atom scope);
task<void> unsubscribe(atom scope);

// A name for an OTP behaviour: {via, available:Scope, Name}. The server registers
// itself under `name` (with meta undefined) when it starts.
via_name via(atom scope, term name);

}  // namespace beamline::names::available
