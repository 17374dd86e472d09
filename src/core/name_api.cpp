// name_api.cpp: registry.hpp, the node's name registry (name_registry.hpp).
#include "beamline/registry.hpp"

#include <string>

#include "beamline/errors.hpp"
#include "beamline/send.hpp"
#include "core/node_runtime.hpp"

namespace beamline {

namespace detail {

pid whereis_or_badarg(node_runtime& node, atom name) {
  std::optional<pid> p = node.names().whereis(name);
  if (!p)
    throw error(atoms::badarg,
                "send: no process is registered as '" + std::string(name.name()) + "'");
  return *p;
}

}  // namespace detail

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

}  // namespace beamline
