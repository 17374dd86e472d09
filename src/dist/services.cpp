// services.cpp: what this node answers for other nodes (spawn requests for exported
// functions and erpc, net_kernel, rex, the erpc builtins, the mesh on nodeup) and
// dist::call and dist::export_function (beamline/dist.hpp). See distribution.hpp;
// global_name_server is in global.cpp.
#include <algorithm>
#include <map>
#include <vector>

#include "beamline/otp/gen_server.hpp"
#include "dist/distribution.hpp"
#include "observer/erlang_tools.hpp"

namespace beamline::dist::internal {

// --- spawn requests (rpc:call, erpc, spawn/4 from other nodes) ------------------------

enum class spawn_kind {
  erpc_call,  // erpc:execute_call(Ref, M, F, A): exit with {Ref, return | throw | exit | error,
              // ...}
  erpc_cast,  // erpc:execute_cast(M, F, A)
  direct,     // M:F(A...) itself
};

// [{M, F, A, []}]: the stack erpc reports for an error in M:F(A).
term call_stack(const term& m, const term& f, const term& a) {
  return term::list({term::tuple({m, f, a, term::nil()})});
}

// A process of this node started by another node's spawn request: it waits for the
// go-ahead (sent once the SPAWN_REPLY is queued, so that nothing of it overtakes the
// reply), then runs the exported function `module`:`function`.
process spawned_function(spawn_kind kind, term module, term function, term arguments,
                         term result_ref) {
  co_await receive([](const spawn_go&) {});
  exported_task f = exports().find(module.as_atom(), function.as_atom());
  if (kind == spawn_kind::erpc_call) {
    term reply;
    if (!f) {
      reply = term::tuple(
          {result_ref, atoms::error, atoms::undef, call_stack(module, function, arguments)});
    } else {
      try {
        term value = co_await f(arguments);
        reply = term::tuple({result_ref, atom("return"), value});
      } catch (...) {
        bool exited = false;
        const term reason = beamline::detail::exception_reason(std::current_exception(), exited);
        reply = exited ? term::tuple({result_ref, atom("exit"), reason})
                       : term::tuple({result_ref, atoms::error, reason,
                                      call_stack(module, function, arguments)});
      }
    }
    // The reply is the exit reason (erpc reads it from the DOWN): not a crash to report.
    beamline::detail::current_process("rpc").mark_reported();
    exit(reply);
  }
  if (!f) exit(term::tuple({atoms::undef, call_stack(module, function, arguments)}));
  co_await f(arguments);
}

// SPAWN_REQUEST {29, ReqId, From, GroupLeader, {M, F, Arity}, Options} + Args: spawns
// the process, sets up the link and the monitor (whose reference is ReqId) asked for,
// answers SPAWN_REPLY {31, ReqId, From, Flags, Pid}, then lets the process run.
void spawn_requested(distribution& d, connection& c, std::span<const term> f, term arguments) {
  const term& request = f[1];
  const pid from = peer_pid(c, f[2], "the spawning process");
  const term& mfa = f[4];
  const term& options = f[5];
  if (!request.is_ref() || !mfa.is_tuple() || mfa.size() != 3 || !mfa[0].is_atom() ||
      !mfa[1].is_atom() || !mfa[2].is_integer() || !options.is_proper_list() ||
      !arguments.is_proper_list())
    throw wire::packet_error("a malformed spawn request " +
                             term::tuple({f[1], f[4], f[5]}).to_string());
  bool link = false, monitor = false;
  for (const term& o : options.as_list()) {
    if (o == term(atom("link"))) link = true;
    if (o == term(atom("monitor")) ||
        (o.is_tuple() && o.size() == 2 && o[0] == term(atom("monitor"))))
      monitor = true;
  }
  spawn_kind kind = spawn_kind::direct;
  term module = mfa[0], function = mfa[1], args = arguments, result_ref;
  std::vector<term> list;
  for (const term& a : arguments.as_list()) list.push_back(a);
  if (mfa[0] == term(atom("erpc")) && mfa[1] == term(atom("execute_call")) && list.size() == 4 &&
      list[1].is_atom() && list[2].is_atom() && list[3].is_proper_list()) {
    kind = spawn_kind::erpc_call;
    result_ref = list[0];
    module = list[1];
    function = list[2];
    args = list[3];
  } else if (mfa[0] == term(atom("erpc")) && mfa[1] == term(atom("execute_cast")) &&
             list.size() == 3 && list[0].is_atom() && list[1].is_atom() &&
             list[2].is_proper_list()) {
    kind = spawn_kind::erpc_cast;
    module = list[0];
    function = list[1];
    args = list[2];
  }
  node_runtime& runtime = d.runtime();
  pid child;
  try {
    child = spawn(spawned_function, kind, module, function, args, result_ref);
  } catch (const std::exception&) {
    d.enqueue(c, term::tuple({op::spawn_reply, request, from, 0, atoms::system_limit}), nullptr);
    return;
  }
  int flags = 0;
  if (link) {
    {
      guard held(c.lock);
      c.links.insert(link_pair{child, from});
    }
    deliver_local(runtime, child,
                  beamline::detail::make_control_signal(signal_kind::link, from, {}, 0));
    flags |= 1;
  }
  if (monitor) {
    deliver_local(
        runtime, child,
        beamline::detail::make_control_signal(signal_kind::monitor, from, request.as_ref(), 0));
    flags |= 2;
  }
  d.enqueue(c, term::tuple({op::spawn_reply, request, from, flags, child}), nullptr);
  deliver_local(runtime, child,
                beamline::detail::make_signal<std::tuple<spawn_go>>(signal_kind::message));
}

// connect_all: with `peer` newly up, this node connects to the visible nodes `peer` is
// connected to, and asks `peer` to connect to this node's others (through
// erlang:nodes/0 and net_kernel:connect_node/1, which Erlang nodes and this node both
// answer), so that every visible node of the two sides ends up connected to every
// other. A node that cannot be asked is left as it is.
process mesh_with(atom peer) {
  const std::chrono::milliseconds timeout = running()->opts().setup_time;
  std::vector<atom> theirs;
  try {
    const term listed = co_await call(peer, atom("erlang"), atom("nodes"), term::nil(), timeout);
    if (listed.is_proper_list())
      for (const term& n : listed.as_list())
        if (n.is_atom()) theirs.push_back(n.as_atom());
  } catch (const std::exception&) {
    co_return;  // gone, or not a node that answers erlang:nodes/0
  }
  for (atom n : theirs) running()->connection_for(n, true);
  for (atom n : running()->visible_nodes()) {
    if (n == peer || std::find(theirs.begin(), theirs.end(), n) != theirs.end()) continue;
    // The argument list is built before the co_await: g++ 12 cannot compile an
    // initializer-list temporary inside one ("array used as initializer").
    const term arguments = term::list({n});
    try {
      co_await call(peer, atom("net_kernel"), atom("connect_node"), arguments, timeout);
    } catch (const std::exception&) {
      co_return;
    }
  }
}

// Appends Erlang chardata (code points, binaries, nested lists of them) to `out` as
// UTF-8; false for anything else.
bool append_chardata(const term& data, std::string& out, int depth = 0) {
  if (depth > 100) return false;
  if (data.is_binary()) {
    out += data.as_binary();
    return true;
  }
  if (data.is_integer()) {
    const std::int64_t c = data.as_int();
    if (c < 0 || !beamline::detail::utf8::is_scalar_value(static_cast<char32_t>(c))) return false;
    beamline::detail::utf8::append(out, static_cast<char32_t>(c));
    return true;
  }
  if (!data.is_list()) return false;
  for (const term& piece : data.as_list())
    if (!append_chardata(piece, out, depth + 1)) return false;
  return true;
}

// Writes an io request's characters to stdout.
bool print_chars(const term& chars) {
  std::string text;
  if (!append_chardata(chars, text)) return false;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return true;
}

// An Erlang io request {io_request, From, ReplyAs, Request} from a process of another
// node whose group leader is net_kernel (the processes this node's calls spawn):
// put_chars is printed on stdout; a formatted one ({put_chars, [Encoding,] M, F, A},
// as io:format sends) is formatted by calling M:F(A...) on the requester's own node,
// where the format's module lives. Anything else is refused.
process io_request_process(term request) {
  const pid from = request[1].as_pid();
  const term& what = request[3];
  term reply = term::tuple({atoms::error, atom("request")});
  if (what.is_tuple() && what[0] == term(atom("put_chars"))) {
    if (what.size() == 2 || what.size() == 3) {
      if (print_chars(what[what.size() - 1])) reply = atoms::ok;
    } else if (const std::size_t m = what.size() - 3;  // {put_chars, [Encoding,] M, F, A}
               (what.size() == 4 || what.size() == 5) && what[m].is_atom() &&
               what[m + 1].is_atom() && what[m + 2].is_proper_list()) {
      try {
        const term chars = co_await call(atom::from_index(from.node), what[m].as_atom(),
                                         what[m + 1].as_atom(), what[m + 2]);
        if (print_chars(chars)) reply = atoms::ok;
      } catch (const std::exception&) {
        reply = term::tuple({atoms::error, atom("format")});
      }
    }
  }
  send(from, term::tuple({atom("io_reply"), request[2], reply}));
}

process net_kernel_process() {
  register_name(atom("net_kernel"), self());
  const atom is_auth("is_auth");
  for (;;) {
    co_await receive(
        [](connect_request r) { spawn(connect_handshake, std::move(r.c)); },
        [&](const term& t) {
          // {io_request, From, ReplyAs, Request}: net_kernel is the group leader of the
          // processes this node's calls spawn on other nodes; their output is printed.
          if (t.is_tuple() && t.size() == 4 && t[0] == term(atom("io_request")) && t[1].is_pid() &&
              !t[1].as_pid().is_local()) {
            spawn(io_request_process, t);
            return;
          }
          // {'$gen_call', {From, Tag}, Request}
          if (!(t.is_tuple() && t.size() == 3 && t[0] == term(atoms::gen_call) && t[1].is_tuple() &&
                t[1].size() == 2 && t[1][0].is_pid()))
            return;
          const term& request = t[2];
          term reply =
              request.is_tuple() && request.size() == 2 && request[0] == term(is_auth)
                  ? term(atoms::yes)
                  : term::tuple({atoms::error, term::tuple({atom("unsupported"), request})});
          gen_server::reply(t[1], std::move(reply));
        });
  }
}

process rex_process() {
  register_name(atom("rex"), self());
  const atom features_request("features_request");
  for (;;) {
    co_await receive([&](const term& t) {
      if (t.is_tuple() && t.size() == 2 && t[0].is_pid() && t[1] == term(features_request))
        send(t[0].as_pid(),
             term::tuple({atom("features_reply"), running()->self_name(), term::nil()}));
    });
  }
}

// --- start --------------------------------------------------------------------------

// erlang:nodes/0,1 as erlang answers it: [] or [Kind] with Kind visible, hidden,
// connected, this or a list of them.
term nodes_builtin(const term& args) {
  distribution& d = *running();
  // The one argument, if any: a kind or a list of kinds.
  std::vector<term> kinds;
  if (args.is_proper_list() && !args.is_nil()) {
    const term kind = *args.as_list().begin();
    if (kind.is_proper_list()) {
      for (const term& k : kind.as_list()) kinds.push_back(k);
    } else {
      kinds.push_back(kind);
    }
  } else {
    kinds.push_back(atom("visible"));
  }
  bool visible = false, hidden = false, own = false;
  for (const term& k : kinds) {
    if (k == term(atom("visible"))) {
      visible = true;
    } else if (k == term(atom("hidden"))) {
      hidden = true;
    } else if (k == term(atom("connected"))) {
      visible = hidden = true;
    } else if (k == term(atom("this"))) {
      own = true;
    } else if (k != term(atom("known"))) {
      throw error(atoms::badarg, "erlang:nodes: not a kind of node: " + k.to_string());
    }
  }
  std::vector<term> out;
  if (own) out.push_back(d.self_name());
  for (atom n : d.connected_nodes(visible, hidden)) out.push_back(n);
  return term::list(out);
}

// The functions every node answers over erpc besides the exported ones: what
// connect_all asks (erlang:nodes/0,1 and net_kernel:connect_node/1, which starts a
// connection and answers true at once rather than when it is up).
void export_builtins() {
  export_function("erlang", "nodes", nodes_builtin);
  observer::export_erlang_tools();  // etop and observer see this node
  export_function("net_kernel", "connect_node", [](const term& args) -> term {
    const term& node = args.is_proper_list() && !args.is_nil() ? *args.as_list().begin() : args;
    if (!node.is_atom()) throw error(atoms::badarg, "net_kernel:connect_node: " + node.to_string());
    return term(atom(running()->connection_for(node.as_atom(), true) != nullptr ||
                             node.as_atom() == running()->self_name()
                         ? "true"
                         : "false"));
  });
}

}  // namespace beamline::dist::internal

namespace beamline::dist {

using namespace internal;

task<term> call(atom node, atom module, atom function, term arguments,
                std::chrono::milliseconds timeout) {
  distribution* d = running();
  const atom erpc("erpc");
  auto erpc_error = [&](const char* what) {
    return error(term::tuple({erpc, atom(what)}),
                 std::string("dist::call to ") + std::string(node.name()) + ": " + what);
  };
  if (d == nullptr) throw erpc_error("noconnection");
  if (!arguments.is_proper_list())
    throw error(term::tuple({erpc, atoms::badarg}), "dist::call: the arguments are not a list");
  std::shared_ptr<connection> c = d->connection_for(node, true);
  if (!c) throw erpc_error("noconnection");
  beamline::detail::process_control& me = beamline::detail::current_process("dist::call");
  const pid caller = self();
  const ref request = make_ref();
  const ref result = make_ref();
  beamline::detail::expect_down(me, request, pid{});
  {
    guard held(c->lock);
    c->monitors.emplace(request, link_pair{caller, pid{}});
  }
  // The group leader of the remote process is net_kernel, which answers its output
  // requests (io:format prints on this node's stdout).
  const term control =
      term::tuple({op::spawn_request, request, caller, d->net_kernel(),
                   term::tuple({erpc, atom("execute_call"), 4}), term::list({atom("monitor")})});
  const term args = term::list({result, module, function, arguments});
  if (!d->enqueue(*c, control, &args)) {
    beamline::detail::request_demonitor(me, request);
    throw erpc_error("noconnection");
  }
  std::optional<term> reason;
  co_await receive(when([&](const down_message& m) { return m.monitor == request; },
                        [&](down_message m) { reason = std::move(m.reason); }),
                   after(timeout, [] {}));
  if (!reason) {
    beamline::detail::request_demonitor(me, request);
    guard held(c->lock);
    c->monitors.erase(request);
    throw erpc_error("timeout");
  }
  const term& r = *reason;
  if (r.is_tuple() && r.size() >= 3 && r[0] == term(result)) {
    if (r[1] == term(atom("return"))) co_return r[2];
    if (r[1] == term(atoms::error) && r.size() == 4)
      throw error(r[2], "dist::call: " + std::string(module.name()) + ":" +
                            std::string(function.name()) + " raised " + r[2].to_string());
    if (r[1] == term(atoms::error))  // {Res, error, {erpc, Reason}}
      throw error(r[2], "dist::call: " + r[2].to_string());
    throw error(term::tuple({r[1], r[2]}), "dist::call: " + std::string(module.name()) + ":" +
                                               std::string(function.name()) + " ended with " +
                                               term::tuple({r[1], r[2]}).to_string());
  }
  if (r.is_tuple() && r.size() == 2 && r[0] == term(atom("spawn_reply")))
    throw error(term::tuple({erpc, r[1]}), "dist::call: the spawn failed: " + r[1].to_string());
  if (r == term(atoms::noconnection)) throw erpc_error("noconnection");
  throw error(term::tuple({atom("signal"), r}),
              "dist::call: the call's process ended with " + r.to_string());
}

namespace {

// A plain exported function as a task (its parameters live in the coroutine's
// frame, not in a lambda that may be gone when it runs).
task<term> run_plain(exported_function f, term arguments) {
  co_return f(arguments);
}

}  // namespace

void export_function(std::string_view module, std::string_view function, exported_function f) {
  exports().put(atom(module), atom(function),
                [f = std::move(f)](term arguments) { return run_plain(f, std::move(arguments)); });
}

void export_task(std::string_view module, std::string_view function, exported_task f) {
  exports().put(atom(module), atom(function), std::move(f));
}

}  // namespace beamline::dist
