// term_parse.cpp: term::parse, the term_reader with a builder that makes terms.
#include <string>
#include <vector>

#include "beamline/term.hpp"
#include "term/term_reader.hpp"

namespace beamline {

namespace {

struct term_builder {
  using node = term;
  static constexpr std::string_view map_arrow = "=>";

  term literal(term value, std::size_t) { return value; }
  term variable(const std::string& name, std::size_t offset) {
    throw parse_error(offset,
                      "variable " + name + " in a term: variables are only allowed in patterns");
  }
  term tuple(std::vector<term>&& elements) { return term::tuple(std::move(elements)); }
  term list(std::vector<term>&& elements, term&& tail) {
    return term::improper_list(std::move(elements), std::move(tail));
  }
  term map(std::vector<std::pair<term, term>>&& entries, std::size_t) { return term::map(entries); }
};

}  // namespace

term term::parse(std::string_view text) {
  term_builder builder;
  return detail::term_reader<term_builder>(text, builder).read_all();
}

}  // namespace beamline
