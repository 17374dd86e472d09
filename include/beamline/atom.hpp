// beamline/atom.hpp: atoms, Erlang's interned names.
//
// An atom is a 32-bit index into one process-wide atom table. The table is
// append-only: an index, once handed out, names the same text until the process
// exits, so an atom is a plain value (copy, compare by index, hash) and its name is
// a lock-free lookup. Interning a name the table already holds is lock-free as well;
// adding a new name takes the table's lock.
//
// Invariants:
// - Names are valid UTF-8 of at most 255 characters (code points), as Erlang's.
// - Index 0 is the atom `undefined`, so a default-constructed atom (and a
//   default-constructed term) is `undefined`, Erlang's conventional "no value".
// - The built-in atoms (namespace atoms below) have fixed indices, known at compile
//   time: they are constexpr and naming them costs no lookup.
// - The table holds at most atom::max_count atoms (Erlang's default limit); past it
//   interning throws std::length_error, where Erlang raises system_limit.
//
// Order: Erlang compares atoms by their text, bytewise (UTF-8 byte order is code
// point order), so `<=>` compares names while `==` compares indices.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace beamline {

class term;

namespace detail {
// The built-in atoms, in index order. Append only: the position is the index.
inline constexpr std::string_view builtin_atom_names[] = {
    "undefined",  // 0: the default atom
    "",
    "true",
    "false",
    "ok",
    "error",
    "normal",
    "kill",
    "killed",
    "noproc",
    "noconnection",
    "EXIT",
    "DOWN",
    "process",
    "port",
    "exception",
    "timeout",
    "shutdown",
    "badarg",
    "badarith",
    "badmatch",
    "badkey",
    "badmap",
    "function_clause",
    "case_clause",
    "if_clause",
    "undef",
    "system_limit",
    "infinity",
    "nocatch",
    "throw",
    "exit",
    "nonode@nohost",
    "$gen_call",
    "$gen_cast",
    "call",
    "cast",
    "reply",
    "noreply",
    "stop",
    "ignore",
    "nodedown",
    "nodeup",
    "alias",
    "monitor",
    "demonitor",
    "link",
    "unlink",
    "trap_exit",
    "priority",
    "low",
    "high",
    "max",
    "net_kernel",
    "is_auth",
    "yes",
    "no",
    "pong",
    "pang",
    "erlang",
    "apply",
    "rex",
    "permanent",
    "transient",
    "temporary",
    "brutal_kill",
    "worker",
    "supervisor",
    "one_for_one",
    "one_for_all",
    "rest_for_one",
    "simple_one_for_one",
};
inline constexpr std::uint32_t builtin_atom_count =
    static_cast<std::uint32_t>(std::size(builtin_atom_names));

// The name of a dynamic (non-built-in) atom: a lock-free table read.
std::string_view dynamic_atom_name(std::uint32_t index) noexcept;
}  // namespace detail

class atom {
 public:
  // The most atoms the table holds, built-in ones included (Erlang's default).
  static constexpr std::size_t max_count = std::size_t{1} << 20;

  // The atom `undefined` (index 0).
  constexpr atom() noexcept = default;

  // Interns `name`: returns the existing atom of that name or adds one.
  // Throws std::invalid_argument for invalid UTF-8 or more than 255 characters, and
  // std::length_error when the table is full.
  explicit atom(std::string_view name);

  // The atom of that name if it already exists (Erlang's list_to_existing_atom);
  // never adds one, never throws.
  static std::optional<atom> existing(std::string_view name) noexcept;

  // The atom with that index; throws std::invalid_argument if no atom has it yet.
  static atom from_index(std::uint32_t index);

  // A built-in atom by name, resolved at compile time (a name that is not built in
  // does not compile).
  static consteval atom builtin(std::string_view name) {
    for (std::uint32_t i = 0; i < detail::builtin_atom_count; ++i) {
      if (detail::builtin_atom_names[i] == name) return atom(i);
    }
    throw "not a built-in atom";  // not a constant expression: a compile error
  }

  constexpr std::uint32_t index() const noexcept { return index_; }
  constexpr bool is_builtin() const noexcept { return index_ < detail::builtin_atom_count; }

  // The atom's text (UTF-8), valid for the life of the process.
  std::string_view name() const noexcept {
    if (index_ < detail::builtin_atom_count) return detail::builtin_atom_names[index_];
    return detail::dynamic_atom_name(index_);
  }

  // The atom as Erlang prints it: quoted when it must be ('EXIT', 'hello world').
  std::string to_string() const;

  // Whether Erlang syntax needs quotes around this name: unless it starts with a
  // lowercase letter, holds only letters, digits, _ and @ (Latin-1 letters count),
  // and is not a reserved word.
  static bool needs_quotes(std::string_view name) noexcept;

  // The number of atoms in the table, built-in ones included.
  static std::size_t count() noexcept;

  friend constexpr bool operator==(atom a, atom b) noexcept = default;
  // Erlang's order: by name, bytewise.
  friend std::strong_ordering operator<=>(atom a, atom b) noexcept;

 private:
  friend class term;  // rebuilds atoms from the indices it stores, unchecked
  constexpr explicit atom(std::uint32_t index) noexcept : index_(index) {}

  std::uint32_t index_ = 0;
};

std::ostream& operator<<(std::ostream& os, atom a);

// The built-in atoms. C++ keywords get a trailing underscore; names that are not
// identifiers are spelled out ('EXIT' is EXIT, '' is empty, '$gen_call' is gen_call).
namespace atoms {
inline constexpr atom undefined = atom::builtin("undefined");
inline constexpr atom empty = atom::builtin("");
inline constexpr atom true_ = atom::builtin("true");
inline constexpr atom false_ = atom::builtin("false");
inline constexpr atom ok = atom::builtin("ok");
inline constexpr atom error = atom::builtin("error");
inline constexpr atom normal = atom::builtin("normal");
inline constexpr atom kill = atom::builtin("kill");
inline constexpr atom killed = atom::builtin("killed");
inline constexpr atom noproc = atom::builtin("noproc");
inline constexpr atom noconnection = atom::builtin("noconnection");
inline constexpr atom EXIT = atom::builtin("EXIT");
inline constexpr atom DOWN = atom::builtin("DOWN");
inline constexpr atom process = atom::builtin("process");
inline constexpr atom port = atom::builtin("port");
inline constexpr atom exception = atom::builtin("exception");
inline constexpr atom timeout = atom::builtin("timeout");
inline constexpr atom shutdown = atom::builtin("shutdown");
inline constexpr atom badarg = atom::builtin("badarg");
inline constexpr atom badarith = atom::builtin("badarith");
inline constexpr atom badmatch = atom::builtin("badmatch");
inline constexpr atom badkey = atom::builtin("badkey");
inline constexpr atom badmap = atom::builtin("badmap");
inline constexpr atom function_clause = atom::builtin("function_clause");
inline constexpr atom case_clause = atom::builtin("case_clause");
inline constexpr atom if_clause = atom::builtin("if_clause");
inline constexpr atom undef = atom::builtin("undef");
inline constexpr atom system_limit = atom::builtin("system_limit");
inline constexpr atom infinity = atom::builtin("infinity");
inline constexpr atom nocatch = atom::builtin("nocatch");
inline constexpr atom throw_ = atom::builtin("throw");
inline constexpr atom exit = atom::builtin("exit");
inline constexpr atom nonode_at_nohost = atom::builtin("nonode@nohost");
inline constexpr atom gen_call = atom::builtin("$gen_call");
inline constexpr atom gen_cast = atom::builtin("$gen_cast");
inline constexpr atom call = atom::builtin("call");
inline constexpr atom cast = atom::builtin("cast");
inline constexpr atom reply = atom::builtin("reply");
inline constexpr atom noreply = atom::builtin("noreply");
inline constexpr atom stop = atom::builtin("stop");
inline constexpr atom ignore = atom::builtin("ignore");
inline constexpr atom nodedown = atom::builtin("nodedown");
inline constexpr atom nodeup = atom::builtin("nodeup");
inline constexpr atom alias = atom::builtin("alias");
inline constexpr atom monitor = atom::builtin("monitor");
inline constexpr atom demonitor = atom::builtin("demonitor");
inline constexpr atom link = atom::builtin("link");
inline constexpr atom unlink = atom::builtin("unlink");
inline constexpr atom trap_exit = atom::builtin("trap_exit");
inline constexpr atom priority = atom::builtin("priority");
inline constexpr atom low = atom::builtin("low");
inline constexpr atom high = atom::builtin("high");
inline constexpr atom max = atom::builtin("max");
inline constexpr atom net_kernel = atom::builtin("net_kernel");
inline constexpr atom is_auth = atom::builtin("is_auth");
inline constexpr atom yes = atom::builtin("yes");
inline constexpr atom no = atom::builtin("no");
inline constexpr atom pong = atom::builtin("pong");
inline constexpr atom pang = atom::builtin("pang");
inline constexpr atom erlang = atom::builtin("erlang");
inline constexpr atom apply = atom::builtin("apply");
inline constexpr atom rex = atom::builtin("rex");
inline constexpr atom permanent = atom::builtin("permanent");
inline constexpr atom transient = atom::builtin("transient");
inline constexpr atom temporary = atom::builtin("temporary");
inline constexpr atom brutal_kill = atom::builtin("brutal_kill");
inline constexpr atom worker = atom::builtin("worker");
inline constexpr atom supervisor = atom::builtin("supervisor");
inline constexpr atom one_for_one = atom::builtin("one_for_one");
inline constexpr atom one_for_all = atom::builtin("one_for_all");
inline constexpr atom rest_for_one = atom::builtin("rest_for_one");
inline constexpr atom simple_one_for_one = atom::builtin("simple_one_for_one");
}  // namespace atoms

}  // namespace beamline

template <>
struct std::hash<beamline::atom> {
  std::size_t operator()(beamline::atom a) const noexcept {
    return static_cast<std::size_t>(std::uint64_t{a.index()} * 0x9E3779B97F4A7C15ull >> 16);
  }
};
