// chat: a line-based chat room over TCP; try it with a few `nc 127.0.0.1 PORT`.
//
//   room        one process, registered as `room`: the members (name -> writer)
//               and their monitors; broadcasts every line to everyone.
//   per client  a reader, which owns the connection's socket, asks for a name and
//               sends each line it reads to the room; and a writer, registered
//               under the client's name, which owns a second handle on the same
//               connection (dup) and writes what the room sends it. The two are
//               linked: when the client goes away the reader ends, kills the
//               writer, the room's monitor fires and the name is released.
//
// A process waits for one thing at a time (a socket or its mailbox), so a client
// that must both read its socket and hear the room is two processes, as with
// Erlang's passive sockets.
//
//   build/release/bin/chat [--port PORT] [--schedulers N]
//
// Commands: /who lists the members, /quit leaves.
#include <unistd.h>
#include <beamline/beamline.hpp>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>

namespace bl = beamline;
namespace net = bl::net;
using namespace std::chrono_literals;

namespace {

const bl::atom room_name("room");
const bl::atom join("join");
const bl::atom say("say");
const bl::atom who("who");

bl::process room() {
  std::map<std::string, bl::pid> members;
  auto broadcast = [&](const std::string& line) {
    for (auto& [name, writer] : members) bl::send(writer, line + "\n");
  };
  for (;;) {
    co_await bl::receive(
        [&](bl::atom tag, std::string name, bl::pid writer) {
          if (tag != join) return;
          bl::monitor(writer);
          broadcast("* " + name + " joined");
          members[name] = writer;
        },
        [&](bl::atom tag, std::string name, std::string text) {
          if (tag == say) broadcast("<" + name + "> " + text);
        },
        [&](bl::atom tag, bl::pid asker) {
          if (tag != who) return;
          std::string list = "* here:";
          for (auto& entry : members) list += " " + entry.first;
          bl::send(asker, list + "\n");
        },
        [&](const bl::down_message& down) {
          for (auto it = members.begin(); it != members.end(); ++it) {
            if (it->second != down.from) continue;
            std::string name = it->first;
            members.erase(it);
            broadcast("* " + name + " left");
            break;
          }
        });
  }
}

bl::process writer(net::tcp_socket& socket) {
  for (;;) {
    auto line = co_await bl::receive<std::string>();
    if (!co_await socket.write(line, 10s)) co_return;  // a client that does not read
  }
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 20 || name == "room" || name == "undefined") return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::string trimmed(std::string line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

bl::process reader(net::tcp_socket& socket) {
  socket.set_framing({0, 4096});  // lines up to 4 KiB
  int second = ::dup(socket.native_handle());
  if (second < 0) co_return;
  auto output = net::tcp_socket::adopt(second);
  if (!output) co_return;
  bl::pid out = bl::spawn_link(writer, std::move(*output));
  std::string name;
  while (name.empty()) {
    bl::send(out, std::string("name? "));
    auto line = co_await socket.read_until('\n', 60s);
    if (!line) {
      bl::exit(out, bl::atom("kill"));
      co_return;
    }
    std::string wanted = trimmed(*line);
    if (!valid_name(wanted)) {
      bl::send(out, std::string("* letters, digits, _ and - only, at most 20\n"));
      continue;
    }
    try {
      bl::register_name(bl::atom(wanted), out);  // the registry keeps names unique
      name = wanted;
    } catch (const bl::error&) {
      bl::send(out, "* " + wanted + " is taken\n");
    }
  }
  std::optional<bl::pid> the_room = bl::whereis(room_name);
  if (!the_room) co_return;
  bl::send(*the_room, join, name, out);
  for (;;) {
    auto line = co_await socket.read_until('\n');
    if (!line) break;  // gone, or a line past 4 KiB
    std::string text = trimmed(*line);
    if (text == "/quit") break;
    if (text == "/who")
      bl::send(*the_room, who, out);
    else if (!text.empty())
      bl::send(*the_room, say, name, text);
  }
  bl::exit(out, bl::atom("kill"));  // the room hears it through its monitor
}

bl::process acceptor(net::tcp_listener& listener) {
  for (;;) {
    auto socket = co_await listener.accept();
    if (socket)
      bl::spawn(reader, std::move(*socket));
    else
      co_await bl::sleep(10ms);  // out of descriptors: keep serving the others
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned port = 0;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--port") == 0) port = static_cast<unsigned>(std::atoi(argv[i + 1]));
  if (port > 65535) {
    std::fprintf(stderr, "chat: --port must be at most 65535\n");
    return 2;
  }
  bl::node node(bl::node_options::from_args(argc, argv));
  bool listening = false;
  node.spawn([port, &listening]() -> bl::process {
    auto at = static_cast<std::uint16_t>(port);
    auto listener = net::tcp_listener::listen(net::address::any_v6(at));
    if (!listener) listener = net::tcp_listener::listen(net::address::any_v4(at));
    if (!listener) {
      std::fprintf(stderr, "chat: listen on port %u: %s\n", port,
                   listener.error().message().c_str());
      co_return;
    }
    listening = true;
    bl::register_name(room_name, bl::spawn(room));
    std::printf("chat listening on port %u (try: nc 127.0.0.1 %u)\n",
                listener->local_address()->port(), listener->local_address()->port());
    std::fflush(stdout);
    bl::spawn(acceptor, std::move(*listener));
  });
  // Until Ctrl-C or SIGTERM: the node shuts down in order and run() returns.
  int status = node.run();
  return listening ? status : 1;
}
