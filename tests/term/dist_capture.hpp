// dist_capture.hpp: reads recorded Erlang distribution traffic (pcap files) down to
// the external terms it carries, for the codec's tests and for the fuzz corpus.
//
// The layers, each checked as it is peeled:
// 1. pcap records (little- or big-endian header; Ethernet, Linux cooked or loopback
//    link types) -> IPv4 -> TCP segments, grouped by (source port, destination port)
//    and put in sequence order (duplicates dropped, gaps are an error).
// 2. Connections to or from port 4369 are epmd and skipped. On the others, the
//    handshake uses 2-byte packet lengths until the initiator's challenge reply ('r')
//    and the acceptor's challenge ack ('a'); 4-byte lengths after, where 0 is a tick.
// 3. A packet is pass-through (112, then terms with version bytes), a distribution
//    header (131, 68: atom cache references, then terms without version bytes), or a
//    fragment (131, 69 first / 131, 70 next) of a message reassembled by sequence id.
// 4. The atom cache: each direction of each connection has its own 2048 slots; new
//    entries in a header fill them, old ones are read from them.
//
// The result is a list of messages: the bytes of the terms, the atom cache references
// in force for them, and where they came from (for failure messages).
#pragma once

#include <array>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "beamline/atom.hpp"

namespace beamline_test::dist_capture {

struct message {
  std::string where;                    // "file, connection a->b, packet n"
  std::string header;                   // the distribution header (131, 68, ...), if any
  std::string terms;                    // control message (and payload), back to back
  bool version_bytes = false;           // pass-through: each term starts with 131
  std::vector<beamline::atom> atom_refs;  // what ATOM_CACHE_REF i means in `terms`
  // The header's entries as read, to write the header again.
  struct header_entry {
    std::uint8_t segment;
    std::uint8_t index;
    bool is_new;
  };
  std::vector<header_entry> header_entries;
  bool long_atoms = false;
  bool fragmented = false;
};

struct capture {
  std::vector<message> messages;
  std::size_t handshake_packets = 0;
  std::size_t ticks = 0;
};

namespace detail {

inline std::uint32_t read32(const std::string& s, std::size_t at, bool little) {
  const auto b = [&](std::size_t i) { return std::uint32_t{static_cast<unsigned char>(s[at + i])}; };
  return little ? b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24
                : b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}
inline std::uint32_t be32(const std::string& s, std::size_t at) { return read32(s, at, false); }
inline std::uint16_t be16(const std::string& s, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(s[at]) << 8 |
                                    static_cast<unsigned char>(s[at + 1]));
}
inline std::uint64_t be64(const std::string& s, std::size_t at) {
  return std::uint64_t{be32(s, at)} << 32 | be32(s, at + 4);
}

[[noreturn]] inline void fail(const std::string& what) {
  throw std::runtime_error("capture: " + what);
}

// The TCP payload bytes of each direction of each connection, in order.
inline std::map<std::pair<std::uint16_t, std::uint16_t>, std::string> tcp_streams(
    const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open " + file);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < 24) fail(file + ": too short for a pcap header");
  const std::uint32_t magic = read32(data, 0, true);
  bool little;
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
    little = true;
  } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
    little = false;
  } else {
    fail(file + ": not a pcap file");
  }
  const std::uint32_t link_type = read32(data, 20, little);
  std::map<std::pair<std::uint16_t, std::uint16_t>, std::map<std::uint32_t, std::string>> segments;
  for (std::size_t at = 24; at + 16 <= data.size();) {
    const std::uint32_t captured = read32(data, at + 8, little);
    const std::uint32_t original = read32(data, at + 12, little);
    at += 16;
    if (captured != original || at + captured > data.size()) fail(file + ": truncated record");
    std::string packet = data.substr(at, captured);
    at += captured;
    std::size_t ip = 0;
    if (link_type == 1) {
      ip = 14;  // Ethernet
    } else if (link_type == 113) {
      ip = 16;  // Linux cooked
    } else if (link_type == 0) {
      ip = 4;  // BSD loopback
    } else if (link_type != 101) {
      fail(file + ": link type " + std::to_string(link_type));
    }
    if (packet.size() < ip + 20 || (static_cast<unsigned char>(packet[ip]) >> 4) != 4) continue;
    const std::size_t ip_header = (static_cast<unsigned char>(packet[ip]) & 15) * 4u;
    const std::size_t ip_total = be16(packet, ip + 2);
    if (packet[ip + 9] != 6) continue;  // not TCP
    const std::size_t tcp = ip + ip_header;
    const std::uint16_t source = be16(packet, tcp);
    const std::uint16_t destination = be16(packet, tcp + 2);
    const std::uint32_t sequence = be32(packet, tcp + 4);
    const std::size_t tcp_header = (static_cast<unsigned char>(packet[tcp + 12]) >> 4) * 4u;
    const std::size_t payload = tcp + tcp_header;
    const std::size_t end = ip + ip_total;
    if (payload >= end) continue;
    segments[{source, destination}].emplace(sequence, packet.substr(payload, end - payload));
  }
  std::map<std::pair<std::uint16_t, std::uint16_t>, std::string> streams;
  for (const auto& [ports, pieces] : segments) {
    std::string stream;
    std::uint32_t next = pieces.begin()->first;
    for (const auto& [sequence, bytes] : pieces) {
      if (sequence != next) {
        fail(file + ": gap in the TCP stream " + std::to_string(ports.first) + "->" +
             std::to_string(ports.second));
      }
      stream += bytes;
      next = sequence + static_cast<std::uint32_t>(bytes.size());
    }
    streams[ports] = stream;
  }
  return streams;
}

// One direction's atom cache.
struct atom_cache {
  std::array<std::optional<beamline::atom>, 2048> slots;
};

// Reads a distribution header at `at` (after 131 and 68 or 69's ids); returns the
// position after it and fills the message's references and entries.
inline std::size_t read_header(const std::string& p, std::size_t at, atom_cache& cache,
                               message& m) {
  const std::size_t count = static_cast<unsigned char>(p.at(at++));
  if (count == 0) return at;
  const std::size_t flag_bytes = count / 2 + 1;
  const std::string flags = p.substr(at, flag_bytes);
  at += flag_bytes;
  const auto nibble = [&](std::size_t i) {
    return (static_cast<unsigned char>(flags[i / 2]) >> (4 * (i % 2))) & 15;
  };
  m.long_atoms = (nibble(count) & 1) != 0;
  for (std::size_t i = 0; i < count; ++i) {
    const bool is_new = (nibble(i) & 8) != 0;
    const auto segment = static_cast<std::uint8_t>(nibble(i) & 7);
    const auto index = static_cast<std::uint8_t>(p.at(at++));
    const std::size_t slot = segment * 256u + index;
    if (is_new) {
      std::size_t length = static_cast<unsigned char>(p.at(at++));
      if (m.long_atoms) length = length << 8 | static_cast<unsigned char>(p.at(at++));
      cache.slots[slot] = beamline::atom(p.substr(at, length));
      at += length;
    } else if (!cache.slots[slot]) {
      fail(m.where + ": atom cache slot " + std::to_string(slot) + " used before it was set");
    }
    m.atom_refs.push_back(*cache.slots[slot]);
    m.header_entries.push_back({segment, index, is_new});
  }
  return at;
}

}  // namespace detail

// The header bytes that `m`'s entries describe (131, 68, ...), to compare with the
// original.
inline std::string write_header(const message& m) {
  std::string out = {static_cast<char>(131), static_cast<char>(68),
                     static_cast<char>(m.header_entries.size())};
  const std::size_t count = m.header_entries.size();
  if (count == 0) return out;
  std::string flags(count / 2 + 1, '\0');
  const auto set_nibble = [&](std::size_t i, unsigned value) {
    flags[i / 2] = static_cast<char>(static_cast<unsigned char>(flags[i / 2]) | value << (4 * (i % 2)));
  };
  for (std::size_t i = 0; i < count; ++i)
    set_nibble(i, (m.header_entries[i].is_new ? 8u : 0u) | m.header_entries[i].segment);
  set_nibble(count, m.long_atoms ? 1u : 0u);
  out += flags;
  for (std::size_t i = 0; i < count; ++i) {
    out += static_cast<char>(m.header_entries[i].index);
    if (!m.header_entries[i].is_new) continue;
    const std::string_view name = m.atom_refs[i].name();
    if (m.long_atoms) out += static_cast<char>(name.size() >> 8);
    out += static_cast<char>(name.size());
    out += name;
  }
  return out;
}

inline capture read(const std::string& file) {
  using detail::be16;
  using detail::be32;
  using detail::be64;
  capture result;
  for (const auto& [ports, stream] : detail::tcp_streams(file)) {
    if (ports.first == 4369 || ports.second == 4369) continue;  // epmd
    const std::string connection =
        file + " " + std::to_string(ports.first) + "->" + std::to_string(ports.second);
    detail::atom_cache cache;
    struct partial {
      message m;
      std::uint64_t next_fragment;
    };
    std::map<std::uint64_t, partial> fragments;
    bool handshake = true;
    std::size_t packet_number = 0;
    for (std::size_t at = 0; at < stream.size(); ++packet_number) {
      std::size_t length;
      if (handshake) {
        if (at + 2 > stream.size()) detail::fail(connection + ": truncated handshake");
        length = be16(stream, at);
        at += 2;
      } else {
        if (at + 4 > stream.size()) detail::fail(connection + ": truncated length");
        length = be32(stream, at);
        at += 4;
      }
      if (at + length > stream.size()) detail::fail(connection + ": truncated packet");
      const std::string p = stream.substr(at, length);
      at += length;
      if (handshake) {
        ++result.handshake_packets;
        if (!p.empty() && (p[0] == 'r' || p[0] == 'a')) handshake = false;
        continue;
      }
      if (p.empty()) {
        ++result.ticks;
        continue;
      }
      message m;
      m.where = connection + " packet " + std::to_string(packet_number);
      const auto first = static_cast<unsigned char>(p[0]);
      if (first == 112) {
        m.version_bytes = true;
        m.terms = p.substr(1);
        result.messages.push_back(std::move(m));
        continue;
      }
      if (first != 131 || p.size() < 2) detail::fail(m.where + ": not a distribution packet");
      const auto kind = static_cast<unsigned char>(p[1]);
      if (kind == 68) {
        const std::size_t end = detail::read_header(p, 2, cache, m);
        m.header = p.substr(0, end);
        m.terms = p.substr(end);
        result.messages.push_back(std::move(m));
      } else if (kind == 69) {
        const std::uint64_t sequence = be64(p, 2);
        const std::uint64_t fragment = be64(p, 10);
        const std::size_t end = detail::read_header(p, 18, cache, m);
        m.header = p.substr(0, 2) + p.substr(18, end - 18);
        m.header[1] = 68;  // the header as a whole message would have it
        m.terms = p.substr(end);
        m.fragmented = true;
        if (fragment == 1) {
          result.messages.push_back(std::move(m));
        } else {
          fragments[sequence] = {std::move(m), fragment - 1};
        }
      } else if (kind == 70) {
        const std::uint64_t sequence = be64(p, 2);
        const std::uint64_t fragment = be64(p, 10);
        auto it = fragments.find(sequence);
        if (it == fragments.end() || it->second.next_fragment != fragment)
          detail::fail(connection + ": fragment out of order");
        it->second.m.terms += p.substr(18);
        if (fragment == 1) {
          result.messages.push_back(std::move(it->second.m));
          fragments.erase(it);
        } else {
          --it->second.next_fragment;
        }
      } else {
        detail::fail(m.where + ": unknown distribution packet 131, " + std::to_string(kind));
      }
    }
    if (!fragments.empty()) detail::fail(connection + ": incomplete fragmented message");
  }
  return result;
}

}  // namespace beamline_test::dist_capture
