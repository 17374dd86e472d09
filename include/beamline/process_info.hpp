// beamline/process_info.hpp: what a process is doing, asked of the process itself.
//
//     std::optional<bl::process_info> info = co_await bl::process_info_of(server);
//     if (info) std::cout << info->status << "\n";
//         // waiting: io read (examples/echo_server/main.cpp:42)
//
// As in Erlang (process_info/2 on another process, OTP 21 and later), the question
// is a signal: the process answers between two of its own steps, from its own
// thread, so nothing it owns is read by another thread. A waiting process answers
// at once and goes on waiting; a busy one answers at its next receive or check().
// The answer is nullopt when the process is not alive (or ends before answering) or
// the timeout runs out.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/pid.hpp"
#include "beamline/priority.hpp"
#include "beamline/process.hpp"

namespace beamline {

struct process_info {
  pid process;
  std::optional<atom> registered_name;
  // The process body's function and where it is defined, e.g.
  // "worker (examples/demo/main.cpp:31)" ("operator()" for a lambda); "unknown" for
  // a process that is not a coroutine of this program's.
  std::string initial_call;
  // "running", or "waiting: <reason> (<file>:<line>)" where reason is receive, sleep,
  // io read, io write, blocking or call (a receive with since(ref): a reply), and the
  // file and line are those of the co_await the process waits in.
  std::string status;
  std::uint64_t reductions = 0;
  std::uint64_t messages_in = 0;   // messages that reached its queue
  std::uint64_t messages_out = 0;  // messages it sent
  std::uint32_t message_queue_len = 0;
  std::size_t memory = 0;  // bytes: its coroutine frame and its queued messages
  beamline::priority priority = beamline::priority::normal;
  bool trap_exit = false;
  std::vector<pid> links;         // the processes it is linked to
  std::vector<pid> monitors;      // the processes it monitors
  std::vector<pid> monitored_by;  // the processes that monitor it
  // The oldest queued messages, printed (as a gen_server's dropped-message line
  // prints them), when asked for: at most the max_messages given.
  std::vector<std::string> messages;
};

// Every process alive on the calling process's node, in pid order: a snapshot, as
// Erlang's processes() (node::processes() from outside). Inside a process only
// (std::logic_error elsewhere).
std::vector<pid> processes();

// Asks `target` for its process_info, with up to max_messages of its queued
// messages printed. Inside a process only (std::logic_error elsewhere); asking
// oneself answers at once with status "running".
task<std::optional<process_info>> process_info_of(
    pid target, std::chrono::milliseconds timeout = std::chrono::seconds(5),
    std::size_t max_messages = 0);

}  // namespace beamline
