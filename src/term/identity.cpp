// identity.cpp: printing of pids, references and ports (the types are in pid.hpp,
// ref.hpp and port.hpp).
#include <ostream>
#include <string>

#include "beamline/atom.hpp"
#include "beamline/pid.hpp"
#include "beamline/port.hpp"
#include "beamline/ref.hpp"

namespace beamline {

namespace {
void append_number(std::string& out, std::uint64_t v) {
  char buf[20];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(buf[--n]);
}
}  // namespace

std::string pid::to_string() const {
  if (is_remote_name()) {  // {Name,Node}
    std::string s(1, '{');
    s += atom::from_index(serial).to_string();
    s.push_back(',');
    s += atom::from_index(node_atom()).to_string();
    s.push_back('}');
    return s;
  }
  // Erlang prints the node's slot in its node table first: 0 for this node.
  std::string s = "<";
  append_number(s, node == 0 ? 0 : 1);
  s.push_back('.');
  append_number(s, id);
  s.push_back('.');
  append_number(s, serial);
  s.push_back('>');
  return s;
}

std::ostream& operator<<(std::ostream& os, const pid& p) {
  return os << p.to_string();
}

std::string ref::to_string() const {
  std::string s = "#Ref<";
  append_number(s, node == 0 ? 0 : 1);
  for (std::uint32_t i = length; i-- > 0;) {
    s.push_back('.');
    append_number(s, words[i]);
  }
  s.push_back('>');
  return s;
}

std::ostream& operator<<(std::ostream& os, const ref& r) {
  return os << r.to_string();
}

std::string port::to_string() const {
  std::string s = "#Port<";
  append_number(s, node == 0 ? 0 : 1);
  s.push_back('.');
  append_number(s, id);
  s.push_back('>');
  return s;
}

std::ostream& operator<<(std::ostream& os, const port& p) {
  return os << p.to_string();
}

}  // namespace beamline
