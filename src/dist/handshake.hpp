// handshake.hpp: the messages of the distribution handshake (protocol version 6,
// OTP 23 and later), as bytes: building them and reading them back.
//
// Pure functions, no sockets: the connection code (dist_node.cpp) frames each
// message with the 2-byte length the handshake uses and drives the exchange; the
// fuzz target (fuzz/dist_handshake_fuzz.cpp) feeds the parsers arbitrary bytes.
// Every parser is total: it returns the message or nullopt, never reads past the
// input and never throws.
//
//   initiator A                                  acceptor B
//   'N' flags creation name         -------->    (or the old 'n' version flags name)
//                                   <--------    's' status
//                                   <--------    'N' flags challenge creation name
//   ('c' flags-high creation        -------->    only after an old 'n')
//   'r' challenge_A digest(B's)     -------->    B checks the digest
//                                   <--------    'a' digest(A's)
//
// The digest is MD5(cookie ++ the challenge printed as an unsigned decimal).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace beamline::dist::detail {

// Capability flags (OTP's dist.h; the values on the wire).
namespace flag {
inline constexpr std::uint64_t published = 0x1;
inline constexpr std::uint64_t atom_cache = 0x2;
inline constexpr std::uint64_t extended_references = 0x4;
inline constexpr std::uint64_t dist_monitor = 0x8;
inline constexpr std::uint64_t fun_tags = 0x10;
inline constexpr std::uint64_t dist_monitor_name = 0x20;
inline constexpr std::uint64_t hidden_atom_cache = 0x40;
inline constexpr std::uint64_t new_fun_tags = 0x80;
inline constexpr std::uint64_t extended_pids_ports = 0x100;
inline constexpr std::uint64_t export_ptr_tag = 0x200;
inline constexpr std::uint64_t bit_binaries = 0x400;
inline constexpr std::uint64_t new_floats = 0x800;
inline constexpr std::uint64_t unicode_io = 0x1000;
inline constexpr std::uint64_t dist_hdr_atom_cache = 0x2000;
inline constexpr std::uint64_t small_atom_tags = 0x4000;
inline constexpr std::uint64_t utf8_atoms = 0x10000;
inline constexpr std::uint64_t map_tag = 0x20000;
inline constexpr std::uint64_t big_creation = 0x40000;
inline constexpr std::uint64_t send_sender = 0x80000;
inline constexpr std::uint64_t big_seqtrace_labels = 0x100000;
inline constexpr std::uint64_t exit_payload = 0x400000;
inline constexpr std::uint64_t fragments = 0x800000;
inline constexpr std::uint64_t handshake_23 = 0x1000000;
inline constexpr std::uint64_t unlink_id = 0x2000000;
// "Everything OTP 25 makes mandatory": bit 26 in dist.h and on the wire (the
// protocol document's prose gives another value, which is wrong).
inline constexpr std::uint64_t mandatory_25_digest = 0x4000000;
inline constexpr std::uint64_t spawn = std::uint64_t{1} << 32;
inline constexpr std::uint64_t name_me = std::uint64_t{1} << 33;
inline constexpr std::uint64_t v4_nc = std::uint64_t{1} << 34;
inline constexpr std::uint64_t alias = std::uint64_t{1} << 35;

// What OTP 25 refuses to connect without.
inline constexpr std::uint64_t mandatory_25 =
    extended_references | fun_tags | new_fun_tags | extended_pids_ports | export_ptr_tag |
    bit_binaries | new_floats | utf8_atoms | map_tag | big_creation | handshake_23;
// What OTP 26 and 27 add to it.
inline constexpr std::uint64_t mandatory_26 = v4_nc | unlink_id;
}  // namespace flag

// A peer that sets mandatory_25_digest has every flag of mandatory_25 (OTP expands it
// the same way before checking).
constexpr std::uint64_t expand_flags(std::uint64_t flags) noexcept {
  return (flags & flag::mandatory_25_digest) != 0 ? flags | flag::mandatory_25 : flags;
}

// The names of the mandatory flags `flags` lacks ("BIG_CREATION, UTF8_ATOMS"); empty
// when none is missing.
std::string missing_mandatory(std::uint64_t flags);

using digest = std::array<std::uint8_t, 16>;
digest make_digest(std::uint32_t challenge, std::string_view cookie);

// 'N' (the initiator's name, and the acceptor's challenge without the challenge).
struct name_message {
  std::uint64_t flags = 0;
  std::uint32_t creation = 0;
  std::string name;
  bool old_form = false;  // 'n' (version 5): the flags' high half comes in 'c'
};
std::string make_name(std::uint64_t flags, std::uint32_t creation, std::string_view name);
std::optional<name_message> parse_name(std::string_view body);

// 's' + status text ("ok", "ok_simultaneous", "nok", "not_allowed", "alive",
// "named:"...). The named: form carries a name and creation after the text.
std::string make_status(std::string_view status);
std::optional<std::string> parse_status(std::string_view body);
// "snamed:" + the name the acceptor gives a peer that asked for one (NAME_ME) + the
// creation it gives it.
std::string make_named_status(std::string_view name, std::uint32_t creation);

struct challenge_message {
  std::uint64_t flags = 0;
  std::uint32_t challenge = 0;
  std::uint32_t creation = 0;
  std::string name;
};
std::string make_challenge(std::uint64_t flags, std::uint32_t challenge, std::uint32_t creation,
                           std::string_view name);
std::optional<challenge_message> parse_challenge(std::string_view body);

// 'c': the high half of the flags and the creation, after an old 'n'.
struct complement_message {
  std::uint32_t flags_high = 0;
  std::uint32_t creation = 0;
};
std::optional<complement_message> parse_complement(std::string_view body);

struct reply_message {
  std::uint32_t challenge = 0;
  digest answer{};
};
std::string make_reply(std::uint32_t challenge, const digest& answer);
std::optional<reply_message> parse_reply(std::string_view body);

std::string make_ack(const digest& answer);
std::optional<digest> parse_ack(std::string_view body);

}  // namespace beamline::dist::detail
