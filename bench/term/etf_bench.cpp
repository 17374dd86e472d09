// bench_etf: term_to_binary and binary_to_term on a fixed set of terms, timed the
// same way as bench/term/etf_bench.escript times Erlang's own BIFs on the same terms,
// so that bench/term/run_etf_bench.py can put the two side by side.
//
//   bench_etf --write-terms DIR   writes each term's external form to DIR/NAME.etf
//                                 (the escript reads them: both sides time the same
//                                 terms), then exits
//   bench_etf [--quick] [--only NAME]
//                                 times every term (or one); a JSON line per (term, op)
//
// Method (the escript's is the same): for each term and operation, the batch size
// doubles until a batch takes 10 ms; then 15 batches are timed and the median time
// per operation is reported. encode is etf::term_to_binary (a new binary term, as
// erlang:term_to_binary/1 returns a binary); decode is etf::binary_to_term of a binary
// term (as erlang:binary_to_term/1 takes one), so large binaries are shared;
// encode_into_buffer (ours only) is etf::encode into a reused etf::buffer.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "beamline/etf.hpp"
#include "beamline/term.hpp"

namespace bl = beamline;
namespace etf = beamline::etf;
using bl::term;

namespace {

struct named_term {
  std::string name;
  term value;
};

// prefix followed by the number (written out: "v" + std::to_string(i) trips a false
// -Wrestrict warning in g++ 12).
bl::atom numbered_atom(const char* prefix, int i) {
  std::string name = prefix;
  name += std::to_string(i);
  return bl::atom(name);
}

std::vector<named_term> bench_terms() {
  std::vector<named_term> terms;
  // A W8-sized message: a small tuple with an atom, an integer and a pid.
  terms.push_back({"small_tuple", term::tuple(bl::atoms::ok, 42, bl::pid{93, 0, 0, 0})});
  terms.push_back({"atom", bl::atom("hello_world")});
  std::vector<term> ints;
  for (int i = 0; i < 100; ++i) ints.emplace_back(i * 37 % 1000);
  terms.push_back({"integers_100", term::list(ints)});
  std::string text = "hello world";
  text.resize(100, 'x');
  terms.push_back({"string_100", term::string(text)});
  std::vector<term> floats;
  for (int i = 0; i < 100; ++i) floats.emplace_back(i * 1.37 - 50.5);
  terms.push_back({"floats_100", term::list(floats)});
  std::vector<term> bigs;
  for (int i = 0; i < 10; ++i)
    bigs.push_back(term::integer_from_string(std::to_string(i + 1) + std::string(100, '7')));
  terms.push_back({"bigints_10", term::list(bigs)});
  std::vector<std::pair<term, term>> small_map;
  for (int i = 0; i < 10; ++i) small_map.emplace_back(numbered_atom("key_", i), i);
  terms.push_back({"map_10", term::map(small_map)});
  std::vector<std::pair<term, term>> big_map;
  for (int i = 0; i < 100; ++i) big_map.emplace_back(i * 7919, numbered_atom("v", i % 10));
  terms.push_back({"map_100", term::map(big_map)});
  terms.push_back(
      {"record",
       term::parse("{person, <<\"Alice Liddell\">>, 42, [{email, <<\"alice@example.com\">>},"
                   " {tags, [admin, staff, 'on-call']}, {score, 97.5}],"
                   " #{created => 1700000000, active => true, groups => [1, 2, 3]},"
                   " {address, \"12 Rabbit Hole\", <<\"Oxford\">>, uk}}")});
  std::vector<term> identities;
  const std::uint32_t other = bl::atom("b@127.0.0.1").index();
  for (std::uint32_t i = 0; i < 25; ++i) {
    identities.emplace_back(bl::pid{100 + i, 0, other, 1700000000});
    bl::ref r = bl::ref::local(123456789 + i);
    r.node = other;
    r.creation = 1700000000;
    identities.emplace_back(r);
  }
  terms.push_back({"identities_50", term::list(identities)});
  std::vector<term> pairs;
  for (int i = 0; i < 10000; ++i) pairs.push_back(term::tuple(i, bl::atom("item")));
  terms.push_back({"tuples_10k", term::list(pairs)});
  terms.push_back({"binary_1k", term::binary(std::string(1024, 'b'))});
  terms.push_back({"binary_1m", term::binary(std::string(1 << 20, 'm'))});
  return terms;
}

using clock_type = std::chrono::steady_clock;

// Median nanoseconds per call of f over timed batches.
template <class F>
double time_per_call(F&& f, bool quick) {
  const auto batch_ns = [&](long n) {
    const auto start = clock_type::now();
    for (long i = 0; i < n; ++i) f();
    return std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
  };
  const double target = quick ? 2e6 : 10e6;  // ns per batch
  long n = 1;
  while (batch_ns(n) < target && n < (1L << 30)) n *= 2;
  const int batches = quick ? 5 : 15;
  std::vector<double> samples;
  for (int b = 0; b < batches; ++b) samples.push_back(batch_ns(n) / static_cast<double>(n));
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<named_term> terms = bench_terms();
  bool quick = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--write-terms") == 0 && i + 1 < argc) {
      for (const named_term& t : terms) {
        std::ofstream out(std::string(argv[i + 1]) + "/" + t.name + ".etf", std::ios::binary);
        out << etf::term_to_binary(t.value).as_binary();
      }
      return 0;
    }
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bench_etf [--write-terms DIR] [--quick] [--only NAME]\n");
      return 2;
    }
  }
  std::size_t sink = 0;
  for (const named_term& t : terms) {
    if (!only.empty() && t.name != only) continue;
    const term encoded = etf::term_to_binary(t.value);
    if (!(etf::binary_to_term(encoded) == t.value)) {
      std::fprintf(stderr, "bench_etf: %s does not round-trip\n", t.name.c_str());
      return 1;
    }
    const double encode_ns =
        time_per_call([&] { sink += etf::term_to_binary(t.value).byte_size(); }, quick);
    const double decode_ns = time_per_call(
        [&] { sink += static_cast<std::size_t>(etf::binary_to_term(encoded).kind()); }, quick);
    // Also: encoding into a reusable buffer (what the distribution does: no binary).
    etf::buffer reused;
    const double buffer_ns = time_per_call(
        [&] {
          reused.clear();
          etf::encode(t.value, reused);
          sink += reused.size();
        },
        quick);
    for (const auto& [op, ns] : {std::pair{"encode", encode_ns}, std::pair{"decode", decode_ns},
                                 std::pair{"encode_into_buffer", buffer_ns}}) {
      std::printf(
          "{\"system\": \"beamline\", \"term\": \"%s\", \"op\": \"%s\", \"ns\": %.1f, "
          "\"bytes\": %zu}\n",
          t.name.c_str(), op, ns, encoded.byte_size());
    }
    std::fflush(stdout);
  }
  return sink == 42 ? 3 : 0;  // uses the sink so the calls are not optimized away
}
