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
#include <cstring>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "beamline/etf.hpp"
#include "beamline/term.hpp"

namespace bl = beamline;
namespace etf = beamline::etf;

namespace {

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

[[noreturn]] void input_error(const std::string& message) {
  std::fprintf(stderr, "beamline-term: %s\n", message.c_str());
  std::exit(1);
}

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

std::string_view trimmed(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// Hex digits with any whitespace (and an optional 0x prefix per byte) between bytes.
std::optional<std::string> from_hex(std::string_view text) {
  std::string bytes;
  int high = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == ',' || c == ':') {
      if (high >= 0) return std::nullopt;  // a lone digit
      continue;
    }
    if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') && high < 0) {
      ++i;
      continue;
    }
    int value;
    if (c >= '0' && c <= '9') {
      value = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      value = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      value = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (high < 0) {
      high = value;
    } else {
      bytes.push_back(static_cast<char>(high << 4 | value));
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;
  return bytes;
}

// The input bytes: an Erlang binary literal, hex text, or raw bytes.
std::string input_bytes(const arguments& a) {
  const std::string data = read_stdin();
  const std::string_view text = trimmed(data);
  if (text.starts_with("<<")) {
    try {
      const bl::term binary = bl::term::parse(text.ends_with('.') ? text.substr(0, text.size() - 1)
                                                                  : text);
      return std::string(binary.as_binary());
    } catch (const bl::parse_error& e) {
      input_error("the input looks like an Erlang binary but is not one: " +
                  std::string(e.what()));
    } catch (const bl::badarg&) {
      input_error("the input is a bitstring, not bytes");
    }
  }
  if (a.hex) {
    if (auto bytes = from_hex(text)) return *bytes;
    input_error("--hex: the input is not hex digits");
  }
  return data;
}

void write_bytes(const arguments& a, std::string_view bytes) {
  if (a.erlang) {
    std::string out = "<<";
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(static_cast<unsigned char>(bytes[i]));
    }
    out += ">>\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else if (a.hex) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      out += digits[static_cast<unsigned char>(bytes[i]) >> 4];
      out += digits[static_cast<unsigned char>(bytes[i]) & 15];
      out += (i + 1) % 32 == 0 || i + 1 == bytes.size() ? '\n' : ' ';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  }
}

std::string encoded(const bl::term& t, int minor_version, int compression) {
  etf::encode_options options;
  options.minor_version = minor_version;
  options.compression = compression;
  etf::buffer out;
  etf::encode(t, out, options);
  return std::string(out.view());
}

int decode(const arguments& a) {
  const std::string bytes = input_bytes(a);
  etf::decode_options options;
  options.version_byte = !a.no_version;
  options.existing_atoms_only = a.safe;
  try {
    etf::decoder d(bytes, options);
    do {
      const bl::term t = d.next();
      std::printf("%s\n", t.to_string().c_str());
    } while (a.all && !d.at_end());
    if (!d.at_end()) {
      input_error("decode error at offset " + std::to_string(d.position()) + ": " +
                  std::to_string(d.remaining()) + " bytes after the term (--all decodes a " +
                  "sequence)");
    }
  } catch (const etf::decode_error& e) {
    input_error(e.what());
  }
  return 0;
}

int encode(const arguments& a) {
  const std::string text = read_stdin();
  std::string_view term_text = trimmed(text);
  if (term_text.ends_with('.')) term_text.remove_suffix(1);
  bl::term t;
  try {
    t = bl::term::parse(term_text);
  } catch (const bl::parse_error& e) {
    // The offset in the text as given (parse saw it without leading white space).
    const std::size_t leading = static_cast<std::size_t>(term_text.data() - text.data());
    input_error("parse error at offset " + std::to_string(e.offset() + leading) + ": " +
                e.problem());
  }
  write_bytes(a, encoded(t, a.minor_version.value_or(1), a.compression.value_or(0)));
  return 0;
}

int reencode(const arguments& a) {
  const std::string bytes = input_bytes(a);
  bl::term t;
  try {
    t = etf::binary_to_term(bytes);
  } catch (const etf::decode_error& e) {
    input_error(e.what());
  }
  const bool input_compressed = bytes.size() > 1 && static_cast<unsigned char>(bytes[1]) == 80;
  std::vector<int> minors = a.minor_version ? std::vector<int>{*a.minor_version}
                                            : std::vector<int>{1, 2};
  std::vector<int> levels;
  if (a.compression) {
    levels = {*a.compression};
  } else if (input_compressed) {
    levels = {6, 1, 2, 3, 4, 5, 7, 8, 9};
  } else {
    levels = {0};
  }
  std::string first;
  for (int minor : minors) {
    for (int level : levels) {
      std::string out = encoded(t, minor, level);
      if (first.empty()) first = out;
      if (out == bytes) {
        write_bytes(a, out);
        std::fprintf(stderr, "beamline-term: identical to the input (minor version %d%s)\n",
                     minor, level > 0 ? (", compressed at level " + std::to_string(level)).c_str()
                                      : "");
        return 0;
      }
    }
  }
  write_bytes(a, first);
  std::size_t differ = 0;
  while (differ < first.size() && differ < bytes.size() && first[differ] == bytes[differ])
    ++differ;
  std::fprintf(stderr, "beamline-term: differs from the input from offset %zu (%zu bytes, input "
               "%zu)\n", differ, first.size(), bytes.size());
  return a.check ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const arguments a = parse_arguments(argc, argv);
  if (a.command == "decode") return decode(a);
  if (a.command == "encode") return encode(a);
  return reencode(a);
}
