// control.hpp: the packets of a connected distribution channel, as bytes.
//
// After the handshake every packet is a 4-byte big-endian length and that many
// bytes; length 0 is a tick. A packet is a control message (a tuple whose first
// element is the operation) and, for the operations that carry one, a payload term
// (a message, an exit reason). Two forms exist, chosen by the negotiated flags:
//   112, control as a standalone external term (131 ...), payload likewise: when
//        neither DIST_HDR_ATOM_CACHE nor FRAGMENTS is negotiated (what this node
//        offers, so it is what both sides send);
//   131 68 header-with-atom-cache, then the terms without their 131, when either
//        is negotiated; this node offers neither, so such a packet is an error.
// decode_packet is total: any bytes give a packet or a packet_error naming the
// problem; the connection then closes with that line (fuzz/dist_control_fuzz.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "beamline/etf.hpp"
#include "beamline/term.hpp"

namespace beamline::dist::detail {

// Operation codes of the control messages (OTP's dist.h).
namespace op {
inline constexpr int link = 1;
inline constexpr int send = 2;
inline constexpr int exit = 3;
inline constexpr int unlink = 4;
inline constexpr int reg_send = 6;
inline constexpr int group_leader = 7;
inline constexpr int exit2 = 8;
inline constexpr int send_tt = 12;
inline constexpr int exit_tt = 13;
inline constexpr int reg_send_tt = 16;
inline constexpr int exit2_tt = 18;
inline constexpr int monitor_p = 19;
inline constexpr int demonitor_p = 20;
inline constexpr int monitor_p_exit = 21;
inline constexpr int send_sender = 22;
inline constexpr int send_sender_tt = 23;
inline constexpr int payload_exit = 24;
inline constexpr int payload_exit_tt = 25;
inline constexpr int payload_exit2 = 26;
inline constexpr int payload_exit2_tt = 27;
inline constexpr int payload_monitor_p_exit = 28;
inline constexpr int spawn_request = 29;
inline constexpr int spawn_request_tt = 30;
inline constexpr int spawn_reply = 31;
inline constexpr int spawn_reply_tt = 32;
inline constexpr int alias_send = 33;
inline constexpr int alias_send_tt = 34;
inline constexpr int unlink_id = 35;
inline constexpr int unlink_id_ack = 36;
}  // namespace op

class packet_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct packet {
  term control;                 // a tuple whose first element is an integer operation
  std::optional<term> payload;  // for the operations that carry one
  int operation() const { return static_cast<int>(control[0].as_int()); }
};

// Decodes one non-empty packet (without its length). Throws packet_error.
packet decode_packet(std::string_view bytes);

// Whether `operation` is followed by a payload term.
bool has_payload(int operation) noexcept;

// Appends one packet (its 4-byte length included) in the pass-through form to `out`.
// Throws what etf::encode throws (the packet is then not appended).
void append_packet(std::string& out, const term& control, const term* payload);

}  // namespace beamline::dist::detail
