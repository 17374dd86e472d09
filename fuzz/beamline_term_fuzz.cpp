// beamline_term_fuzz: libFuzzer target for beamline-term's inputs (tools/term_cli.hpp):
// decode, encode and reencode over arbitrary stdin bytes, with the command and its
// options picked by the first input byte, exactly as the command line runs them.
//
// Checks, beyond "no crash":
// - the status is 0 or 1, and status 1 writes nothing to stdout and one line,
//   "beamline-term: ...", to stderr;
// - decode: the same bytes given as hex digits (--hex) and as an Erlang binary
//   (<<1,2,...>>) decode to the same output; an output line that parses (remote pids,
//   ports, refs and funs do not read back, docs/terms.md) prints as the line;
// - encode: the raw output decodes to the parsed input; the --hex and --erlang
//   outputs are the same bytes;
// - reencode: the output decodes to the input's term; "identical to the input" on
//   stderr only when the output is the input, and --check fails exactly when it is
//   not.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "beamline/etf.hpp"
#include "beamline/term.hpp"
#include "term_cli.hpp"

namespace bl = beamline;
namespace etf = beamline::etf;
namespace cli = beamline::term_cli;

namespace {

[[noreturn]] void finding(const char* what, std::string_view detail) {
  std::fprintf(stderr, "beamline_term_fuzz: %s: %.*s\n", what,
               static_cast<int>(std::min<std::size_t>(detail.size(), 2000)), detail.data());
  std::abort();
}

bool atom_table_full() {
  return bl::atom::count() >= bl::atom::max_count - 1000;
}

cli::outcome run_checked(const cli::arguments& a, std::string_view input) {
  cli::outcome o;
  try {
    o = cli::run(a, input);
  } catch (const std::length_error&) {
    if (!atom_table_full()) throw;
    o.status = -1;  // the atom table is full: nothing to check
    return o;
  }
  if (o.status != 0 && o.status != 1) finding("an exit status other than 0 or 1", o.err);
  if (o.status == 1 && !(a.command == "reencode" && a.check)) {
    if (!o.out.empty()) finding("an error with output", o.err);
    if (!o.err.starts_with("beamline-term: ") || !o.err.ends_with('\n') ||
        o.err.find('\n') != o.err.size() - 1)
      finding("an error that is not one line", o.err);
  }
  return o;
}

std::string as_hex(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out += digits[static_cast<unsigned char>(c) >> 4];
    out += digits[static_cast<unsigned char>(c) & 15];
    out += ' ';
  }
  return out;
}

std::string as_erlang(std::string_view bytes) {
  std::string out = "<<";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(static_cast<unsigned char>(bytes[i]));
  }
  return out + ">>";
}

void check_decode(cli::arguments a, std::string_view input) {
  const cli::outcome raw = run_checked(a, input);
  if (raw.status != 0) return;
  // The input bytes start with 131 (or a tag): never "<<" nor all hex digits, which
  // would be read as those forms instead.
  if (input.starts_with("<<") || cli::from_hex(input)) return;
  std::size_t start = 0;
  while (start < raw.out.size()) {
    const std::size_t end = raw.out.find('\n', start);
    const std::string line = raw.out.substr(start, end - start);
    start = end + 1;
    try {
      if (bl::term::parse(line).to_string() != line) finding("a decoded line reprints", line);
    } catch (const bl::parse_error&) {
      // Remote pids, ports and refs, and funs, do not read back (docs/terms.md).
    } catch (const std::length_error&) {
      if (!atom_table_full()) throw;
    }
  }
  const cli::outcome erlang = run_checked(a, as_erlang(input));
  if (erlang.status >= 0 && erlang.out != raw.out)
    finding("<<...>> input decodes otherwise", input);
  a.hex = true;
  const cli::outcome hex = run_checked(a, as_hex(input));
  if (hex.status >= 0 && hex.out != raw.out) finding("hex input decodes otherwise", input);
}

void check_encode(cli::arguments a, std::string_view input) {
  const cli::outcome raw = run_checked(a, input);
  if (raw.status != 0) return;
  bl::term back;
  try {
    back = etf::binary_to_term(raw.out);
  } catch (const etf::decode_error& e) {
    finding("encode's output does not decode", e.what());
  }
  std::string_view text = input;
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t'))
    text.remove_suffix(1);
  if (text.ends_with('.')) text.remove_suffix(1);
  if (!(back == bl::term::parse(text))) finding("encode's output is another term", input);
  a.hex = true;
  const cli::outcome hex = run_checked(a, input);
  if (hex.status >= 0 && cli::from_hex(hex.out) != raw.out) finding("--hex differs", input);
  a.hex = false;
  a.erlang = true;
  const cli::outcome erlang = run_checked(a, input);
  if (erlang.status >= 0 &&
      bl::term::parse(erlang.out.substr(0, erlang.out.size() - 1)).as_binary() != raw.out)
    finding("--erlang differs", input);
}

void check_reencode(cli::arguments a, std::string_view input) {
  const cli::outcome o = run_checked(a, input);
  if (o.status < 0) return;
  const bool identical = o.err.starts_with("beamline-term: identical to the input (");
  if (a.check && o.status == 1 && identical) finding("--check fails an identical output", input);
  if (o.err.starts_with("beamline-term: differs from the input from offset ")) {
    if (o.status != (a.check ? 1 : 0)) finding("--check's status is wrong", input);
  } else if (o.status != 0) {
    return;  // bad input
  }
  if (input.starts_with("<<") || cli::from_hex(input)) return;  // not the bytes themselves
  if (identical && o.out != input) finding("'identical' output is not the input", input);
  try {
    if (!(etf::binary_to_term(o.out) == etf::binary_to_term(input)))
      finding("reencode's output is another term", input);
  } catch (const etf::decode_error& e) {
    finding("reencode's output does not decode", e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned options = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  cli::arguments a;
  switch (options % 3) {
    case 0:
      a.command = "decode";
      a.all = (options & 4) != 0;
      a.no_version = (options & 8) != 0;
      // --safe once the table is large, so a long run does not fill it.
      a.safe = (options & 16) != 0 || bl::atom::count() > 200'000;
      check_decode(a, input);
      break;
    case 1:
      a.command = "encode";
      if (options & 4) a.minor_version = 2;
      if (options & 8) a.compression = (options >> 4) % 10;
      check_encode(a, input);
      break;
    default:
      a.command = "reencode";
      a.check = (options & 4) != 0;
      if (options & 8) a.minor_version = 1 + ((options >> 4) & 1);
      if (options & 32) a.compression = (options >> 6) % 10;
      check_reencode(a, input);
      break;
  }
  return 0;
}
