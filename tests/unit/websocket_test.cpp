// websocket: the observer's WebSocket handshake key and frame reader
// (src/observer/websocket.hpp), and its mailbox alarms' hysteresis
// (update_alarms, src/observer/server.hpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "observer/server.hpp"
#include "observer/websocket.hpp"

namespace {

namespace ob = beamline::observer;
using outcome = ob::ws_parse::outcome;

// A client frame: masked with the key 1 2 3 4.
std::string client_frame(std::uint8_t first, const std::string& payload, int length_form = 0) {
  std::string out(1, static_cast<char>(first));
  const std::size_t n = payload.size();
  if (length_form == 16 || (length_form == 0 && n >= 126 && n <= 0xFFFF)) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
  } else if (length_form == 64 || n > 0xFFFF) {
    out += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
  } else {
    out += static_cast<char>(0x80 | n);
  }
  const char mask[4] = {1, 2, 3, 4};
  out.append(mask, 4);
  for (std::size_t i = 0; i < n; ++i) out += static_cast<char>(payload[i] ^ mask[i % 4]);
  return out;
}

TEST(websocket, accept_key_is_rfc_6455s_example) {
  EXPECT_EQ(ob::ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(ob::ws_accept_key("short=="), "");
  EXPECT_EQ(ob::ws_accept_key("dGhlIHNhbXBsZSBub25jZQ!="), "");
}

TEST(websocket, reads_a_masked_text_frame_and_waits_for_a_cut_one) {
  const std::string bytes = client_frame(0x81, "hello");
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    ob::ws_frame f;
    EXPECT_EQ(ob::parse_client_frame(bytes.substr(0, cut), 4096, f).result, outcome::incomplete)
        << cut;
  }
  ob::ws_frame f;
  const ob::ws_parse p = ob::parse_client_frame(bytes + "next", 4096, f);
  ASSERT_EQ(p.result, outcome::complete);
  EXPECT_EQ(p.consumed, bytes.size());
  EXPECT_EQ(f.opcode, ob::ws_opcode::text);
  EXPECT_TRUE(f.fin);
  EXPECT_EQ(f.payload, "hello");
}

TEST(websocket, reads_16_and_64_bit_lengths) {
  ob::ws_frame f;
  const std::string medium(300, 'm');
  ASSERT_EQ(ob::parse_client_frame(client_frame(0x82, medium), 1 << 20, f).result,
            outcome::complete);
  EXPECT_EQ(f.payload, medium);
  const std::string large(70000, 'l');
  ASSERT_EQ(ob::parse_client_frame(client_frame(0x82, large), 1 << 20, f).result,
            outcome::complete);
  EXPECT_EQ(f.payload, large);
}

ob::ws_parse refused(const std::string& bytes, std::size_t limit = 4096) {
  ob::ws_frame f;
  return ob::parse_client_frame(bytes, limit, f);
}

TEST(websocket, refuses_what_rfc_6455_says_a_server_must) {
  std::string unmasked = "\x81\x02hi";
  EXPECT_EQ(refused(unmasked).close_code, 1002);
  EXPECT_EQ(refused(client_frame(0xC1, "x")).close_code, 1002);  // RSV1
  EXPECT_EQ(refused(client_frame(0x83, "x")).close_code, 1002);  // reserved opcode
  EXPECT_EQ(refused(client_frame(0x09, "x")).close_code, 1002);  // fragmented ping
  EXPECT_EQ(refused(client_frame(0x89, std::string(126, 'p'))).close_code, 1002);
  EXPECT_EQ(refused(client_frame(0x81, "short", 16)).close_code, 1002);  // not shortest
  EXPECT_EQ(refused(client_frame(0x81, std::string(300, 'x'), 64)).close_code, 1002);
  std::string huge = "\x81\xFF\x80";
  huge.append(7, '\0');
  EXPECT_EQ(refused(huge).close_code, 1002);  // the top bit of a 64-bit length
  const ob::ws_parse big = refused(client_frame(0x81, std::string(5000, 'b')));
  EXPECT_EQ(big.result, outcome::error);
  EXPECT_EQ(big.close_code, 1009);
}

TEST(websocket, server_frames_carry_their_length_in_the_shortest_form) {
  EXPECT_EQ(ob::ws_server_frame(ob::ws_opcode::text, "ab"), std::string("\x81\x02"
                                                                        "ab"));
  const std::string medium = ob::ws_server_frame(ob::ws_opcode::text, std::string(300, 'x'));
  EXPECT_EQ(static_cast<unsigned char>(medium[1]), 126);
  EXPECT_EQ(medium.size(), 4u + 300u);
  const std::string large = ob::ws_server_frame(ob::ws_opcode::binary, std::string(70000, 'x'));
  EXPECT_EQ(static_cast<unsigned char>(large[1]), 127);
  EXPECT_EQ(large.size(), 10u + 70000u);
  const std::string close = ob::ws_close_frame(1009, std::string(200, 'r'));
  EXPECT_EQ(static_cast<unsigned char>(close[0]), 0x88);
  EXPECT_EQ(static_cast<unsigned char>(close[1]), 125);  // a control frame's limit
}

beamline::observe::process_row row(std::uint32_t id, std::uint32_t queue) {
  beamline::observe::process_row r;
  r.process = beamline::pid{id, 0, 0, 0};
  r.message_queue_len = queue;
  return r;
}

TEST(mailbox_alarms, are_raised_at_the_threshold_and_cleared_only_well_under_it) {
  std::vector<ob::mailbox_alarm> alarms;
  ob::update_alarms(alarms, {row(1, ob::alarm_raise - 1), row(2, 10)}, 1000, 0);
  EXPECT_TRUE(alarms.empty());
  ob::update_alarms(alarms, {row(1, ob::alarm_raise + 500), row(2, 10)}, 2000, 1);
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].process, (beamline::pid{1, 0, 0, 0}));
  EXPECT_EQ(alarms[0].raised_uptime_ms, 2000);
  // Under the raise threshold but over the clear one: still alarmed, shrinking.
  ob::update_alarms(alarms, {row(1, ob::alarm_clear + 1)}, 4000, 2);
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].message_queue_len, ob::alarm_clear + 1);
  EXPECT_EQ(alarms[0].peak, ob::alarm_raise + 500);
  EXPECT_DOUBLE_EQ(alarms[0].growth_per_second,
                   (static_cast<double>(ob::alarm_clear + 1) - (ob::alarm_raise + 500)) / 2);
  ob::update_alarms(alarms, {row(1, ob::alarm_clear - 1)}, 5000, 1);
  EXPECT_TRUE(alarms.empty());
}

TEST(mailbox_alarms, end_with_the_process_and_stay_while_unseen_among_long_queues) {
  std::vector<ob::mailbox_alarm> alarms;
  ob::update_alarms(alarms, {row(7, 5000)}, 1000, 0);
  ASSERT_EQ(alarms.size(), 1u);
  // Not among alarm_rows processes that all hold more than alarm_clear: kept.
  std::vector<beamline::observe::process_row> crowded;
  for (std::uint32_t i = 0; i < ob::alarm_rows; ++i) crowded.push_back(row(100 + i, 6000 - i));
  ob::update_alarms(alarms, crowded, 2000, 1);
  EXPECT_EQ(alarms.size(), ob::alarm_rows + 1);
  // Absent from a complete list (fewer rows than asked for): gone.
  alarms.resize(1);
  ob::update_alarms(alarms, {row(8, 20)}, 3000, 1);
  EXPECT_TRUE(alarms.empty());
}

}  // namespace
