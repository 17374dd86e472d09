// epmd_server.cpp: the poll loop, the request parsers and the node table of
// beamline-epmd (the design and the invariants are in epmd_server.hpp).
#include "epmd_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <string_view>
#include <utility>

namespace beamline::epmd {

namespace {

// A NAMES or DUMP reply is produced this much at a time.
constexpr std::size_t listing_chunk_bytes = 16 * 1024;
// After accept() fails for lack of descriptors, the listener rests this long.
constexpr std::chrono::milliseconds listener_pause{100};
// Descriptors kept for the listener and the standard streams.
constexpr std::size_t reserved_descriptors = 16;

std::uint16_t read_u16(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  return static_cast<std::uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}

void append_u16(std::string& out, std::uint16_t value) {
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value & 0xff));
}

void append_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((value >> shift) & 0xff));
}

// Well-formed UTF-8 without NUL: what epmd accepts as a node name.
bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_bytes) return false;
  std::size_t i = 0;
  while (i < name.size()) {
    const auto lead = static_cast<unsigned char>(name[i]);
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if (lead == 0) return false;
    if (lead < 0x80) {
      length = 1;
      code_point = lead;
    } else if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code_point = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code_point = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > name.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto continuation = static_cast<unsigned char>(name[i + k]);
      if ((continuation & 0xc0) != 0x80) return false;
      code_point = code_point << 6 | (continuation & 0x3f);
    }
    constexpr std::uint32_t shortest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < shortest[length] || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff))
      return false;
    i += length;
  }
  return true;
}

// As epmd: a peer on a loopback address, or one that connected to this host's own
// address from that same address.
bool is_local_peer(int socket) {
  sockaddr_in peer{};
  sockaddr_in local{};
  socklen_t peer_length = sizeof peer;
  socklen_t local_length = sizeof local;
  if (getpeername(socket, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0 ||
      getsockname(socket, reinterpret_cast<sockaddr*>(&local), &local_length) != 0 ||
      peer.sin_family != AF_INET)
    return false;
  const std::uint32_t peer_address = ntohl(peer.sin_addr.s_addr);
  return (peer_address & 0xff000000u) == 0x7f000000u ||
         peer.sin_addr.s_addr == local.sin_addr.s_addr;
}

bool set_non_blocking(int socket) {
  const int flags = fcntl(socket, F_GETFL, 0);
  return flags >= 0 && fcntl(socket, F_SETFL, flags | O_NONBLOCK) == 0;
}

// Raises the soft descriptor limit towards what wanted connections need and
// returns how many connections the limit then allows.
std::size_t connections_allowed_by_descriptor_limit(std::size_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return wanted;
  const rlim_t needed = static_cast<rlim_t>(wanted + reserved_descriptors);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed) return wanted;
  const auto available = static_cast<std::size_t>(limit.rlim_cur);
  return available > 2 * reserved_descriptors ? available - reserved_descriptors
                                              : reserved_descriptors;
}

}  // namespace

int open_listening_socket(in_addr address, std::uint16_t port) {
  const int listening = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listening < 0) return -1;
  const int on = 1;
  sockaddr_in bound{};
  bound.sin_family = AF_INET;
  bound.sin_port = htons(port);
  bound.sin_addr = address;
  if (setsockopt(listening, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      bind(listening, reinterpret_cast<const sockaddr*>(&bound), sizeof bound) != 0 ||
      listen(listening, SOMAXCONN) != 0 || !set_non_blocking(listening)) {
    const int error = errno;
    ::close(listening);
    errno = error;
    return -1;
  }
  return listening;
}

server::server(int listening_socket, std::uint16_t port, server_options options)
    : listening_socket_(listening_socket),
      port_(port),
      options_(options),
      creation_counter_(std::random_device{}()) {
  options_.max_connections =
      std::max<std::size_t>(1, connections_allowed_by_descriptor_limit(options_.max_connections));
}

server::~server() {
  for (const auto& [socket, client] : connections_) ::close(socket);
  ::close(listening_socket_);
}

bool server::run() {
  std::vector<pollfd> polled;
  std::vector<std::uint64_t> polled_sequences;
  while (!stopping_) {
    const auto now = clock::now();
    // Deadlines first: a connection past its deadline is dropped unpolled.
    std::vector<int> expired;
    for (const auto& [socket, client] : connections_)
      if (client.state != connection_state::registered && client.deadline <= now)
        expired.push_back(socket);
    for (const int socket : expired) close_connection(socket);

    polled.clear();
    polled_sequences.clear();
    for (const auto& [socket, client] : connections_) {
      const short events = client.state == connection_state::writing_reply ? POLLOUT : POLLIN;
      polled.push_back({socket, events, 0});
      polled_sequences.push_back(client.sequence);
    }
    const bool listening = now >= listener_paused_until_;
    if (listening) polled.push_back({listening_socket_, POLLIN, 0});

    if (poll(polled.data(), polled.size(), poll_timeout_ms(now)) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    // Connections before the listener: a socket closed here cannot be reused by an
    // accepted one before the loop has passed it, and the sequence check skips
    // entries whose connection another request (STOP_REQ) closed meanwhile.
    for (std::size_t i = 0; i < polled_sequences.size() && !stopping_; ++i) {
      if (polled[i].revents == 0) continue;
      const auto found = connections_.find(polled[i].fd);
      if (found == connections_.end() || found->second.sequence != polled_sequences[i]) continue;
      connection& client = found->second;
      if (polled[i].revents & POLLNVAL) {
        close_connection(client.socket);
      } else if (client.state == connection_state::reading_request) {
        read_request(client);
      } else if (client.state == connection_state::registered) {
        discard_input(client);
      } else {
        write_reply(client);
      }
    }
    if (listening && !stopping_ && (polled.back().revents & POLLIN)) accept_connections();
  }
  return true;
}

int server::poll_timeout_ms(clock::time_point now) const {
  std::optional<clock::time_point> earliest;
  for (const auto& [socket, client] : connections_)
    if (client.state != connection_state::registered && (!earliest || client.deadline < *earliest))
      earliest = client.deadline;
  if (now < listener_paused_until_ && (!earliest || listener_paused_until_ < *earliest))
    earliest = listener_paused_until_;
  if (!earliest) return -1;
  if (*earliest <= now) return 0;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*earliest - now).count();
  return static_cast<int>(std::min<decltype(wait)>(wait, 60 * 60 * 1000));
}

void server::accept_connections() {
  // A bounded batch per wake-up, so that a flood of connections does not starve
  // the clients already connected.
  for (int batch = 0; batch < 64; ++batch) {
    const int socket = accept4(listening_socket_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (socket < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        if (!evict_oldest_unregistered()) listener_paused_until_ = clock::now() + listener_pause;
      }
      return;  // EAGAIN, or a connection that died in the queue (ECONNABORTED...)
    }
    if (connections_.size() >= options_.max_connections && !evict_oldest_unregistered()) {
      ::close(socket);  // every slot holds a registered node
      continue;
    }
    connection client;
    client.socket = socket;
    client.sequence = next_sequence_++;
    client.local_peer = is_local_peer(socket);
    client.deadline = clock::now() + options_.packet_timeout;
    connections_.emplace(socket, std::move(client));
  }
}

bool server::evict_oldest_unregistered() {
  const connection* oldest = nullptr;
  for (const auto& [socket, client] : connections_)
    if (client.state != connection_state::registered &&
        (oldest == nullptr || client.sequence < oldest->sequence))
      oldest = &client;
  if (oldest == nullptr) return false;
  close_connection(oldest->socket);
  return true;
}

void server::close_connection(int socket) {
  const auto found = connections_.find(socket);
  if (found == connections_.end()) return;
  if (found->second.state == connection_state::registered) nodes_.erase(found->second.node_name);
  connections_.erase(found);
  ::close(socket);
}

void server::read_request(connection& client) {
  // Reads no further than the frame, so that the frame's end is known without a
  // second buffer; bytes after it are never looked at.
  while (true) {
    std::size_t wanted = 2;
    if (client.input.size() >= 2) {
      const std::size_t length = read_u16(client.input, 0);
      if (length == 0 || length > max_request_bytes) return close_connection(client.socket);
      wanted = 2 + length;
    }
    if (client.input.size() == wanted) break;
    const std::size_t have = client.input.size();
    client.input.resize(wanted);
    const ssize_t received = recv(client.socket, client.input.data() + have, wanted - have, 0);
    client.input.resize(have + static_cast<std::size_t>(std::max<ssize_t>(received, 0)));
    if (received == 0) return close_connection(client.socket);
    if (received < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      return close_connection(client.socket);
    }
  }
  const std::vector<std::uint8_t> body(client.input.begin() + 2, client.input.end());
  client.input = {};
  handle_request(client, body);
}

void server::discard_input(connection& client) {
  char scratch[4096];
  while (true) {
    const ssize_t received = recv(client.socket, scratch, sizeof scratch, 0);
    if (received > 0) continue;
    if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    return close_connection(client.socket);  // the node went away: unregister it
  }
}

void server::handle_request(connection& client, const std::vector<std::uint8_t>& body) {
  const std::string_view rest(reinterpret_cast<const char*>(body.data()) + 1, body.size() - 1);
  switch (body[0]) {
    case alive2_request:
      if (!client.local_peer) break;  // as epmd: only nodes on this host register
      return handle_alive2(client, body);
    case port_please2_request:
      return handle_port_please2(client, rest);
    case names_request: {
      std::string reply;
      append_u32(reply, port_);
      return start_reply(client, std::move(reply), listing_kind::names);
    }
    case dump_request: {
      if (!client.local_peer) break;
      std::string reply;
      append_u32(reply, port_);
      return start_reply(client, std::move(reply), listing_kind::dump);
    }
    case kill_request:
      if (!client.local_peer) break;
      if (!options_.relaxed_command_check && !nodes_.empty())
        return start_reply(client, "NO", listing_kind::none);
      client.stop_server_after_reply = true;
      return start_reply(client, "OK", listing_kind::none);
    case stop_request:
      if (!client.local_peer || !options_.relaxed_command_check) break;
      return handle_stop(client, rest);
    default:
      break;
  }
  close_connection(client.socket);  // unknown or refused: no reply, as epmd
}

void server::handle_alive2(connection& client, const std::vector<std::uint8_t>& body) {
  // u8 120, u16 PortNo, u8 NodeType, u8 Protocol, u16 Highest, u16 Lowest,
  // u16 Nlen, Name, u16 Elen, Extra; bytes after Extra are ignored, as epmd does.
  constexpr std::size_t name_at = 11;
  if (body.size() < name_at + 2) return close_connection(client.socket);
  const std::size_t name_length = read_u16(body, 9);
  if (name_at + name_length + 2 > body.size()) return close_connection(client.socket);
  const std::size_t extra_length = read_u16(body, name_at + name_length);
  const std::size_t extra_at = name_at + name_length + 2;
  if (extra_at + extra_length > body.size() || extra_length > max_name_bytes)
    return close_connection(client.socket);
  std::string name(reinterpret_cast<const char*>(body.data()) + name_at, name_length);
  if (!valid_node_name(name)) return close_connection(client.socket);

  const std::uint16_t highest_version = read_u16(body, 5);
  const bool extended_reply = highest_version >= 6;
  std::string reply;
  if (nodes_.contains(name)) {
    reply.push_back(static_cast<char>(extended_reply ? alive2_x_response : alive2_response));
    reply.push_back(1);
    if (extended_reply)
      append_u32(reply, 0);
    else
      append_u16(reply, 0);
    return start_reply(client, std::move(reply), listing_kind::none);
  }

  registered_node node;
  node.port = read_u16(body, 1);
  node.node_type = body[3];
  node.protocol = body[4];
  node.highest_version = highest_version;
  node.lowest_version = read_u16(body, 7);
  node.extra.assign(reinterpret_cast<const char*>(body.data()) + extra_at, extra_length);
  node.creation = next_creation();
  node.socket = client.socket;

  reply.push_back(static_cast<char>(extended_reply ? alive2_x_response : alive2_response));
  reply.push_back(0);
  // Nodes older than version 6 keep a 2-bit creation: 1, 2 or 3.
  if (extended_reply)
    append_u32(reply, node.creation);
  else
    append_u16(reply, static_cast<std::uint16_t>(node.creation % 3 + 1));

  // The reply is 6 bytes on a fresh connection: it fits the empty send buffer, so
  // it goes out at once and the connection stays open as the registration.
  const ssize_t sent = send(client.socket, reply.data(), reply.size(), MSG_NOSIGNAL);
  if (sent != static_cast<ssize_t>(reply.size())) return close_connection(client.socket);
  client.state = connection_state::registered;
  client.node_name = name;
  nodes_.emplace(std::move(name), std::move(node));
}

void server::handle_port_please2(connection& client, std::string_view name) {
  std::string reply;
  reply.push_back(static_cast<char>(port2_response));
  const auto found = nodes_.find(name);
  if (found == nodes_.end()) {
    reply.push_back(1);
    return start_reply(client, std::move(reply), listing_kind::none);
  }
  const registered_node& node = found->second;
  reply.push_back(0);
  append_u16(reply, node.port);
  reply.push_back(static_cast<char>(node.node_type));
  reply.push_back(static_cast<char>(node.protocol));
  append_u16(reply, node.highest_version);
  append_u16(reply, node.lowest_version);
  append_u16(reply, static_cast<std::uint16_t>(found->first.size()));
  reply += found->first;
  append_u16(reply, static_cast<std::uint16_t>(node.extra.size()));
  reply += node.extra;
  start_reply(client, std::move(reply), listing_kind::none);
}

void server::handle_stop(connection& client, std::string_view name) {
  const auto found = nodes_.find(name);
  if (found == nodes_.end()) return start_reply(client, "NOEXIST", listing_kind::none);
  close_connection(found->second.socket);  // unregisters the node
  start_reply(client, "STOPPED", listing_kind::none);
}

void server::start_reply(connection& client, std::string bytes, listing_kind listing) {
  client.state = connection_state::writing_reply;
  client.output = std::move(bytes);
  client.output_sent = 0;
  client.listing = listing;
  client.listing_after.reset();
  client.deadline = clock::now() + options_.packet_timeout;
  write_reply(client);
}

void server::refill_listing(connection& client) {
  while (client.listing != listing_kind::none &&
         client.output.size() - client.output_sent < listing_chunk_bytes) {
    const auto next =
        client.listing_after ? nodes_.upper_bound(*client.listing_after) : nodes_.begin();
    if (next == nodes_.end()) {
      client.listing = listing_kind::none;
      break;
    }
    const auto& [name, node] = *next;
    if (client.listing == listing_kind::names) {
      client.output += "name " + name + " at port " + std::to_string(node.port) + "\n";
    } else {
      client.output += "active name     <" + name + "> at port " + std::to_string(node.port) +
                       ", fd = " + std::to_string(node.socket) + "\n";
    }
    client.listing_after = name;
  }
}

void server::write_reply(connection& client) {
  while (true) {
    if (client.output_sent > 0 && client.output_sent == client.output.size()) {
      client.output.clear();
      client.output_sent = 0;
    }
    refill_listing(client);
    if (client.output_sent == client.output.size()) break;  // all written
    const ssize_t sent = send(client.socket, client.output.data() + client.output_sent,
                              client.output.size() - client.output_sent, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;  // POLLOUT later
      return close_connection(client.socket);
    }
    client.output_sent += static_cast<std::size_t>(sent);
  }
  if (client.stop_server_after_reply) stopping_ = true;
  close_connection(client.socket);
}

std::uint32_t server::next_creation() {
  // A counter from a random start: each registration gets a value the previous
  // incarnation of the same name did not have; 0 is reserved by the protocol.
  if (++creation_counter_ == 0) ++creation_counter_;
  return creation_counter_;
}

}  // namespace beamline::epmd
