// websocket.hpp: the observer's WebSocket (RFC 6455) handshake and frames.
//
// The dashboard opens one WebSocket (GET /ws) and the node pushes a live update
// on it every second (server.cpp). What a browser sends on it is only control
// frames (ping, close) and short text messages, so the reader below takes masked
// client frames of at most a bounded size and refuses everything RFC 6455 says a
// server must refuse: unmasked frames, reserved bits or opcodes, fragmented or
// oversized control frames, 64-bit lengths with the top bit set. Like the HTTP
// parser it is a pure function of the bytes received so far, which the fuzz target
// (fuzz/websocket_frame_fuzz.cpp) drives as the server does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace beamline::observer {

enum class ws_opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

struct ws_frame {
  bool fin = true;
  ws_opcode opcode = ws_opcode::text;
  std::string payload;  // unmasked
};

struct ws_parse {
  enum class outcome { complete, incomplete, error } result = outcome::incomplete;
  std::size_t consumed = 0;      // complete: the frame's bytes
  std::uint16_t close_code = 0;  // error: 1002 (protocol error) or 1009 (too big)
  std::string problem;           // error: why, for the close frame and the log
};

// Reads one client frame from the start of `bytes`; a payload longer than
// `max_payload` is an error (1009).
ws_parse parse_client_frame(std::string_view bytes, std::size_t max_payload, ws_frame& frame);

// A server frame (unmasked, FIN set) carrying `payload`.
std::string ws_server_frame(ws_opcode opcode, std::string_view payload);

// A close frame with a status code and a reason (cut to fit a control frame).
std::string ws_close_frame(std::uint16_t code, std::string_view reason);

// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key: base64 of the
// SHA-1 of the key and RFC 6455's GUID. Empty if the key is not 16 bytes in base64.
std::string ws_accept_key(std::string_view client_key);

}  // namespace beamline::observer
