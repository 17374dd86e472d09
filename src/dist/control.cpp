// control.cpp: decoding and encoding the packets of a connected channel (control.hpp).
#include "dist/control.hpp"

#include "term/term_order.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace beamline::dist::detail {

namespace {

constexpr std::uint8_t pass_through = 112;
constexpr std::uint8_t normal_header = 68;
constexpr std::uint8_t fragment_header = 69;
constexpr std::uint8_t fragment_continuation = 70;
constexpr std::size_t atom_cache_size = 2048;  // 8 segments of 256
// The most atoms one header lists (the encoder looks them up linearly).
constexpr std::size_t max_cached_atoms = 16;

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

packet decode_terms(std::string_view data, bool version_bytes, std::span<const atom> refs) {
  packet p;
  try {
    etf::decode_options options;
    options.version_byte = version_bytes;
    options.atom_cache_refs = refs;
    etf::decoder in(data, options);
    p.control = in.next();
    if (!p.control.is_tuple() || p.control.size() == 0 || !p.control[0].is_integer())
      throw packet_error("the control message is not a tuple with an operation: " +
                         p.control.to_string());
    const std::int64_t operation = p.control[0].as_int();  // throws for a bignum
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
  } catch (const packet_error&) {
    throw;
  } catch (const std::exception& e) {  // an operation that is a bignum, say
    throw packet_error(std::string("a malformed control message: ") + e.what());
  }
  return p;
}

packet_reader::packet_reader(bool header_form, std::size_t max_message_size,
                             std::size_t max_sequences)
    : header_form_(header_form),
      max_message_size_(max_message_size),
      max_sequences_(max_sequences),
      cache_(header_form ? atom_cache_size : 0) {}

void packet_reader::read_header(byte_reader& in) {
  const std::uint8_t count = in.u8();
  std::vector<atom>& refs = refs_;
  refs.clear();
  if (count == 0) {
    if (!in.ok()) throw packet_error("a truncated distribution header");
    return;
  }
  const std::string_view flags = in.bytes(count / 2 + 1);
  if (!in.ok()) throw packet_error("a truncated distribution header");
  auto nibble = [&](std::size_t i) {
    const auto byte = static_cast<std::uint8_t>(flags[i / 2]);
    return (i % 2 == 0 ? byte : byte >> 4) & 0xf;
  };
  const bool long_atoms = (nibble(count) & 1) != 0;
  refs.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const unsigned entry = nibble(i);
    const std::size_t slot = (entry & 7) * 256 + in.u8();
    if ((entry & 8) != 0) {  // a new entry: the atom's text follows
      const std::size_t length = long_atoms ? in.u16() : in.u8();
      const std::string_view text = in.bytes(length);
      if (!in.ok()) throw packet_error("a truncated atom cache entry");
      try {
        cache_[slot] = atom(text);
      } catch (const std::invalid_argument& e) {
        throw packet_error(std::string("a bad atom in the atom cache: ") + e.what());
      }
    }
    if (!in.ok()) throw packet_error("a truncated distribution header");
    if (!cache_[slot])
      throw packet_error("a reference to atom cache slot " + std::to_string(slot) +
                         ", which holds nothing");
    refs.push_back(*cache_[slot]);
  }
}

std::optional<packet> packet_reader::read(std::string_view bytes) {
  if (bytes.empty()) throw packet_error("empty packet");
  const auto first = static_cast<std::uint8_t>(bytes[0]);
  if (first == pass_through) return decode_terms(bytes.substr(1), true, {});
  if (first != etf::version_byte)
    throw packet_error("unknown packet type " + std::to_string(first));
  if (!header_form_)
    throw packet_error(
        "a distribution header (131), but neither DIST_HDR_ATOM_CACHE nor FRAGMENTS was "
        "negotiated");
  byte_reader in(bytes.substr(1));
  const std::uint8_t kind = in.u8();
  if (kind == normal_header) {
    read_header(in);
    return decode_terms(in.rest(), false, refs_);
  }
  if (kind != fragment_header && kind != fragment_continuation)
    throw packet_error("unknown distribution header type " + std::to_string(kind));
  const std::uint64_t sequence = in.u64();
  const std::uint64_t fragment = in.u64();
  if (!in.ok()) throw packet_error("a truncated fragment header");
  if (fragment == 0) throw packet_error("fragment number 0");
  if (kind == fragment_header) {
    if (partial_.count(sequence) != 0)
      throw packet_error("a second start of fragmented message " + std::to_string(sequence));
    read_header(in);
    const std::string_view data = in.rest();
    if (fragment == 1) return decode_terms(data, false, refs_);
    if (partial_.size() >= max_sequences_)
      throw packet_error("more than " + std::to_string(max_sequences_) +
                         " fragmented messages at once");
    if (partial_bytes_ + data.size() > max_message_size_)
      throw packet_error("fragmented messages larger than the limit");
    partial& p = partial_[sequence];
    p.refs = refs_;
    p.data.assign(data);
    p.next_fragment = fragment - 1;
    partial_bytes_ += data.size();
    return std::nullopt;
  }
  auto found = partial_.find(sequence);
  if (found == partial_.end())
    throw packet_error("a fragment of message " + std::to_string(sequence) + ", never started");
  partial& p = found->second;
  if (fragment != p.next_fragment)
    throw packet_error("fragment " + std::to_string(fragment) + " of message " +
                       std::to_string(sequence) + " out of order (expected " +
                       std::to_string(p.next_fragment) + ")");
  const std::string_view data = in.rest();
  if (partial_bytes_ + data.size() > max_message_size_)
    throw packet_error("fragmented messages larger than the limit");
  p.data.append(data);
  partial_bytes_ += data.size();
  if (--p.next_fragment > 0) return std::nullopt;
  partial done = std::move(p);
  partial_.erase(found);
  partial_bytes_ -= done.data.size();
  return decode_terms(done.data, false, done.refs);
}

namespace {

void put_length(std::byte* at, std::size_t length) {
  at[0] = std::byte(length >> 24);
  at[1] = std::byte(length >> 16);
  at[2] = std::byte(length >> 8);
  at[3] = std::byte(length);
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

// Fragmented messages are told apart by a sequence id; this node sends a message's
// fragments one after another, so any id not in use on the connection will do.
std::atomic<std::uint64_t> next_sequence{1};

// `terms` (the control message and payload after the header `header`, which starts
// with its count of cache references) as fragments of at most `size` bytes: 131 69
// Seq N header with the first, then 131 70 Seq N-1 ... 1.
void append_fragments(std::string& out, std::string_view header, std::string_view terms,
                      std::size_t size) {
  const std::uint64_t sequence = next_sequence.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t fragment = (terms.size() + size - 1) / size;
  for (bool first = true; !terms.empty(); first = false, --fragment) {
    const std::string_view part = terms.substr(0, size);
    terms.remove_prefix(part.size());
    const std::size_t head = 2 + 8 + 8 + (first ? header.size() : 0);
    const std::size_t at = out.size();
    out.append(4, '\0');
    put_length(reinterpret_cast<std::byte*>(out.data() + at), head + part.size());
    out.push_back(static_cast<char>(etf::version_byte));
    out.push_back(static_cast<char>(first ? fragment_header : fragment_continuation));
    put_u64(out, sequence);
    put_u64(out, fragment);
    if (first) out.append(header);
    out.append(part);
  }
}

// The atoms worth a cache reference in `t`: atoms, and the node names of pids,
// references and ports, in tuples down to `depth` levels and the first elements of
// lists; at most `limit` in all.
void collect_atoms(const term& t, int depth, std::vector<atom>& atoms, std::size_t limit) {
  if (atoms.size() >= limit) return;
  auto add = [&](atom a) {
    if (std::find(atoms.begin(), atoms.end(), a) == atoms.end()) atoms.push_back(a);
  };
  auto node_of = [](std::uint32_t node) {
    return node == 0 ? beamline::detail::local_node_identity_now().name : atom::from_index(node);
  };
  if (t.is_atom()) {
    add(t.as_atom());
  } else if (t.is_pid()) {
    add(node_of(t.as_pid().node));
  } else if (t.is_ref()) {
    add(node_of(t.as_ref().node));
  } else if (depth > 0 && t.is_tuple()) {
    for (const term& e : t.elements()) collect_atoms(e, depth - 1, atoms, limit);
  } else if (depth > 0 && t.is_list()) {
    int n = 0;
    for (const term& e : t.as_list()) {
      if (++n > 4) break;
      collect_atoms(e, depth - 1, atoms, limit);
    }
  }
}

// Writes into `header` the distribution header after 131 68 (or 131 69 Seq Frag) for
// `atoms`, whose entries in `cache` it defines or refers to; `atoms` keeps those it
// lists (one per slot), `fresh` says which it defines. The cache is updated by the
// caller once the packet is sure to be sent.
void atom_cache_header(std::vector<atom>& atoms, const send_atom_cache& cache,
                       std::vector<bool>& fresh, std::string& header) {
  // Per thread and reused: a send allocates nothing here once they have grown.
  thread_local std::vector<atom> listed;
  thread_local std::vector<std::size_t> slots;
  listed.clear();
  slots.clear();
  for (atom a : atoms) {
    const std::size_t slot = send_atom_cache::slot_of(a);
    if (std::find(slots.begin(), slots.end(), slot) != slots.end()) continue;  // taken here
    listed.push_back(a);
    slots.push_back(slot);
  }
  atoms.swap(listed);
  fresh.assign(atoms.size(), false);
  header.clear();
  header.push_back(static_cast<char>(atoms.size()));
  if (atoms.empty()) return;
  bool long_atoms = false;
  for (std::size_t i = 0; i < atoms.size(); ++i) {
    fresh[i] = cache.at(slots[i]) != atoms[i].index() + 1;
    long_atoms = long_atoms || (fresh[i] && atoms[i].name().size() > 255);
  }
  // A half byte per reference (new entry bit, segment), then one for the flags.
  const std::size_t flags_at = header.size();
  header.append(atoms.size() / 2 + 1, '\0');
  auto set_nibble = [&](std::size_t i, unsigned value) {
    char& byte = header[flags_at + i / 2];
    byte = static_cast<char>(static_cast<unsigned char>(byte) | (i % 2 == 0 ? value : value << 4));
  };
  for (std::size_t i = 0; i < atoms.size(); ++i)
    set_nibble(i, (fresh[i] ? 8u : 0u) | static_cast<unsigned>(slots[i] >> 8));
  set_nibble(atoms.size(), long_atoms ? 1u : 0u);
  for (std::size_t i = 0; i < atoms.size(); ++i) {
    header.push_back(static_cast<char>(slots[i] & 0xff));
    if (!fresh[i]) continue;
    const std::string_view text = atoms[i].name();
    if (long_atoms) header.push_back(static_cast<char>(text.size() >> 8));
    header.push_back(static_cast<char>(text.size() & 0xff));
    header.append(text);
  }
}

}  // namespace

void append_packet(std::string& out, packet_format format, const term& control,
                   const term* payload) {
  // One scratch buffer per thread: encoding allocates nothing once it has grown.
  thread_local etf::buffer scratch;
  scratch.clear();
  etf::encode_options options;
  options.minor_version = 2;  // UTF-8 atoms, as the distribution writes them
  options.version_byte = !format.header;
  if (!format.header) {
    scratch.extend(5);  // the length and 112, written below
    etf::encode(control, scratch, options);
    if (payload != nullptr) etf::encode(*payload, scratch, options);
    const std::size_t length = scratch.size() - 4;
    if (length > 0xffffffffu) throw std::length_error("a distribution packet over 4 GiB");
    auto* header = const_cast<std::byte*>(scratch.data());
    put_length(header, length);
    header[4] = std::byte(pass_through);
    out.append(scratch.view());
  } else {
    thread_local std::vector<atom> atoms;
    thread_local std::vector<bool> fresh;
    thread_local std::string header;
    atoms.clear();
    header.assign(1, '\0');  // no cache references
    if (format.cache != nullptr) {
      collect_atoms(control, 2, atoms, max_cached_atoms);
      if (payload != nullptr) collect_atoms(*payload, 2, atoms, max_cached_atoms);
      atom_cache_header(atoms, *format.cache, fresh, header);
      options.atom_cache_refs = atoms;
    }
    etf::encode(control, scratch, options);
    if (payload != nullptr) etf::encode(*payload, scratch, options);
    const std::string_view terms = scratch.view();
    if (format.fragment_size > 0 && terms.size() > format.fragment_size) {
      append_fragments(out, header, terms, format.fragment_size);
    } else {
      const std::size_t length = 2 + header.size() + terms.size();
      if (length > 0xffffffffu) throw std::length_error("a distribution packet over 4 GiB");
      const std::size_t at = out.size();
      out.append(4, '\0');
      put_length(reinterpret_cast<std::byte*>(out.data() + at), length);
      out.push_back(static_cast<char>(etf::version_byte));
      out.push_back(static_cast<char>(normal_header));
      out.append(header);
      out.append(terms);
    }
    // The packet is written: the peer will know these entries from now on.
    for (std::size_t i = 0; i < atoms.size(); ++i)
      if (fresh[i]) format.cache->set(send_atom_cache::slot_of(atoms[i]), atoms[i]);
  }
  // A huge message should not pin its memory in every thread that ever sent one.
  if (scratch.capacity() > (std::size_t{1} << 20)) scratch = etf::buffer();
}

std::string to_header_form(std::string_view pass_through_packets, packet_format format) {
  std::string out;
  byte_reader in(pass_through_packets);
  while (in.remaining() > 0) {
    const std::uint32_t length = in.u32();
    const std::string_view body = in.bytes(length);
    if (!in.ok()) throw packet_error("a truncated queued packet");
    if (body.empty()) {  // a tick
      out.append(4, '\0');
      continue;
    }
    packet p = decode_terms(body.substr(1), true, {});
    append_packet(out, format, p.control, p.payload ? &*p.payload : nullptr);
  }
  return out;
}

}  // namespace beamline::dist::detail
