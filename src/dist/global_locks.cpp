// global_locks.cpp: the parts of global (global.cpp) that take cluster locks: the
// shared tables and their lock checks, multi_call, the locker, the registrar and
// the resolvers. See global.cpp for how they work together.
#include "dist/global_internal.hpp"

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>

#include "beamline/dist.hpp"
#include "beamline/links.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/receive.hpp"
#include "beamline/registry.hpp"
#include "beamline/send.hpp"

namespace beamline::names::global::internal {

using namespace std::chrono_literals;

const global_words& words() {
  static const global_words w;
  return w;
}

void log(const std::string& line) {
  std::fprintf(stderr, "beamline: global: %s\n", line.c_str());
}

atom node_of(const pid& p) {
  return p.is_local() ? dist::node_name() : atom::from_index(p.node_atom());
}

bool connected(atom node) {
  const std::vector<atom> now = dist::nodes();
  return std::find(now.begin(), now.end(), node) != now.end();
}

// gen_server:cast({global_name_server, Node}, Message).
void cast(atom node, term message) {
  dist::send(words().server, node, term::tuple({atoms::gen_cast, std::move(message)}));
}
// A message to the peer's server only if the connection is up (noconnect).
void volatile_send(atom node, term message) {
  if (connected(node)) dist::send(words().server, node, std::move(message));
}

term atoms_to_list(const std::vector<atom>& nodes) {
  std::vector<term> out(nodes.begin(), nodes.end());
  return term::list(std::move(out));
}

// --- the tables ---------------------------------------------------------------------

tables& shared() {
  static tables t;
  return t;
}

// can_set_lock: the resource is free or held under the same requester id.
bool can_set_lock(const term& id) {
  if (!id.is_tuple() || id.size() != 2) return false;
  tables& t = shared();
  std::lock_guard guard(t.lock);
  auto it = t.locks.find(id[0]);
  return it == t.locks.end() || it->second.requester == id[1];
}

bool is_global_lock_set() {
  tables& t = shared();
  std::lock_guard guard(t.lock);
  return t.locks.count(term(words().global)) != 0;
}

std::optional<pid> where(const term& name) {
  std::optional<pid> found;
  {
    tables& t = shared();
    std::lock_guard guard(t.lock);
    auto it = t.names.find(name);
    if (it != t.names.end()) found = it->second.holder;
  }
  if (found && found->is_local() && !is_alive(*found)) return std::nullopt;
  return found;
}

// [{Name, Pid, Method}], what an exchange sends.
term names_list() {
  tables& t = shared();
  std::lock_guard guard(t.lock);
  std::vector<term> out;
  out.reserve(t.names.size());
  for (const auto& [name, e] : t.names) out.push_back(term::tuple({name, e.holder, e.method}));
  return term::list(std::move(out));
}

// --- resolve methods ------------------------------------------------------------------

term method_term(resolve method) {
  const global_words& w = words();
  const atom function = method == resolve::random_exit     ? w.random_exit_name
                        : method == resolve::random_notify ? w.random_notify_name
                                                           : w.notify_all_name;
  return term::fun(external_fun{w.global, function, 3});
}

// global:resolve_it(Method, Name, Pid1, Pid2) on this node: the pid that keeps the
// name, `none`, or what a failed method gives ({'EXIT', {badfun, Method}}).
term resolve_here(const term& method, const term& name, const pid& a, const pid& b) {
  const global_words& w = words();
  if (method.is_external_fun()) {
    const external_fun f = method.as_external_fun();
    const bool a_first = node_of(a) < node_of(b);
    const pid min = a_first ? a : b, max = a_first ? b : a;
    if (f.module == w.global && f.arity == 3 && f.function == w.random_exit_name) {
      log("name conflict terminating " + term::tuple({name, max}).to_string());
      exit(max, term(atoms::kill));
      return term(min);
    }
    if (f.module == w.global && f.arity == 3 && f.function == w.random_notify_name) {
      beamline::send(max, term::tuple({w.conflict, name}));
      return term(min);
    }
    if (f.module == w.global && f.arity == 3 && f.function == w.notify_all_name) {
      beamline::send(a, term::tuple({w.conflict, name, b}));
      beamline::send(b, term::tuple({w.conflict, name, a}));
      return term(w.none);
    }
  } else if (method.is_tuple() && method.size() == 2 && method[0] == term(w.custom) &&
             method[1].is_integer()) {
    resolver r;
    {
      tables& t = shared();
      std::lock_guard guard(t.lock);
      auto it = t.resolvers.find(method[1].as_int());
      if (it != t.resolvers.end()) r = it->second;
    }
    if (r) {
      try {
        std::optional<pid> keep = r(name, a, b);
        return keep ? term(*keep) : term(w.none);
      } catch (const std::exception& e) {
        return term::tuple({atoms::EXIT, term::string(e.what())});
      }
    }
  }
  return term::tuple({atoms::EXIT, term::tuple({w.badfun, method})});
}

// gen_server:multi_call(Nodes, global_name_server, Request): the replies of the
// nodes that answered. The requests go out together and the replies are collected
// after, so a call costs one round trip, not one per node. A node that is down or
// goes down is left out, as multi_call's bad nodes; a node that does not answer
// within a minute of the call too (OTP waits for ever).
task<std::vector<std::pair<atom, term>>> multi_call(std::vector<atom> nodes, term request) {
  const atom self_node = dist::node_name();
  struct pending {
    atom node;
    ref monitor;
  };
  std::vector<pending> out;
  out.reserve(nodes.size());
  for (atom node : nodes) {
    pid target;
    if (node == self_node) {
      const std::optional<pid> local = whereis(words().server);
      if (!local) continue;
      target = *local;
    } else {
      target = dist::registered(words().server, node);
    }
    const ref monitor_ref = monitor(target);
    beamline::send(target,
                   term::tuple({atoms::gen_call, term::tuple({self(), monitor_ref}), request}));
    out.push_back(pending{node, monitor_ref});
  }
  std::vector<std::pair<atom, term>> replies;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (const pending& p : out) {
    const auto left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()),
                               std::chrono::milliseconds(0));
    std::optional<term> reply = co_await receive(
        when(
            [&](const term& t) { return t.is_tuple() && t.size() == 2 && t[0] == term(p.monitor); },
            [](term t) { return std::optional<term>(t[1]); }),
        when([&](const down_message& d) { return d.monitor == p.monitor; },
             [](const down_message&) { return std::optional<term>(); }),
        after(left, [] { return std::optional<term>(); }));
    demonitor(p.monitor, {.flush = true});
    if (reply) replies.emplace_back(p.node, std::move(*reply));
  }
  co_return replies;
}

task<void> del_lock_on(term id, std::vector<atom> nodes) {
  const term request = term::tuple({words().del_lock, std::move(id)});
  co_await multi_call(std::move(nodes), request);
}

// set_lock_on_nodes: one try on every node; a refusal releases the nodes that said yes.
task<bool> set_lock_on_nodes(term id, std::vector<atom> nodes) {
  if (nodes.empty()) co_return true;
  const atom self_node = dist::node_name();
  const bool here = std::find(nodes.begin(), nodes.end(), self_node) != nodes.end();
  if (nodes.size() > 1 && here && !can_set_lock(id)) co_return false;
  const term request = term::tuple({words().set_lock, id});
  std::vector<std::pair<atom, term>> replies = co_await multi_call(nodes, request);
  std::vector<atom> granted;
  bool refused = false;
  for (const auto& [node, reply] : replies) {
    if (reply == term(true)) {
      granted.push_back(node);
    } else {
      refused = true;
    }
  }
  if (!refused) co_return true;
  if (replies.size() > 1) co_await del_lock_on(id, granted);
  co_return false;
}

// random_sleep(Times): global's back-off between tries.
task<void> random_sleep(int times) {
  static thread_local std::mt19937 random{std::random_device{}()};
  const int max_ms = times > 5 ? 8000 : (1 << times) * 1000 / 8;
  const int ms = std::uniform_int_distribution<int>(1, std::max(1, max_ms))(random);
  co_await receive(after(std::chrono::milliseconds(ms), [] {}));
}

atom the_boss(const std::vector<atom>& nodes) {
  return *std::max_element(nodes.begin(), nodes.end());
}

// delete_global_lock: the other nodes first, the boss last.
task<void> delete_global_lock(term id, std::vector<atom> nodes) {
  if (nodes.empty()) co_return;
  const atom boss = the_boss(nodes);
  std::vector<atom> others;
  for (atom n : nodes)
    if (n != boss) others.push_back(n);
  co_await del_lock_on(id, others);
  std::vector<atom> just_boss{boss};
  co_await del_lock_on(id, just_boss);
}

std::vector<atom> node_list(const term& list) {
  std::vector<atom> out;
  if (!list.is_proper_list()) return out;
  for (const term& e : list.as_list()) {
    if (e.is_atom()) out.push_back(e.as_atom());
    if (e.is_tuple() && e.size() == 2 && e[0].is_atom()) out.push_back(e[0].as_atom());
  }
  return out;
}

// --- the locker -----------------------------------------------------------------------

struct him {
  atom node;
  pid locker;
  std::int64_t vsn = 0;
  term my_tag;
  term his_tag;
};

class the_locker {
 public:
  task<void> run() {
    std::vector<atom> known;
    const term reply =
        co_await gen_server::call(server_ref(words().server), term(words().get_known), infinity);
    for (atom n : node_list(reply)) known.push_back(n);
    update_known(known);
    for (;;) {
      std::optional<term> message = co_await next(std::chrono::milliseconds(0));
      if (!message) {
        std::optional<std::chrono::milliseconds> timeout;
        if (!local_.empty() || !remote_.empty()) {
          timeout = just_synced_ ? 0ms
                    : known_.empty()
                        ? 200ms
                        : std::min<std::chrono::milliseconds>(
                              1000ms + 100ms * static_cast<long>(known_.size()), 3000ms);
        }
        just_synced_ = false;
        message = co_await next(timeout);
        if (!message) {
          if (!is_global_lock_set()) co_await select_node();
          continue;
        }
      }
      try {
        co_await handle(*message);
      } catch (const std::exception& e) {
        log("the locker dropped a malformed message " + message->to_string() + ": " + e.what());
      }
    }
  }

 private:
  // The next message, or nullopt after `timeout` (none: wait for ever).
  static task<std::optional<term>> next(std::optional<std::chrono::milliseconds> timeout) {
    if (!timeout)
      co_return co_await receive([](term t) { return std::optional<term>(std::move(t)); });
    co_return co_await receive([](term t) { return std::optional<term>(std::move(t)); },
                               after(*timeout, [] { return std::optional<term>(); }));
  }

  void update_known(std::vector<atom> known) {
    known_ = std::move(known);
    std::vector<atom> all = known_;
    all.push_back(dist::node_name());
    boss_ = the_boss(all);
  }
  void add_known(const term& nodes) {
    std::vector<atom> k = node_list(nodes);
    k.insert(k.end(), known_.begin(), known_.end());
    update_known(std::move(k));
  }
  void remove_known(atom node) {
    std::vector<atom> k = known_;
    auto it = std::find(k.begin(), k.end(), node);
    if (it != k.end()) k.erase(it);
    update_known(std::move(k));
  }
  // Takes the add/remove messages already queued (update_locker_known/1).
  task<void> drain_known() {
    for (;;) {
      const global_words& w = words();
      std::optional<term> m = co_await receive(
          when(
              [&](const term& t) {
                return t.is_tuple() && t.size() == 2 &&
                       (t[0] == term(w.add_to_known) || t[0] == term(w.remove_from_known));
              },
              [](term t) { return std::optional<term>(std::move(t)); }),
          after(0ms, [] { return std::optional<term>(); }));
      if (!m) co_return;
      if ((*m)[0] == term(w.add_to_known)) {
        add_known((*m)[1]);
      } else if ((*m)[1].is_atom()) {
        remove_known((*m)[1].as_atom());
      }
    }
  }

  task<void> handle(const term& m) {
    const global_words& w = words();
    if (!m.is_tuple() || m.size() < 2) co_return;
    const term& verb = m[0];
    if (verb == term(w.his_the_locker) && m.size() == 5 && m[1].is_pid() && m[2].is_tuple() &&
        m[2].size() == 2 && m[2][0].is_integer()) {
      him h{node_of(m[1].as_pid()), m[1].as_pid(), m[2][0].as_int(), m[4], m[3]};
      if (is_local_host(h.node)) {
        local_.insert(local_.begin(), h);
      } else {
        remote_.insert(remote_.begin(), h);
      }
    } else if (verb == term(w.cancel) && m.size() == 4 && m[1].is_atom()) {
      // Outside a lock a cancel only forgets the node (a fun is not run, as OTP).
      if (m[3] == term(w.no_fun) && m[2] != term(atoms::undefined))
        remove_node(m[1].as_atom(), m[2]);
    } else if (verb == term(w.lock_set) && (m.size() == 4 || m.size() == 5) && m[1].is_pid()) {
      if (m[2] != term(true)) co_return;
      const pid peer = m[1].as_pid();
      const him* h = find(node_of(peer));
      if (h == nullptr || (m.size() == 5 && m[4] != h->my_tag)) {
        co_await send_lock_set(false, peer, 5, term(0));
        co_return;
      }
      const him found = *h;
      const term lock_id = locker_lock_id(peer);
      const bool is_set = co_await lock_nodes_safely(lock_id, {});
      co_await send_lock_set(is_set, peer, found.vsn, found.his_tag);
      if (is_set) {
        cast(dist::node_name(), term::tuple({w.lock_is_set, found.node, found.my_tag, lock_id}));
        std::vector<atom> all = known_;
        all.insert(all.begin(), dist::node_name());
        co_await wait_cancel(found.node, lock_id, found.my_tag, all);
        just_synced_ = true;
        remove_node(found.node, found.my_tag);
      } else {
        just_synced_ = false;
      }
    } else if (verb == term(w.add_to_known)) {
      add_known(m[1]);
    } else if (verb == term(w.remove_from_known) && m[1].is_atom()) {
      remove_known(m[1].as_atom());
    }
  }

  static bool is_local_host(atom node) {
    auto host = [](std::string_view n) {
      const auto at = n.find('@');
      return at == std::string_view::npos ? std::string_view() : n.substr(at + 1);
    };
    const std::string mine(dist::node_name().name()), theirs(node.name());
    return host(mine) == host(theirs);
  }

  const him* find(atom node) const {
    for (const auto* list : {&local_, &remote_})
      for (const him& h : *list)
        if (h.node == node) return &h;
    return nullptr;
  }
  void remove_node(atom node, const term& tag) {
    for (auto* list : {&local_, &remote_}) {
      auto it = std::find_if(list->begin(), list->end(),
                             [&](const him& h) { return h.node == node && h.my_tag == tag; });
      if (it != list->end()) list->erase(it);
    }
  }

  // {global, lists:sort([self(), Peer])}.
  static term locker_lock_id(const pid& peer) {
    term a(self()), b(peer);
    if (b < a) std::swap(a, b);
    return term::tuple({words().global, term::list({a, b})});
  }

  task<void> send_lock_set(bool is_set, pid peer_locker, std::int64_t vsn, term his_tag) {
    const global_words& w = words();
    term message = vsn < 8 ? term::tuple({w.lock_set, self(), term(is_set), atoms_to_list(known_)})
                           : term::tuple({w.lock_set, self(), term(is_set), atoms_to_list(known_),
                                          std::move(his_tag)});
    if (vsn < 6) {
      beamline::send(peer_locker, std::move(message));
    } else {
      cast(node_of(peer_locker), std::move(message));
    }
    co_return;
  }

  // lock_nodes_safely: the boss first, then this node and `extra`, then every known
  // node; any refusal undoes what was taken.
  task<bool> lock_nodes_safely(term lock_id, std::vector<atom> extra) {
    const atom self_node = dist::node_name();
    std::vector<atom> first;
    if (boss_ != atom("nonode@nohost")) first.push_back(boss_);
    const bool only_me = first.size() == 1 && first[0] == self_node;
    if (!only_me && !can_set_lock(lock_id)) co_return false;
    if (!co_await set_lock_on_nodes(lock_id, first)) co_return false;
    co_await drain_known();
    auto minus = [](std::vector<atom> a, const std::vector<atom>& b) {
      a.erase(std::remove_if(a.begin(), a.end(),
                             [&](atom x) { return std::find(b.begin(), b.end(), x) != b.end(); }),
              a.end());
      return a;
    };
    std::vector<atom> us = extra;
    us.insert(us.begin(), self_node);
    const std::vector<atom> second = minus(us, first);
    if (!co_await set_lock_on_nodes(lock_id, second)) {
      co_await del_lock_on(lock_id, first);
      co_return false;
    }
    if (!co_await set_lock_on_nodes(lock_id, minus(known_, first))) {
      std::vector<atom> so_far = first;
      so_far.insert(so_far.end(), second.begin(), second.end());
      co_await del_lock_on(lock_id, so_far);
      co_return false;
    }
    co_return true;
  }

  // select_node: pick a waiting peer (one on this host first) and try to lock.
  task<void> select_node() {
    std::vector<him>& others = local_.empty() ? remote_ : local_;
    others.erase(std::remove_if(others.begin(), others.end(),
                                [&](const him& h) {
                                  return std::find(known_.begin(), known_.end(), h.node) !=
                                         known_.end();
                                }),
                 others.end());
    if (others.empty()) co_return;
    static thread_local std::mt19937 random{std::random_device{}()};
    const him h = others[std::uniform_int_distribution<std::size_t>(0, others.size() - 1)(random)];
    const term lock_id = locker_lock_id(h.locker);
    std::vector<atom> his_node{h.node};
    if (!co_await lock_nodes_safely(lock_id, his_node)) co_return;
    std::vector<atom> known1 = known_;
    known1.insert(known1.begin(), h.node);
    known1.insert(known1.begin(), dist::node_name());
    co_await send_lock_set(true, h.locker, h.vsn, h.his_tag);
    co_await lock_is_set(h, known1, lock_id);
  }

  // Waits for the peer's answer to our lock_set (lock_is_set/5).
  task<void> lock_is_set(const him& h, std::vector<atom> known1, term lock_id) {
    const global_words& w = words();
    for (;;) {
      term m = co_await receive(when(
          [&](const term& t) {
            if (!t.is_tuple()) return false;
            if (t[0] == term(w.lock_set) && (t.size() == 4 || t.size() == 5) && t[1].is_pid())
              return node_of(t[1].as_pid()) == h.node;
            return t[0] == term(w.cancel) && t.size() == 4 && t[1] == term(h.node) &&
                   t[2] == h.my_tag;
          },
          [](term t) { return t; }));
      if (m[0] == term(w.cancel)) {
        call_fun(m[3]);
        co_await delete_global_lock(lock_id, known1);
        remove_node(h.node, h.my_tag);
        co_return;
      }
      const bool current = m.size() == 4 || m[4] == h.my_tag;
      if (!current) continue;  // an answer to an earlier attempt
      if (m[2] != term(true)) {
        co_await delete_global_lock(lock_id, known1);
        co_return;
      }
      cast(dist::node_name(), term::tuple({w.lock_is_set, h.node, h.my_tag, lock_id}));
      co_await wait_cancel(h.node, lock_id, h.my_tag, known1);
      just_synced_ = true;
      remove_node(h.node, h.my_tag);
      co_return;
    }
  }

  // Holds the lock until the server cancels it (wait_cancel_lock/6).
  task<void> wait_cancel(atom node, term lock_id, term my_tag, std::vector<atom> known) {
    const global_words& w = words();
    term m = co_await receive(when(
        [&](const term& t) {
          return t.is_tuple() && t.size() == 4 && t[0] == term(w.cancel) && t[1] == term(node) &&
                 t[2] == my_tag;
        },
        [](term t) { return t; }));
    call_fun(m[3]);
    co_await delete_global_lock(lock_id, known);
  }

  // The server's "fun" for the locker: {cast_all, Nodes, Message} or no_fun.
  static void call_fun(const term& f) {
    if (!f.is_tuple() || f.size() != 3 || f[0] != term(words().cast_all)) return;
    for (atom n : node_list(f[1])) cast(n, f[2]);
  }

  std::vector<atom> known_;
  atom boss_;
  std::vector<him> local_, remote_;
  bool just_synced_ = false;
};

process locker_process() {
  the_locker locker;
  co_await locker.run();
}

// --- the registrar ----------------------------------------------------------------------

task<std::vector<atom>> get_known() {
  const term reply =
      co_await gen_server::call(server_ref(words().server), term(words().get_known), infinity);
  co_return node_list(reply);
}

// set_lock_known: the lock {global, Registrar} on the boss, then on every known node,
// and the known nodes must not have changed meanwhile.
task<std::vector<atom>> set_lock_known(term id) {
  for (int times = 0;; ++times) {
    std::vector<atom> known = co_await get_known();
    std::vector<atom> nodes = known;
    nodes.insert(nodes.begin(), dist::node_name());
    std::vector<atom> boss{the_boss(nodes)};
    if (co_await set_lock_on_nodes(id, boss)) {
      if (co_await set_lock_on_nodes(id, nodes)) {
        std::vector<atom> now = co_await get_known();
        const bool same = std::all_of(now.begin(), now.end(), [&](atom n) {
          return std::find(known.begin(), known.end(), n) != known.end();
        });
        if (same) co_return nodes;
      }
      co_await del_lock_on(id, boss);
    }
    co_await random_sleep(times);
  }
}

// One registration change, under the lock: {register, Name, Pid, Method, IfFree} or
// {unregister, Name}.
task<term> registrar_run(const term& request) {
  const global_words& w = words();
  const term id = term::tuple({w.global, self()});
  std::vector<atom> nodes = co_await set_lock_known(id);
  term reply(atoms::ok);
  if (request[0] == term(w.register_)) {
    const term& name = request[1];
    const pid holder = request[2].as_pid();
    bool free = true;
    if (request[4] == term(true)) {
      bool named = false;
      {
        tables& t = shared();
        std::lock_guard guard(t.lock);
        named = t.names_of.count(holder) != 0;
      }
      if (named)
        log(holder.to_string() + " already has a global name; not registered as " +
            name.to_string());
      free = !where(name) && !named;
    }
    if (free) {
      const term call = term::tuple({w.register_, name, request[2], request[3]});
      co_await multi_call(nodes, call);
    }
    reply = term(free ? w.yes : w.no);
  } else {
    if (where(request[1])) {
      const term call = term::tuple({w.unregister, request[1]});
      co_await multi_call(nodes, call);
    }
  }
  co_await delete_global_lock(id, nodes);
  co_return reply;
}

process registrar_process() {
  for (;;) {
    term m = co_await receive([](term t) { return t; });
    // {'$gen_call', From, Request}
    if (!m.is_tuple() || m.size() != 3 || m[0] != term(atoms::gen_call) || !m[2].is_tuple() ||
        m[2].size() < 2)
      continue;
    const term reply = co_await registrar_run(m[2]);
    gen_server::reply(m[1], reply);
  }
}

// --- a resolver -------------------------------------------------------------------------

// exchange_names: what this node does with the peer's names. `ops` go to this
// node's tables; `resolved` are the conflicts this node decided, sent to the peer.
task<void> exchange_names(const term& list, atom peer, std::vector<term>& ops,
                          std::vector<term>& resolved) {
  const global_words& w = words();
  const atom self_node = dist::node_name();
  if (!list.is_proper_list()) co_return;
  for (const term& e : list.as_list()) {
    if (!e.is_tuple() || e.size() != 3 || !e[1].is_pid()) continue;
    const term& name = e[0];
    const pid theirs = e[1].as_pid();
    std::optional<name_entry> ours;
    {
      tables& t = shared();
      std::lock_guard guard(t.lock);
      auto it = t.names.find(name);
      if (it != t.names.end()) ours = it->second;
    }
    if (!ours) {
      ops.push_back(term::tuple({w.insert, e}));
      continue;
    }
    if (ours->holder == theirs || !(self_node < peer)) continue;
    // A conflict that this node resolves: the method of the name's holder here,
    // on that holder's node.
    const atom holder_node = node_of(ours->holder);
    term result;
    if (holder_node == self_node) {
      result = resolve_here(ours->method, name, theirs, ours->holder);
    } else {
      try {
        const term args = term::list({ours->method, name, theirs, ours->holder});
        result = co_await dist::call(holder_node, w.global, w.resolve_it, args);
      } catch (const error& problem) {
        log("badrpc " + problem.reason().to_string() + " when conflicting name " +
            name.to_string() + " was found");
        ops.push_back(term::tuple({w.insert, e}));
        continue;
      }
    }
    if (result == term(theirs)) {
      ops.push_back(term::tuple({w.insert, e}));
    } else if (result == term(ours->holder)) {
      resolved.push_back(term::tuple({w.insert, term::tuple({name, ours->holder, ours->method})}));
    } else {
      if (result != term(w.none))
        log("resolve method for conflicting name " + name.to_string() + " returned " +
            result.to_string());
      const term del = term::tuple({w.delete_, name});
      ops.push_back(del);
      resolved.push_back(del);
    }
  }
}

process resolver_process(atom peer, term tag) {
  const global_words& w = words();
  term m = co_await receive(when(
      [&](const term& t) {
        return t.is_tuple() && t.size() == 3 && t[0] == term(w.resolve) && t[2] == term(peer);
      },
      [](term t) { return t; }));
  std::vector<term> ops, resolved;
  co_await exchange_names(m[1], peer, ops, resolved);
  cast(dist::node_name(), term::tuple({w.exchange_ops, peer, tag, term::list(std::move(ops)),
                                       term::list(std::move(resolved))}));
}

}  // namespace beamline::names::global::internal
