// global.cpp: cluster-wide names (beamline/global.hpp), OTP 25's global protocol.
//
// Four kinds of process, as in OTP's global.erl, so that each side of an exchange
// with an Erlang node sees the messages, in the order, that an Erlang node sends:
// - global_name_server (registered): owns the name and lock tables; answers the
//   calls other nodes make ({register, ...}, {unregister, Name}, {set_lock, Id},
//   {del_lock, Id}, get_known, get_synced, get_protocol_version, {sync, Nodes}) and
//   runs the connect protocol with every visible node that comes up:
//     A -> B  {init_connect, {8, TagA}, A, {locker, _, _, LockerA}}   (a cast)
//     B -> A  {init_connect_ack, B, TagA, TagB}
//     the lockers of A and B take the lock {global, [LockerA, LockerB]} on every
//     node both know (lock_set casts between the two servers, forwarded to them);
//     A -> B  {exchange, A, Names, [], TagB}                    once A's lock is set
//     A's resolver compares B's names with A's: exchange_ops (to A's own server)
//     A -> B  {resolved, A, Resolved, Known, unused, [], TagB}
//     A -> Known  {new_nodes, A, Ops, [], Nodes, ExtraInfo}      through the locker
//   after which each side holds the other's names, knows the nodes the other knew,
//   and tells those nodes {in_sync, A, true}.
// - the locker: negotiates the lock with the peer's locker (the side that picks a
//   node takes the lock on the boss (the node whose name sorts last), then on both
//   nodes, then on all it knows), holds it until the server cancels it;
// - the registrar: runs this node's registrations one at a time, each under the
//   lock {global, Registrar} taken on every known node;
// - a resolver per connection: resolves the names held on both sides, asking the
//   node of the process that held the name here to run its method
//   (global:resolve_it/4 there; this node answers that call too).
//
// The tables are read by any process (whereis_name, and the lock checks the locker
// and the registrar make) under a leaf mutex; only the server writes them.
#include "beamline/global.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include "beamline/dist.hpp"
#include "beamline/links.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/receive.hpp"
#include "beamline/send.hpp"
#include "dist/distribution.hpp"
#include "dist/global_internal.hpp"

namespace beamline::names::global {

namespace {

using namespace internal;

// --- global_name_server -------------------------------------------------------------------

// What the server keeps per peer while connecting (global.erl's process dictionary).
struct peer_state {
  term my_tag{atoms::undefined};
  term his_tag{atoms::undefined};
  std::int64_t vsn = 0;
  enum class wait { none, lock_is_set, exchange } wait_lock = wait::none;
  term their_names;  // with wait::exchange
  enum class saved { none, ops, resolved } save = saved::none;
  term saved_ops;                                           // saved::ops
  term his_known, names_ext, his_resolved;                  // saved::resolved
  std::optional<std::tuple<std::int64_t, term, term>> pre;  // {Vsn, InitMsg, HisTag}
  term lock_id{atoms::undefined};
};

class name_server {
 public:
  task<void> run();

 private:
  void handle(const term& m);
  void handle_call(const term& from, const term& request);
  void handle_cast(const term& m);

  void nodeup(atom node);
  void nodedown(atom node, atom what);
  void init_connect(std::int64_t vsn, atom node, const term& init, const term& his_tag,
                    std::int64_t his_vsn);
  void restart_connect(atom node, const term& my_tag);
  void lock_is_set(atom node, const term& lock_id);
  void exchange(atom node, const term& names);
  void resolved(atom node, const term& his_resolved, const term& his_known, const term& names_ext);
  void new_nodes(const term& ops, atom from, const term& nodes, const term& extra);
  void cancel_locker(atom node, const term& tag, term fun = term(words().no_fun));
  void send_cancel_connect(atom node, const term& my_tag);
  void synced(atom node);
  void sync_others(const std::vector<atom>& nodes);
  void lost_connection(const term& m);
  void inform_connection_loss(atom node);
  void multicast(const term& message, atom except);

  void do_ops(const term& ops, const term& from, const term& extra);
  void insert_name(const term& name, const pid& holder, const term& method, const term& from,
                   const term& extra);
  void delete_name(const term& name);
  bool lock_still_set(const term& from, const term& extra);
  bool set_lock(const term& id, const pid& from);
  void del_lock(const term& id, const pid& from);
  void remove_lock_holder(const term& resource, const pid& holder, bool down);
  void down(const down_message& d);

  std::int64_t node_vsn(atom node) const;
  term known_list(bool with_versions) const;
  std::vector<atom> add_to_known(const term& nodes);
  peer_state& peer(atom node) { return peers_[node]; }
  term my_tag(atom node) const {
    auto it = peers_.find(node);
    return it == peers_.end() ? term(atoms::undefined) : it->second.my_tag;
  }

  pid locker_, registrar_;
  std::map<atom, std::int64_t> known_, pending_;
  std::set<atom> removing_;
  std::set<atom> visible_;  // the visible nodes connected (hidden ones take no part)
  std::vector<atom> synced_;
  std::map<atom, std::pair<term, pid>> resolvers_;  // node -> {MyTag, resolver}
  std::map<atom, peer_state> peers_;
  struct waiting_sync {
    term from;
    std::vector<atom> nodes;
  };
  std::vector<waiting_sync> syncs_;
  std::map<std::pair<atom, atom>, std::pair<term, std::int64_t>> lost_;  // {A, B} -> {XCre, OpId}
  bool global_lock_down_ = false;
  std::int64_t next_tag_ = 1;
  std::int64_t creation_extension_ = 0;
};

task<void> name_server::run() {
  beamline::register_name(words().server, self());
  {
    tables& t = shared();
    std::lock_guard guard(t.lock);
    t.names.clear();
    t.names_of.clear();
    t.name_of_monitor.clear();
    t.locks.clear();
  }
  std::mt19937_64 random{std::random_device{}()};
  creation_extension_ = static_cast<std::int64_t>(random() & ((std::uint64_t{1} << 60) - 1) &
                                                  ~std::uint64_t{0xffffffff});
  locker_ = spawn_link(locker_process);
  registrar_ = spawn_link(registrar_process);
  {
    tables& t = shared();
    std::lock_guard guard(t.lock);
    t.registrar = registrar_;
  }
  dist::monitor_nodes(true);
  for (atom node : dist::nodes()) {
    visible_.insert(node);
    nodeup(node);
  }
  for (;;) {
    co_await receive([&](const down_message& d) { down(d); },
                     [&](const term& m) {
                       // A peer's malformed message is dropped with a log line; the
                       // server goes on (global would crash and be restarted).
                       try {
                         handle(m);
                       } catch (const std::exception& e) {
                         log("dropped a malformed message " + m.to_string() + ": " + e.what());
                       }
                     });
  }
}

void name_server::handle(const term& m) {
  const global_words& w = words();
  if (!m.is_tuple() || m.size() < 2) return;
  const term& verb = m[0];
  if (verb == term(atoms::gen_call) && m.size() == 3 && m[1].is_tuple() && m[1].size() == 2 &&
      m[1][0].is_pid()) {
    handle_call(m[1], m[2]);
  } else if (verb == term(atoms::gen_cast) && m.size() == 2) {
    handle_cast(m[1]);
  } else if (verb == term(w.nodeup) && m[1].is_atom()) {
    // global follows visible nodes only (monitor_nodes also tells of hidden ones).
    const atom node = m[1].as_atom();
    if (node != dist::node_name() && connected(node)) {
      visible_.insert(node);
      nodeup(node);
    }
  } else if ((verb == term(w.nodedown) || verb == term(w.extra_nodedown)) && m[1].is_atom()) {
    const atom node = m[1].as_atom();
    for (waiting_sync& s : syncs_) std::erase(s.nodes, node);
    if (visible_.erase(node) != 0 || verb == term(w.extra_nodedown))
      nodedown(node, atom("disconnected"));
    synced(atom());  // replies to syncs that no longer wait
  } else if (verb == term(w.lost_connection) && m.size() == 5) {
    lost_connection(m);
  } else if (verb == term(w.remove_connection) && m[1].is_atom()) {
    const atom node = m[1].as_atom();
    if (known_.count(node) != 0 || pending_.count(node) != 0) {
      log("'global' at node " + dist::node_name().to_string() + " disconnected node " +
          node.to_string() + " in order to prevent overlapping partitions");
      dist::disconnect_node(node);
      nodedown(node, words().remove_connection);
    }
  } else if (verb == term(w.cancel_connect) && m.size() == 3 && m[1].is_atom()) {
    const atom node = m[1].as_atom();
    if (my_tag(node) == m[2]) {
      cancel_locker(node, m[2]);
      peers_.erase(node);
      pending_.erase(node);
      restart_connect(node, m[2]);
    }
  } else if (verb == term(w.init_connect_ack) && m.size() == 4 && m[1].is_atom()) {
    const atom node = m[1].as_atom();
    auto it = peers_.find(node);
    const bool same = it != peers_.end() && it->second.my_tag == m[2] && it->second.his_tag == m[3];
    if (!same) {
      volatile_send(node, term::tuple({w.cancel_connect, dist::node_name(), m[3]}));
      restart_connect(node, my_tag(node));
    }
  }
}

void name_server::handle_call(const term& from, const term& request) {
  const global_words& w = words();
  const pid caller = from[0].as_pid();
  if (request.is_tuple() && request.size() == 4 && request[0] == term(w.register_) &&
      request[2].is_pid()) {
    insert_name(request[1], request[2].as_pid(), request[3], from[0], term::nil());
    gen_server::reply(from, term(w.yes));
  } else if (request.is_tuple() && request.size() == 5 && request[0] == term(w.register_ext) &&
             request[2].is_pid()) {
    insert_name(request[1], request[2].as_pid(), request[3], from[0], term::nil());
    gen_server::reply(from, term(w.yes));
  } else if (request.is_tuple() && request.size() == 2 && request[0] == term(w.unregister)) {
    delete_name(request[1]);
    gen_server::reply(from, term(atoms::ok));
  } else if (request.is_tuple() && request.size() == 2 && request[0] == term(w.set_lock)) {
    gen_server::reply(from, term(set_lock(request[1], caller)));
  } else if (request.is_tuple() && request.size() == 2 && request[0] == term(w.del_lock)) {
    del_lock(request[1], caller);
    gen_server::reply(from, term(true));
  } else if (request == term(w.get_known)) {
    gen_server::reply(from, known_list(false));
  } else if (request == term(w.get_synced)) {
    gen_server::reply(from, atoms_to_list(synced_));
  } else if (request.is_tuple() && request.size() == 2 && request[0] == term(w.sync)) {
    waiting_sync s{from, {}};
    for (atom n : node_list(request[1]))
      if (n != dist::node_name() && connected(n) &&
          std::find(synced_.begin(), synced_.end(), n) == synced_.end())
        s.nodes.push_back(n);
    if (s.nodes.empty()) {
      gen_server::reply(from, term(atoms::ok));
    } else {
      syncs_.push_back(std::move(s));
    }
  } else if (request == term(w.get_protocol_version)) {
    gen_server::reply(from, term(8));
  } else if (request == term(w.get_names_ext)) {
    gen_server::reply(from, term::nil());
  } else {
    // Not answered, as global_name_server does not answer a request it does not know.
    log("unexpected call " + request.to_string());
  }
}

void name_server::handle_cast(const term& m) {
  const global_words& w = words();
  if (!m.is_tuple() || m.size() < 2) return;
  const term& verb = m[0];
  if (verb == term(w.init_connect) && m.size() == 4 && m[2].is_atom()) {
    const term& v = m[1];
    if (!v.is_tuple() || v.size() < 2 || !v[0].is_integer()) {
      log("illegal global protocol version " + v.to_string() + " from " + m[2].to_string());
      return;
    }
    const std::int64_t his_vsn = v[0].as_int();
    init_connect(v.size() > 2 ? 8 : std::min<std::int64_t>(his_vsn, 8), m[2].as_atom(), m[3], v[1],
                 his_vsn);
  } else if (verb == term(w.lock_is_set) && m.size() == 4 && m[1].is_atom()) {
    const atom node = m[1].as_atom();
    if (my_tag(node) == m[2]) {
      lock_is_set(node, m[3]);
    } else {
      cancel_locker(node, m[2]);
    }
  } else if (verb == term(w.exchange) && m.size() == 5 && m[1].is_atom()) {
    const atom node = m[1].as_atom();
    if (my_tag(node) == m[4]) {
      exchange(node, m[2]);
    } else {
      cancel_locker(node, m[4]);
    }
  } else if (verb == term(w.exchange_ops) && m.size() == 5 && m[1].is_atom()) {
    const atom node = m[1].as_atom();
    if (my_tag(node) != m[2]) {
      cancel_locker(node, m[2]);
      return;
    }
    peer_state& p = peer(node);
    cast(node, term::tuple({w.resolved, dist::node_name(), m[4], known_list(node_vsn(node) >= 7),
                            w.unused, term::nil(), p.his_tag}));
    if (p.save == peer_state::saved::resolved) {
      const term his_known = p.his_known, names_ext = p.names_ext, his_resolved = p.his_resolved;
      p.save = peer_state::saved::ops;
      p.saved_ops = m[3];
      resolved(node, his_resolved, his_known, names_ext);
    } else {
      p.save = peer_state::saved::ops;
      p.saved_ops = m[3];
    }
  } else if (verb == term(w.resolved) && m.size() == 7 && m[1].is_atom()) {
    const atom node = m[1].as_atom();
    if (my_tag(node) != m[6]) {
      cancel_locker(node, m[6]);
      return;
    }
    peer_state& p = peer(node);
    if (p.save == peer_state::saved::ops) {
      resolved(node, m[2], m[3], m[5]);
    } else {
      p.save = peer_state::saved::resolved;
      p.his_resolved = m[2];
      p.his_known = m[3];
      p.names_ext = m[5];
    }
  } else if (verb == term(w.new_nodes) && m.size() == 6 && m[1].is_atom()) {
    new_nodes(m[2], m[1].as_atom(), m[4], m[5]);
  } else if (verb == term(w.in_sync) && m.size() == 3 && m[1].is_atom()) {
    const atom node = m[1].as_atom();
    if (std::find(synced_.begin(), synced_.end(), node) == synced_.end()) synced_.push_back(node);
    pending_.erase(node);
    cancel_locker(node, my_tag(node));
    peers_.erase(node);
    synced(node);
  } else if (verb == term(w.lock_set) && m.size() == 5 && m[1].is_pid()) {
    if (my_tag(node_of(m[1].as_pid())) == m[4]) beamline::send(locker_, m);
  } else if (verb == term(w.lock_set) && m.size() == 4) {
    beamline::send(locker_, m);
  } else if (verb != term(atom("async_del_name")) && verb != term(atom("async_del_lock"))) {
    log("unexpected cast " + m.to_string());
  }
}

void name_server::nodeup(atom node) {
  if (known_.count(node) != 0 || resolvers_.count(node) != 0) return;
  const global_words& w = words();
  peer_state& p = peer(node);
  if (p.pre) {
    const auto [vsn, init, his_tag] = *p.pre;
    p.pre.reset();
    beamline::send(
        self(),
        term::tuple({atoms::gen_cast,
                     term::tuple({w.init_connect, term::tuple({vsn, his_tag}), node, init})}));
  }
  const term tag(next_tag_++);
  p.my_tag = tag;
  const term init =
      term::tuple({w.locker, w.no_longer_a_pid,
                   term::map(std::initializer_list<std::pair<term, term>>{}), locker_});
  cast(node, term::tuple({w.init_connect, term::tuple({8, tag}), dist::node_name(), init}));
  resolvers_[node] = {tag, spawn(resolver_process, node, tag)};
}

void name_server::init_connect(std::int64_t vsn, atom node, const term& init, const term& his_tag,
                               std::int64_t his_vsn) {
  const global_words& w = words();
  if (pending_.count(node) != 0) {
    if (his_vsn < 8) {
      log("an out of sync connection attempt from old version node " + node.to_string());
      dist::disconnect_node(node);
      return;
    }
    volatile_send(node, term::tuple({w.cancel_connect, dist::node_name(), his_tag}));
    restart_connect(node, my_tag(node));
  }
  peer_state& p = peer(node);
  p.vsn = vsn;
  p.his_tag = his_tag;
  auto r = resolvers_.find(node);
  if (r == resolvers_.end()) {
    p.pre = std::make_tuple(vsn, init, his_tag);
    return;
  }
  if (!init.is_tuple() || init.size() != 4 || init[0] != term(w.locker) || !init[3].is_pid()) {
    log("a malformed init_connect from " + node.to_string() + ": " + init.to_string());
    return;
  }
  beamline::send(locker_, term::tuple({w.his_the_locker, init[3], term::tuple({vsn, term::nil()}),
                                       his_tag, r->second.first}));
  if (his_vsn >= 8)
    volatile_send(node,
                  term::tuple({w.init_connect_ack, dist::node_name(), his_tag, r->second.first}));
  pending_[node] = his_vsn;
}

void name_server::restart_connect(atom node, const term& tag) {
  cancel_locker(node, tag);
  peers_.erase(node);
  pending_.erase(node);
  if (tag.is_integer()) nodeup(node);
}

void name_server::lock_is_set(atom node, const term& lock_id) {
  const global_words& w = words();
  peer_state& p = peer(node);
  cast(node, term::tuple({w.exchange, dist::node_name(), names_list(), term::nil(), p.his_tag}));
  p.lock_id = lock_id;
  if (p.wait_lock == peer_state::wait::exchange) {
    p.wait_lock = peer_state::wait::lock_is_set;
    exchange(node, p.their_names);
  } else {
    p.wait_lock = peer_state::wait::lock_is_set;
  }
}

void name_server::exchange(atom node, const term& names) {
  peer_state& p = peer(node);
  if (p.wait_lock == peer_state::wait::lock_is_set) {
    p.wait_lock = peer_state::wait::none;
    auto r = resolvers_.find(node);
    if (r != resolvers_.end())
      beamline::send(r->second.second, term::tuple({words().resolve, names, node}));
  } else {
    p.wait_lock = peer_state::wait::exchange;
    p.their_names = names;
  }
}

void name_server::resolved(atom node, const term& his_resolved, const term& his_known,
                           const term& names_ext) {
  const global_words& w = words();
  peer_state& p = peer(node);
  std::vector<term> ops;
  for (const term* list : std::initializer_list<const term*>{&p.saved_ops, &his_resolved})
    if (list->is_proper_list())
      for (const term& op : list->as_list()) ops.push_back(op);
  const term all_ops = term::list(std::move(ops));
  p.save = peer_state::saved::none;
  // [{N, Vsn}] of the peer and the nodes it knew.
  std::vector<term> new_nodes_list{term::tuple({node, node_vsn(node)})};
  if (his_known.is_proper_list())
    for (const term& e : his_known.as_list()) {
      if (e.is_atom()) new_nodes_list.push_back(term::tuple({e, node_vsn(e.as_atom())}));
      if (e.is_tuple() && e.size() == 2 && e[0].is_atom()) new_nodes_list.push_back(e);
    }
  const term new_nodes_term = term::list(std::move(new_nodes_list));
  const std::vector<atom> his_known_nodes = node_list(his_known);
  sync_others(his_known_nodes);
  const term extra = term::list({term::tuple({w.vsn, p.vsn}), term::tuple({w.lock, p.lock_id})});
  do_ops(all_ops, term(dist::node_name()), extra);
  synced(node);
  for (atom n : his_known_nodes) {
    pending_.erase(n);
    cancel_locker(n, my_tag(n));
    peers_.erase(n);
  }
  // The locker tells the nodes this node knew, once it lets the lock go.
  std::vector<term> tell;
  for (const auto& [n, v] : known_) tell.push_back(term(n));
  const term message =
      term::tuple({w.new_nodes, dist::node_name(), all_ops, names_ext, new_nodes_term, extra});
  const term fun = term::tuple({w.cast_all, term::list(std::move(tell)), message});
  const term tag = my_tag(node);
  pending_.erase(node);
  cancel_locker(node, tag, fun);
  peers_.erase(node);
  const std::vector<atom> added = add_to_known(new_nodes_term);
  beamline::send(locker_, term::tuple({w.add_to_known, atoms_to_list(added)}));
  if (std::find(synced_.begin(), synced_.end(), node) == synced_.end()) synced_.push_back(node);
}

void name_server::new_nodes(const term& ops, atom from, const term& nodes, const term& extra) {
  const std::vector<atom> added = add_to_known(nodes);
  sync_others(added);
  do_ops(ops, term(from), extra);
  beamline::send(locker_, term::tuple({words().add_to_known, atoms_to_list(added)}));
}

void name_server::cancel_locker(atom node, const term& tag, term fun) {
  beamline::send(locker_, term::tuple({words().cancel, node, tag, std::move(fun)}));
  send_cancel_connect(node, tag);
  auto r = resolvers_.find(node);
  if (r != resolvers_.end() && r->second.first == tag) {
    exit(r->second.second, term(atoms::kill));
    resolvers_.erase(r);
  }
}

void name_server::send_cancel_connect(atom node, const term& tag) {
  auto pending = pending_.find(node);
  if (pending == pending_.end() || pending->second < 8) return;
  auto p = peers_.find(node);
  if (p == peers_.end() || p->second.my_tag != tag) return;
  volatile_send(node, term::tuple({words().cancel_connect, dist::node_name(), p->second.his_tag}));
}

// Tells the waiting syncs that `node` is synced (a null atom: only replies to those
// that wait for nothing more).
void name_server::synced(atom node) {
  for (auto it = syncs_.begin(); it != syncs_.end();) {
    std::erase(it->nodes, node);
    if (it->nodes.empty()) {
      gen_server::reply(it->from, term(atoms::ok));
      it = syncs_.erase(it);
    } else {
      ++it;
    }
  }
}

// sync_others: each node the peer knew is told {in_sync, Self, true} once
// connected (connect_all makes the connections).
void name_server::sync_others(const std::vector<atom>& nodes) {
  for (atom n : nodes) {
    if (n == dist::node_name()) continue;
    spawn(
        [](atom node) -> process {
          if (co_await dist::connect_node(node)) {
            cast(node, term::tuple({words().in_sync, dist::node_name(), term(true)}));
          } else {
            log("'global' at " + dist::node_name().to_string() + " failed to connect to " +
                node.to_string());
            beamline::send(words().server, term::tuple({words().extra_nodedown, node}));
          }
        },
        n);
  }
}

void name_server::nodedown(atom node, atom what) {
  cancel_locker(node, my_tag(node));
  beamline::send(locker_, term::tuple({words().remove_from_known, node}));
  peers_.erase(node);
  if (what == words().remove_connection) {
    removing_.insert(node);
  } else if (removing_.count(node) != 0) {
    removing_.erase(node);
  } else {
    inform_connection_loss(node);
  }
  pending_.erase(node);
  known_.erase(node);
  std::erase(synced_, node);
}

// prevent_overlapping_partitions: tell the nodes this node knows that it lost
// `node`; each of them then drops `node` too.
void name_server::inform_connection_loss(atom node) {
  const std::int64_t xcreation = creation_extension_ +
                                 static_cast<std::int64_t>(dist::internal::running()->creation()) +
                                 (std::int64_t{1} << 59);
  const term message =
      term::tuple({words().lost_connection, dist::node_name(), xcreation, next_tag_++, node});
  multicast(message, node);
}

void name_server::multicast(const term& message, atom except) {
  for (const auto* table : {&known_, &pending_})
    for (const auto& [n, v] : *table)
      if (n != except && v >= 7) volatile_send(n, message);
}

void name_server::lost_connection(const term& m) {
  if (!m[1].is_atom() || !m[4].is_atom() || !m[3].is_integer()) return;
  const atom a = m[1].as_atom(), b = m[4].as_atom();
  const std::pair<atom, atom> key{a, b};
  auto seen = lost_.find(key);
  if (seen != lost_.end() && seen->second.first == m[2] && m[3].as_int() <= seen->second.second)
    return;
  multicast(m, a);
  lost_[key] = {m[2], m[3].as_int()};
  const atom gone = dist::node_name() == b ? a : b;
  if (known_.count(gone) == 0 && pending_.count(gone) == 0) return;
  volatile_send(gone, term::tuple({words().remove_connection, dist::node_name()}));
  log("'global' at node " + dist::node_name().to_string() + " requested disconnect from node " +
      gone.to_string() + " in order to prevent overlapping partitions");
  nodedown(gone, words().remove_connection);
}

// --- names and locks ---------------------------------------------------------------------

void name_server::do_ops(const term& ops, const term& from, const term& extra) {
  const global_words& w = words();
  if (!ops.is_proper_list()) return;
  for (const term& op : ops.as_list())
    if (op.is_tuple() && op.size() == 2 && op[0] == term(w.insert) && op[1].is_tuple() &&
        op[1].size() == 3 && op[1][1].is_pid())
      insert_name(op[1][0], op[1][1].as_pid(), op[1][2], from, extra);
  for (const term& op : ops.as_list())
    if (op.is_tuple() && op.size() == 2 && op[0] == term(w.delete_)) delete_name(op[1]);
}

void name_server::insert_name(const term& name, const pid& holder, const term& method,
                              const term& from, const term& extra) {
  delete_name(name);
  // A holder whose node is no longer connected (it left while the names travelled)
  // would get a DOWN noconnection at once, after a connection attempt per name:
  // it is not inserted.
  if (!holder.is_local() && !connected(node_of(holder))) return;
  const ref monitor_ref = monitor(holder);
  {
    tables& t = shared();
    std::lock_guard guard(t.lock);
    t.names[name] = name_entry{holder, method, monitor_ref};
    t.names_of.emplace(holder, name);
    t.name_of_monitor.emplace(monitor_ref, name);
  }
  if (!lock_still_set(from, extra)) delete_name(name);
}

// A registration counts only while the lock it was made under is still held.
bool name_server::lock_still_set(const term& from, const term& extra) {
  tables& t = shared();
  std::lock_guard guard(t.lock);
  auto it = t.locks.find(term(words().global));
  if (it == t.locks.end()) return !global_lock_down_;
  if (from.is_pid()) {
    const pid p = from.as_pid();
    return std::any_of(it->second.holders.begin(), it->second.holders.end(),
                       [&](const lock_holder& h) { return h.process == p; });
  }
  if (extra.is_proper_list())
    for (const term& e : extra.as_list())
      if (e.is_tuple() && e.size() == 2 && e[0] == term(words().lock) && e[1].is_tuple() &&
          e[1].size() == 2)
        return it->second.requester == e[1][1];
  return false;
}

void name_server::delete_name(const term& name) {
  std::optional<name_entry> gone;
  {
    tables& t = shared();
    std::lock_guard guard(t.lock);
    auto it = t.names.find(name);
    if (it == t.names.end()) return;
    gone = it->second;
    t.names.erase(it);
    t.name_of_monitor.erase(gone->monitor);
    auto [first, last] = t.names_of.equal_range(gone->holder);
    for (auto n = first; n != last; ++n)
      if (n->second == name) {
        t.names_of.erase(n);
        break;
      }
  }
  demonitor(gone->monitor, {.flush = true});
}

bool name_server::set_lock(const term& id, const pid& from) {
  if (!id.is_tuple() || id.size() != 2) return false;
  tables& t = shared();
  std::unique_lock guard(t.lock);
  auto it = t.locks.find(id[0]);
  if (it != t.locks.end() && it->second.requester != id[1]) return false;
  if (it == t.locks.end()) it = t.locks.emplace(id[0], lock_entry{id[1], {}}).first;
  std::vector<lock_holder>& holders = it->second.holders;
  if (std::any_of(holders.begin(), holders.end(),
                  [&](const lock_holder& h) { return h.process == from; }))
    return true;
  guard.unlock();
  const ref r = monitor(from);
  guard.lock();
  t.locks[id[0]].holders.push_back(lock_holder{from, r});
  return true;
}

void name_server::del_lock(const term& id, const pid& from) {
  if (!id.is_tuple() || id.size() != 2) return;
  {
    tables& t = shared();
    std::lock_guard guard(t.lock);
    auto it = t.locks.find(id[0]);
    if (it == t.locks.end() || it->second.requester != id[1]) return;
  }
  remove_lock_holder(id[0], from, false);
}

void name_server::remove_lock_holder(const term& resource, const pid& holder, bool down) {
  std::optional<ref> monitor_ref;
  {
    tables& t = shared();
    std::lock_guard guard(t.lock);
    auto it = t.locks.find(resource);
    if (it == t.locks.end()) return;
    std::vector<lock_holder>& holders = it->second.holders;
    auto h = std::find_if(holders.begin(), holders.end(),
                          [&](const lock_holder& x) { return x.process == holder; });
    if (h != holders.end()) {
      monitor_ref = h->monitor;
      holders.erase(h);
    }
    if (holders.empty()) {
      t.locks.erase(it);
      if (resource == term(words().global)) global_lock_down_ = down;
    }
  }
  if (monitor_ref) demonitor(*monitor_ref, {.flush = true});
}

void name_server::down(const down_message& d) {
  std::vector<std::pair<term, pid>> holders;
  std::vector<term> names;
  {
    tables& t = shared();
    std::lock_guard guard(t.lock);
    for (const auto& [resource, lock] : t.locks)
      for (const lock_holder& h : lock.holders)
        if (h.monitor == d.monitor) holders.emplace_back(resource, h.process);
    if (auto it = t.name_of_monitor.find(d.monitor); it != t.name_of_monitor.end())
      names.push_back(it->second);
  }
  for (const auto& [resource, holder] : holders) remove_lock_holder(resource, holder, true);
  for (const term& name : names) delete_name(name);
}

// --- known nodes ----------------------------------------------------------------------

std::int64_t name_server::node_vsn(atom node) const {
  if (node == dist::node_name()) return 8;
  if (auto it = known_.find(node); it != known_.end()) return it->second;
  if (auto it = pending_.find(node); it != pending_.end()) return it->second;
  return 0;
}

term name_server::known_list(bool with_versions) const {
  std::vector<term> out;
  for (const auto& [n, v] : known_) out.push_back(with_versions ? term::tuple({n, v}) : term(n));
  return term::list(std::move(out));
}

std::vector<atom> name_server::add_to_known(const term& nodes) {
  std::vector<atom> added;
  if (!nodes.is_proper_list()) return added;
  for (const term& e : nodes.as_list()) {
    atom n;
    std::int64_t v = 0;
    if (e.is_atom()) {
      n = e.as_atom();
    } else if (e.is_tuple() && e.size() == 2 && e[0].is_atom() && e[1].is_integer()) {
      n = e[0].as_atom();
      v = e[1].as_int();
    } else {
      continue;
    }
    if (n == dist::node_name() || known_.count(n) != 0) continue;
    known_[n] = v;
    added.push_back(n);
  }
  return added;
}

}  // namespace

// --- the API ---------------------------------------------------------------------------

namespace {

// The registrar, once the name server has started it (a program's first process may
// run before the server has: it waits, up to 10 s).
task<pid> registrar() {
  if (!dist::internal::running())
    throw std::logic_error("bl::names::global: distribution is not started (bl::dist::start)");
  for (int waited_ms = 0;; ++waited_ms) {
    {
      tables& t = shared();
      std::lock_guard guard(t.lock);
      if (t.registrar) co_return t.registrar;
    }
    if (waited_ms == 10'000)
      throw std::runtime_error("bl::names::global: global_name_server did not start");
    co_await sleep(std::chrono::milliseconds(1));
  }
}

task<term> registrar_call(term request) {
  const pid r = co_await registrar();
  co_return co_await gen_server::call(server_ref(r), std::move(request), infinity);
}

std::vector<atom> all_nodes(std::vector<atom> nodes) {
  if (!nodes.empty()) return nodes;
  nodes = dist::nodes();
  nodes.insert(nodes.begin(), dist::node_name());
  return nodes;
}

}  // namespace

task<bool> register_name(term name, pid process, resolve method) {
  term request =
      term::tuple({words().register_, std::move(name), process, method_term(method), term(true)});
  const term reply = co_await registrar_call(std::move(request));
  co_return reply == term(words().yes);
}

task<bool> register_name(term name, pid process, resolver method) {
  std::int64_t id = 0;
  {
    tables& t = shared();
    std::lock_guard guard(t.lock);
    id = t.next_resolver++;
    t.resolvers[id] = std::move(method);
  }
  term request = term::tuple(
      {words().register_, std::move(name), process, term::tuple({words().custom, id}), term(true)});
  const term reply = co_await registrar_call(std::move(request));
  co_return reply == term(words().yes);
}

task<void> re_register_name(term name, pid process, resolve method) {
  term request =
      term::tuple({words().register_, std::move(name), process, method_term(method), term(false)});
  co_await registrar_call(std::move(request));
}

task<void> unregister_name(term name) {
  if (!where(name)) co_return;
  term request = term::tuple({words().unregister, std::move(name)});
  co_await registrar_call(std::move(request));
}

std::optional<pid> whereis_name(const term& name) {
  return where(name);
}

pid send(const term& name, term message) {
  const std::optional<pid> holder = where(name);
  if (!holder)
    throw error(term::tuple({atoms::badarg, term::tuple({name, message})}),
                "global:send: nobody holds " + name.to_string());
  beamline::send(*holder, std::move(message));
  return *holder;
}

std::vector<term> registered_names() {
  tables& t = shared();
  std::lock_guard guard(t.lock);
  std::vector<term> out;
  for (const auto& [name, e] : t.names) out.push_back(name);
  return out;
}

namespace {

// {via, global, Name} for the behaviours: a registration takes the cluster's locks,
// so it runs as register_name_async, in the starting server's process.
class global_via final : public via_registry {
 public:
  bool register_name(const term& key, const pid&) override {
    throw std::logic_error(
        "global: a registration takes messages; in a process, co_await "
        "bl::names::global::register_name(" +
        key.to_string() + ", ...)");
  }
  task<bool> register_name_async(const term& key, const pid& process) override {
    co_return co_await global::register_name(key, process);
  }
  // A behaviour lets its name go only as it ends, and global removes the name of a
  // holder that ends on every node (each monitors it): unregistering here as well
  // could remove the name from a successor registered meanwhile.
  void unregister_name(const term&) override {}
  std::optional<pid> whereis_name(const term& key) const override {
    return global::whereis_name(key);
  }
  std::string describe() const override { return "global"; }
};

}  // namespace

via_name via(term name) {
  static const std::shared_ptr<via_registry> registry = std::make_shared<global_via>();
  return via_name{registry, std::move(name)};
}

task<void> sync() {
  co_await registrar();  // throws when not distributed; the server is up after
  term request = term::tuple({words().sync, atoms_to_list(dist::nodes())});
  co_await gen_server::call(server_ref(words().server), std::move(request), infinity);
}

task<bool> set_lock(term id, std::vector<atom> nodes, int retries) {
  if (!id.is_tuple() || id.size() != 2)
    throw std::invalid_argument("global::set_lock: the id is {ResourceId, LockRequesterId}: " +
                                id.to_string());
  co_await registrar();  // the server is up
  nodes = all_nodes(std::move(nodes));
  for (int times = 1;; ++times) {
    if (co_await set_lock_on_nodes(id, nodes)) co_return true;
    if (retries == 0) co_return false;
    if (retries > 0) --retries;
    co_await random_sleep(times);
  }
}

task<void> del_lock(term id, std::vector<atom> nodes) {
  co_await registrar();
  co_await del_lock_on(std::move(id), all_nodes(std::move(nodes)));
}

task<bool> trans(term id, std::function<task<void>()> body, std::vector<atom> nodes, int retries) {
  if (!co_await set_lock(id, nodes, retries)) co_return false;
  std::exception_ptr failed;
  try {
    co_await body();
  } catch (...) {
    failed = std::current_exception();  // (no co_await in a handler: del_lock below)
  }
  co_await del_lock(std::move(id), std::move(nodes));
  if (failed) std::rethrow_exception(failed);
  co_return true;
}

}  // namespace beamline::names::global

namespace beamline::dist::internal {

// The global_name_server of a distributed node, and global:resolve_it/4 for the
// nodes that resolve a conflict over a name held by a process of this node.
process global_name_server_process() {
  export_function("global", "resolve_it", [](const term& args) -> term {
    std::vector<term> a;
    if (args.is_proper_list())
      for (const term& e : args.as_list()) a.push_back(e);
    if (a.size() != 4 || !a[2].is_pid() || !a[3].is_pid())
      throw error(atoms::badarg, "global:resolve_it: " + args.to_string());
    return names::global::resolve_here(a[0], a[1], a[2].as_pid(), a[3].as_pid());
  });
  names::global::name_server server;
  co_await server.run();
}

}  // namespace beamline::dist::internal
