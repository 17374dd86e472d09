// etf_decode_fuzz: libFuzzer target for the external term format decoder.
//
// Every input is decoded three ways, and whatever decodes must survive the checks:
// 1. binary_to_term over the bytes (copying binaries);
// 2. binary_to_term over a binary term holding the bytes (sharing binaries): it must
//    give the same term, or the same error at the same offset;
// 3. as a distribution message: the first byte is skipped (as the header would be), the
//    rest is read as terms without version bytes, whose ATOM_CACHE_REF indices name a
//    fixed list of atoms.
// A decoded term is encoded (minor versions 1 and 2) and decoded again: it must come
// back equal (=:=), its encoding must be stable, and printing and hashing it must not
// fail. The only exception allowed out of decoding is etf::decode_error; anything else
// (badarg from a constructor, std::bad_alloc from an unchecked length, a sanitizer
// report) is a finding.
//
// Atoms: decoding adds every new atom name to the process's atom table, which never
// shrinks. Past 200,000 atoms the target decodes with existing_atoms_only, so a long
// run neither fills the table (1M atoms) nor grows without bound.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "beamline/etf.hpp"
#include "beamline/term.hpp"

namespace bl = beamline;
namespace etf = beamline::etf;

namespace {

[[noreturn]] void finding(const char* what, const bl::term& t) {
  std::fprintf(stderr, "etf_decode_fuzz: %s: %s\n", what, t.to_string().substr(0, 2000).c_str());
  std::abort();
}

const bl::atom cache_refs[] = {bl::atom("a"), bl::atoms::empty, bl::atoms::nonode_at_nohost,
                               bl::atoms::ok, bl::atom("λ")};

etf::decode_options options_now() {
  etf::decode_options options;
  options.existing_atoms_only = bl::atom::count() > 200'000;
  options.max_depth = 10'000;
  return options;
}

void check_round_trip(const bl::term& t, bool version_byte) {
  (void)t.hash();
  (void)t.to_string();
  for (int minor : {1, 2}) {
    etf::encode_options encode;
    encode.minor_version = minor;
    encode.version_byte = version_byte;
    if (!version_byte) encode.atom_cache_refs = cache_refs;
    etf::buffer first;
    etf::encode(t, first, encode);
    etf::decode_options decode;
    decode.version_byte = version_byte;
    if (!version_byte) decode.atom_cache_refs = cache_refs;
    decode.max_depth = 1'000'000;
    bl::term back;
    try {
      etf::decoder d(first.bytes(), decode);
      back = d.next();
      if (!d.at_end()) finding("the encoding has bytes after the term", t);
    } catch (const etf::decode_error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      finding("our own encoding does not decode", t);
    }
    if (!(back == t)) finding("the term changed in a round trip", t);
    etf::buffer second;
    etf::encode(back, second, encode);
    if (first.view() != second.view()) finding("the encoding is not stable", t);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const etf::decode_options options = options_now();

  // 1 and 2: a whole term, copied and shared.
  bl::term copied;
  std::string copied_error;
  try {
    copied = etf::binary_to_term(input, options);
  } catch (const etf::decode_error& e) {
    copied_error = e.what();
  }
  bl::term shared;
  std::string shared_error;
  try {
    shared = etf::binary_to_term(bl::term::binary(input), options);
  } catch (const etf::decode_error& e) {
    shared_error = e.what();
  }
  if (copied_error != shared_error) {
    std::fprintf(stderr, "copied: %s\nshared: %s\n", copied_error.c_str(), shared_error.c_str());
    finding("decoding from a span and from a binary term disagree", copied);
  }
  if (copied_error.empty()) {
    if (!(copied == shared)) finding("shared and copied decodes differ", copied);
    check_round_trip(copied, true);
  }

  // 3: terms after a distribution header.
  if (size > 1) {
    etf::decode_options dist = options;
    dist.version_byte = false;
    dist.atom_cache_refs = cache_refs;
    try {
      etf::decoder d(input.substr(1), dist);
      for (int i = 0; i < 8 && !d.at_end(); ++i) check_round_trip(d.next(), false);
    } catch (const etf::decode_error&) {
    }
  }
  return 0;
}
