// http.cpp: see http.hpp.
#include "observer/http.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace beamline::observer {

namespace {

// RFC 9110 tchar: the characters of a method or a header name.
bool is_tchar(char c) noexcept {
  if (std::isalnum(static_cast<unsigned char>(c)) != 0) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// A field value's characters: visible ASCII, space, tab and obs-text (>= 0x80).
bool is_field_value(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

http_parse fail(int status, std::string problem) {
  http_parse p;
  p.result = http_parse::outcome::error;
  p.status = status;
  p.problem = std::move(problem);
  return p;
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The request line: METHOD SP target SP HTTP/1.x (error status, or 0).
int parse_request_line(std::string_view line, http_request& r, std::string& problem) {
  const std::size_t first = line.find(' ');
  const std::size_t last = line.rfind(' ');
  if (first == std::string_view::npos || first == last) {
    problem = "malformed request line";
    return 400;
  }
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, last - first - 1);
  const std::string_view version = line.substr(last + 1);
  if (!is_token(method) || method.size() > 16) {
    problem = "malformed method";
    return 400;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      !std::isdigit(static_cast<unsigned char>(version[5])) ||
      !std::isdigit(static_cast<unsigned char>(version[7]))) {
    problem = "malformed HTTP version";
    return 400;
  }
  if (version[5] != '1') {
    problem = "only HTTP/1.x is served";
    return 505;
  }
  if (target.empty() || target.front() != '/' ||
      std::any_of(target.begin(), target.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      })) {
    problem = "malformed request target";
    return 400;
  }
  r.method = method;
  r.target = target;
  r.minor_version = version[7] - '0';
  const std::size_t question = target.find('?');
  std::optional<std::string> path = percent_decode(target.substr(0, question), false);
  if (!path || path->find('\0') != std::string::npos) {
    problem = "malformed path";
    return 400;
  }
  r.path = std::move(*path);
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view item = query.substr(0, amp);
      if (!item.empty()) {
        const std::size_t eq = item.find('=');
        auto name = percent_decode(item.substr(0, eq), true);
        auto value = percent_decode(
            eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1), true);
        if (!name || !value) {
          problem = "malformed query";
          return 400;
        }
        r.query.emplace_back(std::move(*name), std::move(*value));
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return 0;
}

}  // namespace

bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view item = trim(value.substr(0, comma));
    if (lower(item) == token) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::optional<std::string_view> http_request::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return std::string_view(v);
  return std::nullopt;
}

std::optional<std::string_view> http_request::query_value(std::string_view name) const {
  for (const auto& [n, v] : query)
    if (n == name) return std::string_view(v);
  return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_digit(text[i + 1]);
      const int low = hex_digit(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

http_parse parse_request(std::string_view bytes, const http_limits& limits, http_request& request) {
  request = http_request{};
  // The request line alone can be judged as soon as it is complete: garbage is
  // refused at once rather than after max_head bytes of it.
  const std::size_t first_line = bytes.find("\r\n");
  if (first_line == std::string_view::npos) {
    if (bytes.size() > limits.max_head) return fail(431, "request head too large");
    if (bytes.find('\n') != std::string_view::npos) return fail(400, "bare LF in request line");
    return {};
  }
  std::string problem;
  if (int status = parse_request_line(bytes.substr(0, first_line), request, problem); status != 0)
    return fail(status, std::move(problem));

  const std::size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (bytes.size() > limits.max_head) return fail(431, "request head too large");
    return {};
  }
  if (head_end + 4 > limits.max_head) return fail(431, "request head too large");

  std::optional<std::size_t> content_length;
  std::string_view fields = head_end > first_line
                                ? bytes.substr(first_line + 2, head_end - first_line - 2)
                                : std::string_view();
  while (!fields.empty()) {
    const std::size_t end = fields.find("\r\n");
    const std::string_view line = fields.substr(0, end);
    fields = end == std::string_view::npos ? std::string_view() : fields.substr(end + 2);
    if (line.empty()) return fail(400, "empty header line");
    if (line.front() == ' ' || line.front() == '\t') return fail(400, "folded header line");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400, "header line without a colon");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (!is_token(name)) return fail(400, "malformed header name");
    if (!is_field_value(value)) return fail(400, "malformed header value");
    if (request.headers.size() == limits.max_headers) return fail(431, "too many headers");
    request.headers.emplace_back(lower(name), std::string(value));
    const std::string& key = request.headers.back().first;
    if (key == "content-length") {
      std::size_t n = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || ptr != value.data() + value.size())
        return fail(400, "malformed Content-Length");
      if (content_length && *content_length != n) return fail(400, "conflicting Content-Length");
      content_length = n;
    } else if (key == "transfer-encoding") {
      return fail(501, "Transfer-Encoding is not supported");
    }
  }
  if (request.minor_version >= 1 && !request.header("host")) return fail(400, "no Host header");
  const std::optional<std::string_view> connection = request.header("connection");
  request.keep_alive = request.minor_version >= 1
                           ? !(connection && lists_token(*connection, "close"))
                           : (connection && lists_token(*connection, "keep-alive"));

  const std::size_t length = content_length.value_or(0);
  if (length > limits.max_body) return fail(413, "request body too large");
  const std::size_t total = head_end + 4 + length;
  if (bytes.size() < total) return {};
  request.body = bytes.substr(head_end + 4, length);
  http_parse done;
  done.result = http_parse::outcome::complete;
  done.consumed = total;
  return done;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 421:
      return "Misdirected Request";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive,
                          const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string out = "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += keep_alive ? "\r\nConnection: keep-alive" : "\r\nConnection: close";
  out += "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
  for (const auto& [name, value] : extra) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace beamline::observer
