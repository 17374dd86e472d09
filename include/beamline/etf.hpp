// beamline/etf.hpp: the Erlang external term format (ETF), term_to_binary and
// binary_to_term.
//
// Every term travels between nodes in this format: a version byte 131, then a tag
// byte and the tag's fields (docs/etf.md lists them). This codec is what the
// distribution, files written by Erlang and users debugging wire data go through.
//
// Encoding chooses the tags OTP 25 chooses, so for a term OTP would produce the
// bytes are OTP's byte for byte: integers as SMALL_INTEGER_EXT, INTEGER_EXT or the
// shortest big form; lists of bytes as STRING_EXT; NEW_FLOAT_EXT, NEW_PID_EXT,
// NEW_PORT_EXT (V4_PORT_EXT past 28 bits), NEWER_REFERENCE_EXT, MAP_EXT, NEW_FUN_EXT,
// EXPORT_EXT. Atoms follow `minor_version`: 1 (OTP 25's term_to_binary/1) writes
// Latin-1 names as ATOM_EXT, 2 (the distribution, OTP 26+) writes UTF-8. One known
// difference: a map of more than 32 entries is written in key order, where OTP writes
// the order of its hash trie (which depends on that node's atom numbering, so no
// other encoder can reproduce it); any decoder reads both.
//
// Decoding is total: every byte string gives a term or a decode_error naming the
// offset and the problem; never a crash, never unbounded memory. Lengths are checked
// against the bytes left before anything is allocated (so a term costs at most a
// small multiple of its encoded size), nesting is limited and walked without
// recursion, and the compressed form has a size limit. Every tag is read, the
// deprecated ones (ATOM_EXT, SMALL_ATOM_EXT, PID_EXT, PORT_EXT, REFERENCE_EXT,
// NEW_REFERENCE_EXT, FLOAT_EXT) included, as is the compressed form (tag 80, zlib).
//
// Zero copy: binary_to_term of a binary term (or a decoder over one) makes every
// binary of at least `min_shared_binary` bytes inside a slice of the input's storage,
// not a copy. Encoding appends to an etf::buffer that keeps its memory between uses.
//
// This node's own identity: pids, ports and references whose node and creation are
// the ones set with set_local_node_identity() (term.hpp) decode to local ones (node 0),
// and local ones encode with that name and creation; by default 'nonode@nohost' and 0,
// which is what a non-distributed Erlang node writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "beamline/atom.hpp"
#include "beamline/term.hpp"

namespace beamline::etf {

// The first byte of every standalone external term.
inline constexpr std::uint8_t version_byte = 131;

// Thrown for bytes that are not a valid external term: where and what.
class decode_error : public std::invalid_argument {
 public:
  decode_error(std::size_t offset, const std::string& problem);
  // The byte offset in the input where the problem is (for a compressed term, in the
  // uncompressed data; the problem says so).
  std::size_t offset() const noexcept { return offset_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::size_t offset_;
  std::string problem_;
};

struct decode_options {
  // Each term starts with the version byte 131 (false for the terms that follow a
  // distribution header).
  bool version_byte = true;
  // Only atoms that already exist, like binary_to_term(B, [safe]): an unknown atom is
  // an error instead of a new entry in the (never shrinking) atom table.
  bool existing_atoms_only = false;
  // The deepest nesting of tuples, lists, maps and fun environments accepted.
  std::size_t max_depth = 100'000;
  // The largest uncompressed size accepted in the compressed form (tag 80): what a
  // few bytes of zlib can make us allocate.
  std::size_t max_uncompressed_size = std::size_t{64} << 20;
  // Binaries at least this long share the input's storage when the input is a binary
  // term; shorter ones are copied (as the BEAM keeps binaries up to 64 bytes on the
  // process heap), so a small binary does not keep a large buffer alive.
  std::size_t min_shared_binary = 64;
  // The atoms that ATOM_CACHE_REF (tag 82) indices name: the atom cache references of
  // the distribution header in front of the terms. Empty: tag 82 is an error.
  std::span<const atom> atom_cache_refs = {};
};

// Decodes the terms of an input one after another. The input (bytes or binary term)
// must outlive the decoder; the terms do not depend on it (they copy or share what
// they keep).
class decoder {
 public:
  explicit decoder(std::span<const std::byte> input, const decode_options& options = {});
  explicit decoder(std::string_view input, const decode_options& options = {});
  // Over a binary term: large binaries in the terms share its storage (zero copy).
  // Throws decode_error if `binary` is not a binary (a bitstring of whole bytes).
  explicit decoder(const term& binary, const decode_options& options = {});
  decoder(term&&, const decode_options& = {}) = delete;  // would dangle

  // Decodes the term at the current position and moves past it; on a decode_error
  // the position is unchanged.
  term next();
  // The offset of the next term in the input.
  std::size_t position() const noexcept { return position_; }
  std::size_t remaining() const noexcept { return input_.size() - position_; }
  bool at_end() const noexcept { return position_ == input_.size(); }
  // Moves the position forward (past a header the caller has read itself).
  void skip(std::size_t bytes);

 private:
  std::span<const std::byte> input_;
  std::size_t position_ = 0;
  const term* owner_ = nullptr;  // the binary the input belongs to, if any
  decode_options options_;
};

// Decodes a whole external term (version byte, term, nothing after it), like
// erlang:binary_to_term/1. Throws decode_error.
term binary_to_term(std::span<const std::byte> bytes, const decode_options& options = {});
term binary_to_term(std::string_view bytes, const decode_options& options = {});
// The same from a binary term: large binaries in the result share its storage.
term binary_to_term(const term& binary, const decode_options& options = {});

// A growable byte buffer that keeps its memory when cleared: encode into the same
// buffer again and again without allocating.
class buffer {
 public:
  buffer() noexcept = default;
  buffer(buffer&&) noexcept = default;
  buffer& operator=(buffer&&) noexcept = default;

  const std::byte* data() const noexcept { return storage_.get(); }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<const std::byte> bytes() const noexcept { return {storage_.get(), size_}; }
  std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(storage_.get()), size_};
  }
  // Forgets the contents, keeps the memory.
  void clear() noexcept { size_ = 0; }
  void reserve(std::size_t capacity);
  // Keeps the first `size` bytes (all of them if there are fewer).
  void truncate(std::size_t size) noexcept { size_ = size < size_ ? size : size_; }

  void append(std::span<const std::byte> bytes);
  // `count` more bytes at the end, to be written by the caller through the pointer.
  std::byte* extend(std::size_t count) {
    if (capacity_ - size_ < count) grow(count);
    std::byte* end = storage_.get() + size_;
    size_ += count;
    return end;
  }

 private:
  void grow(std::size_t more);
  std::unique_ptr<std::byte[]> storage_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

struct encode_options {
  // 1: as OTP 25's term_to_binary/1 (Latin-1 atom names as ATOM_EXT, others UTF-8).
  // 2: every atom as SMALL_ATOM_UTF8_EXT / ATOM_UTF8_EXT, as the distribution and
  //    OTP 26's term_to_binary/1 write them.
  int minor_version = 1;
  // 0: not compressed. 1 to 9: the zlib level, as term_to_binary(T, [{compressed, L}]);
  // as OTP does, the result is compressed only if that does not make it larger.
  int compression = 0;
  // Start with the version byte 131 (false for the terms after a distribution header).
  bool version_byte = true;
  // Atoms written as ATOM_CACHE_REF (tag 82) with their index in this list, as
  // after a distribution header that lists them; others are written in full. Looked
  // up linearly: meant for short lists.
  std::span<const atom> atom_cache_refs = {};
};

// Appends the external form of `t` to `out`. Throws badarg for options out of range
// and for the null reference (no words: OTP 25 crashes on one), std::length_error
// for what the format cannot hold (a binary over 4 GiB); `out` is then unchanged.
void encode(const term& t, buffer& out, const encode_options& options = {});

// The external form of `t` as a binary term, like erlang:term_to_binary/2.
term term_to_binary(const term& t, const encode_options& options = {});

}  // namespace beamline::etf
