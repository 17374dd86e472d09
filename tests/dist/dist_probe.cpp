// dist_probe: the initiating side of a distribution connection, checked against a
// node that runs echo_node's contract (a beamline echo_node, or erl_peer.escript
// serve on a real Erlang node).
//
//   dist_probe --name NAME --cookie C --peer NODE [--erlang-peer] [--watch]
//   dist_probe --name NAME --cookie C --mesh NODE,NODE,...
//   dist_probe --name NAME --cookie C --hidden --hidden-at NODE
//   dist_probe --name NAME --cookie C --flood NODE [--schedulers 1]
//
// Connects to NODE (this node makes the connection: the initiator's handshake),
// then sends, calls, links and monitors across it; prints "ok <case>" per check and
// "probe ok" at the end, or "FAIL ..." and exits 1. With --watch: links to and
// monitors a child of NODE's echo, monitors NODE, prints "watching", and expects
// noconnection for both and {nodedown, NODE} once NODE is killed ("watch ok").
// With --mesh: connects to each NODE in turn, none of which is connected to another
// yet, and expects connect_all to join them all: every NODE's erlang:nodes() comes
// to list every other NODE and this one ("mesh ok"). With --hidden-at (and --hidden):
// connects to NODE and expects to be in NODE's nodes(hidden) and not in its nodes(),
// NODE not in this node's nodes() either, and no mesh ("hidden ok"). With --flood:
// connects to NODE, prints "connected", waits a second (the test stops NODE with
// SIGSTOP meanwhile), then one process sends 3,000 messages of 64 KiB to a name NODE
// does not have while another watches: the sender must come to a stop well short of
// the end with this node's memory grown by far less than what it sent, printing
// "blocked" (the test then resumes NODE), and then finish ("flood ok").
#include <beamline/beamline.hpp>
#include <beamline/otp/gen_server.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace bl = beamline;
using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(const char* what, bool ok, const std::string& detail = {}) {
  if (ok) {
    std::printf("ok %s\n", what);
  } else {
    std::printf("FAIL %s %s\n", what, detail.c_str());
    ++failures;
  }
  std::fflush(stdout);
}

const bl::atom echo_name("echo");

// A gen_server call in Erlang's wire shapes to {echo, Peer}; nullopt on timeout.
bl::task<std::optional<bl::term>> call(bl::atom peer, bl::term request) {
  const bl::ref tag = bl::make_ref();
  bl::dist::send(
      echo_name, peer,
      bl::term::tuple({bl::atom("$gen_call"), bl::term::tuple({bl::self(), tag}), request}));
  std::optional<bl::term> reply;
  co_await bl::receive(
      bl::when([&](const bl::term& t) { return t.is_tuple() && t.size() == 2 && t[0] == tag; },
               [&](const bl::term& t) { reply = t[1]; }),
      bl::after(5s, [] {}));
  co_return reply;
}

bl::process probe(bl::atom peer, bool erlang_peer) {
  check("connect_node", co_await bl::dist::connect_node(peer));
  const auto nodes = bl::dist::nodes();
  check("nodes", std::find(nodes.begin(), nodes.end(), peer) != nodes.end());

  const bl::term terms[] = {
      bl::atom("hello"),
      bl::term(-5),
      bl::term::integer_from_string("123456789012345678901234567890"),
      bl::term(2.5),
      bl::term::binary("bytes"),
      bl::term::string("chars"),
      bl::term::tuple({bl::atom("a"), bl::term::list({1, 2, 3})}),
      bl::term::map({{bl::atom("k"), bl::term::binary("v")}}),
      bl::term(bl::self()),
      bl::term(bl::make_ref()),
  };
  for (const bl::term& t : terms) {
    bl::dist::send(echo_name, peer, bl::term::tuple({bl::self(), t}));
    std::optional<bl::term> got;
    co_await bl::receive([&](const bl::term& m) { got = m; }, bl::after(5s, [] {}));
    check(("echo " + t.to_string()).c_str(), got && *got == t,
          got ? got->to_string() : std::string("timeout"));
  }

  auto echoed = co_await call(peer, bl::term::tuple({bl::atom("echo"), bl::term::list({1, 2})}));
  check("call echo", echoed && *echoed == bl::term::list({1, 2}));

  // bl::gen_server::call to {echo, Peer}: a monitor of the name, REG_SEND, the reply.
  const bl::pid remote_echo = bl::dist::registered(echo_name, peer);
  bl::term reply =
      co_await bl::gen_server::call(remote_echo, bl::term::tuple({bl::atom("echo"), 42}));
  check("gen_server::call {echo, Node}", reply == bl::term(42), reply.to_string());
  try {
    co_await bl::gen_server::call(bl::dist::registered(bl::atom("nobody_here"), peer),
                                  bl::atom("x"));
    check("gen_server::call to a missing name exits", false);
  } catch (const bl::call_exit& e) {
    check("gen_server::call to a missing name exits noproc",
          e.reason().is_tuple() && e.reason()[0] == bl::term(bl::atom("noproc")),
          e.reason().to_string());
  }
  {
    const bl::ref m = bl::monitor(bl::dist::registered(bl::atom("nobody_here"), peer));
    std::optional<bl::down_message> down;
    co_await bl::receive([&](const bl::down_message& d) { down = d; }, bl::after(5s, [] {}));
    check("monitor {missing, Node} is DOWN noproc",
          down && down->monitor == m && down->reason == bl::term(bl::atom("noproc")) &&
              down->from.is_remote_name(),
          down ? down->from.to_string() + " " + down->reason.to_string() : std::string("timeout"));
  }

  bl::trap_exit(true);
  auto child = co_await call(peer, bl::term::tuple({bl::atom("spawn_linked_child")}));
  check("spawn_linked_child", child && child->is_pid() && !child->as_pid().is_local());
  if (child && child->is_pid()) {
    const bl::pid c = child->as_pid();
    bl::link(c);
    bl::send(c, bl::atom("die"));
    std::optional<bl::exit_message> exited;
    co_await bl::receive([&](const bl::exit_message& e) { exited = e; }, bl::after(5s, [] {}));
    check("link exit died",
          exited && exited->from == c && exited->reason == bl::term(bl::atom("died")),
          exited ? exited->reason.to_string() : std::string("timeout"));

    bl::ref m = bl::monitor(c);
    std::optional<bl::down_message> down;
    co_await bl::receive([&](const bl::down_message& d) { down = d; }, bl::after(5s, [] {}));
    check("monitor dead pid",
          down && down->monitor == m && down->reason == bl::term(bl::atom("noproc")),
          down ? down->reason.to_string() : std::string("timeout"));
  }

  auto child2 = co_await call(peer, bl::term::tuple({bl::atom("spawn_linked_child")}));
  if (child2 && child2->is_pid()) {
    const bl::pid c = child2->as_pid();
    bl::ref m = bl::monitor(c);
    bl::exit(c, bl::atom("kill"));
    std::optional<bl::down_message> down;
    co_await bl::receive([&](const bl::down_message& d) { down = d; }, bl::after(5s, [] {}));
    check("exit kill, monitor sees killed",
          down && down->monitor == m && down->from == c &&
              down->reason == bl::term(bl::atom("killed")),
          down ? down->reason.to_string() : std::string("timeout"));
  } else {
    check("spawn_linked_child again", false);
  }

  auto child3 = co_await call(peer, bl::term::tuple({bl::atom("spawn_linked_child")}));
  if (child3 && child3->is_pid()) {
    const bl::pid c = child3->as_pid();
    bl::link(c);
    bl::unlink(c);
    bl::ref m = bl::monitor(c);
    bl::send(c, bl::atom("die"));
    std::optional<bl::down_message> down;
    co_await bl::receive([&](const bl::down_message& d) { down = d; }, bl::after(5s, [] {}));
    check("unlinked child ends", down && down->monitor == m);
    bool exit_came = false;
    co_await bl::receive([&](const bl::exit_message&) { exit_came = true; },
                         bl::after(200ms, [] {}));
    check("no exit after unlink", !exit_came);
  }

  // erpc from this node: an exported C++ function on a beamline peer, a BIF on an
  // Erlang one; errors and undef either way.
  auto error_reason = [&](bl::atom m, bl::atom f,
                          bl::term args) -> bl::task<std::optional<bl::term>> {
    try {
      co_await bl::dist::call(peer, m, f, std::move(args));
    } catch (const bl::error& e) {
      co_return e.reason();
    }
    co_return std::nullopt;
  };
  if (erlang_peer) {
    bl::term r = co_await bl::dist::call(peer, bl::atom("lists"), bl::atom("reverse"),
                                         bl::term::list({bl::term::list({1, 2, 3})}));
    check("dist::call lists:reverse", r == bl::term::list({3, 2, 1}), r.to_string());
    bl::term n =
        co_await bl::dist::call(peer, bl::atom("erlang"), bl::atom("node"), bl::term::nil());
    check("dist::call erlang:node", n == bl::term(peer), n.to_string());
    auto raised = co_await error_reason(bl::atom("erlang"), bl::atom("error"),
                                        bl::term::list({bl::atom("boom")}));
    check("dist::call error", raised && *raised == bl::term(bl::atom("boom")));
    bl::term printed =
        co_await bl::dist::call(peer, bl::atom("io"), bl::atom("format"),
                                bl::term::list({bl::term::string("printed by the peer~n")}));
    check("dist::call io:format (net_kernel is the group leader)",
          printed == bl::term(bl::atom("ok")));
  } else {
    bl::term r = co_await bl::dist::call(peer, bl::atom("echo_node"), bl::atom("echo"),
                                         bl::term::list({bl::atom("x")}));
    check("dist::call echo_node:echo", r == bl::term(bl::atom("x")), r.to_string());
    auto raised = co_await error_reason(bl::atom("echo_node"), bl::atom("fail"), bl::term::nil());
    check("dist::call error", raised && *raised == bl::term(bl::atom("failed_on_purpose")));
  }
  // Aliases. A call that gives up at once: the reply comes later, to an alias the
  // call has deactivated, and must not reach this process's mailbox.
  try {
    co_await bl::gen_server::call(remote_echo, bl::term::tuple({bl::atom("echo"), 7}), 0ms);
    check("a call with timeout 0 times out", false);
  } catch (const bl::call_exit& e) {
    check("a call with timeout 0 times out", e.reason()[0] == bl::term(bl::atom("timeout")),
          e.reason().to_string());
  }
  bl::term late =
      co_await bl::gen_server::call(remote_echo, bl::term::tuple({bl::atom("echo"), 8}));
  check("a call after it", late == bl::term(8), late.to_string());
  std::optional<bl::term> stray;
  co_await bl::receive([&](const bl::term& m) { stray = m; }, bl::after(300ms, [] {}));
  check("the late reply was dropped", !stray, stray ? stray->to_string() : std::string());
  if (erlang_peer) {
    // The peer sends to an alias of ours (ALIAS_SEND), while it is active and after.
    const bl::ref al = bl::alias();
    auto peer_send = [&](bl::term to, bl::term message) {
      return bl::dist::call(peer, bl::atom("erlang"), bl::atom("send"),
                            bl::term::list({std::move(to), std::move(message)}));
    };
    co_await peer_send(al, bl::atom("through_alias"));
    std::optional<bl::term> got;
    co_await bl::receive([&](const bl::term& m) { got = m; }, bl::after(5s, [] {}));
    check("a message to an alias from Erlang", got && *got == bl::term(bl::atom("through_alias")),
          got ? got->to_string() : std::string("timeout"));
    bl::unalias(al);
    co_await peer_send(al, bl::atom("after_unalias"));
    co_await peer_send(bl::self(), bl::atom("marker"));
    std::vector<bl::term> queued;
    co_await bl::receive([&](const bl::term& m) { queued.push_back(m); }, bl::after(5s, [] {}));
    for (;;) {
      bool more = co_await bl::receive(
          [&](const bl::term& m) {
            queued.push_back(m);
            return true;
          },
          bl::after(100ms, [] { return false; }));
      if (!more) break;
    }
    check("nothing through an alias after unalias",
          queued == std::vector<bl::term>{bl::term(bl::atom("marker"))},
          bl::term::list(queued).to_string());
  }

  auto undef = co_await error_reason(bl::atom("no_such_module"), bl::atom("f"), bl::term::nil());
  check("dist::call undef", undef && *undef == bl::term(bl::atom("undef")),
        undef ? undef->to_string() : std::string("no error"));

  std::printf(failures == 0 ? "probe ok\n" : "probe failed\n");
  std::fflush(stdout);
  bl::stop_node();
}

bl::process watch(bl::atom peer) {
  bl::trap_exit(true);
  auto child = co_await call(peer, bl::term::tuple({bl::atom("spawn_linked_child")}));
  check("spawn_linked_child", child && child->is_pid());
  if (!child || !child->is_pid()) {
    bl::stop_node();
    co_return;
  }
  const bl::pid c = child->as_pid();
  bl::link(c);
  const bl::ref m = bl::monitor(c);
  bl::dist::monitor_node(peer, true);
  std::printf("watching\n");
  std::fflush(stdout);
  std::optional<bl::exit_message> exited;
  co_await bl::receive([&](const bl::exit_message& e) { exited = e; }, bl::after(60s, [] {}));
  check("link noconnection",
        exited && exited->from == c && exited->reason == bl::term(bl::atom("noconnection")));
  std::optional<bl::down_message> down;
  co_await bl::receive([&](const bl::down_message& d) { down = d; }, bl::after(5s, [] {}));
  check("monitor noconnection",
        down && down->monitor == m && down->reason == bl::term(bl::atom("noconnection")));
  bool nodedown = false;
  co_await bl::receive(bl::when(
                           [&](const bl::term& t) {
                             return t == bl::term::tuple({bl::atom("nodedown"), peer});
                           },
                           [&](const bl::term&) { nodedown = true; }),
                       bl::after(5s, [] {}));
  check("nodedown", nodedown);
  std::printf(failures == 0 ? "watch ok\n" : "watch failed\n");
  std::fflush(stdout);
  bl::stop_node();
}

bl::process hidden_at(bl::atom peer) {
  check("connect_node", co_await bl::dist::connect_node(peer));
  const bl::term me(bl::dist::node_name());
  auto listed = [&](bl::term kinds) -> bl::task<bool> {
    const bl::term arguments = kinds.is_nil() ? bl::term::nil() : bl::term::list({kinds});
    const bl::term nodes =
        co_await bl::dist::call(peer, bl::atom("erlang"), bl::atom("nodes"), arguments, 5s);
    for (const bl::term& n : nodes.as_list())
      if (n == me) co_return true;
    co_return false;
  };
  check("not in the peer's nodes()", !co_await listed(bl::term::nil()));
  check("in the peer's nodes(hidden)", co_await listed(bl::atom("hidden")));
  const auto mine = bl::dist::nodes();
  check("the peer not in nodes() here", std::find(mine.begin(), mine.end(), peer) == mine.end());
  // A mesh would connect this node to the peer's other nodes: ask them, through the
  // peer (erpc:call from there), whether they have a connection to this one.
  co_await bl::sleep(500ms);
  const bl::term others =
      co_await bl::dist::call(peer, bl::atom("erlang"), bl::atom("nodes"), bl::term::nil(), 5s);
  int asked = 0;
  bool meshed = false;
  for (const bl::term& other : others.as_list()) {
    const bl::term connected =
        co_await bl::dist::call(peer, bl::atom("erpc"), bl::atom("call"),
                                bl::term::list({other, bl::atom("erlang"), bl::atom("nodes"),
                                                bl::term::list({bl::atom("connected")})}),
                                5s);
    ++asked;
    for (const bl::term& n : connected.as_list()) meshed = meshed || n == me;
  }
  check("no mesh from a hidden node", asked > 0 && !meshed,
        "asked " + std::to_string(asked) + " nodes");
  std::printf(failures == 0 ? "hidden ok\n" : "hidden failed\n");
  std::fflush(stdout);
  bl::stop_node();
}

long resident_kib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

std::atomic<long> flood_sent{0};
constexpr long flood_messages = 3000;

bl::process flood_sender(bl::atom peer) {
  const bl::term payload = bl::term::binary(std::string(64 * 1024, 'f'));
  for (long i = 0; i < flood_messages; ++i) {
    bl::dist::send(bl::atom("nobody_here"), peer, bl::term::tuple({i, payload}));
    flood_sent.store(i + 1);
  }
  co_return;
}

bl::process flood(bl::atom peer) {
  check("connect_node", co_await bl::dist::connect_node(peer));
  std::printf("connected\n");
  std::fflush(stdout);
  co_await bl::sleep(1s);
  const long before = resident_kib();
  bl::spawn(flood_sender, peer);
  // Blocked: no progress for a second.
  long last = -1, still = 0;
  for (int i = 0; i < 600 && still < 10; ++i) {
    co_await bl::sleep(100ms);
    const long now = flood_sent.load();
    still = now == last ? still + 1 : 0;
    last = now;
  }
  const long grown_kib = resident_kib() - before;
  check("the sender waits for the connection", last < flood_messages,
        std::to_string(last) + " of " + std::to_string(flood_messages) + " sent");
  // 3,000 x 64 KiB would be 190 MB queued; the limit keeps it to a few.
  check("memory stays bounded", grown_kib < 48 * 1024,
        "grew by " + std::to_string(grown_kib / 1024) + " MB after " + std::to_string(last) +
            " messages");
  std::printf("blocked after %ld messages, memory +%ld MB\n", last, grown_kib / 1024);
  std::fflush(stdout);
  for (int i = 0; i < 600 && flood_sent.load() < flood_messages; ++i) co_await bl::sleep(100ms);
  check("every message went once the peer read again", flood_sent.load() == flood_messages);
  std::printf(failures == 0 ? "flood ok\n" : "flood failed\n");
  std::fflush(stdout);
  bl::stop_node();
}

bl::process mesh(std::vector<bl::atom> members) {
  for (bl::atom n : members)
    check(("connect " + std::string(n.name())).c_str(), co_await bl::dist::connect_node(n));
  std::vector<bl::atom> everyone = members;
  everyone.push_back(bl::dist::node_name());
  for (bl::atom n : members) {
    // What n should list: everyone but itself.
    std::vector<bl::atom> expected;
    for (bl::atom other : everyone)
      if (other != n) expected.push_back(other);
    std::string last;
    bool joined = false;
    for (int tries = 0; tries < 100 && !joined; ++tries) {
      try {
        const bl::term listed =
            co_await bl::dist::call(n, bl::atom("erlang"), bl::atom("nodes"), bl::term::nil(), 5s);
        last = listed.to_string();
        joined = true;
        for (bl::atom e : expected) {
          bool found = false;
          for (const bl::term& t : listed.as_list()) found = found || t == bl::term(e);
          joined = joined && found;
        }
      } catch (const std::exception& e) {
        last = e.what();
      }
      if (!joined) co_await bl::sleep(100ms);
    }
    check(("mesh at " + std::string(n.name())).c_str(), joined, last);
  }
  std::printf(failures == 0 ? "mesh ok\n" : "mesh failed\n");
  std::fflush(stdout);
  bl::stop_node();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bl::node node(bl::node_options::from_args(argc, argv));
    auto dist = bl::dist::options::from_args(argc, argv);
    std::string peer;
    std::vector<bl::atom> members;
    std::string hidden_peer, flood_peer;
    bool watching = false, erlang_peer = false;
    for (int i = 1; i < argc; ++i) {
      if (std::string(argv[i]) == "--peer" && i + 1 < argc) peer = argv[i + 1];
      if (std::string(argv[i]) == "--mesh" && i + 1 < argc) {
        std::string list = argv[i + 1];
        for (std::size_t at = 0; at <= list.size();) {
          std::size_t comma = list.find(',', at);
          if (comma == std::string::npos) comma = list.size();
          if (comma > at) members.emplace_back(list.substr(at, comma - at));
          at = comma + 1;
        }
      }
      if (std::string(argv[i]) == "--watch") watching = true;
      if (std::string(argv[i]) == "--hidden-at" && i + 1 < argc) hidden_peer = argv[i + 1];
      if (std::string(argv[i]) == "--flood" && i + 1 < argc) flood_peer = argv[i + 1];
      if (std::string(argv[i]) == "--erlang-peer") erlang_peer = true;
    }
    if (!dist || (peer.empty() && members.empty() && hidden_peer.empty() && flood_peer.empty())) {
      std::fprintf(stderr,
                   "usage: dist_probe --name NAME --cookie C (--peer NODE | --mesh NODE,...)\n");
      return 2;
    }
    bl::dist::start(node, *dist);
    if (!flood_peer.empty())
      node.spawn(flood, bl::atom(flood_peer));
    else if (!hidden_peer.empty())
      node.spawn(hidden_at, bl::atom(hidden_peer));
    else if (!members.empty())
      node.spawn(mesh, std::move(members));
    else if (watching)
      node.spawn(watch, bl::atom(peer));
    else
      node.spawn(probe, bl::atom(peer), erlang_peer);
    node.run();
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dist_probe: %s\n", e.what());
    return 1;
  }
}
