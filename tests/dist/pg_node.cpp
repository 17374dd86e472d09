// pg_node: a beamline node with a pg scope, driven by tests/dist/pg_interop_test.py.
//
//   pg_node --name NAME --cookie C [--connect NODE]... [--join GROUP]...
//
// Starts distribution and the default pg scope, connects to each NODE, and starts one
// member process per --join, joined to the (atom) group GROUP. Registers `probe`,
// which answers:
//   {From, members, Group}    -> From ! {members, Group, Pids}   (pg::get_members)
//   {From, spawn_join, Group} -> a new member joined to Group; From ! {joined, Group, Pid}
//   {From, stop_one, Group}   -> one of this node's members of Group ends (normally);
//                                From ! {stopped, Group, Pid | none}
// Prints "ready NAME" once all that is done; runs until killed.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "beamline/beamline.hpp"
#include "beamline/dist.hpp"
#include "beamline/pg.hpp"

namespace bl = beamline;
namespace pg = bl::pg;

namespace {

std::vector<std::string> connect_to, groups;

bl::process member(bl::atom group, bl::pid report) {
  co_await pg::join(group, bl::self());
  if (report != bl::pid()) bl::send(report, bl::term::tuple({bl::atom("member"), bl::self()}));
  co_await bl::receive([](bl::atom) {});  // stop
}

// Starts a member of `group` and waits until it has joined.
bl::task<bl::pid> start_member(bl::atom group) {
  const bl::pid p = bl::spawn(member, group, bl::self());
  co_await bl::receive(bl::when(
      [p](const bl::term& t) { return t.is_tuple() && t.size() == 2 && t[1] == bl::term(p); },
      [](const bl::term&) {}));
  co_return p;
}

bl::process probe() {
  bl::register_name(bl::atom("probe"), bl::self());
  const bl::atom members("members"), spawn_join("spawn_join"), stop_one("stop_one");
  for (;;) {
    bl::term t = co_await bl::receive<bl::term>();
    if (!t.is_tuple() || t.size() != 3 || !t[0].is_pid() || !t[1].is_atom() || !t[2].is_atom())
      continue;
    const bl::pid from = t[0].as_pid();
    const bl::atom verb = t[1].as_atom(), group = t[2].as_atom();
    if (verb == members) {
      std::vector<bl::term> pids;
      for (const bl::pid& p : pg::get_members(group)) pids.emplace_back(p);
      bl::send(from, bl::term::tuple({members, group, bl::term::list(std::move(pids))}));
    } else if (verb == spawn_join) {
      const bl::pid p = co_await start_member(group);
      bl::send(from, bl::term::tuple({bl::atom("joined"), group, p}));
    } else if (verb == stop_one) {
      const std::vector<bl::pid> local = pg::get_local_members(group);
      if (local.empty()) {
        bl::send(from, bl::term::tuple({bl::atom("stopped"), group, bl::atom("none")}));
      } else {
        bl::send(local.front(), bl::atom("stop"));
        bl::send(from, bl::term::tuple({bl::atom("stopped"), group, local.front()}));
      }
    }
  }
}

bl::process start_up() {
  auto scope = co_await pg::start(pg::default_scope());
  if (!scope.is_ok()) {
    std::fprintf(stderr, "pg_node: the pg scope did not start: %s\n",
                 scope.to_term().to_string().c_str());
    bl::stop_node();
    co_return;
  }
  for (const std::string& node : connect_to) {
    if (!co_await bl::dist::connect_node(bl::atom(node))) {
      std::fprintf(stderr, "pg_node: cannot connect to %s\n", node.c_str());
      bl::stop_node();
      co_return;
    }
  }
  for (const std::string& group : groups) co_await start_member(bl::atom(group));
  bl::spawn(probe);
  co_await bl::sleep(std::chrono::milliseconds(1));  // probe has registered
  std::printf("ready %s\n", std::string(bl::dist::node_name().name()).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    for (int i = 1; i + 1 < argc; ++i) {
      if (std::strcmp(argv[i], "--connect") == 0)
        connect_to.emplace_back(argv[++i]);
      else if (std::strcmp(argv[i], "--join") == 0)
        groups.emplace_back(argv[++i]);
    }
    bl::node node(bl::node_options::from_args(argc, argv));
    auto dist = bl::dist::options::from_args(argc, argv);
    if (!dist) {
      std::fprintf(stderr,
                   "usage: pg_node --name NAME --cookie C [--connect NODE]... [--join GROUP]...\n");
      return 2;
    }
    bl::dist::start(node, *dist);
    node.spawn(start_up);
    return node.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg_node: %s\n", e.what());
    return 1;
  }
}
