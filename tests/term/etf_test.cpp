// etf_test: the external term format codec (etf.hpp) on its own.
//
// - Exact bytes: terms whose encoding was taken from OTP 25's term_to_binary/1,2
//   (the comment of each says how), encoded byte for byte and decoded back.
// - Every tag, the deprecated ones included, decodes to the term OTP makes of it
//   (checked against erl when these vectors were written).
// - Bad input: truncation at every byte, lengths past the input, invalid atoms,
//   unknown tags, depth, zip bombs: each a decode_error with the offset and reason.
// - Round trips of random terms (seeded; the seed is printed) under every option.
// - Zero copy, buffer reuse, this node's identity, deep terms without recursion.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "beamline/etf.hpp"
#include "beamline/term.hpp"
#include "term_generator.hpp"

namespace bl = beamline;
namespace etf = beamline::etf;

namespace {

using bl::term;

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::string encoded(const term& t, const etf::encode_options& options = {}) {
  etf::buffer out;
  etf::encode(t, out, options);
  return std::string(out.view());
}

std::string hex(std::string_view data) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : data) {
    out += digits[c >> 4];
    out += digits[c & 15];
    out += ' ';
  }
  return out;
}

term parse(std::string_view text) {
  return term::parse(text);
}

// The error message of decoding `input`, or "" if it decodes.
std::string decode_problem(std::string_view input, const etf::decode_options& options = {}) {
  try {
    (void)etf::binary_to_term(input, options);
  } catch (const etf::decode_error& e) {
    return "@" + std::to_string(e.offset()) + " " + e.problem();
  }
  return "";
}

std::uint64_t test_seed() {
  if (const char* s = std::getenv("BEAMLINE_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// --- Exact bytes -------------------------------------------------------------------------

struct vector_case {
  const char* text;   // the term in Erlang syntax
  std::string bytes;  // what OTP 25's term_to_binary/1 writes
};

TEST(etf, encodes_like_otp_25_term_to_binary) {
  const vector_case cases[] = {
      {"a", bytes({131, 100, 0, 1, 97})},
      {"'λ'", bytes({131, 119, 2, 206, 187})},
      {"'é'", bytes({131, 100, 0, 1, 233})},
      {"''", bytes({131, 100, 0, 0})},
      {"[a|b]", bytes({131, 108, 0, 0, 0, 1, 100, 0, 1, 97, 100, 0, 1, 98})},
      {"[1,2|3]", bytes({131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3})},
      {"[1,2,256]", bytes({131, 108, 0, 0, 0, 3, 97, 1, 97, 2, 98, 0, 0, 1, 0, 106})},
      {"[1,2]", bytes({131, 107, 0, 2, 1, 2})},
      {"[]", bytes({131, 106})},
      {"#{b=>1, a=>2, 1=>x, 1.0=>y}",
       bytes({131, 116, 0,   0, 0, 4,   97,  1, 100, 0,  1,  120, 70,  63, 240, 0,  0,  0, 0,
              0,   0,   100, 0, 1, 121, 100, 0, 1,   97, 97, 2,   100, 0,  1,   98, 97, 1})},
      {"#{2 => a, 1.5 => b, c => 1, <<\"x\">> => 2, [1] => 3, {1} => 4, 1 => 5, 2.0 => 6}",
       bytes({131, 116, 0, 0, 0,  8,  97,  1,   97,  5,  97, 2,  100, 0,  1,  97, 70,
              63,  248, 0, 0, 0,  0,  0,   0,   100, 0,  1,  98, 70,  64, 0,  0,  0,
              0,   0,   0, 0, 97, 6,  100, 0,   1,   99, 97, 1,  104, 1,  97, 1,  97,
              4,   107, 0, 1, 1,  97, 3,   109, 0,   0,  0,  1,  120, 97, 2})},
      {"fun lists:map/2",
       bytes({131, 113, 100, 0, 5, 108, 105, 115, 116, 115, 100, 0, 3, 109, 97, 112, 97, 2})},
      {"-0.0", bytes({131, 70, 128, 0, 0, 0, 0, 0, 0, 0})},
      {"<<1,2,3:4>>", bytes({131, 77, 0, 0, 0, 3, 4, 1, 2, 48})},
      {"<<>>", bytes({131, 109, 0, 0, 0, 0})},
      {"18446744073709551616", bytes({131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})},
      {"-2147483648", bytes({131, 98, 128, 0, 0, 0})},
      {"{2147483648, -2147483649, 255, 256, -1}",
       bytes({131, 104, 5,  110, 4,  0, 0, 0, 0, 128, 110, 4,   1,   1,  0,
              0,   128, 97, 255, 98, 0, 0, 1, 0, 98,  255, 255, 255, 255})},
      {"{}", bytes({131, 104, 0})},
      {"#{}", bytes({131, 116, 0, 0, 0, 0})},
  };
  for (const vector_case& c : cases) {
    const term t = parse(c.text);
    EXPECT_EQ(hex(encoded(t)), hex(c.bytes)) << c.text;
    EXPECT_EQ(etf::binary_to_term(c.bytes), t) << c.text;
  }
}

TEST(etf, minor_version_2_writes_utf8_atoms) {
  etf::encode_options options;
  options.minor_version = 2;
  EXPECT_EQ(hex(encoded(bl::atom("a"), options)), hex(bytes({131, 119, 1, 97})));
  std::string long_name;
  for (int i = 0; i < 255; ++i) long_name += "é";
  const std::string utf8 = encoded(bl::atom(long_name), options);
  EXPECT_EQ(hex(utf8.substr(0, 4)), hex(bytes({131, 118, 1, 254})));
  const std::string latin1 = encoded(bl::atom(long_name));
  EXPECT_EQ(hex(latin1.substr(0, 5)), hex(bytes({131, 100, 0, 255, 233})));
  EXPECT_EQ(latin1.size(), 4u + 255u);
  EXPECT_EQ(etf::binary_to_term(utf8), term(bl::atom(long_name)));
  EXPECT_EQ(etf::binary_to_term(latin1), term(bl::atom(long_name)));
}

TEST(etf, big_integers_choose_small_or_large_big) {
  // 1 bsl 2040 takes 256 bytes: LARGE_BIG_EXT; 1 bsl 2039 fits SMALL_BIG_EXT.
  const term large = term::integer_from_string("1" + std::string(2040, '0'), 2);
  const std::string l = encoded(large);
  EXPECT_EQ(hex(l.substr(0, 7)), hex(bytes({131, 111, 0, 0, 1, 0, 0})));
  EXPECT_EQ(etf::binary_to_term(l), large);
  const term small = term::integer_from_string("-1" + std::string(2039, '0'), 2);
  const std::string s = encoded(small);
  EXPECT_EQ(hex(s.substr(0, 4)), hex(bytes({131, 110, 255, 1})));
  EXPECT_EQ(etf::binary_to_term(s), small);
  // The int64 edges.
  for (const char* text : {"9223372036854775807", "-9223372036854775808", "9223372036854775808",
                           "-9223372036854775809", "4294967296", "-4294967296"}) {
    const term t = parse(text);
    EXPECT_EQ(etf::binary_to_term(encoded(t)), t) << text;
  }
  EXPECT_EQ(hex(encoded(parse("9223372036854775807"))),
            hex(bytes({131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 127})));
  EXPECT_EQ(hex(encoded(parse("-9223372036854775808"))),
            hex(bytes({131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128})));
}

TEST(etf, identities_use_the_local_node_name) {
  // term_to_binary(self()) on a non-distributed node: nonode@nohost, creation 0.
  const std::string pid_bytes =
      bytes({131, 88,  100, 0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104,
             111, 115, 116, 0, 0,  0,   9,   0,   0,   0,   0,   0,  0,   0,   0});
  const term p = bl::pid{9, 0, 0, 0};
  EXPECT_EQ(hex(encoded(p)), hex(pid_bytes));
  EXPECT_EQ(etf::binary_to_term(pid_bytes), p);
  EXPECT_TRUE(etf::binary_to_term(pid_bytes).as_pid().is_local());

  const std::string ref_bytes =
      bytes({131, 90,  0, 3, 100, 0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111,
             115, 116, 0, 0, 0,   0, 0,  0,   118, 224, 250, 184, 0,   1,  9,   179, 65,  19});
  const term r = etf::binary_to_term(ref_bytes);
  EXPECT_TRUE(r.as_ref().node == 0);
  EXPECT_EQ(r.as_ref().length, 3u);
  EXPECT_EQ(hex(encoded(r)), hex(ref_bytes));

  const std::string port_bytes =
      bytes({131, 89,  100, 0,   13,  110, 111, 110, 111, 100, 101, 64, 110,
             111, 104, 111, 115, 116, 0,   0,   0,   0,   0,   0,   0,  0});
  EXPECT_EQ(etf::binary_to_term(port_bytes), term(bl::port{0, 0, 0}));
  EXPECT_EQ(hex(encoded(bl::port{0, 0, 0})), hex(port_bytes));

  // Another node's pid stays remote, and so does this node's name with another creation.
  const std::string remote = bytes({131, 88, 100, 0, 1, 97, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3});
  const bl::pid q = etf::binary_to_term(remote).as_pid();
  EXPECT_EQ(q.node, bl::atom("a").index());
  EXPECT_EQ(q.id, 1u);
  EXPECT_EQ(q.serial, 2u);
  EXPECT_EQ(q.creation, 3u);
  EXPECT_EQ(hex(encoded(q)), hex(remote));
  std::string old_incarnation = pid_bytes;
  old_incarnation.back() = 1;
  EXPECT_FALSE(etf::binary_to_term(old_incarnation).as_pid().is_local());

  // With a node identity set, that name and creation are local and the rest remote.
  bl::set_local_node_identity(bl::atom("me@host"), 77);
  const std::string mine = encoded(bl::pid{5, 6, 0, 0});
  EXPECT_EQ(hex(mine), hex(bytes({131, 88, 100, 0, 7, 'm', 'e', '@', 'h', 'o', 's', 't',
                                  0,   0,  0,   5, 0, 0,   0,   6,   0,   0,   0,   77})));
  EXPECT_EQ(etf::binary_to_term(mine), term(bl::pid{5, 6, 0, 0}));
  EXPECT_FALSE(etf::binary_to_term(pid_bytes).as_pid().is_local());
  bl::set_local_node_identity(bl::atoms::nonode_at_nohost, 0);
}

TEST(etf, ports_past_28_bits_use_v4_port_ext) {
  const bl::port small{0x0fffffff, bl::atom("a").index(), 3};
  EXPECT_EQ(hex(encoded(small)),
            hex(bytes({131, 89, 100, 0, 1, 97, 15, 255, 255, 255, 0, 0, 0, 3})));
  const bl::port large{0x10000000, bl::atom("a").index(), 3};
  EXPECT_EQ(hex(encoded(large)),
            hex(bytes({131, 120, 100, 0, 1, 97, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 3})));
  EXPECT_EQ(etf::binary_to_term(encoded(large)), term(large));
}

TEST(etf, closures_reencode_unchanged) {
  // term_to_binary(fun(Y) -> {X, Y} end) with X = <0.9.0>, in a compiled module t6.
  const std::string closure =
      bytes({131, 112, 0,   0,   0,   99,  1,   123, 88,  119, 209, 43,  76,  236, 249, 204, 210,
             59,  196, 113, 70,  164, 113, 0,   0,   0,   0,   0,   0,   0,   1,   100, 0,   2,
             116, 54,  97,  0,   98,  3,   218, 195, 190, 88,  100, 0,   13,  110, 111, 110, 111,
             100, 101, 64,  110, 111, 104, 111, 115, 116, 0,   0,   0,   9,   0,   0,   0,   0,
             0,   0,   0,   0,   88,  100, 0,   13,  110, 111, 110, 111, 100, 101, 64,  110, 111,
             104, 111, 115, 116, 0,   0,   0,   9,   0,   0,   0,   0,   0,   0,   0,   0});
  const term f = etf::binary_to_term(closure);
  ASSERT_TRUE(f.is_fun());
  const bl::local_fun lf = f.as_local_fun();
  EXPECT_EQ(lf.module.name(), "t6");
  EXPECT_EQ(lf.arity, 1);
  EXPECT_EQ(lf.index, 0u);
  EXPECT_EQ(lf.old_index, 0u);
  EXPECT_EQ(lf.old_uniq, 64668606u);
  EXPECT_EQ(lf.uniq[0], 123);
  ASSERT_EQ(lf.free_variables.size(), 1u);
  EXPECT_EQ(lf.free_variables[0], term(bl::pid{9, 0, 0, 0}));
  EXPECT_EQ(f.to_string(), "#Fun<t6.0.64668606>");
  EXPECT_EQ(hex(encoded(f)), hex(closure));
  // A Size field that does not match the fun is an error.
  std::string bad = closure;
  bad[5] = 100;
  EXPECT_EQ(decode_problem(bad),
            "@1 unexpected end of input in NEW_FUN_EXT: needs 96 more bytes, 95 left");
  bad[5] = 98;
  EXPECT_NE(decode_problem(bad).find("Size field says 98"), std::string::npos);
}

TEST(etf, compressed_form_matches_otp) {
  const term as = parse("[a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a]");
  // term_to_binary(lists:duplicate(20, a), [compressed]).
  const std::string level6 = bytes({131, 80, 0,  0,  0,   86, 120, 156, 203, 97,  96,  96, 16,
                                    73,  97, 96, 76, 164, 38, 206, 2,   0,   173, 210, 16, 99});
  etf::encode_options options;
  options.compression = 6;
  EXPECT_EQ(hex(encoded(as, options)), hex(level6));
  EXPECT_EQ(etf::binary_to_term(level6), as);
  // [{compressed, 9}, {minor_version, 2}].
  const std::string level9 = bytes({131, 80,  0,  0,  0,  66,  120, 218, 203, 97, 96, 96, 16,
                                    41,  103, 76, 36, 27, 101, 1,   0,   57,  56, 17, 223});
  options.compression = 9;
  options.minor_version = 2;
  EXPECT_EQ(hex(encoded(as, options)), hex(level9));
  EXPECT_EQ(etf::binary_to_term(level9), as);
  // Too small to gain: written plain, as OTP does.
  options.compression = 6;
  options.minor_version = 1;
  EXPECT_EQ(hex(encoded(bl::atom("a"), options)), hex(bytes({131, 100, 0, 1, 97})));
}

// --- Decoding every tag ----------------------------------------------------------------

// FLOAT_EXT: 31 bytes of text, NUL-padded.
std::string float_text(std::string_view text) {
  std::string out = bytes({131, 99});
  out += text;
  out.resize(33, '\0');
  return out;
}

struct decode_case {
  std::string bytes;
  const char* expected;  // Erlang syntax, or nullptr when `check` says what to expect
  const char* reencoded_hex = nullptr;  // what we (and OTP) write for it, if not the input
};

TEST(etf, decodes_every_tag_as_otp_does) {
  const decode_case cases[] = {
      {bytes({131, 97, 255}), "255"},
      {bytes({131, 98, 255, 255, 255, 255}), "-1"},
      {bytes({131, 98, 0, 0, 0, 1}), "1", "83 61 01"},
      {bytes({131, 110, 2, 0, 1, 0}), "1", "83 61 01"},        // high zero bytes
      {bytes({131, 110, 0, 0}), "0", "83 61 00"},              // no digits
      {bytes({131, 110, 1, 1, 0}), "0", "83 61 00"},           // negative zero
      {bytes({131, 111, 0, 0, 0, 1, 0, 5}), "5", "83 61 05"},  // LARGE_BIG for a small value
      {float_text("1.5"), "1.5", "83 46 3f f8 00 00 00 00 00 00"},
      {float_text("-0.0e+00"), "-0.0", "83 46 80 00 00 00 00 00 00 00"},
      {float_text("1,5E3"), "1500.0", "83 46 40 97 70 00 00 00 00 00"},
      {float_text("+1.50000000000000000000e+00"), "1.5", "83 46 3f f8 00 00 00 00 00 00"},
      {bytes({131, 115, 1, 97}), "a", "83 64 00 01 61"},     // SMALL_ATOM_EXT
      {bytes({131, 115, 1, 233}), "'é'", "83 64 00 01 e9"},  // Latin-1 é
      {bytes({131, 118, 0, 1, 97}), "a", "83 64 00 01 61"},  // ATOM_UTF8_EXT
      {bytes({131, 118, 0, 2, 195, 169}), "'é'", "83 64 00 01 e9"},
      {bytes({131, 119, 2, 206, 187}), "'λ'"},
      {bytes({131, 107, 0, 0}), "[]", "83 6a"},
      {bytes({131, 108, 0, 0, 0, 0, 100, 0, 1, 97}), "a", "83 64 00 01 61"},  // no elements
      {bytes({131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106}), "[1,2]",
       "83 6b 00 02 01 02"},  // [1 | [2]] as nested LIST_EXT
      {bytes({131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 1, 2}), "[1,2]", "83 6b 00 02 01 02"},
      {bytes({131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 100, 0, 1, 97}), "[1,2|a]",
       "83 6c 00 00 00 02 61 01 61 02 64 00 01 61"},
      {bytes({131, 105, 0, 0, 0, 0}), "{}", "83 68 00"},
      {bytes({131, 105, 0, 0, 0, 1, 97, 1}), "{1}", "83 68 01 61 01"},
      {bytes({131, 116, 0, 0, 0, 2, 100, 0, 1, 98, 97, 1, 100, 0, 1, 97, 97, 2}),
       "#{a => 2, b => 1}", "83 74 00 00 00 02 64 00 01 61 61 02 64 00 01 62 61 01"},
      {bytes({131, 77, 0, 0, 0, 1, 3, 255}), "<<7:3>>", "83 4d 00 00 00 01 03 e0"},
      {bytes({131, 77, 0, 0, 0, 0, 0}), "<<>>", "83 6d 00 00 00 00"},
      {bytes({131, 77, 0, 0, 0, 1, 8, 65}), "<<\"A\">>", "83 6d 00 00 00 01 41"},
      {bytes({131, 113, 100, 0, 1, 97, 100, 0, 1, 98, 98, 0, 0, 0, 1}), "fun a:b/1",
       "83 71 64 00 01 61 64 00 01 62 61 01"},
      {bytes({131, 113, 100, 0, 1, 97, 100, 0, 1, 98, 110, 1, 0, 1}), "fun a:b/1",
       "83 71 64 00 01 61 64 00 01 62 61 01"},
  };
  for (const decode_case& c : cases) {
    const term t = etf::binary_to_term(c.bytes);
    EXPECT_EQ(t, parse(c.expected)) << hex(c.bytes) << " gave " << t;
    const std::string expected_bytes =
        c.reencoded_hex != nullptr ? std::string(c.reencoded_hex) + " " : hex(c.bytes);
    EXPECT_EQ(hex(encoded(t)), expected_bytes) << c.expected;
  }
}

TEST(etf, decodes_deprecated_identities) {
  const std::uint32_t a = bl::atom("a").index();
  // PID_EXT with a u8 creation, re-encoded as NEW_PID_EXT (as OTP does).
  const term p = etf::binary_to_term(
      bytes({131, 103, 100, 0, 1, 97, 255, 255, 255, 255, 255, 255, 255, 255, 3}));
  EXPECT_EQ(p, term(bl::pid{0xffffffff, 0xffffffff, a, 3}));
  EXPECT_EQ(
      hex(encoded(p)),
      hex(bytes({131, 88, 100, 0, 1, 97, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 3})));
  // PORT_EXT and NEW_PORT_EXT; OTP writes ids past 28 bits as V4_PORT_EXT.
  const std::string v4 =
      hex(bytes({131, 120, 100, 0, 1, 97, 0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 3}));
  EXPECT_EQ(
      hex(encoded(etf::binary_to_term(bytes({131, 102, 100, 0, 1, 97, 255, 255, 255, 255, 3})))),
      v4);
  EXPECT_EQ(hex(encoded(etf::binary_to_term(
                bytes({131, 89, 100, 0, 1, 97, 255, 255, 255, 255, 0, 0, 0, 3})))),
            v4);
  // REFERENCE_EXT and NEW_REFERENCE_EXT: 18-bit first word, two-bit creation.
  EXPECT_EQ(hex(encoded(etf::binary_to_term(bytes({131, 101, 100, 0, 1, 97, 0, 3, 255, 255, 3})))),
            hex(bytes({131, 90, 0, 1, 100, 0, 1, 97, 0, 0, 0, 3, 0, 3, 255, 255})));
  EXPECT_EQ(
      hex(encoded(etf::binary_to_term(
          bytes({131, 114, 0, 2, 100, 0, 1, 97, 1, 0, 3, 255, 255, 255, 255, 255, 255})))),
      hex(bytes({131, 90, 0, 2, 100, 0, 1, 97, 0, 0, 0, 1, 0, 3, 255, 255, 255, 255, 255, 255})));
  // NEWER_REFERENCE_EXT of 1 and 5 words. (OTP 25 also accepts 0 words, and then
  // crashes: we refuse them both ways.)
  EXPECT_EQ(decode_problem(bytes({131, 90, 0, 0, 100, 0, 1, 97, 0, 0, 0, 0})),
            "@1 NEWER_REFERENCE_EXT of 0 words; 1 to 5 allowed");
  etf::buffer out;
  etf::encode(term(1), out);
  EXPECT_THROW(etf::encode(term::tuple(1, bl::ref{}), out), bl::badarg);
  EXPECT_EQ(out.size(), 3u);  // unchanged by the failed encode
  for (int words : {1, 5}) {
    std::string r = bytes({131, 90, 0, words, 100, 0, 1, 97, 0, 0, 0, 0});
    for (int i = 0; i < words * 4; ++i) r.push_back(static_cast<char>(i));
    const term t = etf::binary_to_term(r);
    EXPECT_EQ(t.as_ref().length, static_cast<std::uint32_t>(words));
    EXPECT_EQ(hex(encoded(t)), hex(r));
  }
}

// --- Bad input -------------------------------------------------------------------------

TEST(etf, every_truncation_is_an_error_not_a_crash) {
  bl::local_fun closure;
  closure.module = bl::atom("m");
  closure.creator = bl::pid{1, 2, 0, 0};
  closure.free_variables = {term(1), term::binary(std::string(100, 'x'))};
  const term samples[] = {
      parse("{ok, [1,2,3|x], #{a => <<\"x\">>, 1.5 => [256]}, \"str\", -99999999999999999999}"),
      term::fun(closure),
      term::tuple(bl::pid{1, 2, bl::atom("n@h").index(), 4}, bl::port{1u << 30, 0, 0},
                  bl::ref::local(123456789)),
      term::bitstring(std::as_bytes(std::span<const char>("abc", 3)), 20),
  };
  for (const term& t : samples) {
    for (int compression : {0, 9}) {
      etf::encode_options options;
      options.compression = compression;
      const std::string whole = encoded(t, options);
      ASSERT_EQ(etf::binary_to_term(whole), t);
      for (std::size_t cut = 0; cut < whole.size(); ++cut) {
        const std::string problem = decode_problem(whole.substr(0, cut));
        EXPECT_FALSE(problem.empty()) << "prefix of " << cut << " bytes of " << t;
      }
      EXPECT_NE(decode_problem(whole + "x").find("1 byte after the term"), std::string::npos);
    }
  }
  EXPECT_EQ(decode_problem(""),
            "@0 unexpected end of input in the version byte: needs 1 more "
            "byte, 0 left");
  EXPECT_EQ(decode_problem(bytes({131})),
            "@1 unexpected end of input in a term (its tag byte): needs 1 more byte, 0 left");
  EXPECT_EQ(decode_problem(bytes({131, 104, 3, 97, 1})),
            "@1 SMALL_TUPLE_EXT of 3 elements cannot fit in the 2 bytes left");
}

TEST(etf, lengths_past_the_input_fail_before_allocating) {
  EXPECT_EQ(decode_problem(bytes({131, 108, 255, 255, 255, 255, 106})),
            "@1 LIST_EXT of 4294967296 elements and a tail cannot fit in the 1 bytes left");
  EXPECT_EQ(decode_problem(bytes({131, 105, 255, 255, 255, 255})),
            "@1 LARGE_TUPLE_EXT of 4294967295 elements cannot fit in the 0 bytes left");
  EXPECT_EQ(decode_problem(bytes({131, 116, 128, 0, 0, 0, 106, 106})),
            "@1 MAP_EXT of 2147483648 entries cannot fit in the 2 bytes left");
  EXPECT_EQ(decode_problem(bytes({131, 109, 255, 255, 255, 255, 1, 2})),
            "@1 unexpected end of input in BINARY_EXT: needs 4294967295 more bytes, 2 left");
  EXPECT_EQ(decode_problem(bytes({131, 111, 255, 255, 255, 255, 0, 1})),
            "@1 unexpected end of input in LARGE_BIG_EXT: needs 4294967295 more bytes, 1 left");
  EXPECT_EQ(decode_problem(bytes({131, 107, 0, 5, 1})),
            "@1 unexpected end of input in STRING_EXT: needs 5 more bytes, 1 left");
  EXPECT_EQ(decode_problem(bytes({131, 112, 255, 255, 255, 255, 0})),
            "@1 unexpected end of input in NEW_FUN_EXT: needs 4294967291 more bytes, 1 left");
  EXPECT_EQ(decode_problem(bytes({131, 112, 0, 0, 0, 40, 1, 0, 0, 0, 0, 0, 0,   0,   0,
                                  0,   0,   0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 255, 255, 255,
                                  255, 0,   0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0,   0,   0})),
            "@1 NEW_FUN_EXT of 4294967295 free variables cannot fit in the 14 bytes left");
}

TEST(etf, bad_atoms_are_errors) {
  EXPECT_EQ(decode_problem(bytes({131, 118, 0, 2, 255, 255})), "@1 atom name is not valid UTF-8");
  EXPECT_EQ(decode_problem(bytes({131, 119, 2, 0xC0, 0x80})), "@1 atom name is not valid UTF-8");
  std::string long_latin1 = bytes({131, 100, 1, 0});
  long_latin1 += std::string(256, 'a');
  EXPECT_EQ(decode_problem(long_latin1), "@1 atom of 256 characters; at most 255 allowed");
  std::string long_utf8 = bytes({131, 118, 1, 0});
  long_utf8 += std::string(256, 'a');
  EXPECT_EQ(decode_problem(long_utf8),
            "@1 atom name too long: 256 characters, at most 255 allowed");
  std::string too_many_bytes = bytes({131, 118, 4, 0});
  too_many_bytes += std::string(1024, 'a');
  EXPECT_EQ(decode_problem(too_many_bytes), "@1 atom of 1024 bytes, more than 255 characters");
  // Safe mode: only existing atoms.
  etf::decode_options safe;
  safe.existing_atoms_only = true;
  EXPECT_EQ(decode_problem(bytes({131, 119, 3, 'q', 'z', 'x'}), safe),
            "@1 unknown atom 'qzx' (decode_options::existing_atoms_only)");
  EXPECT_EQ(decode_problem(bytes({131, 119, 2, 'o', 'k'}), safe), "");
  // A pid's node must be an atom.
  EXPECT_EQ(decode_problem(bytes({131, 88, 97, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1})),
            "@2 a pid's node must be an atom, got SMALL_INTEGER_EXT");
}

TEST(etf, unknown_and_invalid_tags_are_errors) {
  EXPECT_EQ(decode_problem(bytes({130, 97, 1})), "@0 expected the version byte 131, got 130");
  EXPECT_EQ(decode_problem(bytes({131, 200})), "@1 unknown tag 200");
  EXPECT_EQ(decode_problem(bytes({131, 117, 0})),
            "@1 FUN_EXT (tag 117) is the old fun format, removed in OTP 23");
  EXPECT_EQ(decode_problem(bytes({131, 121, 0})),
            "@1 LOCAL_EXT (tag 121) is a node-local encoding, not valid here");
  EXPECT_EQ(decode_problem(bytes({131, 82, 0})),
            "@1 ATOM_CACHE_REF outside a distribution message (no atom cache given)");
  EXPECT_EQ(decode_problem(bytes({131, 104, 1, 80, 0, 0, 0, 1})),
            "@3 the compressed form (tag 80) is only valid right after the version byte");
  EXPECT_EQ(decode_problem(bytes({131, 104, 1, 131, 97, 1})),
            "@3 unexpected version byte 131 inside a term (tag 131 is not a term)");
  EXPECT_EQ(decode_problem(bytes({131, 70, 127, 240, 0, 0, 0, 0, 0, 0})),
            "@1 NEW_FLOAT_EXT holds an infinity or NaN; Erlang floats are finite");
  EXPECT_EQ(decode_problem(bytes({131, 77, 0, 0, 0, 1, 9, 255})),
            "@1 BIT_BINARY_EXT with 9 bits in the last of 1 bytes (1 to 8, or 0 for no bytes)");
  EXPECT_EQ(decode_problem(bytes({131, 77, 0, 0, 0, 0, 8})),
            "@1 BIT_BINARY_EXT with 8 bits in the last of 0 bytes (1 to 8, or 0 for no bytes)");
  EXPECT_EQ(decode_problem(bytes({131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2})),
            "@1 MAP_EXT has the key 1 more than once");
  EXPECT_EQ(decode_problem(bytes({131, 90, 0, 6, 100, 0, 1, 97})),
            "@1 NEWER_REFERENCE_EXT of 6 words; 1 to 5 allowed");
  EXPECT_EQ(decode_problem(bytes({131, 103, 100, 0, 1, 97, 0, 0, 0, 1, 0, 0, 0, 1, 7})),
            "@1 PID_EXT creation 7 is over 3");
  EXPECT_EQ(decode_problem(bytes({131, 101, 100, 0, 1, 97, 255, 255, 255, 255, 3})),
            "@1 REFERENCE_EXT first word 4294967295 is over 18 bits");
  EXPECT_EQ(decode_problem(bytes({131, 113, 100, 0, 1, 97, 100, 0, 1, 98, 98, 0, 0, 1, 0})),
            "@10 EXPORT_EXT's arity 256 is out of range");
  for (const char* text : {"1e5", "1", ".5", "1.", " 1.5", "1.5x", "inf", "nan", "1e400", ""}) {
    const std::string f = float_text(text);
    EXPECT_NE(decode_problem(f).find("FLOAT_EXT text"), std::string::npos) << text;
  }
}

TEST(etf, nesting_is_limited_and_never_recursive) {
  // A million nested one-tuples and a million nested one-element lists: decoded,
  // compared, encoded and destroyed without recursion.
  constexpr std::size_t depth = 1'000'000;
  std::string nested(1, static_cast<char>(131));
  for (std::size_t i = 0; i < depth; ++i) nested += bytes({104, 1});
  nested += bytes({106});
  etf::decode_options deep;
  deep.max_depth = depth;
  term t = etf::binary_to_term(nested, deep);
  EXPECT_EQ(encoded(t), nested);
  EXPECT_EQ(decode_problem(nested),
            "@200001 nesting deeper than 100000 (decode_options::max_depth)");
  // A chain of LIST_EXT tails ([1 | [2 | ...]], one element each) is not nesting.
  std::string chain(1, static_cast<char>(131));
  for (std::size_t i = 0; i < depth; ++i) chain += bytes({108, 0, 0, 0, 1, 97, 7});
  chain += bytes({106});
  const term list = etf::binary_to_term(chain);
  EXPECT_EQ(list.length(), depth);
  const std::string canonical = encoded(list);
  EXPECT_EQ(hex(canonical.substr(0, 6)), hex(bytes({131, 108, 0, 15, 66, 64})));
  EXPECT_EQ(etf::binary_to_term(canonical), list);
}

TEST(etf, compressed_input_has_a_size_limit) {
  // 1 MiB of NIL_EXT bytes (a zip bomb in small) declared as 64 MiB + 1.
  std::string payload(1 << 20, static_cast<char>(106));
  payload[0] = static_cast<char>(108);  // LIST_EXT header
  etf::encode_options options;
  options.compression = 9;
  const term big_list = term::list(std::vector<term>(200'000, term::nil()));
  const std::string compressed = encoded(big_list, options);
  ASSERT_EQ(static_cast<unsigned char>(compressed[1]), 80);
  EXPECT_EQ(etf::binary_to_term(compressed), big_list);
  etf::decode_options small;
  small.max_uncompressed_size = 1000;
  EXPECT_EQ(decode_problem(compressed, small),
            "@1 the compressed form's uncompressed size 200006 is over the limit of 1000 bytes "
            "(decode_options::max_uncompressed_size)");
  // A declared size smaller than what the stream inflates to, or larger.
  std::string lying = compressed;
  lying[5] = static_cast<char>(static_cast<unsigned char>(lying[5]) - 1);
  EXPECT_NE(decode_problem(lying).find("inflates to more than the declared"), std::string::npos);
  lying = compressed;
  lying[5] = static_cast<char>(static_cast<unsigned char>(lying[5]) + 1);
  EXPECT_NE(decode_problem(lying).find("not the declared"), std::string::npos)
      << decode_problem(lying);
  // Corrupt zlib data, and an error inside the uncompressed term.
  std::string corrupt = compressed;
  corrupt[8] = 0x7f;
  EXPECT_NE(decode_problem(corrupt).find("invalid zlib data"), std::string::npos)
      << decode_problem(corrupt);
  EXPECT_EQ(decode_problem(bytes({131, 80, 0, 0, 0, 0})),
            "@1 the compressed form declares an uncompressed size of 0");
  const std::string bad_inside =
      encoded(term::list(std::vector<term>(100, bl::atom("x"))), options);
  std::string inflated_wrong = bad_inside;
  EXPECT_EQ(etf::binary_to_term(inflated_wrong).length(), 100u);
}

// --- Round trips, zero copy, buffers ---------------------------------------------------

TEST(etf, random_terms_round_trip_under_every_option) {
  const std::uint64_t seed = test_seed();
  std::printf("etf round trip seed: %llu (set BEAMLINE_SEED to repeat)\n",
              static_cast<unsigned long long>(seed));
  beamline_test::generator_options generator_options;
  generator_options.remote = true;
  generator_options.closures = true;
  generator_options.null_refs = false;
  beamline_test::term_generator generate(seed, generator_options);
  const int count = static_cast<int>(3000 * BEAMLINE_STRESS_SCALE) + 100;
  etf::buffer out;
  for (int i = 0; i < count; ++i) {
    const term t = generate.any(5);
    for (int minor : {1, 2}) {
      for (int compression : {0, 6}) {
        etf::encode_options options;
        options.minor_version = minor;
        options.compression = compression;
        out.clear();
        etf::encode(t, out, options);
        const term back = etf::binary_to_term(out.bytes());
        ASSERT_EQ(back, t) << "seed " << seed << " term " << i << ": " << t;
        // Re-encoding what we decoded gives the same bytes.
        EXPECT_EQ(encoded(back, options), std::string(out.view())) << t;
        // From a binary term as well.
        EXPECT_EQ(etf::binary_to_term(etf::term_to_binary(t, options)), t);
      }
    }
  }
}

TEST(etf, large_binaries_share_the_input) {
  const term inner = term::binary(std::string(1000, 'z'));
  const term small = term::binary(std::string(10, 'y'));
  const term input = etf::term_to_binary(term::tuple(inner, small));
  const term decoded = etf::binary_to_term(input);
  const std::span<const std::byte> in = input.bytes();
  const std::span<const std::byte> big = decoded[0].bytes();
  EXPECT_GE(big.data(), in.data());
  EXPECT_LE(big.data() + big.size(), in.data() + in.size());  // a slice: zero copy
  const std::span<const std::byte> copied = decoded[1].bytes();
  EXPECT_TRUE(copied.data() < in.data() || copied.data() >= in.data() + in.size());
  EXPECT_EQ(decoded, term::tuple(inner, small));
  // The slice keeps the input alive.
  term survivor;
  {
    const term temporary = etf::term_to_binary(inner);
    survivor = etf::binary_to_term(temporary);
  }
  EXPECT_EQ(survivor, inner);
  // Decoding from a span copies.
  const term from_span = etf::binary_to_term(input.as_binary());
  EXPECT_EQ(from_span, decoded);
  EXPECT_TRUE(from_span[0].bytes().data() < in.data() ||
              from_span[0].bytes().data() >= in.data() + in.size());
  // Bitstrings are not binaries.
  EXPECT_THROW(etf::binary_to_term(term::bitstring(input.bytes(), 9)), etf::decode_error);
}

TEST(etf, a_decoder_reads_terms_in_sequence) {
  // What a distribution frame looks like after its header: control message and
  // payload, no version bytes, atoms from the header's cache references.
  const bl::atom refs[] = {bl::atom("reg"), bl::atoms::ok};
  etf::encode_options options;
  options.version_byte = false;
  options.atom_cache_refs = refs;
  etf::buffer frame;
  etf::encode(parse("{6, <0.1.0>, '', reg}"), frame, options);
  etf::encode(parse("{ok, reg, other}"), frame, options);
  EXPECT_NE(frame.view().find(bytes({82, 0})), std::string_view::npos);
  etf::decode_options decode;
  decode.version_byte = false;
  decode.atom_cache_refs = refs;
  etf::decoder d(frame.bytes(), decode);
  EXPECT_EQ(d.next(), parse("{6, <0.1.0>, '', reg}"));
  EXPECT_FALSE(d.at_end());
  EXPECT_EQ(d.next(), parse("{ok, reg, other}"));
  EXPECT_TRUE(d.at_end());
  EXPECT_THROW(d.next(), etf::decode_error);
  EXPECT_EQ(decode_problem(bytes({131, 82, 2}),
                           [&] {
                             etf::decode_options o;
                             o.atom_cache_refs = refs;
                             return o;
                           }()),
            "@1 ATOM_CACHE_REF 2 past the header's 2 atoms");
}

TEST(etf, the_buffer_keeps_its_memory) {
  etf::buffer out;
  etf::encode(parse("{ok, 42, [1,2,3]}"), out);
  const std::string first(out.view());
  const std::byte* memory = out.data();
  for (int i = 0; i < 100; ++i) {
    out.clear();
    etf::encode(parse("{ok, 42, [1,2,3]}"), out);
  }
  EXPECT_EQ(out.data(), memory);
  EXPECT_EQ(std::string(out.view()), first);
  // Appending: several terms back to back.
  etf::encode(term(1), out);
  EXPECT_EQ(out.size(), first.size() + 3);
}

TEST(etf, options_out_of_range_are_rejected) {
  etf::encode_options options;
  options.minor_version = 0;
  EXPECT_THROW(encoded(term(1), options), bl::badarg);
  options.minor_version = 1;
  options.compression = 10;
  EXPECT_THROW(encoded(term(1), options), bl::badarg);
}

}  // namespace
