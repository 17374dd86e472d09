// http_parser: the observer's request parser (src/observer/http.hpp) takes whole
// requests, asks for more when a request is cut anywhere, and refuses what it does
// not serve with the status the server answers.
#include <gtest/gtest.h>

#include <string>

#include "observer/http.hpp"

namespace {

using beamline::observer::http_limits;
using beamline::observer::http_parse;
using beamline::observer::http_request;
using beamline::observer::parse_request;
using outcome = http_parse::outcome;

http_parse parse(const std::string& bytes, http_request& r, http_limits limits = {}) {
  return parse_request(bytes, limits, r);
}

int status_of(const std::string& bytes, http_limits limits = {}) {
  http_request r;
  const http_parse p = parse(bytes, r, limits);
  return p.result == outcome::error ? p.status : (p.result == outcome::complete ? 200 : 0);
}

TEST(http_parser, takes_a_request_with_its_query_and_headers) {
  http_request r;
  const std::string bytes =
      "GET /api/processes/%3C0.12.0%3E?sort=memory&filter=my+server&x HTTP/1.1\r\n"
      "Host: 127.0.0.1:8080\r\nAccept:  application/json \r\n\r\nGET / HTTP/1.1\r\n";
  const http_parse p = parse(bytes, r);
  ASSERT_EQ(p.result, outcome::complete);
  EXPECT_EQ(p.consumed, bytes.find("GET /", 10));
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/api/processes/<0.12.0>");
  EXPECT_EQ(r.query_value("sort"), "memory");
  EXPECT_EQ(r.query_value("filter"), "my server");
  EXPECT_EQ(r.query_value("x"), "");
  EXPECT_EQ(r.header("host"), "127.0.0.1:8080");
  EXPECT_EQ(r.header("accept"), "application/json");
  EXPECT_TRUE(r.keep_alive);
}

TEST(http_parser, a_request_cut_anywhere_asks_for_more) {
  const std::string bytes =
      "POST /api/processes/0.5.0/exit HTTP/1.1\r\nHost: h\r\nContent-Length: 19\r\n"
      "Content-Type: application/json\r\n\r\n{\"reason\":\"normal\"}";
  ASSERT_EQ(bytes.size() - bytes.find("\r\n\r\n") - 4, 19u);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    http_request r;
    EXPECT_EQ(parse(bytes.substr(0, cut), r).result, outcome::incomplete) << cut;
  }
  http_request r;
  const http_parse p = parse(bytes, r);
  ASSERT_EQ(p.result, outcome::complete);
  EXPECT_EQ(r.body, "{\"reason\":\"normal\"}");
  EXPECT_EQ(p.consumed, bytes.size());
}

TEST(http_parser, keep_alive_follows_the_version_and_connection) {
  http_request r;
  parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", r);
  EXPECT_FALSE(r.keep_alive);
  parse("GET / HTTP/1.0\r\n\r\n", r);
  EXPECT_FALSE(r.keep_alive);
  parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", r);
  EXPECT_TRUE(r.keep_alive);
}

TEST(http_parser, refuses_what_it_does_not_serve_with_the_status_to_answer) {
  EXPECT_EQ(status_of("\x16\x03\x01 garbage\r\n"), 400);
  EXPECT_EQ(status_of("GET /\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET relative HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);  // no Host
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nno colon\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n"), 400);
  EXPECT_EQ(
      status_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
      400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
  EXPECT_EQ(status_of("GET /%4 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /%00 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /?a=%g1 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

TEST(http_parser, every_size_is_bounded) {
  http_limits small;
  small.max_head = 64;
  small.max_headers = 2;
  small.max_body = 4;
  EXPECT_EQ(status_of("GET /" + std::string(100, 'a'), small), 431);  // no line end yet
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(60, 'a'), small), 431);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", small), 431);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", small), 413);
  EXPECT_EQ(
      status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
      400);
}

TEST(http_parser, percent_decoding) {
  using beamline::observer::percent_decode;
  EXPECT_EQ(percent_decode("a%20b+c", false), "a b+c");
  EXPECT_EQ(percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(percent_decode("%", false), std::nullopt);
  EXPECT_EQ(percent_decode("%a", false), std::nullopt);
  EXPECT_EQ(percent_decode("%zz", false), std::nullopt);
  EXPECT_EQ(percent_decode("%41%4a%4A", false), "AJJ");
}

}  // namespace
