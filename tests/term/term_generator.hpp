// term_generator.hpp: random terms for the property tests (seeded, reproducible).
//
// any() covers every kind, with the awkward cases over-represented: atoms that need
// quotes or escapes, integers at the int64 edges and beyond, floats from random bits,
// printable and unprintable strings, binaries that print as text, UTF-8 or bytes,
// bitstrings, improper lists, maps mixing integer and float keys. Options leave out
// what a test cannot use (remote identities and closures do not read back; Erlang's
// file:consult cannot read pids, ports, refs or funs).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "beamline/fun.hpp"
#include "beamline/term.hpp"

namespace beamline_test {

struct generator_options {
  bool identities = true;          // local pids, ports, refs
  bool remote = false;             // remote pids, ports, refs (they do not read back)
  bool funs = true;                // export funs (fun M:F/A)
  bool closures = false;           // local funs (they do not read back)
  bool negative_zero = true;       // -0.0 (older Erlang reads it as 0.0 =:= -0.0)
  bool new_reserved = true;        // maybe and else (reserved since OTP 27)
  bool reserved_functions = true;  // fun m:'end'/0 (Erlang prints it unquoted)
  bool null_refs = true;           // #Ref<0> (no words; it has no external form)
};

class term_generator {
 public:
  using term = beamline::term;

  explicit term_generator(std::uint64_t seed, generator_options options = {})
      : random_(seed), options_(options) {}

  term any(int depth) {
    if (depth <= 0 || chance(3)) return scalar();
    switch (pick(6)) {
      case 0: {
        std::vector<term> elements(pick(5));
        for (term& e : elements) e = any(depth - 1);
        return term::tuple(elements);
      }
      case 1:
      case 2: {
        std::vector<term> elements(pick(5));
        for (term& e : elements) e = any(depth - 1);
        if (chance(4)) return term::improper_list(elements, any(depth - 1));
        return term::list(elements);
      }
      case 3: {
        std::vector<std::pair<term, term>> entries(pick(5));
        for (auto& [key, value] : entries) {
          key = chance(2) ? number() : any(depth - 1);
          value = any(depth - 1);
        }
        return term::map(entries);
      }
      default:
        return scalar();
    }
  }

  term scalar() {
    switch (pick(9)) {
      case 0:
        return atom_term();
      case 1:
      case 2:
        return number();
      case 3:
        return string();
      case 4:
        return bitstring();
      case 5:
        if (options_.identities) return identity();
        return atom_term();
      case 6:
        if (options_.funs) return fun();
        return number();
      default:
        return chance(2) ? term::nil() : (chance(2) ? term::tuple() : term::map({}));
    }
  }

  term atom_term() {
    static const char* const names[] = {
        "ok",       "EXIT",      "hello world", "",     "a'b",  "a\\b",          "\n",
        "λ",        "ßa",        "aÄ",          "Ä",    "end",  "nonode@nohost", "a@b",
        "_x",       "x_Y1",      "9a",          "a.b",  "'",    "\x01",          "\x7f",
        "\xc2\x80", "tab\there", "maybe",       "else", "true", "undefined",     "$gen_call"};
    const std::string name = names[pick(std::size(names))];
    if (!options_.new_reserved && (name == "maybe" || name == "else")) return beamline::atoms::ok;
    if (chance(3)) {
      std::string random_name;
      const std::size_t length = pick(12);
      static const char* const pieces[] = {"a", "b", "c", "x", "y", "z", "A",
                                           "Z", "_", "@", "0", "9", " ", "é"};
      for (std::size_t i = 0; i < length; ++i) random_name += pieces[pick(std::size(pieces))];
      return beamline::atom(random_name);
    }
    return beamline::atom(name);
  }

  term number() {
    switch (pick(8)) {
      case 0:
        return static_cast<std::int64_t>(pick(300)) - 20;
      case 1:
        return static_cast<std::int64_t>(random_());
      case 2: {
        static const std::int64_t edges[] = {std::numeric_limits<std::int64_t>::min(),
                                             std::numeric_limits<std::int64_t>::max(),
                                             0,
                                             -1,
                                             (std::int64_t{1} << 53) + 1,
                                             -(std::int64_t{1} << 53)};
        return edges[pick(std::size(edges))];
      }
      case 3: {
        std::string digits = chance(2) ? "-" : "";
        digits += static_cast<char>('1' + pick(9));
        const std::size_t length = 18 + pick(30);
        for (std::size_t i = 0; i < length; ++i) digits += static_cast<char>('0' + pick(10));
        return term::integer_from_string(digits);
      }
      case 4: {
        for (;;) {  // any finite double, from random bits
          const std::uint64_t bits = random_();
          double d;
          std::memcpy(&d, &bits, sizeof d);
          if (std::isfinite(d) && (options_.negative_zero || d != 0)) return d;
        }
      }
      case 5: {
        static const double specials[] = {0.0,         1.0,
                                          0.1,         1.0e100,
                                          5.0e-324,    1.7976931348623157e308,
                                          123456789.0, 1.0e15,
                                          1.0e16,      9007199254740992.0,
                                          -2.5,        1.0e-5,
                                          0.0001,      3.0e5};
        return specials[pick(std::size(specials))];
      }
      case 6:
        if (options_.negative_zero && chance(3)) return -0.0;
        return static_cast<double>(static_cast<std::int64_t>(pick(2000)) - 1000);
      default:
        return static_cast<double>(static_cast<std::int64_t>(random_() >> 20)) / 1024.0;
    }
  }

  term string() {
    std::string text;
    const std::size_t length = 1 + pick(8);
    if (chance(3)) {  // any small integers: usually not printable
      std::vector<term> codes;
      for (std::size_t i = 0; i < length; ++i)
        codes.emplace_back(static_cast<std::int64_t>(pick(1200)));
      return term::list(codes);
    }
    static const char* const pieces[] = {"a",  "Z",    " ", "\"", "\\", "\n",
                                         "\t", "\x1b", "é", "λ",  "€",  "\xf0\x9f\x98\x80",
                                         "'",  "$",    "0"};
    for (std::size_t i = 0; i < length; ++i) text += pieces[pick(std::size(pieces))];
    return term::string(text);
  }

  term bitstring() {
    std::vector<std::byte> bytes(pick(10));
    const std::size_t style = pick(3);
    for (std::byte& b : bytes) {
      if (style == 0) {
        b = static_cast<std::byte>(32 + pick(95));  // printable ASCII
      } else {
        b = static_cast<std::byte>(pick(256));
      }
    }
    if (style == 1) {
      const std::string text = "λé€ok";
      return term::binary(text);
    }
    const std::size_t bits = bytes.size() * 8;
    if (bits > 0 && chance(4)) return term::bitstring(bytes, bits - pick(8));
    return term::binary(bytes);
  }

  term identity() {
    const bool remote = options_.remote && chance(3);
    const std::uint32_t node = remote ? beamline::atom(chance(2) ? "a@host" : "z@host").index() : 0;
    const std::uint32_t creation = remote ? static_cast<std::uint32_t>(1 + pick(3)) : 0;
    switch (pick(3)) {
      case 0:
        return beamline::pid{static_cast<std::uint32_t>(pick(1000)),
                             static_cast<std::uint32_t>(pick(3)), node, creation};
      case 1:
        return beamline::port{pick(100000), node, creation};
      default: {
        beamline::ref r;
        r.node = node;
        r.creation = creation;
        r.length = static_cast<std::uint32_t>(options_.null_refs ? pick(6) : 1 + pick(5));
        for (std::uint32_t i = 0; i < r.length; ++i)
          r.words[i] = static_cast<std::uint32_t>(random_());
        return r;
      }
    }
  }

  term fun() {
    if (options_.closures && chance(2)) {
      beamline::local_fun f;
      f.module = beamline::atom(chance(2) ? "erl_eval" : "m");
      f.index = f.old_index = static_cast<std::uint32_t>(pick(3));
      f.old_uniq = static_cast<std::uint32_t>(pick(3));
      // As in Erlang, the code (module, index, uniq) decides the arity and the MD5: funs
      // that Erlang's order finds equal must not differ in fields it does not compare.
      f.arity = static_cast<std::uint8_t>((f.old_index + f.old_uniq) % 3);
      f.uniq[0] = static_cast<std::uint8_t>(f.old_uniq * 7 + f.old_index);
      f.creator = beamline::pid{1, 0, 0, 0};
      for (std::size_t i = pick(3); i > 0; --i) f.free_variables.push_back(number());
      return term::fun(f);
    }
    static const char* const modules[] = {"lists", "erlang", "a b"};
    static const char* const functions[] = {"map", "filter", "end"};
    const std::size_t function = pick(options_.reserved_functions ? 3 : 2);
    return term::fun(beamline::external_fun{beamline::atom(modules[pick(3)]),
                                            beamline::atom(functions[function]),
                                            static_cast<std::uint8_t>(pick(256))});
  }

  // A term that is equal, or equal under Erlang's ==, built another way.
  term variant_of(const term& t) {
    switch (t.kind()) {
      case term::kind::integer:
        if (t.as_bigint().fits_int64()) {
          const std::int64_t i = t.as_int();
          if (i > -(std::int64_t{1} << 53) && i < (std::int64_t{1} << 53))
            return static_cast<double>(i);
        }
        return t;
      case term::kind::float_: {
        const double d = t.as_double();
        if (d == std::trunc(d) && std::fabs(d) < 1e18) return static_cast<std::int64_t>(d);
        return t;
      }
      case term::kind::list: {  // the same list in two chunks
        std::vector<term> elements;
        const term::list_view view = t.as_list();
        for (const term& e : view) elements.push_back(e);
        const std::size_t split = elements.size() / 2;
        const term rest =
            term::improper_list(std::span<const term>(elements).subspan(split), view.tail());
        return term::improper_list(std::span<const term>(elements).first(split), rest);
      }
      case term::kind::tuple: {
        if (t.size() == 0) return t;
        std::vector<term> elements(t.elements().begin(), t.elements().end());
        elements[0] = variant_of(elements[0]);
        return term::tuple(elements);
      }
      case term::kind::binary:
        if (t.is_binary()) {  // a slice of a bigger binary
          const std::string padded = "<<" + std::string(t.as_binary()) + ">>";
          return term::binary(padded).sub_binary(2, t.byte_size());
        }
        return t;
      default:
        return t;
    }
  }

 private:
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(random_() % n); }
  bool chance(std::size_t one_in) { return pick(one_in) == 0; }

  std::mt19937_64 random_;
  generator_options options_;
};

}  // namespace beamline_test
