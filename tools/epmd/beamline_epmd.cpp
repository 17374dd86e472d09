// beamline-epmd: an EPMD-compatible port mapper daemon, for hosts where no epmd
// runs (docs/epmd.md). This file owns the command line, the client modes that talk
// to a running daemon, and detaching; the daemon itself is epmd_server.{hpp,cpp}.
//
//   beamline-epmd [-port P] [-address A] [-daemon] [-relaxed_command_check]
//                 [-packet_timeout S]                   serve
//   beamline-epmd [-port P] [-address A] -names | -dump | -kill | -stop Name
//
// The listening socket is bound before -daemon detaches, so when the command
// returns 0 the port answers. Usage errors: status 2. A port already in use:
// status 1, except with -daemon when an epmd answers there (status 0, as a
// second `epmd -daemon` is harmless).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "epmd_server.hpp"

namespace {

namespace epmd = beamline::epmd;

constexpr const char* usage_text =
    "usage: beamline-epmd [-port P] [-address A] [-daemon] [-relaxed_command_check]\n"
    "                     [-packet_timeout Seconds]\n"
    "       beamline-epmd [-port P] [-address A] -names | -dump | -kill | -stop Name\n"
    "\n"
    "Serves the Erlang port mapper protocol (ALIVE2, PORT_PLEASE2, NAMES, DUMP, KILL,\n"
    "STOP) on an IPv4 address (default 0.0.0.0) and port (default $ERL_EPMD_PORT, else\n"
    "4369), in the foreground, or detached with -daemon once the port is bound.\n"
    "-relaxed_command_check (or $ERL_EPMD_RELAXED_COMMAND_CHECK) allows -stop, and\n"
    "-kill while nodes are registered. -packet_timeout: seconds a client has to send\n"
    "its request and to read the reply (default 60).\n"
    "\n"
    "-names, -dump, -kill and -stop ask the daemon on that port (at 127.0.0.1, or at\n"
    "-address) and print its answer as epmd does.\n";

enum class mode { serve, names, dump, kill, stop };

struct arguments {
  mode what = mode::serve;
  std::uint16_t port = 4369;
  in_addr address{htonl(INADDR_ANY)};
  bool address_given = false;
  bool daemon = false;
  bool relaxed_command_check = false;
  long packet_timeout_seconds = 60;
  std::string stop_name;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "beamline-epmd: %s\n\n%s", message.c_str(), usage_text);
  std::exit(2);
}

std::optional<long> parse_number(std::string_view text, long low, long high) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  long value = 0;
  for (const char digit : text) {
    if (digit < '0' || digit > '9') return std::nullopt;
    value = value * 10 + (digit - '0');
  }
  if (value < low || value > high) return std::nullopt;
  return value;
}

std::uint16_t parse_port(std::string_view text, const char* where) {
  const auto port = parse_number(text, 1, 65535);
  if (!port) usage_error(std::string(where) + " must be a port number from 1 to 65535");
  return static_cast<std::uint16_t>(*port);
}

arguments parse_arguments(int argc, char** argv) {
  arguments a;
  if (const char* port = std::getenv("ERL_EPMD_PORT"); port != nullptr && *port != '\0')
    a.port = parse_port(port, "ERL_EPMD_PORT");
  if (std::getenv("ERL_EPMD_RELAXED_COMMAND_CHECK") != nullptr) a.relaxed_command_check = true;
  bool mode_given = false;
  const auto set_mode = [&](mode chosen, std::string_view option) {
    if (mode_given)
      usage_error("only one of -names, -dump, -kill and -stop: " + std::string(option));
    a.what = chosen;
    mode_given = true;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view option = argv[i];
    const auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage_error(std::string(option) + " needs a value");
      return argv[++i];
    };
    if (option == "-port") {
      a.port = parse_port(value(), "-port");
    } else if (option == "-address") {
      const std::string text(value());
      if (inet_pton(AF_INET, text.c_str(), &a.address) != 1)
        usage_error("-address takes one IPv4 address, such as 127.0.0.1: '" + text + "'");
      a.address_given = true;
    } else if (option == "-daemon") {
      a.daemon = true;
    } else if (option == "-relaxed_command_check") {
      a.relaxed_command_check = true;
    } else if (option == "-packet_timeout") {
      const auto seconds = parse_number(value(), 1, 24 * 60 * 60);
      if (!seconds) usage_error("-packet_timeout takes seconds from 1 to 86400");
      a.packet_timeout_seconds = *seconds;
    } else if (option == "-names") {
      set_mode(mode::names, option);
    } else if (option == "-dump") {
      set_mode(mode::dump, option);
    } else if (option == "-kill") {
      set_mode(mode::kill, option);
    } else if (option == "-stop") {
      set_mode(mode::stop, option);
      a.stop_name = value();
      if (a.stop_name.empty() || a.stop_name.size() > epmd::max_name_bytes)
        usage_error("-stop takes a node name (the part before the @)");
    } else if (option == "-help" || option == "--help" || option == "-h") {
      std::fputs(usage_text, stdout);
      std::exit(0);
    } else {
      usage_error("unknown option '" + std::string(option) + "'");
    }
  }
  if (a.daemon && a.what != mode::serve) usage_error("-daemon serves; it does not go with a query");
  return a;
}

// The address a client uses to reach the daemon: -address, unless that is the
// wildcard, which is reached on the loopback address.
in_addr client_address(const arguments& a) {
  if (a.address_given && a.address.s_addr != htonl(INADDR_ANY)) return a.address;
  return in_addr{htonl(INADDR_LOOPBACK)};
}

std::string address_text(in_addr address, std::uint16_t port) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address, text, sizeof text);
  return std::string(text) + ":" + std::to_string(port);
}

struct exchange_result {
  bool connected = false;
  int error = 0;      // errno of the failed step
  std::string reply;  // everything read until the daemon closed
};

// One request to the daemon at address:port; reads the reply to the end (at most
// limit bytes), waiting at most a few seconds for each step.
exchange_result exchange(in_addr address, std::uint16_t port, const std::string& body,
                         std::size_t limit) {
  exchange_result result;
  const int socket = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (socket < 0) {
    result.error = errno;
    return result;
  }
  const timeval step_timeout{5, 0};
  setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &step_timeout, sizeof step_timeout);
  setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &step_timeout, sizeof step_timeout);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(port);
  peer.sin_addr = address;
  if (connect(socket, reinterpret_cast<const sockaddr*>(&peer), sizeof peer) != 0) {
    result.error = errno;
    ::close(socket);
    return result;
  }
  result.connected = true;
  std::string frame;
  frame.push_back(static_cast<char>(body.size() >> 8));
  frame.push_back(static_cast<char>(body.size() & 0xff));
  frame += body;
  if (send(socket, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size()))
    result.error = errno;
  char buffer[4096];
  while (result.error == 0 && result.reply.size() < limit) {
    const ssize_t received = recv(socket, buffer, sizeof buffer, 0);
    if (received == 0) break;
    if (received < 0) {
      if (errno == EINTR) continue;
      result.error = errno;
      break;
    }
    result.reply.append(buffer, static_cast<std::size_t>(received));
  }
  ::close(socket);
  return result;
}

std::uint32_t reply_port(const std::string& reply) {
  std::uint32_t port = 0;
  for (int i = 0; i < 4; ++i) port = port << 8 | static_cast<unsigned char>(reply[i]);
  return port;
}

// -names, -dump, -kill, -stop: print what the daemon answers, worded as epmd does.
int run_client(const arguments& a) {
  const in_addr address = client_address(a);
  std::string body;
  std::size_t limit = 64 * 1024 * 1024;
  switch (a.what) {
    case mode::names:
      body = std::string(1, static_cast<char>(epmd::names_request));
      break;
    case mode::dump:
      body = std::string(1, static_cast<char>(epmd::dump_request));
      break;
    case mode::kill:
      body = std::string(1, static_cast<char>(epmd::kill_request));
      limit = 2;
      break;
    case mode::stop:
      body = static_cast<char>(epmd::stop_request) + a.stop_name;
      limit = 7;
      break;
    case mode::serve:
      return 2;
  }
  const exchange_result result = exchange(address, a.port, body, limit);
  if (!result.connected) {
    std::fprintf(stderr, "epmd: Cannot connect to local epmd (%s: %s)\n",
                 address_text(address, a.port).c_str(), std::strerror(result.error));
    return 1;
  }
  if (a.what == mode::names || a.what == mode::dump) {
    if (result.reply.size() < 4) {
      std::fprintf(stderr, "epmd: no data from the epmd at %s\n",
                   address_text(address, a.port).c_str());
      return 1;
    }
    std::printf("epmd: up and running on port %u with data:\n%s", reply_port(result.reply),
                result.reply.substr(4).c_str());
    return 0;
  }
  if (a.what == mode::kill && result.reply == "OK") {
    std::puts("Killed");
    return 0;
  }
  if (a.what == mode::kill && result.reply == "NO") {
    std::puts("Killing not allowed - living nodes in database.");
    return 1;
  }
  if (a.what == mode::stop && (result.reply == "STOPPED" || result.reply == "NOEXIST")) {
    std::puts(result.reply.c_str());
    return 0;
  }
  std::printf("epmd: local epmd responded with <%s>\n", result.reply.c_str());
  return 1;
}

// Whether an epmd answers a NAMES request on the port (the port being taken).
bool epmd_answers(const arguments& a) {
  const exchange_result result =
      exchange(client_address(a), a.port, std::string(1, static_cast<char>(epmd::names_request)),
               64 * 1024 * 1024);
  return result.connected && result.reply.size() >= 4 && reply_port(result.reply) == a.port;
}

// Leaves the caller's session: the caller's process exits 0 here (the port is
// already bound), the daemon continues in a grandchild with no terminal, / as its
// directory and /dev/null as its standard streams.
bool detach() {
  const pid_t child = fork();
  if (child < 0) return false;
  if (child > 0) std::_Exit(0);
  setsid();
  std::signal(SIGHUP, SIG_IGN);
  const pid_t grandchild = fork();
  if (grandchild < 0) std::_Exit(1);
  if (grandchild > 0) std::_Exit(0);  // not a session leader: never gets a terminal
  if (chdir("/") != 0) return false;
  const int null_device = open("/dev/null", O_RDWR);
  if (null_device < 0) return false;
  for (int stream = 0; stream <= 2; ++stream) dup2(null_device, stream);
  if (null_device > 2) close(null_device);
  return true;
}

int serve(const arguments& a) {
  const int listening = epmd::open_listening_socket(a.address, a.port);
  if (listening < 0) {
    const int error = errno;
    if (error == EADDRINUSE) {
      const bool epmd_there = epmd_answers(a);
      if (epmd_there && a.daemon) return 0;
      std::fprintf(stderr, "beamline-epmd: %s is already in use%s\n",
                   address_text(a.address, a.port).c_str(),
                   epmd_there ? " (an epmd is running there)" : "");
      return 1;
    }
    std::fprintf(stderr, "beamline-epmd: cannot listen on %s: %s\n",
                 address_text(a.address, a.port).c_str(), std::strerror(error));
    return 1;
  }
  if (a.daemon && !detach()) {
    std::fprintf(stderr, "beamline-epmd: cannot detach: %s\n", std::strerror(errno));
    return 1;
  }
  epmd::server_options options;
  options.packet_timeout = std::chrono::seconds(a.packet_timeout_seconds);
  options.relaxed_command_check = a.relaxed_command_check;
  epmd::server server(listening, a.port, options);
  if (!server.run()) {
    std::fprintf(stderr, "beamline-epmd: poll: %s\n", std::strerror(errno));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const arguments a = parse_arguments(argc, argv);
  if (a.what != mode::serve) return run_client(a);
  return serve(a);
}
