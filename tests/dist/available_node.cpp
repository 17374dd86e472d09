// available_node: a beamline node with the available registry's default scope,
// driven line by line on its standard input by tests/dist/available_cluster_test.py.
//
//   available_node --name NAME --cookie C [--net-ticktime S] [--resolver older]
//
// (--resolver older: the scope resolves conflicts with a resolver that keeps the
// older registration, the opposite of the default rule.)
// Starts distribution and the scope, subscribes a process that prints each event
// ("event registered|unregistered NAME ID REASON", "event conflict NAME KEPT
// DISCARDED"), prints "ready NAME", then answers one line per command:
//   connect NODE     -> "connect NODE true|false"
//   register NAME    -> a new holder (it waits to be killed) registers itself under
//                       the atom NAME with this node's name as meta:
//                       "register NAME yes ID" or "register NAME no" (ID: node/id/serial)
//   unregister NAME  -> "unregister NAME true|false"
//   kill NAME        -> this node's holder of NAME, if any, is killed: "kill NAME ID|none"
//   dump             -> "dump NAME=ID ..." every name this node knows, sorted
//   nodes            -> "nodes NODE ..." the nodes it is connected to
//   garbage NODE     -> malformed messages to NODE's scope server: "garbage NODE sent"
// and prints "down ID REASON" when one of its holders ends. Ends at end of input.
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "beamline/available.hpp"
#include "beamline/beamline.hpp"
#include "beamline/dist.hpp"

namespace bl = beamline;
namespace av = bl::names::available;

namespace {

std::mutex out_lock;
void say(const std::string& line) {
  std::lock_guard guard(out_lock);
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

std::string id_of(bl::atom node, const bl::pid& p) {
  return std::string(node.name()) + "/" + std::to_string(p.id) + "/" + std::to_string(p.serial);
}
std::string id_of(const bl::term& p) {
  const bl::pid process = p.as_pid();
  const bl::atom node =
      process.is_local() ? bl::dist::node_name() : bl::atom::from_index(process.node_atom());
  return id_of(node, process);
}

bl::process holder() {
  co_await bl::receive([](bl::atom) {});
}

bl::process printer(bl::pid ready) {
  co_await av::subscribe(av::default_scope());
  bl::send(ready, bl::atom("subscribed"));
  for (;;) {
    // {available, Scope, Kind, Name, Pid, Meta, Reason} and
    // {available, Scope, conflict, Name, Kept, Discarded}
    bl::term e = co_await bl::receive<bl::term>();
    const std::string kind(e[2].as_atom().name());
    if (kind == "conflict")
      say("event conflict " + e[3].to_string() + " " + id_of(e[4]) + " " + id_of(e[5]));
    else
      say("event " + kind + " " + e[3].to_string() + " " + id_of(e[4]) + " " + e[6].to_string());
  }
}

bool keep_older = false;  // --resolver older

bl::process control() {
  av::resolver method;
  if (keep_older)
    method = [](const bl::term& name, const av::registration& older, const av::registration&) {
      (void)av::whereis_name(av::default_scope(), name);  // a resolver may look names up
      return older.process;
    };
  auto started = co_await av::start(av::default_scope(), method);
  if (!started.is_ok()) {
    say("error: the scope did not start: " + started.to_term().to_string());
    bl::stop_node();
    co_return;
  }
  bl::spawn(printer, bl::self());
  co_await bl::receive([](bl::atom) {});  // subscribed
  bl::register_name(bl::atom("control"), bl::self());
  say("ready " + std::string(bl::dist::node_name().name()));
  const bl::atom me = bl::dist::node_name();
  std::map<std::string, bl::pid> holders;  // by name: this node's holders
  for (;;) {
    bl::term t;
    co_await bl::receive(
        [&](const bl::down_message& d) {
          say("down " + id_of(me, d.from) + " " + d.reason.to_string());
        },
        [&](bl::term line) { t = std::move(line); });
    if (!t.is_binary()) continue;
    std::istringstream words(std::string(t.as_binary()));
    std::string verb, arg;
    words >> verb >> arg;
    if (verb == "eof") {
      bl::stop_node();
      co_return;
    } else if (verb == "connect") {
      const bool up = co_await bl::dist::connect_node(bl::atom(arg));
      say("connect " + arg + (up ? " true" : " false"));
    } else if (verb == "register") {
      const bl::pid p = bl::spawn(holder);
      bl::monitor(p);
      if (av::register_name(av::default_scope(), bl::atom(arg), p, me)) {
        holders[arg] = p;
        say("register " + arg + " yes " + id_of(me, p));
      } else {
        bl::exit(p, bl::atom("kill"));
        say("register " + arg + " no");
      }
    } else if (verb == "unregister") {
      const bool done = av::unregister_name(av::default_scope(), bl::atom(arg));
      say("unregister " + arg + (done ? " true" : " false"));
    } else if (verb == "kill") {
      auto it = holders.find(arg);
      if (it == holders.end()) {
        say("kill " + arg + " none");
      } else {
        bl::exit(it->second, bl::atom("kill"));
        say("kill " + arg + " " + id_of(me, it->second));
        holders.erase(it);
      }
    } else if (verb == "garbage") {
      // Malformed messages to NODE's scope server: it must drop them and go on. Some
      // claim to come from this node's scope server (a peer there), some from this
      // process (not a peer, and not one while this node's server is).
      const bl::pid me_pid = bl::self();
      const bl::pid server = *bl::whereis(av::default_scope());
      const std::vector<bl::term> junk{
          bl::term(42),
          bl::term::tuple({}),
          bl::term::parse("{ops}"),
          bl::term::parse("{ops, not_a_pid, []}"),
          bl::term::tuple({bl::atom("ops"), me_pid, bl::atom("x")}),
          bl::term::tuple({bl::atom("ops"), server, bl::atom("x")}),
          bl::term::tuple({bl::atom("ops"), server,
                           bl::term::parse("[1, {register}, {register, a, b, c, d}, "
                                           "{unregister, a, b}, {register, a, 7, m, t}]")}),
          bl::term::tuple({bl::atom("ops"), me_pid, bl::term::parse("[{unregister, a, b, c}]")}),
          bl::term::tuple({bl::atom("discover"), me_pid}),
          bl::term::tuple({bl::atom("sync"), me_pid,
                           bl::term::parse("[{a}, 7, {n, x, y, 99999999999999999999999}]")}),
          bl::term::parse("{sync, 1, 2}"),
          bl::term::parse("{discover, 12}"),
          bl::term::parse("{registered_local, a, b, c, d}"),
          bl::term::parse("{unregistered_local, a, 1}"),
          bl::term::parse("{'DOWN', 1, 2, 3, 4}"),
          bl::term::parse("{nodeup, \"x\"}"),
          bl::atom("flush")};
      for (const bl::term& j : junk) bl::dist::send(av::default_scope(), bl::atom(arg), j);
      say("garbage " + arg + " sent");
    } else if (verb == "nodes") {
      std::string line = "nodes";
      for (bl::atom n : bl::dist::nodes()) line += " " + std::string(n.name());
      say(line);
    } else if (verb == "dump") {
      auto all = av::registrations(av::default_scope());
      std::map<std::string, std::string> sorted;
      for (const auto& [name, r] : all) sorted[name.to_string()] = id_of(r.node, r.process);
      std::string line = "dump";
      for (const auto& [name, id] : sorted) line += " " + name + "=" + id;
      say(line);
    } else {
      say("error: unknown command " + verb);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    for (int i = 1; i + 1 < argc; ++i)
      if (std::string(argv[i]) == "--resolver") keep_older = std::string(argv[i + 1]) == "older";
    bl::node node(bl::node_options::from_args(argc, argv));
    auto dist = bl::dist::options::from_args(argc, argv);
    if (!dist) {
      std::fprintf(stderr,
                   "usage: available_node --name NAME --cookie C [--net-ticktime S] "
                   "[--resolver older]\n");
      return 2;
    }
    bl::dist::start(node, *dist);
    const bl::pid control_pid = node.spawn(control);
    std::thread reader([&node, control_pid] {
      std::string line;
      while (std::getline(std::cin, line)) node.send(control_pid, bl::term::binary(line));
      node.send(control_pid, bl::term::binary("eof"));
    });
    reader.detach();
    return node.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "available_node: %s\n", e.what());
    return 1;
  }
}
