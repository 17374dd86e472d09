// global_internal.hpp: what global.cpp (the name server and the API) and
// global_locks.cpp (locks, the locker, the registrar, the resolvers) share.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/global.hpp"
#include "beamline/pid.hpp"
#include "beamline/process.hpp"
#include "beamline/ref.hpp"
#include "beamline/term.hpp"
#include "term/term_hash.hpp"

namespace beamline::names::global::internal {

// The atoms of global's messages.
struct global_words {
  const atom server{"global_name_server"}, global{"global"}, locker{"locker"},
      init_connect{"init_connect"}, init_connect_ack{"init_connect_ack"},
      lock_is_set{"lock_is_set"}, exchange{"exchange"}, exchange_ops{"exchange_ops"},
      resolved{"resolved"}, new_nodes{"new_nodes"}, in_sync{"in_sync"}, lock_set{"lock_set"},
      cancel{"cancel"}, cancel_connect{"cancel_connect"}, his_the_locker{"his_the_locker"},
      add_to_known{"add_to_known"}, remove_from_known{"remove_from_known"}, resolve{"resolve"},
      insert{"insert"}, delete_{"delete"}, vsn{"vsn"}, lock{"lock"}, no_fun{"no_fun"},
      cast_all{"cast_all"}, set_lock{"set_lock"}, del_lock{"del_lock"}, register_{"register"},
      register_ext{"register_ext"}, unregister{"unregister"}, get_known{"get_known"},
      get_synced{"get_synced"}, sync{"sync"}, get_protocol_version{"get_protocol_version"},
      get_names_ext{"get_names_ext"}, nodeup{"nodeup"}, nodedown{"nodedown"},
      extra_nodedown{"extra_nodedown"}, lost_connection{"lost_connection"},
      remove_connection{"remove_connection"}, yes{"yes"}, no{"no"}, none{"none"}, unused{"unused"},
      no_longer_a_pid{"no_longer_a_pid"}, conflict{"global_name_conflict"},
      random_exit_name{"random_exit_name"}, random_notify_name{"random_notify_name"},
      notify_all_name{"notify_all_name"}, resolve_it{"resolve_it"}, custom{"beamline_resolver"},
      badfun{"badfun"};
};

const global_words& words();

void log(const std::string& line);  // "beamline: global: ..." on stderr
atom node_of(const pid& p);
bool connected(atom node);  // a visible node with a connection up
// gen_server:cast({global_name_server, Node}, Message).
void cast(atom node, term message);
// A message to the node's server only if the connection is up (noconnect).
void volatile_send(atom node, term message);
term atoms_to_list(const std::vector<atom>& nodes);
// The nodes of [Node] or [{Node, Vsn}].
std::vector<atom> node_list(const term& list);
atom the_boss(const std::vector<atom>& nodes);  // the one whose name sorts last

// --- the tables: written by the server, read by anyone under `lock` ---------------

struct name_entry {
  pid holder;
  term method;
  ref monitor;
};
struct lock_holder {
  pid process;
  ref monitor;
};
struct lock_entry {
  term requester;  // the LockRequesterId of {ResourceId, LockRequesterId}
  std::vector<lock_holder> holders;
};

struct tables {
  std::mutex lock;
  std::unordered_map<term, name_entry, detail::cached_term_hash> names;
  std::multimap<pid, term> names_of;    // holder -> its names
  std::map<ref, term> name_of_monitor;  // a name's monitor of its holder -> the name
  std::map<term, lock_entry> locks;
  pid registrar;
  std::map<std::int64_t, resolver> resolvers;  // the methods of this node's own
  std::int64_t next_resolver = 1;
};

tables& shared();

bool can_set_lock(const term& id);  // the resource is free or held under id's requester
bool is_global_lock_set();
std::optional<pid> where(const term& name);  // global:whereis_name
term names_list();                           // [{Name, Pid, Method}]

// --- resolve methods ------------------------------------------------------------------

term method_term(resolve method);  // fun global:random_exit_name/3 and the others
// global:resolve_it(Method, Name, Pid1, Pid2) run on this node.
term resolve_here(const term& method, const term& name, const pid& a, const pid& b);

// --- locks across nodes ------------------------------------------------------------

// gen_server:multi_call(Nodes, global_name_server, Request): the nodes that answered.
task<std::vector<std::pair<atom, term>>> multi_call(std::vector<atom> nodes, term request);
task<void> del_lock_on(term id, std::vector<atom> nodes);
task<bool> set_lock_on_nodes(term id, std::vector<atom> nodes);
task<void> delete_global_lock(term id, std::vector<atom> nodes);
task<void> random_sleep(int times);

// --- the server's helpers ------------------------------------------------------------

process locker_process();
process registrar_process();
process resolver_process(atom peer, term tag);

}  // namespace beamline::names::global::internal
