// server.cpp: see server.hpp.
#include "observer/server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>
#include <utility>
#include <variant>

#include "beamline/net.hpp"
#include "beamline/observe.hpp"
#include "beamline/receive.hpp"
#include "beamline/spawn.hpp"
#include "core/node_runtime.hpp"
#include "observer/websocket.hpp"

namespace beamline::observer {

void become_service() {
  detail::process_control& self = detail::current_process("observer");
  self.node().mark_service(self);
}

namespace {

using namespace std::chrono_literals;

// A request's head must arrive within this of its first byte (a client that
// trickles bytes holds a connection no longer); an idle kept-alive connection is
// closed after idle_timeout.
constexpr auto head_timeout = 10s;
constexpr auto idle_timeout = 60s;
constexpr auto write_timeout = 10s;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string random_token() {
  std::random_device random;
  static constexpr char digits[] = "0123456789abcdef";
  std::string token;
  for (int i = 0; i < 32; ++i) token.push_back(digits[random() % 16]);
  return token;
}

bool is_loopback(const net::address& a) {
  const std::string ip = a.ip();
  return ip.starts_with("127.") || ip == "::1";
}

// Writes `bytes` and reports whether the connection can go on.
task<bool> send_all(net::tcp_socket& socket, const std::string& bytes) {
  auto written = co_await socket.write(bytes, write_timeout);
  co_return written.has_value();
}

// The same for an error answer, after which the connection closes. (Named locals,
// not temporaries, in co_await expressions: docs/coroutines.md#g-12.)
task<void> send_error(net::tcp_socket& socket, int status, const std::string& body) {
  const std::string response = http_response(status, "application/json", body, false);
  co_await send_all(socket, response);
}

// What a browser may send on the dashboard's WebSocket: pings, a close, and
// nothing the server reads beyond that; larger messages close it (1009).
constexpr std::size_t max_client_message = 4096;

// The WebSocket handshake's checks (RFC 6455 4.2.1) and, since a page of any site
// may open a WebSocket to the loopback and browsers apply no CORS to it, an Origin
// that is the dashboard's own (clients that are not browsers send none). Returns
// the Sec-WebSocket-Accept value, or the refusal to answer with.
std::variant<std::string, reply> accept_websocket(const http_request& request,
                                                  const server_state& state) {
  auto refuse = [](int status, std::string_view why) {
    return reply{status, "application/json", R"({"error":")" + std::string(why) + R"("})"};
  };
  if (std::optional<reply> refused = refusal(request, state)) return std::move(*refused);
  if (request.method != "GET") return refuse(405, "GET only");
  const auto upgrade = request.header("upgrade");
  if (!upgrade || !lists_token(*upgrade, "websocket"))
    return refuse(426, "this route is a WebSocket (Upgrade: websocket)");
  const auto version = request.header("sec-websocket-version");
  if (!version || *version != "13") return refuse(426, "WebSocket version 13 only");
  const auto origin = request.header("origin");
  const auto host = request.header("host");
  if (origin && (!host || *origin != "http://" + std::string(*host)))
    return refuse(403, "the Origin must be the dashboard's own");
  const auto key = request.header("sec-websocket-key");
  std::string accept = key ? ws_accept_key(*key) : std::string();
  if (accept.empty()) return refuse(400, "a Sec-WebSocket-Key of 16 bytes in base64 is required");
  return accept;
}

// GET /ws: after the handshake, an update (live_update) at once and then every
// second, until the client closes or stops reading.
task<void> serve_websocket(net::tcp_socket& socket, const http_request& request,
                           server_state& state, std::string buffer) {
  auto accepted = accept_websocket(request, state);
  if (auto* refused = std::get_if<reply>(&accepted)) {
    const std::string response =
        http_response(refused->status, refused->content_type, refused->body, false);
    co_await send_all(socket, response);
    co_return;
  }
  const std::string handshake =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      std::get<std::string>(accepted) + "\r\n\r\n";
  const bool shook = co_await send_all(socket, handshake);
  if (!shook) co_return;
  char chunk[4096];
  auto next_update = std::chrono::steady_clock::now();
  for (;;) {
    if (std::chrono::steady_clock::now() >= next_update) {
      state.last_request_ns.store(now_ns(), std::memory_order_relaxed);
      const std::string update = co_await live_update(state);
      const std::string frame = ws_server_frame(ws_opcode::text, update);
      const bool sent = co_await send_all(socket, frame);
      if (!sent) co_return;
      next_update = std::max(next_update + 1s, std::chrono::steady_clock::now());
    }
    for (;;) {
      ws_frame frame;
      const ws_parse parsed = parse_client_frame(buffer, max_client_message, frame);
      if (parsed.result == ws_parse::outcome::incomplete) break;
      if (parsed.result == ws_parse::outcome::error) {
        const std::string close = ws_close_frame(parsed.close_code, parsed.problem);
        co_await send_all(socket, close);
        co_return;
      }
      buffer.erase(0, parsed.consumed);
      if (frame.opcode == ws_opcode::close) {
        const std::string close = ws_close_frame(1000, "");
        co_await send_all(socket, close);
        co_return;
      }
      if (frame.opcode == ws_opcode::ping) {
        const std::string pong = ws_server_frame(ws_opcode::pong, frame.payload);
        const bool sent = co_await send_all(socket, pong);
        if (!sent) co_return;
      }
      // Data frames and pongs: nothing the dashboard sends asks for an answer.
    }
    const auto wait = next_update - std::chrono::steady_clock::now();
    if (wait <= std::chrono::nanoseconds::zero()) continue;
    auto n = co_await socket.read_some(chunk, wait);
    if (!n) {
      if (n.error() == std::errc::timed_out) continue;
      co_return;
    }
    if (*n == 0) co_return;
    if (buffer.size() + *n > 2 * max_client_message + 16) co_return;  // unread frames pile up
    buffer.append(chunk, *n);
  }
}

process serve_connection(net::tcp_socket& socket, std::shared_ptr<server_state> state) {
  become_service();
  struct counted {
    server_state& s;
    ~counted() { s.connections.fetch_sub(1, std::memory_order_relaxed); }
  } guard{*state};
  const http_limits limits;
  const std::string timeout_body = R"({"error":"request timeout"})";
  std::string buffer;
  char chunk[4096];
  for (;;) {
    http_request request;
    http_parse parsed = parse_request(buffer, limits, request);
    auto head_deadline = std::chrono::steady_clock::now() + head_timeout;
    while (parsed.result == http_parse::outcome::incomplete) {
      const auto now = std::chrono::steady_clock::now();
      const std::chrono::nanoseconds wait =
          buffer.empty() ? std::chrono::nanoseconds(idle_timeout) : head_deadline - now;
      if (wait <= std::chrono::nanoseconds::zero()) {
        co_await send_error(socket, 408, timeout_body);
        co_return;
      }
      auto n = co_await socket.read_some(chunk, wait);
      if (!n || *n == 0) {
        if (!buffer.empty() && !n && n.error() == std::errc::timed_out)
          co_await send_error(socket, 408, timeout_body);
        co_return;
      }
      if (buffer.empty()) head_deadline = std::chrono::steady_clock::now() + head_timeout;
      buffer.append(chunk, *n);
      parsed = parse_request(buffer, limits, request);
    }
    if (parsed.result == http_parse::outcome::error) {
      const std::string body = R"({"error":")" + parsed.problem + R"("})";
      co_await send_error(socket, parsed.status, body);
      co_return;
    }
    buffer.erase(0, parsed.consumed);
    state->last_request_ns.store(now_ns(), std::memory_order_relaxed);
    if (request.path == "/ws") {
      co_await serve_websocket(socket, request, *state, std::move(buffer));
      co_return;
    }
    reply r = co_await answer(request, *state);
    const bool keep = request.keep_alive;
    const std::string response = http_response(
        r.status, r.content_type, request.method == "HEAD" ? std::string() : r.body, keep);
    const bool sent = co_await send_all(socket, response);
    if (!sent || !keep) co_return;
  }
}

process refuse_connection(net::tcp_socket& socket) {
  become_service();
  const std::string body = R"({"error":"too many connections"})";
  co_await send_error(socket, 503, body);
}

}  // namespace

void update_alarms(std::vector<mailbox_alarm>& alarms, const std::vector<observe::process_row>& top,
                   std::int64_t uptime_ms, double seconds) {
  const bool complete = top.size() < alarm_rows;
  const std::uint32_t shortest_seen = top.empty() ? 0 : top.back().message_queue_len;
  std::vector<mailbox_alarm> next;
  for (mailbox_alarm& a : alarms) {
    auto row = std::find_if(top.begin(), top.end(),
                            [&](const observe::process_row& r) { return r.process == a.process; });
    if (row == top.end()) {
      // Not among the longest queues: gone, or shorter than the shortest seen.
      if (complete || shortest_seen < alarm_clear) continue;
      next.push_back(std::move(a));  // still above alarm_clear, maybe: kept as it was
      continue;
    }
    if (row->message_queue_len < alarm_clear) continue;
    if (seconds > 0)
      a.growth_per_second =
          (static_cast<double>(row->message_queue_len) - a.message_queue_len) / seconds;
    a.message_queue_len = row->message_queue_len;
    a.peak = std::max(a.peak, a.message_queue_len);
    next.push_back(std::move(a));
  }
  for (const observe::process_row& r : top) {
    if (r.message_queue_len < alarm_raise) break;
    const bool known = std::any_of(next.begin(), next.end(),
                                   [&](const mailbox_alarm& a) { return a.process == r.process; });
    if (known) continue;
    next.push_back({r.process, r.registered_name, r.initial_call, r.message_queue_len,
                    r.message_queue_len, 0, uptime_ms});
  }
  alarms = std::move(next);
}

namespace {

// Once a second while someone watches: the node's figures, into the history.
process sample_node(std::shared_ptr<server_state> state) {
  become_service();
  bool sampling = false;
  observe::node_summary last;
  std::int64_t last_ns = 0;
  std::vector<mailbox_alarm> alarms;
  for (;;) {
    co_await sleep(1s);
    const std::int64_t now = now_ns();
    if (now - state->last_request_ns.load(std::memory_order_relaxed) >
        std::chrono::nanoseconds(watched_for).count()) {
      if (sampling) observe::end();
      sampling = false;
      alarms.clear();
      continue;
    }
    observe::node_summary s = co_await observe::summary();
    sample point;
    point.uptime_ms = s.uptime.count();
    for (const auto& w : s.workers) point.utilization.push_back(w.utilization);
    point.program_cores = s.program_cores;
    for (const auto& w : s.workers) point.run_queues.push_back(w.run_queue);
    point.run_queues.push_back(static_cast<std::uint32_t>(s.global_run_queue));
    point.processes = s.processes;
    point.runnable = s.runnable;
    point.messages_queued = s.messages_queued;
    point.memory_resident = s.memory_resident;
    point.memory_processes = s.memory_processes;
    if (sampling && now > last_ns) {
      const double seconds = static_cast<double>(now - last_ns) / 1e9;
      // The live processes' total: those that ended take theirs with them.
      if (s.reductions >= last.reductions)
        point.reductions_per_second = static_cast<double>(s.reductions - last.reductions) / seconds;
      point.spawns_per_second =
          static_cast<double>(s.processes_spawned - last.processes_spawned) / seconds;
      point.io_in_per_second = static_cast<double>(s.io_bytes_in - last.io_bytes_in) / seconds;
      point.io_out_per_second = static_cast<double>(s.io_bytes_out - last.io_bytes_out) / seconds;
      point.dist_messages_per_second =
          static_cast<double>(s.dist_messages_in + s.dist_messages_out - last.dist_messages_in -
                              last.dist_messages_out) /
          seconds;
    }
    // Only a node with that many messages queued in all can hold a process with
    // that many: otherwise no scan.
    if (s.messages_queued >= alarm_raise || !alarms.empty()) {
      observe::process_query longest;
      longest.sort = observe::sort_key::message_queue_len;
      longest.limit = alarm_rows;
      observe::process_page top = co_await observe::processes(longest);
      const double seconds = sampling ? static_cast<double>(now - last_ns) / 1e9 : 0;
      update_alarms(alarms, top.rows, point.uptime_ms, seconds);
      const auto raised = std::count_if(alarms.begin(), alarms.end(), [&](const mailbox_alarm& a) {
        return a.raised_uptime_ms == point.uptime_ms;
      });
      state->alarms_raised.fetch_add(static_cast<std::uint64_t>(raised), std::memory_order_relaxed);
    }
    {
      detail::lock_guard guard(state->history_lock);
      state->alarms = alarms;
      state->history.push_back(std::move(point));
      while (state->history.size() > history_length) state->history.pop_front();
      state->last_summary = s;
      state->last_summary_ns = now_ns();
    }
    last = std::move(s);
    last_ns = now;
    sampling = true;
  }
}

process accept_connections(int fd, std::shared_ptr<server_state> state) {
  become_service();
  auto listener = net::tcp_listener::adopt(fd);
  if (!listener) {
    ::close(fd);
    std::fprintf(stderr, "beamline: observer: %s\n", listener.error().message().c_str());
    co_return;
  }
  spawn_link(sample_node, state);
  if (!state->options.record_dir.empty()) spawn_link(record_timeline, state);
  for (;;) {
    auto socket = co_await listener->accept();
    if (!socket) {
      co_await sleep(10ms);  // out of descriptors, say: the listener stays usable
      continue;
    }
    if (state->connections.load(std::memory_order_relaxed) >= max_connections) {
      spawn(refuse_connection, std::move(*socket));
      continue;
    }
    state->connections.fetch_add(1, std::memory_order_relaxed);
    spawn(serve_connection, std::move(*socket), state);
  }
}

}  // namespace

std::string start(node& node, const observer_options& options) {
  auto at = net::address::parse(options.address, options.port);
  if (!at) throw std::runtime_error("observer: not a numeric address: " + options.address);
  const int fd = ::socket(at->family() == net::family::ipv6 ? AF_INET6 : AF_INET,
                          SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("observer: cannot make a socket");
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd, static_cast<const sockaddr*>(at->native()), at->native_size()) != 0 ||
      ::listen(fd, 128) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error("observer: cannot listen on " + at->to_string() + ": " +
                             std::generic_category().message(error));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const net::address local = net::address::from_native(&bound, length);

  auto state = std::make_shared<server_state>();
  state->options = options;
  state->token_required = !is_loopback(local);
  if (state->token_required && state->options.token.empty()) state->options.token = random_token();
  std::string url = "http://" + local.to_string() + "/";
  if (state->token_required) url += "?token=" + state->options.token;
  std::fprintf(stderr, "beamline: observer at %s%s\n", url.c_str(),
               options.manage ? " (manage: on)" : "");
  std::fflush(stderr);
  node.spawn(accept_connections, fd, std::move(state));
  return url;
}

}  // namespace beamline::observer
