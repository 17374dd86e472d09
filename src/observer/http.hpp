// http.hpp: the observer's HTTP/1.1 request parser and response writer.
//
// The parser takes the bytes a connection has received so far and says whether
// they hold a whole request (and how many bytes it took), need more, or are not a
// request the server takes (with the status to answer: 400, 413, 431, 501, 505).
// It is a pure function of its input, with limits on every size, so that the fuzz
// target (fuzz/http_request.cpp) drives exactly what the server runs. What it takes
// (RFC 9112): a request line `METHOD SP target SP HTTP/1.x`, header fields
// `name: value` (no line folding), a body only with Content-Length (requests with
// Transfer-Encoding are refused with 501: the observer's requests carry no
// chunked bodies).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beamline::observer {

struct http_limits {
  std::size_t max_head = 16 * 1024;  // request line and headers
  std::size_t max_headers = 64;
  std::size_t max_body = 64 * 1024;
};

struct http_request {
  std::string method;
  std::string target;                                        // as sent
  std::string path;                                          // the target's path, percent-decoded
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  int minor_version = 1;  // HTTP/1.minor_version
  bool keep_alive = true;

  // The first header with this (lower-case) name.
  std::optional<std::string_view> header(std::string_view name) const;
  std::optional<std::string_view> query_value(std::string_view name) const;
};

struct http_parse {
  enum class outcome { complete, incomplete, error } result = outcome::incomplete;
  std::size_t consumed = 0;  // complete: the request's bytes
  int status = 0;            // error: the status to answer with
  std::string problem;       // error: why, for the response body
};

// Parses one request from the start of `bytes` into `request`.
http_parse parse_request(std::string_view bytes, const http_limits& limits, http_request& request);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`); nullopt if an
// escape is malformed.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// A response: status line, headers (Content-Length, Content-Type, Connection, and
// those given) and body.
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive,
                          const std::vector<std::pair<std::string, std::string>>& extra = {});

std::string_view reason_phrase(int status) noexcept;

// Whether a comma-separated header value (Connection, Upgrade) lists `token`, a
// lower-case token, in any case.
bool lists_token(std::string_view value, std::string_view token);

}  // namespace beamline::observer
