// beamline/net/tcp.hpp: TCP for processes, in the manner of Erlang's gen_tcp.
//
//     auto listener = bl::net::tcp_listener::listen(bl::net::address::any_v6(8080));
//     if (!listener) co_return;                               // errors are values
//     for (;;) {
//       auto socket = co_await listener->accept();
//       if (socket) bl::spawn(serve, std::move(*socket));     // one process per client
//     }
//
//     bl::process serve(bl::net::tcp_socket& socket) {      // owned by the process
//       char buffer[4096];
//       for (;;) {
//         auto n = co_await socket.read_some(buffer, std::chrono::seconds(30));
//         if (!n || *n == 0) co_return;                       // error, timeout or EOF
//         if (!co_await socket.write({buffer, *n})) co_return;
//       }
//     }
//
// Every operation is awaited (`co_await`), never blocks a worker thread, takes a
// timeout, and gives a result<T> (result.hpp). A process waiting on a socket still
// receives exit signals: killing it closes its sockets (socket.hpp, ownership).
//
// Reads: read_some (what is there, at least one byte; 0 at end of stream),
// read_exact (exactly n bytes), read_until (up to a delimiter), read_packet (one
// frame under the socket's framing, like gen_tcp's {packet, N}: a 1, 2 or 4-byte
// big-endian length then the payload; or raw). read_until and read_packet buffer
// input in the socket (at most max(framing.max_size + 4, 4096) bytes, so a peer
// sending garbage costs a bounded amount of memory); read_some and read_exact
// take buffered bytes first. After an error or a timeout in a read that had
// consumed part of its data, where the stream stands is unspecified: close it.
//
// Writes: write (all of it, waiting for room as the peer reads: the kernel's
// buffers are the only buffers, so a slow reader slows its writer down), writev
// (several pieces in one system call), write_packet (the length prefix and the
// payload). The peer having gone away gives std::errc::broken_pipe or
// connection_reset; never SIGPIPE.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "beamline/net/socket.hpp"

namespace beamline::net {

// How read_packet and write_packet delimit messages.
struct framing {
  // 0: raw (read_packet gives whatever arrived, up to max_size bytes); 1, 2 or 4:
  // a big-endian length prefix of that many bytes before each payload (gen_tcp's
  // {packet, N} allows the same four).
  unsigned header_bytes = 0;
  // The largest payload (read_packet: a larger prefix is net::error::frame_too_large)
  // and the longest line read_until accepts (net::error::line_too_long). At least 1,
  // at most largest_max_size.
  std::size_t max_size = std::size_t{16} << 20;

  // What a 4-byte prefix can state; a larger max_size would only grow the buffer.
  static constexpr std::size_t largest_max_size = 0xffffffff;

  // Whether tcp_socket::set_framing accepts it.
  constexpr bool valid() const noexcept {
    return (header_bytes == 0 || header_bytes == 1 || header_bytes == 2 || header_bytes == 4) &&
           max_size >= 1 && max_size <= largest_max_size;
  }
};

}  // namespace beamline::net

namespace beamline::detail {

// The input a tcp_socket has read ahead for read_until and read_packet: bytes
// [begin, end) of an array of `capacity` bytes. Pure memory management (no system
// calls), defined with the frame scanning in src/io/framing.cpp, so that the fuzz
// target drives the same code as the sockets.
class input_buffer {
 public:
  input_buffer() noexcept = default;
  input_buffer(input_buffer&& other) noexcept;
  input_buffer& operator=(input_buffer&& other) noexcept;

  const char* data() const noexcept { return data_.get() + begin_; }
  std::size_t size() const noexcept { return end_ - begin_; }
  std::size_t capacity() const noexcept { return capacity_; }

  // Free space after the held bytes, with room for `wanted` bytes from the start of
  // the held ones; grows (never beyond max(wanted, most, 4096) bytes) or compacts as
  // needed. Empty only when memory runs out or `wanted` is no more than size() with
  // the array full at `most` bytes.
  std::span<char> room(std::size_t wanted, std::size_t most) noexcept;
  // `n` bytes were written at the start of room().
  void commit(std::size_t n) noexcept { end_ += n; }
  // Drops `n` held bytes from the front.
  void consume(std::size_t n) noexcept { begin_ += n; }
  // Copies up to `size` held bytes to `to` and drops them; returns how many.
  std::size_t take(char* to, std::size_t size) noexcept;

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace beamline::detail

namespace beamline::net {

enum class shutdown_how { read, write, both };

class tcp_socket {
 public:
  tcp_socket() noexcept = default;  // not open
  tcp_socket(tcp_socket&&) noexcept = default;
  tcp_socket& operator=(tcp_socket&&) noexcept = default;

  // Connects to `to`; std::errc::timed_out if it takes longer than `timeout`.
  static operation<result<tcp_socket>> connect(const address& to,
                                               std::chrono::nanoseconds timeout = forever);
  // Takes over a connected stream socket's file descriptor (made non-blocking).
  static result<tcp_socket> adopt(int fd);

  operation<result<std::size_t>> read_some(std::span<char> buffer,
                                           std::chrono::nanoseconds timeout = forever);
  operation<result<void>> read_exact(std::span<char> buffer,
                                     std::chrono::nanoseconds timeout = forever);
  // The bytes before the next `delimiter` (which is consumed, not returned).
  operation<result<std::string>> read_until(char delimiter,
                                            std::chrono::nanoseconds timeout = forever);
  operation<result<std::string>> read_packet(std::chrono::nanoseconds timeout = forever);

  operation<result<void>> write(std::string_view data, std::chrono::nanoseconds timeout = forever);
  // The pieces' array and bytes must stay valid until the operation completes.
  operation<result<void>> writev(std::span<const std::string_view> pieces,
                                 std::chrono::nanoseconds timeout = forever);
  // A frame under the socket's framing (with raw framing, the bytes as they are);
  // net::error::frame_too_large if the payload does not fit the prefix.
  operation<result<void>> write_packet(std::string_view payload,
                                       std::chrono::nanoseconds timeout = forever);

  result<void> shutdown(shutdown_how how);
  void close() noexcept;
  bool is_open() const noexcept { return handle_.is_open(); }
  int native_handle() const noexcept { return handle_.fd(); }
  // Deregisters from the poller and gives up the file descriptor (the caller
  // closes it); the socket is then closed.
  int release() noexcept;

  result<void> set_nodelay(bool on);
  result<void> set_keepalive(bool on);
  result<void> set_receive_buffer_size(int bytes);
  result<void> set_send_buffer_size(int bytes);
  // Throws std::invalid_argument, naming the field, unless f.valid() (header_bytes
  // 0, 1, 2 or 4; max_size from 1 to framing::largest_max_size); the socket's
  // framing is then unchanged. A framing is the program's own constant, so a wrong
  // one is a programming error, like a wrong argument to a term accessor; check
  // f.valid() first when it comes from configuration.
  void set_framing(const framing& f);
  const net::framing& current_framing() const noexcept { return framing_; }

  result<address> local_address() const { return handle_.local_address(); }
  result<address> peer_address() const { return handle_.peer_address(); }

  // Bytes read from the connection but not yet returned by a read.
  std::size_t buffered() const noexcept { return input_.size(); }

 private:
  friend struct tcp_operations;
  explicit tcp_socket(detail::socket_handle handle) noexcept : handle_(std::move(handle)) {}

  detail::socket_handle handle_;
  net::framing framing_;  // always valid(): set_framing checks
  detail::input_buffer input_;
};

struct listen_options {
  int backlog = 1024;
  bool reuse_address = true;  // SO_REUSEADDR
  bool v6_only = false;       // an IPv6 listener also takes IPv4 clients unless set
};

class tcp_listener {
 public:
  tcp_listener() noexcept = default;  // not open

  // Listens on `at` (port 0: an ephemeral port; local_address() tells which).
  static result<tcp_listener> listen(const address& at, const listen_options& options = {});
  // Takes over a listening stream socket's file descriptor (made non-blocking).
  static result<tcp_listener> adopt(int fd);

  // The next connection; std::errc::too_many_files_open (EMFILE) and the like are
  // reported and the listener stays usable.
  operation<result<tcp_socket>> accept(std::chrono::nanoseconds timeout = forever);

  result<address> local_address() const { return handle_.local_address(); }
  void close() noexcept { handle_.close(); }
  bool is_open() const noexcept { return handle_.is_open(); }
  int native_handle() const noexcept { return handle_.fd(); }

 private:
  friend struct tcp_operations;
  detail::socket_handle handle_;
};

}  // namespace beamline::net
