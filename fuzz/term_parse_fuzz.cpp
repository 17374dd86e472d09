// term_parse_fuzz: libFuzzer target for term::parse, the reader of Erlang term text
// (docs/terms.md) that beamline-term's encode and binary literals go through.
//
// Every input is parsed. The only exceptions allowed out are parse_error (with an
// offset within the input) and the atom table's length_error once a long run has
// filled it (see below). A term that parses must survive the checks:
// - its external term format encoding decodes back to an equal term (the null
//   reference #Ref<0> alone has none: encoding it throws badarg);
// - printing it gives text that parses back to an equal term (=:=), with the same
//   hash, comparing equal (compare() == 0), and printing the same again (skipped for
//   terms over 64 KB encoded: wide binary segments make megabytes from a short text).
//
// Atoms: parsing adds every new atom name to the process's atom table, which never
// shrinks and holds at most atom::max_count atoms; past that, parse throws
// std::length_error ("atom table full"), as it would in a real node, and the input
// counts as refused.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "beamline/etf.hpp"
#include "beamline/term.hpp"

namespace bl = beamline;
namespace etf = beamline::etf;

namespace {

[[noreturn]] void finding(const char* what, std::string_view text) {
  std::fprintf(stderr, "term_parse_fuzz: %s: %.*s\n", what,
               static_cast<int>(std::min<std::size_t>(text.size(), 2000)), text.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  bl::term t;
  try {
    t = bl::term::parse(text);
  } catch (const bl::parse_error& e) {
    if (e.offset() > size) finding("a parse error's offset is past the input", text);
    return 0;
  } catch (const std::length_error&) {
    if (bl::atom::count() < bl::atom::max_count - 1000) throw;  // not the atom table
    return 0;
  }

  // A few wide segments (<<0:16777216, ...>>) make megabytes of binary from a short
  // text; printing and reading that back is slow and finds nothing new: only the
  // ETF round trip below checks such terms.
  etf::buffer encoded;
  bool encodes = true;
  try {
    etf::encode(t, encoded);
  } catch (const bl::badarg&) {
    // The null reference, #Ref<0>, parses but has no external form (docs/etf.md).
    if (t.to_string().find("#Ref<0>") == std::string::npos) throw;
    encodes = false;
  }
  if (encodes) {
    bl::term decoded;
    try {
      decoded = etf::binary_to_term(encoded.view());
    } catch (const etf::decode_error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      finding("the encoding of a parsed term does not decode", text);
    }
    if (!(decoded == t)) finding("a parsed term changed in an ETF round trip", text);
    if (encoded.view().size() > 65536) return 0;
  }

  const std::string printed = t.to_string();
  bl::term back;
  try {
    back = bl::term::parse(printed);
  } catch (const bl::parse_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    finding("a printed term does not parse", printed);
  }
  if (!(back == t)) finding("a printed term parses to another term", printed);
  if (back.hash() != t.hash()) finding("equal terms hash differently", printed);
  if (bl::compare(back, t) != 0) finding("equal terms do not compare equal", printed);
  if (back.to_string() != printed) finding("printing is not stable", printed);

  return 0;
}
