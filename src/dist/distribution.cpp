// distribution.cpp: this node as a node of an Erlang cluster (beamline/dist.hpp).
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
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "beamline/dist.hpp"
#include "beamline/messages.hpp"
#include "beamline/net/resolve.hpp"
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
#include "dist/epmd_client.hpp"
#include "dist/handshake.hpp"
#include "term/utf8.hpp"

namespace beamline::dist {

namespace {

using beamline::detail::control_payload;
using beamline::detail::node_runtime;
using beamline::detail::signal;
using beamline::detail::signal_kind;
namespace wire = beamline::dist::detail;
namespace op = beamline::dist::detail::op;
using guard = beamline::detail::lock_guard<beamline::detail::mutex>;

// The flags this node offers: everything OTP 25 to 27 make mandatory, what gen_server
// calls and monitors need, the distribution header (its atom cache and fragments,
// both ways), and
// spawn requests (answered for exported functions: export_function), and nothing
// that needs machinery this node lacks (no aliases yet).
constexpr std::uint64_t offered_flags =
    wire::flag::extended_references | wire::flag::dist_monitor | wire::flag::fun_tags |
    wire::flag::dist_monitor_name | wire::flag::new_fun_tags | wire::flag::extended_pids_ports |
    wire::flag::export_ptr_tag | wire::flag::bit_binaries | wire::flag::new_floats |
    wire::flag::utf8_atoms | wire::flag::map_tag | wire::flag::big_creation |
    wire::flag::dist_hdr_atom_cache | wire::flag::fragments | wire::flag::send_sender |
    wire::flag::exit_payload | wire::flag::handshake_23 | wire::flag::unlink_id |
    wire::flag::mandatory_25_digest | wire::flag::v4_nc | wire::flag::spawn;

// Whether packets take the header form: either side's flags alone do not say.
bool header_form(std::uint64_t ours, std::uint64_t theirs) {
  return (ours & theirs & (wire::flag::dist_hdr_atom_cache | wire::flag::fragments)) != 0;
}

void log_line(const std::string& line) {
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
  // Packets for the writer, in send order.
  std::string out BL_GUARDED_BY(lock);
  // The writer waits for a kick (a sender that finds it set sends one and clears it).
  bool writer_waiting BL_GUARDED_BY(lock) = false;
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
  void put(atom module, atom function, exported_function f) {
    beamline::detail::lock_guard<beamline::detail::shared_mutex> held(lock_);
    functions_[key(module, function)] = std::move(f);
  }
  exported_function find(atom module, atom function) {
    beamline::detail::shared_lock held(lock_);
    auto found = functions_.find(key(module, function));
    return found != functions_.end() ? found->second : exported_function{};
  }

 private:
  static std::uint64_t key(atom m, atom f) { return std::uint64_t{m.index()} << 32 | f.index(); }
  beamline::detail::shared_mutex lock_;
  std::unordered_map<std::uint64_t, exported_function> functions_ BL_GUARDED_BY(lock_);
};

export_table& exports() {
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
  bool enqueue(connection& c, const term& control, const term* payload);

  std::vector<atom> visible_nodes() { return connected_nodes(true, false); }
  // The nodes with a connection up: the visible ones, the hidden ones, or both.
  std::vector<atom> connected_nodes(bool visible, bool hidden);
  void watch_nodes(const pid& who, bool on);
  void notify_nodes(atom node, bool up, const term& reason);

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
std::atomic<distribution*> the_distribution{nullptr};

distribution* running() noexcept {
  return the_distribution.load(std::memory_order_acquire);
}

bool deliver_local(node_runtime& runtime, const pid& to, signal* s) noexcept {
  if (!to.is_local()) {  // a pid of this node's name from an earlier incarnation
    beamline::detail::destroy(s);
    return false;
  }
  return runtime.deliver(to, s).delivered;
}

void deliver_term(node_runtime& runtime, const pid& to, term message) {
  deliver_local(
      runtime, to,
      beamline::detail::make_signal<std::tuple<term>>(signal_kind::message, std::move(message)));
}

std::string name_of(atom a) {
  return std::string(a.name());
}

// --- connections ----------------------------------------------------------------------

std::shared_ptr<connection> distribution::connection_for(atom node, bool connect) {
  if (node == self_) return nullptr;
  std::shared_ptr<connection> made;
  {
    guard held(lock_);
    auto found = connections_.find(node.index());
    if (found != connections_.end()) return found->second;
    if (!connect) return nullptr;
    // A node name is name@host.
    const std::string_view text = node.name();
    if (text.find('@') == std::string_view::npos) return nullptr;
    made = std::make_shared<connection>(node);
    connections_.emplace(node.index(), made);
  }
  deliver_local(runtime_, net_kernel(),
                beamline::detail::make_signal<std::tuple<connect_request>>(signal_kind::message,
                                                                           connect_request{made}));
  return made;
}

std::string distribution::claim_incoming(atom peer, const pid& handshake,
                                         std::shared_ptr<connection>& out) {
  std::shared_ptr<connection> old;
  {
    guard held(lock_);
    auto found = connections_.find(peer.index());
    if (found == connections_.end()) {
      out = std::make_shared<connection>(peer);
      {
        guard c(out->lock);
        out->attempt = handshake;
      }
      connections_.emplace(peer.index(), out);
      return "ok";
    }
    std::shared_ptr<connection> c = found->second;
    guard held_c(c->lock);
    if (c->state == connection_state::up) {
      out = c;
      return "alive";
    }
    // Connecting: simultaneous connects. The node with the greater name keeps its own
    // attempt (OTP compares the names).
    if (c->attempt_outgoing && !c->attempt.is_null()) {
      if (name_text_ > std::string(peer.name())) return "nok";
      old = c;
    } else if (!c->attempt.is_null()) {
      return "nok";  // another incoming attempt is under way
    }
    c->attempt = handshake;
    c->attempt_outgoing = false;
    out = c;
  }
  return old ? "ok_simultaneous" : "ok";
}

void distribution::remove(const std::shared_ptr<connection>& c) {
  guard held(lock_);
  auto found = connections_.find(c->peer.index());
  if (found != connections_.end() && found->second == c) connections_.erase(found);
}

bool distribution::make_up(const std::shared_ptr<connection>& c, std::uint64_t peer_flags, int fd) {
  const pid me = self();
  {
    guard held(c->lock);
    if (c->state != connection_state::connecting || c->attempt != me) return false;
    c->state = connection_state::up;
    // A connection is hidden when either side is (Erlang's nodes(hidden)).
    c->hidden_peer = (peer_flags & wire::flag::published) == 0 || options_.hidden;
    c->format.header = header_form(flags(), peer_flags);
    c->format.fragment_size =
        (flags() & peer_flags & wire::flag::fragments) != 0 ? wire::default_fragment_size : 0;
    c->format.cache =
        (flags() & peer_flags & wire::flag::dist_hdr_atom_cache) != 0 ? &c->atom_cache : nullptr;
    // What was queued while connecting was written in the pass-through form.
    if (c->format.header && !c->out.empty()) {
      try {
        c->out = wire::to_header_form(c->out, c->format);
      } catch (const std::exception& e) {
        log_line("packets queued for " + name_of(c->peer) + " were dropped: " + e.what());
        c->out.clear();
      }
    }
    c->reader = me;
    c->socket_fd = fd;
    c->attempt = pid{};
  }
  return true;
}

void distribution::take_down(const std::shared_ptr<connection>& c, const std::string& why) {
  std::unordered_set<link_pair, link_pair_hash> links;
  std::unordered_map<ref, link_pair> monitors;
  std::vector<pid> watchers;
  pid reader, writer, attempt;
  bool was_up = false;
  {
    guard held(c->lock);
    if (c->state == connection_state::down) return;
    was_up = c->state == connection_state::up;
    c->state = connection_state::down;
    links.swap(c->links);
    monitors.swap(c->monitors);
    watchers.swap(c->node_watchers);
    c->name_monitors.clear();
    std::string().swap(c->out);
    if (c->socket_fd >= 0) ::shutdown(c->socket_fd, SHUT_RDWR);  // wakes the reader
    c->socket_fd = -1;
    reader = c->reader;
    writer = c->writer;
    attempt = c->attempt;
  }
  remove(c);
  if (was_up) log_line("connection to " + name_of(c->peer) + " closed: " + why);
  const term noconnection(atoms::noconnection);
  for (const link_pair& l : links)
    deliver_local(runtime_, l.local,
                  beamline::detail::make_exit_signal(l.remote, noconnection, true));
  for (const auto& [monitor, pair] : monitors)
    deliver_local(runtime_, pair.local,
                  beamline::detail::make_down_signal(monitor, pair.remote, noconnection));
  const term down = term::tuple({atom("nodedown"), c->peer});
  for (const pid& w : watchers) deliver_term(runtime_, w, down);
  // The reader and writer end (a kill destroys their frames, closing their sockets);
  // not the caller itself, which returns to its own end.
  const pid me = beamline::detail::this_thread.process != nullptr ? self() : pid{};
  for (const pid& p : {reader, writer, attempt})
    if (!p.is_null() && p != me)
      deliver_local(runtime_, p, beamline::detail::make_exit_signal(me, term(atoms::kill), false));
  if (was_up) notify_nodes(c->peer, false, atom("connection_closed"));
}

void kick_writer(node_runtime& runtime, const pid& writer) {
  if (!writer.is_null())
    deliver_local(runtime, writer,
                  beamline::detail::make_signal<std::tuple<writer_kick>>(signal_kind::message));
}

bool distribution::enqueue(connection& c, const term& control, const term* payload) {
  pid kick;
  {
    guard held(c.lock);
    if (c.state == connection_state::down) return false;
    wire::append_packet(c.out, c.format, control, payload);
    if (c.writer_waiting) {
      c.writer_waiting = false;
      kick = c.writer;
    }
  }
  kick_writer(runtime_, kick);
  return true;
}

std::vector<atom> distribution::connected_nodes(bool visible, bool hidden) {
  std::vector<std::shared_ptr<connection>> all;
  {
    guard held(lock_);
    for (const auto& [index, c] : connections_) all.push_back(c);
  }
  std::vector<atom> out;
  for (const auto& c : all) {
    guard held(c->lock);
    if (c->state == connection_state::up && (c->hidden_peer ? hidden : visible))
      out.push_back(c->peer);
  }
  return out;
}

void distribution::watch_nodes(const pid& who, bool on) {
  guard held(lock_);
  std::erase(node_watchers_, who);
  if (on) node_watchers_.push_back(who);
}

void distribution::notify_nodes(atom node, bool up, const term& reason) {
  std::vector<pid> watchers;
  {
    guard held(lock_);
    watchers = node_watchers_;
  }
  (void)reason;
  const term message = term::tuple({atom(up ? "nodeup" : "nodedown"), node});
  for (const pid& w : watchers) deliver_term(runtime_, w, message);
}

// --- outgoing signals -----------------------------------------------------------------

// The packet for signal `s` to remote `to`, and what it changes in `c`'s records.
// Null control: nothing to send (a local-only signal).
bool encode_signal(distribution& d, connection& c, const pid& to, signal* s, std::string& packet)
    BL_REQUIRES(c.lock) {
  // {Name, Node} travels as the name (REG_SEND, a monitor of a name).
  const term destination = to.is_remote_name() ? term(atom::from_index(to.serial)) : term(to);
  switch (s->kind) {
    case signal_kind::message: {
      if (s->type->to_term == nullptr) {
        log_line("a message of type " + beamline::detail::type_name(*s->type->payload) + " to " +
                 to.to_string() + " on " + name_of(c.peer) +
                 " was dropped: only terms, and values that convert to terms, cross nodes");
        return false;
      }
      const term message = s->type->to_term(s);
      if (to.is_remote_name()) {
        // REG_SEND names its sender: the sending process, or net_kernel for a thread.
        const pid from = beamline::detail::this_thread.process != nullptr ? self() : d.net_kernel();
        wire::append_packet(packet, c.format,
                            term::tuple({op::reg_send, from, atom(""), destination}), &message);
        return true;
      }
      wire::append_packet(packet, c.format, term::tuple({op::send, atom(""), to}), &message);
      return true;
    }
    case signal_kind::exit: {
      const exit_message& m =
          std::get<0>(beamline::detail::payload_of<std::tuple<exit_message>>(s));
      const bool link = (s->flags & beamline::detail::signal_flag_link) != 0;
      if (link) c.links.erase(link_pair{m.from, to});
      wire::append_packet(packet, c.format,
                          term::tuple({link ? op::payload_exit : op::payload_exit2, m.from, to}),
                          &m.reason);
      return true;
    }
    case signal_kind::down: {
      const down_message& m =
          std::get<0>(beamline::detail::payload_of<std::tuple<down_message>>(s));
      term from = m.from;
      if (auto named = c.name_monitors.find(m.monitor); named != c.name_monitors.end()) {
        from = named->second;
        c.name_monitors.erase(named);
      }
      wire::append_packet(packet, c.format,
                          term::tuple({op::payload_monitor_p_exit, from, to, m.monitor}),
                          &m.reason);
      return true;
    }
    case signal_kind::link: {
      const control_payload& p = beamline::detail::payload_of<control_payload>(s);
      c.links.insert(link_pair{p.from, to});
      wire::append_packet(packet, c.format, term::tuple({op::link, p.from, to}), nullptr);
      return true;
    }
    case signal_kind::unlink: {
      const control_payload& p = beamline::detail::payload_of<control_payload>(s);
      c.links.erase(link_pair{p.from, to});
      wire::append_packet(packet, c.format, term::tuple({op::unlink_id, term(p.id), p.from, to}),
                          nullptr);
      return true;
    }
    case signal_kind::unlink_ack: {
      const control_payload& p = beamline::detail::payload_of<control_payload>(s);
      wire::append_packet(packet, c.format,
                          term::tuple({op::unlink_id_ack, term(p.id), p.from, to}), nullptr);
      return true;
    }
    case signal_kind::monitor: {
      const control_payload& p = beamline::detail::payload_of<control_payload>(s);
      c.monitors.emplace(p.monitor, link_pair{p.from, to});
      wire::append_packet(packet, c.format,
                          term::tuple({op::monitor_p, p.from, destination, p.monitor}), nullptr);
      return true;
    }
    case signal_kind::demonitor: {
      const control_payload& p = beamline::detail::payload_of<control_payload>(s);
      c.monitors.erase(p.monitor);
      wire::append_packet(packet, c.format,
                          term::tuple({op::demonitor_p, p.from, destination, p.monitor}), nullptr);
      return true;
    }
    default:
      return false;  // timeouts, wakes, status requests: never for another node
  }
}

// A signal for {Name, Node} where Node is this node: to whoever holds the name.
bool distribution::send_to_own_name(const pid& to, signal* s) noexcept {
  const std::optional<pid> holder = runtime_.names().whereis(atom::from_index(to.serial));
  if (holder) return deliver_local(runtime_, *holder, s);
  if (s->kind == signal_kind::monitor) {  // nobody: the DOWN says noproc at once
    const control_payload& p = beamline::detail::payload_of<control_payload>(s);
    deliver_local(runtime_, p.from,
                  beamline::detail::make_down_signal(p.monitor, to, atoms::noproc));
  }
  const bool answered = s->kind == signal_kind::message || s->kind == signal_kind::monitor ||
                        s->kind == signal_kind::demonitor;
  beamline::detail::destroy(s);
  return answered;
}

bool distribution::send(const pid& to, signal* s) noexcept {
  if (to.is_remote_name()) {
    // {Name, Node} takes messages, monitors and demonitors; links and exit signals
    // need a pid, as in Erlang.
    if (s->kind != signal_kind::message && s->kind != signal_kind::monitor &&
        s->kind != signal_kind::demonitor) {
      beamline::detail::destroy(s);
      return false;
    }
    if (to.node_atom() == self_.index()) return send_to_own_name(to, s);
  }
  std::shared_ptr<connection> c;
  try {
    c = connection_for(atom::from_index(to.node_atom()), true);
  } catch (...) {
  }
  if (!c) {
    beamline::detail::destroy(s);
    return false;
  }
  std::string packet;
  bool queued = false;
  pid kick;
  try {
    guard held(c->lock);
    if (c->state != connection_state::down) {
      queued = true;
      if (encode_signal(*this, *c, to, s, packet)) {
        c->out += packet;
        if (c->writer_waiting) {
          c->writer_waiting = false;
          kick = c->writer;
        }
      }
    }
  } catch (const std::exception& e) {
    log_line(std::string("a signal to ") + to.to_string() + " could not be encoded: " + e.what());
  }
  beamline::detail::destroy(s);
  kick_writer(runtime_, kick);
  return queued;
}

// --- incoming packets -------------------------------------------------------------------

// A pid in a packet from `c`'s peer that names a process there.
pid peer_pid(const connection& c, const term& t, const char* what) {
  if (!t.is_pid()) throw wire::packet_error(std::string(what) + " is not a pid: " + t.to_string());
  const pid p = t.as_pid();
  if (p.node != c.peer.index())
    throw wire::packet_error(std::string(what) + " " + t.to_string() + " is not a process of " +
                             name_of(c.peer));
  return p;
}

// A pid in a packet from the peer that names a process of this node (or of an
// earlier incarnation of it: then not local, and signals to it are dropped).
pid our_pid(const term& t, const char* what) {
  if (!t.is_pid()) throw wire::packet_error(std::string(what) + " is not a pid: " + t.to_string());
  return t.as_pid();
}

ref packet_ref(const term& t) {
  if (!t.is_ref()) throw wire::packet_error("not a reference: " + t.to_string());
  return t.as_ref();
}

std::uint64_t unlink_id_of(const term& t) {
  if (!t.is_integer()) throw wire::packet_error("an unlink id that is not an integer");
  const std::string text = t.to_string();  // the id may be a bignum past 2^63
  errno = 0;
  char* end = nullptr;
  const unsigned long long id = std::strtoull(text.c_str(), &end, 10);
  if (text[0] == '-' || errno == ERANGE || id == 0 || *end != '\0')
    throw wire::packet_error("an unlink id out of range: " + text);
  return id;
}

// --- spawn requests (rpc:call, erpc, spawn/4 from other nodes) ------------------------

enum class spawn_kind {
  erpc_call,  // erpc:execute_call(Ref, M, F, A): exit with {Ref, return | throw | exit | error,
              // ...}
  erpc_cast,  // erpc:execute_cast(M, F, A)
  direct,     // M:F(A...) itself
};

// [{M, F, A, []}]: the stack erpc reports for an error in M:F(A).
term call_stack(const term& m, const term& f, const term& a) {
  return term::list({term::tuple({m, f, a, term::nil()})});
}

// A process of this node started by another node's spawn request: it waits for the
// go-ahead (sent once the SPAWN_REPLY is queued, so that nothing of it overtakes the
// reply), then runs the exported function `module`:`function`.
process spawned_function(spawn_kind kind, term module, term function, term arguments,
                         term result_ref) {
  co_await receive([](const spawn_go&) {});
  exported_function f = exports().find(module.as_atom(), function.as_atom());
  if (kind == spawn_kind::erpc_call) {
    term reply;
    if (!f) {
      reply = term::tuple(
          {result_ref, atoms::error, atoms::undef, call_stack(module, function, arguments)});
    } else {
      try {
        reply = term::tuple({result_ref, atom("return"), f(arguments)});
      } catch (...) {
        bool exited = false;
        const term reason = beamline::detail::exception_reason(std::current_exception(), exited);
        reply = exited ? term::tuple({result_ref, atom("exit"), reason})
                       : term::tuple({result_ref, atoms::error, reason,
                                      call_stack(module, function, arguments)});
      }
    }
    // The reply is the exit reason (erpc reads it from the DOWN): not a crash to report.
    beamline::detail::current_process("rpc").mark_reported();
    exit(reply);
  }
  if (!f) exit(term::tuple({atoms::undef, call_stack(module, function, arguments)}));
  f(arguments);
}

// SPAWN_REQUEST {29, ReqId, From, GroupLeader, {M, F, Arity}, Options} + Args: spawns
// the process, sets up the link and the monitor (whose reference is ReqId) asked for,
// answers SPAWN_REPLY {31, ReqId, From, Flags, Pid}, then lets the process run.
void spawn_requested(distribution& d, connection& c, std::span<const term> f, term arguments) {
  const term& request = f[1];
  const pid from = peer_pid(c, f[2], "the spawning process");
  const term& mfa = f[4];
  const term& options = f[5];
  if (!request.is_ref() || !mfa.is_tuple() || mfa.size() != 3 || !mfa[0].is_atom() ||
      !mfa[1].is_atom() || !mfa[2].is_integer() || !options.is_proper_list() ||
      !arguments.is_proper_list())
    throw wire::packet_error("a malformed spawn request " +
                             term::tuple({f[1], f[4], f[5]}).to_string());
  bool link = false, monitor = false;
  for (const term& o : options.as_list()) {
    if (o == term(atom("link"))) link = true;
    if (o == term(atom("monitor")) ||
        (o.is_tuple() && o.size() == 2 && o[0] == term(atom("monitor"))))
      monitor = true;
  }
  spawn_kind kind = spawn_kind::direct;
  term module = mfa[0], function = mfa[1], args = arguments, result_ref;
  std::vector<term> list;
  for (const term& a : arguments.as_list()) list.push_back(a);
  if (mfa[0] == term(atom("erpc")) && mfa[1] == term(atom("execute_call")) && list.size() == 4 &&
      list[1].is_atom() && list[2].is_atom() && list[3].is_proper_list()) {
    kind = spawn_kind::erpc_call;
    result_ref = list[0];
    module = list[1];
    function = list[2];
    args = list[3];
  } else if (mfa[0] == term(atom("erpc")) && mfa[1] == term(atom("execute_cast")) &&
             list.size() == 3 && list[0].is_atom() && list[1].is_atom() &&
             list[2].is_proper_list()) {
    kind = spawn_kind::erpc_cast;
    module = list[0];
    function = list[1];
    args = list[2];
  }
  node_runtime& runtime = d.runtime();
  pid child;
  try {
    child = spawn(spawned_function, kind, module, function, args, result_ref);
  } catch (const std::exception&) {
    d.enqueue(c, term::tuple({op::spawn_reply, request, from, 0, atoms::system_limit}), nullptr);
    return;
  }
  int flags = 0;
  if (link) {
    {
      guard held(c.lock);
      c.links.insert(link_pair{child, from});
    }
    deliver_local(runtime, child,
                  beamline::detail::make_control_signal(signal_kind::link, from, {}, 0));
    flags |= 1;
  }
  if (monitor) {
    deliver_local(
        runtime, child,
        beamline::detail::make_control_signal(signal_kind::monitor, from, request.as_ref(), 0));
    flags |= 2;
  }
  d.enqueue(c, term::tuple({op::spawn_reply, request, from, flags, child}), nullptr);
  deliver_local(runtime, child,
                beamline::detail::make_signal<std::tuple<spawn_go>>(signal_kind::message));
}

void handle_packet(distribution& d, connection& c, wire::packet& p) {
  node_runtime& runtime = d.runtime();
  const std::span<const term> f = p.control.elements();
  switch (p.operation()) {
    case op::send:
    case op::send_tt:
    case op::send_sender:
    case op::send_sender_tt:
    case op::alias_send:
    case op::alias_send_tt: {
      if (p.operation() == op::alias_send || p.operation() == op::alias_send_tt)
        return;  // aliases are not offered: nothing of ours can be addressed so
      const pid to = our_pid(f[2], "the addressee");
      deliver_term(runtime, to, std::move(*p.payload));
      return;
    }
    case op::reg_send:
    case op::reg_send_tt: {
      peer_pid(c, f[1], "the sender");
      if (!f[3].is_atom()) throw wire::packet_error("REG_SEND to a name that is not an atom");
      std::optional<pid> to = whereis(f[3].as_atom());
      if (to) deliver_term(runtime, *to, std::move(*p.payload));
      return;
    }
    case op::link: {
      const pid from = peer_pid(c, f[1], "the linker");
      const pid to = our_pid(f[2], "the linked process");
      {
        guard held(c.lock);
        c.links.insert(link_pair{to, from});
      }
      if (!deliver_local(runtime, to,
                         beamline::detail::make_control_signal(signal_kind::link, from, {}, 0))) {
        // Not alive: the linker hears noproc, as from a local process.
        {
          guard held(c.lock);
          c.links.erase(link_pair{to, from});
        }
        const term reason(atoms::noproc);
        d.enqueue(c, term::tuple({op::payload_exit, to, from}), &reason);
      }
      return;
    }
    case op::unlink_id:
    case op::unlink_id_ack: {
      const std::uint64_t id = unlink_id_of(f[1]);
      const pid from = peer_pid(c, f[2], "the unlinker");
      const pid to = our_pid(f[3], "the unlinked process");
      const bool ack = p.operation() == op::unlink_id_ack;
      if (!ack) {
        guard held(c.lock);
        c.links.erase(link_pair{to, from});
      }
      if (!deliver_local(runtime, to,
                         beamline::detail::make_control_signal(
                             ack ? signal_kind::unlink_ack : signal_kind::unlink, from, {}, id)) &&
          !ack) {
        // Gone: answer for it, as its exit already did for the link.
        d.enqueue(c, term::tuple({op::unlink_id_ack, f[1], to, from}), nullptr);
      }
      return;
    }
    case op::unlink:
      return;  // the old unlink protocol, which OTP 26 no longer sends: UNLINK_ID replaced it
    case op::exit:
    case op::exit_tt:
    case op::payload_exit:
    case op::payload_exit_tt:
    case op::exit2:
    case op::exit2_tt:
    case op::payload_exit2:
    case op::payload_exit2_tt: {
      const int o = p.operation();
      const bool link =
          o == op::exit || o == op::exit_tt || o == op::payload_exit || o == op::payload_exit_tt;
      const pid from = peer_pid(c, f[1], "the exiting process");
      const pid to = our_pid(f[2], "the exit's target");
      term reason = p.payload ? std::move(*p.payload) : f[f.size() - 1];
      if (link) {
        guard held(c.lock);
        c.links.erase(link_pair{to, from});
      }
      deliver_local(runtime, to, beamline::detail::make_exit_signal(from, reason, link));
      return;
    }
    case op::monitor_p:
    case op::demonitor_p: {
      const pid from = peer_pid(c, f[1], "the watcher");
      const ref monitor = packet_ref(f[3]);
      std::optional<pid> target;
      if (f[2].is_atom()) {
        target = whereis(f[2].as_atom());
      } else {
        target = our_pid(f[2], "the monitored process");
      }
      if (p.operation() == op::demonitor_p) {
        {
          guard held(c.lock);
          c.name_monitors.erase(monitor);
        }
        if (target)
          deliver_local(
              runtime, *target,
              beamline::detail::make_control_signal(signal_kind::demonitor, from, monitor, 0));
        return;
      }
      if (f[2].is_atom()) {
        guard held(c.lock);
        c.name_monitors.emplace(monitor, f[2].as_atom());
      }
      if (target && deliver_local(runtime, *target,
                                  beamline::detail::make_control_signal(signal_kind::monitor, from,
                                                                        monitor, 0)))
        return;
      {
        guard held(c.lock);
        c.name_monitors.erase(monitor);
      }
      const term reason(atoms::noproc);
      d.enqueue(c, term::tuple({op::payload_monitor_p_exit, f[2], from, monitor}), &reason);
      return;
    }
    case op::monitor_p_exit:
    case op::payload_monitor_p_exit: {
      const ref monitor = packet_ref(f[3]);
      const pid to = our_pid(f[2], "the watcher");
      term reason = p.payload ? std::move(*p.payload) : f[4];
      pid from;
      {
        guard held(c.lock);
        auto found = c.monitors.find(monitor);
        if (found != c.monitors.end()) {
          from = found->second.remote;
          c.monitors.erase(found);
        }
      }
      if (f[1].is_pid()) from = peer_pid(c, f[1], "the monitored process");
      deliver_local(runtime, to, beamline::detail::make_down_signal(monitor, from, reason));
      return;
    }
    case op::group_leader:
      return;  // accepted; beamline processes have no group leader
    case op::spawn_request:
    case op::spawn_request_tt:
      spawn_requested(d, c, f, std::move(*p.payload));
      return;
    case op::spawn_reply:
    case op::spawn_reply_tt: {
      // {31, ReqId, To, Flags, Result}: the answer to a call's spawn request (call()).
      const ref request = packet_ref(f[1]);
      const pid to = our_pid(f[2], "the spawning process");
      if (f[4].is_pid()) {
        const pid spawned = peer_pid(c, f[4], "the spawned process");
        guard held(c.lock);
        if (auto found = c.monitors.find(request); found != c.monitors.end())
          found->second.remote = spawned;
        return;
      }
      {
        guard held(c.lock);
        c.monitors.erase(request);
      }
      deliver_local(runtime, to,
                    beamline::detail::make_down_signal(request, pid{},
                                                       term::tuple({atom("spawn_reply"), f[4]})));
      return;
    }
    default:
      throw wire::packet_error("unexpected control message " + p.control.to_string());
  }
}

// --- processes -----------------------------------------------------------------------

process writer_process(std::shared_ptr<connection>& c, int& fd) {
  auto adopted = net::tcp_socket::adopt(fd);
  distribution& d = *running();
  if (!adopted) {
    d.take_down(c, "the writer could not use the socket");
    co_return;
  }
  net::tcp_socket socket = std::move(*adopted);
  const auto tick_interval =
      std::chrono::duration_cast<std::chrono::milliseconds>(d.opts().net_ticktime) / 4;
  std::string batch;
  for (;;) {
    {
      guard held(c->lock);
      if (c->state == connection_state::down) co_return;
      batch.swap(c->out);
      c->out.clear();
      if (batch.empty()) c->writer_waiting = true;
    }
    if (batch.empty()) {
      bool quiet = false;
      co_await receive([](const writer_kick&) {}, after(tick_interval, [&] { quiet = true; }));
      if (quiet) {
        guard held(c->lock);
        c->writer_waiting = false;
        if (c->out.empty()) c->out.assign(4, '\0');  // a tick
      }
      continue;
    }
    auto written = co_await socket.write(batch);
    if (!written) {
      d.take_down(c, "writing failed: " + written.error().message());
      co_return;
    }
    batch.clear();
    if (batch.capacity() > (std::size_t{4} << 20)) std::string().swap(batch);
  }
}

// The reader's end, however it comes (an error, or a kill): the connection goes down.
struct reader_guard {
  std::shared_ptr<connection> c;
  std::string why = "the connection was closed";
  ~reader_guard() {
    if (distribution* d = running()) d->take_down(c, why);
  }
};

// connect_all: with `peer` newly up, this node connects to the visible nodes `peer` is
// connected to, and asks `peer` to connect to this node's others (through
// erlang:nodes/0 and net_kernel:connect_node/1, which Erlang nodes and this node both
// answer), so that every visible node of the two sides ends up connected to every
// other. A node that cannot be asked is left as it is.
process mesh_with(atom peer) {
  const std::chrono::milliseconds timeout = running()->opts().setup_time;
  std::vector<atom> theirs;
  try {
    const term listed = co_await call(peer, atom("erlang"), atom("nodes"), term::nil(), timeout);
    if (listed.is_proper_list())
      for (const term& n : listed.as_list())
        if (n.is_atom()) theirs.push_back(n.as_atom());
  } catch (const std::exception&) {
    co_return;  // gone, or not a node that answers erlang:nodes/0
  }
  for (atom n : theirs) running()->connection_for(n, true);
  for (atom n : running()->visible_nodes()) {
    if (n == peer || std::find(theirs.begin(), theirs.end(), n) != theirs.end()) continue;
    try {
      co_await call(peer, atom("net_kernel"), atom("connect_node"), term::list({n}), timeout);
    } catch (const std::exception&) {
      co_return;
    }
  }
}

// The rest of a handshake process's life once its handshake succeeded.
task<void> run_connection(std::shared_ptr<connection> c, net::tcp_socket& socket,
                          std::uint64_t peer_flags) {
  distribution& d = *running();
  const int writer_fd = ::fcntl(socket.native_handle(), F_DUPFD_CLOEXEC, 0);
  if (writer_fd < 0 || !d.make_up(c, peer_flags, socket.native_handle())) {
    if (writer_fd >= 0) ::close(writer_fd);
    co_return;
  }
  reader_guard on_end{c};
  {
    const pid writer = spawn(writer_process, c, writer_fd);
    guard held(c->lock);
    c->writer = writer;
  }
  d.notify_nodes(c->peer, true, term());
  if (d.opts().connect_all && !d.opts().hidden && (peer_flags & wire::flag::published) != 0)
    spawn(mesh_with, c->peer);
  wire::packet_reader reader(header_form(d.flags(), peer_flags), d.opts().max_message_size);
  // The packets are cut out of large reads here (one system call brings hundreds of
  // small packets), rather than read one by one.
  std::vector<char> input(std::size_t{256} << 10);
  std::size_t begin = 0, end = 0;
  const std::size_t max_message = d.opts().max_message_size;
  for (;;) {
    // Every complete packet in [begin, end).
    while (end - begin >= 4) {
      const auto* at = reinterpret_cast<const unsigned char*>(input.data() + begin);
      const std::size_t length = (std::size_t{at[0]} << 24) | (std::size_t{at[1]} << 16) |
                                 (std::size_t{at[2]} << 8) | at[3];
      if (length > max_message) {
        on_end.why = "a packet of " + std::to_string(length) + " bytes from " + name_of(c->peer) +
                     ", over the limit of " + std::to_string(max_message);
        log_line(on_end.why);
        co_return;
      }
      if (end - begin - 4 < length) {
        if (length + 4 > input.size()) {  // a large message: room for all of it
          std::vector<char> larger(length + 4);
          std::copy(input.begin() + static_cast<std::ptrdiff_t>(begin),
                    input.begin() + static_cast<std::ptrdiff_t>(end), larger.begin());
          input.swap(larger);
          end -= begin;
          begin = 0;
        }
        break;
      }
      const std::string_view body(input.data() + begin + 4, length);
      begin += 4 + length;
      if (body.empty()) continue;  // a tick
      try {
        if (std::optional<wire::packet> p = reader.read(body)) handle_packet(d, *c, *p);
      } catch (const std::exception& e) {
        on_end.why = std::string("bad packet from ") + name_of(c->peer) + ": " + e.what();
        log_line(on_end.why);
        co_return;
      }
    }
    if (begin == end) {
      begin = end = 0;
    } else if (begin > 0 && input.size() - end < 4096) {
      std::copy(input.begin() + static_cast<std::ptrdiff_t>(begin),
                input.begin() + static_cast<std::ptrdiff_t>(end), input.begin());
      end -= begin;
      begin = 0;
    }
    if (input.size() > (std::size_t{4} << 20) && end - begin < (std::size_t{256} << 10)) {
      std::vector<char> smaller(std::size_t{256} << 10);  // give a huge buffer back
      std::copy(input.begin() + static_cast<std::ptrdiff_t>(begin),
                input.begin() + static_cast<std::ptrdiff_t>(end), smaller.begin());
      input.swap(smaller);
      end -= begin;
      begin = 0;
    }
    auto received = co_await socket.read_some(
        std::span<char>(input.data() + end, input.size() - end), d.opts().net_ticktime);
    if (!received || *received == 0) {
      on_end.why = !received && received.error() == std::errc::timed_out
                       ? std::string("net_tick_timeout (nothing received for net_ticktime)")
                   : !received ? "reading failed: " + received.error().message()
                               : std::string("the peer closed the connection");
      co_return;
    }
    end += *received;
  }
}

net::framing handshake_framing() {
  net::framing f;
  f.header_bytes = 2;
  f.max_size = 65535;
  return f;
}

std::uint32_t random_challenge() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return static_cast<std::uint32_t>(generator());
}

// Whether two digests are equal, in time independent of where they differ.
bool same_digest(const wire::digest& a, const wire::digest& b) {
  unsigned diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

// A handshake's hold on its connection: unless dismissed (done), a handshake that
// ends while its connection is still connecting with it as the attempt takes the
// connection down (a failed handshake leaves nothing pending), saying why.
struct attempt_guard {
  distribution& d;
  std::shared_ptr<connection> c;
  pid me;
  std::string why;
  bool log = false;
  bool done = false;
  ~attempt_guard() {
    if (done) return;
    bool ours = false;
    {
      guard held(c->lock);
      ours = c->state == connection_state::connecting && c->attempt == me;
    }
    if (!ours) return;
    if (log) log_line("connection to " + name_of(c->peer) + " " + why);
    d.take_down(c, why);
  }
};

// An incoming connection: the acceptor's side of the handshake, then the connection.
process accept_handshake(net::tcp_socket& socket) {
  distribution& d = *running();
  const auto timeout = d.opts().setup_time;
  const std::string peer_address =
      socket.peer_address() ? socket.peer_address()->to_string() : std::string("?");
  socket.set_framing(handshake_framing());
  auto refuse = [&](const std::string& why) {
    log_line("connection attempt from " + peer_address + " refused: " + why);
  };
  auto first = co_await socket.read_packet(timeout);
  if (!first) co_return;  // a port scan, or a peer that never spoke
  std::optional<wire::name_message> name = wire::parse_name(*first);
  if (!name) co_return refuse("not a handshake name message");
  const std::string missing = wire::missing_mandatory(name->flags);
  if (!name->old_form && !missing.empty()) {
    (void)co_await socket.write_packet(wire::make_status("not_allowed"), timeout);
    co_return refuse(name->name + " cannot handle [" + missing + "]");
  }
  if (name->name.size() > 255 || name->name.find('@') == std::string::npos) {
    (void)co_await socket.write_packet(wire::make_status("not_allowed"), timeout);
    co_return refuse("not a node name: " + name->name);
  }
  const atom peer(name->name);
  std::shared_ptr<connection> c;
  const std::string status = d.claim_incoming(peer, self(), c);
  if (!co_await socket.write_packet(wire::make_status(status), timeout)) co_return;
  if (status == "nok") co_return;
  if (status == "alive") {
    // The peer reconnects while we think it is connected: it says whether the old
    // connection is dead (true: replace it).
    auto answer = co_await socket.read_packet(timeout);
    if (!answer || *answer != "strue") co_return;
    d.take_down(c, "the peer reconnected");
    const std::string again = d.claim_incoming(peer, self(), c);
    if (again != "ok") co_return;
  }
  // From here, failing must not leave our claimed connection pending.
  attempt_guard claim{d, c, self(), "the handshake failed", false};
  const std::uint32_t challenge = random_challenge();
  if (!co_await socket.write_packet(
          wire::make_challenge(d.flags(), challenge, d.creation(), d.self_text()), timeout))
    co_return;
  std::uint64_t peer_flags = name->flags;
  if (name->old_form) {
    auto complement = co_await socket.read_packet(timeout);
    if (!complement) co_return;
    auto parsed = wire::parse_complement(*complement);
    if (!parsed) co_return refuse("a bad complement message from " + name->name);
    peer_flags |= std::uint64_t{parsed->flags_high} << 32;
    const std::string still_missing = wire::missing_mandatory(peer_flags);
    if (!still_missing.empty())
      co_return refuse(name->name + " cannot handle [" + still_missing + "]");
  }
  auto reply_bytes = co_await socket.read_packet(timeout);
  if (!reply_bytes) co_return refuse("no challenge reply from " + name->name);
  auto reply = wire::parse_reply(*reply_bytes);
  if (!reply) co_return refuse("a malformed challenge reply from " + name->name);
  if (!same_digest(reply->answer, wire::make_digest(challenge, d.cookie())))
    co_return refuse("node " + name->name + " has the wrong cookie");
  if (!co_await socket.write_packet(wire::make_ack(wire::make_digest(reply->challenge, d.cookie())),
                                    timeout))
    co_return;
  claim.done = true;
  co_await run_connection(c, socket, peer_flags);
}

// An outgoing connection: the initiator's side of the handshake, then the connection.
process connect_handshake(std::shared_ptr<connection>& c) {
  distribution& d = *running();
  const auto timeout = d.opts().setup_time;
  const std::string peer = name_of(c->peer);
  {
    guard held(c->lock);
    if (c->state != connection_state::connecting || !c->attempt.is_null()) co_return;
    c->attempt = self();
    c->attempt_outgoing = true;
  }
  attempt_guard on_fail{d, c, self(), "could not be made", true};

  const std::size_t at = peer.find('@');
  const std::string alive = peer.substr(0, at);
  const std::string host = peer.substr(at + 1);
  std::optional<net::address> address;
  if (auto parsed = net::address::parse(host, 0)) {
    address = *parsed;
  } else {
    auto found = co_await net::resolve(host, 0);
    if (found && !found->empty()) address = found->front();
  }
  if (!address) {
    on_fail.why = "failed: host " + host + " not found";
    co_return;
  }
  std::uint16_t port = d.opts().port_min;
  if (d.opts().epmd) {
    auto looked_up =
        co_await wire::epmd_port_please(address->with_port(d.opts().epmd_port), alive, timeout);
    if (!looked_up) {
      on_fail.why = "failed: EPMD on " + host + " does not know " + alive;
      co_return;
    }
    port = *looked_up;
  }
  auto connected = co_await net::tcp_socket::connect(address->with_port(port), timeout);
  if (!connected) {
    on_fail.why = "failed: " + connected.error().message();
    co_return;
  }
  net::tcp_socket& socket = *connected;
  (void)socket.set_nodelay(true);
  socket.set_framing(handshake_framing());
  if (!co_await socket.write_packet(wire::make_name(d.flags(), d.creation(), d.self_text()),
                                    timeout))
    co_return;
  auto status_bytes = co_await socket.read_packet(timeout);
  std::optional<std::string> status =
      status_bytes ? wire::parse_status(*status_bytes) : std::nullopt;
  if (!status) {
    on_fail.why = "failed: no status from the peer";
    co_return;
  }
  if (*status == "nok") {
    // Simultaneous connects, and the peer's own attempt wins: it will arrive as an
    // incoming handshake and take this connection over. Give it the set-up time.
    on_fail.done = true;
    co_await sleep(timeout);
    bool still = false;
    {
      guard held(c->lock);
      still = c->state == connection_state::connecting &&
              (c->attempt.is_null() || c->attempt == self());
    }
    if (still) d.take_down(c, "the peer's simultaneous attempt did not complete");
    co_return;
  }
  if (*status == "alive") {
    if (!co_await socket.write_packet(wire::make_status("true"), timeout)) co_return;
  } else if (*status != "ok" && *status != "ok_simultaneous") {
    on_fail.why = "refused by the peer: " + *status;
    co_return;
  }
  auto challenge_bytes = co_await socket.read_packet(timeout);
  if (!challenge_bytes) {
    on_fail.why = "failed: no challenge from the peer";
    co_return;
  }
  auto challenge = wire::parse_challenge(*challenge_bytes);
  if (!challenge) {
    on_fail.why = "failed: a malformed challenge";
    co_return;
  }
  if (challenge->name != peer) {
    on_fail.why = "failed: the peer is " + challenge->name;
    co_return;
  }
  const std::string missing = wire::missing_mandatory(challenge->flags);
  if (!missing.empty()) {
    on_fail.why = "failed: the peer cannot handle [" + missing + "]";
    co_return;
  }
  const std::uint32_t mine = random_challenge();
  if (!co_await socket.write_packet(
          wire::make_reply(mine, wire::make_digest(challenge->challenge, d.cookie())), timeout))
    co_return;
  auto ack_bytes = co_await socket.read_packet(timeout);
  if (!ack_bytes) {
    on_fail.why = "failed: the peer closed the connection during the handshake (a wrong cookie?)";
    co_return;
  }
  auto ack = wire::parse_ack(*ack_bytes);
  if (!ack || !same_digest(*ack, wire::make_digest(mine, d.cookie()))) {
    on_fail.why = "failed: the peer has the wrong cookie";
    co_return;
  }
  on_fail.done = true;
  co_await run_connection(c, socket, challenge->flags);
}

process acceptor_process(int& listen_fd) {
  auto listener = net::tcp_listener::adopt(listen_fd);
  if (!listener) {
    log_line("cannot accept connections: " + listener.error().message());
    co_return;
  }
  for (;;) {
    auto accepted = co_await listener->accept();
    if (!accepted) continue;  // EMFILE and the like: the listener stays usable
    (void)accepted->set_nodelay(true);
    spawn(accept_handshake, std::move(*accepted));
  }
}

// Appends Erlang chardata (code points, binaries, nested lists of them) to `out` as
// UTF-8; false for anything else.
bool append_chardata(const term& data, std::string& out, int depth = 0) {
  if (depth > 100) return false;
  if (data.is_binary()) {
    out += data.as_binary();
    return true;
  }
  if (data.is_integer()) {
    const std::int64_t c = data.as_int();
    if (c < 0 || !beamline::detail::utf8::is_scalar_value(static_cast<char32_t>(c))) return false;
    beamline::detail::utf8::append(out, static_cast<char32_t>(c));
    return true;
  }
  if (!data.is_list()) return false;
  for (const term& piece : data.as_list())
    if (!append_chardata(piece, out, depth + 1)) return false;
  return true;
}

// Writes an io request's characters to stdout.
bool print_chars(const term& chars) {
  std::string text;
  if (!append_chardata(chars, text)) return false;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return true;
}

// An Erlang io request {io_request, From, ReplyAs, Request} from a process of another
// node whose group leader is net_kernel (the processes this node's calls spawn):
// put_chars is printed on stdout; a formatted one ({put_chars, [Encoding,] M, F, A},
// as io:format sends) is formatted by calling M:F(A...) on the requester's own node,
// where the format's module lives. Anything else is refused.
process io_request_process(term request) {
  const pid from = request[1].as_pid();
  const term& what = request[3];
  term reply = term::tuple({atoms::error, atom("request")});
  if (what.is_tuple() && what[0] == term(atom("put_chars"))) {
    if (what.size() == 2 || what.size() == 3) {
      if (print_chars(what[what.size() - 1])) reply = atoms::ok;
    } else if (const std::size_t m = what.size() - 3;  // {put_chars, [Encoding,] M, F, A}
               (what.size() == 4 || what.size() == 5) && what[m].is_atom() &&
               what[m + 1].is_atom() && what[m + 2].is_proper_list()) {
      try {
        const term chars = co_await call(atom::from_index(from.node), what[m].as_atom(),
                                         what[m + 1].as_atom(), what[m + 2]);
        if (print_chars(chars)) reply = atoms::ok;
      } catch (const std::exception&) {
        reply = term::tuple({atoms::error, atom("format")});
      }
    }
  }
  send(from, term::tuple({atom("io_reply"), request[2], reply}));
}

process net_kernel_process() {
  register_name(atom("net_kernel"), self());
  const atom is_auth("is_auth");
  for (;;) {
    co_await receive(
        [](connect_request r) { spawn(connect_handshake, std::move(r.c)); },
        [&](const term& t) {
          // {io_request, From, ReplyAs, Request}: net_kernel is the group leader of the
          // processes this node's calls spawn on other nodes; their output is printed.
          if (t.is_tuple() && t.size() == 4 && t[0] == term(atom("io_request")) && t[1].is_pid() &&
              !t[1].as_pid().is_local()) {
            spawn(io_request_process, t);
            return;
          }
          // {'$gen_call', {From, Tag}, Request}
          if (!(t.is_tuple() && t.size() == 3 && t[0] == term(atoms::gen_call) && t[1].is_tuple() &&
                t[1].size() == 2 && t[1][0].is_pid()))
            return;
          const term& request = t[2];
          term reply =
              request.is_tuple() && request.size() == 2 && request[0] == term(is_auth)
                  ? term(atoms::yes)
                  : term::tuple({atoms::error, term::tuple({atom("unsupported"), request})});
          send(t[1][0].as_pid(), term::tuple({t[1][1], reply}));
        });
  }
}

process rex_process() {
  register_name(atom("rex"), self());
  const atom features_request("features_request");
  for (;;) {
    co_await receive([&](const term& t) {
      if (t.is_tuple() && t.size() == 2 && t[0].is_pid() && t[1] == term(features_request))
        send(t[0].as_pid(),
             term::tuple({atom("features_reply"), running()->self_name(), term::nil()}));
    });
  }
}

// --- start --------------------------------------------------------------------------

// erlang:nodes/0,1 as erlang answers it: [] or [Kind] with Kind visible, hidden,
// connected, this or a list of them.
term nodes_builtin(const term& args) {
  distribution& d = *running();
  // The one argument, if any: a kind or a list of kinds.
  std::vector<term> kinds;
  if (args.is_proper_list() && !args.is_nil()) {
    const term kind = *args.as_list().begin();
    if (kind.is_proper_list()) {
      for (const term& k : kind.as_list()) kinds.push_back(k);
    } else {
      kinds.push_back(kind);
    }
  } else {
    kinds.push_back(atom("visible"));
  }
  bool visible = false, hidden = false, own = false;
  for (const term& k : kinds) {
    if (k == term(atom("visible"))) {
      visible = true;
    } else if (k == term(atom("hidden"))) {
      hidden = true;
    } else if (k == term(atom("connected"))) {
      visible = hidden = true;
    } else if (k == term(atom("this"))) {
      own = true;
    } else if (k != term(atom("known"))) {
      throw error(atoms::badarg, "erlang:nodes: not a kind of node: " + k.to_string());
    }
  }
  std::vector<term> out;
  if (own) out.push_back(d.self_name());
  for (atom n : d.connected_nodes(visible, hidden)) out.push_back(n);
  return term::list(out);
}

// The functions every node answers over erpc besides the exported ones: what
// connect_all asks (erlang:nodes/0,1 and net_kernel:connect_node/1, which starts a
// connection and answers true at once rather than when it is up).
void export_builtins() {
  export_function("erlang", "nodes", nodes_builtin);
  export_function("net_kernel", "connect_node", [](const term& args) -> term {
    const term& node = args.is_proper_list() && !args.is_nil() ? *args.as_list().begin() : args;
    if (!node.is_atom()) throw error(atoms::badarg, "net_kernel:connect_node: " + node.to_string());
    return term(atom(running()->connection_for(node.as_atom(), true) != nullptr ||
                             node.as_atom() == running()->self_name()
                         ? "true"
                         : "false"));
  });
}

std::string host_name(bool short_name) {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "localhost";
  std::string host(buffer);
  if (short_name) host = host.substr(0, host.find('.'));
  return host;
}

std::string read_or_create_cookie() {
  const char* home = std::getenv("HOME");
  if (home == nullptr) throw std::runtime_error("no --cookie and no HOME for ~/.erlang.cookie");
  const std::string path = std::string(home) + "/.erlang.cookie";
  std::ifstream in(path);
  if (in) {
    std::string cookie;
    std::getline(in, cookie);
    while (!cookie.empty() && std::isspace(static_cast<unsigned char>(cookie.back())))
      cookie.pop_back();
    if (cookie.empty()) throw std::runtime_error(path + " is empty");
    return cookie;
  }
  std::string cookie;
  std::random_device random;
  for (int i = 0; i < 20; ++i) cookie.push_back(static_cast<char>('A' + random() % 26));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
  if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  const bool written =
      ::write(fd, cookie.data(), cookie.size()) == static_cast<ssize_t>(cookie.size());
  ::close(fd);
  if (!written) throw std::runtime_error("cannot write " + path);
  return cookie;
}

// A listening socket on the first free port of the range (any port for 0).
int listen_on(std::uint16_t low, std::uint16_t high, std::uint16_t& port) {
  if (high < low) high = low;
  for (std::uint32_t p = low; p <= high; ++p) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(static_cast<std::uint16_t>(p));
    at.sin_addr.s_addr = htonl(INADDR_ANY);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0 && ::listen(fd, 128) == 0) {
      socklen_t length = sizeof at;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&at), &length);
      port = ntohs(at.sin_port);
      return fd;
    }
    ::close(fd);
  }
  throw std::runtime_error("no free port for distribution in " + std::to_string(low) + "-" +
                           std::to_string(high));
}

}  // namespace

std::optional<options> options::from_args(int argc, char** argv) {
  options o;
  bool named = false;
  if (const char* env = std::getenv("ERL_EPMD_PORT"))
    o.epmd_port = static_cast<std::uint16_t>(std::atoi(env));
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) throw std::invalid_argument(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  auto number = [&](const std::string& flag, const std::string& text, long low, long high) {
    char* end = nullptr;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (end == text.c_str() || *end != '\0' || v < low || v > high)
      throw std::invalid_argument(flag + ": not a number from " + std::to_string(low) + " to " +
                                  std::to_string(high) + ": " + text);
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--name" || arg == "--sname") {
      o.name = value(i);
      o.short_names = arg == "--sname";
      named = true;
    } else if (arg == "--cookie") {
      o.cookie = value(i);
    } else if (arg == "--dist-port") {
      const std::string v = value(i);
      const std::size_t dash = v.find('-');
      o.port_min = static_cast<std::uint16_t>(number(arg, v.substr(0, dash), 1, 65535));
      o.port_max = dash == std::string::npos
                       ? o.port_min
                       : static_cast<std::uint16_t>(number(arg, v.substr(dash + 1), 1, 65535));
    } else if (arg == "--no-epmd") {
      o.epmd = false;
    } else if (arg == "--hidden") {
      o.hidden = true;
    } else if (arg == "--no-connect-all") {
      o.connect_all = false;
    } else if (arg == "--net-ticktime") {
      o.net_ticktime = std::chrono::seconds(number(arg, value(i), 1, 86400));
    }
  }
  if (!named) return std::nullopt;
  return o;
}

void start(node& n, const options& given) {
  if (running() != nullptr) throw std::runtime_error("distribution is already started");
  options o = given;
  if (o.name.empty()) throw std::invalid_argument("dist::start: a node needs a name");
  std::string full = o.name;
  if (full.find('@') == std::string::npos) full += "@" + host_name(o.short_names);
  const std::string alive = full.substr(0, full.find('@'));
  if (alive.empty() || full.size() > 255)
    throw std::invalid_argument("dist::start: not a node name: " + full);
  if (!o.epmd && o.port_min == 0)
    throw std::invalid_argument("dist::start: --no-epmd needs a fixed --dist-port");
  std::string cookie = o.cookie ? *o.cookie : read_or_create_cookie();

  std::uint16_t port = 0;
  const int listen_fd = listen_on(o.port_min, o.port_max, port);
  std::uint32_t creation = 0;
  if (o.epmd) {
    auto attempt = [&] {
      return wire::epmd_register(o.epmd_port, alive, port, o.hidden, std::chrono::seconds(5));
    };
    wire::epmd_register_result r = attempt();
    if (r.status == wire::epmd_register_status::unreachable) {
      std::string problem;
      if (!wire::start_epmd_daemon(o.epmd_port, problem)) {
        ::close(listen_fd);
        throw std::runtime_error("no EPMD on port " + std::to_string(o.epmd_port) +
                                 " and none could be started: " + problem);
      }
      for (int tries = 0; tries < 50 && r.status == wire::epmd_register_status::unreachable;
           ++tries) {
        r = attempt();
        if (r.status == wire::epmd_register_status::unreachable) ::usleep(20'000);
      }
    }
    if (r.status != wire::epmd_register_status::registered) {
      ::close(listen_fd);
      throw std::runtime_error("cannot register " + full + " with EPMD: " + r.problem);
    }
    creation = r.registration.creation;
    // The registration socket stays open (and registered) for the process's life.
  } else {
    std::random_device random;
    while (creation == 0) creation = random();
  }
  set_local_node_identity(atom(full), creation);
  auto* d = new distribution(n.runtime(), o, full, std::move(cookie), creation);
  the_distribution.store(d, std::memory_order_release);
  n.runtime().set_transport(d);
  export_builtins();
  d->set_net_kernel(n.spawn(net_kernel_process));
  n.spawn(rex_process);
  n.spawn(acceptor_process, listen_fd);
}

atom node_name() {
  distribution* d = running();
  return d != nullptr ? d->self_name() : atom("nonode@nohost");
}

std::vector<atom> nodes() {
  distribution* d = running();
  return d != nullptr ? d->visible_nodes() : std::vector<atom>{};
}

task<bool> connect_node(atom node) {
  distribution* d = running();
  if (d == nullptr) co_return false;
  if (node == d->self_name()) co_return true;
  const auto deadline =
      std::chrono::steady_clock::now() + d->opts().setup_time + std::chrono::seconds(1);
  for (;;) {
    std::shared_ptr<connection> c = d->connection_for(node, true);
    if (!c) co_return false;
    connection_state state;
    {
      guard held(c->lock);
      state = c->state;
    }
    if (state == connection_state::up) co_return true;
    if (state == connection_state::down || std::chrono::steady_clock::now() > deadline)
      co_return false;
    co_await sleep(std::chrono::milliseconds(2));
  }
}

bool disconnect_node(atom node) {
  distribution* d = running();
  if (d == nullptr) return false;
  std::shared_ptr<connection> c = d->connection_for(node, false);
  if (!c) return false;
  d->take_down(c, "disconnect_node");
  return true;
}

void send(atom name, atom node, term message) {
  distribution* d = running();
  if (d == nullptr || node == d->self_name()) {
    if (auto to = whereis(name)) beamline::send(*to, std::move(message));
    return;
  }
  std::shared_ptr<connection> c = d->connection_for(node, true);
  if (!c) return;
  const pid from = beamline::detail::this_thread.process != nullptr ? self() : d->net_kernel();
  d->enqueue(*c, term::tuple({op::reg_send, from, atom(""), name}), &message);
}

task<term> call(atom node, atom module, atom function, term arguments,
                std::chrono::milliseconds timeout) {
  distribution* d = running();
  const atom erpc("erpc");
  auto erpc_error = [&](const char* what) {
    return error(term::tuple({erpc, atom(what)}),
                 std::string("dist::call to ") + std::string(node.name()) + ": " + what);
  };
  if (d == nullptr) throw erpc_error("noconnection");
  if (!arguments.is_proper_list())
    throw error(term::tuple({erpc, atoms::badarg}), "dist::call: the arguments are not a list");
  std::shared_ptr<connection> c = d->connection_for(node, true);
  if (!c) throw erpc_error("noconnection");
  beamline::detail::process_control& me = beamline::detail::current_process("dist::call");
  const pid caller = self();
  const ref request = make_ref();
  const ref result = make_ref();
  beamline::detail::expect_down(me, request, pid{});
  {
    guard held(c->lock);
    c->monitors.emplace(request, link_pair{caller, pid{}});
  }
  // The group leader of the remote process is net_kernel, which answers its output
  // requests (io:format prints on this node's stdout).
  const term control =
      term::tuple({op::spawn_request, request, caller, d->net_kernel(),
                   term::tuple({erpc, atom("execute_call"), 4}), term::list({atom("monitor")})});
  const term args = term::list({result, module, function, arguments});
  if (!d->enqueue(*c, control, &args)) {
    beamline::detail::request_demonitor(me, request);
    throw erpc_error("noconnection");
  }
  std::optional<term> reason;
  co_await receive(when([&](const down_message& m) { return m.monitor == request; },
                        [&](down_message m) { reason = std::move(m.reason); }),
                   after(timeout, [] {}));
  if (!reason) {
    beamline::detail::request_demonitor(me, request);
    guard held(c->lock);
    c->monitors.erase(request);
    throw erpc_error("timeout");
  }
  const term& r = *reason;
  if (r.is_tuple() && r.size() >= 3 && r[0] == term(result)) {
    if (r[1] == term(atom("return"))) co_return r[2];
    if (r[1] == term(atoms::error) && r.size() == 4)
      throw error(r[2], "dist::call: " + std::string(module.name()) + ":" +
                            std::string(function.name()) + " raised " + r[2].to_string());
    if (r[1] == term(atoms::error))  // {Res, error, {erpc, Reason}}
      throw error(r[2], "dist::call: " + r[2].to_string());
    throw error(term::tuple({r[1], r[2]}), "dist::call: " + std::string(module.name()) + ":" +
                                               std::string(function.name()) + " ended with " +
                                               term::tuple({r[1], r[2]}).to_string());
  }
  if (r.is_tuple() && r.size() == 2 && r[0] == term(atom("spawn_reply")))
    throw error(term::tuple({erpc, r[1]}), "dist::call: the spawn failed: " + r[1].to_string());
  if (r == term(atoms::noconnection)) throw erpc_error("noconnection");
  throw error(term::tuple({atom("signal"), r}),
              "dist::call: the call's process ended with " + r.to_string());
}

void export_function(std::string_view module, std::string_view function, exported_function f) {
  exports().put(atom(module), atom(function), std::move(f));
}

void monitor_nodes(bool on) {
  distribution* d = running();
  if (d != nullptr) d->watch_nodes(self(), on);
}

void monitor_node(atom node, bool on) {
  distribution* d = running();
  const pid me = self();
  std::shared_ptr<connection> c = d != nullptr ? d->connection_for(node, on) : nullptr;
  if (!c) {
    if (on && (d == nullptr || node != d->self_name()))
      beamline::send(me, term::tuple({atom("nodedown"), node}));
    return;
  }
  guard held(c->lock);
  if (on) {
    c->node_watchers.push_back(me);
  } else if (auto found = std::find(c->node_watchers.begin(), c->node_watchers.end(), me);
             found != c->node_watchers.end()) {
    c->node_watchers.erase(found);
  }
}

}  // namespace beamline::dist
