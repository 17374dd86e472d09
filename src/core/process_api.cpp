// process_api.cpp: what a process asks of itself and of the runtime: identity,
// exits, links, monitors, names, references, timers, spawning and sending.
#include <stdexcept>
#include <string>

#include "beamline/errors.hpp"
#include "beamline/links.hpp"
#include "beamline/messages.hpp"
#include "beamline/process.hpp"
#include "beamline/receive.hpp"
#include "beamline/registry.hpp"
#include "beamline/send.hpp"
#include "beamline/spawn.hpp"
#include "beamline/timer.hpp"
#include "core/node_runtime.hpp"
#include "core/relations.hpp"
#include "core/signals.hpp"
#include "sched/scheduler.hpp"

namespace beamline {

namespace detail {

void throw_not_in_process(const char* operation) {
  throw std::logic_error(std::string("beamline::") + operation +
                         " must be called from a process (this thread is not running one)");
}

void check_signals(process_control& p) {
  if (p.inbox_nonempty()) p.drain_inbox();
  if (p.exiting_) p.throw_exit();
}

void throw_no_node(const char* operation) {
  throw std::logic_error(std::string("beamline::") + operation +
                         " needs a node: call it from a process, or use node::" + operation);
}

node_runtime& spawning_node(const char* operation) {
  return sending_node(operation);
}

namespace {

void charge_reduction() noexcept {
  if (process_control* p = this_thread.process) {
    --this_thread.budget;
    ++p->reductions_;
  }
}

}  // namespace

pid whereis_or_badarg(node_runtime& node, atom name) {
  std::optional<pid> p = node.names().whereis(name);
  if (!p)
    throw error(atoms::badarg,
                "send: no process is registered as '" + std::string(name.name()) + "'");
  return *p;
}

std::uint64_t mark_key(const ref& r) noexcept {
  if (r.node != 0 || r.length != 3) return 0;
  return std::uint64_t{r.words[0]} | (std::uint64_t{r.words[1]} << 18) |
         (std::uint64_t{r.words[2] & 0x3fff} << 50);
}

std::int64_t timeout_deadline(std::int64_t timeout_ns) {
  if (timeout_ns <= 0) return 0;  // poll
  return sched::scheduler::now_ns() + timeout_ns;
}

std::int64_t checked_delay(std::int64_t delay_ns) {
  constexpr std::int64_t max_delay_ns = std::int64_t{4294967295} * 1'000'000;  // Erlang's limit
  if (delay_ns < 0) throw error(atoms::badarg, "send_after: the delay is negative");
  if (delay_ns > max_delay_ns)
    throw error(atoms::badarg, "send_after: the delay exceeds 2^32-1 ms");
  return delay_ns;
}

ref start_timer(node_runtime& node, std::int64_t delay_ns, const pid& to, std::optional<atom> name,
                signal* message) {
  return node.start_timer(delay_ns, to, name, message);
}

spawn_result spawn_commit(node_runtime& node, const spawn_options& options,
                          std::coroutine_handle<process::promise_type> body,
                          spawn_closure* closure) {
  process_control* parent = this_thread.node == &node ? this_thread.process : nullptr;
  auto discard = [&] {
    body.destroy();
    if (closure != nullptr) closure->destroy(closure);
  };
  if ((options.link || options.monitor) && parent == nullptr) {
    discard();
    throw std::logic_error(
        "beamline::spawn_link/spawn_monitor must be called from a process (the link or "
        "monitor needs one)");
  }
  std::uint32_t index = node.allocate_slot();
  if (index == 0) {
    discard();
    throw system_limit_error("spawn: the process table is full (node_options::max_processes = " +
                             std::to_string(node.options().max_processes) + ")");
  }
  process_slot& slot = node.table().at(index);
  process_control& p = body.promise();
  p.self_id_ = index;
  p.self_serial_ = slot.serial.load(std::memory_order_relaxed);
  p.slot_ = &slot;
  p.node_ = &node;
  p.body_ = body;
  p.closure_ = closure;
  p.priority = options.priority;
  slot.pcb = &p;

  spawn_result result{p.self(), {}};
  // The child is not running yet, so setting up its side here is still the owner's
  // doing: link and monitor are atomic with the spawn.
  if (options.link) {
    relations_of(*parent).links.insert(result.pid, link_state{true, 0});
    relations_of(p).links.insert(parent->self(), link_state{true, 0});
  }
  if (options.monitor) {
    result.monitor = node_runtime::make_ref();
    parent->set_mark(mark_key(result.monitor));
    relations_of(*parent).monitors.insert(result.monitor, result.pid);
    std::uint64_t key = mark_key(result.monitor);
    if (ref::local(key) == result.monitor) {
      p.spawn_monitor_key_ = key;
      p.spawn_watcher_id_ = parent->self_id_;
      p.spawn_watcher_serial_ = parent->self_serial_;
    } else {
      relations_of(p).monitored_by.insert(result.monitor, parent->self());
    }
  }
  node.count_spawn();
  charge_reduction();
  node.make_runnable(p);
  return result;
}

}  // namespace detail

using detail::current_process;
using detail::node_runtime;
using detail::process_control;
using detail::relations_of;
using detail::this_thread;

pid self() {
  return current_process("self").self();
}

void check::await_suspend(std::coroutine_handle<> h) noexcept {
  process_control& p = *this_thread.process;
  p.resume_ = h;
  p.state_ = detail::run_state::yielded;
}

yield::yield() {
  process_control& p = current_process("yield");
  --this_thread.budget;
  ++p.reductions_;
}

void yield::await_suspend(std::coroutine_handle<> h) noexcept {
  process_control& p = *this_thread.process;
  p.resume_ = h;
  p.state_ = detail::run_state::yielded;
}

void exit(term reason) {
  throw exit_exception(std::move(reason));
}

void exit(const pid& target, term reason) {
  node_runtime& node = detail::sending_node("exit");
  process_control* p = this_thread.process;
  pid from = p != nullptr ? p->self() : pid{};
  detail::charge_reduction();
  node.deliver(target, detail::make_exit_signal(from, reason, false));
  // A signal to oneself is acted upon at once, as on BEAM.
  if (p != nullptr && target == from) {
    p->drain_inbox();
    if (p->exiting_) p->throw_exit();
  }
}

bool trap_exit(bool on) {
  process_control& p = current_process("trap_exit");
  return std::exchange(p.trap_exit_, on);
}

priority set_priority(priority level) {
  process_control& p = current_process("set_priority");
  return std::exchange(p.priority, level);
}

bool is_alive(const pid& target) {
  node_runtime& node = detail::sending_node("is_alive");
  if (!target.is_local()) return false;
  detail::process_slot* slot = node.table().find(target.id);
  return slot != nullptr && slot->serial.load(std::memory_order_acquire) == target.serial &&
         slot->inbox.load(std::memory_order_acquire) != detail::closed_tag();
}

void stop_node() {
  detail::sending_node("stop_node").stop();
}

ref make_ref() {
  ref r = node_runtime::make_ref();
  if (process_control* p = this_thread.process) p->set_mark(detail::mark_key(r));
  return r;
}

void link(const pid& target) {
  process_control& p = current_process("link");
  const pid me = p.self();
  if (target == me) return;
  detail::charge_reduction();
  detail::relations& r = relations_of(p);
  if (detail::link_state* l = r.links.find(target)) {
    if (l->active) return;
    *l = detail::link_state{true, 0};  // a pending unlink's acknowledgement is now ignored
  } else {
    r.links.insert(target, detail::link_state{true, 0});
  }
  node_runtime& node = *p.node_;
  if (node.deliver(target, detail::make_control_signal(detail::signal_kind::link, me, {}, 0)))
    return;
  // Not alive. Erlang checks this at once for a local process: an error for a
  // caller that does not trap exits, an exit signal `noproc` for one that does.
  if (!p.trap_exit_) {
    r.links.erase(target);
    throw error(atoms::noproc, "link: " + target.to_string() + " is not alive");
  }
  node.deliver(me, detail::make_exit_signal(target, atoms::noproc, true));
}

void unlink(const pid& target) {
  process_control& p = current_process("unlink");
  detail::charge_reduction();
  if (p.relations_ == nullptr) return;
  detail::link_state* l = p.relations_->links.find(target);
  if (l == nullptr || !l->active) return;
  std::uint64_t id = p.relations_->next_unlink_id++;
  *l = detail::link_state{false, id};
  if (!p.node_->deliver(target,
                        detail::make_control_signal(detail::signal_kind::unlink, p.self(), {}, id)))
    p.relations_->links.erase(target);
}

ref monitor(const pid& target) {
  process_control& p = current_process("monitor");
  detail::charge_reduction();
  ref m = make_ref();
  const pid me = p.self();
  if (target == me) return m;  // Erlang creates nothing observable
  relations_of(p).monitors.insert(m, target);
  if (!p.node_->deliver(target,
                        detail::make_control_signal(detail::signal_kind::monitor, me, m, 0)))
    p.node_->deliver(me, detail::make_down_signal(m, target, atoms::noproc));
  return m;
}

bool demonitor(const ref& m, demonitor_options options) {
  process_control& p = current_process("demonitor");
  detail::charge_reduction();
  bool active = false;
  if (p.relations_ != nullptr) {
    if (pid* target = p.relations_->monitors.find(m)) {
      pid t = *target;
      p.relations_->monitors.erase(m);
      active = true;
      p.node_->deliver(t,
                       detail::make_control_signal(detail::signal_kind::demonitor, p.self(), m, 0));
    }
  }
  if (options.flush) {
    using down_payload = std::tuple<down_message>;
    for (detail::signal** link = &p.queue_head_; *link != nullptr; link = &(*link)->next) {
      detail::signal* s = *link;
      if (s->type == &detail::signal_type_of<down_payload> &&
          std::get<0>(detail::payload_of<down_payload>(s)).monitor == m) {
        detail::destroy(p.unlink_message(link));
        break;
      }
    }
  }
  return active;
}

void register_name(atom name, const pid& process) {
  detail::sending_node("register_name").names().register_name(name, process);
}

void unregister(atom name) {
  detail::sending_node("unregister").names().unregister(name);
}

std::optional<pid> whereis(atom name) {
  return detail::sending_node("whereis").names().whereis(name);
}

std::vector<atom> registered() {
  return detail::sending_node("registered").names().registered();
}

std::optional<std::chrono::milliseconds> cancel_timer(const ref& timer) {
  std::optional<std::int64_t> left = detail::sending_node("cancel_timer").cancel_timer(timer);
  if (!left) return std::nullopt;
  return std::chrono::ceil<std::chrono::milliseconds>(std::chrono::nanoseconds(*left));
}

}  // namespace beamline
