// epmd_client.hpp: talking to EPMD, the port mapper every Erlang host runs on port
// 4369 (docs/epmd.md has the protocol).
//
// Registration (ALIVE2_REQ, answered ALIVE2_X_RESP with the node's creation) happens
// once, in dist::start, before any process runs: plain blocking sockets with a
// timeout, so that a name in use is an exception from start. Its socket must stay
// open for the node's life (closing it unregisters the name). Lookups
// (PORT_PLEASE2_REQ) happen in the process that connects to another node, on
// beamline's IO.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "beamline/net/address.hpp"
#include "beamline/process.hpp"

namespace beamline::dist::detail {

struct epmd_registration {
  int socket = -1;  // keep open for the node's life
  std::uint32_t creation = 0;
};

enum class epmd_register_status { registered, unreachable, refused };

struct epmd_register_result {
  epmd_register_status status = epmd_register_status::unreachable;
  epmd_registration registration;
  std::string problem;  // what went wrong, for the exception dist::start throws
};

// Registers `alive` (the name before the @) listening on `port` with the EPMD on
// 127.0.0.1:epmd_port. unreachable: nothing listens there (start one and retry);
// refused: it answered with an error (the name is in use).
epmd_register_result epmd_register(std::uint16_t epmd_port, const std::string& alive,
                                   std::uint16_t port, bool hidden,
                                   std::chrono::milliseconds timeout);

// Starts beamline-epmd (from the running program's directory, else from PATH) as a
// daemon on `epmd_port`, or, failing that, Erlang's epmd; waits until it has exited
// (the daemon is then listening). False if neither could be run.
bool start_epmd_daemon(std::uint16_t epmd_port, std::string& problem);

// The port `alive` listens on, as the EPMD at `host` says; nullopt if it does not
// know the name or cannot be reached within `timeout`.
task<std::optional<std::uint16_t>> epmd_port_please(net::address host, std::string alive,
                                                    std::chrono::milliseconds timeout);

}  // namespace beamline::dist::detail
