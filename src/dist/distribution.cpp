// distribution.cpp: this node as a node of an Erlang cluster (beamline/dist.hpp): the
// connection table, the packets each signal becomes and each packet's signal, the
// reader, writer and handshake processes, and start. What each part does and the
// locks: distribution.hpp.
#include "dist/distribution.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "beamline/net/resolve.hpp"
#include "dist/epmd_client.hpp"

namespace beamline::dist::internal {

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
    c->peer_aliases = (peer_flags & wire::flag::alias) != 0;
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
    c->drained.notify_all();  // senders waiting for the queue to drain
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

bool distribution::enqueue(connection& c, const term& control, const term* payload,
                           bool* over_limit) {
  pid kick;
  {
    guard held(c.lock);
    if (c.state == connection_state::down) return false;
    wire::append_packet(c.out, c.format, control, payload);
    carried.messages_out.fetch_add(1, std::memory_order_relaxed);
    if (c.writer_waiting) {
      c.writer_waiting = false;
      kick = c.writer;
    }
    if (over_limit != nullptr)
      *over_limit = options_.send_buffer_limit != 0 && c.out.size() > options_.send_buffer_limit;
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
    case signal_kind::alias_message: {
      const auto& e = beamline::detail::payload_of<beamline::detail::alias_envelope>(s);
      const signal* inner = e.message;
      if (!c.peer_aliases) return false;  // as Erlang, to a node without ALIAS
      if (inner->type->to_term == nullptr) {
        log_line("a message of type " + beamline::detail::type_name(*inner->type->payload) +
                 " to alias " + e.alias.to_string() + " on " + name_of(c.peer) +
                 " was dropped: only terms, and values that convert to terms, cross nodes");
        return false;
      }
      const term message = inner->type->to_term(inner);
      const pid from = beamline::detail::this_thread.process != nullptr ? self() : d.net_kernel();
      wire::append_packet(packet, c.format, term::tuple({op::alias_send, from, e.alias}), &message);
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

// Back-pressure (options::send_buffer_limit): a process's own send that left more
// than the limit queued waits here, on its thread, once its worker has gone to a
// spare, until the writer takes the queue or the connection goes down.
void distribution::wait_to_drain(connection& c) noexcept {
  {
    guard held(c.lock);
    if (c.out.size() <= options_.send_buffer_limit || c.state == connection_state::down) return;
  }
  if (beamline::detail::this_thread.process == nullptr || !runtime_.scheduler().hand_off_to_block())
    return;
  beamline::detail::unique_lock held(c.lock);
  ++c.draining_senders;
  while (c.out.size() > options_.send_buffer_limit && c.state != connection_state::down)
    c.drained.wait_for(held, std::chrono::milliseconds(100));
  --c.draining_senders;
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
  bool queued = false, over_limit = false;
  pid kick;
  try {
    guard held(c->lock);
    if (c->state != connection_state::down) {
      queued = true;
      if (encode_signal(*this, *c, to, s, packet)) {
        c->out += packet;
        carried.messages_out.fetch_add(1, std::memory_order_relaxed);
        if (c->writer_waiting) {
          c->writer_waiting = false;
          kick = c->writer;
        }
        over_limit = options_.send_buffer_limit != 0 && c->out.size() > options_.send_buffer_limit;
      }
    }
  } catch (const std::exception& e) {
    log_line(std::string("a signal to ") + to.to_string() + " could not be encoded: " + e.what());
  }
  beamline::detail::destroy(s);
  kick_writer(runtime_, kick);
  if (over_limit) wait_to_drain(*c);
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

void handle_packet(distribution& d, connection& c, wire::packet& p) {
  node_runtime& runtime = d.runtime();
  const std::span<const term> f = p.control.elements();
  switch (p.operation()) {
    case op::send:
    case op::send_tt:
    case op::send_sender:
    case op::send_sender_tt: {
      const pid to = our_pid(f[2], "the addressee");
      deliver_term(runtime, to, std::move(*p.payload));
      return;
    }
    case op::alias_send:
    case op::alias_send_tt: {
      peer_pid(c, f[1], "the sender");
      deliver_term_to_alias(runtime, packet_ref(f[2]), std::move(*p.payload));
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
      if (c->draining_senders > 0) c->drained.notify_all();
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
    d.carried.bytes_out.fetch_add(batch.size(), std::memory_order_relaxed);
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
        if (std::optional<wire::packet> p = reader.read(body)) {
          d.carried.messages_in.fetch_add(1, std::memory_order_relaxed);
          handle_packet(d, *c, *p);
        }
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
    d.carried.bytes_in.fetch_add(*received, std::memory_order_relaxed);
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

// A name for a peer that asked for one: 13 random base-36 digits at its host.
std::string dynamic_node_name(const std::string& host) {
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::uint64_t n = (std::uint64_t{random_challenge()} << 32) | random_challenge();
  std::string name;
  for (int i = 0; i < 13; ++i, n /= 36) name.push_back(digits[n % 36]);
  return name + "@" + host;
}

// A creation for such a peer: random, and never one of the small values that meant
// "no creation" before BIG_CREATION.
std::uint32_t dynamic_creation() {
  std::uint32_t c = 0;
  while (c < 4) c = random_challenge();
  return c;
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
  // A peer started without a name (`erl -name undefined@host`) sends only its host and
  // NAME_ME: the acceptor names it (a random name at that host) and gives it a
  // creation, as net_kernel does.
  const bool dynamic = !name->old_form && (name->flags & wire::flag::name_me) != 0;
  const bool has_at = name->name.find('@') != std::string::npos;
  if (name->name.size() > 200 || has_at == dynamic) {
    (void)co_await socket.write_packet(wire::make_status("not_allowed"), timeout);
    co_return refuse("not a node name: " + name->name);
  }
  const atom peer(dynamic ? dynamic_node_name(name->name) : name->name);
  if (dynamic) name->name = std::string(peer.name());
  std::shared_ptr<connection> c;
  const std::string status = d.claim_incoming(peer, self(), c);
  const std::string status_message = dynamic && status == "ok"
                                         ? wire::make_named_status(peer.name(), dynamic_creation())
                                         : wire::make_status(status);
  if (!co_await socket.write_packet(status_message, timeout)) co_return;
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
  // To a peer we named, NAME_ME in place of PUBLISHED, as net_kernel answers: the
  // peer checks that the flags both sides keep still say its name was given.
  const std::uint64_t our_flags =
      dynamic ? (d.flags() & ~wire::flag::published) | wire::flag::name_me : d.flags();
  if (!co_await socket.write_packet(
          wire::make_challenge(our_flags, challenge, d.creation(), d.self_text()), timeout))
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
    // The peer has a connection to this node already. As net_kernel's is_pending:
    // "true" (replace it: that one is dead on this side) only while this attempt
    // still owns the pending connection; when the peer's own attempt has made the
    // connection meanwhile, "false", and that connection stays.
    bool pending = false;
    {
      guard held(c->lock);
      pending = c->state == connection_state::connecting && c->attempt == self();
    }
    if (!pending) {
      on_fail.done = true;
      (void)co_await socket.write_packet(wire::make_status("false"), timeout);
      co_return;
    }
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

}  // namespace beamline::dist::internal

namespace beamline::dist {

using namespace internal;

namespace {

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
    } else if (arg == "--dist-buffer") {
      o.send_buffer_limit = static_cast<std::size_t>(number(arg, value(i), 0, 1L << 40));
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
  if (full.find('@') == std::string::npos) full.append("@").append(host_name(o.short_names));
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
  n.spawn(global_name_server_process);
  n.spawn(acceptor_process, listen_fd);
}

atom node_name() {
  distribution* d = running();
  return d != nullptr ? d->self_name() : atom("nonode@nohost");
}

traffic total_traffic() {
  distribution* d = running();
  if (d == nullptr) return {};
  constexpr auto relaxed = std::memory_order_relaxed;
  return {d->carried.bytes_in.load(relaxed), d->carried.bytes_out.load(relaxed),
          d->carried.messages_in.load(relaxed), d->carried.messages_out.load(relaxed)};
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
  bool over_limit = false;
  if (d->enqueue(*c, term::tuple({op::reg_send, from, atom(""), name}), &message, &over_limit) &&
      over_limit)
    d->wait_to_drain(*c);
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
