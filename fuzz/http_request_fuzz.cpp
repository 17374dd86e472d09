// http_request_fuzz: libFuzzer target for the observer's HTTP request parser
// (src/observer/http.hpp), the only code that reads the bytes a web client sends.
//
// The input: byte 0 picks small or default limits (small ones reach the 413 and
// 431 paths with short inputs); the rest is what a connection received. Checks
// beyond "no crash":
// - an error is one of the statuses the server answers (400, 413, 431, 501, 505)
//   with a reason;
// - a complete request took at most the input, and no more than the head and body
//   limits allow; the same request is complete from exactly its own bytes, and
//   incomplete from any shorter prefix (the server waits for the rest rather than
//   answering half a request);
// - the parsed path holds no NUL, header names are lower-case tokens, the body is
//   what Content-Length said;
// - an incomplete input is never longer than the head limit without a line end.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "observer/http.hpp"

namespace {

using beamline::observer::http_limits;
using beamline::observer::http_parse;
using beamline::observer::http_request;
using beamline::observer::parse_request;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "http_request_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  http_limits limits;
  if (data[0] & 1) {
    limits.max_head = 64 + (data[0] >> 1);
    limits.max_headers = 1 + (data[0] >> 5);
    limits.max_body = data[0] >> 3;
  }
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  http_request request;
  const http_parse p = parse_request(bytes, limits, request);
  switch (p.result) {
    case http_parse::outcome::error:
      if (p.status != 400 && p.status != 413 && p.status != 431 && p.status != 501 &&
          p.status != 505)
        violated("an error status the server does not answer");
      if (p.problem.empty()) violated("an error without a reason");
      return 0;
    case http_parse::outcome::incomplete:
      if (bytes.find("\r\n") == std::string_view::npos && bytes.size() > limits.max_head)
        violated("an endless line is waited for");
      return 0;
    case http_parse::outcome::complete:
      break;
  }
  if (p.consumed == 0 || p.consumed > bytes.size()) violated("consumed outside the input");
  if (request.body.size() > limits.max_body) violated("a body over the limit");
  if (p.consumed - request.body.size() > limits.max_head) violated("a head over the limit");
  if (request.path.find('\0') != std::string::npos) violated("a NUL in the path");
  for (const auto& [name, value] : request.headers) {
    if (name.empty()) violated("an empty header name");
    for (char c : name)
      if (c >= 'A' && c <= 'Z') violated("a header name not in lower case");
  }
  http_request again;
  const http_parse exact = parse_request(bytes.substr(0, p.consumed), limits, again);
  if (exact.result != http_parse::outcome::complete || exact.consumed != p.consumed ||
      again.path != request.path || again.body != request.body ||
      again.headers != request.headers || again.query != request.query)
    violated("the request's own bytes parse differently");
  for (std::size_t cut : {p.consumed - 1, p.consumed / 2, std::size_t{1}}) {
    if (cut >= p.consumed) continue;
    http_request part;
    if (parse_request(bytes.substr(0, cut), limits, part).result != http_parse::outcome::incomplete)
      violated("a prefix of a complete request is not incomplete");
  }
  return 0;
}
