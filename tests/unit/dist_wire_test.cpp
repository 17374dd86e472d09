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
  wire::append_packet(bytes, false, term::tuple({2, atom(""), atom("x")}), &message);
  ASSERT_GT(bytes.size(), 5u);
  const std::size_t length = (std::size_t(std::uint8_t(bytes[0])) << 24) |
                             (std::size_t(std::uint8_t(bytes[1])) << 16) |
                             (std::size_t(std::uint8_t(bytes[2])) << 8) | std::uint8_t(bytes[3]);
  EXPECT_EQ(length, bytes.size() - 4);
  EXPECT_EQ(std::uint8_t(bytes[4]), 112);
  EXPECT_EQ(std::uint8_t(bytes[5]), 131);
  wire::packet_reader reader(false);
  std::optional<wire::packet> p = reader.read(std::string_view(bytes).substr(4));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->operation(), 2);
  ASSERT_TRUE(p->payload);
  EXPECT_EQ(*p->payload, message);
}

TEST(dist_wire, the_header_form_is_131_68_then_terms_without_131) {
  std::string bytes;
  const term message = term::tuple({atom("hello"), 1});
  wire::append_packet(bytes, true, term::tuple({2, atom(""), atom("x")}), &message);
  EXPECT_EQ(std::uint8_t(bytes[4]), 131);
  EXPECT_EQ(std::uint8_t(bytes[5]), 68);
  EXPECT_EQ(std::uint8_t(bytes[6]), 0);
  EXPECT_EQ(std::uint8_t(bytes[7]), 104);  // the control tuple, no 131 before it
  wire::packet_reader reader(true);
  std::optional<wire::packet> p = reader.read(std::string_view(bytes).substr(4));
  ASSERT_TRUE(p);
  EXPECT_EQ(*p->payload, message);
  // A pass-through packet queued before the handshake chose the header form.
  std::string queued;
  wire::append_packet(queued, false, term::tuple({2, atom(""), atom("x")}), &message);
  queued.append(4, '\0');  // and a tick
  EXPECT_EQ(wire::to_header_form(queued), bytes + std::string(4, '\0'));
}

// The header OTP sent in a recorded session: four new cache entries, one of them the
// empty atom, in a REG_SEND of {RexPid, features_request} to rex.
TEST(dist_wire, the_atom_cache_is_read_and_remembered_across_packets) {
  wire::packet_reader reader(true);
  std::string header = std::string("\x83\x44\x04\x8f\xdc\x00", 6);
  header += std::string("\x97\x0b", 2) + "b@127.0.0.1";  // segment 7 index 151, new
  header += std::string("\x05\x00", 2);                  // segment 4 index 5, new: ''
  header += std::string("\x74\x03", 2) + "rex";          // segment 4... index 116, new
  header += std::string("\x5d\x10", 2) + "features_request";
  // {6, Pid, '', rex} + {Pid, features_request}, atoms as cache references.
  const std::string pid = std::string("\x58\x52\x00", 3) + std::string("\x00\x00\x00\x2a", 4) +
                          std::string(4, '\0') + std::string("\x00\x00\x00\x07", 4);
  const std::string control = std::string("\x68\x04\x61\x06", 4) + pid + "\x52\x01" + "\x52\x02";
  const std::string payload = std::string("\x68\x02", 2) + pid + "\x52\x03";
  std::optional<wire::packet> p = reader.read(header + control + payload);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->control[3], term(atom("rex")));
  EXPECT_EQ(p->control[2], term(atom("")));
  EXPECT_EQ((*p->payload)[1], term(atom("features_request")));
  EXPECT_EQ(p->control[1].as_pid().node, atom("b@127.0.0.1").index());
  // The next packet refers to the same slots without redefining them.
  // Two references, both to existing slots: 7/0x97 (the node) and 4/0x74 (rex).
  const std::string again = std::string("\x83\x44\x02\x47\x00\x97\x74", 7);
  const std::string control2 = std::string("\x68\x04\x61\x06", 4) + std::string("\x58\x52\x00", 3) +
                               std::string("\x00\x00\x00\x2a", 4) + std::string(4, '\0') +
                               std::string("\x00\x00\x00\x07", 4) + "\x52\x01\x52\x01";
  std::optional<wire::packet> q =
      reader.read(again + control2 + payload.substr(0, 2) + std::string("\x58\x52\x00", 3) +
                  std::string("\x00\x00\x00\x2a", 4) + std::string(4, '\0') +
                  std::string("\x00\x00\x00\x07", 4) + "\x52\x01");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->control[3], term(atom("rex")));
}

TEST(dist_wire, fragments_are_put_together_in_order_and_checked) {
  // {2, '', x} + a binary, split into three fragments (3, 2, 1) of sequence 9.
  std::string whole;
  const term message = term::binary(std::string(1000, 'z'));
  wire::append_packet(whole, true, term::tuple({2, atom(""), atom("x")}), &message);
  const std::string data = whole.substr(7);  // after the length and 131 68 0
  auto u64 = [](std::uint64_t v) {
    std::string out;
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
    return out;
  };
  wire::packet_reader reader(true);
  const std::string start = std::string("\x83\x45", 2) + u64(9) + u64(3) + std::string(1, '\0');
  EXPECT_FALSE(reader.read(start + data.substr(0, 400)));
  EXPECT_FALSE(reader.read(std::string("\x83\x46", 2) + u64(9) + u64(2) + data.substr(400, 400)));
  std::optional<wire::packet> p =
      reader.read(std::string("\x83\x46", 2) + u64(9) + u64(1) + data.substr(800));
  ASSERT_TRUE(p);
  EXPECT_EQ(*p->payload, message);
  // Out of order, or of a message never started: errors.
  EXPECT_FALSE(reader.read(start + data.substr(0, 400)));
  EXPECT_THROW(reader.read(std::string("\x83\x46", 2) + u64(9) + u64(1) + data.substr(400)),
               wire::packet_error);
  EXPECT_THROW(reader.read(std::string("\x83\x46", 2) + u64(77) + u64(1) + data),
               wire::packet_error);
}

TEST(dist_wire, a_message_over_the_fragment_size_is_sent_as_fragments_that_read_back) {
  const term message = term::binary(std::string(2500, 'q'));
  const term control = term::tuple({2, atom(""), atom("x")});
  std::string whole;
  wire::append_packet(whole, true, control, &message);
  std::string split;
  wire::append_packet(split, wire::packet_format{true, 1000}, control, &message);
  // The terms (after 131 68 0) in three fragments: 1000 + 1000 + the rest.
  const std::string terms = whole.substr(7);
  ASSERT_GT(terms.size(), 2000u);
  ASSERT_LE(terms.size(), 3000u);
  std::vector<std::string> packets;
  for (std::size_t at = 0; at < split.size();) {
    const auto* b = reinterpret_cast<const unsigned char*>(split.data() + at);
    const std::size_t length =
        std::size_t{b[0]} << 24 | std::size_t{b[1]} << 16 | std::size_t{b[2]} << 8 | b[3];
    packets.push_back(split.substr(at + 4, length));
    at += 4 + length;
  }
  ASSERT_EQ(packets.size(), 3u);
  auto u64_at = [](const std::string& p, std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<unsigned char>(p[at + i]);
    return v;
  };
  EXPECT_EQ(std::uint8_t(packets[0][1]), 69);
  EXPECT_EQ(std::uint8_t(packets[1][1]), 70);
  EXPECT_EQ(std::uint8_t(packets[2][1]), 70);
  EXPECT_EQ(u64_at(packets[0], 10), 3u);  // fragment ids count down to 1
  EXPECT_EQ(u64_at(packets[2], 10), 1u);
  EXPECT_EQ(u64_at(packets[0], 2), u64_at(packets[2], 2));  // one sequence
  EXPECT_EQ(packets[0].substr(19) + packets[1].substr(18) + packets[2].substr(18), terms);
  wire::packet_reader reader(true);
  EXPECT_FALSE(reader.read(packets[0]));
  EXPECT_FALSE(reader.read(packets[1]));
  std::optional<wire::packet> p = reader.read(packets[2]);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->control, control);
  EXPECT_EQ(*p->payload, message);
  // A small one is one packet, as without fragments.
  std::string small;
  wire::append_packet(small, wire::packet_format{true, 1000}, control, &control);
  std::string plain;
  wire::append_packet(plain, true, control, &control);
  EXPECT_EQ(small, plain);
}

TEST(dist_wire, sent_headers_define_atom_cache_entries_once_and_then_refer_to_them) {
  wire::send_atom_cache cache;
  const wire::packet_format format{true, 0, &cache};
  const beamline::pid remote{42, 0, atom("peer@127.0.0.1").index(), 7};
  const term control = term::tuple({22, remote, atom("registered_name")});
  const term message = term::tuple({atom("hello"), remote, term::list({atom("x"), 1})});
  std::string first, second;
  wire::append_packet(first, format, control, &message);
  wire::append_packet(second, format, control, &message);
  // The first defines every atom (new-entry bits set); the second only refers, so it
  // is shorter, and both read back the same.
  auto header_count = [](const std::string& packet) { return std::uint8_t(packet[6]); };
  ASSERT_EQ(std::uint8_t(first[5]), 68);
  EXPECT_GE(header_count(first), 4);  // the node name, registered_name, hello, x
  EXPECT_EQ(header_count(first), header_count(second));
  for (std::size_t i = 0; i < header_count(first); ++i) {
    const unsigned nibble_first = (std::uint8_t(first[7 + i / 2]) >> (i % 2 * 4)) & 0xf;
    const unsigned nibble_second = (std::uint8_t(second[7 + i / 2]) >> (i % 2 * 4)) & 0xf;
    EXPECT_NE(nibble_first & 8, 0u) << i;
    EXPECT_EQ(nibble_second & 8, 0u) << i;
  }
  EXPECT_LT(second.size() + 20, first.size());
  wire::packet_reader reader(true);
  for (const std::string* packet : {&first, &second}) {
    std::optional<wire::packet> p = reader.read(std::string_view(*packet).substr(4));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->control, control);
    EXPECT_EQ(*p->payload, message);
  }
  // An atom that takes another's slot replaces it, and the reader follows.
  atom other("x");
  for (int i = 0;
       wire::send_atom_cache::slot_of(other) != wire::send_atom_cache::slot_of(atom("hello")); ++i)
    other = atom("slot_taker_" + std::to_string(i));
  const term displaced = term::tuple({other, atom("hello")});
  std::string third, fourth;
  wire::append_packet(third, format, control, &displaced);
  wire::append_packet(fourth, format, control, &message);
  for (const std::string* packet : {&third, &fourth}) {
    std::optional<wire::packet> p = reader.read(std::string_view(*packet).substr(4));
    ASSERT_TRUE(p);
    EXPECT_EQ(*p->payload, packet == &third ? displaced : message);
  }
  // A fragmented message carries the header in its first fragment.
  const term big = term::tuple({atom("hello"), term::binary(std::string(5000, 'b'))});
  std::string split;
  wire::append_packet(split, wire::packet_format{true, 1000, &cache}, control, &big);
  std::optional<wire::packet> whole;
  for (std::size_t at = 0; at < split.size();) {
    const auto* b = reinterpret_cast<const unsigned char*>(split.data() + at);
    const std::size_t length =
        std::size_t{b[0]} << 24 | std::size_t{b[1]} << 16 | std::size_t{b[2]} << 8 | b[3];
    whole = reader.read(std::string_view(split).substr(at + 4, length));
    at += 4 + length;
  }
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole->payload, big);
}

TEST(dist_wire, bad_packets_are_errors_that_say_what_is_wrong) {
  auto error_of = [](std::string_view bytes) -> std::string {
    try {
      wire::packet_reader reader(false);
      reader.read(bytes);
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
  wire::append_packet(send, false, term::tuple({2, atom(""), atom("x")}), nullptr);
  EXPECT_NE(error_of(std::string_view(send).substr(4)).find("no payload"), std::string::npos);
  // LINK of the wrong size.
  std::string link;
  wire::append_packet(link, false, term::tuple({1, atom("a")}), nullptr);
  EXPECT_NE(error_of(std::string_view(link).substr(4)).find("wrong size"), std::string::npos);
  EXPECT_NE(error_of(std::string("p\x83\x68", 3)).find("undecodable"), std::string::npos);
}

}  // namespace
