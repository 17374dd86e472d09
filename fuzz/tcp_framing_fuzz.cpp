// tcp_framing_fuzz: libFuzzer target for the frame and line scanning of read_packet
// and read_until (src/io/framing.hpp) and the read-ahead buffer they fill
// (detail::input_buffer), driven as tcp.cpp drives them, over a byte stream that
// arrives in pieces of arbitrary sizes.
//
// The input: byte 0 picks the framing (header_bytes 0, 1, 2 or 4) and the read
// (read_packet or read_until); bytes 1-2 max_size (1 to 65536); byte 3 the
// delimiter; byte 4 how many piece sizes follow (up to 16), then the piece sizes
// (1 to 256 bytes each, used in turn); the rest is the stream. Reading goes on until
// an error or the end of the stream, and must give what a plain reference reader over
// the whole stream gives (except raw framing, which gives what has arrived):
// - the same frames or lines, none longer than max_size, and the same error at the
//   same place (frame_too_large, line_too_long, or end_of_stream);
// - the bytes consumed are exactly the frames' (prefix and payload, or line and
//   delimiter): nothing lost or duplicated across pieces; raw frames put together
//   are the stream;
// - the buffer never holds more than input_limit(framing) bytes, each scan asks for
//   at most max_size + 4, and there is always room when a scan asks for more.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "io/framing.hpp"

namespace net = beamline::net;
namespace detail = beamline::detail;

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "tcp_framing_fuzz: %s\n", what);
  std::abort();
}

// What a reader got: the frames or lines, then how it stopped.
struct reading {
  std::vector<std::string> frames;
  net::error stop{};
  std::size_t consumed = 0;  // stream bytes consumed by the frames
  bool operator==(const reading&) const = default;
};

// The reference: the whole stream at once, without the scanning code.
reading reference(const net::framing& f, bool lines, char delimiter, std::string_view stream) {
  reading r;
  std::size_t at = 0;
  for (;;) {
    const std::string_view rest = stream.substr(at);
    if (lines) {
      const std::size_t found = rest.substr(0, f.max_size + 1).find(delimiter);
      if (found != std::string_view::npos) {
        r.frames.emplace_back(rest.substr(0, found));
        at += found + 1;
        continue;
      }
      r.stop = rest.size() > f.max_size ? net::error::line_too_long : net::error::end_of_stream;
      break;
    }
    if (rest.size() < f.header_bytes || rest.empty()) {
      r.stop = net::error::end_of_stream;
      break;
    }
    std::size_t length = 0;
    for (unsigned i = 0; i < f.header_bytes; ++i)
      length = length << 8 | static_cast<unsigned char>(rest[i]);
    if (length > f.max_size) {
      r.stop = net::error::frame_too_large;
      break;
    }
    if (rest.size() - f.header_bytes < length) {
      r.stop = net::error::end_of_stream;
      break;
    }
    r.frames.emplace_back(rest.substr(f.header_bytes, length));
    at += f.header_bytes + length;
  }
  r.consumed = at;
  return r;
}

// The scanning code and the buffer, fed the stream in pieces.
reading pieces(const net::framing& f, bool lines, char delimiter, std::string_view stream,
               const std::vector<std::size_t>& sizes) {
  reading r;
  detail::input_buffer in;
  const std::size_t most = detail::input_limit(f);
  std::size_t arrived = 0;  // stream bytes put into the buffer
  std::size_t piece = 0;
  for (;;) {
    std::size_t searched = 0;  // per read, as the request's r.done
    detail::frame_scan scan;
    for (;;) {
      scan = lines ? detail::scan_line(f, delimiter, in.data(), in.size(), searched)
                   : detail::scan_packet(f, in.data(), in.size());
      if (searched > in.size()) finding("searched past the held bytes");
      if (scan.what != detail::frame_scan::outcome::need_more) break;
      if (scan.wanted > f.max_size + 4) finding("a scan asks for more than max_size + 4");
      if (scan.wanted <= in.size()) finding("a scan asks for bytes it already has");
      if (arrived == stream.size()) break;
      const std::span<char> room = in.room(scan.wanted, most);
      if (room.empty()) finding("no room in the buffer when a scan asks for more");
      if (in.capacity() > std::max(most, scan.wanted)) finding("the buffer outgrew its bound");
      const std::size_t n =
          std::min({room.size(), sizes[piece++ % sizes.size()], stream.size() - arrived});
      std::memcpy(room.data(), stream.data() + arrived, n);
      in.commit(n);
      arrived += n;
    }
    if (scan.what == detail::frame_scan::outcome::need_more) {
      r.stop = net::error::end_of_stream;
      break;
    }
    if (scan.what == detail::frame_scan::outcome::failed) {
      r.stop = scan.failure;
      break;
    }
    if (scan.header + scan.size + (lines ? 1 : 0) > in.size()) finding("a frame past the buffer");
    if (scan.size > f.max_size) finding("a frame or line longer than max_size");
    r.frames.emplace_back(in.data() + scan.header, scan.size);
    const std::size_t used = scan.header + scan.size + (lines ? 1 : 0);
    if (std::string_view(in.data(), used) != stream.substr(r.consumed, used))
      finding("the bytes consumed are not the stream's next bytes");
    in.consume(used);
    r.consumed += used;
    if (r.consumed + in.size() != arrived) finding("bytes lost or duplicated in the buffer");
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return 0;
  static constexpr unsigned headers[] = {0, 1, 2, 4};
  net::framing f;
  f.header_bytes = headers[data[0] & 3];
  const bool lines = (data[0] & 4) != 0;
  f.max_size = 1 + (std::size_t{data[1]} << 8 | data[2]);
  if (!f.valid()) finding("a framing the target made is not valid");
  const char delimiter = static_cast<char>(data[3]);
  const std::size_t count = std::min<std::size_t>(data[4] & 15, size - 5);
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < count; ++i) sizes.push_back(std::size_t{data[5 + i]} + 1);
  if (sizes.empty()) sizes.push_back(65536);
  const std::string_view stream(reinterpret_cast<const char*>(data) + 5 + count, size - 5 - count);

  const reading got = pieces(f, lines, delimiter, stream, sizes);
  if (!lines && f.header_bytes == 0) {
    // Raw: whatever has arrived, up to max_size, until the stream ends.
    std::string joined;
    for (const std::string& frame : got.frames) {
      if (frame.empty() || frame.size() > f.max_size) finding("a raw frame of a wrong size");
      joined += frame;
    }
    if (joined != stream || got.stop != net::error::end_of_stream)
      finding("raw frames are not the stream");
    return 0;
  }
  if (!(got == reference(f, lines, delimiter, stream)))
    finding("the reading depends on the pieces");
  return 0;
}
