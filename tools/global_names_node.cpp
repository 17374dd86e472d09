// global_names_node: a beamline node that takes part in a cluster's names, for
// programs that test and measure them (docs/names.md, "global_names_node").
//
//   global_names_node --name NAME --cookie C [--connect NODE]... [--register G]...
//                     [--join Scope:Group]...
//
// Connects to each NODE, waits until `global` has exchanged names with the cluster,
// registers under the global name G (an atom) a process that waits for the message
// `die` and then exits with reason `died` (one per --register), and starts one
// process that joins each pg group Group of scope Scope (both atoms; each scope's
// server is started here). Registers locally the process `names`, which answers:
//   {From, whereis, G}           -> From ! {whereis, G, Pid | undefined}
//   {From, register, G}          -> a new process (as for --register) is registered
//                                   under G: From ! {registered, G, yes, Pid}, or
//                                   From ! {registered, G, no, undefined} (the
//                                   process then ends)
//   {From, members, Scope, Group} -> From ! {members, Scope, Group, Pids}
// Prints "ready NAME" when all that is done; runs until killed.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "beamline/beamline.hpp"
#include "beamline/dist.hpp"
#include "beamline/global.hpp"
#include "beamline/pg.hpp"

namespace bl = beamline;
namespace global = bl::names::global;

namespace {

std::vector<std::string> connect_to, to_register, to_join;

// Holds a global name until told `die`.
bl::process holder() {
  co_await bl::receive(bl::when([](const bl::term& t) { return t == bl::term(bl::atom("die")); },
                                [](const bl::term&) {}));
  bl::exit(bl::term(bl::atom("died")));
}

// Starts a holder and registers it under `name`: its pid, or nullopt (it then ends).
bl::task<std::optional<bl::pid>> register_holder(bl::term name) {
  const bl::pid p = bl::spawn(holder);
  if (co_await global::register_name(name, p)) co_return p;
  bl::exit(p, bl::term(bl::atom("kill")));
  co_return std::nullopt;
}

bl::process names() {
  bl::register_name(bl::atom("names"), bl::self());
  const bl::atom whereis("whereis"), registered("registered"), register_("register"),
      members("members");
  for (;;) {
    bl::term t = co_await bl::receive<bl::term>();
    if (!t.is_tuple() || t.size() < 3 || !t[0].is_pid() || !t[1].is_atom()) continue;
    const bl::pid from = t[0].as_pid();
    const bl::atom verb = t[1].as_atom();
    if (verb == whereis && t.size() == 3) {
      const std::optional<bl::pid> p = global::whereis_name(t[2]);
      bl::send(from, bl::term::tuple(
                         {whereis, t[2], p ? bl::term(*p) : bl::term(bl::atom("undefined"))}));
    } else if (verb == register_ && t.size() == 3) {
      const std::optional<bl::pid> p = co_await register_holder(t[2]);
      bl::send(from, bl::term::tuple({registered, t[2], bl::atom(p ? "yes" : "no"),
                                      p ? bl::term(*p) : bl::term(bl::atom("undefined"))}));
    } else if (verb == members && t.size() == 4 && t[2].is_atom()) {
      std::vector<bl::term> pids;
      for (const bl::pid& p : bl::pg::get_members(t[2].as_atom(), t[3])) pids.emplace_back(p);
      bl::send(from, bl::term::tuple({members, t[2], t[3], bl::term::list(std::move(pids))}));
    }
  }
}

// Joins every --join group and stays.
bl::process joiner(std::vector<std::pair<bl::atom, bl::atom>> groups) {
  for (const auto& [scope, group] : groups)
    co_await bl::pg::join(scope, bl::term(group), bl::self());
  for (;;) co_await bl::receive<bl::term>();
}

bl::process start_up() {
  std::vector<std::pair<bl::atom, bl::atom>> groups;
  std::map<bl::atom, bool> scopes;
  for (const std::string& spec : to_join) {
    const auto colon = spec.find(':');
    const bl::atom scope(spec.substr(0, colon)), group(spec.substr(colon + 1));
    groups.emplace_back(scope, group);
    if (scopes.emplace(scope, true).second) {
      auto started = co_await bl::pg::start(scope);
      if (!started.is_ok())
        std::fprintf(stderr, "global_names_node: pg scope %s: %s\n", spec.substr(0, colon).c_str(),
                     started.to_term().to_string().c_str());
    }
  }
  for (const std::string& node : connect_to)
    if (!co_await bl::dist::connect_node(bl::atom(node)))
      std::fprintf(stderr, "global_names_node: cannot connect to %s\n", node.c_str());
  co_await global::sync();
  for (const std::string& g : to_register)
    if (!co_await register_holder(bl::term(bl::atom(g))))
      std::fprintf(stderr, "global_names_node: the global name %s is taken\n", g.c_str());
  if (!groups.empty()) bl::spawn(joiner, groups);
  bl::spawn(names);
  co_await bl::sleep(std::chrono::milliseconds(1));  // `names` has registered
  std::printf("ready %s\n", std::string(bl::dist::node_name().name()).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    for (int i = 1; i + 1 < argc; ++i) {
      if (std::strcmp(argv[i], "--connect") == 0) {
        connect_to.emplace_back(argv[++i]);
      } else if (std::strcmp(argv[i], "--register") == 0) {
        to_register.emplace_back(argv[++i]);
      } else if (std::strcmp(argv[i], "--join") == 0) {
        const std::string spec = argv[++i];
        const auto colon = spec.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
          throw std::invalid_argument("--join takes Scope:Group, not " + spec);
        to_join.push_back(spec);
      }
    }
    bl::node node(bl::node_options::from_args(argc, argv));
    auto dist = bl::dist::options::from_args(argc, argv);
    if (!dist) {
      std::fprintf(stderr,
                   "usage: global_names_node --name NAME --cookie C [--connect NODE]... "
                   "[--register G]... [--join Scope:Group]...\n");
      return 2;
    }
    bl::dist::start(node, *dist);
    node.spawn(start_up);
    return node.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "global_names_node: %s\n", e.what());
    return 1;
  }
}
