// framing.hpp: where the next frame or line lies in a tcp_socket's read-ahead input
// (beamline/net/tcp.hpp: read_packet, read_until).
//
// Pure functions of the bytes held and the socket's framing, with no system calls:
// tcp.cpp's read steps call them between reads, and fuzz/tcp_framing_fuzz.cpp feeds
// them byte streams split at arbitrary points. Their contract, which the fuzz target
// checks:
// - a frame's payload and a line are never longer than framing.max_size, however the
//   stream was split (a line that arrived whole with a later delimiter included);
// - the frames and lines found, and the error that ends them, do not depend on how
//   the stream was split, except that raw framing gives whatever has arrived;
// - need_more asks for at most max_size + 4 bytes (header_bytes + max_size, or
//   max_size + 1 for a line), so the buffer (detail::input_buffer) stays within
//   input_limit(framing) bytes;
// - an error is found before any memory is reserved for what caused it.
#pragma once

#include <cstddef>

#include "beamline/net/result.hpp"
#include "beamline/net/tcp.hpp"

namespace beamline::detail {

struct frame_scan {
  enum class outcome {
    need_more,  // undecided: read until at least `wanted` bytes are held, then scan again
    found,      // a frame or line: `header` bytes, then `size` bytes
    failed,     // `failure`: frame_too_large or line_too_long
  };
  outcome what = outcome::need_more;
  std::size_t header = 0;  // found: the length prefix's bytes (0 for raw and lines)
  std::size_t size = 0;    // found: the payload's bytes, or the line's without its delimiter
  std::size_t wanted = 0;  // need_more: the bytes to hold, from the buffer's start
  net::error failure{};
};

// The most bytes the input buffer holds under `f` (f.valid()).
inline std::size_t input_limit(const net::framing& f) noexcept {
  return f.max_size + 4 > 4096 ? f.max_size + 4 : 4096;
}

// The frame at the start of `held` bytes under `f` (f.valid()). Consuming a found
// frame drops header + size bytes.
frame_scan scan_packet(const net::framing& f, const char* data, std::size_t held) noexcept;

// The line at the start of `held` bytes, up to `delimiter`, under f.max_size.
// `searched` (0 at the start of a read) is how many held bytes are known to hold no
// delimiter; the scan updates it so that bytes are searched once. Consuming a found
// line drops size + 1 bytes (the delimiter too).
frame_scan scan_line(const net::framing& f, char delimiter, const char* data, std::size_t held,
                     std::size_t& searched) noexcept;

}  // namespace beamline::detail
