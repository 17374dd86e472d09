// beamline-term: the external term format from the command line, for people
// debugging wire data.
//
//   beamline-term decode     ETF bytes on stdin -> the term in Erlang syntax
//   beamline-term encode     a term in Erlang syntax on stdin -> ETF bytes
//   beamline-term reencode   ETF bytes -> what beamline encodes for the decoded term
//
// Input bytes may be raw, hex (--hex, or text of hex digits), or an Erlang binary
// literal such as <<131,100,0,1,97>> as Erlang prints one. Bad input: one line on
// stderr naming the offset and the problem, exit status 1. Usage errors: status 2.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>

#include "term_cli.hpp"

namespace {

using beamline::term_cli::arguments;

constexpr const char* usage_text =
    "usage: beamline-term decode   [--hex] [--all] [--safe] [--no-version]\n"
    "       beamline-term encode   [--hex | --erlang] [--minor-version=1|2] [--compressed[=0-9]]\n"
    "       beamline-term reencode [--hex | --erlang] [--minor-version=1|2] [--compressed[=0-9]]\n"
    "                              [--check]\n"
    "\n"
    "decode    reads external term format bytes on stdin and prints the term in Erlang\n"
    "          syntax. --all prints every term of a sequence, one per line; --no-version\n"
    "          reads terms without the version byte 131 (as after a distribution\n"
    "          header); --safe creates no new atoms.\n"
    "encode    reads a term in Erlang syntax on stdin (a final '.' is allowed) and writes\n"
    "          its external form: by default as OTP 25's term_to_binary/1 would.\n"
    "reencode  reads external term format bytes and writes what beamline encodes for the\n"
    "          decoded term. By default with the minor version and compression that\n"
    "          reproduce the input, if one does; stderr says whether the bytes are the\n"
    "          input's. --check: exit status 1 when they are not.\n"
    "\n"
    "Input bytes may be raw, hex digits (--hex, or any text of hex digits and spaces),\n"
    "or an Erlang binary such as <<131,100,0,1,97>>. Output bytes are raw, or hex\n"
    "(--hex), or an Erlang binary (--erlang).\n"
    "Errors in the input: a message with the offset on stderr, exit status 1.\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "beamline-term: %s\n\n%s", message.c_str(), usage_text);
  std::exit(2);
}

int number_argument(std::string_view value, int low, int high, const char* option) {
  if (value.size() == 1 && value[0] >= '0' + low && value[0] <= '0' + high) return value[0] - '0';
  usage_error(std::string(option) + " takes a number from " + std::to_string(low) + " to " +
              std::to_string(high));
}

arguments parse_arguments(int argc, char** argv) {
  arguments a;
  if (argc < 2) usage_error("no command");
  a.command = argv[1];
  if (a.command == "--help" || a.command == "-h" || a.command == "help") {
    std::fputs(usage_text, stdout);
    std::exit(0);
  }
  if (a.command != "decode" && a.command != "encode" && a.command != "reencode")
    usage_error("unknown command '" + a.command + "'");
  for (int i = 2; i < argc; ++i) {
    const std::string_view option = argv[i];
    const bool decoding = a.command == "decode";
    if (option == "--hex") {
      a.hex = true;
    } else if (option == "--erlang" && !decoding) {
      a.erlang = true;
    } else if (option == "--all" && decoding) {
      a.all = true;
    } else if (option == "--safe" && decoding) {
      a.safe = true;
    } else if (option == "--no-version" && decoding) {
      a.no_version = true;
    } else if (option == "--check" && a.command == "reencode") {
      a.check = true;
    } else if (option.starts_with("--minor-version=") && !decoding) {
      a.minor_version = number_argument(option.substr(16), 1, 2, "--minor-version");
    } else if (option == "--compressed" && !decoding) {
      a.compression = 6;
    } else if (option.starts_with("--compressed=") && !decoding) {
      a.compression = number_argument(option.substr(13), 0, 9, "--compressed");
    } else {
      usage_error("unknown option '" + std::string(option) + "' for " + a.command);
    }
  }
  return a;
}

std::string read_stdin() {
  std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  const arguments a = parse_arguments(argc, argv);
  const beamline::term_cli::outcome o = beamline::term_cli::run(a, read_stdin());
  std::fwrite(o.out.data(), 1, o.out.size(), stdout);
  std::fputs(o.err.c_str(), stderr);
  return o.status;
}
