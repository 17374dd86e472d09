// beamline/global.hpp: cluster-wide unique names, as Erlang's `global`, shared with
// the Erlang nodes of the cluster.
//
//     co_await bl::names::global::register_name(bl::atom("billing"), bl::self());  // yes
//     std::optional<bl::pid> p = bl::names::global::whereis_name(bl::atom("billing"));
//
// A distributed node (bl::dist::start) runs `global_name_server`, which speaks OTP
// 25's global protocol with every visible node it connects to, Erlang or beamline:
// when two nodes meet, their lockers take the cluster lock `global`, the two sides
// exchange their names, conflicts are resolved, and each side tells the nodes it
// knows (a name registered on an Erlang node resolves on every beamline node and
// the other way round; global:sync() returns on both). Registering a name takes the
// lock on every node this node knows, checks the name is free and writes it
// everywhere; a lookup reads this node's table (no message).
//
// Consistency: one name, one process, cluster-wide, as `global`: registration waits
// for the lock, so it stalls while a node it knows does not answer (until that
// node is down). When the connection to a node is lost, the names of its processes
// go; prevent_overlapping_partitions (OTP 25's default) is followed: a node told by
// another that it lost a third node disconnects from that node too, so the cluster
// splits into parts that do not overlap. When the parts meet again, names held on
// both sides are resolved by the method given when the name was registered.
//
// Everything here runs in a process (a task), except whereis_name, send and
// registered_names, which read the table from any thread of a running node.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/otp/server_ref.hpp"
#include "beamline/pid.hpp"
#include "beamline/process.hpp"
#include "beamline/term.hpp"

namespace beamline::names::global {

// What to do when two processes hold one name after two parts of a cluster meet
// (global's resolve functions). The method runs on the node of the process that
// held the name on the side that resolves:
// - random_exit (the default, global:random_exit_name/3): keeps one, kills the
//   other (the one on the node whose name sorts last) with reason kill;
// - random_notify (global:random_notify_name/3): keeps one, the other gets the
//   message {global_name_conflict, Name};
// - notify_all (global:notify_all_name/3): unregisters the name, each gets
//   {global_name_conflict, Name, OtherPid}.
enum class resolve { random_exit, random_notify, notify_all };

// A method of one's own: given the name and the two processes, the one that keeps
// the name, or nullopt for neither. It runs on this node; Erlang nodes reach it
// through global:resolve_it when the process that held the name is on this node.
// (On an Erlang node the method is a term it cannot call: if that node has to run
// it, it unregisters the name, as `global` does for a method that fails.)
using resolver = std::function<std::optional<pid>(const term& name, const pid& a, const pid& b)>;

// Registers `process` (of this node or another) under `name` on every node of the
// cluster; false if the name is taken or `process` already has a global name.
task<bool> register_name(term name, pid process, resolve method = resolve::random_exit);
task<bool> register_name(term name, pid process, resolver method);
// The same, replacing whoever held the name (global:re_register_name).
task<void> re_register_name(term name, pid process, resolve method = resolve::random_exit);
// Removes the name everywhere (nothing if nobody holds it).
task<void> unregister_name(term name);

// Who holds `name`, as this node sees it (nullopt: nobody, or a process of this
// node that has ended).
std::optional<pid> whereis_name(const term& name);
// Sends `message` to the holder of `name` and returns its pid; throws bl::error
// with reason {badarg, {Name, Message}} when nobody holds it (global:send/2).
pid send(const term& name, term message);
// Every name this node knows.
std::vector<term> registered_names();

// A name for an OTP behaviour ({via, global, Name}): a gen_server, gen_statem or
// supervisor started under it registers itself with register_name (the default
// method) before its init runs, and is addressed through whereis_name; its name
// goes when it ends, on every node (global monitors every holder). Erlang nodes
// reach it as {via, global, Name} too.
//     co_await bl::gen_server::start_link<billing>(bl::names::global::via(bl::atom("billing")));
via_name via(term name);

// Returns once this node has exchanged names with every node it is connected to
// (global:sync/0).
task<void> sync();

// Cluster locks (global:set_lock/3, del_lock/2): `id` is {ResourceId,
// LockRequesterId}; a resource is held by one requester id at a time, by any
// number of processes using that id. set_lock tries on `nodes` (all the visible
// nodes and this one when empty) `retries` more times after a first failure (with
// global's random back-off), -1 for ever; true once held on all of them.
task<bool> set_lock(term id, std::vector<atom> nodes = {}, int retries = -1);
task<void> del_lock(term id, std::vector<atom> nodes = {});
// Runs `body` while holding the lock `id` on `nodes` (global:trans/2,3,4): set_lock
// with `retries`, then body, then del_lock, also when body throws (the exception
// goes on). False, and body not run, when the lock could not be set (Erlang's
// `aborted`).
task<bool> trans(term id, std::function<task<void>()> body, std::vector<atom> nodes = {},
                 int retries = -1);

}  // namespace beamline::names::global
