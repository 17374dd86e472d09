// dist_wire_*: the distribution's handshake messages and packets as bytes
// (src/dist/handshake.hpp, src/dist/control.hpp), against bytes OTP 25 was seen to
// send (shared reference notes, captures).
#include <gtest/gtest.h>

#include <string>

#include "dist/control.hpp"
#include "dist/handshake.hpp"

namespace {

namespace wire = beamline::dist::detail;
using beamline::atom;
using beamline::term;

std::string hex(const wire::digest& d) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : d) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

TEST(dist_wire, the_digest_is_md5_of_the_cookie_and_the_unsigned_decimal_challenge) {
  // Seen on the wire: challenge 0xcc74c3d8 with cookie "secret".
  EXPECT_EQ(hex(wire::make_digest(0xcc74c3d8, "secret")), "bc2e77952a8f1a495be4eeeb25d619a8");
}

TEST(dist_wire, mandatory_25_digest_stands_for_the_whole_otp_25_set) {
  EXPECT_EQ(wire::missing_mandatory(wire::flag::mandatory_25_digest), "");
  EXPECT_EQ(wire::missing_mandatory(wire::flag::mandatory_25), "");
  EXPECT_EQ(wire::missing_mandatory(wire::flag::mandatory_25 & ~wire::flag::big_creation),
            "BIG_CREATION");
  // What OTP 25.2.3 offers.
  EXPECT_EQ(wire::missing_mandatory(0xD07DF7FBDull), "");
}

TEST(dist_wire, name_messages_round_trip_and_read_the_old_form) {
  const std::string bytes = wire::make_name(0xD07DF7FBDull, 0x6b05f8bc, "b@127.0.0.1");
  EXPECT_EQ(bytes.size(), 1u + 8 + 4 + 2 + 11);
  auto m = wire::parse_name(bytes + "trailing bytes are ignored");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->flags, 0xD07DF7FBDull);
  EXPECT_EQ(m->creation, 0x6b05f8bcu);
  EXPECT_EQ(m->name, "b@127.0.0.1");
  EXPECT_FALSE(m->old_form);

  const std::string old = std::string("n\0\5\x07\xdf\x7f\xbd", 7) + "a@h";
  auto o = wire::parse_name(old);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->old_form);
  EXPECT_EQ(o->flags, 0x07DF7FBDu);
  EXPECT_EQ(o->name, "a@h");
}

TEST(dist_wire, truncated_or_foreign_handshake_messages_are_refused) {
  const std::string name = wire::make_name(1, 2, "x@y");
  for (std::size_t n = 0; n < name.size(); ++n) EXPECT_FALSE(wire::parse_name(name.substr(0, n)));
  const std::string challenge = wire::make_challenge(1, 2, 3, "x@y");
  for (std::size_t n = 0; n < challenge.size(); ++n)
    EXPECT_FALSE(wire::parse_challenge(challenge.substr(0, n)));
  EXPECT_FALSE(wire::parse_reply(std::string("r1234")));
  EXPECT_FALSE(wire::parse_ack(std::string(16, 'a')));
  EXPECT_FALSE(wire::parse_status(""));
  EXPECT_EQ(wire::parse_status("snot_allowed"), "not_allowed");
}

TEST(dist_wire, challenge_reply_and_ack_round_trip) {
  auto c = wire::parse_challenge(wire::make_challenge(7, 0xfffffffe, 9, "cpp@127.0.0.1"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->flags, 7u);
  EXPECT_EQ(c->challenge, 0xfffffffeu);
  EXPECT_EQ(c->creation, 9u);
  EXPECT_EQ(c->name, "cpp@127.0.0.1");
  const wire::digest d = wire::make_digest(42, "cookie");
  auto r = wire::parse_reply(wire::make_reply(42, d));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->challenge, 42u);
  EXPECT_EQ(r->answer, d);
  auto a = wire::parse_ack(wire::make_ack(d));
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, d);
}

TEST(dist_wire, a_packet_is_a_length_then_112_then_the_terms) {
  std::string bytes;
  const term message = term::tuple({atom("hello"), 1});
  wire::append_packet(bytes, term::tuple({2, atom(""), atom("x")}), &message);
  ASSERT_GT(bytes.size(), 5u);
  const std::size_t length = (std::size_t(std::uint8_t(bytes[0])) << 24) |
                             (std::size_t(std::uint8_t(bytes[1])) << 16) |
                             (std::size_t(std::uint8_t(bytes[2])) << 8) | std::uint8_t(bytes[3]);
  EXPECT_EQ(length, bytes.size() - 4);
  EXPECT_EQ(std::uint8_t(bytes[4]), 112);
  EXPECT_EQ(std::uint8_t(bytes[5]), 131);
  wire::packet p = wire::decode_packet(std::string_view(bytes).substr(4));
  EXPECT_EQ(p.operation(), 2);
  ASSERT_TRUE(p.payload);
  EXPECT_EQ(*p.payload, message);
}

TEST(dist_wire, bad_packets_are_errors_that_say_what_is_wrong) {
  auto error_of = [](std::string_view bytes) -> std::string {
    try {
      wire::decode_packet(bytes);
    } catch (const wire::packet_error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of(std::string("\x83\x44\x00", 3)).find("DIST_HDR_ATOM_CACHE"),
            std::string::npos);
  EXPECT_NE(error_of("\x01").find("unknown packet type"), std::string::npos);
  EXPECT_NE(error_of(std::string("p\x83\x61\x02", 4)).find("not a tuple"), std::string::npos);
  // {99, x}: no such operation.
  EXPECT_NE(error_of(std::string("p\x83\x68\x02\x61\x63\x77\x01x", 9)).find("unknown control"),
            std::string::npos);
  // SEND without its message.
  std::string send;
  wire::append_packet(send, term::tuple({2, atom(""), atom("x")}), nullptr);
  EXPECT_NE(error_of(std::string_view(send).substr(4)).find("no payload"), std::string::npos);
  // LINK of the wrong size.
  std::string link;
  wire::append_packet(link, term::tuple({1, atom("a")}), nullptr);
  EXPECT_NE(error_of(std::string_view(link).substr(4)).find("wrong size"), std::string::npos);
  EXPECT_NE(error_of(std::string("p\x83\x68", 3)).find("undecodable"), std::string::npos);
}

}  // namespace
