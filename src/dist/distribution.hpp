// distribution.hpp: what the distribution's files share (distribution.cpp: the
// connections, their packets and processes; services.cpp: what a node answers for
// others, and dist::call). Private to src/dist/.
//
// Who does what:
//   dist::start      (the program's thread, before run()) binds the listening socket,
//                    registers with EPMD (kept open), sets the node's identity,
//                    installs the transport and spawns the services below.
//   acceptor         (a process) accepts connections and spawns a handshake for each.
//   net_kernel       (a process, registered) answers is_auth (net_adm:ping) and spawns
//                    the outgoing handshakes that sends to unconnected nodes ask for.
//   rex              (a process, registered) answers erpc's features_request.
//   a handshake      (a process) runs one side of the handshake and, once it succeeds,
//                    becomes the connection's reader: it decodes each packet and
//                    delivers the signal it carries to the local process.
//   the writer       (a process per connection) writes what senders queued, in
//                    batches, and a tick after a quiet quarter of net_ticktime.
//   any sender       (any thread: transport::send, called by node_runtime::deliver for
//                    a pid of another node) encodes its signal into a packet and appends
//                    it to the connection's queue, in the order of its sends.
//
// A connection (one per peer node) is created by the first send to that node, or by
// an incoming handshake; it is `connecting` until a handshake succeeds (packets queue
// meanwhile), `up`, then `down` for good (a new one replaces it in the table). Each
// connection keeps the links and monitors that crossed it, so that its loss gives
// every local end `noconnection`, as Erlang does.
//
// Locks: distribution::lock_ (the table) may be taken before a connection's lock,
// never after. Neither is held while delivering a signal.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "beamline/dist.hpp"
#include "beamline/messages.hpp"
#include "beamline/net/tcp.hpp"
#include "beamline/receive.hpp"
#include "beamline/registry.hpp"
#include "beamline/send.hpp"
#include "beamline/spawn.hpp"
#include "core/exceptions.hpp"
#include "core/node_runtime.hpp"
#include "core/relations.hpp"
#include "core/signals.hpp"
#include "dist/control.hpp"
#include "dist/handshake.hpp"
#include "term/utf8.hpp"

namespace beamline::dist::internal {

using beamline::detail::control_payload;
using beamline::detail::node_runtime;
using beamline::detail::signal;
using beamline::detail::signal_kind;
namespace wire = beamline::dist::detail;
namespace op = beamline::dist::detail::op;
using guard = beamline::detail::lock_guard<beamline::detail::mutex>;

// The flags this node offers: everything OTP 25 to 27 make mandatory, what gen_server
// calls and monitors need, the distribution header (its atom cache and fragments,
// both ways), spawn requests (answered for exported functions: export_function) and
// process aliases (ALIAS_SEND both ways).
constexpr std::uint64_t offered_flags =
    wire::flag::extended_references | wire::flag::dist_monitor | wire::flag::fun_tags |
    wire::flag::dist_monitor_name | wire::flag::new_fun_tags | wire::flag::extended_pids_ports |
    wire::flag::export_ptr_tag | wire::flag::bit_binaries | wire::flag::new_floats |
    wire::flag::utf8_atoms | wire::flag::map_tag | wire::flag::big_creation |
    wire::flag::dist_hdr_atom_cache | wire::flag::fragments | wire::flag::send_sender |
    wire::flag::exit_payload | wire::flag::handshake_23 | wire::flag::unlink_id |
    wire::flag::mandatory_25_digest | wire::flag::v4_nc | wire::flag::spawn | wire::flag::alias;

// Whether packets take the header form: either side's flags alone do not say.
inline bool header_form(std::uint64_t ours, std::uint64_t theirs) {
  return (ours & theirs & (wire::flag::dist_hdr_atom_cache | wire::flag::fragments)) != 0;
}

inline void log_line(const std::string& line) {
  std::fprintf(stderr, "beamline: distribution: %s\n", line.c_str());
}

enum class connection_state {
  connecting,  // a handshake may be running; packets queue in `out`
  up,          // the reader and the writer run
  down,        // gone for good; no longer in the table
};

struct link_pair {
  pid local;
  pid remote;
  friend bool operator==(const link_pair&, const link_pair&) = default;
};
struct link_pair_hash {
  std::size_t operator()(const link_pair& l) const noexcept {
    return std::hash<pid>()(l.local) * 31 + std::hash<pid>()(l.remote);
  }
};

struct connection {
  explicit connection(atom peer_node) : peer(peer_node) {}

  const atom peer;
  beamline::detail::mutex lock;
  connection_state state BL_GUARDED_BY(lock) = connection_state::connecting;
  bool hidden_peer BL_GUARDED_BY(lock) = false;  // a hidden connection: either side is
  // Packets in the header form (131 68...) rather than pass-through (112...), set
  // when the handshake negotiated DIST_HDR_ATOM_CACHE or FRAGMENTS; fragments when it
  // negotiated FRAGMENTS.
  wire::packet_format format BL_GUARDED_BY(lock);
  wire::send_atom_cache atom_cache BL_GUARDED_BY(lock);  // format.cache, when negotiated
  // Whether the peer takes ALIAS_SEND (until the handshake says, assumed: every OTP
  // node since 24 does); a message to an alias of a peer that does not is dropped.
  bool peer_aliases BL_GUARDED_BY(lock) = true;
  // Packets for the writer, in send order.
  std::string out BL_GUARDED_BY(lock);
  // The writer waits for a kick (a sender that finds it set sends one and clears it).
  bool writer_waiting BL_GUARDED_BY(lock) = false;
  // Senders waiting for `out` to shrink below the send buffer limit (on their own
  // threads: distribution::wait_to_drain), woken by the writer when it takes `out`.
  int draining_senders BL_GUARDED_BY(lock) = 0;
  beamline::detail::condition_variable drained;
  pid writer BL_GUARDED_BY(lock);
  pid reader BL_GUARDED_BY(lock);
  int socket_fd BL_GUARDED_BY(lock) = -1;  // the reader's, to shut down on loss
  // The handshake process working for this connection, and whether it is ours.
  pid attempt BL_GUARDED_BY(lock);
  bool attempt_outgoing BL_GUARDED_BY(lock) = false;
  // Links and monitors that crossed this connection (for noconnection on loss).
  std::unordered_set<link_pair, link_pair_hash> links BL_GUARDED_BY(lock);
  std::unordered_map<ref, link_pair> monitors BL_GUARDED_BY(lock);  // local watcher, remote
  std::unordered_map<ref, atom> name_monitors BL_GUARDED_BY(lock);  // by a peer, by name
  std::vector<pid> node_watchers BL_GUARDED_BY(lock);               // monitor_node
};

struct writer_kick {};
struct spawn_go {};

// The functions exported to other nodes (export_function), by {module, function}.
class export_table {
 public:
  void put(atom module, atom function, exported_task f) {
    beamline::detail::lock_guard<beamline::detail::shared_mutex> held(lock_);
    functions_[key(module, function)] = std::move(f);
  }
  exported_task find(atom module, atom function) {
    beamline::detail::shared_lock held(lock_);
    auto found = functions_.find(key(module, function));
    return found != functions_.end() ? found->second : exported_task{};
  }

 private:
  static std::uint64_t key(atom m, atom f) { return std::uint64_t{m.index()} << 32 | f.index(); }
  beamline::detail::shared_mutex lock_;
  // Plain functions are kept as tasks too (export_function wraps them).
  std::unordered_map<std::uint64_t, exported_task> functions_ BL_GUARDED_BY(lock_);
};

inline export_table& exports() {
  static export_table table;
  return table;
}
struct connect_request {
  std::shared_ptr<connection> c;
};

class distribution final : public beamline::detail::signal_transport {
 public:
  distribution(node_runtime& runtime, const options& o, std::string name, std::string cookie,
               std::uint32_t creation)
      : runtime_(runtime),
        options_(o),
        name_text_(std::move(name)),
        self_(atom(name_text_)),
        cookie_(std::move(cookie)),
        creation_(creation) {}

  bool send(const pid& to, signal* s) noexcept override;
  void wait_to_drain(connection& c) noexcept;
  bool send_to_own_name(const pid& to, signal* s) noexcept;

  atom self_name() const noexcept { return self_; }
  const std::string& self_text() const noexcept { return name_text_; }
  const options& opts() const noexcept { return options_; }
  std::uint32_t creation() const noexcept { return creation_; }
  const std::string& cookie() const noexcept { return cookie_; }
  std::uint64_t flags() const noexcept {
    return offered_flags | (options_.hidden ? 0 : wire::flag::published);
  }
  node_runtime& runtime() noexcept { return runtime_; }

  void set_net_kernel(const pid& p) noexcept {
    net_kernel_.store(p.id | std::uint64_t{p.serial} << 32);
  }
  pid net_kernel() const noexcept {
    const std::uint64_t v = net_kernel_.load();
    return pid{static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v >> 32), 0, 0};
  }

  // The live connection to `node`; with `connect`, one is made (and a handshake asked
  // of net_kernel) when there is none. Null for this node itself and when not found.
  std::shared_ptr<connection> connection_for(atom node, bool connect);
  // The incoming handshake for `peer` claims its connection: the status to answer.
  std::string claim_incoming(atom peer, const pid& handshake, std::shared_ptr<connection>& out);
  void remove(const std::shared_ptr<connection>& c);
  // Marks `c` up with the calling process as its reader; false if it was superseded.
  bool make_up(const std::shared_ptr<connection>& c, std::uint64_t peer_flags, int fd);
  // Takes `c` down for good: every local end of a link or monitor across it hears
  // `noconnection`, the reader and writer stop, node monitors get nodedown.
  void take_down(const std::shared_ptr<connection>& c, const std::string& why);

  // Queues the packet of `control` and `payload` for `c`'s peer (kicking the
  // writer); false if `c` is down.
  // `over_limit`, if given, says whether the queue has passed the send buffer limit
  // (the caller may then wait_to_drain).
  bool enqueue(connection& c, const term& control, const term* payload, bool* over_limit = nullptr);

  std::vector<atom> visible_nodes() { return connected_nodes(true, false); }
  // The nodes with a connection up: the visible ones, the hidden ones, or both.
  std::vector<atom> connected_nodes(bool visible, bool hidden);
  void watch_nodes(const pid& who, bool on);
  void notify_nodes(atom node, bool up, const term& reason);

  // dist::total_traffic: relaxed counts, written by the readers, the writers and
  // the senders.
  struct traffic_counts {
    std::atomic<std::uint64_t> bytes_in{0}, bytes_out{0}, messages_in{0}, messages_out{0};
  };
  traffic_counts carried;

 private:
  node_runtime& runtime_;
  const options options_;
  const std::string name_text_;
  const atom self_;
  const std::string cookie_;
  const std::uint32_t creation_;
  std::atomic<std::uint64_t> net_kernel_{0};

  beamline::detail::mutex lock_;
  std::unordered_map<std::uint32_t, std::shared_ptr<connection>> connections_ BL_GUARDED_BY(lock_);
  std::vector<pid> node_watchers_ BL_GUARDED_BY(lock_);  // monitor_nodes
};

// Set once by start; never destroyed (the transport must outlive every delivery).
inline std::atomic<distribution*> the_distribution{nullptr};

inline distribution* running() noexcept {
  return the_distribution.load(std::memory_order_acquire);
}

inline bool deliver_local(node_runtime& runtime, const pid& to, signal* s) noexcept {
  if (!to.is_local()) {  // a pid of this node's name from an earlier incarnation
    beamline::detail::destroy(s);
    return false;
  }
  return runtime.deliver(to, s).delivered;
}

inline void deliver_term(node_runtime& runtime, const pid& to, term message) {
  deliver_local(
      runtime, to,
      beamline::detail::make_signal<std::tuple<term>>(signal_kind::message, std::move(message)));
}

// A message from a peer to an alias of this node (ALIAS_SEND).
inline void deliver_term_to_alias(node_runtime& runtime, const ref& alias, term message) {
  if (!beamline::detail::is_local_alias(alias)) return;  // not ours, or not an alias
  beamline::detail::send_to_alias(
      runtime, alias,
      beamline::detail::make_signal<std::tuple<term>>(signal_kind::message, std::move(message)));
}

inline std::string name_of(atom a) {
  return std::string(a.name());
}

// --- between the two files ----------------------------------------------------------

// distribution.cpp: a pid in a packet from `c`'s peer that must name a process there
// (a packet_error naming `what` otherwise).
pid peer_pid(const connection& c, const term& t, const char* what);

// distribution.cpp: the initiating side's handshake, for a connection net_kernel was
// asked for; it becomes the connection's reader.
process connect_handshake(std::shared_ptr<connection>& c);

// services.cpp: a SPAWN_REQUEST from `c`'s peer (its control message's elements `f`
// and the arguments); the node's registered services; the builtins answered over
// erpc; the mesh on a new visible connection.
void spawn_requested(distribution& d, connection& c, std::span<const term> f, term arguments);
process net_kernel_process();
process rex_process();
process global_name_server_process();
void export_builtins();
process mesh_with(atom peer);

}  // namespace beamline::dist::internal
