// beamline/pg.hpp: process groups, as Erlang's pg (OTP 23 and later), on one node
// and across a cluster of beamline and Erlang nodes.
//
//     co_await bl::pg::start_link();                       // the default scope, `pg`
//     co_await bl::pg::join(bl::atom("workers"), bl::self());
//     for (bl::pid w : bl::pg::get_members(bl::atom("workers"))) bl::send(w, job);
//
// A scope is a server registered under the scope's name (start_link(scope)); each
// node that takes part in a scope runs one. The scope servers of one name find each
// other (each sends {discover, Self} to {Scope, Node} for every node that is or
// becomes connected) and keep each other informed with OTP's own messages
// ({sync, Peer, Groups} as a gen_server cast, {join, Peer, Group, PidOrPids},
// {leave, Peer, PidOrPids, Groups}), so a beamline scope and an Erlang node's pg
// scope of the same name form one scope. A group is any term.
//
// The consistency model is pg's: each node is the authority for its own processes
// and tells the others; there is no lock and no global agreement. get_members reads
// this node's view at once (no message), which lags the other nodes by the time
// their messages take; a member leaves when it ends, when it leaves explicitly, or
// when the connection to its node is lost (then the two sides of a partition each
// see only their own members, and exchange them again when they reconnect).
//
// A process may join a group several times and then appears that many times; leave
// takes one occurrence per call. Only processes of this node can join or leave
// through it (std::invalid_argument otherwise, as pg's badarg).
//
// Monitors (pg:monitor_scope, pg:monitor): the monitoring process gets the term
// messages {Ref, join, Group, Pids} and {Ref, leave, Group, Pids} for every change
// this node sees, until demonitor(scope, Ref).
//
// Start the scope after bl::dist::start for it to take part in the cluster (a scope
// started before serves this node only, as pg on a node that is not distributed).
#pragma once

#include <utility>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/otp/start_result.hpp"
#include "beamline/pid.hpp"
#include "beamline/process.hpp"
#include "beamline/ref.hpp"
#include "beamline/term.hpp"

namespace beamline::pg {

// The scope pg uses when none is named.
inline atom default_scope() {
  static const atom scope("pg");  // (made once: a lookup should not intern)
  return scope;
}

// Starts the scope server `scope`, registered under that name, and waits until it
// is ready (pg:start_link/1, pg:start/1): {error, {already_started, Pid}} if the name
// is taken. start_link links it to the caller.
task<start_result> start_link(atom scope);
task<start_result> start(atom scope);
inline task<start_result> start_link() {
  return start_link(default_scope());
}

// Adds `member` (or each of `members`) to `group` (pg:join/3). Processes of this node
// only. Throws what a gen_server call throws if the scope is not running.
task<void> join(atom scope, term group, pid member);
task<void> join(atom scope, term group, std::vector<pid> members);
inline task<void> join(term group, pid member) {
  return join(default_scope(), std::move(group), member);
}

// Removes one occurrence of `member` (or of each of `members`) from `group`
// (pg:leave/3): false if none of them had joined it (pg's not_joined).
task<bool> leave(atom scope, term group, pid member);
task<bool> leave(atom scope, term group, std::vector<pid> members);
inline task<bool> leave(term group, pid member) {
  return leave(default_scope(), std::move(group), member);
}

// The members of `group` on every node of the scope, as this node knows them; or
// only those of this node. Empty if the group or the scope does not exist. They read
// the scope's table directly (no message), from any process of this node.
std::vector<pid> get_members(atom scope, const term& group);
std::vector<pid> get_local_members(atom scope, const term& group);
inline std::vector<pid> get_members(const term& group) {
  return get_members(default_scope(), group);
}
inline std::vector<pid> get_local_members(const term& group) {
  return get_local_members(default_scope(), group);
}

// The groups with at least one member (anywhere; or on this node).
std::vector<term> which_groups(atom scope);
std::vector<term> which_local_groups(atom scope);
inline std::vector<term> which_groups() {
  return which_groups(default_scope());
}

// What monitor_scope returns: the monitor's reference (the Ref of the notifications)
// and every group with its members at that moment.
struct scope_monitor {
  ref monitor;
  std::vector<std::pair<term, std::vector<pid>>> groups;
};
// What monitor returns: the reference and the group's members at that moment.
struct group_monitor {
  ref monitor;
  std::vector<pid> members;
};

// Subscribes the calling process to every join and leave in the scope
// (pg:monitor_scope/1), or in one group (pg:monitor/2).
task<scope_monitor> monitor_scope(atom scope);
task<group_monitor> monitor(atom scope, term group);
// Ends such a subscription and drops its notifications already queued (pg:demonitor/2):
// false if `monitor` was not one of this scope's.
task<bool> demonitor(atom scope, ref monitor);

}  // namespace beamline::pg
