// gen_server.cpp: the parts of gen_server that need no server type: starting
// (names, the init handshake), the caller's side of calls, replies and their
// late-reply guard, stop, and the server's logging.
//
// Everything here runs in a process (the caller's or the server's), except
// send_reply, which any thread may call (gen_server::reply works from anywhere a
// send does).
//
// Late replies. A typed call carries a call_slot inside its `from` (call_slot.hpp).
// A term call is Erlang's: the caller monitors the server with an alias that goes
// with the monitor and sends the tag [alias | Mref]; the reply goes to that alias,
// so once the caller has given up (demonitor) a late reply is dropped on arrival,
// on this node or any other (alias.hpp).

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "beamline/alias.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/registry.hpp"
#include "core/exceptions.hpp"
#include "core/runtime_access.hpp"

namespace beamline {

// --- names ----------------------------------------------------------------------

task<bool> via_registry::register_name_async(const term& key, const pid& process) {
  co_return register_name(key, process);
}

term via_name::to_term() const {
  return term::tuple({atom("via"), atom(registry ? registry->describe() : "undefined"), key});
}

std::optional<pid> server_ref::resolve() const {
  if (const pid* p = as_pid()) return *p;
  if (const atom* name = as_name()) return whereis(*name);
  const via_name& via = std::get<via_name>(target_);
  if (!via.registry) return std::nullopt;
  return via.registry->whereis_name(via.key);
}

term server_ref::to_term() const {
  if (const pid* p = as_pid()) return *p;
  if (const atom* name = as_name()) return *name;
  return std::get<via_name>(target_).to_term();
}

namespace detail {

namespace {

bool logging() noexcept {
  return node_logs_crashes();
}

}  // namespace

// --- replies ------------------------------------------------------------------------

namespace {

// The alias in a term call's tag [alias | Ref] (OTP 24+); null for any other tag.
ref reply_alias(const term& tag) noexcept {
  if (!tag.is_list() || tag.is_nil() || tag.head() != term(atom("alias"))) return {};
  const term tail = tag.tail();
  return tail.is_ref() ? tail.as_ref() : ref{};
}

// A term call's reply: to the caller's alias when the tag names one, else to its pid.
void send_term_reply(node_runtime& node, const pid& caller, const term& tag,
                     signal* message) noexcept {
  if (const ref alias = reply_alias(tag))
    send_alias_signal(node, alias, message);
  else
    send_signal(node, caller, message);
}

}  // namespace

void send_reply(const from& to, signal* message) noexcept {
  const slot_ptr& slot = from_access::slot(to);
  node_runtime* node = this_thread.node;
  if ((slot && !slot->try_reply()) || node == nullptr) {
    destroy(message);
    return;
  }
  if (from_access::reply_type(to) == nullptr)
    send_term_reply(*node, to.caller(), to.tag(), message);
  else
    send_signal(*node, to.caller(), message);
}

}  // namespace detail

namespace gen_server {

void reply(const term& from, term value) {
  if (!from.is_tuple() || from.size() != 2 || !from[0].is_pid()) return;
  detail::node_runtime& node = detail::sending_node("gen_server::reply");
  detail::send_term_reply(node, from[0].as_pid(), from[1],
                          detail::make_message(term::tuple({from[1], std::move(value)})));
}

}  // namespace gen_server

namespace detail {

void refuse_call(signal* s, const message_descriptor& d) noexcept {
  const from* caller = d.caller(s);
  try {
    term reason = term::tuple({atom("bad_call"), type_name_term(*d.request)});
    send_reply(*caller, make_message(call_refused{caller->tag(), std::move(reason)}));
  } catch (...) {
    // Out of memory: the caller times out instead.
  }
}

// --- exceptions and reasons -------------------------------------------------------------

bool current_process_exiting() noexcept {
  process_control* p = this_thread.process;
  return p != nullptr && p->exiting();
}

term type_name_term(const std::type_info& type) {
  return atom(demangled(&type));
}

term timeout_term(std::chrono::milliseconds timeout) {
  if (timeout == infinity) return atoms::infinity;
  return term(static_cast<std::int64_t>(timeout.count()));
}

// --- the caller's side of a call ----------------------------------------------------------

call_start begin_call(const server_ref& server, std::chrono::milliseconds timeout) {
  call_start c;
  std::optional<pid> target = server.resolve();
  if (!target) {
    c.failure = atoms::noproc;
    return c;
  }
  if (*target == self()) {
    c.failure = atom("calling_self");
    return c;
  }
  c.target = *target;
  c.tag = monitor(*target);  // also the receive mark the reply is looked for from
  if (timeout != infinity) c.slot = slot_ptr(call_slot::make());
  return c;
}

namespace {
bool is_down_for(signal* s, const void* context) {
  return s->type == &signal_type_of<std::tuple<down_message>> &&
         std::get<0>(payload_of<std::tuple<down_message>>(s)).monitor ==
             *static_cast<const ref*>(context);
}
bool is_exit_from(signal* s, const void* context) {
  return s->type == &signal_type_of<std::tuple<exit_message>> &&
         std::get<0>(payload_of<std::tuple<exit_message>>(s)).from ==
             *static_cast<const pid*>(context);
}
}  // namespace

void end_call(const ref& tag) noexcept {
  // demonitor is false when the DOWN is already queued (the server died after
  // replying): remove it, scanning only from the call's mark.
  if (!demonitor(tag))
    if (signal* s = take_queued(&tag, &is_down_for, &tag)) destroy(s);
}

void call_failed(term failure, const server_ref& server, const term& request,
                 std::chrono::milliseconds timeout, atom module, atom function) {
  throw call_exit(std::move(failure), module, function,
                  term::list({server.to_term(), request, timeout_term(timeout)}));
}

signal* take_queued(const ref* since, bool (*accept)(signal*, const void*), const void* context) {
  process_control& p = current_process("receive");
  return p.messages().take_if(since != nullptr ? mark_key(*since) : 0,
                              [&](signal* s) { return accept(s, context); });
}

void flush_exit_from(const pid& from) noexcept {
  if (signal* s = take_queued(nullptr, &is_exit_from, &from)) destroy(s);
}

// --- logging --------------------------------------------------------------------------------

void report_unexpected_message(const signal* s) noexcept {
  if (!logging()) return;
  try {
    std::string line = "beamline: gen_server " + self().to_string() +
                       " dropped a message it has no handler for: " + s->type->print(s) + " (" +
                       demangled(s->type->payload) + ")\n";
    std::fputs(line.c_str(), stderr);
  } catch (...) {
  }
}

void report_termination(const term& reason) noexcept {
  if (!logging()) return;
  if (is_shutdown_reason(reason)) return;
  try {
    detail::process_control& p = current_process("gen_server");
    std::string line = "beamline: gen_server " + self().to_string() + " (initial call " +
                       p.initial_call() + ") terminating: " + reason.to_string() + "\n";
    std::fputs(line.c_str(), stderr);
    p.mark_reported();
  } catch (...) {
  }
}

// --- starting --------------------------------------------------------------------------------

task<bool> claim_name(const start_context& ctx) {
  std::optional<pid> holder;
  if (const atom* name = std::get_if<atom>(&ctx.name)) {
    try {
      register_name(*name, self());
      co_return true;
    } catch (const error&) {
      holder = whereis(*name);
    }
  } else if (const via_name* via = std::get_if<via_name>(&ctx.name)) {
    if (via->registry && co_await via->registry->register_name_async(via->key, self()))
      co_return true;
    if (via->registry) holder = via->registry->whereis_name(via->key);
  } else {
    co_return true;
  }
  ack_start(ctx, start_result::error(term::tuple(
                     {atom("already_started"), holder ? term(*holder) : term(atoms::undefined)})));
  co_return false;
}

void release_name(const start_context& ctx) noexcept {
  try {
    if (const atom* name = std::get_if<atom>(&ctx.name)) {
      if (whereis(*name) == self()) unregister(*name);
    } else if (const via_name* via = std::get_if<via_name>(&ctx.name)) {
      if (via->registry) via->registry->unregister_name(via->key);
    }
  } catch (...) {
  }
}

void ack_start(const start_context& ctx, start_result result) {
  send(ctx.starter, init_ack{ctx.tag, std::move(result)});
}

task<start_result> await_start(start_context ctx, spawn_result spawned,
                               std::chrono::milliseconds timeout) {
  const ref tag = ctx.tag.as_ref();
  const ref mon = spawned.monitor;
  const pid child = spawned.pid;
  const bool linked = !ctx.parent.is_null();
  std::optional<start_result> acked;
  std::optional<term> died;
  bool timed_out = false;
  auto on_ack = when([&](const init_ack& a) { return a.tag == ctx.tag; },
                     [&](init_ack a) { acked.emplace(std::move(a.result)); });
  auto on_down = when([&](const down_message& d) { return d.monitor == mon; },
                      [&](down_message d) { died = std::move(d.reason); });
  if (timeout == infinity)
    co_await receive(since(tag), on_ack, on_down);
  else
    co_await receive(since(tag), on_ack, on_down, after(timeout, [&] { timed_out = true; }));

  if (acked && acked->is_ok()) {
    end_call(mon);
    co_return std::move(*acked);
  }
  if (timed_out) {
    // OTP's {timeout, T}: unlink first so that the kill does not reach the caller.
    if (linked) unlink(child);
    exit(child, atoms::kill);
  }
  // The child ends right after a failed init: wait for it, so that (as in OTP 26)
  // the start returns after the process is gone and its EXIT is consumed.
  if (!died) co_await receive(since(tag), on_down);
  if (linked) flush_exit_from(child);
  if (timed_out) co_return start_result::error(atoms::timeout);
  if (acked) co_return std::move(*acked);
  co_return start_result::error(std::move(*died));
}

}  // namespace detail

// --- the term-protocol client and stop ----------------------------------------------------

namespace gen_server {

task<term> call(server_ref target, term request, std::chrono::milliseconds timeout) {
  // OTP's gen:do_call: the monitor's reference is also an alias that goes with the
  // monitor, and the tag [alias | Mref] tells the server to reply through it.
  std::optional<pid> resolved = target.resolve();
  if (!resolved || *resolved == self())
    detail::call_failed(resolved ? term(atom("calling_self")) : term(atoms::noproc), target,
                        request, timeout, detail::gen_server_atom(), atoms::call);
  const pid server = *resolved;
  const ref mref = monitor(server, monitor_alias::demonitor);
  const term tag = term::cons(atom("alias"), mref);
  send(server, term::tuple({atoms::gen_call, term::tuple({self(), tag}), request}));

  std::optional<term> value;
  std::optional<term> failure;
  bool monitor_fired = false;
  bool timed_out = false;
  auto on_reply = when([&](const term& t) { return t.is_tuple() && t.size() == 2 && t[0] == tag; },
                       [&](term t) { value = t[1]; });
  auto on_down = when([&](const down_message& d) { return d.monitor == mref; },
                      [&](down_message d) {
                        failure = std::move(d.reason);
                        monitor_fired = true;
                      });
  if (timeout == infinity) {
    co_await receive(since(mref), on_reply, on_down);
  } else {
    co_await receive(since(mref), on_reply, on_down, after(timeout, [&] { timed_out = true; }));
    if (timed_out) {
      // Removing the monitor deactivates the alias: from now on a reply is dropped
      // on arrival. One that arrived before is returned (OTP's rule).
      detail::end_call(mref);
      co_await receive(since(mref), on_reply, after(std::chrono::milliseconds(0), [] {}));
      if (!value)
        detail::call_failed(atoms::timeout, target, request, timeout, detail::gen_server_atom(),
                            atoms::call);
      co_return std::move(*value);
    }
  }
  if (!monitor_fired) detail::end_call(mref);
  if (failure)
    detail::call_failed(*failure, target, request, timeout, detail::gen_server_atom(), atoms::call);
  co_return std::move(*value);
}

void cast(const server_ref& target, term message) {
  std::optional<pid> to = target.resolve();
  if (!to) return;
  send(*to, term::tuple({atoms::gen_cast, std::move(message)}));
}

task<void> stop(server_ref target, term reason, std::chrono::milliseconds timeout) {
  const term arguments = term::list({target.to_term(), reason, detail::timeout_term(timeout)});
  std::optional<pid> p = target.resolve();
  if (!p) throw call_exit(atoms::noproc, detail::gen_server_atom(), atoms::stop, arguments);
  const ref m = monitor(*p);
  send(*p, detail::stop_request{reason});
  std::optional<term> ended;
  auto on_down = when([&](const down_message& d) { return d.monitor == m; },
                      [&](down_message d) { ended = std::move(d.reason); });
  if (timeout == infinity) {
    co_await receive(since(m), on_down);
  } else {
    co_await receive(since(m), on_down, after(timeout, [] {}));
    if (!ended) {
      exit(*p, atoms::kill);
      co_await receive(since(m), on_down);
      throw call_exit(atoms::timeout, detail::gen_server_atom(), atoms::stop, arguments);
    }
  }
  if (*ended == reason) co_return;
  throw call_exit(*ended, detail::gen_server_atom(), atoms::stop, arguments);
}

}  // namespace gen_server

}  // namespace beamline
