// epmd_client.cpp: ALIVE2 registration, starting a daemon, PORT_PLEASE2 lookups.
#include "dist/epmd_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include "beamline/net/tcp.hpp"
#include "dist/wire_bytes.hpp"

extern char** environ;

namespace beamline::dist::detail {

namespace {

constexpr std::uint8_t alive2_req = 120;
constexpr std::uint8_t alive2_x_resp = 118;
constexpr std::uint8_t alive2_resp = 121;
constexpr std::uint8_t port_please2_req = 122;
constexpr std::uint8_t port2_resp = 119;

// Waits until `fd` is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

epmd_register_result epmd_register(std::uint16_t epmd_port, const std::string& alive,
                                   std::uint16_t port, bool hidden,
                                   std::chrono::milliseconds timeout) {
  epmd_register_result result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    result.problem = std::string("socket: ") + std::strerror(errno);
    return result;
  }
  auto fail = [&](epmd_register_status status, std::string problem) {
    ::close(fd);
    result.status = status;
    result.problem = std::move(problem);
    return result;
  };
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(epmd_port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    if (errno != EINPROGRESS) return fail(epmd_register_status::unreachable, std::strerror(errno));
    if (!wait_for(fd, POLLOUT, deadline))
      return fail(epmd_register_status::unreachable, "connecting timed out");
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return fail(epmd_register_status::unreachable, std::strerror(error));
  }
  std::string request;
  request.push_back(static_cast<char>(alive2_req));
  put_u16(request, port);
  request.push_back(hidden ? 72 : 77);  // 'H' hidden, 'M' normal
  request.push_back(0);                 // TCP/IPv4
  put_u16(request, 6);                  // highest protocol version
  put_u16(request, 6);                  // lowest
  put_u16(request, static_cast<std::uint16_t>(alive.size()));
  request += alive;
  put_u16(request, 0);  // no extra
  std::string framed;
  put_u16(framed, static_cast<std::uint16_t>(request.size()));
  framed += request;
  std::size_t sent = 0;
  while (sent < framed.size()) {
    const ssize_t n = ::send(fd, framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline))
        return fail(epmd_register_status::unreachable, "sending timed out");
    } else {
      return fail(epmd_register_status::unreachable, std::strerror(errno));
    }
  }
  // ALIVE2_X_RESP is 6 bytes, the older ALIVE2_RESP 4.
  char reply[6];
  std::size_t got = 0;
  while (got < 2 || (static_cast<std::uint8_t>(reply[0]) == alive2_x_resp ? got < 6 : got < 4)) {
    const ssize_t n = ::recv(fd, reply + got, sizeof reply - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, POLLIN, deadline))
        return fail(epmd_register_status::unreachable, "EPMD did not answer");
    } else {
      return fail(epmd_register_status::unreachable, "EPMD closed the connection");
    }
  }
  byte_reader in(std::string_view(reply, got));
  const std::uint8_t kind = in.u8();
  const std::uint8_t status = in.u8();
  if (kind != alive2_x_resp && kind != alive2_resp)
    return fail(epmd_register_status::unreachable, "EPMD sent an unexpected reply");
  if (status != 0)
    return fail(epmd_register_status::refused,
                "the name " + alive + " seems to be in use by another node (EPMD refused it)");
  result.registration.creation = kind == alive2_x_resp ? in.u32() : in.u16();
  // Creation 0 is reserved; an old daemon's 16-bit creations may be 0.
  if (result.registration.creation == 0) result.registration.creation = 1;
  result.registration.socket = fd;
  result.status = epmd_register_status::registered;
  return result;
}

bool start_epmd_daemon(std::uint16_t epmd_port, std::string& problem) {
  std::vector<std::string> candidates;
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) candidates.push_back((self.parent_path() / "beamline-epmd").string());
  candidates.emplace_back("beamline-epmd");
  candidates.emplace_back("epmd");
  const std::string port = std::to_string(epmd_port);
  for (const std::string& program : candidates) {
    std::vector<char*> argv;
    std::string daemon = "-daemon", port_flag = "-port", copy = program, port_copy = port;
    argv.push_back(copy.data());
    argv.push_back(port_flag.data());
    argv.push_back(port_copy.data());
    argv.push_back(daemon.data());
    argv.push_back(nullptr);
    pid_t child = 0;
    const bool path_search = program.find('/') == std::string::npos;
    const int spawned =
        path_search
            ? ::posix_spawnp(&child, program.c_str(), nullptr, nullptr, argv.data(), environ)
            : ::posix_spawn(&child, program.c_str(), nullptr, nullptr, argv.data(), environ);
    if (spawned != 0) continue;
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    problem = program + " -daemon exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (problem.empty()) problem = "neither beamline-epmd nor epmd could be run";
  return false;
}

task<std::optional<std::uint16_t>> epmd_port_please(net::address host, std::string alive,
                                                    std::chrono::milliseconds timeout) {
  auto socket = co_await net::tcp_socket::connect(host, timeout);
  if (!socket) co_return std::nullopt;
  std::string request;
  put_u16(request, static_cast<std::uint16_t>(alive.size() + 1));
  request.push_back(static_cast<char>(port_please2_req));
  request += alive;
  if (!co_await socket->write(request, timeout)) co_return std::nullopt;
  char head[4];
  if (!co_await socket->read_exact(std::span<char>(head, 2), timeout)) co_return std::nullopt;
  if (static_cast<std::uint8_t>(head[0]) != port2_resp || head[1] != 0) co_return std::nullopt;
  if (!co_await socket->read_exact(std::span<char>(head, 2), timeout)) co_return std::nullopt;
  co_return static_cast<std::uint16_t>((static_cast<std::uint8_t>(head[0]) << 8) |
                                       static_cast<std::uint8_t>(head[1]));
}

}  // namespace beamline::dist::detail
