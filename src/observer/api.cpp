// api.cpp: the observer's JSON API (docs/observer.md lists every route and shape).
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "beamline/blocking.hpp"
#include "beamline/dist.hpp"
#include "beamline/observe.hpp"
#include "beamline/process.hpp"
#include "core/observe_timeline.hpp"
#include "observer/server.hpp"

namespace beamline::observer {

namespace {

using json = nlohmann::json;

reply json_reply(int status, const json& body) {
  return {status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

reply error_reply(int status, std::string_view message) {
  return json_reply(status, json{{"error", message}});
}

std::string_view priority_name(priority p) noexcept {
  switch (p) {
    case priority::low:
      return "low";
    case priority::normal:
      return "normal";
    case priority::high:
      return "high";
    case priority::max:
      return "max";
  }
  return "normal";
}

json name_json(const std::optional<atom>& name) {
  return name ? json(std::string(name->name())) : json(nullptr);
}

json pids_json(const std::vector<pid>& pids) {
  json out = json::array();
  for (const pid& p : pids) out.push_back(p.to_string());
  return out;
}

json row_json(const observe::process_row& row) {
  return {{"pid", row.process.to_string()},
          {"name", name_json(row.registered_name)},
          {"initial_call", row.initial_call},
          {"status", row.status},
          {"reductions", row.reductions},
          {"reductions_per_second", row.reductions_per_second},
          {"messages_in", row.messages_in},
          {"messages_out", row.messages_out},
          {"message_queue_len", row.message_queue_len},
          {"memory", row.memory},
          {"priority", priority_name(row.priority)},
          {"trap_exit", row.trap_exit},
          {"links", row.links},
          {"monitors", row.monitors},
          {"preemptions", row.preemptions},
          {"last_preempted_ms",
           row.last_preempted ? json(row.last_preempted->count()) : json(nullptr)}};
}

// "<0.12.0>" or "0.12.0": a process of this node.
std::optional<pid> parse_pid(std::string_view text) {
  if (text.size() >= 2 && text.front() == '<' && text.back() == '>')
    text = text.substr(1, text.size() - 2);
  std::uint32_t parts[3];
  for (int i = 0; i < 3; ++i) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parts[i]);
    if (ec != std::errc() || end == text.data()) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    if (i < 2) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
  }
  if (!text.empty() || parts[0] != 0 || parts[1] == 0) return std::nullopt;
  return pid{parts[1], parts[2], 0, 0};
}

std::optional<std::size_t> parse_count(std::string_view text) {
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

// A Host header naming this machine's loopback (a page of another site that has
// its name resolve to 127.0.0.1, DNS rebinding, sends its own name).
bool loopback_host(std::string_view host) {
  if (host.starts_with("[")) {
    const std::size_t close = host.find(']');
    return close != std::string_view::npos && host.substr(1, close - 1) == "::1";
  }
  host = host.substr(0, host.find(':'));
  return host == "localhost" || host.starts_with("127.");
}

bool authorized(const http_request& request, const std::string& token) {
  if (auto bearer = request.header("authorization"))
    if (*bearer == "Bearer " + token) return true;
  if (auto given = request.query_value("token"))
    if (*given == token) return true;
  return false;
}

// The sampler's summary if it is less than a second old, else a fresh one.
std::optional<observe::node_summary> recent_summary(server_state& state) {
  detail::lock_guard guard(state.history_lock);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  if (state.last_summary_ns != 0 && now - state.last_summary_ns < 1'000'000'000)
    return state.last_summary;
  return std::nullopt;
}

task<observe::node_summary> current_summary(server_state& state) {
  std::optional<observe::node_summary> recent = recent_summary(state);
  if (recent) co_return std::move(*recent);
  co_return co_await observe::summary();
}

json summary_json(const observe::node_summary& s, const server_state& state) {
  json workers = json::array();
  for (const auto& w : s.workers)
    workers.push_back(
        {{"runs", w.runs}, {"utilization", w.utilization}, {"run_queue", w.run_queue}});
  return {{"node", std::string(dist::node_name().name())},
          {"uptime_ms", s.uptime.count()},
          {"schedulers", s.schedulers},
          {"processes", s.processes},
          {"process_limit", s.process_limit},
          {"processes_spawned", s.processes_spawned},
          {"processes_exited", s.processes_exited},
          {"runnable", s.runnable},
          {"waiting", s.waiting},
          {"unpublished", s.unpublished},
          {"reductions", s.reductions},
          {"messages_queued", s.messages_queued},
          {"preemptions", s.preemptions},
          {"preempted_threads", s.preempted_threads},
          {"flood_migrations", s.flood_migrations},
          {"memory", {{"resident", s.memory_resident}, {"processes", s.memory_processes}}},
          {"atoms", s.atoms},
          {"io", {{"bytes_in", s.io_bytes_in}, {"bytes_out", s.io_bytes_out}}},
          {"distribution",
           {{"bytes_in", s.dist_bytes_in},
            {"bytes_out", s.dist_bytes_out},
            {"messages_in", s.dist_messages_in},
            {"messages_out", s.dist_messages_out}}},
          {"workers", workers},
          {"program_cores", s.program_cores},
          {"global_run_queue", s.global_run_queue},
          {"manage", state.options.manage}};
}

task<reply> summary_reply(server_state& state) {
  observe::node_summary s = co_await current_summary(state);
  co_return json_reply(200, summary_json(s, state));
}

json sample_json(const sample& s) {
  return {{"uptime_ms", s.uptime_ms},
          {"utilization", s.utilization},
          {"program_cores", s.program_cores},
          {"run_queues", s.run_queues},
          {"processes", s.processes},
          {"runnable", s.runnable},
          {"messages_queued", s.messages_queued},
          {"reductions_per_second", s.reductions_per_second},
          {"spawns_per_second", s.spawns_per_second},
          {"memory_resident", s.memory_resident},
          {"memory_processes", s.memory_processes},
          {"io_in_per_second", s.io_in_per_second},
          {"io_out_per_second", s.io_out_per_second},
          {"dist_messages_per_second", s.dist_messages_per_second}};
}

// Under state.history_lock.
json alarms_json(const std::vector<mailbox_alarm>& alarms) {
  json out = json::array();
  for (const mailbox_alarm& a : alarms)
    out.push_back({{"pid", a.process.to_string()},
                   {"name", name_json(a.registered_name)},
                   {"initial_call", a.initial_call},
                   {"message_queue_len", a.message_queue_len},
                   {"peak", a.peak},
                   {"growth_per_second", a.growth_per_second},
                   {"raised_uptime_ms", a.raised_uptime_ms}});
  return out;
}

reply alarms_reply(server_state& state) {
  detail::lock_guard guard(state.history_lock);
  return json_reply(
      200,
      json{{"raise", alarm_raise}, {"clear", alarm_clear}, {"alarms", alarms_json(state.alarms)}});
}

// One supervisor and, nested under its children, the supervisors among them.
json supervisor_json(const pid& p,
                     const std::unordered_map<pid, const observe::supervisor_view*>& by_pid,
                     std::unordered_set<pid>& drawn) {
  const observe::supervisor_view& v = *by_pid.at(p);
  drawn.insert(p);
  json children = json::array();
  for (const observe::supervisor_child& c : v.children) {
    json child = {{"id", c.id},
                  {"pid", c.process ? json(c.process->to_string()) : json(nullptr)},
                  {"type", c.supervisor ? "supervisor" : "worker"},
                  {"restarting", c.restarting},
                  {"restarts", c.restarts}};
    if (c.process && by_pid.contains(*c.process) && !drawn.contains(*c.process))
      child["tree"] = supervisor_json(*c.process, by_pid, drawn);
    children.push_back(std::move(child));
  }
  return {{"pid", v.process.to_string()},
          {"name", name_json(v.registered_name)},
          {"answered", v.answered},
          {"strategy", v.strategy},
          {"intensity", v.intensity},
          {"period_s", v.period.count()},
          {"restarts_in_period", v.restarts_in_period},
          {"restarts", v.restarts},
          {"children", children}};
}

task<reply> supervisors_reply() {
  observe::supervision all = co_await observe::supervisors();
  std::unordered_map<pid, const observe::supervisor_view*> by_pid;
  for (const auto& v : all.supervisors) by_pid.emplace(v.process, &v);
  std::unordered_set<pid> drawn;
  json roots = json::array();
  for (const pid& root : all.roots) roots.push_back(supervisor_json(root, by_pid, drawn));
  co_return json_reply(200, json{{"supervisors", all.supervisors.size()}, {"roots", roots}});
}

// The lanes for the dashboard: times in milliseconds from the window's start, each
// run as [start, end, pid, runs, handed off (0 or 1)]; a label per process.
json timeline_json(const observe::scheduling_timeline& t) {
  auto ms = [&t](std::int64_t ns) {
    return static_cast<double>(std::max<std::int64_t>(ns - t.from_ns, 0) / 1000) / 1000.0;
  };
  json lanes = json::array();
  for (const observe::timeline_lane& lane : t.lanes) {
    json runs = json::array();
    for (const observe::timeline_run& r : lane.runs)
      runs.push_back(
          {ms(r.start_ns), ms(r.end_ns), r.process.to_string(), r.runs, r.handed_off ? 1 : 0});
    json parked = json::array();
    for (const auto& [from, to] : lane.parked) parked.push_back({ms(from), ms(to)});
    json steals = json::array();
    for (const auto& [at, victim] : lane.steals) steals.push_back({ms(at), victim});
    lanes.push_back(
        {{"worker", lane.worker}, {"runs", runs}, {"parked", parked}, {"steals", steals}});
  }
  json labels = json::object();
  for (const auto& [p, label] : t.labels) labels[p.to_string()] = label;
  return {{"window_ms", ms(t.now_ns)}, {"lanes", lanes}, {"labels", labels}};
}

task<reply> timeline_reply(const http_request& request) {
  std::size_t window_ms = 5000;
  if (auto v = request.query_value("ms")) {
    auto n = parse_count(*v);
    if (!n || *n == 0 || *n > 60000) co_return error_reply(400, "ms is a number from 1 to 60000");
    window_ms = *n;
  }
  // By default a run shorter than a thousandth of the window is merged with its
  // neighbours: a page draws no finer.
  std::size_t resolution_us = window_ms;
  if (auto v = request.query_value("resolution_us")) {
    auto n = parse_count(*v);
    if (!n || *n > 60'000'000) co_return error_reply(400, "resolution_us is a number");
    resolution_us = *n;
  }
  const auto format = request.query_value("format").value_or("json");
  if (format != "json" && format != "trace") co_return error_reply(400, "format is json or trace");
  // A trace is for reading run by run, but whole rings of a worker that runs a
  // process yielding all the time are tens of MB: by default it merges runs under
  // 5 us (resolution_us=0: every run).
  if (format == "trace" && !request.query_value("resolution_us")) resolution_us = 5;
  // The rings are copied here; the lanes and their text are built on a blocking
  // thread: tens of milliseconds for busy rings (a trace of whole rings, half a
  // second), which on a worker would be preempted and finish at a low OS priority.
  const observe::detail::timeline_copy rings = observe::detail::copy_timeline();
  co_return co_await blocking(
      [&]() -> reply {
        const observe::scheduling_timeline t = observe::detail::lanes_of(
            rings, std::chrono::milliseconds(window_ms), std::chrono::microseconds(resolution_us));
        if (format == "trace") return {200, "application/json", observe::to_trace_json(t)};
        return json_reply(200, timeline_json(t));
      },
      dirty_pool::cpu);
}

task<reply> record_reply(server_state& state) {
  const record_result r = co_await record_now(state, "request");
  if (!r.written) co_return error_reply(state.options.record_dir.empty() ? 404 : 500, r.text);
  co_return json_reply(200, json{{"path", r.text}});
}

json nodes_json() {
  json out = json::array();
  for (const atom& n : dist::nodes()) out.push_back(std::string(n.name()));
  return out;
}

reply history_reply(server_state& state) {
  json samples = json::array();
  {
    detail::lock_guard guard(state.history_lock);
    for (const sample& s : state.history) samples.push_back(sample_json(s));
  }
  return json_reply(200, json{{"interval_ms", 1000}, {"samples", samples}});
}

task<reply> processes_reply(const http_request& request) {
  observe::process_query query;
  if (auto sort = request.query_value("sort")) {
    auto key = observe::sort_key_from(*sort);
    if (!key) co_return error_reply(400, "unknown sort key: " + std::string(*sort));
    query.sort = *key;
  }
  if (auto order = request.query_value("order")) {
    if (*order != "asc" && *order != "desc") co_return error_reply(400, "order is asc or desc");
    query.descending = *order == "desc";
  }
  if (auto offset = request.query_value("offset")) {
    auto n = parse_count(*offset);
    if (!n) co_return error_reply(400, "offset is a number");
    query.offset = *n;
  }
  if (auto limit = request.query_value("limit")) {
    auto n = parse_count(*limit);
    if (!n || *n > 1000) co_return error_reply(400, "limit is a number up to 1000");
    query.limit = *n;
  }
  if (auto filter = request.query_value("filter")) query.filter = *filter;
  observe::process_page page = co_await observe::processes(query);
  json rows = json::array();
  for (const auto& row : page.rows) rows.push_back(row_json(row));
  co_return json_reply(200, json{{"matched", page.matched},
                                 {"offset", query.offset},
                                 {"sort", observe::to_string(query.sort)},
                                 {"order", query.descending ? "desc" : "asc"},
                                 {"rows", rows}});
}

task<reply> process_reply(pid target, const server_state& state) {
  const std::size_t max_messages = state.options.manage ? 100 : 0;
  std::optional<process_info> info = co_await observe::process(target, max_messages);
  if (!info) co_return error_reply(404, "no such process: " + target.to_string());
  json body = {{"pid", info->process.to_string()},
               {"name", name_json(info->registered_name)},
               {"initial_call", info->initial_call},
               {"status", info->status},
               {"reductions", info->reductions},
               {"messages_in", info->messages_in},
               {"messages_out", info->messages_out},
               {"message_queue_len", info->message_queue_len},
               {"memory", info->memory},
               {"priority", priority_name(info->priority)},
               {"trap_exit", info->trap_exit},
               {"links", pids_json(info->links)},
               {"monitors", pids_json(info->monitors)},
               {"monitored_by", pids_json(info->monitored_by)}};
  if (state.options.manage)
    body["messages"] = info->messages;
  else
    body["messages"] = nullptr;  // reading messages needs manage
  co_return json_reply(200, body);
}

// POST /api/processes/PID/kill or /exit ({"reason": "an_existing_atom"}).
reply action_reply(const http_request& request, pid target, std::string_view action,
                   const server_state& state) {
  if (!state.options.manage)
    return error_reply(403, "actions need the manage permission (--observer-manage)");
  const auto type = request.header("content-type");
  if (!type || !type->starts_with("application/json"))
    return error_reply(415, "actions take a JSON body (Content-Type: application/json)");
  json body = json::parse(request.body.empty() ? std::string("{}") : request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return error_reply(400, "malformed JSON body");
  atom reason("kill");
  if (action == "exit") {
    auto given = body.find("reason");
    if (given == body.end() || !given->is_string())
      return error_reply(400, "exit needs a reason: {\"reason\": \"...\"}");
    // Only atoms that exist already: the atom table is never emptied, and a client
    // must not be able to fill it.
    auto existing = atom::existing(given->get<std::string>());
    if (!existing) return error_reply(400, "the reason must be an existing atom");
    reason = *existing;
  }
  if (!is_alive(target)) return error_reply(404, "no such process: " + target.to_string());
  beamline::exit(target, term(reason));
  return json_reply(200, json{{"pid", target.to_string()}, {"sent", std::string(reason.name())}});
}

json index_json() {
  return {{"routes",
           {"GET /api/summary", "GET /api/history",
            "GET /api/processes?sort=KEY&order=desc|asc&offset=N&limit=N&filter=TEXT",
            "GET /api/processes/PID", "POST /api/processes/PID/kill",
            "POST /api/processes/PID/exit", "GET /api/alarms", "GET /api/supervisors",
            "GET /api/timeline?ms=N&resolution_us=N&format=json|trace", "POST /api/timeline/record",
            "GET /ws (WebSocket: an update a second)"}}};
}

const asset* find_asset(std::string_view path) {
  if (path == "/index.html") path = "/";
  for (const asset& a : dashboard_assets())
    if (a.path == path) return &a;
  return nullptr;
}

}  // namespace

std::optional<reply> refusal(const http_request& request, const server_state& state) {
  if (!state.token_required) {
    const auto host = request.header("host");
    if (host && !loopback_host(*host))
      return error_reply(403, "the Host header must name the loopback address");
  } else if (!authorized(request, state.options.token)) {
    return error_reply(401, "a token is required (Authorization: Bearer TOKEN or ?token=)");
  }
  return std::nullopt;
}

task<std::string> live_update(server_state& state) {
  observe::node_summary s = co_await current_summary(state);
  json update = {{"type", "update"}, {"summary", summary_json(s, state)}, {"nodes", nodes_json()}};
  {
    detail::lock_guard guard(state.history_lock);
    update["sample"] = state.history.empty() ? json(nullptr) : sample_json(state.history.back());
    update["alarms"] = alarms_json(state.alarms);
  }
  co_return update.dump(-1, ' ', false, json::error_handler_t::replace);
}

task<reply> answer(const http_request& request, server_state& state) {
  const bool read = request.method == "GET" || request.method == "HEAD";
  std::string_view path = request.path;
  // The dashboard's files hold nothing of the node: they need no token (the page
  // takes it from its own address and sends it with every API request).
  if (!path.starts_with("/api")) {
    const asset* file = find_asset(path);
    if (file == nullptr) co_return error_reply(404, "no such route");
    if (!read) co_return error_reply(405, "GET only");
    if (!state.token_required)  // then refusal() checks only the Host header
      if (std::optional<reply> refused = refusal(request, state)) co_return std::move(*refused);
    co_return reply{200, std::string(file->content_type), std::string(file->body)};
  }
  if (std::optional<reply> refused = refusal(request, state)) co_return std::move(*refused);
  if (path == "/api" || path == "/api/") {
    if (!read) co_return error_reply(405, "GET only");
    co_return json_reply(200, index_json());
  }
  if (path == "/api/summary") {
    if (!read) co_return error_reply(405, "GET only");
    co_return co_await summary_reply(state);
  }
  if (path == "/api/history") {
    if (!read) co_return error_reply(405, "GET only");
    co_return history_reply(state);
  }
  if (path == "/api/supervisors") {
    if (!read) co_return error_reply(405, "GET only");
    co_return co_await supervisors_reply();
  }
  if (path == "/api/alarms") {
    if (!read) co_return error_reply(405, "GET only");
    co_return alarms_reply(state);
  }
  if (path == "/api/timeline") {
    if (!read) co_return error_reply(405, "GET only");
    co_return co_await timeline_reply(request);
  }
  if (path == "/api/timeline/record") {
    if (request.method != "POST") co_return error_reply(405, "POST only");
    co_return co_await record_reply(state);
  }
  if (path == "/api/processes") {
    if (!read) co_return error_reply(405, "GET only");
    co_return co_await processes_reply(request);
  }
  constexpr std::string_view prefix = "/api/processes/";
  if (path.starts_with(prefix)) {
    std::string_view rest = path.substr(prefix.size());
    const std::size_t slash = rest.find('/');
    const std::optional<pid> target = parse_pid(rest.substr(0, slash));
    if (!target) co_return error_reply(400, "not a pid of this node: " + std::string(rest));
    if (slash == std::string_view::npos) {
      if (!read) co_return error_reply(405, "GET only");
      co_return co_await process_reply(*target, state);
    }
    const std::string_view action = rest.substr(slash + 1);
    if (action != "kill" && action != "exit") co_return error_reply(404, "no such route");
    if (request.method != "POST") co_return error_reply(405, "POST only");
    co_return action_reply(request, *target, action, state);
  }
  co_return error_reply(404, "no such route");
}

}  // namespace beamline::observer
