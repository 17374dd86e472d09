// websocket_frame_fuzz: libFuzzer target for the reader of the frames a browser
// sends on the observer's WebSocket (src/observer/websocket.hpp).
//
// The input: byte 0 picks the payload limit (small ones reach the 1009 path with
// short inputs); the rest is what the connection received. Checks beyond "no
// crash":
// - an error closes with 1002 or 1009 and says why;
// - a complete frame took at most the input, its payload is within the limit,
//   a control frame's is at most 125 bytes and final, and the opcode is one RFC
//   6455 defines;
// - the frame's own bytes read the same, and any shorter prefix of them is
//   incomplete (the server waits for the rest);
// - masking the payload again with the frame's key gives back the bytes sent.
// The same input is also taken as a Sec-WebSocket-Key: the answer is empty or 28
// base64 characters.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "observer/websocket.hpp"

namespace {

using beamline::observer::parse_client_frame;
using beamline::observer::ws_frame;
using beamline::observer::ws_opcode;
using beamline::observer::ws_parse;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "websocket_frame_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t limit = (data[0] & 1) ? data[0] : std::size_t{4096} << (data[0] >> 5);
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  const std::string accept = beamline::observer::ws_accept_key(bytes);
  if (!accept.empty() && accept.size() != 28) violated("an accept key of the wrong length");

  ws_frame frame;
  const ws_parse p = parse_client_frame(bytes, limit, frame);
  switch (p.result) {
    case ws_parse::outcome::error:
      if (p.close_code != 1002 && p.close_code != 1009) violated("an unexpected close code");
      if (p.problem.empty()) violated("an error without a reason");
      return 0;
    case ws_parse::outcome::incomplete:
      return 0;
    case ws_parse::outcome::complete:
      break;
  }
  if (p.consumed < 6 || p.consumed > bytes.size()) violated("consumed outside the input");
  if (frame.payload.size() > limit) violated("a payload over the limit");
  const auto op = static_cast<std::uint8_t>(frame.opcode);
  if (op > 0xA || (op > 0x2 && op < 0x8)) violated("a reserved opcode");
  if (op >= 0x8 && (frame.payload.size() > 125 || !frame.fin))
    violated("a malformed control frame");
  const std::size_t key_at = p.consumed - frame.payload.size() - 4;
  for (std::size_t i = 0; i < frame.payload.size(); ++i)
    if (static_cast<char>(frame.payload[i] ^ bytes[key_at + i % 4]) != bytes[key_at + 4 + i])
      violated("the payload is not the unmasked bytes");
  ws_frame again;
  const ws_parse exact = parse_client_frame(bytes.substr(0, p.consumed), limit, again);
  if (exact.result != ws_parse::outcome::complete || exact.consumed != p.consumed ||
      again.payload != frame.payload || again.opcode != frame.opcode || again.fin != frame.fin)
    violated("the frame's own bytes read differently");
  for (std::size_t cut : {p.consumed - 1, p.consumed / 2, std::size_t{1}}) {
    ws_frame part;
    if (parse_client_frame(bytes.substr(0, cut), limit, part).result !=
        ws_parse::outcome::incomplete)
      violated("a prefix of a complete frame is not incomplete");
  }
  return 0;
}
