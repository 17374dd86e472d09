// websocket.cpp: see websocket.hpp. SHA-1 and base64 from nettle.
#include "observer/websocket.hpp"

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include <algorithm>
#include <cstring>

namespace beamline::observer {

namespace {

ws_parse refuse(std::uint16_t code, std::string problem) {
  ws_parse p;
  p.result = ws_parse::outcome::error;
  p.close_code = code;
  p.problem = std::move(problem);
  return p;
}

bool known_opcode(std::uint8_t op) noexcept {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

bool base64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

ws_parse parse_client_frame(std::string_view bytes, std::size_t max_payload, ws_frame& frame) {
  if (bytes.size() < 2) return {};
  const auto b0 = static_cast<std::uint8_t>(bytes[0]);
  const auto b1 = static_cast<std::uint8_t>(bytes[1]);
  if ((b0 & 0x70) != 0) return refuse(1002, "reserved bits set");
  const std::uint8_t op = b0 & 0x0F;
  if (!known_opcode(op)) return refuse(1002, "reserved opcode");
  const bool fin = (b0 & 0x80) != 0;
  const bool control = op >= 0x8;
  if ((b1 & 0x80) == 0) return refuse(1002, "client frames must be masked");
  std::uint64_t length = b1 & 0x7F;
  std::size_t at = 2;
  if (control && (length > 125 || !fin)) return refuse(1002, "malformed control frame");
  if (length == 126) {
    if (bytes.size() < at + 2) return {};
    length = (std::uint64_t{static_cast<std::uint8_t>(bytes[2])} << 8) |
             static_cast<std::uint8_t>(bytes[3]);
    at += 2;
    if (length < 126) return refuse(1002, "length not in its shortest form");
  } else if (length == 127) {
    if (bytes.size() < at + 8) return {};
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | static_cast<std::uint8_t>(bytes[at + i]);
    at += 8;
    if ((length >> 63) != 0) return refuse(1002, "length with its top bit set");
    if (length <= 0xFFFF) return refuse(1002, "length not in its shortest form");
  }
  if (length > max_payload) return refuse(1009, "message too big");
  if (bytes.size() < at + 4) return {};
  std::uint8_t mask[4];
  std::memcpy(mask, bytes.data() + at, 4);
  at += 4;
  if (bytes.size() - at < length) return {};
  frame.fin = fin;
  frame.opcode = static_cast<ws_opcode>(op);
  frame.payload.assign(bytes.data() + at, static_cast<std::size_t>(length));
  for (std::size_t i = 0; i < frame.payload.size(); ++i)
    frame.payload[i] ^= static_cast<char>(mask[i % 4]);
  ws_parse p;
  p.result = ws_parse::outcome::complete;
  p.consumed = at + static_cast<std::size_t>(length);
  return p;
}

std::string ws_server_frame(ws_opcode opcode, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  out.push_back(static_cast<char>(0x80 | static_cast<std::uint8_t>(opcode)));
  const std::uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
  out.append(payload);
  return out;
}

std::string ws_close_frame(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, std::min<std::size_t>(reason.size(), 123)));
  return ws_server_frame(ws_opcode::close, payload);
}

std::string ws_accept_key(std::string_view client_key) {
  // 16 bytes in base64: 22 characters and "==".
  if (client_key.size() != 24 || !client_key.ends_with("==") ||
      !std::all_of(client_key.begin(), client_key.begin() + 22, base64_char))
    return {};
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  sha1_ctx sha;
  sha1_init(&sha);
  sha1_update(&sha, client_key.size(), reinterpret_cast<const std::uint8_t*>(client_key.data()));
  sha1_update(&sha, guid.size(), reinterpret_cast<const std::uint8_t*>(guid.data()));
  std::uint8_t digest[SHA1_DIGEST_SIZE];
  sha1_digest(&sha, sizeof digest, digest);
  std::string out(BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE), '\0');
  base64_encode_raw(out.data(), sizeof digest, digest);
  return out;
}

}  // namespace beamline::observer
