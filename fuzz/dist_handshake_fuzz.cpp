// dist_handshake_fuzz: libFuzzer target for the decoders of the handshake messages a
// peer node sends before a connection is up (src/dist/handshake.hpp): name (both
// forms), status, challenge, complement, challenge reply and ack.
//
// Byte 0 picks the decoder; the rest is its input. Each must return a message or
// nullopt, never crash, read out of bounds or throw; and what it accepts must survive
// a round trip: built again from the parsed fields and parsed again, it gives the
// same fields.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

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

void status(std::string_view in) {
  auto m = wire::parse_status(in);
  if (!m) return;
  auto again = wire::parse_status(wire::make_status(*m));
  require(again && *again == *m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0:
      name(in);
      break;
    case 1:
      status(in);
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
    default:
      ack(in);
      break;
  }
  return 0;
}
