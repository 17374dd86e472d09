// os_signals.hpp: SIGTERM, SIGINT and SIGQUIT for running nodes
// (node_options::handle_os_signals; docs/guide.md, "Stopping a node").
//
//   SIGTERM, SIGINT  an orderly shutdown, as Erlang's init:stop(): the processes
//                    spawned from outside the node (node::spawn), newest first, get
//                    an exit signal `shutdown`, and each, with the processes linked to
//                    it (a supervision tree's top supervisor), is waited for; then
//                    run() returns and the node's destructor ends what is left. A
//                    second such signal stops the node at once.
//   SIGQUIT          a dump of every process (pid, name, status with its wait reason
//                    and co_await site, initial call, queue, links) on stderr; the
//                    node keeps running.
//
// The handlers only write the signal's number into a pipe (async-signal-safe); a
// thread of this module reads it and acts through processes it spawns on each
// running node. The handlers are installed while a node that handles signals runs
// and the previous ones are put back when the last such node's run() returns.
#pragma once

namespace beamline::detail {

class node_runtime;

// While alive: `node` is running, and receives the signals above.
class os_signal_scope {
 public:
  explicit os_signal_scope(node_runtime& node);
  ~os_signal_scope();
  os_signal_scope(const os_signal_scope&) = delete;
  os_signal_scope& operator=(const os_signal_scope&) = delete;

 private:
  node_runtime* node_;
};

}  // namespace beamline::detail
