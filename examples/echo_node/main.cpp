// echo_node: a beamline node that Erlang and Elixir nodes (and other beamline
// nodes) talk to as to one of their own.
//
//   build/release/bin/echo_node --name cpp@127.0.0.1 --cookie secret
//
// It registers in EPMD and registers a process `echo` that
//   - on {From, Term} (From a pid) sends Term back to From unchanged;
//   - answers gen_server calls: {echo, T} -> T; {spawn_linked_child} -> the pid of a
//     new process that waits for `die` and then exits with reason `died` (echo is not
//     linked to it); {stop, Reason} -> ok, and then echo exits with Reason (the node
//     stays up).
// It also exports two C++ functions to rpc:call and erpc:call: echo_node:echo(X)
// returns X, echo_node:fail() raises the error failed_on_purpose.
// From Erlang:
//   erl -name e@127.0.0.1 -setcookie secret
//   > net_adm:ping('cpp@127.0.0.1').                              % pong
//   > {echo, 'cpp@127.0.0.1'} ! {self(), hello}, flush().          % Shell got hello
//   > gen_server:call({echo, 'cpp@127.0.0.1'}, {echo, [1, 2.5]}).   % [1,2.5]
//   > rpc:call('cpp@127.0.0.1', echo_node, echo, [<<"hi">>]).         % <<"hi">>
// It runs until killed.
#include <beamline/beamline.hpp>
#include <beamline/otp/gen_server.hpp>

#include <cstdio>

namespace bl = beamline;

bl::process child() {
  co_await bl::receive(bl::when([](const bl::term& t) { return t == bl::term(bl::atom("die")); },
                                [](const bl::term&) {}));
  bl::exit(bl::atom("died"));
}

// The reply to a gen_server call's request, and whether echo stops after it (with
// the reason in `stop_reason`).
bl::term answer(const bl::term& request, std::optional<bl::term>& stop_reason) {
  if (request.is_tuple() && request.size() == 2 && request[0] == bl::term(bl::atom("echo")))
    return request[1];
  if (request.is_tuple() && request.size() == 1 &&
      request[0] == bl::term(bl::atom("spawn_linked_child")))
    return bl::spawn(child);
  if (request.is_tuple() && request.size() == 2 && request[0] == bl::term(bl::atom("stop"))) {
    stop_reason = request[1];
    return bl::atom("ok");
  }
  return bl::term::tuple(
      {bl::atom("error"), bl::term::tuple({bl::atom("unknown_request"), request})});
}

bl::process echo() {
  bl::register_name(bl::atom("echo"), bl::self());
  const bl::term gen_call(bl::atom("$gen_call"));
  for (;;) {
    std::optional<bl::term> stop_reason;
    co_await bl::receive([&](const bl::term& t) {
      if (!t.is_tuple() || t.size() < 2) return;
      if (t.size() == 3 && t[0] == gen_call && t[1].is_tuple() && t[1].size() == 2 &&
          t[1][0].is_pid()) {
        // {'$gen_call', {From, Tag}, Request}: the reply is {Tag, Reply}, Tag as it came,
        // sent as OTP's gen_server:reply sends it (to the caller's alias, if it has one).
        bl::gen_server::reply(t[1], answer(t[2], stop_reason));
      } else if (t.size() == 2 && t[0].is_pid()) {
        bl::send(t[0].as_pid(), t[1]);
      }
    });
    if (stop_reason) bl::exit(*stop_reason);
  }
}

int main(int argc, char** argv) {
  try {
    bl::node node(bl::node_options::from_args(argc, argv));
    std::optional<bl::dist::options> dist = bl::dist::options::from_args(argc, argv);
    if (!dist) {
      std::fprintf(stderr, "usage: echo_node --name NAME@HOST --cookie COOKIE\n");
      return 2;
    }
    bl::dist::start(node, *dist);
    bl::dist::export_function("echo_node", "echo", [](const bl::term& arguments) {
      if (arguments.is_nil() || !arguments.tail().is_nil())  // [X]
        throw bl::error(bl::atom("badarg"), "echo_node:echo takes one argument");
      return arguments.head();
    });
    bl::dist::export_function("echo_node", "fail", [](const bl::term&) -> bl::term {
      throw bl::error(bl::atom("failed_on_purpose"), "echo_node:fail was called");
    });
    node.spawn(echo);
    std::printf("echo_node: %s is up\n", std::string(bl::dist::node_name().name()).c_str());
    std::fflush(stdout);
    return node.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_node: %s\n", e.what());
    return 1;
  }
}
