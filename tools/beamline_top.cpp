// beamline-top: a terminal view of a running beamline node, like top or
// observer_cli, read from the node's observer API (docs/observer.md).
//
//     beamline-top --port 8080 [--host H] [--token T] [--interval S] [--sort KEY]
//                  [--limit N] [--once]
//
// The node runs with --observer PORT. The view is a summary (processes, memory,
// each worker's utilization) and the top processes by the sort key, refreshed every
// interval (2 s by default). Keys: r reductions/s, t total reductions, m memory,
// b mailbox (queue length), i messages in, o messages out, p pid, n name; + and -
// change the interval; q (or Ctrl-C) quits. --once prints one view as plain text
// and exits (scripts, tests); so does a run whose output is not a terminal, once
// per interval. A plain POSIX program: it does not link the library, only reads
// JSON over HTTP, so it works over SSH wherever the node's port is reachable.
#include <netdb.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using json = nlohmann::json;

struct options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string token;
  double interval = 2;
  std::string sort = "reductions_per_second";
  int limit = 0;  // 0: as many as the terminal shows
  bool once = false;
};

struct sort_choice {
  char key;
  const char* name;   // the API's
  const char* label;  // the column's
  const char* alias;  // for --sort
};

constexpr sort_choice sorts[] = {
    {'r', "reductions_per_second", "REDS/S", "rate"},
    {'t', "reductions", "REDUCTIONS", "reductions"},
    {'m', "memory", "MEMORY", "memory"},
    {'b', "message_queue_len", "QUEUE", "queue"},
    {'i', "messages_in", "IN", "in"},
    {'o', "messages_out", "OUT", "out"},
    {'p', "pid", "PID", "pid"},
    {'n', "name", "NAME", "name"},
};

const sort_choice* find_sort(std::string_view name) {
  for (const auto& s : sorts)
    if (name == s.name || name == s.alias) return &s;
  return nullptr;
}

[[noreturn]] void usage(const char* problem) {
  std::fprintf(stderr,
               "beamline-top: %s\nusage: beamline-top --port PORT [--host HOST] [--token TOKEN] "
               "[--interval SECONDS] [--sort rate|reductions|memory|queue|in|out|pid|name] "
               "[--limit N] [--once]\n",
               problem);
  std::exit(2);
}

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((std::string(a) + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--host") {
      o.host = value();
    } else if (a == "--port") {
      o.port = value();
    } else if (a == "--token") {
      o.token = value();
    } else if (a == "--interval") {
      o.interval = std::atof(value().c_str());
      if (!(o.interval >= 0.1)) usage("--interval is at least 0.1 seconds");
    } else if (a == "--sort") {
      const sort_choice* s = find_sort(value());
      if (s == nullptr) usage("unknown sort key");
      o.sort = s->name;
    } else if (a == "--limit") {
      o.limit = std::atoi(value().c_str());
      if (o.limit <= 0) usage("--limit is a positive number");
    } else if (a == "--once") {
      o.once = true;
    } else {
      usage(("unknown option " + std::string(a)).c_str());
    }
  }
  if (o.port.empty()) usage("--port is needed");
  return o;
}

// One GET, on a connection of its own; the body of a 200, or throws with the reason.
std::string http_get(const options& o, const std::string& target) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int e = ::getaddrinfo(o.host.c_str(), o.port.c_str(), &hints, &found); e != 0)
    throw std::runtime_error("cannot resolve " + o.host + ": " + ::gai_strerror(e));
  int fd = -1;
  int error = 0;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      error = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0)
    throw std::runtime_error("cannot connect to " + o.host + ":" + o.port + ": " +
                             std::strerror(error) + " (is the node running with --observer " +
                             o.port + "?)");
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + o.host + "\r\n";
  if (!o.token.empty()) request += "Authorization: Bearer " + o.token + "\r\n";
  request += "Connection: close\r\n\r\n";
  std::string response;
  bool ok = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size());
  char buffer[65536];
  while (ok) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0) ok = false;
    if (n <= 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!ok) throw std::runtime_error("the node did not answer");
  const std::size_t head_end = response.find("\r\n\r\n");
  if (response.compare(0, 9, "HTTP/1.1 ") != 0 || head_end == std::string::npos)
    throw std::runtime_error("not an HTTP answer");
  const int status = std::atoi(response.c_str() + 9);
  std::string body = response.substr(head_end + 4);
  if (status != 200) {
    json answer = json::parse(body, nullptr, false);
    std::string why = answer.is_object() && answer.contains("error")
                          ? answer["error"].get<std::string>()
                          : std::string("status ") + std::to_string(status);
    throw std::runtime_error(target + ": " + why);
  }
  return body;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char out[32];
  std::snprintf(out, sizeof out, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return out;
}

std::string human_count(double n) {
  char out[32];
  if (n >= 1e9)
    std::snprintf(out, sizeof out, "%.1fG", n / 1e9);
  else if (n >= 1e6)
    std::snprintf(out, sizeof out, "%.1fM", n / 1e6);
  else if (n >= 1e4)
    std::snprintf(out, sizeof out, "%.1fk", n / 1e3);
  else
    std::snprintf(out, sizeof out, "%.0f", n);
  return out;
}

std::string uptime_text(long long ms) {
  const long long s = ms / 1000;
  char out[32];
  std::snprintf(out, sizeof out, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return out;
}

// One view: the lines to print, each at most `width` columns.
std::vector<std::string> render(const options& o, int rows, int width) {
  const json summary = json::parse(http_get(o, "/api/summary"));
  const int limit = o.limit > 0 ? o.limit : std::max(1, rows - 5);
  const json page =
      json::parse(http_get(o, "/api/processes?sort=" + o.sort + "&order=" +
                                  (o.sort == "pid" || o.sort == "name" ? "asc" : "desc") +
                                  "&limit=" + std::to_string(std::min(limit, 1000))));
  const sort_choice* sort = find_sort(o.sort);
  std::vector<std::string> lines;
  char line[512];
  std::snprintf(line, sizeof line,
                "beamline-top  %s  up %s  %d schedulers  sort: %s (%c)  every %gs",
                summary["node"].get<std::string>().c_str(),
                uptime_text(summary["uptime_ms"].get<long long>()).c_str(),
                summary["schedulers"].get<int>(), sort->label, sort->key, o.interval);
  lines.emplace_back(line);
  std::snprintf(line, sizeof line,
                "processes %llu/%llu  runnable %llu  waiting %llu  queued %llu  preemptions %llu",
                summary["processes"].get<unsigned long long>(),
                summary["process_limit"].get<unsigned long long>(),
                summary["runnable"].get<unsigned long long>(),
                summary["waiting"].get<unsigned long long>(),
                summary["messages_queued"].get<unsigned long long>(),
                summary["preemptions"].get<unsigned long long>());
  lines.emplace_back(line);
  std::snprintf(line, sizeof line, "memory %s resident, %s in processes  atoms %llu",
                human_bytes(summary["memory"]["resident"].get<double>()).c_str(),
                human_bytes(summary["memory"]["processes"].get<double>()).c_str(),
                summary["atoms"].get<unsigned long long>());
  std::string figures = line;
  if (summary.contains("io")) {  // a node from before the IO figures has none
    std::snprintf(line, sizeof line, "  io %s in, %s out  dist %llu/%llu messages in/out",
                  human_bytes(summary["io"]["bytes_in"].get<double>()).c_str(),
                  human_bytes(summary["io"]["bytes_out"].get<double>()).c_str(),
                  summary["distribution"]["messages_in"].get<unsigned long long>(),
                  summary["distribution"]["messages_out"].get<unsigned long long>());
    figures += line;
  }
  lines.push_back(figures);
  std::string workers = "workers";
  int index = 0;
  for (const auto& w : summary["workers"]) {
    std::snprintf(line, sizeof line, "  %d: %3.0f%%", index++,
                  std::round(w["utilization"].get<double>() * 100));
    workers += line;
  }
  if (summary.contains("program_cores")) {
    std::snprintf(line, sizeof line, "   whole program %.2f cores",
                  summary["program_cores"].get<double>());
    workers += line;
  }
  lines.push_back(workers);
  std::snprintf(line, sizeof line, "%-14s %-18s %9s %11s %6s %9s %8s %8s  %s", "PID", "NAME",
                "REDS/S", "REDUCTIONS", "QUEUE", "MEMORY", "IN", "OUT", "STATUS");
  lines.emplace_back(line);
  for (const auto& row : page["rows"]) {
    const std::string name = row["name"].is_null() ? "" : row["name"].get<std::string>();
    std::snprintf(line, sizeof line, "%-14s %-18.18s %9s %11llu %6llu %9s %8llu %8llu  %s",
                  row["pid"].get<std::string>().c_str(), name.c_str(),
                  human_count(row["reductions_per_second"].get<double>()).c_str(),
                  row["reductions"].get<unsigned long long>(),
                  row["message_queue_len"].get<unsigned long long>(),
                  human_bytes(row["memory"].get<double>()).c_str(),
                  row["messages_in"].get<unsigned long long>(),
                  row["messages_out"].get<unsigned long long>(),
                  row["status"].get<std::string>().c_str());
    lines.emplace_back(line);
  }
  for (auto& l : lines)
    if (width > 0 && static_cast<int>(l.size()) > width) l.resize(static_cast<std::size_t>(width));
  return lines;
}

class raw_terminal {
 public:
  raw_terminal() {
    ::tcgetattr(STDIN_FILENO, &saved_);
    termios raw = saved_;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO | ISIG));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    std::fputs("\x1b[?1049h\x1b[?25l", stdout);  // alternate screen, no cursor
  }
  ~raw_terminal() {
    std::fputs("\x1b[?25h\x1b[?1049l", stdout);
    std::fflush(stdout);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  raw_terminal(const raw_terminal&) = delete;
  raw_terminal& operator=(const raw_terminal&) = delete;

 private:
  termios saved_{};
};

void size_of_terminal(int& rows, int& columns) {
  winsize w{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_row > 0) {
    rows = w.ws_row;
    columns = w.ws_col;
  }
}

int interactive(options& o) {
  raw_terminal terminal;
  std::string problem;
  for (;;) {
    int rows = 24;
    int columns = 80;
    size_of_terminal(rows, columns);
    std::string screen = "\x1b[H\x1b[2J";
    try {
      for (const auto& l : render(o, rows - 1, columns)) screen += l + "\r\n";
      problem.clear();
    } catch (const std::exception& e) {
      problem = e.what();
      screen += "beamline-top: " + problem + "\r\n(retrying; q quits)\r\n";
    }
    std::fputs(screen.c_str(), stdout);
    std::fflush(stdout);
    pollfd in{STDIN_FILENO, POLLIN, 0};
    if (::poll(&in, 1, static_cast<int>(o.interval * 1000)) > 0) {
      char key = 0;
      if (::read(STDIN_FILENO, &key, 1) != 1) continue;
      if (key == 'q' || key == 3 || key == 27) return 0;
      if (key == '+') o.interval = std::min(60.0, o.interval * 2);
      if (key == '-') o.interval = std::max(0.25, o.interval / 2);
      for (const auto& s : sorts)
        if (key == s.key) o.sort = s.name;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse_options(argc, argv);
  const bool terminal = ::isatty(STDIN_FILENO) != 0 && ::isatty(STDOUT_FILENO) != 0;
  if (!o.once && terminal) return interactive(o);
  for (;;) {
    try {
      int rows = 0;
      int columns = 0;
      size_of_terminal(rows, columns);
      if (o.limit == 0) o.limit = rows > 6 ? rows - 6 : 20;
      for (const auto& l : render(o, rows, columns)) std::printf("%s\n", l.c_str());
      std::fflush(stdout);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "beamline-top: %s\n", e.what());
      if (o.once) return 1;
    }
    if (o.once) return 0;
    std::printf("\n");
    ::usleep(static_cast<useconds_t>(o.interval * 1e6));
  }
}
