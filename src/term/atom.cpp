// atom.cpp: beamline::atom over the process-wide atom table (see atom.hpp).
#include "beamline/atom.hpp"

#include <ostream>
#include <stdexcept>
#include <string>

#include "term/atom_table.hpp"
#include "term/erlang_text.hpp"

namespace beamline {

atom::atom(std::string_view name) : index_(detail::atom_table::global().intern(name)) {}

std::optional<atom> atom::existing(std::string_view name) noexcept {
  try {
    if (auto index = detail::atom_table::global().find(name)) return atom(*index);
  } catch (...) {
    // Only the first lookup can throw (allocating the index); then no atom exists.
  }
  return std::nullopt;
}

atom atom::from_index(std::uint32_t index) {
  if (index >= detail::atom_table::global().size()) {
    throw std::invalid_argument("no atom has index " + std::to_string(index));
  }
  return atom(index);
}

std::size_t atom::count() noexcept {
  return detail::atom_table::global().size();
}

std::string atom::to_string() const {
  std::string out;
  detail::erlang_text::append_atom(out, name());
  return out;
}

bool atom::needs_quotes(std::string_view name) noexcept {
  return detail::erlang_text::atom_needs_quotes(name);
}

std::strong_ordering operator<=>(atom a, atom b) noexcept {
  if (a.index_ == b.index_) return std::strong_ordering::equal;
  const detail::atom_table& table = detail::atom_table::global();
  const std::uint64_t prefix_a = table.order_prefix(a.index_);
  const std::uint64_t prefix_b = table.order_prefix(b.index_);
  if (prefix_a != prefix_b) return prefix_a <=> prefix_b;
  // char_traits<char> compares as unsigned char: bytewise, as Erlang does.
  const int order = a.name().compare(b.name());
  return order < 0 ? std::strong_ordering::less
                   : (order > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
}

std::ostream& operator<<(std::ostream& os, atom a) {
  return os << a.to_string();
}

}  // namespace beamline
