// control.cpp: decoding and encoding the packets of a connected channel (control.hpp).
#include "dist/control.hpp"

#include <cstring>

namespace beamline::dist::detail {

namespace {

constexpr std::uint8_t pass_through = 112;

// The arity each operation's tuple must have (0: unknown operation).
std::size_t control_arity(int operation) noexcept {
  switch (operation) {
    case op::link:
    case op::unlink:
    case op::group_leader:
    case op::send:
    case op::send_sender:
    case op::payload_exit:
    case op::payload_exit2:
    case op::alias_send:
      return 3;
    case op::exit:
    case op::exit2:
    case op::reg_send:
    case op::send_tt:
    case op::monitor_p:
    case op::demonitor_p:
    case op::send_sender_tt:
    case op::payload_exit_tt:
    case op::payload_exit2_tt:
    case op::payload_monitor_p_exit:
    case op::alias_send_tt:
    case op::unlink_id:
    case op::unlink_id_ack:
      return 4;
    case op::exit_tt:
    case op::reg_send_tt:
    case op::exit2_tt:
    case op::monitor_p_exit:
    case op::spawn_reply:
      return 5;
    case op::spawn_request:
    case op::spawn_reply_tt:
      return 6;
    case op::spawn_request_tt:
      return 7;
    default:
      return 0;
  }
}

}  // namespace

bool has_payload(int operation) noexcept {
  switch (operation) {
    case op::send:
    case op::reg_send:
    case op::send_tt:
    case op::reg_send_tt:
    case op::send_sender:
    case op::send_sender_tt:
    case op::payload_exit:
    case op::payload_exit_tt:
    case op::payload_exit2:
    case op::payload_exit2_tt:
    case op::payload_monitor_p_exit:
    case op::spawn_request:
    case op::spawn_request_tt:
    case op::alias_send:
    case op::alias_send_tt:
      return true;
    default:
      return false;
  }
}

packet decode_packet(std::string_view bytes) {
  if (bytes.empty()) throw packet_error("empty packet");
  const auto first = static_cast<std::uint8_t>(bytes[0]);
  if (first == etf::version_byte)
    throw packet_error(
        "a distribution header (131), but neither DIST_HDR_ATOM_CACHE nor "
        "FRAGMENTS was negotiated");
  if (first != pass_through) throw packet_error("unknown packet type " + std::to_string(first));
  packet p;
  try {
    etf::decoder in(bytes.substr(1));
    p.control = in.next();
    if (!p.control.is_tuple() || p.control.size() == 0 || !p.control[0].is_integer())
      throw packet_error("the control message is not a tuple with an operation: " +
                         p.control.to_string());
    const std::int64_t operation = p.control[0].as_int();
    const std::size_t arity = operation > 0 && operation < 64 ? control_arity(int(operation)) : 0;
    if (arity == 0) throw packet_error("unknown control message " + p.control.to_string());
    if (p.control.size() != arity)
      throw packet_error("control message of the wrong size: " + p.control.to_string());
    if (has_payload(static_cast<int>(operation))) {
      if (in.at_end()) throw packet_error("no payload after " + p.control.to_string());
      p.payload = in.next();
    }
    if (!in.at_end())
      throw packet_error(std::to_string(in.remaining()) + " bytes after the packet's terms");
  } catch (const etf::decode_error& e) {
    throw packet_error(std::string("undecodable term: ") + e.what());
  }
  return p;
}

void append_packet(std::string& out, const term& control, const term* payload) {
  // One scratch buffer per thread: encoding allocates nothing once it has grown.
  thread_local etf::buffer scratch;
  scratch.clear();
  etf::encode_options options;
  options.minor_version = 2;  // UTF-8 atoms, as the distribution writes them
  scratch.extend(5);          // the length and the packet type, written below
  etf::encode(control, scratch, options);
  if (payload != nullptr) etf::encode(*payload, scratch, options);
  const std::size_t length = scratch.size() - 4;
  if (length > 0xffffffffu) throw std::length_error("a distribution packet over 4 GiB");
  auto* header = const_cast<std::byte*>(scratch.data());
  header[0] = std::byte(length >> 24);
  header[1] = std::byte(length >> 16);
  header[2] = std::byte(length >> 8);
  header[3] = std::byte(length);
  header[4] = std::byte(pass_through);
  out.append(scratch.view());
  // A huge message should not pin its memory in every thread that ever sent one.
  if (scratch.capacity() > (std::size_t{1} << 20)) scratch = etf::buffer();
}

}  // namespace beamline::dist::detail
