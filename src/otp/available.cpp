// available.cpp: the available name registry (beamline/available.hpp).
//
// The scope server is a term gen_server registered under the scope's name. The
// servers of one scope speak beamline's own protocol (term messages between them):
//   {discover, Peer}                        a peer announces itself: answer with a
//                                           sync; if new, monitor it, discover back
//   {sync, Peer, [{Name, Pid, Meta, Time}]} the peer's own registrations, all of
//                                           them: they replace what was known of it
//   {ops, Peer, [Op]}                       the peer's changes since its last ops,
//                                           in order, each {register, Name, Pid,
//                                           Meta, Time} or {unregister, Name, Pid,
//                                           Reason} (batched: see tell_peers)
// and from this node's processes (register_name and unregister_name write the
// table themselves, then tell the server, which tells the peers in that order):
//   {registered_local, Name, Pid, Meta, Time}
//   {unregistered_local, Name, Pid, Meta}
// plus the DOWN of a local holder (its names go), of a peer (its names go: reason
// {netsplit, Node} for a lost connection) and of a subscriber, and {nodeup, Node}.
//
// Who touches what: the table (names -> holder) is read by any process of the node
// under its shared lock, and written under its exclusive lock by register_name and
// unregister_name (this node's processes only) and by the scope server (the peers'
// registrations, conflicts, ended processes). Everything else is the server's alone.
#include "beamline/available.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>

#include "beamline/dist.hpp"
#include "beamline/errors.hpp"
#include "beamline/links.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/send.hpp"
#include "otp/scope_tables.hpp"
#include "term/term_hash.hpp"

namespace beamline::names::available {

namespace {

struct holder {
  pid process;
  term meta;
  std::int64_t time_us = 0;
  std::uint32_t node = 0;  // the node's atom index; 0 for this node
};

// One per node and scope (scope_tables.hpp: kept, emptied while no server runs).
struct scope_table {
  mutable std::shared_mutex lock;
  std::unordered_map<term, holder, detail::cached_term_hash> names;
  pid server;  // null while the scope is not running
  void clear() { names.clear(); }
};

using tables = detail::scope_tables<scope_table>;

[[noreturn]] void not_running(atom scope) {
  throw error(atom("badarg"),
              "available: the scope " + std::string(scope.name()) + " is not running here");
}

scope_table& table_or_throw(atom scope) {
  scope_table* t = tables::find(scope);
  if (!t) not_running(scope);
  return *t;
}

struct protocol_atoms {
  atom available{"available"}, discover{"discover"}, sync{"sync"}, register_{"register"},
      unregister{"unregister"}, registered_local{"registered_local"},
      unregistered_local{"unregistered_local"}, registered{"registered"},
      unregistered{"unregistered"}, conflict{"conflict"}, subscribe{"subscribe"},
      unsubscribe{"unsubscribe"}, process_down{"process_down"}, netsplit{"netsplit"},
      scope_down{"scope_down"}, name_conflict{"name_conflict"}, nodeup{"nodeup"}, down{"DOWN"},
      noconnection{"noconnection"}, ops{"ops"}, flush{"flush"};
};
const protocol_atoms& words() {
  static const protocol_atoms a;
  return a;
}

// An integer that fits in int64 (as_int throws for the others).
bool is_int64(const term& t) {
  if (!t.is_integer()) return false;
  try {
    (void)t.as_int();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

atom node_of(std::uint32_t node_index) {
  return node_index == 0 ? dist::node_name() : atom::from_index(node_index);
}

registration to_registration(const holder& h) {
  return registration{h.process, h.meta, h.time_us, node_of(h.node)};
}

// The default rule's order: the later registration wins; at equal times, the
// process whose node name, then number, sorts last. The same on every node.
bool sorts_before(const holder& a, const holder& b) {
  if (a.time_us != b.time_us) return a.time_us < b.time_us;
  const std::string_view na = node_of(a.node).name(), nb = node_of(b.node).name();
  return std::tie(na, a.process.id, a.process.serial) <
         std::tie(nb, b.process.id, b.process.serial);
}

class scope_server {
 public:
  scope_server(atom scope, resolver method)
      : scope_(scope), method_(std::move(method)), table_(scope) {
    detail::discover_peers(scope_);
  }

  term handle_call(const term& request, const from& caller) {
    if (request == words().subscribe) {
      if (!subscribers_by_pid_.contains(caller.caller())) {
        const ref r = beamline::monitor(caller.caller());
        subscribers_.emplace(r, caller.caller());
        subscribers_by_pid_.emplace(caller.caller(), r);
      }
      return atoms::ok;
    }
    if (request == words().unsubscribe) {
      if (auto it = subscribers_by_pid_.find(caller.caller()); it != subscribers_by_pid_.end()) {
        beamline::demonitor(it->second);
        subscribers_.erase(it->second);
        subscribers_by_pid_.erase(it);
      }
      return atoms::ok;
    }
    throw error(atom("badarg"), "available: unknown request " + request.to_string());
  }

  void handle_cast(const term&) {}

  // Malformed messages are dropped: a scope that many nodes share should not end
  // for one of them.
  void handle_info(const term& m) {
    if (m == words().flush) return flush();
    if (!m.is_tuple() || m.size() < 2 || !m[0].is_atom()) return;
    const atom verb = m[0].as_atom();
    const protocol_atoms& w = words();
    if (verb == w.registered_local && m.size() == 5 && m[2].is_pid() && is_int64(m[4])) {
      registered_local(m[1], holder{m[2].as_pid(), m[3], m[4].as_int(), 0});
    } else if (verb == w.unregistered_local && m.size() == 4 && m[2].is_pid()) {
      unregistered_local(m[1], holder{m[2].as_pid(), m[3], 0, 0});
    } else if (verb == w.ops && m.size() == 3 && m[1].is_pid() && m[2].is_list()) {
      const auto p = peers_.find(m[1].as_pid());
      if (p == peers_.end()) return;  // not discovered yet: its sync will say it
      for (const term& op : m[2].as_list()) remote_op(p->second.node, op);
    } else if (verb == w.discover && m.size() == 2 && m[1].is_pid()) {
      discover(m[1].as_pid());
    } else if (verb == w.sync && m.size() == 3 && m[1].is_pid() && m[2].is_list()) {
      sync(m[1].as_pid(), m[2]);
    } else if (verb == w.down && m.size() == 5 && m[1].is_ref() && m[3].is_pid()) {
      down(m[1].as_ref(), m[3].as_pid(), m[4]);
    } else if (verb == w.nodeup && m.size() == 2 && m[1].is_atom()) {
      const atom node = m[1].as_atom();
      const std::vector<atom> visible = dist::nodes();
      if (std::find(visible.begin(), visible.end(), node) != visible.end())
        dist::send(scope_, node, term::tuple({w.discover, self()}));
    }
  }

 private:
  struct local_holder {
    ref monitor;
    std::vector<term> names;
  };
  struct peer {
    ref monitor;
    std::uint32_t node = 0;
  };

  // What the peers are told goes out in batches: the operations queued while this
  // server works through its mailbox leave together when it reaches the `flush` it
  // sent itself behind them (one message per peer for a burst, at once when idle).
  void tell_peers(term op) {
    if (pending_.empty()) send(self(), term(words().flush));
    pending_.push_back(std::move(op));
  }
  void flush() {
    if (pending_.empty()) return;
    const term message = term::tuple({words().ops, self(), term::list(std::move(pending_))});
    pending_.clear();
    for (const auto& [p, _] : peers_) send(p, message);
  }
  // {register, Name, Pid, Meta, Time} or {unregister, Name, Pid, Reason} from a peer.
  void remote_op(std::uint32_t node, const term& op) {
    if (!op.is_tuple() || op.size() < 4 || !op[2].is_pid()) return;
    if (op[0] == words().register_ && op.size() == 5 && is_int64(op[4]) &&
        op[2].as_pid().node_atom() == node) {
      remote_registration(op[1], holder{op[2].as_pid(), op[3], op[4].as_int(), node},
                          atoms::normal);
    } else if (op[0] == words().unregister && op.size() == 4) {
      remove_if_held(op[1], op[2].as_pid(), op[3]);
    }
  }
  void notify(const term& event) {
    for (const auto& [_, p] : subscribers_) send(p, event);
  }
  void notify_registered(const term& name, const holder& h, const term& reason) {
    if (subscribers_.empty()) return;
    notify(term::tuple(
        {words().available, scope_, words().registered, name, h.process, h.meta, reason}));
  }
  void notify_unregistered(const term& name, const holder& h, const term& reason) {
    if (subscribers_.empty()) return;
    notify(term::tuple(
        {words().available, scope_, words().unregistered, name, h.process, h.meta, reason}));
  }

  // -- this node's holders --

  void registered_local(const term& name, const holder& h) {
    if (lost_.erase(std::make_pair(name, h.process)) != 0) return;  // lost a conflict meanwhile
    auto it = local_.find(h.process);
    if (it == local_.end())
      it = local_.emplace(h.process, local_holder{beamline::monitor(h.process), {}}).first;
    it->second.names.push_back(name);
    tell_peers(term::tuple({words().register_, name, h.process, h.meta, h.time_us}));
    notify_registered(name, h, atoms::normal);
  }

  // (unregister_name has removed it from the table.)
  void unregistered_local(const term& name, const holder& h) {
    if (!forget_local(name, h.process)) return;
    tell_peers(term::tuple({words().unregister, name, h.process, atoms::normal}));
    notify_unregistered(name, h, atoms::normal);
  }

  // Drops `name` from what this server knows `process` holds; false if it did not.
  bool forget_local(const term& name, const pid& process) {
    auto it = local_.find(process);
    if (it == local_.end()) return false;
    auto& names = it->second.names;
    auto n = std::find(names.begin(), names.end(), name);
    if (n == names.end()) return false;
    names.erase(n);
    if (names.empty()) {
      beamline::demonitor(it->second.monitor);
      local_.erase(it);
    }
    return true;
  }

  // -- the peers' registrations --

  // A holder of `name` from a peer (a live registration or a sync).
  void remote_registration(const term& name, const holder& r, const term& reason) {
    holder existing;
    {
      std::unique_lock guard(table_->lock);
      auto [it, inserted] = table_->names.try_emplace(name, r);
      if (inserted) {
        guard.unlock();
        notify_registered(name, r, reason);
        return;
      }
      if (it->second.process == r.process) {
        it->second = r;  // (the same registration, sent again)
        return;
      }
      existing = it->second;
    }
    // (Decided without the lock: a resolver may look names up.)
    if (!wins(name, r, existing)) {
      // The other holder's node sees the same conflict and ends it.
      if (!subscribers_.empty())
        notify(term::tuple(
            {words().available, scope_, words().conflict, name, existing.process, r.process}));
      return;
    }
    {
      std::unique_lock guard(table_->lock);
      auto it = table_->names.find(name);
      if (it == table_->names.end() || it->second.process != existing.process) {
        // A process of this node registered or unregistered it meanwhile: again.
        guard.unlock();
        return remote_registration(name, r, reason);
      }
      it->second = r;
    }
    const term lost = term::tuple({words().name_conflict, name, existing.meta, r.process});
    if (existing.node == 0 && existing.process.is_local()) {
      // This node is the loser's authority: it ends the process and tells the peers.
      if (!forget_local(name, existing.process)) lost_.emplace(name, existing.process);
      tell_peers(term::tuple({words().unregister, name, existing.process, lost}));
      beamline::exit(existing.process, lost);
    }
    if (subscribers_.empty()) return;
    notify(term::tuple(
        {words().available, scope_, words().conflict, name, r.process, existing.process}));
    notify_unregistered(name, existing, lost);
    notify_registered(name, r, reason);
  }

  // Whether `challenger` takes `name` from `current`.
  bool wins(const term& name, const holder& challenger, const holder& current) {
    const bool challenger_later = sorts_before(current, challenger);
    if (method_) {
      const holder& older = challenger_later ? current : challenger;
      const holder& newer = challenger_later ? challenger : current;
      const pid kept = method_(name, to_registration(older), to_registration(newer));
      if (kept == challenger.process) return true;
      if (kept == current.process) return false;
    }
    return challenger_later;
  }

  // Removes `name` if `process` holds it here.
  void remove_if_held(const term& name, const pid& process, const term& reason) {
    holder h;
    {
      std::unique_lock guard(table_->lock);
      auto it = table_->names.find(name);
      if (it == table_->names.end() || it->second.process != process) return;
      h = std::move(it->second);
      table_->names.erase(it);
    }
    notify_unregistered(name, h, reason);
  }

  // Removes every name held by processes of `node` (but those in `keep`).
  void remove_node(std::uint32_t node, const term& reason, const std::set<term>* keep = nullptr) {
    std::vector<std::pair<term, holder>> gone;
    {
      std::unique_lock guard(table_->lock);
      for (auto it = table_->names.begin(); it != table_->names.end();) {
        if (it->second.node == node && (!keep || !keep->contains(it->first))) {
          gone.emplace_back(it->first, std::move(it->second));
          it = table_->names.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (const auto& [name, h] : gone) notify_unregistered(name, h, reason);
  }

  // The peer `from`, added if new; end() for a process that cannot be one: a local
  // one, or another process of a node whose scope server is a peer already (a
  // restarted server's predecessor is gone first: its DOWN came before it).
  std::map<pid, peer>::iterator peer_of(const pid& from) {
    auto p = peers_.find(from);
    if (p != peers_.end()) return p;
    if (from.is_local() || from.is_remote_name()) return peers_.end();
    for (const auto& [other, known] : peers_)
      if (known.node == from.node_atom()) return peers_.end();
    return peers_.emplace(from, peer{beamline::monitor(from), from.node_atom()}).first;
  }

  void discover(const pid& from) {
    const bool known = peers_.contains(from);
    if (peer_of(from) == peers_.end()) return;
    flush();  // (the sync below says where the queued operations lead)
    send(from, term::tuple({words().sync, self(), local_registrations()}));
    if (!known) send(from, term::tuple({words().discover, self()}));
  }

  // The peer's registrations, all of them: what it no longer holds goes.
  void sync(const pid& from, const term& entries) {
    auto p = peer_of(from);
    if (p == peers_.end()) return;
    const std::uint32_t node = p->second.node;
    const term reason = term::tuple({words().sync, node_of(node)});
    std::set<term> held;
    for (const term& e : entries.as_list()) {
      if (!e.is_tuple() || e.size() != 4 || !e[1].is_pid() || !is_int64(e[3]) ||
          e[1].as_pid().node_atom() != node)
        continue;
      held.insert(e[0]);
      remote_registration(e[0], holder{e[1].as_pid(), e[2], e[3].as_int(), node}, reason);
    }
    remove_node(node, reason, &held);
  }

  term local_registrations() const {
    std::vector<term> entries;
    std::shared_lock guard(table_->lock);
    for (const auto& [p, h] : local_)
      for (const term& name : h.names) {
        auto it = table_->names.find(name);
        if (it == table_->names.end() || it->second.process != p) continue;
        entries.push_back(term::tuple({name, p, it->second.meta, it->second.time_us}));
      }
    return term::list(std::move(entries));
  }

  void down(const ref& monitor, const pid& who, const term& exit_reason) {
    if (auto it = local_.find(who); it != local_.end() && it->second.monitor == monitor) {
      const std::vector<term> names = std::move(it->second.names);
      local_.erase(it);
      const term reason = term::tuple({words().process_down, exit_reason});
      for (const term& name : names) {
        remove_if_held(name, who, reason);
        tell_peers(term::tuple({words().unregister, name, who, reason}));
      }
      return;
    }
    if (auto it = peers_.find(who); it != peers_.end() && it->second.monitor == monitor) {
      const std::uint32_t node = it->second.node;
      peers_.erase(it);
      const atom kind = exit_reason == words().noconnection ? words().netsplit : words().scope_down;
      remove_node(node, term::tuple({kind, node_of(node)}));
      return;
    }
    if (auto it = subscribers_.find(monitor); it != subscribers_.end()) {
      subscribers_by_pid_.erase(it->second);
      subscribers_.erase(it);
    }
  }

  atom scope_;
  resolver method_;
  detail::table_hold<scope_table> table_;
  std::map<pid, local_holder> local_;
  std::map<pid, peer> peers_;
  std::map<ref, pid> subscribers_;
  std::map<pid, ref> subscribers_by_pid_;
  std::vector<term> pending_;  // for the peers, until the next flush
  // Local registrations taken by a conflict before their registered_local arrived.
  std::set<std::pair<term, pid>> lost_;
};

// {via, available:Scope, Name} for the behaviours.
class via_scope final : public via_registry {
 public:
  explicit via_scope(atom scope) : scope_(scope) {}
  bool register_name(const term& key, const pid& process) override {
    return available::register_name(scope_, key, process);
  }
  void unregister_name(const term& key) override { available::unregister_name(scope_, key); }
  std::optional<pid> whereis_name(const term& key) const override {
    return available::whereis_name(scope_, key);
  }
  std::string describe() const override { return "available:" + std::string(scope_.name()); }

 private:
  atom scope_;
};

}  // namespace

task<start_result> start_link(atom scope, resolver method) {
  co_return co_await gen_server::start_link<scope_server>(gen_server::start_options(scope), scope,
                                                          std::move(method));
}

task<start_result> start(atom scope, resolver method) {
  co_return co_await gen_server::start<scope_server>(gen_server::start_options(scope), scope,
                                                     std::move(method));
}

bool register_name(atom scope, term name, pid process, term meta) {
  if (!process.is_local())
    throw std::invalid_argument("available::register_name: only processes of this node");
  scope_table& t = table_or_throw(scope);
  const std::int64_t time = now_us();
  pid server;
  {
    std::unique_lock guard(t.lock);
    if (!t.server) not_running(scope);
    auto [it, inserted] = t.names.try_emplace(name, holder{process, meta, time, 0});
    if (!inserted) return false;
    server = t.server;
  }
  send(server,
       term::tuple({words().registered_local, std::move(name), process, std::move(meta), time}));
  return true;
}

bool unregister_name(atom scope, const term& name) {
  scope_table& t = table_or_throw(scope);
  pid server;
  holder gone;
  {
    std::unique_lock guard(t.lock);
    if (!t.server) not_running(scope);
    auto it = t.names.find(name);
    if (it == t.names.end() || it->second.node != 0) return false;
    gone = std::move(it->second);
    t.names.erase(it);
    server = t.server;
  }
  send(server, term::tuple({words().unregistered_local, name, gone.process, gone.meta}));
  return true;
}

std::optional<pid> whereis_name(atom scope, const term& name) {
  const scope_table* t = tables::find(scope);
  if (!t) return std::nullopt;
  std::shared_lock guard(t->lock);
  auto it = t->names.find(name);
  if (it == t->names.end()) return std::nullopt;
  return it->second.process;
}

std::optional<registration> lookup(atom scope, const term& name) {
  const scope_table* t = tables::find(scope);
  if (!t) return std::nullopt;
  holder h;
  {
    std::shared_lock guard(t->lock);
    auto it = t->names.find(name);
    if (it == t->names.end()) return std::nullopt;
    h = it->second;
  }
  return to_registration(h);
}

std::vector<std::pair<term, registration>> registrations(atom scope) {
  std::vector<std::pair<term, registration>> out;
  const scope_table* t = tables::find(scope);
  if (!t) return out;
  std::vector<std::pair<term, holder>> copy;
  {
    std::shared_lock guard(t->lock);
    copy.assign(t->names.begin(), t->names.end());
  }
  out.reserve(copy.size());
  for (const auto& [name, h] : copy) out.emplace_back(name, to_registration(h));
  return out;
}

std::size_t count(atom scope) {
  const scope_table* t = tables::find(scope);
  if (!t) return 0;
  std::shared_lock guard(t->lock);
  return t->names.size();
}

task<void> subscribe(atom scope) {
  co_await gen_server::call(scope, term(words().subscribe), infinity);
}

task<void> unsubscribe(atom scope) {
  co_await gen_server::call(scope, term(words().unsubscribe), infinity);
}

via_name via(atom scope, term name) {
  return via_name{std::make_shared<via_scope>(scope), std::move(name)};
}

}  // namespace beamline::names::available
