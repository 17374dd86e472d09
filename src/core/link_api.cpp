// link_api.cpp: links.hpp, the requester's half of the protocol in relations.cpp.
#include "beamline/links.hpp"

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
