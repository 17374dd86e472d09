// framing.cpp: frame and line scanning, and the read-ahead buffer (framing.hpp,
// detail::input_buffer in beamline/net/tcp.hpp). No system calls: tcp.cpp does the
// reading, fuzz/tcp_framing_fuzz.cpp drives this file alone.
#include "io/framing.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace beamline::detail {

frame_scan scan_packet(const net::framing& f, const char* data, std::size_t held) noexcept {
  frame_scan scan;
  if (f.header_bytes == 0) {
    if (held != 0) {
      scan.what = frame_scan::outcome::found;
      scan.size = std::min(held, f.max_size);
    } else {
      scan.wanted = std::min<std::size_t>(f.max_size, 65536);
    }
    return scan;
  }
  if (held < f.header_bytes) {
    scan.wanted = f.header_bytes;
    return scan;
  }
  // header_bytes is 1, 2 or 4 (f.valid()): the length fits 32 bits.
  const auto* h = reinterpret_cast<const unsigned char*>(data);
  std::size_t length = 0;
  for (unsigned i = 0; i < f.header_bytes; ++i) length = (length << 8) | h[i];
  if (length > f.max_size) {
    scan.what = frame_scan::outcome::failed;
    scan.failure = net::error::frame_too_large;
    return scan;
  }
  if (held - f.header_bytes >= length) {
    scan.what = frame_scan::outcome::found;
    scan.header = f.header_bytes;
    scan.size = length;
    return scan;
  }
  scan.wanted = f.header_bytes + length;
  return scan;
}

frame_scan scan_line(const net::framing& f, char delimiter, const char* data, std::size_t held,
                     std::size_t& searched) noexcept {
  frame_scan scan;
  const std::size_t limit = f.max_size;
  // A line of at most `limit` bytes has its delimiter within the first limit + 1:
  // bytes beyond them are never searched, so a long line that arrives whole with a
  // delimiter after it is line_too_long, as it is when it arrives in pieces.
  const std::size_t window = std::min(held, limit + 1);
  if (window > searched) {
    const void* found = std::memchr(data + searched, delimiter, window - searched);
    if (found != nullptr) {
      scan.what = frame_scan::outcome::found;
      scan.size = static_cast<std::size_t>(static_cast<const char*>(found) - data);
      return scan;
    }
    searched = window;
  }
  if (held > limit) {
    scan.what = frame_scan::outcome::failed;
    scan.failure = net::error::line_too_long;
    return scan;
  }
  scan.wanted = std::min(limit + 1, std::max<std::size_t>(held * 2, held + 4096));
  return scan;
}

// --- input_buffer ----------------------------------------------------------------------

input_buffer::input_buffer(input_buffer&& other) noexcept
    : data_(std::move(other.data_)),
      capacity_(std::exchange(other.capacity_, 0)),
      begin_(std::exchange(other.begin_, 0)),
      end_(std::exchange(other.end_, 0)) {}

input_buffer& input_buffer::operator=(input_buffer&& other) noexcept {
  data_ = std::move(other.data_);
  capacity_ = std::exchange(other.capacity_, 0);
  begin_ = std::exchange(other.begin_, 0);
  end_ = std::exchange(other.end_, 0);
  return *this;
}

std::span<char> input_buffer::room(std::size_t wanted, std::size_t most) noexcept {
  if (begin_ == end_) begin_ = end_ = 0;
  const std::size_t held = end_ - begin_;
  if (capacity_ < wanted || capacity_ == held) {
    // Bounded: never beyond what the largest frame or line needs.
    const std::size_t capacity =
        std::max<std::size_t>({wanted, std::min(capacity_ * 2, most), 4096});
    if (capacity != capacity_) {
      auto* grown = new (std::nothrow) char[capacity];
      if (grown == nullptr) return {};
      if (held != 0) std::memcpy(grown, data_.get() + begin_, held);
      data_.reset(grown);
      capacity_ = capacity;
      begin_ = 0;
      end_ = held;
    }
  }
  if (begin_ != 0 && (capacity_ - begin_ < wanted || end_ == capacity_)) {
    std::memmove(data_.get(), data_.get() + begin_, held);
    begin_ = 0;
    end_ = held;
  }
  return {data_.get() + end_, capacity_ - end_};
}

std::size_t input_buffer::take(char* to, std::size_t size) noexcept {
  const std::size_t n = std::min(size, end_ - begin_);
  if (n != 0) std::memcpy(to, data_.get() + begin_, n);
  begin_ += n;
  return n;
}

}  // namespace beamline::detail
