// process_info.cpp: see beamline/process_info.hpp.
//
// The asker monitors the target (the monitor's reference is also the receive mark
// the answer is looked for from), sends it an info signal, and waits for the
// answer, the target's DOWN or the timeout. The target builds its answer in
// process_control::handle_signal, on its own thread.
#include "beamline/process_info.hpp"

#include <tuple>

#include "beamline/links.hpp"
#include "beamline/messages.hpp"
#include "beamline/receive.hpp"
#include "core/node_runtime.hpp"
#include "core/relations.hpp"
#include "core/signals.hpp"

namespace beamline {

namespace detail {

namespace {

struct info_answer {
  ref tag;
  beamline::process_info info;
};

}  // namespace

const char* wait_reason_name(wait_reason reason, bool write_side) noexcept {
  switch (reason) {
    case wait_reason::receive:
      return "receive";
    case wait_reason::sleep:
      return "sleep";
    case wait_reason::io:
      return write_side ? "io write" : "io read";
    case wait_reason::blocking:
      return "blocking";
    case wait_reason::call:
      return "call";
    case wait_reason::channel:
      return "channel";
  }
  return "unknown";
}

std::string with_site(std::string text, const char* file, unsigned line) {
  if (file == nullptr) return text;
  text += " (";
  text += file;
  text += ':';
  text += std::to_string(line);
  text += ')';
  return text;
}

std::string process_control::status() const {
  if (waiter_ == nullptr) return "running";
  std::string s = "waiting: ";
  s += wait_reason_name(waiter_->reason, waiter_->io_side != 0);
  return with_site(std::move(s), waiter_->where.file(), waiter_->where.line());
}

std::string process_control::initial_call() const {
  if (initial_function_ == nullptr) return "unknown";
  return with_site(initial_function_, initial_file_, initial_line_);
}

std::optional<atom> process_control::registered_name() const {
  std::uint32_t name = slot_->name.load(std::memory_order_acquire);
  if (name == 0) return std::nullopt;
  return atom::from_index(name - 1);
}

beamline::process_info process_control::info(std::size_t max_messages) const {
  beamline::process_info info;
  info.process = self();
  info.registered_name = registered_name();
  info.initial_call = initial_call();
  info.status = status();
  info.reductions = reductions_;
  info.messages_in = messages_in_;
  info.messages_out = messages_out_;
  info.message_queue_len = messages_.length();
  info.memory = frame_bytes_ + messages_.bytes();
  info.priority = priority;
  info.trap_exit = trap_exit_;
  if (relations_ != nullptr) {
    relations_->links.for_each([&](const pid& partner, const link_state& l) {
      if (l.active) info.links.push_back(partner);
    });
    relations_->monitors.for_each(
        [&](const ref&, const pid& target) { info.monitors.push_back(target); });
    relations_->monitored_by.for_each(
        [&](const ref&, const pid& watcher) { info.monitored_by.push_back(watcher); });
  }
  if (spawn_monitor_key_ != 0)
    info.monitored_by.push_back(pid{spawn_watcher_id_, spawn_watcher_serial_, 0, 0});
  for (const signal* m = messages_.first(); m != nullptr && info.messages.size() < max_messages;
       m = m->next)
    info.messages.push_back(m->type->print(m));
  return info;
}

// The target's half: answers with a message to the asker. An answer that cannot
// be allocated is not sent; the asker's timeout (or the target's DOWN) ends its
// wait.
void process_control::answer_info(signal* s) noexcept {
  try {
    const auto& c = payload_of<control_payload>(s);
    node_->deliver(c.from, make_signal<std::tuple<info_answer>>(
                               signal_kind::message, info_answer{c.monitor, info(c.id)}));
  } catch (...) {
  }
}

}  // namespace detail

std::vector<pid> processes() {
  return detail::current_process("processes").node().live_pids();
}

task<std::optional<process_info>> process_info_of(pid target, std::chrono::milliseconds timeout,
                                                  std::size_t max_messages) {
  detail::process_control& me = detail::current_process("process_info_of");
  if (target == me.self()) co_return me.info(max_messages);
  if (!target.is_local()) co_return std::nullopt;
  const ref tag = monitor(target);  // also the receive mark for the answer
  me.node().deliver(
      target, detail::make_control_signal(detail::signal_kind::info, me.self(), tag, max_messages));
  std::optional<process_info> answer;
  co_await receive(
      since(tag),
      when([&tag](const detail::info_answer& a) { return a.tag == tag; },
           [&answer](detail::info_answer a) { answer = std::move(a.info); }),
      when([&tag](const down_message& d) { return d.monitor == tag; }, [](down_message) {}),
      after(timeout));
  demonitor(tag, {.flush = true});
  co_return answer;
}

}  // namespace beamline
