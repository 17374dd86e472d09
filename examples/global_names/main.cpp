// global_names: a service registered once across a cluster (Erlang's `global`), which
// moves to another node when its node dies.
//
//   build/release/bin/global_names
//
// This process becomes the node client<os pid>@127.0.0.1 and starts two more nodes
// of itself, s1 and s2, which join it. On each, a candidate process tries to
// register the global name `clock` for a server it runs: one wins, the other
// monitors the winner and tries again when the winner goes. (If both win, before
// they see each other, global resolves the conflict when they meet: one server is
// killed and its candidate becomes the standby.) The client calls `clock` by its global name. If
// `erl` is installed, an Erlang node joins too and calls the service through its own
// `global` (global:whereis_name(clock)), which resolves the beamline process. Then
// the client kills the serving node with SIGKILL: the standby's monitor fires
// (noconnection), it registers `clock`, and the client, and the Erlang node, find
// the service on the other node. Exit status 0 when all is well.
//
// The nodes find each other through EPMD ($ERL_EPMD_PORT or 4369); when none answers,
// the first node starts beamline-epmd, which stays, as epmd does for Erlang.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <beamline/beamline.hpp>
#include <beamline/global.hpp>

#include "../common/programs.hpp"

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace bl = beamline;
namespace global = bl::names::global;
using namespace std::chrono_literals;

namespace {

const bl::atom clock_name("clock");

// --- a service node -------------------------------------------------------------------

// The service: answers {From, tick} with {tock, Node, Count}.
bl::process clock_server() {
  long count = 0;
  for (;;) {
    bl::term t = co_await bl::receive<bl::term>();
    if (t.is_tuple() && t.size() == 2 && t[0].is_pid())
      bl::send(t[0].as_pid(), bl::term::tuple({bl::atom("tock"), bl::dist::node_name(), ++count}));
  }
}

// Registers a clock server under the global name, or waits for whoever holds it to go.
bl::process candidate(bl::atom client) {
  const std::string me(bl::dist::node_name().name());
  while (!co_await bl::dist::connect_node(client)) co_await bl::sleep(50ms);
  co_await global::sync();
  for (;;) {
    const bl::pid server = bl::spawn(clock_server);
    const bl::ref watch = bl::monitor(server);
    if (co_await global::register_name(bl::term(clock_name), server)) {
      std::printf("%s: serving clock\n", me.c_str());
      std::fflush(stdout);
      // Serves until the server ends: killed after a name conflict (two parts of
      // the cluster that each registered `clock` met; global kept the other one).
      co_await bl::receive([](const bl::down_message&) {});
      std::printf("%s: lost clock to a name conflict\n", me.c_str());
      std::fflush(stdout);
      continue;
    }
    bl::demonitor(watch, {.flush = true});
    bl::exit(server, bl::term(bl::atom("kill")));
    const std::optional<bl::pid> holder = global::whereis_name(bl::term(clock_name));
    if (!holder) {
      co_await bl::sleep(50ms);  // the name went meanwhile: try again
      continue;
    }
    bl::monitor(*holder);
    co_await bl::receive([](const bl::down_message&) {});  // the holder or its node is gone
  }
}

// --- the client -------------------------------------------------------------------------

using examples::end_program;

struct cluster {
  std::string tag, cookie;
  std::string s1, s2, erlang;
  pid_t s1_pid = -1, s2_pid = -1, erlang_pid = -1;
};

// Calls the clock by its global name; the node that answered, or nullopt.
bl::task<std::optional<std::string>> call_clock() {
  const std::optional<bl::pid> clock = global::whereis_name(bl::term(clock_name));
  if (!clock) co_return std::nullopt;
  bl::send(*clock, bl::term::tuple({bl::self(), bl::atom("tick")}));
  std::optional<std::string> answered;
  co_await bl::receive(
      bl::when([](const bl::term& t) { return t.is_tuple() && t.size() == 3 && t[1].is_atom(); },
               [&](const bl::term& t) { answered = std::string(t[1].as_atom().name()); }),
      bl::after(2s, [] {}));
  co_return answered;
}

// Waits (up to 20 s) until the clock answers from a node other than `not_on`.
bl::task<std::optional<std::string>> wait_for_clock(std::string not_on) {
  for (int i = 0; i < 400; ++i) {
    std::optional<std::string> on = co_await call_clock();
    if (on && *on != not_on) co_return on;
    co_await bl::sleep(50ms);
  }
  co_return std::nullopt;
}

// An Erlang node that looks the clock up through its own global and reports to the
// client's registered process `report` which node answered, each time it is asked.
pid_t start_erlang(const cluster& c) {
  const std::string client(bl::dist::node_name().name());
  const std::string code =
      "true = net_kernel:connect_node('" + client +
      "'), ok = global:sync(), "
      "Loop = fun L() -> receive ask -> "
      "  Answer = case global:whereis_name(clock) of "
      "    undefined -> undefined; "
      "    P -> P ! {self(), tick}, receive {tock, N, _} -> N after 2000 -> timeout end end, "
      "  {report, '" +
      client +
      "'} ! {erlang_sees, Answer}, L(); "
      "stop -> halt(0) end end, "
      "register(asker, self()), {report, '" +
      client + "'} ! erlang_ready, Loop().";
  return examples::start_program(
      "erl", {"erl", "-noshell", "-name", c.erlang, "-setcookie", c.cookie, "-eval", code});
}

// Asks the Erlang node which node serves the clock (nullopt: no Erlang node).
bl::task<std::optional<std::string>> erlang_sees(const cluster& c, std::string expected) {
  for (int i = 0; i < 100; ++i) {
    bl::dist::send(bl::atom("asker"), bl::atom(c.erlang), bl::term(bl::atom("ask")));
    std::optional<std::string> seen;
    co_await bl::receive(
        bl::when([](const bl::term& t) { return t.is_tuple() && t.size() == 2 && t[1].is_atom(); },
                 [&](const bl::term& t) { seen = std::string(t[1].as_atom().name()); }),
        bl::after(5s, [] {}));
    if (seen == expected) co_return seen;
    co_await bl::sleep(100ms);
  }
  co_return std::string("nothing");
}

bool all_ok = false;

bl::process client(cluster* c) {
  bl::register_name(bl::atom("report"), bl::self());
  const std::string me(bl::dist::node_name().name());
  c->s1_pid = examples::start_program(
      "/proc/self/exe", {"global_names", "--name", c->s1, "--cookie", c->cookie, "--serve", me});
  c->s2_pid = examples::start_program(
      "/proc/self/exe", {"global_names", "--name", c->s2, "--cookie", c->cookie, "--serve", me});
  const std::vector<std::string> servers{c->s1, c->s2};
  for (const std::string& n : servers) {
    bool up = false;
    for (int i = 0; i < 200 && !up; ++i) {
      up = co_await bl::dist::connect_node(bl::atom(n));
      if (!up) co_await bl::sleep(50ms);
    }
    if (!up) {
      std::printf("cannot reach %s\n", n.c_str());
      bl::stop_node();
      co_return;
    }
  }
  co_await global::sync();
  const std::optional<std::string> first = co_await wait_for_clock("");
  if (!first) {
    std::printf("nobody serves the clock\n");
    bl::stop_node();
    co_return;
  }
  std::printf("the clock is served by %s\n", first->c_str());

  bool erlang = false;
  c->erlang_pid = start_erlang(*c);
  if (c->erlang_pid > 0) {
    co_await bl::receive(
        bl::when([](const bl::term& t) { return t == bl::term(bl::atom("erlang_ready")); },
                 [&](const bl::term&) { erlang = true; }),
        bl::after(30s, [] {}));
  }
  if (erlang) {
    const std::optional<std::string> seen = co_await erlang_sees(*c, *first);
    std::printf("an Erlang node's global resolves the clock on %s\n", seen->c_str());
  } else {
    std::printf("(no erl here: the Erlang node is left out)\n");
  }
  std::fflush(stdout);

  const bool first_is_s1 = *first == c->s1;
  std::printf("killing %s (SIGKILL)\n", first->c_str());
  std::fflush(stdout);
  end_program(first_is_s1 ? c->s1_pid : c->s2_pid, SIGKILL);
  (first_is_s1 ? c->s1_pid : c->s2_pid) = -1;
  const std::optional<std::string> second = co_await wait_for_clock(*first);
  if (!second) {
    std::printf("the clock did not move\n");
    bl::stop_node();
    co_return;
  }
  std::printf("the clock moved from %s to %s\n", first->c_str(), second->c_str());
  bool erlang_agrees = true;
  if (erlang) {
    const std::optional<std::string> seen = co_await erlang_sees(*c, *second);
    erlang_agrees = seen == second;
    std::printf("the Erlang node now resolves it on %s\n", seen->c_str());
    bl::dist::send(bl::atom("asker"), bl::atom(c->erlang), bl::term(bl::atom("stop")));
  }
  all_ok = erlang_agrees;
  std::printf(all_ok ? "global_names ok\n" : "global_names FAILED\n");
  std::fflush(stdout);
  co_await bl::sleep(100ms);
  bl::stop_node();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bl::node_options options = bl::node_options::from_args(argc, argv);
    std::optional<bl::dist::options> dist = bl::dist::options::from_args(argc, argv);
    const std::optional<std::string> serve = examples::option_value(argc, argv, "--serve");
    if (serve && !dist) {
      std::fprintf(stderr,
                   "usage: global_names\n"
                   "       global_names --name NAME --cookie C --serve CLIENT_NODE\n");
      return 2;
    }
    cluster c;
    if (!serve) {  // the client, which starts the others
      c.tag = std::to_string(::getpid());
      c.cookie = "global_names" + c.tag;
      c.s1 = "s1_" + c.tag + "@127.0.0.1";
      c.s2 = "s2_" + c.tag + "@127.0.0.1";
      c.erlang = "e_" + c.tag + "@127.0.0.1";
      dist = examples::first_node("client" + c.tag, c.cookie);
    }
    bl::node node(options);
    bl::dist::start(node, *dist);
    if (serve) {
      node.spawn(candidate, bl::atom(*serve));
      return node.run();
    }
    node.spawn(client, &c);
    const int status = node.run();
    end_program(c.s1_pid, SIGTERM);
    end_program(c.s2_pid, SIGTERM);
    end_program(c.erlang_pid, SIGTERM);  // erl stops on SIGTERM (it halted already if asked)
    return status == 0 && all_ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "global_names: %s\n", e.what());
    return 1;
  }
}
