// beamline/dist.hpp: distribution. A beamline node becomes a node of an Erlang
// cluster, speaking Erlang's own distribution protocol, so that it talks to other
// beamline nodes and to Erlang and Elixir nodes alike.
//
//     int main(int argc, char** argv) {
//       bl::node node(bl::node_options::from_args(argc, argv));
//       bl::dist::start(node, bl::dist::options::from_args(argc, argv));  // --name n@host ...
//       node.spawn(service);
//       return node.run();
//     }
//
// Once started, a pid may name a process of another node and everything works on it
// as on a local one: bl::send, link, monitor, exit(pid, reason); a message that
// crosses must be a bl::term or convert to one (atoms, integers, floats, pids,
// references, a type with `term to_term() const`; docs/distribution.md). Messages
// from other nodes arrive as one bl::term each. Connections are made on first use
// (or with connect_node), one per pair of nodes; when one is lost, links across it
// end with reason `noconnection` and monitors get a DOWN with that reason, as in
// Erlang.
//
// One distributed node per OS process (the node's name and creation are in every
// pid it encodes: bl::set_local_node_identity).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/node.hpp"
#include "beamline/pid.hpp"
#include "beamline/process.hpp"
#include "beamline/term.hpp"

namespace beamline::dist {

struct options {
  // This node's name: "name@host" (--name: long names, the host as given) or "name"
  // (--sname: short names, the host part is this machine's short host name).
  std::string name;
  bool short_names = false;
  // The magic cookie peers must share (--cookie); none: the contents of
  // ~/.erlang.cookie, which is created (20 random capitals, mode 0400) if missing,
  // as erl does.
  std::optional<std::string> cookie;
  // The port this node listens on for other nodes (--dist-port P, or --dist-port
  // LOW-HIGH for the first free one of a range); 0: any free port.
  std::uint16_t port_min = 0;
  std::uint16_t port_max = 0;
  // Register with EPMD and look peers up there. Without it (--no-epmd), every node
  // of the cluster listens on the same fixed port (port_min), as with OTP's
  // -erl_epmd_port, and the creation is a random number.
  bool epmd = true;
  // EPMD's port: $ERL_EPMD_PORT, else 4369. When nothing answers there, the node
  // starts beamline-epmd (a daemon, as erl starts epmd -daemon).
  std::uint16_t epmd_port = 4369;
  // net_ticktime (--net-ticktime SECONDS): a peer silent for this long is down; this
  // node writes a tick to a peer after a quarter of it without writing anything.
  std::chrono::seconds net_ticktime{60};
  // How long a connection set-up may take (OTP's net_setuptime).
  std::chrono::milliseconds setup_time{7000};
  // A hidden node (--hidden) is connected only to the nodes it talks to and is not
  // in their nodes().
  bool hidden = false;
  // Transitive connections (OTP's connect_all, on by default; --no-connect-all turns
  // it off): when a visible node connects, this node connects to the nodes that node
  // is connected to, and asks it to connect to this node's others, so that visible
  // nodes form a full mesh. Hidden nodes take no part.
  bool connect_all = true;
  // The largest message accepted from a peer; a larger one closes the connection.
  std::size_t max_message_size = std::size_t{256} << 20;
  // A connection's send buffer limit (OTP's +zdbbl, 1 MiB by default; --dist-buffer
  // BYTES, 0 for none): a process whose message finds more than this queued for the
  // peer waits until the writer has taken it, so that a peer that reads slowly, or
  // not at all, slows its senders instead of growing memory. Its worker goes on with
  // other processes meanwhile (a spare thread takes it, as for a preemption).
  // Signals sent by the runtime itself (exits, DOWNs) and sends from threads outside
  // processes never wait.
  std::size_t send_buffer_limit = std::size_t{1} << 20;

  // From --name, --sname, --cookie, --dist-port, --no-epmd, --net-ticktime, --hidden,
  // --no-connect-all and --dist-buffer (other arguments are left for the program); nullopt when
  // neither
  // --name nor --sname is given. Throws std::invalid_argument for a bad value.
  static std::optional<options> from_args(int argc, char** argv);
};

// Makes `node` a distributed node (call it before node.run()): listens for other
// nodes, registers with EPMD, and starts the node's services (net_kernel, so that
// net_adm:ping answers pong; rex). Throws std::runtime_error when that fails (the
// name is in use, no port is free, EPMD cannot be reached or started...) or when
// distribution is already started in this OS process.
void start(node& node, const options& options);

// This node's name ('nonode@nohost' before start).
atom node_name();
// The visible nodes this node is connected to now (Erlang's nodes()).
std::vector<atom> nodes();

// What the node's connections have carried since distribution started, over every
// connection, closed ones included: bytes read and written once a connection is up
// (the handshake not counted; ticks are), and control messages received and sent.
// All zero when the node is not distributed.
struct traffic {
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
};
traffic total_traffic();
// Connects to `node` unless already connected; true once the connection is up,
// false if it could not be made (as net_kernel:connect_node). In a process.
task<bool> connect_node(atom node);
// Closes the connection to `node` (links across it get noconnection); false if
// there was none.
bool disconnect_node(atom node);

// Erlang's {Name, Node}: the process registered as `name` on `node`, as a pid that
// bl::send, bl::monitor and gen_server calls take (pid::remote_name). A monitor of
// it gets a DOWN whose `from` is this pid (printed {Name,Node}), with reason noproc
// if nobody holds the name. Links and exit signals need a real pid.
//     bl::gen_server::call(bl::dist::registered(bl::atom("calls"), node), request)
inline pid registered(atom name, atom node) noexcept {
  return pid::remote_name(name.index(), node.index());
}

// Sends `message` to the process registered as `name` on `node` ({Name, Node} ! Msg).
// On this node's own name, the same as bl::send(name, ...) but silent if nobody
// holds the name.
void send(atom name, atom node, term message);

// Subscribes (or unsubscribes) the calling process to the term messages {nodeup,
// Node} and {nodedown, Node} for every visible or hidden node that connects or goes
// (net_kernel:monitor_nodes/1).
void monitor_nodes(bool on);
// The term message {nodedown, Node} once, when the connection to `node` goes, as
// erlang:monitor_node/2 (connecting first if there is no connection; at once if
// `node` cannot be reached).
void monitor_node(atom node, bool on);

// Calls Module:Function(Args...) on `node` (erpc:call from this node; `arguments` is
// the list of arguments) and returns its value. In a process. Throws bl::error with
// erpc's reasons: {erpc, noconnection} (the node cannot be reached or went away),
// {erpc, timeout}, {erpc, notsup} (the node takes no spawn requests); an error
// raised by the function throws bl::error with its reason, an exit or a throw
// {exit, Reason} or {throw, Value}. On a timeout the remote call goes on, its result
// is dropped.
task<term> call(atom node, atom module, atom function, term arguments,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));

// A C++ function other nodes call as Module:Function(Args...): with rpc:call,
// erpc:call and erpc:cast, and spawn(Node, Module, Function, Args). Each call runs
// in a new process of this node; the function gets the arguments as a list term and
// returns the result. An exception it throws is the call's error, as an Erlang
// function's would be: erpc:call raises error with bl::error's reason (or {exception,
// {Type, What}} for another exception), rpc:call returns {badrpc, {'EXIT', ...}}; a
// function nobody exported is `undef`. Any arity: check the list's length yourself.
// Exporting a name again replaces the function.
using exported_function = std::function<term(const term& arguments)>;
void export_function(std::string_view module, std::string_view function, exported_function f);
// The same for a function that waits (receives, sleeps, calls): a coroutine run in
// the call's process, which may co_await anything a process can.
using exported_task = std::function<task<term>(term arguments)>;
void export_task(std::string_view module, std::string_view function, exported_task f);

}  // namespace beamline::dist
