// programs.hpp: starting and ending the other OS processes of an example's cluster
// (one beamline node per OS process: cluster, global_names, available_names).
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <beamline/dist.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace examples {

// Starts `program` (a path, or a name looked up in PATH) with `args` (args[0] is
// the name it sees); the child's pid, or -1.
inline pid_t start_program(const std::string& program, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The runtime's threads block SIGTERM, SIGINT and SIGQUIT (they are left to the
  // thread in node::run()), and a child inherits the mask of the thread that starts
  // it: the child gets an empty one, or it would never see them (docs/guide.md).
  posix_spawnattr_t attributes;
  ::posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  pid_t child = -1;
  const int failed =
      ::posix_spawnp(&child, program.c_str(), nullptr, &attributes, argv.data(), environ);
  ::posix_spawnattr_destroy(&attributes);
  return failed != 0 ? -1 : child;
}

// Sends `signal`, and SIGKILL if the program has not ended 10 s later.
inline void end_program(pid_t child, int signal = SIGTERM) {
  if (child <= 0) return;
  ::kill(child, signal);
  for (int waited_ms = 0; waited_ms < 10'000; waited_ms += 10) {
    if (::waitpid(child, nullptr, WNOHANG) == child) return;
    ::usleep(10'000);
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

// The value of `--flag VALUE` on the command line, if given.
inline std::optional<std::string> option_value(int argc, char** argv, const char* flag) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], flag) == 0) return std::string(argv[i + 1]);
  return std::nullopt;
}

// The distribution options of the node that starts the others: `name`@127.0.0.1
// with `cookie`, on the EPMD at $ERL_EPMD_PORT (4369 without it).
inline beamline::dist::options first_node(const std::string& name, const std::string& cookie) {
  beamline::dist::options o;
  o.name = name + "@127.0.0.1";
  o.cookie = cookie;
  if (const char* port = std::getenv("ERL_EPMD_PORT"))
    o.epmd_port = static_cast<std::uint16_t>(std::atoi(port));
  return o;
}

}  // namespace examples
