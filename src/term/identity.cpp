// identity.cpp: printing of pids and references (the types are in pid.hpp, ref.hpp).
#include <ostream>
#include <string>

#include "beamline/pid.hpp"
#include "beamline/ref.hpp"

namespace beamline {

std::string pid::to_string() const {
  // Erlang prints the node's slot in its node table first: 0 for this node.
  return "<" + std::to_string(node == 0 ? 0 : 1) + "." + std::to_string(id) + "." +
         std::to_string(serial) + ">";
}

std::ostream& operator<<(std::ostream& os, const pid& p) { return os << p.to_string(); }

std::string ref::to_string() const {
  std::string s = "#Ref<" + std::to_string(node == 0 ? 0 : 1);
  for (std::uint32_t i = length; i-- > 0;) s += "." + std::to_string(words[i]);
  return s + ">";
}

std::ostream& operator<<(std::ostream& os, const ref& r) { return os << r.to_string(); }

}  // namespace beamline
