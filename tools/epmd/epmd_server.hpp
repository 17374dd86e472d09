// epmd_server.hpp: the daemon side of beamline-epmd, an EPMD-compatible port mapper
// (docs/epmd.md): the table of registered nodes and the connections that read
// requests and write replies, served by one thread with poll() over non-blocking
// sockets. tools/epmd/beamline_epmd.cpp owns the command line, the client modes
// and the detaching.
//
// Protocol (docs/epmd.md, OTP's erl_dist_protocol): a client sends one request,
// `u16 length` + body, all integers big-endian. ALIVE2_REQ registers a node for as
// long as its connection stays open; every other request is answered and the
// connection closed (KILL_REQ also stops the server).
//
// Connection states (each connection sits in connections_, keyed by its socket):
// - reading_request: gathering one frame into input_; the packet deadline runs.
// - registered: the ALIVE2 connection of the node nodes_[node_name]; no deadline;
//   bytes that arrive are discarded; end of stream or an error unregisters it.
// - writing_reply: output (and, for NAMES and DUMP, the rest of the node table
//   from listing_after on) drains; then the connection closes. The deadline runs
//   again, so a client that never reads is dropped.
//
// Invariants:
// - A node's entry in nodes_ exists exactly as long as its registered connection.
// - At most options.max_connections connections; when full, a new connection
//   evicts the oldest connection that is not registered, or is refused if every
//   one is registered. Each connection buffers at most one request
//   (max_request_bytes) and about listing_chunk_bytes of reply, so memory stays
//   bounded whatever the clients do.
// - Anything malformed (length 0 or over the limit, a truncated frame, an unknown
//   request, a bad ALIVE2 body) closes that connection only.
//
// Rejected: a thread per connection (the table would need a lock, and thousands of
// idle clients would be thousands of threads); building a NAMES reply in full (a
// full table of long names is megabytes per client: the listing is written in
// chunks with a cursor instead, so a name registered or removed meanwhile may or
// may not appear, as with any snapshot-free listing).
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace beamline::epmd {

// Request and reply codes (the first byte of a body or of a reply).
inline constexpr std::uint8_t dump_request = 100;
inline constexpr std::uint8_t kill_request = 107;
inline constexpr std::uint8_t names_request = 110;
inline constexpr std::uint8_t stop_request = 115;
inline constexpr std::uint8_t alive2_x_response = 118;
inline constexpr std::uint8_t port2_response = 119;
inline constexpr std::uint8_t alive2_request = 120;
inline constexpr std::uint8_t alive2_response = 121;
inline constexpr std::uint8_t port_please2_request = 122;

// As epmd: a node name or extra field is at most 255 characters of UTF-8, and a
// request body at most three times that.
inline constexpr std::size_t max_name_bytes = 255 * 4;
inline constexpr std::size_t max_request_bytes = 3 * max_name_bytes;

struct server_options {
  // A request must arrive in full, and a reply be read in full, within this time
  // (epmd's -packet_timeout).
  std::chrono::milliseconds packet_timeout{std::chrono::seconds(60)};
  // Allows STOP_REQ, and KILL_REQ while nodes are registered (epmd's
  // -relaxed_command_check).
  bool relaxed_command_check = false;
  // Open client connections, registered ones included; lowered to what the file
  // descriptor limit allows.
  std::size_t max_connections = 4096;
};

// Opens a non-blocking IPv4 TCP socket listening on address:port (SO_REUSEADDR, as
// epmd). Returns the socket, or -1 with errno set.
int open_listening_socket(in_addr address, std::uint16_t port);

class server {
 public:
  // Takes ownership of listening_socket; port is what NAMES replies carry.
  server(int listening_socket, std::uint16_t port, server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Serves until a KILL_REQ is honoured. Returns false on a poll() failure (errno).
  bool run();

 private:
  using clock = std::chrono::steady_clock;

  struct registered_node {
    std::uint16_t port = 0;
    std::uint8_t node_type = 0;
    std::uint8_t protocol = 0;
    std::uint16_t highest_version = 0;
    std::uint16_t lowest_version = 0;
    std::string extra;
    std::uint32_t creation = 0;
    int socket = -1;  // its registered connection
  };

  enum class connection_state { reading_request, registered, writing_reply };
  enum class listing_kind { none, names, dump };

  struct connection {
    int socket = -1;
    std::uint64_t sequence = 0;  // accept order; identifies it across socket reuse
    connection_state state = connection_state::reading_request;
    bool local_peer = false;  // from a loopback address or this host's own address
    clock::time_point deadline;
    std::vector<std::uint8_t> input;  // reading_request: the frame so far
    std::string output;               // writing_reply: bytes not yet sent
    std::size_t output_sent = 0;
    listing_kind listing = listing_kind::none;
    std::optional<std::string> listing_after;  // last name listed; none: from the start
    bool stop_server_after_reply = false;      // an honoured KILL_REQ
    std::string node_name;                     // registered: its key in nodes_
  };

  void accept_connections();
  void read_request(connection& client);
  void discard_input(connection& client);
  void handle_request(connection& client, const std::vector<std::uint8_t>& body);
  void handle_alive2(connection& client, const std::vector<std::uint8_t>& body);
  void handle_port_please2(connection& client, std::string_view name);
  void handle_stop(connection& client, std::string_view name);
  void start_reply(connection& client, std::string bytes, listing_kind listing);
  void write_reply(connection& client);
  void refill_listing(connection& client);
  void close_connection(int socket);
  bool evict_oldest_unregistered();
  std::uint32_t next_creation();
  int poll_timeout_ms(clock::time_point now) const;

  int listening_socket_;
  std::uint16_t port_;
  server_options options_;
  std::map<std::string, registered_node, std::less<>> nodes_;
  std::unordered_map<int, connection> connections_;
  std::uint64_t next_sequence_ = 1;
  std::uint32_t creation_counter_;
  clock::time_point listener_paused_until_{};  // after EMFILE: accept later
  bool stopping_ = false;
};

}  // namespace beamline::epmd
