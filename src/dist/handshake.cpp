// handshake.cpp: building and parsing the handshake messages (handshake.hpp).
#include "dist/handshake.hpp"

#include <nettle/md5.h>

#include <charconv>
#include <cstring>

#include "dist/wire_bytes.hpp"

namespace beamline::dist::detail {

std::string missing_mandatory(std::uint64_t flags) {
  static constexpr std::pair<std::uint64_t, const char*> names[] = {
      {flag::extended_references, "EXTENDED_REFERENCES"},
      {flag::fun_tags, "FUN_TAGS"},
      {flag::new_fun_tags, "NEW_FUN_TAGS"},
      {flag::extended_pids_ports, "EXTENDED_PIDS_PORTS"},
      {flag::export_ptr_tag, "EXPORT_PTR_TAG"},
      {flag::bit_binaries, "BIT_BINARIES"},
      {flag::new_floats, "NEW_FLOATS"},
      {flag::utf8_atoms, "UTF8_ATOMS"},
      {flag::map_tag, "MAP_TAG"},
      {flag::big_creation, "BIG_CREATION"},
      {flag::handshake_23, "HANDSHAKE_23"},
  };
  const std::uint64_t have = expand_flags(flags);
  std::string missing;
  for (const auto& [bit, name] : names) {
    if ((have & bit) != 0) continue;
    if (!missing.empty()) missing += ", ";
    missing += name;
  }
  return missing;
}

digest make_digest(std::uint32_t challenge, std::string_view cookie) {
  char text[16];
  const auto printed = std::to_chars(text, text + sizeof text, challenge);
  md5_ctx context;
  md5_init(&context);
  md5_update(&context, cookie.size(), reinterpret_cast<const std::uint8_t*>(cookie.data()));
  md5_update(&context, static_cast<std::size_t>(printed.ptr - text),
             reinterpret_cast<const std::uint8_t*>(text));
  digest out;
  md5_digest(&context, out.size(), out.data());
  return out;
}

std::string make_name(std::uint64_t flags, std::uint32_t creation, std::string_view name) {
  std::string out;
  out.push_back('N');
  put_u64(out, flags);
  put_u32(out, creation);
  put_u16(out, static_cast<std::uint16_t>(name.size()));
  out.append(name);
  return out;
}

std::optional<name_message> parse_name(std::string_view body) {
  byte_reader in(body);
  name_message m;
  const std::uint8_t tag = in.u8();
  if (tag == 'N') {
    m.flags = in.u64();
    m.creation = in.u32();
    const std::uint16_t length = in.u16();
    m.name = std::string(in.bytes(length));
    // Trailing bytes are allowed (later protocol versions may add fields).
  } else if (tag == 'n') {
    const std::uint16_t version = in.u16();
    if (!in.ok() || version < 5) return std::nullopt;
    m.flags = in.u32();
    m.name = std::string(in.rest());
    m.old_form = true;
  } else {
    return std::nullopt;
  }
  if (!in.ok() || m.name.empty()) return std::nullopt;
  return m;
}

std::string make_status(std::string_view status) {
  std::string out;
  out.push_back('s');
  out.append(status);
  return out;
}

std::string make_named_status(std::string_view name, std::uint32_t creation) {
  std::string out = make_status("named:");
  put_u16(out, static_cast<std::uint16_t>(name.size()));
  out.append(name);
  put_u32(out, creation);
  return out;
}

std::optional<std::string> parse_status(std::string_view body) {
  if (body.empty() || body[0] != 's') return std::nullopt;
  return std::string(body.substr(1));
}

std::string make_challenge(std::uint64_t flags, std::uint32_t challenge, std::uint32_t creation,
                           std::string_view name) {
  std::string out;
  out.push_back('N');
  put_u64(out, flags);
  put_u32(out, challenge);
  put_u32(out, creation);
  put_u16(out, static_cast<std::uint16_t>(name.size()));
  out.append(name);
  return out;
}

std::optional<challenge_message> parse_challenge(std::string_view body) {
  byte_reader in(body);
  if (in.u8() != 'N') return std::nullopt;
  challenge_message m;
  m.flags = in.u64();
  m.challenge = in.u32();
  m.creation = in.u32();
  const std::uint16_t length = in.u16();
  m.name = std::string(in.bytes(length));
  if (!in.ok() || m.name.empty()) return std::nullopt;
  return m;
}

std::optional<complement_message> parse_complement(std::string_view body) {
  byte_reader in(body);
  if (in.u8() != 'c') return std::nullopt;
  complement_message m;
  m.flags_high = in.u32();
  m.creation = in.u32();
  if (!in.ok()) return std::nullopt;
  return m;
}

std::string make_reply(std::uint32_t challenge, const digest& answer) {
  std::string out;
  out.push_back('r');
  put_u32(out, challenge);
  out.append(reinterpret_cast<const char*>(answer.data()), answer.size());
  return out;
}

std::optional<reply_message> parse_reply(std::string_view body) {
  byte_reader in(body);
  if (in.u8() != 'r' || body.size() != 21) return std::nullopt;
  reply_message m;
  m.challenge = in.u32();
  const std::string_view answer = in.bytes(16);
  if (!in.ok()) return std::nullopt;
  std::memcpy(m.answer.data(), answer.data(), 16);
  return m;
}

std::string make_ack(const digest& answer) {
  std::string out;
  out.push_back('a');
  out.append(reinterpret_cast<const char*>(answer.data()), answer.size());
  return out;
}

std::optional<digest> parse_ack(std::string_view body) {
  if (body.size() != 17 || body[0] != 'a') return std::nullopt;
  digest d;
  std::memcpy(d.data(), body.data() + 1, 16);
  return d;
}

}  // namespace beamline::dist::detail
