// term_cli.cpp: beamline-term's work (term_cli.hpp): input forms, decode, encode,
// reencode, output forms.
#include "term_cli.hpp"

#include <string>
#include <vector>

#include "beamline/etf.hpp"
#include "beamline/term.hpp"

namespace beamline::term_cli {

namespace {

namespace bl = beamline;
namespace etf = beamline::etf;

// Bad input: caught by run(), status 1.
struct input_failure {
  std::string message;
};

[[noreturn]] void input_error(const std::string& message) {
  throw input_failure{message};
}

std::string_view trimmed(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

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

namespace {

// The input bytes: an Erlang binary literal, hex text, or raw bytes.
std::string input_bytes(const arguments& a, std::string_view input) {
  const std::string data(input);
  const std::string_view text = trimmed(data);
  if (text.starts_with("<<")) {
    try {
      const bl::term binary =
          bl::term::parse(text.ends_with('.') ? text.substr(0, text.size() - 1) : text);
      return std::string(binary.as_binary());
    } catch (const bl::parse_error& e) {
      input_error("the input looks like an Erlang binary but is not one: " + std::string(e.what()));
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

void write_bytes(const arguments& a, std::string_view bytes, std::string& to) {
  if (a.erlang) {
    std::string out = "<<";
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(static_cast<unsigned char>(bytes[i]));
    }
    out += ">>\n";
    to += out;
  } else if (a.hex) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      out += digits[static_cast<unsigned char>(bytes[i]) >> 4];
      out += digits[static_cast<unsigned char>(bytes[i]) & 15];
      out += (i + 1) % 32 == 0 || i + 1 == bytes.size() ? '\n' : ' ';
    }
    to += out;
  } else {
    to += bytes;
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

void decode(const arguments& a, std::string_view input, outcome& o) {
  const std::string bytes = input_bytes(a, input);
  etf::decode_options options;
  options.version_byte = !a.no_version;
  options.existing_atoms_only = a.safe;
  try {
    etf::decoder d(bytes, options);
    do {
      const bl::term t = d.next();
      o.out += t.to_string();
      o.out += '\n';
    } while (a.all && !d.at_end());
    if (!d.at_end()) {
      input_error("decode error at offset " + std::to_string(d.position()) + ": " +
                  std::to_string(d.remaining()) + " bytes after the term (--all decodes a " +
                  "sequence)");
    }
  } catch (const etf::decode_error& e) {
    input_error(e.what());
  }
}

void encode(const arguments& a, std::string_view input, outcome& o) {
  const std::string text(input);
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
  std::string bytes;
  try {
    bytes = encoded(t, a.minor_version.value_or(1), a.compression.value_or(0));
  } catch (const bl::badarg& e) {
    // The term parses but has no external form: the null reference #Ref<0>.
    input_error(std::string("the term cannot be encoded: ") + e.what());
  }
  write_bytes(a, bytes, o.out);
}

void reencode(const arguments& a, std::string_view input, outcome& o) {
  const std::string bytes = input_bytes(a, input);
  bl::term t;
  try {
    t = etf::binary_to_term(bytes);
  } catch (const etf::decode_error& e) {
    input_error(e.what());
  }
  const bool input_compressed = bytes.size() > 1 && static_cast<unsigned char>(bytes[1]) == 80;
  std::vector<int> minors =
      a.minor_version ? std::vector<int>{*a.minor_version} : std::vector<int>{1, 2};
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
        write_bytes(a, out, o.out);
        o.err = "beamline-term: identical to the input (minor version " + std::to_string(minor) +
                (level > 0 ? ", compressed at level " + std::to_string(level) : "") + ")\n";
        return;
      }
    }
  }
  write_bytes(a, first, o.out);
  std::size_t differ = 0;
  while (differ < first.size() && differ < bytes.size() && first[differ] == bytes[differ]) ++differ;
  o.err = "beamline-term: differs from the input from offset " + std::to_string(differ) + " (" +
          std::to_string(first.size()) + " bytes, input " + std::to_string(bytes.size()) + ")\n";
  o.status = a.check ? 1 : 0;
}

}  // namespace

outcome run(const arguments& a, std::string_view input) {
  outcome o;
  try {
    if (a.command == "decode") {
      decode(a, input, o);
    } else if (a.command == "encode") {
      encode(a, input, o);
    } else {
      reencode(a, input, o);
    }
  } catch (const input_failure& e) {
    o.status = 1;
    o.out.clear();
    // One line, whatever the message quotes from the input: control characters escaped.
    o.err = "beamline-term: ";
    for (const char c : e.message) {
      if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) {
        o.err += c;
      } else {
        static const char digits[] = "0123456789abcdef";
        o.err += c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : "";
        if (c != '\n' && c != '\r' && c != '\t') {
          o.err += "\\x";
          o.err += digits[static_cast<unsigned char>(c) >> 4];
          o.err += digits[c & 15];
        }
      }
    }
    o.err += '\n';
  }
  return o;
}

}  // namespace beamline::term_cli
