// pg.cpp: process groups (beamline/pg.hpp), OTP 25's pg protocol on a gen_server.
//
// The scope server is a term gen_server registered under the scope's name, so that
// the scope servers of Erlang nodes reach it with the messages OTP's pg.erl sends:
//   {discover, Peer}                   a peer scope server announces itself: answer
//                                      with a sync cast of this node's members, and
//                                      if the peer is new, monitor it and discover
//                                      back;
//   {'$gen_cast', {sync, Peer, Groups}} the peer's whole local membership
//                                      ([{Group, [Pid]}]): it replaces what this
//                                      node knew of that peer;
//   {join, Peer, Group, PidOrPids}      incremental changes from a known peer;
//   {leave, Peer, PidOrPids, Groups}
// plus the DOWN of a local member (it leaves every group; the peers are told), the
// DOWN of a peer scope server (its members leave; a lost connection gives that DOWN
// with noconnection), and {nodeup, Node} (discover the scope on the new node).
//
// Who touches what: the scope server alone writes its table; any process of the node
// reads it (get_members and the others) under the table's lock, which is held only to
// copy a vector out or to change one entry. A node's table of a scope is found
// through otp/scope_tables.hpp (a per-thread pointer, no lock); it outlives its
// server, which empties it when it ends.
#include "beamline/pg.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "beamline/dist.hpp"
#include "beamline/links.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/receive.hpp"
#include "beamline/send.hpp"
#include "otp/scope_tables.hpp"
#include "term/term_hash.hpp"

namespace beamline::pg {

namespace {

// What get_members and the others read: each group's members on every node, and
// those of this node (as pg's ETS table {Group, All, Local}). Newest first, as pg
// keeps them.
struct group_members {
  std::vector<pid> all;
  std::vector<pid> local;
};

// One per node and scope (otp/scope_tables.hpp: kept for the OS process's life,
// emptied when its server ends; a new server of the scope takes it over).
struct scope_table {
  std::mutex lock;
  std::unordered_map<term, group_members, detail::cached_term_hash> groups;
  pid server;  // null while the scope is not running
  void clear() { groups.clear(); }
};
using tables = detail::scope_tables<scope_table>;

// The protocol's atoms (made on first use, not at static initialisation).
struct protocol_atoms {
  atom join{"join"}, leave{"leave"}, discover{"discover"}, sync{"sync"}, join_local{"join_local"},
      leave_local{"leave_local"}, monitor{"monitor"}, demonitor{"demonitor"},
      not_joined{"not_joined"}, nodeup{"nodeup"}, down{"DOWN"};
};
const protocol_atoms& words() {
  static const protocol_atoms a;
  return a;
}

// pg's PidOrPids: one pid, or a list of them.
std::vector<pid> pids_of(const term& pid_or_pids) {
  std::vector<pid> out;
  if (pid_or_pids.is_pid()) {
    out.push_back(pid_or_pids.as_pid());
  } else if (pid_or_pids.is_list()) {
    for (const term& p : pid_or_pids.as_list())
      if (p.is_pid()) out.push_back(p.as_pid());
  }
  return out;
}

term pids_term(const std::vector<pid>& pids) {
  std::vector<term> elements(pids.begin(), pids.end());
  return term::list(std::move(elements));
}

// Pids ++ List (the new ones in front, in their order).
void prepend(std::vector<pid>& list, const std::vector<pid>& pids) {
  list.insert(list.begin(), pids.begin(), pids.end());
}

// List -- Pids: one occurrence of each.
void subtract(std::vector<pid>& list, const std::vector<pid>& pids) {
  for (const pid& p : pids) {
    auto it = std::find(list.begin(), list.end(), p);
    if (it != list.end()) list.erase(it);
  }
}

class scope_server {
 public:
  explicit scope_server(atom scope) : scope_(scope), table_(scope) {
    detail::discover_peers(scope_);
  }

  term handle_call(const term& request, const from& caller) {
    if (!request.is_tuple() && request == words().monitor) return monitor_scope(caller.caller());
    if (!request.is_tuple() || request.size() < 2 || !request[0].is_atom())
      throw error(atom("badarg"), "pg: unknown request " + request.to_string());
    const atom verb = request[0].as_atom();
    if (verb == words().join_local && request.size() == 3) {
      const std::vector<pid> pids = pids_of(request[2]);
      join_local(request[1], pids);
      broadcast(term::tuple({words().join, self(), request[1], request[2]}));
      return atoms::ok;
    }
    if (verb == words().leave_local && request.size() == 3) {
      const std::vector<pid> pids = pids_of(request[2]);
      if (!leave_local(request[1], pids)) return words().not_joined;
      broadcast(term::tuple({words().leave, self(), request[2], term::list({request[1]})}));
      return atoms::ok;
    }
    if (verb == words().monitor && request.size() == 2)
      return monitor_group(caller.caller(), request[1]);
    if (verb == words().demonitor && request.size() == 2 && request[1].is_ref())
      return demonitor(request[1].as_ref());
    throw error(atom("badarg"), "pg: unknown request " + request.to_string());
  }

  void handle_cast(const term& message) {
    // {sync, Peer, [{Group, [Pid]}]}
    if (message.is_tuple() && message.size() == 3 && message[0] == words().sync &&
        message[1].is_pid() && message[2].is_list())
      sync(message[1].as_pid(), message[2]);
  }

  void handle_info(const term& message) {
    if (!message.is_tuple() || message.size() < 2 || !message[0].is_atom()) return;
    const atom verb = message[0].as_atom();
    if (verb == words().join && message.size() == 4 && message[1].is_pid()) {
      remote_join(message[1].as_pid(), message[2], pids_of(message[3]));
    } else if (verb == words().leave && message.size() == 4 && message[1].is_pid() &&
               message[3].is_list()) {
      remote_leave(message[1].as_pid(), pids_of(message[2]), message[3]);
    } else if (verb == words().discover && message.size() == 2 && message[1].is_pid()) {
      discover(message[1].as_pid());
    } else if (verb == words().down && message.size() == 5 && message[1].is_ref() &&
               message[3].is_pid()) {
      down(message[1].as_ref(), message[3].as_pid());
    } else if (verb == words().nodeup && message.size() == 2 && message[1].is_atom()) {
      // pg follows visible nodes only (monitor_nodes(true) in Erlang).
      const atom node = message[1].as_atom();
      const std::vector<atom> visible = dist::nodes();
      if (node != dist::node_name() &&
          std::find(visible.begin(), visible.end(), node) != visible.end())
        dist::send(scope_, node, term::tuple({words().discover, self()}));
    }
    // {nodedown, _}: the peer's DOWN says it. Anything else is dropped (pg crashes
    // with badarg; a scope that many nodes share should not).
  }

 private:
  struct local_member {
    ref monitor;
    std::vector<term> groups;  // newest first, one entry per join
  };
  struct peer {
    ref monitor;
    std::map<term, std::vector<pid>> groups;
  };

  void broadcast(const term& message) {
    for (const auto& [p, _] : peers_) send(p, message);
  }

  // -- the table (and the notifications of its changes) --

  void table_join(const term& group, const std::vector<pid>& pids, bool local) {
    if (pids.empty()) return;
    {
      std::lock_guard guard(table_->lock);
      group_members& g = table_->groups[group];
      prepend(g.all, pids);
      if (local) prepend(g.local, pids);
    }
    notify(words().join, group, pids);
  }
  void table_leave(const term& group, const std::vector<pid>& pids, bool local) {
    if (pids.empty()) return;
    {
      std::lock_guard guard(table_->lock);
      auto it = table_->groups.find(group);
      if (it == table_->groups.end()) return;
      subtract(it->second.all, pids);
      if (local) subtract(it->second.local, pids);
      if (it->second.all.empty()) table_->groups.erase(it);
    }
    notify(words().leave, group, pids);
  }
  void notify(atom action, const term& group, const std::vector<pid>& pids) {
    if (scope_monitors_.empty() && monitored_groups_.empty()) return;
    const term members = pids_term(pids);
    for (const auto& [r, p] : scope_monitors_) send(p, term::tuple({r, action, group, members}));
    auto it = monitored_groups_.find(group);
    if (it == monitored_groups_.end()) return;
    for (const auto& [p, r] : it->second) send(p, term::tuple({r, action, group, members}));
  }

  // -- this node's members --

  // (join and leave check that the pids are this node's before calling, as pg's
  // ensure_local: the server takes what it is given.)
  void join_local(const term& group, const std::vector<pid>& pids) {
    for (const pid& p : pids) {
      auto it = local_.find(p);
      if (it == local_.end()) it = local_.emplace(p, local_member{beamline::monitor(p), {}}).first;
      it->second.groups.insert(it->second.groups.begin(), group);
    }
    table_join(group, pids, true);
  }
  // False when none of them was a member.
  bool leave_local(const term& group, const std::vector<pid>& pids) {
    std::vector<pid> left;
    for (const pid& p : pids) {
      auto it = local_.find(p);
      if (it == local_.end()) continue;
      auto& groups = it->second.groups;
      auto g = std::find(groups.begin(), groups.end(), group);
      if (g == groups.end()) continue;
      groups.erase(g);
      if (groups.empty()) {
        beamline::demonitor(it->second.monitor);
        local_.erase(it);
      }
      left.push_back(p);
    }
    if (left.empty()) return false;
    table_leave(group, left, true);
    return true;
  }

  // -- the peers' members --

  void remote_join(const pid& from, const term& group, const std::vector<pid>& pids) {
    auto it = peers_.find(from);
    if (it == peers_.end()) return;  // not discovered yet: its sync will say it
    prepend(it->second.groups[group], pids);
    table_join(group, pids, false);
  }
  void remote_leave(const pid& from, const std::vector<pid>& pids, const term& groups) {
    auto it = peers_.find(from);
    if (it == peers_.end()) return;
    for (const term& group : groups.as_list()) {
      table_leave(group, pids, false);
      auto g = it->second.groups.find(group);
      if (g == it->second.groups.end()) continue;
      subtract(g->second, pids);
      if (g->second.empty()) it->second.groups.erase(g);
    }
  }
  void discover(const pid& from) {
    gen_server::cast(from, term::tuple({words().sync, self(), local_groups_term()}));
    if (peers_.contains(from)) return;
    peers_.emplace(from, peer{beamline::monitor(from), {}});
    send(from, term::tuple({words().discover, self()}));
  }
  // The peer's whole membership replaces what was known of it.
  void sync(const pid& from, const term& groups) {
    auto it = peers_.find(from);
    if (it == peers_.end()) it = peers_.emplace(from, peer{beamline::monitor(from), {}}).first;
    std::map<term, std::vector<pid>> old = std::move(it->second.groups);
    std::map<term, std::vector<pid>> fresh;
    for (const term& entry : groups.as_list()) {
      if (!entry.is_tuple() || entry.size() != 2) continue;
      fresh[entry[0]] = pids_of(entry[1]);
    }
    for (const auto& [group, pids] : fresh) {
      auto o = old.find(group);
      if (o == old.end()) {
        table_join(group, pids, false);
        continue;
      }
      if (o->second != pids) {
        // The group's members from this peer changed while unseen: swap them in place
        // (pg replaces them without notifying).
        std::lock_guard guard(table_->lock);
        group_members& g = table_->groups[group];
        subtract(g.all, o->second);
        prepend(g.all, pids);
        if (g.all.empty()) table_->groups.erase(group);
      }
      old.erase(o);
    }
    for (const auto& [group, pids] : old) table_leave(group, pids, false);
    it->second.groups = std::move(fresh);
  }

  term local_groups_term() const {
    std::map<term, std::vector<pid>> by_group;
    for (const auto& [p, member] : local_)
      for (const term& g : member.groups) by_group[g].push_back(p);
    std::vector<term> entries;
    for (auto& [g, pids] : by_group) entries.push_back(term::tuple({g, pids_term(pids)}));
    return term::list(std::move(entries));
  }

  void down(const ref& monitor, const pid& who) {
    if (auto it = local_.find(who); it != local_.end() && it->second.monitor == monitor) {
      const std::vector<term> groups = std::move(it->second.groups);
      local_.erase(it);
      for (const term& g : groups) table_leave(g, {who}, true);
      broadcast(term::tuple({words().leave, self(), who, term::list(std::vector<term>(groups))}));
      return;
    }
    if (auto it = peers_.find(who); it != peers_.end() && it->second.monitor == monitor) {
      const std::map<term, std::vector<pid>> groups = std::move(it->second.groups);
      peers_.erase(it);
      for (const auto& [g, pids] : groups) table_leave(g, pids, false);
      return;
    }
    // A monitoring process ended: its subscription goes.
    if (scope_monitors_.erase(monitor) != 0) return;
    if (auto it = group_monitors_.find(monitor); it != group_monitors_.end()) {
      drop_group_monitor(it->second.second, monitor);
      group_monitors_.erase(it);
    }
  }

  // -- monitors --

  term monitor_scope(const pid& who) {
    std::vector<std::pair<term, term>> entries;
    {
      std::lock_guard guard(table_->lock);
      for (const auto& [g, members] : table_->groups)
        entries.emplace_back(g, pids_term(members.all));
    }
    const ref r = beamline::monitor(who);
    scope_monitors_.emplace(r, who);
    return term::tuple({r, term::map(entries)});
  }
  term monitor_group(const pid& who, const term& group) {
    std::vector<pid> members;
    {
      std::lock_guard guard(table_->lock);
      auto it = table_->groups.find(group);
      if (it != table_->groups.end()) members = it->second.all;
    }
    const ref r = beamline::monitor(who);
    group_monitors_.emplace(r, std::make_pair(who, group));
    monitored_groups_[group].emplace_back(who, r);
    return term::tuple({r, pids_term(members)});
  }
  term demonitor(const ref& r) {
    if (scope_monitors_.erase(r) != 0) {
      beamline::demonitor(r);
      return atoms::ok;
    }
    auto it = group_monitors_.find(r);
    if (it == group_monitors_.end()) return atoms::false_;
    beamline::demonitor(r);
    drop_group_monitor(it->second.second, r);
    group_monitors_.erase(it);
    return atoms::ok;
  }
  void drop_group_monitor(const term& group, const ref& r) {
    auto it = monitored_groups_.find(group);
    if (it == monitored_groups_.end()) return;
    std::erase_if(it->second, [&](const std::pair<pid, ref>& m) { return m.second == r; });
    if (it->second.empty()) monitored_groups_.erase(it);
  }

  atom scope_;
  detail::table_hold<scope_table> table_;
  std::map<pid, local_member> local_;
  std::map<pid, peer> peers_;
  std::map<ref, pid> scope_monitors_;
  std::map<ref, std::pair<pid, term>> group_monitors_;
  std::map<term, std::vector<std::pair<pid, ref>>> monitored_groups_;
};

void check_local(const std::vector<pid>& pids, const char* operation) {
  for (const pid& p : pids)
    if (!p.is_local())
      throw std::invalid_argument(std::string("pg::") + operation +
                                  ": only processes of this node");
}

}  // namespace

task<start_result> start_link(atom scope) {
  co_return co_await gen_server::start_link<scope_server>(gen_server::start_options(scope), scope);
}

task<start_result> start(atom scope) {
  co_return co_await gen_server::start<scope_server>(gen_server::start_options(scope), scope);
}

task<void> join(atom scope, term group, pid member) {
  std::vector<pid> members(1, member);
  co_await join(scope, std::move(group), std::move(members));
}

task<void> join(atom scope, term group, std::vector<pid> members) {
  check_local(members, "join");
  // (Requests built before the co_await: g++ 12 miscompiles a braced list in one.)
  term request = term::tuple({words().join_local, group, pids_term(members)});
  co_await gen_server::call(scope, std::move(request), infinity);
}

task<bool> leave(atom scope, term group, pid member) {
  std::vector<pid> members(1, member);
  co_return co_await leave(scope, std::move(group), std::move(members));
}

task<bool> leave(atom scope, term group, std::vector<pid> members) {
  check_local(members, "leave");
  term request = term::tuple({words().leave_local, group, pids_term(members)});
  term reply = co_await gen_server::call(scope, std::move(request), infinity);
  co_return reply == atoms::ok;
}

namespace {

// A group's members in the scope's table: all of them, or this node's.
std::vector<pid> members_of(atom scope, const term& group, bool local_only) {
  scope_table* t = tables::find(scope);
  if (!t) return {};
  std::lock_guard guard(t->lock);
  auto it = t->groups.find(group);
  if (it == t->groups.end()) return {};
  return local_only ? it->second.local : it->second.all;
}

}  // namespace

std::vector<pid> get_members(atom scope, const term& group) {
  return members_of(scope, group, false);
}

std::vector<pid> get_local_members(atom scope, const term& group) {
  return members_of(scope, group, true);
}

std::vector<term> which_groups(atom scope) {
  std::vector<term> out;
  scope_table* t = tables::find(scope);
  if (!t) return out;
  std::lock_guard guard(t->lock);
  for (const auto& [g, _] : t->groups) out.push_back(g);
  return out;
}

std::vector<term> which_local_groups(atom scope) {
  std::vector<term> out;
  scope_table* t = tables::find(scope);
  if (!t) return out;
  std::lock_guard guard(t->lock);
  for (const auto& [g, members] : t->groups)
    if (!members.local.empty()) out.push_back(g);
  return out;
}

task<scope_monitor> monitor_scope(atom scope) {
  term reply = co_await gen_server::call(scope, words().monitor, infinity);
  scope_monitor m{reply[0].as_ref(), {}};
  for (const auto entry : reply[1].as_map()) m.groups.emplace_back(entry.key, pids_of(entry.value));
  co_return m;
}

task<group_monitor> monitor(atom scope, term group) {
  term request = term::tuple({words().monitor, group});
  term reply = co_await gen_server::call(scope, std::move(request), infinity);
  co_return group_monitor{reply[0].as_ref(), pids_of(reply[1])};
}

task<bool> demonitor(atom scope, ref monitor) {
  term request = term::tuple({words().demonitor, monitor});
  term reply = co_await gen_server::call(scope, std::move(request), infinity);
  if (reply != atoms::ok) co_return false;
  // Drop the notifications already queued, as pg's flush.
  for (bool more = true; more;) {
    more = co_await receive(
        when([&](const term& t) { return t.is_tuple() && t.size() == 4 && t[0] == term(monitor); },
             [](const term&) { return true; }),
        after(std::chrono::milliseconds(0), [] { return false; }));
  }
  co_return true;
}

}  // namespace beamline::pg
