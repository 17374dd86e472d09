// consumer: a program built against an installed beamline (docs/install.md).
//
// Prints beamline's version, then a client process asks a server process for the
// length of a word and prints the answer.
#include <beamline/beamline.hpp>

#include <cstdio>
#include <string>

namespace bl = beamline;

static_assert(bl::version >= bl::semantic_version{0, 2, 0});

bl::process server() {
  auto [client, word] = co_await bl::receive<bl::pid, std::string>();
  bl::send(client, static_cast<long>(word.size()));
}

bl::process client(bl::pid server_pid) {
  bl::send(server_pid, bl::self(), std::string("beamline"));
  long length = co_await bl::receive<long>();
  std::printf("the server says \"beamline\" has %ld letters\n", length);
}

int main(int argc, char** argv) {
  std::printf("beamline %s\n", BEAMLINE_VERSION_STRING);
  bl::node node(bl::node_options::from_args(argc, argv));
  node.spawn(client, node.spawn(server));
  return node.run();
}
