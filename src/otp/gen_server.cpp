// gen_server.cpp: the parts of gen_server that need no server type: starting
// (names, the init handshake), the caller's side of calls, replies and their
// late-reply guard, stop, and the server's logging.
//
// Everything here runs in a process (the caller's or the server's), except
// send_reply, which any thread may call (gen_server::reply works from anywhere a
// send does).
//
// Late replies to term calls. A typed call carries its call_slot inside its `from`;
// a term call cannot (Erlang's From is {Pid, Tag}, plain data), so a caller with a
// timeout files its slot in term_calls, a table keyed by the tag, before sending the
// request. The server's reply looks the tag up there: found and still waiting, it
// takes the slot (waiting -> replied) and sends; found abandoned, it drops the reply
// and the entry. The caller removes the entry when the reply or the server's DOWN
// arrives. An entry abandoned by its caller and never answered (the server is slow
// for ever) stays until its server or caller has ended; registering a call sweeps
// such entries out of its shard, so the table holds at most the abandoned calls of
// live pairs. Why this is ordered: the caller files the entry before its request
// is sent, and the server looks it up after receiving the request, so the lookup
// sees the entry (the inbox push and drain are release/acquire), and the `entries`
// count that lets replies skip the table when it is empty is never read as zero
// while an entry for the reply exists.

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "beamline/detail/thread_safety.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/registry.hpp"
#include "core/exceptions.hpp"
#include "core/runtime_access.hpp"

namespace beamline {

// --- names ----------------------------------------------------------------------

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

// --- the term-call table ------------------------------------------------------------

struct term_call {
  slot_ptr slot;
  pid caller;
  pid server;
  node_runtime* node;
};

class term_call_table {
 public:
  void add(const ref& tag, const slot_ptr& slot, const pid& caller, const pid& server) {
    shard& s = shard_of(tag);
    lock_guard lock(s.lock);
    if (s.abandoned > sweep_threshold) sweep(s);
    s.calls.emplace(tag, term_call{slot, caller, server, this_thread.node});
    entries_.fetch_add(1, std::memory_order_relaxed);
  }

  void remove(const ref& tag) noexcept {
    shard& s = shard_of(tag);
    lock_guard lock(s.lock);
    auto it = s.calls.find(tag);
    if (it == s.calls.end()) return;
    if (it->second.slot->current() == call_slot::abandoned) --s.abandoned;
    s.calls.erase(it);
    entries_.fetch_sub(1, std::memory_order_relaxed);
  }

  bool abandon(const ref& tag) noexcept {
    shard& s = shard_of(tag);
    lock_guard lock(s.lock);
    auto it = s.calls.find(tag);
    if (it == s.calls.end()) return true;
    if (!it->second.slot->try_abandon()) return false;
    ++s.abandoned;  // the entry stays: a late reply must find it abandoned
    return true;
  }

  // The replier: whether to send. An abandoned entry is consumed.
  bool may_reply(const term& tag) noexcept {
    // Relaxed: see the file comment; the entry for this reply, if any, was filed
    // before the request this reply answers was received.
    if (entries_.load(std::memory_order_relaxed) == 0 || !tag.is_ref()) return true;
    ref r = tag.as_ref();
    shard& s = shard_of(r);
    lock_guard lock(s.lock);
    auto it = s.calls.find(r);
    if (it == s.calls.end()) return true;
    if (it->second.slot->try_reply()) return true;
    --s.abandoned;
    s.calls.erase(it);
    entries_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }

 private:
  static constexpr std::size_t shard_count = 16;
  static constexpr std::size_t sweep_threshold = 32;

  struct shard {
    mutex lock;
    std::unordered_map<ref, term_call> calls BL_GUARDED_BY(lock);
    std::size_t abandoned BL_GUARDED_BY(lock) = 0;
  };

  shard& shard_of(const ref& tag) noexcept { return shards_[std::hash<ref>{}(tag) % shard_count]; }

  // Drops abandoned entries that can no longer be answered or delivered.
  void sweep(shard& s) noexcept BL_REQUIRES(s.lock) {
    node_runtime* node = this_thread.node;
    for (auto it = s.calls.begin(); it != s.calls.end();) {
      const term_call& c = it->second;
      if (c.node == node && c.slot->current() == call_slot::abandoned &&
          (!is_alive(c.server) || !is_alive(c.caller))) {
        --s.abandoned;
        it = s.calls.erase(it);
        entries_.fetch_sub(1, std::memory_order_relaxed);
      } else {
        ++it;
      }
    }
  }

  std::array<shard, shard_count> shards_;
  std::atomic<std::int64_t> entries_{0};
};

term_call_table& term_calls() {
  static term_call_table table;
  return table;
}

}  // namespace

// --- replies ------------------------------------------------------------------------

void send_reply(const from& to, signal* message) noexcept {
  const slot_ptr& slot = from_access::slot(to);
  bool send = true;
  if (slot)
    send = slot->try_reply();
  else if (from_access::reply_type(to) == nullptr)
    send = term_calls().may_reply(to.tag());
  node_runtime* node = this_thread.node;
  if (!send || node == nullptr) {
    destroy(message);
    return;
  }
  send_signal(*node, to.caller(), message);
}

void register_term_call(const ref& tag, const slot_ptr& slot, const pid& server) {
  term_calls().add(tag, slot, self(), server);
}

void forget_term_call(const ref& tag) noexcept {
  term_calls().remove(tag);
}

bool abandon_term_call(const ref& tag) noexcept {
  return term_calls().abandon(tag);
}

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

bool claim_name(const start_context& ctx) {
  std::optional<pid> holder;
  if (const atom* name = std::get_if<atom>(&ctx.name)) {
    try {
      register_name(*name, self());
      return true;
    } catch (const error&) {
      holder = whereis(*name);
    }
  } else if (const via_name* via = std::get_if<via_name>(&ctx.name)) {
    if (via->registry && via->registry->register_name(via->key, self())) return true;
    if (via->registry) holder = via->registry->whereis_name(via->key);
  } else {
    return true;
  }
  ack_start(ctx, start_result::error(term::tuple(
                     {atom("already_started"), holder ? term(*holder) : term(atoms::undefined)})));
  return false;
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
  detail::call_start c = detail::begin_call(target, timeout);
  if (c.failure)
    detail::call_failed(*c.failure, target, request, timeout, detail::gen_server_atom(),
                        atoms::call);
  const term tag(c.tag);
  if (c.slot) detail::register_term_call(c.tag, c.slot, c.target);
  send(c.target, term::tuple({atoms::gen_call, term::tuple({self(), tag}), request}));

  std::optional<term> value;
  std::optional<term> failure;
  bool monitor_fired = false;
  bool timed_out = false;
  auto on_reply = when([&](const term& t) { return t.is_tuple() && t.size() == 2 && t[0] == tag; },
                       [&](term t) { value = t[1]; });
  auto on_down = when([&](const down_message& d) { return d.monitor == c.tag; },
                      [&](down_message d) {
                        failure = std::move(d.reason);
                        monitor_fired = true;
                      });
  if (timeout == infinity) {
    co_await receive(since(c.tag), on_reply, on_down);
  } else {
    co_await receive(since(c.tag), on_reply, on_down, after(timeout, [&] { timed_out = true; }));
    if (timed_out) {
      if (detail::abandon_term_call(c.tag)) {
        detail::end_call(c.tag);
        detail::call_failed(atoms::timeout, target, request, timeout, detail::gen_server_atom(),
                            atoms::call);
      }
      co_await receive(since(c.tag), on_reply);  // it was sent as we gave up
    }
    detail::forget_term_call(c.tag);
  }
  if (!monitor_fired) detail::end_call(c.tag);
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
