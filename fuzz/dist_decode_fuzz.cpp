// dist_decode_fuzz: libFuzzer target for the decoders of the bytes a peer node sends:
// the handshake messages (src/dist/handshake.hpp) and the packets of a connected
// channel (src/dist/control.hpp).
//
// Byte 0 picks the decoder (name, status, challenge, complement, reply, ack, or a
// connection's packets); the rest is its input. Each must return a message or nullopt (a packet:
// a packet or packet_error), never crash, read out of bounds or throw anything else;
// and what it accepts must survive a round trip: built again from the parsed fields
// and parsed again, it gives the same fields (a packet: the same terms).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dist/control.hpp"
#include "dist/handshake.hpp"

namespace wire = beamline::dist::detail;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void name(std::string_view in) {
  auto m = wire::parse_name(in);
  if (!m || m->old_form || m->name.size() > 0xffff) return;
  auto again = wire::parse_name(wire::make_name(m->flags, m->creation, m->name));
  require(again && again->flags == m->flags && again->creation == m->creation &&
          again->name == m->name);
}

void challenge(std::string_view in) {
  auto m = wire::parse_challenge(in);
  if (!m) return;
  auto again =
      wire::parse_challenge(wire::make_challenge(m->flags, m->challenge, m->creation, m->name));
  require(again && again->flags == m->flags && again->challenge == m->challenge &&
          again->creation == m->creation && again->name == m->name);
}

void reply(std::string_view in) {
  auto m = wire::parse_reply(in);
  if (!m) return;
  auto again = wire::parse_reply(wire::make_reply(m->challenge, m->answer));
  require(again && again->challenge == m->challenge && again->answer == m->answer);
}

void ack(std::string_view in) {
  auto m = wire::parse_ack(in);
  if (!m) return;
  auto again = wire::parse_ack(wire::make_ack(*m));
  require(again && *again == *m);
}

// Each complete packet, encoded again in either form (and in the header form with a
// send cache and small fragments, twice, so the second refers to the first's
// entries), reads back as the same terms.
void check_round_trip(const wire::packet& p) {
  const beamline::term* payload = p.payload ? &*p.payload : nullptr;
  auto same = [&](const std::optional<wire::packet>& q) {
    require(q && q->control == p.control && q->payload.has_value() == p.payload.has_value());
    if (p.payload) require(*q->payload == *p.payload);
  };
  for (bool header_form : {false, true}) {
    std::string bytes;
    wire::append_packet(bytes, header_form, p.control, payload);
    require(bytes.size() >= 5);
    wire::packet_reader reader(header_form);
    same(reader.read(std::string_view(bytes).substr(4)));
  }
  wire::send_atom_cache cache;
  wire::packet_reader reader(true);
  for (int round = 0; round < 2; ++round) {
    std::string bytes;
    wire::append_packet(bytes, wire::packet_format{true, 64, &cache}, p.control, payload);
    std::optional<wire::packet> q;
    for (std::size_t at = 0; at < bytes.size();) {
      require(bytes.size() - at >= 4);
      const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + at);
      const std::size_t length =
          std::size_t{b[0]} << 24 | std::size_t{b[1]} << 16 | std::size_t{b[2]} << 8 | b[3];
      require(at + 4 + length <= bytes.size() && !q);
      q = reader.read(std::string_view(bytes).substr(at + 4, length));
      at += 4 + length;
    }
    same(q);
  }
}

// A connection's packets: the input is u16-length-prefixed packets, read in turn by
// one reader (so that atom cache entries and fragments carry from one to the next);
// the first byte says whether the header form was negotiated.
void packets(std::string_view in) {
  if (in.empty()) return;
  wire::packet_reader reader((in[0] & 1) != 0, 1 << 20, 4);
  in.remove_prefix(1);
  while (in.size() >= 2) {
    const std::size_t length = (std::size_t(std::uint8_t(in[0])) << 8) | std::uint8_t(in[1]);
    in.remove_prefix(2);
    const std::string_view one = in.substr(0, length);
    in.remove_prefix(one.size());
    try {
      if (std::optional<wire::packet> p = reader.read(one)) check_round_trip(*p);
    } catch (const wire::packet_error&) {
      return;  // the connection would close here
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      name(in);
      break;
    case 1:
      (void)wire::parse_status(in);
      break;
    case 2:
      challenge(in);
      break;
    case 3:
      (void)wire::parse_complement(in);
      break;
    case 4:
      reply(in);
      break;
    case 5:
      ack(in);
      break;
    default:
      packets(in);
      break;
  }
  return 0;
}
