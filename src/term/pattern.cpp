// pattern.cpp: compiling and matching patterns (see pattern.hpp).
//
// A pattern compiles to a pattern_program: a flat array of nodes (the root last, or
// wherever `root` says), an array of child indices, and the variable names by slot.
// Nodes are: any (_), variable (a slot), literal (a term matched with ==), tuple,
// list (the element patterns, then the tail pattern) and map (pairs of a literal key
// node and a value pattern). A container whose children are all literals is folded
// into one literal when built, so {ok, 1} is a single comparison.
//
// Matching recurses over the pattern (not the term), so its depth is the pattern's,
// which the programmer wrote. Bindings live in slots only when they are needed: for
// match(), and for matches() when a variable repeats (then later occurrences compare
// with the first one's value).
#include "beamline/pattern.hpp"

#include <algorithm>
#include <ostream>

#include "term/erlang_text.hpp"
#include "term/term_printer.hpp"
#include "term/term_reader.hpp"

namespace beamline {

namespace detail {

struct pattern_node {
  enum class shape : std::uint8_t { any, variable, literal, tuple, list, map };
  shape kind = shape::any;
  std::uint32_t slot = 0;         // variable: its slot
  std::uint32_t first_child = 0;  // index into children
  std::uint32_t child_count = 0;  // tuple: elements; list: elements + tail; map: 2 per entry
  term literal;                   // literal: the value
};

struct pattern_program {
  std::vector<pattern_node> nodes;
  std::vector<std::uint32_t> children;
  std::vector<std::string> variables;  // by slot
  std::uint32_t root = 0;
  bool repeats_variable = false;  // some variable occurs more than once

  std::span<const std::uint32_t> children_of(const pattern_node& node) const noexcept {
    return {children.data() + node.first_child, node.child_count};
  }
};

namespace {

using shape = pattern_node::shape;

bool is_variable_name(std::string_view name) {
  if (name.empty() || name == "_") return false;
  std::size_t position = 0;
  const auto first = utf8::decode(name, position);
  if (!first || !(erlang_text::is_uppercase_letter(*first) || *first == '_')) return false;
  while (position < name.size()) {
    const auto c = utf8::decode(name, position);
    if (!c || !erlang_text::is_name_character(*c)) return false;
  }
  return true;
}

// Builds a program node by node; children must exist before their parent.
class program_builder {
 public:
  std::uint32_t add_any() { return add(pattern_node{}); }

  std::uint32_t add_variable(std::string_view name) {
    pattern_node node;
    node.kind = shape::variable;
    const auto found = std::find(program_.variables.begin(), program_.variables.end(), name);
    if (found != program_.variables.end()) {
      program_.repeats_variable = true;
      node.slot = static_cast<std::uint32_t>(found - program_.variables.begin());
    } else {
      node.slot = static_cast<std::uint32_t>(program_.variables.size());
      program_.variables.emplace_back(name);
    }
    return add(std::move(node));
  }

  std::uint32_t add_literal(term value) {
    pattern_node node;
    node.kind = shape::literal;
    node.literal = std::move(value);
    return add(std::move(node));
  }

  std::uint32_t add_tuple(const std::vector<std::uint32_t>& elements) {
    if (all_literal(elements)) {
      std::vector<term> values;
      for (std::uint32_t e : elements) values.push_back(literal_of(e));
      return add_literal(term::tuple(values));
    }
    return add_container(shape::tuple, elements);
  }

  std::uint32_t add_list(const std::vector<std::uint32_t>& elements, std::uint32_t tail) {
    if (elements.empty()) return tail;
    std::vector<std::uint32_t> children = elements;
    children.push_back(tail);
    if (all_literal(children)) {
      std::vector<term> values;
      for (std::uint32_t e : elements) values.push_back(literal_of(e));
      return add_literal(term::improper_list(values, literal_of(tail)));
    }
    return add_container(shape::list, children);
  }

  // Entries are (literal key node, value pattern node). Keys must be literals.
  std::uint32_t add_map(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& entries) {
    std::vector<std::uint32_t> children;
    for (const auto& [key, value] : entries) {
      children.push_back(key);
      children.push_back(value);
    }
    return add_container(shape::map, children);
  }

  // Copies another program's nodes in, its variables merged into ours by name;
  // returns the index of its root here.
  std::uint32_t import(const pattern_program& other) {
    std::vector<std::uint32_t> moved(other.nodes.size());
    for (std::size_t i = 0; i < other.nodes.size(); ++i) {
      const pattern_node& node = other.nodes[i];
      std::vector<std::uint32_t> children;
      for (std::uint32_t c : other.children_of(node)) children.push_back(moved[c]);
      switch (node.kind) {
        case shape::any:
          moved[i] = add_any();
          break;
        case shape::variable:
          moved[i] = add_variable(other.variables[node.slot]);
          break;
        case shape::literal:
          moved[i] = add_literal(node.literal);
          break;
        default:
          moved[i] = add_container(node.kind, children);
          break;
      }
    }
    return moved[other.root];
  }

  bool is_literal(std::uint32_t node) const { return program_.nodes[node].kind == shape::literal; }
  const term& literal_of(std::uint32_t node) const { return program_.nodes[node].literal; }

  std::shared_ptr<const pattern_program> finish(std::uint32_t root) {
    program_.root = root;
    return std::make_shared<const pattern_program>(std::move(program_));
  }

 private:
  std::uint32_t add(pattern_node node) {
    program_.nodes.push_back(std::move(node));
    return static_cast<std::uint32_t>(program_.nodes.size() - 1);
  }
  std::uint32_t add_container(shape kind, const std::vector<std::uint32_t>& children) {
    pattern_node node;
    node.kind = kind;
    node.first_child = static_cast<std::uint32_t>(program_.children.size());
    node.child_count = static_cast<std::uint32_t>(children.size());
    program_.children.insert(program_.children.end(), children.begin(), children.end());
    return add(std::move(node));
  }
  bool all_literal(const std::vector<std::uint32_t>& nodes) const {
    return std::all_of(nodes.begin(), nodes.end(), [&](std::uint32_t n) { return is_literal(n); });
  }

  pattern_program program_;
};

// term_reader's builder for patterns: nodes are node indices.
struct pattern_syntax_builder {
  using node = std::uint32_t;
  static constexpr std::string_view map_arrow = ":=";

  program_builder& program;

  node literal(term value, std::size_t) { return program.add_literal(std::move(value)); }
  node variable(const std::string& name, std::size_t) {
    return name == "_" ? program.add_any() : program.add_variable(name);
  }
  node tuple(std::vector<node>&& elements) { return program.add_tuple(elements); }
  node list(std::vector<node>&& elements, node&& tail) { return program.add_list(elements, tail); }
  node map(std::vector<std::pair<node, node>>&& entries, std::size_t offset) {
    for (const auto& entry : entries) {
      if (!program.is_literal(entry.first))
        throw parse_error(offset, "map pattern keys must be literal terms, not patterns");
    }
    return program.add_map(entries);
  }
};

// Slots for bindings: the first few inline, so small patterns match without allocating.
class binding_slots {
 public:
  explicit binding_slots(std::size_t count) : count_(count) {
    if (count > inline_count) spilled_.resize(count);
  }
  std::optional<term>& operator[](std::size_t slot) {
    return count_ > inline_count ? spilled_[slot] : inline_[slot];
  }

 private:
  static constexpr std::size_t inline_count = 6;
  std::size_t count_;
  std::optional<term> inline_[inline_count];
  std::vector<std::optional<term>> spilled_;
};

bool match_node(const pattern_program& program, std::uint32_t index, const term& t,
                binding_slots* slots) {
  const pattern_node& node = program.nodes[index];
  switch (node.kind) {
    case shape::any:
      return true;
    case shape::variable: {
      if (slots == nullptr) return true;
      std::optional<term>& slot = (*slots)[node.slot];
      if (slot) return *slot == t;
      slot = t;
      return true;
    }
    case shape::literal:
      return t == node.literal;
    case shape::tuple: {
      if (!t.is_tuple()) return false;
      const std::span<const term> elements = t.elements();
      const std::span<const std::uint32_t> children = program.children_of(node);
      if (elements.size() != children.size()) return false;
      for (std::size_t i = 0; i < children.size(); ++i)
        if (!match_node(program, children[i], elements[i], slots)) return false;
      return true;
    }
    case shape::list: {
      if (t.kind() != term::kind::list) return false;
      const std::span<const std::uint32_t> children = program.children_of(node);
      const term::list_view list = t.as_list();
      auto it = list.begin();
      for (std::size_t i = 0; i + 1 < children.size(); ++i, ++it) {
        if (it == list.end() || !match_node(program, children[i], *it, slots)) return false;
      }
      const std::uint32_t tail = children.back();
      if (program.nodes[tail].kind == shape::any) return true;
      return match_node(program, tail, it.rest(), slots);
    }
    case shape::map: {
      if (!t.is_map()) return false;
      const std::span<const std::uint32_t> children = program.children_of(node);
      for (std::size_t i = 0; i < children.size(); i += 2) {
        const term* value = t.find(program.nodes[children[i]].literal);
        if (value == nullptr || !match_node(program, children[i + 1], *value, slots)) return false;
      }
      return true;
    }
  }
  return false;
}

void append_pattern(std::string& out, const pattern_program& program, std::uint32_t index) {
  const pattern_node& node = program.nodes[index];
  const std::span<const std::uint32_t> children = program.children_of(node);
  switch (node.kind) {
    case shape::any:
      out += '_';
      return;
    case shape::variable:
      out += program.variables[node.slot];
      return;
    case shape::literal:
      append_term(out, node.literal);
      return;
    case shape::tuple:
      out += '{';
      for (std::size_t i = 0; i < children.size(); ++i) {
        if (i > 0) out += ',';
        append_pattern(out, program, children[i]);
      }
      out += '}';
      return;
    case shape::list: {
      out += '[';
      for (std::size_t i = 0; i + 1 < children.size(); ++i) {
        if (i > 0) out += ',';
        append_pattern(out, program, children[i]);
      }
      const pattern_node& tail = program.nodes[children.back()];
      if (!(tail.kind == shape::literal && tail.literal.is_nil())) {
        out += '|';
        append_pattern(out, program, children.back());
      }
      out += ']';
      return;
    }
    case shape::map:
      out += "#{";
      for (std::size_t i = 0; i < children.size(); i += 2) {
        if (i > 0) out += ',';
        append_pattern(out, program, children[i]);
        out += " := ";
        append_pattern(out, program, children[i + 1]);
      }
      out += '}';
      return;
  }
}

}  // namespace
}  // namespace detail

using detail::program_builder;

pattern::pattern(std::string_view source) {
  program_builder program;
  detail::pattern_syntax_builder syntax{program};
  const std::uint32_t root =
      detail::term_reader<detail::pattern_syntax_builder>(source, syntax).read_all();
  program_ = program.finish(root);
}

pattern::pattern(const term& literal) {
  program_builder program;
  program_ = program.finish(program.add_literal(literal));
}

pattern pattern::any() {
  program_builder program;
  return pattern(program.finish(program.add_any()));
}

pattern pattern::var(std::string_view name) {
  if (!detail::is_variable_name(name)) {
    throw badarg("pattern::var: '" + std::string(name) +
                 "' is not a variable name (an uppercase letter or _ first, not _ alone)");
  }
  program_builder program;
  return pattern(program.finish(program.add_variable(name)));
}

pattern pattern::tuple(std::span<const pattern> elements) {
  program_builder program;
  std::vector<std::uint32_t> children;
  for (const pattern& e : elements) children.push_back(program.import(*e.program_));
  return pattern(program.finish(program.add_tuple(children)));
}

pattern pattern::list(std::span<const pattern> elements, const pattern& tail) {
  program_builder program;
  std::vector<std::uint32_t> children;
  for (const pattern& e : elements) children.push_back(program.import(*e.program_));
  const std::uint32_t tail_node = program.import(*tail.program_);
  return pattern(program.finish(program.add_list(children, tail_node)));
}

pattern pattern::map(std::span<const std::pair<term, pattern>> entries) {
  program_builder program;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> children;
  for (const auto& [key, value] : entries)
    children.emplace_back(program.add_literal(key), program.import(*value.program_));
  return pattern(program.finish(program.add_map(children)));
}

bool pattern::matches(const term& t) const {
  if (!program_->repeats_variable) return detail::match_node(*program_, program_->root, t, nullptr);
  detail::binding_slots slots(program_->variables.size());
  return detail::match_node(*program_, program_->root, t, &slots);
}

std::optional<bindings> pattern::match(const term& t) const {
  detail::binding_slots slots(program_->variables.size());
  if (!detail::match_node(*program_, program_->root, t, &slots)) return std::nullopt;
  std::vector<term> values;
  values.reserve(program_->variables.size());
  for (std::size_t i = 0; i < program_->variables.size(); ++i)
    values.push_back(std::move(*slots[i]));
  return bindings(program_, std::move(values));
}

std::span<const std::string> pattern::variables() const noexcept {
  return program_->variables;
}

std::string pattern::to_string() const {
  std::string out;
  detail::append_pattern(out, *program_, program_->root);
  return out;
}

std::ostream& operator<<(std::ostream& os, const pattern& p) {
  return os << p.to_string();
}

const term* bindings::find(std::string_view name) const noexcept {
  const std::vector<std::string>& names = program_->variables;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return &values_[i];
  return nullptr;
}

const term& bindings::operator[](std::string_view name) const {
  if (const term* value = find(name)) return *value;
  throw badarg("the pattern has no variable " + std::string(name));
}

std::string_view bindings::name(std::size_t index) const {
  return program_->variables.at(index);
}

}  // namespace beamline
