// wire_bytes.hpp: big-endian integers in and out of byte strings, for the
// distribution's handshake, EPMD and frame headers.
//
// byte_reader never reads past its input: a read beyond the end returns zero (or an
// empty view) and makes ok() false for good, so a parser reads every field and checks
// once at the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace beamline::dist::detail {

inline void put_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}
inline void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v));
}
inline void put_u64(std::string& out, std::uint64_t v) {
  put_u32(out, static_cast<std::uint32_t>(v >> 32));
  put_u32(out, static_cast<std::uint32_t>(v));
}

class byte_reader {
 public:
  explicit byte_reader(std::string_view input) noexcept : input_(input) {}

  bool ok() const noexcept { return ok_; }
  std::size_t remaining() const noexcept { return input_.size() - position_; }

  std::uint8_t u8() noexcept { return static_cast<std::uint8_t>(take(1)); }
  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(take(2)); }
  std::uint32_t u32() noexcept { return static_cast<std::uint32_t>(take(4)); }
  std::uint64_t u64() noexcept { return take(8); }

  std::string_view bytes(std::size_t n) noexcept {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return {};
    }
    std::string_view out = input_.substr(position_, n);
    position_ += n;
    return out;
  }
  std::string_view rest() noexcept { return bytes(remaining()); }

 private:
  std::uint64_t take(std::size_t n) noexcept {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i)
      v = (v << 8) | static_cast<std::uint8_t>(input_[position_ + i]);
    position_ += n;
    return v;
  }

  std::string_view input_;
  std::size_t position_ = 0;
  bool ok_ = true;
};

}  // namespace beamline::dist::detail
