// pattern_fuzz: libFuzzer target for patterns parsed from text (bl::pattern's parsing
// constructor, docs/terms.md) and matched against terms parsed from text.
//
// The input is a pattern's text, then (after the first NUL byte, if any) a term's.
// The only exceptions allowed out are parse_error (with an offset within its text)
// and the atom table's length_error once a long run has filled it. A pattern that
// parses must survive the checks:
// - printing it gives text that parses to a pattern that prints the same, has the
//   same variables, and matches exactly the same terms;
// - matches(t) and match(t) agree; a match binds every variable, in order, and
//   binds a variable that occurs twice to one value;
// - text that parses as a term parses as a pattern without variables that matches
//   the term, and so does the term's printed text where it is a pattern;
// - a literal pattern made from a term matches that term.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "beamline/pattern.hpp"
#include "beamline/term.hpp"

namespace bl = beamline;

namespace {

[[noreturn]] void finding(const char* what, std::string_view text) {
  std::fprintf(stderr, "pattern_fuzz: %s: %.*s\n", what,
               static_cast<int>(std::min<std::size_t>(text.size(), 2000)), text.data());
  std::abort();
}

bool atom_table_full() {
  return bl::atom::count() >= bl::atom::max_count - 1000;
}

// The pattern in `text`, or nothing when it does not parse.
std::optional<bl::pattern> parse_pattern(std::string_view text) {
  try {
    return bl::pattern(text);
  } catch (const bl::parse_error& e) {
    if (e.offset() > text.size()) finding("a parse error's offset is past the input", text);
  } catch (const std::length_error&) {
    if (!atom_table_full()) throw;
  }
  return std::nullopt;
}

std::optional<bl::term> parse_term(std::string_view text) {
  try {
    return bl::term::parse(text);
  } catch (const bl::parse_error&) {
  } catch (const std::length_error&) {
    if (!atom_table_full()) throw;
  }
  return std::nullopt;
}

void check_match(const bl::pattern& p, const bl::pattern& again, const bl::term& t,
                 std::string_view printed) {
  const bool matches = p.matches(t);
  const std::optional<bl::bindings> b = p.match(t);
  if (matches != b.has_value()) finding("matches() and match() disagree", printed);
  if (again.matches(t) != matches) finding("the printed pattern matches other terms", printed);
  if (!b) return;
  if (b->size() != p.variables().size()) finding("a match leaves a variable unbound", printed);
  for (std::size_t i = 0; i < b->size(); ++i) {
    if (b->name(i) != p.variables()[i]) finding("bindings out of order", printed);
    const bl::term* found = b->find(p.variables()[i]);
    if (found == nullptr || !(*found == b->value(i))) finding("a binding is not found", printed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view pattern_text = input.substr(0, nul);
  const std::string_view term_text =
      nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  const std::optional<bl::pattern> p = parse_pattern(pattern_text);
  if (!p) return 0;
  const std::string printed = p->to_string();
  const std::optional<bl::pattern> again = parse_pattern(printed);
  if (!again) finding("a printed pattern does not parse", printed);
  if (again->to_string() != printed) finding("printing a pattern is not stable", printed);
  if (!std::equal(p->variables().begin(), p->variables().end(), again->variables().begin(),
                  again->variables().end()))
    finding("the printed pattern has other variables", printed);

  // The pattern's own text as a term, when it has no variables.
  if (const std::optional<bl::term> literal = parse_term(pattern_text)) {
    if (!p->variables().empty()) finding("a term's text has variables as a pattern", printed);
    if (!p->matches(*literal)) finding("a pattern does not match its own term", printed);
    check_match(*p, *again, *literal, printed);
    // A printed term may not be a pattern (a map prints with =>, patterns take :=),
    // but when it is one, it matches the term.
    const std::optional<bl::pattern> from_term = parse_pattern(literal->to_string());
    if (from_term && !from_term->matches(*literal))
      finding("a printed term, as a pattern, does not match the term", printed);
  }
  if (const std::optional<bl::term> t = parse_term(term_text)) {
    check_match(*p, *again, *t, printed);
    if (!bl::pattern(*t).matches(*t)) finding("a literal pattern does not match its term", printed);
  }
  return 0;
}
