// dist_decode_fuzz: libFuzzer target for the decoder of the bytes a connected peer
// node sends: the packets of a connection (src/dist/control.hpp), their distribution
// header, atom cache and fragments, and the control messages they carry. (The
// handshake before it has its own target: dist_handshake_fuzz.cpp.)
//
// The input is a connection's bytes. The reader must return a packet, nothing yet,
// or a packet_error, never crash, read out of bounds or throw anything else; and each
// packet it reads must survive a round trip: encoded again, it reads back as the same
// terms.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dist/control.hpp"

namespace wire = beamline::dist::detail;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
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
  packets(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
