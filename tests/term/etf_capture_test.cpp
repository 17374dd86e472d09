// etf_capture_test: every term in recorded OTP 25 distribution traffic decodes, and
// encodes back to the same bytes.
//
// The captures (tests/term/captures/, copied from shared/reference/captures/) hold
// two real OTP 25.2.3 nodes on loopback: epmd, the handshake, net_adm:ping, a remote
// spawn, links and unlinks, exits, monitors, a gen_server call answered through an
// alias, ticks, and a 200 KB message in fragments. OTP talks to OTP with distribution
// headers and an atom cache, so the terms come without version bytes and name atoms by
// ATOM_CACHE_REF; the codec is given the header's atoms both ways (dist_capture.hpp
// reads the layers around the terms).
//
// With BEAMLINE_WRITE_CORPUS=dir set, the test also writes every distinct term as a
// standalone external term into dir: the seed corpus of the fuzzer (fuzz/README.md).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "beamline/etf.hpp"
#include "beamline/term.hpp"
#include "dist_capture.hpp"

namespace bl = beamline;
namespace etf = beamline::etf;
namespace capture = beamline_test::dist_capture;

namespace {

using bl::term;

const std::string captures_dir = BEAMLINE_CAPTURES_DIR;

struct decoded_message {
  std::vector<term> terms;  // control message, then the payload if there is one
};

decoded_message decode(const capture::message& m) {
  etf::decode_options options;
  options.version_byte = m.version_bytes;
  options.atom_cache_refs = m.atom_refs;
  // Through a binary term, so that large binaries are shared, as the distribution will.
  const term frame = term::binary(m.terms);
  etf::decoder d(frame, options);
  decoded_message result;
  while (!d.at_end()) result.terms.push_back(d.next());
  return result;
}

std::string reencode(const capture::message& m, const decoded_message& d) {
  etf::encode_options options;
  options.minor_version = 2;  // the distribution writes UTF-8 atoms
  options.version_byte = m.version_bytes;
  options.atom_cache_refs = m.atom_refs;
  etf::buffer out;
  for (const term& t : d.terms) etf::encode(t, out, options);
  return std::string(out.view());
}

void write_corpus(const std::string& dir, const std::vector<term>& terms) {
  std::filesystem::create_directories(dir);
  std::set<std::string> seen;
  for (const term& t : terms) {
    etf::encode_options options;
    options.minor_version = 2;
    const term bytes = etf::term_to_binary(t, options);
    const std::string data(bytes.as_binary());
    if (!seen.insert(data).second || data.size() > 16384) continue;  // the corpus stays small
    char name[32];
    std::snprintf(name, sizeof name, "capture_%016zx", std::hash<std::string>{}(data));
    std::ofstream(dir + "/" + name, std::ios::binary) << data;
  }
}

TEST(etf_capture, every_term_decodes_and_reencodes_to_the_same_bytes) {
  std::vector<term> all_terms;
  std::set<std::int64_t> opcodes;
  std::size_t messages = 0;
  std::size_t with_atom_cache = 0;
  std::size_t fragmented = 0;
  std::size_t largest_binary = 0;
  for (const char* file : {"otp25_a_ping_b.pcap", "otp25_control_msgs.pcap"}) {
    const capture::capture c = capture::read(captures_dir + "/" + file);
    EXPECT_GT(c.handshake_packets, 0u) << file;
    for (const capture::message& m : c.messages) {
      ++messages;
      if (!m.atom_refs.empty()) ++with_atom_cache;
      if (m.fragmented) ++fragmented;
      if (!m.header.empty() && !m.fragmented) {
        EXPECT_EQ(capture::write_header(m), m.header) << m.where;
      }
      decoded_message d;
      try {
        d = decode(m);
      } catch (const etf::decode_error& e) {
        ADD_FAILURE() << m.where << ": " << e.what();
        continue;
      }
      ASSERT_GE(d.terms.size(), 1u) << m.where;
      ASSERT_LE(d.terms.size(), 2u) << m.where;
      const term& control = d.terms[0];
      ASSERT_TRUE(control.is_tuple() && control.size() > 0 && control[0].is_integer())
          << m.where << ": " << control;
      opcodes.insert(control[0].as_int());
      EXPECT_TRUE(reencode(m, d) == m.terms)
          << m.where << ": " << control << (d.terms.size() > 1 ? " + payload" : "");
      for (const term& t : d.terms) {
        all_terms.push_back(t);
        if (t.is_tuple()) {
          for (const term& e : t.elements())
            if (e.is_binary()) largest_binary = std::max(largest_binary, e.byte_size());
        }
      }
    }
  }
  // What the captures are known to hold (captures/README.md).
  EXPECT_GE(messages, 30u);
  EXPECT_GT(with_atom_cache, 0u);
  std::printf("%zu messages (%zu with atom cache references, %zu in fragments), %zu terms\n",
              messages, with_atom_cache, fragmented, all_terms.size());
  EXPECT_EQ(fragmented, 2u);  // the 200 KB message, sent and echoed back
  EXPECT_GE(largest_binary, 200'000u);  // the fragmented message's payload
  for (std::int64_t op : {1, 6, 19, 20, 22, 24, 26, 28, 29, 31, 33, 35, 36})
    EXPECT_TRUE(opcodes.count(op)) << "no control message " << op << " in the captures";

  // The same terms as standalone external terms round-trip as well.
  for (const term& t : all_terms) {
    for (int minor : {1, 2}) {
      etf::encode_options options;
      options.minor_version = minor;
      const term bytes = etf::term_to_binary(t, options);
      EXPECT_EQ(etf::binary_to_term(bytes), t);
    }
  }
  if (const char* dir = std::getenv("BEAMLINE_WRITE_CORPUS")) write_corpus(dir, all_terms);
}

TEST(etf_capture, without_the_atom_cache_the_terms_are_an_error) {
  const capture::capture c = capture::read(captures_dir + "/otp25_a_ping_b.pcap");
  std::size_t refused = 0;
  for (const capture::message& m : c.messages) {
    if (m.atom_refs.empty()) continue;
    etf::decode_options options;
    options.version_byte = false;
    try {
      etf::decoder d(m.terms, options);
      while (!d.at_end()) d.next();
    } catch (const etf::decode_error& e) {
      EXPECT_NE(e.problem().find("ATOM_CACHE_REF"), std::string::npos) << e.what();
      ++refused;
    }
  }
  EXPECT_GT(refused, 0u);
}

}  // namespace
