// etf_erlang_test: the codec against a real Erlang (OTP 25, Debian's erlang-base),
// both ways, thousands of random terms per run. The seed is printed; set
// BEAMLINE_SEED to repeat a run. Skipped when `escript` is not installed.
//
// beamline -> Erlang: our generator's terms (every kind: remote pids, ports and refs,
// closures, big maps), encoded by us with a random minor version and compression.
// tests/term/etf_peer.escript decodes each with binary_to_term and reports whether
// term_to_binary with the same options gives back our bytes exactly, whether the term
// equals (=:=) the one it parses from our Erlang text (when the term has a text form),
// and how it prints; then how it sorts them all and which neighbours are =:= and ==,
// which checks our term order on what Erlang's text cannot carry (pids, ports,
// references, closures, remote ones included).
//
// Erlang -> beamline: the escript's own random terms (made by Erlang code: self(),
// make_ref(), ports, closures capturing terms, hash-trie maps, bignums...), with
// term_to_binary. We decode each, must print it as Erlang does and must encode it to
// Erlang's bytes.
//
// Identities: the escript runs as a non-distributed node, 'nonode@nohost' with
// creation 0, which is also beamline's default identity. An OTP node accepts only pids,
// ports and references it could have made itself under its own name (a reference of 2
// or 3 words, a pid number under 2^28...), so the beamline -> Erlang direction names
// our node 'beamline@test' instead: our identities are foreign to Erlang, and it must
// carry them unchanged. The other direction keeps the default, so that Erlang's own
// pids, ports and references decode as local ones.
//
// The one expected difference: a map of more than 32 entries, which OTP writes in its
// hash trie's order and we in key order. There we must equal
// term_to_binary(T, [deterministic]), which sorts the same way, and Erlang prints such
// maps in its own order, so their text is not compared. Remote identities print with
// a node number that only the printing node knows, so neither are theirs.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "beamline/etf.hpp"
#include "beamline/fun.hpp"
#include "beamline/term.hpp"
#include "term_generator.hpp"

namespace bl = beamline;
namespace etf = beamline::etf;

namespace {

using bl::term;

const std::string peer_script = BEAMLINE_ETF_PEER;

bool escript_available() {
  return std::system("command -v escript >/dev/null 2>&1") == 0;
}

std::uint64_t test_seed() {
  if (const char* s = std::getenv("BEAMLINE_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}() % 1'000'000'000;
}

int term_count() {
  return static_cast<int>(4000 * BEAMLINE_STRESS_SCALE) + 200;
}

// What a term holds that changes what can be compared.
struct features {
  bool identity = false;   // a pid, port or reference (or a closure, which holds a pid)
  bool remote = false;     // a remote one: prints with a node number only its printer knows
  bool big_map = false;    // a map of more than 32 entries: OTP's own order
  bool no_text = false;    // pids, ports, refs, closures: Erlang cannot read them
  bool short_ref = false;  // a reference of 1 or 2 words
};

void find_features(const term& t, features& f) {
  switch (t.kind()) {
    case term::kind::pid:
      f.no_text = f.identity = true;
      f.remote = f.remote || !t.as_pid().is_local();
      break;
    case term::kind::port:
      f.no_text = f.identity = true;
      f.remote = f.remote || !t.as_port().is_local();
      break;
    case term::kind::ref:
      f.no_text = f.identity = true;
      f.remote = f.remote || t.as_ref().node != 0;
      f.short_ref = f.short_ref || t.as_ref().length < 3;
      break;
    case term::kind::fun:
      if (!t.is_external_fun()) {
        f.no_text = f.identity = true;
        const bl::local_fun lf = t.as_local_fun();
        f.remote = f.remote || !lf.creator.is_local();
        for (const term& v : lf.free_variables) find_features(v, f);
      }
      break;
    case term::kind::tuple:
      for (const term& e : t.elements()) find_features(e, f);
      break;
    case term::kind::list: {
      const term::list_view view = t.as_list();
      for (const term& e : view) find_features(e, f);
      find_features(view.tail(), f);
      break;
    }
    case term::kind::map:
      if (t.size() > 32) f.big_map = true;
      for (auto [key, value] : t.as_map()) {
        find_features(key, f);
        find_features(value, f);
      }
      break;
    default:
      break;
  }
}

features features_of(const term& t) {
  features f;
  find_features(t, f);
  return f;
}

void put32(std::string& out, std::size_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

std::uint32_t get32(const std::string& in, std::size_t& at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(in.at(at++));
  return v;
}

std::string get_bytes(const std::string& in, std::size_t& at) {
  const std::uint32_t size = get32(in, at);
  std::string bytes = in.substr(at, size);
  if (bytes.size() != size) throw std::runtime_error("truncated record from the escript");
  at += size;
  return bytes;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string hex(std::string_view data) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : data.substr(0, 400)) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Where two encodings part, with some bytes of each from there.
std::string difference(std::string_view ours, std::string_view theirs) {
  std::size_t at = 0;
  while (at < ours.size() && at < theirs.size() && ours[at] == theirs[at]) ++at;
  const std::size_t from = at > 16 ? at - 16 : 0;
  return "sizes " + std::to_string(ours.size()) + " and " + std::to_string(theirs.size()) +
         ", first difference at byte " + std::to_string(at) + " (from byte " +
         std::to_string(from) + ")\nours:   " + hex(ours.substr(from, 64)) +
         "\ntheirs: " + hex(theirs.substr(from, 64));
}

class etf_erlang : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!escript_available()) GTEST_SKIP() << "escript (erlang-base) is not installed";
    dir_ = std::filesystem::temp_directory_path() /
           ("beamline_etf_erlang_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
  }
  // Runs the escript; its output goes to log.txt.
  void run_peer(const std::string& arguments) {
    const std::string command =
        "escript " + peer_script + " " + arguments + " > " + (dir_ / "log.txt").string() + " 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0)
        << "the escript failed: " << read_file(dir_ / "log.txt");
  }
  std::filesystem::path dir_;
};

TEST_F(etf_erlang, erlang_decodes_what_we_encode_byte_for_byte) {
  const std::uint64_t seed = test_seed();
  std::printf("etf_erlang beamline -> erlang seed: %llu (set BEAMLINE_SEED to repeat)\n",
              static_cast<unsigned long long>(seed));
  beamline_test::generator_options options;
  options.remote = true;
  options.closures = true;
  options.null_refs = false;
  options.negative_zero = false;       // OTP 25 has 0.0 =:= -0.0 (OTP 27 does not, nor we)
  options.new_reserved = false;        // Erlang 25 prints maybe and else unquoted
  options.reserved_functions = false;  // and fun m:'end'/0 without the quotes
  beamline_test::term_generator generate(seed, options);
  std::mt19937_64 random(seed);
  bl::set_local_node_identity(bl::atom("beamline@test"), 7);
  struct restore_identity {
    ~restore_identity() { bl::set_local_node_identity(bl::atoms::nonode_at_nohost, 0); }
  } restore;

  const int count = term_count();
  std::vector<term> terms;
  std::string input;
  for (int i = 0; i < count; ++i) {
    term t = i % 3 == 1 ? generate.variant_of(terms.back()) : generate.any(5);
    if (i % 40 == 7) {  // a map big enough to be a hash trie in Erlang
      std::vector<std::pair<term, term>> entries;
      // Keys without references of fewer than 3 words: OTP 25 hashes those differently
      // on each decode (as if they had 3), so two decodes of one hash-trie map differ.
      // Erlang nodes make 3-word references.
      while (entries.size() < static_cast<std::size_t>(33 + i % 20)) {
        term key = generate.any(1);
        if (!features_of(key).short_ref) entries.emplace_back(std::move(key), generate.any(2));
      }
      t = term::map(entries);
    }
    etf::encode_options encode;
    encode.minor_version = 1 + static_cast<int>(random() % 2);
    encode.compression = random() % 6 == 0 ? 6 : 0;
    etf::buffer bytes;
    etf::encode(t, bytes, encode);
    const std::string text = features_of(t).no_text ? std::string() : t.to_string();
    input.push_back(static_cast<char>(encode.minor_version));
    input.push_back(static_cast<char>(encode.compression));
    put32(input, bytes.size());
    input += bytes.view();
    put32(input, text.size());
    input += text;
    terms.push_back(std::move(t));
  }
  {
    std::ofstream out(dir_ / "ours.bin", std::ios::binary);
    out << input;
  }
  run_peer("check " + (dir_ / "ours.bin").string() + " " + (dir_ / "checked.bin").string());
  const std::string results = read_file(dir_ / "checked.bin");
  std::size_t at = 0;
  int failures = 0;
  int default_same = 0;
  int big_maps = 0;
  for (std::size_t i = 0; i < terms.size() && failures < 10; ++i) {
    const int default_flag = static_cast<unsigned char>(results.at(at++));
    const int deterministic_flag = static_cast<unsigned char>(results.at(at++));
    const int text_flag = static_cast<unsigned char>(results.at(at++));
    const std::string printed = get_bytes(results, at);
    const term& t = terms[i];
    const features f = features_of(t);
    const std::string where = "seed " + std::to_string(seed) + ", term " + std::to_string(i) +
                              ": " + t.to_string().substr(0, 300);
    if (default_flag == 255) {
      ADD_FAILURE() << where << "\nErlang could not decode it: " << printed;
      ++failures;
      continue;
    }
    default_same += default_flag;
    if (f.big_map) ++big_maps;
    bool ok = deterministic_flag == 1 && (f.big_map || default_flag == 1);
    EXPECT_EQ(deterministic_flag, 1) << where
                                     << "\nnot what term_to_binary(T, [deterministic]) "
                                        "writes";
    if (!f.big_map) {
      EXPECT_EQ(default_flag, 1) << where << "\nnot what term_to_binary writes";
    }
    if (text_flag != 2) {
      EXPECT_EQ(text_flag, 1) << where << "\nErlang decoded another term than our text says";
      ok = ok && text_flag == 1;
    }
    if (!f.identity && !f.big_map) {  // every identity of ours is remote to Erlang
      EXPECT_EQ(printed, t.to_string()) << where << "\nprinted differently";
      ok = ok && printed == t.to_string();
    }
    if (!ok) ++failures;
  }
  if (failures > 0) return;

  // Erlang's order of all the terms, and =:= and == between neighbours.
  const std::string order_text = get_bytes(results, at);
  EXPECT_EQ(at, results.size());
  std::vector<std::size_t> order(terms.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return bl::compare(terms[a], terms[b]) < 0;
  });
  std::string ours;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i > 0) ours += ',';
    ours += std::to_string(order[i]);
  }
  std::string exact;
  std::string arithmetic;
  for (std::size_t i = 0; i + 1 < terms.size(); ++i) {
    exact += terms[i] == terms[i + 1] ? '1' : '0';
    arithmetic += bl::equal_numeric(terms[i], terms[i + 1]) ? '1' : '0';
  }
  std::vector<std::string> lines;
  std::size_t from = 0;
  for (std::size_t end; (end = order_text.find('\n', from)) != std::string::npos; from = end + 1)
    lines.push_back(order_text.substr(from, end - from));
  ASSERT_EQ(lines.size(), 3u);
  if (lines[0] != ours) {
    // Name the first pair we order differently.
    std::size_t i = 0;
    std::size_t theirs_start = 0;
    for (std::size_t ours_start = 0;; ++i) {
      const std::size_t ours_end = ours.find(',', ours_start);
      const std::size_t theirs_end = lines[0].find(',', theirs_start);
      if (ours.substr(ours_start, ours_end - ours_start) !=
          lines[0].substr(theirs_start, theirs_end - theirs_start)) {
        const std::size_t our_index = std::stoul(ours.substr(ours_start));
        const std::size_t their_index = std::stoul(lines[0].substr(theirs_start));
        ADD_FAILURE() << "seed " << seed << ": at sorted position " << i << " we put term "
                      << our_index << ": " << terms[our_index] << "\nErlang puts term "
                      << their_index << ": " << terms[their_index];
        break;
      }
      if (ours_end == std::string::npos || theirs_end == std::string::npos) break;
      ours_start = ours_end + 1;
      theirs_start = theirs_end + 1;
    }
  }
  for (std::size_t i = 0; i < exact.size(); ++i) {
    EXPECT_EQ(lines[1][i], exact[i]) << "seed " << seed << ": =:= of terms " << i << " and "
                                     << i + 1 << ": " << terms[i] << " and " << terms[i + 1];
    EXPECT_EQ(lines[2][i], arithmetic[i]) << "seed " << seed << ": == of terms " << i << " and "
                                          << i + 1 << ": " << terms[i] << " and " << terms[i + 1];
  }
  std::printf(
      "%zu terms: %d byte-identical to term_to_binary, %d with maps over 32 entries "
      "(identical to [deterministic]); sorted and compared as Erlang does\n",
      terms.size(), default_same, big_maps);
}

TEST_F(etf_erlang, we_decode_what_erlang_encodes_byte_for_byte) {
  const std::uint64_t seed = test_seed();
  std::printf("etf_erlang erlang -> beamline seed: %llu (set BEAMLINE_SEED to repeat)\n",
              static_cast<unsigned long long>(seed));
  const int count = term_count();
  run_peer("generate " + std::to_string(seed) + " " + std::to_string(count) + " " +
           (dir_ / "theirs.bin").string());
  const std::string records = read_file(dir_ / "theirs.bin");
  std::size_t at = 0;
  int decoded = 0;
  int failures = 0;
  int big_maps = 0;
  std::size_t bytes = 0;
  while (at < records.size() && failures < 10) {
    etf::encode_options encode;
    encode.minor_version = static_cast<unsigned char>(records.at(at++));
    encode.compression = static_cast<unsigned char>(records.at(at++));
    const std::string default_bytes = get_bytes(records, at);
    const std::string deterministic_bytes = get_bytes(records, at);
    const std::string printed = get_bytes(records, at);
    bytes += default_bytes.size();
    const std::string where = "seed " + std::to_string(seed) + ", term " + std::to_string(decoded) +
                              ": " + printed.substr(0, 300);
    term t;
    try {
      t = etf::binary_to_term(term::binary(default_bytes));  // sharing binaries
    } catch (const etf::decode_error& e) {
      ADD_FAILURE() << where << "\n" << e.what() << "\nbytes: " << hex(default_bytes);
      ++failures;
      continue;
    }
    ++decoded;
    const features f = features_of(t);
    if (f.big_map) ++big_maps;
    etf::buffer ours;
    etf::encode(t, ours, encode);
    bool ok = ours.view() == deterministic_bytes;
    EXPECT_TRUE(ours.view() == deterministic_bytes) << where << "\n"
                                                    << difference(ours.view(), deterministic_bytes);
    if (!f.big_map) {
      EXPECT_TRUE(ours.view() == default_bytes) << where << "\n"
                                                << difference(ours.view(), default_bytes);
      ok = ok && ours.view() == default_bytes;
    }
    EXPECT_EQ(etf::binary_to_term(deterministic_bytes), t) << where;
    if (!f.remote && !f.big_map) {
      EXPECT_EQ(t.to_string(), printed) << where;
      ok = ok && t.to_string() == printed;
    }
    if (!ok) ++failures;
  }
  EXPECT_EQ(decoded, count);
  std::printf("%d terms from Erlang (%zu bytes), %d with maps over 32 entries\n", decoded, bytes,
              big_maps);
}

}  // namespace
