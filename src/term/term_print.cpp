// term_print.cpp: terms in Erlang syntax (see term_printer.hpp and docs/terms.md).
//
// The output is what io:format("~tp") prints for the term, on one line: no spaces
// after commas, " => " in maps, strings for printable lists, <<"...">> for printable
// binaries, floats in Erlang's shortest form. Every readable term prints as text that
// term::parse (and Erlang's parser) reads back as the same term; remote pids, ports
// and references and local funs print in Erlang's unreadable forms.
//
// The printer keeps its own stack of open containers (no recursion on depth): a
// frame yields the container's next child with the separator that goes before it,
// and closes the container when it runs out.
#include <charconv>
#include <ostream>

#include "beamline/term.hpp"
#include "term/erlang_text.hpp"
#include "term/float_format.hpp"
#include "term/heap_objects.hpp"
#include "term/small_stack.hpp"
#include "term/term_printer.hpp"
#include "term/utf8.hpp"

namespace beamline {

namespace detail {
namespace {

using term_tag = term_access::tag;

void append_integer(std::string& out, std::int64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// A proper, non-empty list of printable character codes prints as a string.
bool is_printable_string(const term& list) {
  const term::list_view elements = list.as_list();
  for (const term& e : elements) {
    if (!e.is_integer() || term_access::tag_of(e) != term_tag::small_integer) return false;
    const std::int64_t code = e.as_int();
    if (code < 0 || code > 0x10FFFF ||
        !erlang_text::is_printable_character(static_cast<char32_t>(code)))
      return false;
  }
  return elements.tail().is_nil();
}

void append_string(std::string& out, const term& list) {
  out.push_back('"');
  for (const term& e : list.as_list())
    erlang_text::append_quoted_character(out, static_cast<char32_t>(e.as_int()), '"');
  out.push_back('"');
}

void append_bitstring(std::string& out, const term& t) {
  const std::span<const std::byte> bytes = term_access::binary_bytes(t);
  const std::size_t bits = term_access::binary_bit_size(t);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (bits % 8 == 0) {
    // Erlang's choice (~tp): printable ASCII as <<"abc">>; else printable UTF-8 as
    // <<"λ"/utf8>>; else printable Latin-1 as <<"È">> (one character per byte).
    bool latin1 = true;
    bool ascii = true;
    for (char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      latin1 = latin1 && erlang_text::is_printable_character(byte);
      ascii = ascii && byte < 0x80;
    }
    bool unicode = !(latin1 && ascii);
    for (std::size_t position = 0; unicode && position < text.size();) {
      const auto c = utf8::decode(text, position);
      unicode = c && erlang_text::is_printable_character(*c);
    }
    if (unicode) {
      out += "<<\"";
      for (std::size_t position = 0; position < text.size();)
        erlang_text::append_quoted_character(out, *utf8::decode(text, position), '"');
      out += "\"/utf8>>";
      return;
    }
    if (latin1) {
      out += "<<\"";
      for (char c : text)
        erlang_text::append_quoted_character(out, static_cast<unsigned char>(c), '"');
      out += "\">>";
      return;
    }
  }
  // <<1,2,3>>, with a partial last byte as Value:Bits.
  out += "<<";
  const std::size_t whole = bits / 8;
  for (std::size_t i = 0; i < whole; ++i) {
    if (i > 0) out.push_back(',');
    append_integer(out, std::to_integer<int>(bytes[i]));
  }
  if (const std::size_t rest = bits % 8) {
    if (whole > 0) out.push_back(',');
    append_integer(out, std::to_integer<int>(bytes[whole]) >> (8 - rest));
    out.push_back(':');
    append_integer(out, static_cast<std::int64_t>(rest));
  }
  out += ">>";
}

void append_fun(std::string& out, const term& t) {
  const auto* f = static_cast<const fun_object*>(term_access::object_of(t));
  if ((f->flags & fun_object::external_flag) != 0) {  // fun lists:map/2
    out += "fun ";
    erlang_text::append_atom(out, atom::from_index(f->module).name());
    out.push_back(':');
    erlang_text::append_atom(out, atom::from_index(f->function).name());
    out.push_back('/');
    append_integer(out, f->arity);
  } else {  // #Fun<erl_eval.6.3316493>
    out += "#Fun<";
    erlang_text::append_atom(out, atom::from_index(f->module).name());
    out.push_back('.');
    append_integer(out, f->old_index);
    out.push_back('.');
    append_integer(out, f->old_uniq);
    out.push_back('>');
  }
}

// An open container: yields its children, each after its separator.
struct print_frame {
  enum class shape : std::uint8_t { tuple, map, list };
  shape kind;
  const term* items;  // tuple elements; map keys (the values follow)
  std::size_t count;
  std::size_t position;
  term::list_iterator list;  // list: the next element
  bool list_tail_done;       // list: the tail has been printed
};

}  // namespace

void append_term(std::string& out, const term& root, std::size_t limit) {
  const std::size_t start = out.size();
  small_stack<print_frame, 16> stack;
  const term* current = &root;
  for (;;) {
    const term& t = *current;
    switch (term_access::tag_of(t)) {
      case term_tag::atom:
        erlang_text::append_atom(out, t.as_atom().name());
        break;
      case term_tag::small_integer:
        append_integer(out, t.as_int());
        break;
      case term_tag::big_integer:
        out += t.as_bigint().to_string();
        break;
      case term_tag::float_:
        append_erlang_float(out, t.as_double());
        break;
      case term_tag::nil:
        out += "[]";
        break;
      case term_tag::empty_tuple:
        out += "{}";
        break;
      case term_tag::empty_map:
        out += "#{}";
        break;
      case term_tag::empty_binary:
        out += "<<>>";
        break;
      case term_tag::local_pid:
      case term_tag::external_pid:
        out += t.as_pid().to_string();
        break;
      case term_tag::local_port:
      case term_tag::external_port:
        out += t.as_port().to_string();
        break;
      case term_tag::local_ref:
      case term_tag::external_ref:
        out += t.as_ref().to_string();
        break;
      case term_tag::binary:
        append_bitstring(out, t);
        break;
      case term_tag::fun:
        append_fun(out, t);
        break;
      case term_tag::tuple: {
        const std::span<const term> elements = t.elements();
        out.push_back('{');
        stack.push({print_frame::shape::tuple, elements.data(), elements.size(), 0, {}, false});
        break;
      }
      case term_tag::map: {
        const std::span<const term> keys = term_access::map_keys(t);
        out += "#{";
        stack.push({print_frame::shape::map, keys.data(), keys.size(), 0, {}, false});
        break;
      }
      case term_tag::list:
        if (is_printable_string(t)) {
          append_string(out, t);
        } else {
          out.push_back('[');
          stack.push({print_frame::shape::list, nullptr, 0, 0, term_access::list_begin(t), false});
        }
        break;
    }
    if (out.size() - start > limit) {
      out.resize(start + limit);
      out += "...";
      return;
    }
    // The next child to print, closing finished containers on the way.
    for (;;) {
      if (stack.empty()) return;
      print_frame& frame = stack.top();
      if (frame.kind == print_frame::shape::tuple) {
        if (frame.position < frame.count) {
          if (frame.position > 0) out.push_back(',');
          current = frame.items + frame.position++;
          break;
        }
        out.push_back('}');
      } else if (frame.kind == print_frame::shape::map) {
        // Positions alternate key, value: key i at 2i, its value at 2i + 1.
        if (frame.position < 2 * frame.count) {
          const std::size_t entry = frame.position / 2;
          const bool is_key = frame.position % 2 == 0;
          if (is_key && entry > 0) out.push_back(',');
          if (!is_key) out += " => ";
          current = frame.items + (is_key ? entry : frame.count + entry);
          ++frame.position;
          break;
        }
        out.push_back('}');
      } else {
        if (frame.list != term::list_iterator()) {
          if (frame.position++ > 0) out.push_back(',');
          current = &*frame.list++;
          break;
        }
        const term& tail = term_access::end_tail(frame.list);
        if (!frame.list_tail_done && !tail.is_nil()) {
          frame.list_tail_done = true;
          out.push_back('|');
          current = &tail;
          break;
        }
        out.push_back(']');
      }
      stack.pop();
    }
  }
}

}  // namespace detail

std::string term::to_string() const {
  std::string out;
  detail::append_term(out, *this);
  return out;
}

std::ostream& operator<<(std::ostream& os, const term& t) {
  return os << t.to_string();
}

}  // namespace beamline
