// link_api.cpp: links.hpp and alias.hpp, the requester's half of the protocol in
// relations.cpp.
#include "beamline/links.hpp"

#include "beamline/alias.hpp"
#include "beamline/messages.hpp"
#include "beamline/process.hpp"
#include "core/relations.hpp"

namespace beamline {

void link(const pid& target) {
  detail::request_link(detail::current_process("link"), target);
}

void unlink(const pid& target) {
  detail::request_unlink(detail::current_process("unlink"), target);
}

ref monitor(const pid& target) {
  return detail::request_monitor(detail::current_process("monitor"), target);
}

ref monitor(const pid& target, monitor_alias alias) {
  detail::alias_kind kind = detail::alias_kind::explicit_unalias;
  if (alias == monitor_alias::demonitor) kind = detail::alias_kind::demonitor;
  if (alias == monitor_alias::reply_demonitor) kind = detail::alias_kind::reply_demonitor;
  return detail::request_monitor(detail::current_process("monitor"), target, kind);
}

ref alias(alias_mode mode) {
  return detail::make_alias(
      detail::current_process("alias"),
      mode == alias_mode::reply ? detail::alias_kind::reply : detail::alias_kind::explicit_unalias);
}

bool unalias(const ref& a) {
  return detail::remove_alias(detail::current_process("unalias"), a);
}

namespace detail {
void send_alias_signal(node_runtime& node, const ref& to, signal* s) noexcept {
  send_to_alias(node, to, s);
  if (process_control* p = this_thread.process) p->count_send(1);
}
}  // namespace detail

bool demonitor(const ref& m, demonitor_options options) {
  detail::process_control& p = detail::current_process("demonitor");
  bool active = detail::request_demonitor(p, m);
  if (options.flush) {
    using down_payload = std::tuple<down_message>;
    detail::signal* down = p.messages().take_if(0, [&](detail::signal* s) {
      return s->type == &detail::signal_type_of<down_payload> &&
             std::get<0>(detail::payload_of<down_payload>(s)).monitor == m;
    });
    if (down != nullptr) detail::destroy(down);
  }
  return active;
}

}  // namespace beamline
