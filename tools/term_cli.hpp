// term_cli.hpp: what beamline-term does (tools/beamline_term.cpp), as functions of
// the arguments and the input bytes, so that fuzz/beamline_term_fuzz.cpp runs the
// same code as the command line.
//
// run() never exits and writes nothing: it gives the exit status, the bytes for
// stdout and the text for stderr. Bad input is status 1 with one line on stderr,
// "beamline-term: " and the offset and the problem; reencode --check is status 1
// when the bytes differ from the input.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace beamline::term_cli {

struct arguments {
  std::string command;
  bool hex = false;
  bool erlang = false;
  bool all = false;
  bool safe = false;
  bool no_version = false;
  bool check = false;
  std::optional<int> minor_version;
  std::optional<int> compression;
};

struct outcome {
  int status = 0;
  std::string out;  // stdout's bytes
  std::string err;  // stderr's text
};

// decode, encode or reencode (a.command) over `input`, stdin's bytes.
outcome run(const arguments& a, std::string_view input);

// Hex digits with any whitespace (and an optional 0x prefix per byte) between bytes.
std::optional<std::string> from_hex(std::string_view text);

}  // namespace beamline::term_cli
