// control.hpp: the packets of a connected distribution channel, as bytes.
//
// After the handshake every packet is a 4-byte big-endian length and that many
// bytes; length 0 is a tick. A packet is a control message (a tuple whose first
// element is the operation) and, for the operations that carry one, a payload term
// (a message, an exit reason). Two forms exist, chosen by the negotiated flags:
//   112, then the control message and payload as standalone external terms (each
//        with its 131): the pass-through form, when neither DIST_HDR_ATOM_CACHE nor
//        FRAGMENTS is negotiated;
//   131 68 (a distribution header listing atom cache references), then the terms
//        without their 131; or a fragment, 131 69 (the first, with the header) and
//        131 70 (the others), when either is negotiated.
// The atom cache: a header may define entries (segment * 256 + index, 2048 per
// connection and direction) and refer to earlier ones; the terms after it write
// ATOM_CACHE_REF i for the header's i-th atom. This node reads the cache and the
// fragments both ways: its headers list up to 16 atoms of each packet (send_atom_cache)
// when DIST_HDR_ATOM_CACHE is negotiated, and a packet over the fragment size goes as
// fragments when FRAGMENTS is.
// packet_reader::read is total: any bytes give a packet, nothing yet (a fragment),
// or a packet_error naming the problem; the connection then closes with that line
// (fuzz/dist_decode_fuzz.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "beamline/etf.hpp"
#include "beamline/term.hpp"
#include "dist/wire_bytes.hpp"

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

// The receiving side of one connection: its atom cache and the messages whose
// fragments are still arriving.
class packet_reader {
 public:
  // header_form: DIST_HDR_ATOM_CACHE or FRAGMENTS was negotiated. max_message_size
  // bounds a reassembled message; max_sequences the messages being reassembled at once.
  explicit packet_reader(bool header_form, std::size_t max_message_size = std::size_t{256} << 20,
                         std::size_t max_sequences = 1024);

  // One non-empty packet (without its length): the message it completes, if any.
  // Throws packet_error.
  std::optional<packet> read(std::string_view bytes);

 private:
  struct partial {
    std::vector<atom> refs;
    std::string data;
    std::uint64_t next_fragment = 0;
  };
  // Reads a header's atom cache references at `in` into refs_, updating the cache.
  void read_header(byte_reader& in);

  bool header_form_;
  std::size_t max_message_size_;
  std::size_t max_sequences_;
  std::vector<std::optional<atom>> cache_;  // 2048 slots
  std::vector<atom> refs_;  // the last header's references (kept: no allocation per packet)
  std::unordered_map<std::uint64_t, partial> partial_;
  std::size_t partial_bytes_ = 0;
};

// Decodes a control message and its payload from `data` (terms with their 131 when
// `version_bytes`, else after a header, with ATOM_CACHE_REF resolved through
// `refs`). Throws packet_error.
packet decode_terms(std::string_view data, bool version_bytes, std::span<const atom> refs);

// Whether `operation` is followed by a payload term.
bool has_payload(int operation) noexcept;

// The atom cache of what this node sends on one connection; the peer rebuilds the
// same from the headers. An atom has one slot (its index modulo 2048): a header
// defines it there the first time, and later headers refer to it. Guarded by its
// connection's lock, like the order of the packets it shapes.
class send_atom_cache {
 public:
  send_atom_cache() : slots_(2048, 0) {}
  // The slot's atom index + 1, or 0.
  std::uint32_t at(std::size_t slot) const noexcept { return slots_[slot]; }
  void set(std::size_t slot, atom a) noexcept { slots_[slot] = a.index() + 1; }
  static std::size_t slot_of(atom a) noexcept { return a.index() % 2048; }

 private:
  std::vector<std::uint32_t> slots_;
};

// How a connection's packets are written, from the negotiated flags.
struct packet_format {
  bool header = false;  // 131 68 ... rather than 112 ...
  // A packet whose terms take more bytes than this goes as fragments (131 69, then
  // 131 70 ...), each with at most this many; 0: never (FRAGMENTS not negotiated).
  std::size_t fragment_size = 0;
  // With DIST_HDR_ATOM_CACHE: the connection's cache. The header then lists the
  // atoms of the control message and of the payload's outer layers (the node names
  // in pids above all), and the terms refer to them.
  send_atom_cache* cache = nullptr;
};

// OTP's fragment size: 64 KiB.
inline constexpr std::size_t default_fragment_size = std::size_t{1} << 16;

// Appends one packet (its 4-byte length included; several, for fragments) to `out`:
// the header form (131 68, with references to format.cache) or the pass-through form,
// and fragments when format.fragment_size says so. Throws what
// etf::encode throws (nothing is then appended).
void append_packet(std::string& out, packet_format format, const term& control,
                   const term* payload);
inline void append_packet(std::string& out, bool header_form, const term& control,
                          const term* payload) {
  append_packet(out, packet_format{header_form, 0}, control, payload);
}

// The packets of `pass_through` (in the pass-through form, lengths included) in the
// header form `format`: for what was queued before the handshake chose the form.
std::string to_header_form(std::string_view pass_through, packet_format format = {true, 0});

}  // namespace beamline::dist::detail
