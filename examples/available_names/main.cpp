// available_names: a name that stays available when nodes cannot agree
// (bl::names::available), with conflicts resolved when they meet again.
//
//   build/release/bin/available_names
//
// This process becomes the node watcher<os pid>@127.0.0.1, starts the registry's
// default scope, subscribes to its events and prints them. It starts two more nodes
// of itself, s1 and s2. Each registers the name `primary` for a server of its own
// *before* it joins the others: both registrations succeed, as they would on the
// two sides of a partition. When the nodes meet, the registry resolves the
// conflict the same way on every node: the most recent registration keeps the
// name, and the other server ends with reason {name_conflict, primary, Meta,
// Winner}; its node's candidate then waits as the standby. The watcher calls
// `primary` by name, kills the node that serves it (SIGKILL), and calls it again:
// the standby has taken the name on the other node. Exit status 0 when all is well.
//
// The nodes find each other through EPMD ($ERL_EPMD_PORT or 4369); when none answers,
// the first node starts beamline-epmd, which stays, as epmd does for Erlang.
#include <signal.h>
#include <beamline/available.hpp>
#include <beamline/beamline.hpp>

#include "../common/programs.hpp"

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

namespace bl = beamline;
namespace av = bl::names::available;
using namespace std::chrono_literals;

namespace {

const bl::atom primary("primary");

std::string node_of(const bl::pid& p) {
  if (p.is_local()) return std::string(bl::dist::node_name().name());
  return std::string(bl::atom::from_index(p.node_atom()).name());
}

// --- a service node ---------------------------------------------------------------------

// The service: answers {From, who} with {primary, Node}.
bl::process server() {
  for (;;) {
    bl::term t = co_await bl::receive<bl::term>();
    if (t.is_tuple() && t.size() == 2 && t[0].is_pid())
      bl::send(t[0].as_pid(), bl::term::tuple({primary, bl::dist::node_name()}));
  }
}

// Keeps a server registered as `primary`, or waits while another node's holds it.
bl::process candidate(bl::atom watcher) {
  const std::string me(bl::dist::node_name().name());
  bool joined = false;
  for (;;) {
    const bl::pid s = bl::spawn(server);
    if (av::register_name(av::default_scope(), bl::term(primary), s, bl::dist::node_name())) {
      std::printf("%s: registered primary%s\n", me.c_str(), joined ? "" : " (alone)");
      std::fflush(stdout);
      const bl::ref watch = bl::monitor(s);
      // Joins the cluster after registering, the first time: as if it had been cut
      // off from the others.
      while (!joined) {
        joined = co_await bl::dist::connect_node(watcher);
        if (!joined) co_await bl::sleep(50ms);
      }
      bl::term reason;
      co_await bl::receive(bl::when([&](const bl::down_message& d) { return d.monitor == watch; },
                                    [&](const bl::down_message& d) { reason = d.reason; }));
      std::printf("%s: my server ended: %s\n", me.c_str(), reason.to_string().c_str());
      std::fflush(stdout);
      continue;
    }
    bl::exit(s, bl::term(bl::atom("kill")));
    const std::optional<bl::pid> holder = av::whereis_name(av::default_scope(), bl::term(primary));
    if (!holder) {
      co_await bl::sleep(50ms);  // the name went meanwhile: try again
      continue;
    }
    const bl::ref watch = bl::monitor(*holder);
    co_await bl::receive(bl::when([&](const bl::down_message& d) { return d.monitor == watch; },
                                  [](const bl::down_message&) {}));  // it, or its node, is gone
  }
}

bl::process service_node(bl::atom watcher) {
  co_await av::start(av::default_scope());
  bl::spawn(candidate, watcher);
  co_await bl::receive([](bl::atom) {});  // runs until the watcher ends it
}

// --- the watcher --------------------------------------------------------------------------

// Prints the registry's events as this node sees them.
bl::process printer() {
  co_await av::subscribe(av::default_scope());
  for (;;) {
    const bl::term e = co_await bl::receive<bl::term>();
    // {available, Scope, registered | unregistered, Name, Pid, Meta, Reason}
    // {available, Scope, conflict, Name, Kept, Discarded}
    const std::string kind(e[2].as_atom().name());
    if (kind == "conflict")
      std::printf("event: conflict over %s: kept the one on %s, the one on %s lost it\n",
                  e[3].to_string().c_str(), node_of(e[4].as_pid()).c_str(),
                  node_of(e[5].as_pid()).c_str());
    else
      std::printf("event: %s %s on %s (%s)\n", kind.c_str(), e[3].to_string().c_str(),
                  node_of(e[4].as_pid()).c_str(), e[6].to_string().c_str());
    std::fflush(stdout);
  }
}

// Calls `primary` by name; the node that answered, or nullopt.
bl::task<std::optional<std::string>> call_primary() {
  const std::optional<bl::pid> p = av::whereis_name(av::default_scope(), bl::term(primary));
  if (!p) co_return std::nullopt;
  bl::send(*p, bl::term::tuple({bl::self(), bl::atom("who")}));
  std::optional<std::string> answered;
  co_await bl::receive(
      bl::when([](const bl::term& t) { return t.is_tuple() && t.size() == 2 && t[1].is_atom(); },
               [&](const bl::term& t) { answered = std::string(t[1].as_atom().name()); }),
      bl::after(2s, [] {}));
  co_return answered;
}

struct cluster {
  std::string cookie, s1, s2;
  pid_t s1_pid = -1, s2_pid = -1;
};

bool all_ok = false;

// Waits (up to 20 s) until both service nodes have joined and one process holds
// `primary`, and answers.
bl::task<bool> settled() {
  for (int i = 0; i < 400; ++i) {
    const std::vector<bl::atom> up = bl::dist::nodes();
    if (up.size() >= 2 && av::count(av::default_scope()) == 1 && co_await call_primary())
      co_return true;
    co_await bl::sleep(50ms);
  }
  co_return false;
}

bl::process watcher(cluster* c) {
  co_await av::start(av::default_scope());
  bl::spawn(printer);
  co_await bl::sleep(20ms);  // the printer has subscribed
  const std::string me(bl::dist::node_name().name());
  c->s1_pid = examples::start_program(
      "/proc/self/exe", {"available_names", "--name", c->s1, "--cookie", c->cookie, "--serve", me});
  co_await bl::sleep(100ms);  // s2 registers later: the most recent registration
  c->s2_pid = examples::start_program(
      "/proc/self/exe", {"available_names", "--name", c->s2, "--cookie", c->cookie, "--serve", me});
  if (!co_await settled()) {
    std::printf("the cluster did not settle on one primary\n");
    bl::stop_node();
    co_return;
  }
  co_await bl::sleep(500ms);  // (the losing server's end is printed by its node)
  const std::optional<std::string> first = co_await call_primary();
  std::printf("primary is served by %s\n", first->c_str());
  std::printf("killing %s (SIGKILL)\n", first->c_str());
  std::fflush(stdout);
  const bool first_is_s1 = *first == c->s1;
  examples::end_program(first_is_s1 ? c->s1_pid : c->s2_pid, SIGKILL);
  (first_is_s1 ? c->s1_pid : c->s2_pid) = -1;
  std::optional<std::string> second;
  for (int i = 0; i < 400 && (!second || *second == *first); ++i) {
    co_await bl::sleep(50ms);
    second = co_await call_primary();
  }
  if (!second || *second == *first) {
    std::printf("primary did not move\n");
    bl::stop_node();
    co_return;
  }
  std::printf("primary moved from %s to %s\n", first->c_str(), second->c_str());
  all_ok = true;
  std::printf("available_names ok\n");
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
                   "usage: available_names\n"
                   "       available_names --name NAME --cookie C --serve WATCHER_NODE\n");
      return 2;
    }
    cluster c;
    if (!serve) {  // the watcher, which starts the others
      const std::string tag = std::to_string(::getpid());
      c.cookie = "available_names" + tag;
      c.s1 = "s1_" + tag + "@127.0.0.1";
      c.s2 = "s2_" + tag + "@127.0.0.1";
      dist = examples::first_node("watcher" + tag, c.cookie);
    }
    bl::node node(options);
    bl::dist::start(node, *dist);
    if (serve) {
      node.spawn(service_node, bl::atom(*serve));
      return node.run();
    }
    node.spawn(watcher, &c);
    const int status = node.run();
    examples::end_program(c.s1_pid);
    examples::end_program(c.s2_pid);
    return status == 0 && all_ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "available_names: %s\n", e.what());
    return 1;
  }
}
