// supervisor.cpp: the supervisor behaviour, a gen_server whose state is its children.
//
// Owns: the children's specs and records, the restart history, and the procedures
// of shared/reference/erlang-process-semantics.md section 11 (start order, shutdown
// of one child, reverse-order termination, restart strategies, restart intensity,
// start failures). Everything runs in the supervisor process: its state is touched
// only by its callbacks, which the gen_server loop runs one at a time.
//
// Records. A static child (one_for_one, one_for_all, rest_for_one) has a record in
// `children_`, in start order. A dynamic child (simple_one_for_one) has a record in
// `dynamic_`, keyed by a number that never changes (the record of a child whose
// restart failed keeps its key, which the retry message carries). `running_` maps
// the pid of every running child, static or dynamic, to its record, so an EXIT
// finds its child in O(1) (OTP scans the children of a static supervisor).
//
// Invariants:
// - record.running is non-null iff running_ maps that pid to the record, and only
//   while the supervisor holds a link to it (it traps exits, so the child's end
//   arrives as an exit_message).
// - record.restarting is true only while a try_again_restart cast for its key is
//   queued (or being handled).
// - restarts_ is sorted newest first; the restart decision follows OTP's add_restart.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "beamline/otp/supervisor.hpp"
#include "core/exceptions.hpp"
#include "core/runtime_access.hpp"

namespace beamline::supervisor {

using namespace std::chrono_literals;

term child_info::to_term() const {
  term state = child ? term(*child) : term(restarting ? atom("restarting") : atoms::undefined);
  return term::tuple(
      {id, state, type == child_type::supervisor ? atoms::supervisor : atoms::worker, term::nil()});
}

namespace {

// --- requests ----------------------------------------------------------------------------

struct start_child_request {
  child_spec spec;
};
struct start_extra_request {
  term extra;
};
struct terminate_child_request {
  term id;
};
struct restart_child_request {
  term id;
};
struct delete_child_request {
  term id;
};
struct which_children_request {};
struct count_children_request {};
struct describe_request {};
struct try_again_restart {
  std::uint64_t key;
};

struct child_record {
  child_spec spec;
  pid running;              // null: not running
  bool restarting = false;  // its restart failed; a retry is queued
  std::uint64_t key = 0;
  std::uint64_t restarts = 0;  // restarts because it ended (describe)
};

// --- helpers -------------------------------------------------------------------------------

std::chrono::milliseconds shutdown_of(const child_spec& spec) {
  if (spec.shutdown) return *spec.shutdown;
  return spec.type == child_type::supervisor ? infinity : 5000ms;
}

std::optional<term> check_spec(const child_spec& spec, bool template_only) {
  if (!spec.start && !(template_only && spec.start_with))
    return term::tuple({atom("invalid_mfa"), spec.id});
  if (static_cast<unsigned>(spec.restart) > static_cast<unsigned>(restart::temporary))
    return term::tuple({atom("invalid_restart_type"), static_cast<int>(spec.restart)});
  if (static_cast<unsigned>(spec.type) > static_cast<unsigned>(child_type::supervisor))
    return term::tuple({atom("invalid_child_type"), static_cast<int>(spec.type)});
  if (spec.shutdown && *spec.shutdown != brutal_kill && *spec.shutdown != infinity &&
      spec.shutdown->count() < 0)
    return term::tuple(
        {atom("invalid_shutdown"), static_cast<std::int64_t>(spec.shutdown->count())});
  return std::nullopt;
}

std::optional<term> check_flags(const flags& f) {
  if (static_cast<unsigned>(f.strategy) > static_cast<unsigned>(strategy::simple_one_for_one))
    return term::tuple({atom("invalid_strategy"), static_cast<int>(f.strategy)});
  if (f.intensity < 0) return term::tuple({atom("invalid_intensity"), f.intensity});
  if (f.period.count() <= 0)
    return term::tuple({atom("invalid_period"), static_cast<std::int64_t>(f.period.count())});
  return std::nullopt;
}

bool logging() noexcept {
  return detail::node_logs_crashes();
}

void report(const std::string& what) noexcept {
  if (!logging()) return;
  try {
    std::string line = "beamline: supervisor " + self().to_string() + ": " + what + "\n";
    std::fputs(line.c_str(), stderr);
  } catch (...) {
  }
}

bool is_exit_from(detail::signal* s, const void* context) {
  return s->type == &detail::signal_type_of<std::tuple<exit_message>> &&
         std::get<0>(detail::payload_of<std::tuple<exit_message>>(s)).from ==
             *static_cast<const pid*>(context);
}

// Unlinks a child that has ended and returns the reason of its EXIT, if queued
// (OTP's unlink_flush): the EXIT is more precise than the DOWN when both exist.
term unlink_flush(const pid& child, term down_reason) {
  unlink(child);
  if (detail::signal* s = detail::take_queued(nullptr, &is_exit_from, &child)) {
    term reason = std::get<0>(detail::payload_of<std::tuple<exit_message>>(s)).reason;
    detail::destroy(s);
    return reason;
  }
  return down_reason;
}

// --- the server ------------------------------------------------------------------------------

}  // namespace

const char* const supervisor_initial_call = "supervisor (supervisor)";

namespace {

class supervisor_server {
 public:
  supervisor_server(flags how, std::vector<child_spec> specs)
      : flags_(how), initial_(std::move(specs)) {}

  task<gen_server::init_result> init() {
    trap_exit(true);
    // What observe::supervisors() looks for (rather than a compiler's type name).
    detail::process_control& me = detail::current_process("supervisor");
    me.set_initial_call(supervisor_initial_call);
    me.request_publication();
    if (auto bad = check_flags(flags_))
      co_return gen_server::init_result::stop(term::tuple({atom("supervisor_data"), *bad}));
    if (dynamic()) {
      if (initial_.size() > 1)
        co_return gen_server::init_result::stop(
            term::tuple({atom("bad_start_spec"), static_cast<std::int64_t>(initial_.size())}));
      if (initial_.size() == 1) {
        if (auto bad = check_spec(initial_[0], true))
          co_return gen_server::init_result::stop(term::tuple({atom("start_spec"), *bad}));
        template_ = std::move(initial_[0]);
      }
      initial_.clear();
      co_return gen_server::init_result::ok();
    }
    for (std::size_t i = 0; i < initial_.size(); ++i) {
      if (auto bad = check_spec(initial_[i], false))
        co_return gen_server::init_result::stop(term::tuple({atom("start_spec"), *bad}));
      for (std::size_t j = 0; j < i; ++j)
        if (initial_[j].id == initial_[i].id)
          co_return gen_server::init_result::stop(term::tuple(
              {atom("start_spec"), term::tuple({atom("duplicate_child_name"), initial_[i].id})}));
    }
    for (child_spec& spec : initial_) children_.push_back(make_record(std::move(spec)));
    initial_.clear();
    std::optional<std::pair<term, term>> failed = co_await start_children(0);
    if (failed) {
      co_await terminate_children(0);
      co_return gen_server::init_result::stop(term::tuple(
          {atoms::shutdown,
           term::tuple({atom("failed_to_start_child"), failed->first, failed->second})}));
    }
    co_return gen_server::init_result::ok();
  }

  // --- calls ---------------------------------------------------------------------------------

  task<start_result> handle_call(start_child_request r) {
    if (auto bad = check_spec(r.spec, false)) co_return start_result::error(*bad);
    if (dynamic()) co_return co_await start_dynamic(std::move(r.spec));
    if (child_record* existing = find_by_id(r.spec.id)) {
      if (!existing->running.is_null())
        co_return start_result::error(term::tuple({atom("already_started"), existing->running}));
      co_return start_result::error(atom("already_present"));
    }
    children_.push_back(make_record(std::move(r.spec)));
    child_record& c = *children_.back();
    start_result result = co_await start_one(c);
    if (result.is_error() || (result.is_ignore() && c.spec.restart == restart::temporary))
      children_.pop_back();
    co_return result;
  }

  task<start_result> handle_call(start_extra_request r) {
    if (!dynamic() || !template_ || !template_->start_with)
      co_return start_result::error(term::tuple({atom("invalid_child_spec"), r.extra}));
    child_spec spec = *template_;
    start_with_function with = template_->start_with;
    term extra = r.extra;
    spec.start = [with, extra]() -> task<start_result> { co_return co_await with(extra); };
    co_return co_await start_dynamic(std::move(spec));
  }

  task<status> handle_call(terminate_child_request r) {
    if (dynamic()) {
      if (!r.id.is_pid()) co_return status::error(atoms::simple_one_for_one);
      auto it = running_.find(r.id.as_pid());
      if (it == running_.end()) co_return status::error(atom("not_found"));
      child_record* c = it->second;
      co_await shutdown_child(*c);
      dynamic_.erase(c->key);
      co_return status::ok();
    }
    child_record* c = find_by_id(r.id);
    if (c == nullptr) co_return status::error(atom("not_found"));
    co_await shutdown_child(*c);
    c->restarting = false;
    if (c->spec.restart == restart::temporary) remove_static(c);
    co_return status::ok();
  }

  task<start_result> handle_call(restart_child_request r) {
    if (dynamic()) co_return start_result::error(atoms::simple_one_for_one);
    child_record* c = find_by_id(r.id);
    if (c == nullptr) co_return start_result::error(atom("not_found"));
    if (c->restarting) co_return start_result::error(atom("restarting"));
    if (!c->running.is_null()) co_return start_result::error(atom("running"));
    co_return co_await start_one(*c);
  }

  status handle_call(delete_child_request r) {
    if (dynamic()) return status::error(atoms::simple_one_for_one);
    child_record* c = find_by_id(r.id);
    if (c == nullptr) return status::error(atom("not_found"));
    if (c->restarting) return status::error(atom("restarting"));
    if (!c->running.is_null()) return status::error(atom("running"));
    remove_static(c);
    return status::ok();
  }

  std::vector<child_info> handle_call(which_children_request) {
    std::vector<child_info> rows;
    auto row = [](const child_record& c, term id) {
      child_info info;
      info.id = std::move(id);
      if (!c.running.is_null()) info.child = c.running;
      info.restarting = c.restarting;
      info.type = c.spec.type;
      info.restarts = c.restarts;
      return info;
    };
    if (dynamic()) {
      for (const auto& [key, c] : dynamic_) rows.push_back(row(*c, atoms::undefined));
    } else {
      for (const auto& c : children_) rows.push_back(row(*c, c->spec.id));
    }
    return rows;
  }

  description handle_call(describe_request) {
    description d;
    d.how = flags_;
    const std::int64_t threshold = now_seconds() - flags_.period.count();
    d.restarts_in_period = static_cast<std::size_t>(std::count_if(
        restarts_.begin(), restarts_.end(), [&](std::int64_t t) { return t >= threshold; }));
    d.restarts = restarts_total_;
    d.children = handle_call(which_children_request{});
    return d;
  }

  child_counts handle_call(count_children_request) {
    child_counts counts;
    auto count = [&](const child_record& c) {
      if (!dynamic()) ++counts.specs;
      if (!c.running.is_null()) ++counts.active;
      if (c.spec.type == child_type::supervisor)
        ++counts.supervisors;
      else
        ++counts.workers;
    };
    if (dynamic()) {
      counts.specs = template_ ? 1 : 0;
      for (const auto& entry : dynamic_) count(*entry.second);
    } else {
      for (const auto& c : children_) count(*c);
    }
    return counts;
  }

  // --- restarts ------------------------------------------------------------------------------

  task<gen_server::result> handle_info(exit_message e) {
    auto it = running_.find(e.from);
    if (it == running_.end()) co_return gen_server::noreply();  // not (or no longer) a child
    child_record* c = it->second;
    running_.erase(it);
    c->running = {};
    bool restart_it =
        c->spec.restart == restart::permanent ||
        (c->spec.restart == restart::transient && !detail::is_shutdown_reason(e.reason));
    if (!restart_it) {
      if (!detail::is_shutdown_reason(e.reason))
        report("child " + c->spec.id.to_string() + " " + e.from.to_string() +
               " exited with reason " + e.reason.to_string() + " (not restarted)");
      forget(c);
      co_return gen_server::noreply();
    }
    report("child " + c->spec.id.to_string() + " " + e.from.to_string() + " exited with reason " +
           e.reason.to_string() + "; restarting");
    co_return co_await restart(c);
  }

  task<gen_server::result> handle_cast(try_again_restart r) {
    child_record* c = find_by_key(r.key);
    if (c == nullptr || !c->restarting) co_return gen_server::noreply();
    co_return co_await restart(c);
  }

  // Stops every child: in reverse start order, one at a time; dynamic ones at once.
  task<void> terminate(const term&) {
    if (dynamic())
      co_await terminate_dynamic();
    else
      co_await terminate_children(0);
  }

 private:
  bool dynamic() const noexcept { return flags_.strategy == strategy::simple_one_for_one; }

  std::unique_ptr<child_record> make_record(child_spec spec) {
    auto c = std::make_unique<child_record>();
    c->spec = std::move(spec);
    c->key = ++last_key_;
    return c;
  }

  child_record* find_by_id(const term& id) {
    for (auto& c : children_)
      if (c->spec.id == id) return c.get();
    return nullptr;
  }

  child_record* find_by_key(std::uint64_t key) {
    if (dynamic()) {
      auto it = dynamic_.find(key);
      return it == dynamic_.end() ? nullptr : it->second.get();
    }
    for (auto& c : children_)
      if (c->key == key) return c.get();
    return nullptr;
  }

  std::size_t index_of(const child_record* c) const {
    for (std::size_t i = 0; i < children_.size(); ++i)
      if (children_[i].get() == c) return i;
    return children_.size();
  }

  void remove_static(child_record* c) {
    std::size_t i = index_of(c);
    if (i < children_.size()) children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(i));
  }

  // A child that ended and is not restarted: OTP's del_child.
  void forget(child_record* c) {
    if (dynamic())
      dynamic_.erase(c->key);
    else if (c->spec.restart == restart::temporary)
      remove_static(c);
    else
      c->restarting = false;
  }

  // Runs the child's start function; on success records the pid.
  task<start_result> start_one(child_record& c) {
    start_function start = c.spec.start;  // the copy outlives the await (see header)
    std::optional<start_result> result;
    std::exception_ptr thrown;
    try {
      result.emplace(co_await start());
    } catch (...) {
      thrown = std::current_exception();
    }
    if (thrown) {
      if (detail::current_process_exiting()) std::rethrow_exception(thrown);
      result.emplace(start_result::error(detail::exception_reason(thrown)));
    }
    if (result->is_ok()) {
      link(result->pid());  // a no-op when the start function linked it, as it must
      c.running = result->pid();
      c.restarting = false;
      running_[c.running] = &c;
    } else if (result->is_error()) {
      report("child " + c.spec.id.to_string() +
             " failed to start: " + result->reason().to_string());
    }
    co_return std::move(*result);
  }

  task<start_result> start_dynamic(child_spec spec) {
    std::unique_ptr<child_record> owned = make_record(std::move(spec));
    child_record& c = *owned;
    start_result result = co_await start_one(c);
    if (result.is_ok()) dynamic_.emplace(c.key, std::move(owned));
    co_return result;
  }

  // Starts children_[from...] in order; stops at the first failure: {Id, Reason}.
  task<std::optional<std::pair<term, term>>> start_children(std::size_t from) {
    for (std::size_t i = from; i < children_.size();) {
      child_record& c = *children_[i];
      start_result r = co_await start_one(c);
      if (r.is_error()) co_return std::pair{c.spec.id, r.reason()};
      if (r.is_ignore() && c.spec.restart == restart::temporary) {
        children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      ++i;
    }
    co_return std::nullopt;
  }

  // Shuts children_[from...] down in reverse start order; temporary ones are removed.
  task<void> terminate_children(std::size_t from) {
    for (std::size_t i = children_.size(); i-- > from;) {
      child_record& c = *children_[i];
      co_await shutdown_child(c);
      c.restarting = false;
    }
    auto first = children_.begin() + static_cast<std::ptrdiff_t>(from);
    children_.erase(std::remove_if(first, children_.end(),
                                   [](const std::unique_ptr<child_record>& c) {
                                     return c->spec.restart == restart::temporary;
                                   }),
                    children_.end());
  }

  // OTP's shutdown/1 for one child (reference section 11.3).
  task<void> shutdown_child(child_record& c) {
    const pid child = c.running;
    if (child.is_null()) co_return;
    running_.erase(child);
    c.running = {};
    const std::chrono::milliseconds how = shutdown_of(c.spec);
    const ref mon = monitor(child);
    exit(child, how == brutal_kill ? atoms::kill : atoms::shutdown);
    std::optional<term> down;
    auto on_down = when([&](const down_message& d) { return d.monitor == mon; },
                        [&](down_message d) { down = std::move(d.reason); });
    if (how == brutal_kill || how == infinity) {
      co_await receive(since(mon), on_down);
    } else {
      co_await receive(since(mon), on_down, after(how));
      if (!down) {
        exit(child, atoms::kill);
        co_await receive(since(mon), on_down);
      }
    }
    term reason = unlink_flush(child, std::move(*down));
    bool expected = reason == term(atoms::shutdown) ||
                    (how == brutal_kill && reason == term(atoms::killed)) ||
                    (c.spec.restart != restart::permanent && detail::is_shutdown_reason(reason));
    if (!expected)
      report("shutdown of child " + c.spec.id.to_string() + " " + child.to_string() +
             " ended with reason " + reason.to_string());
  }

  // simple_one_for_one: every child told at once, one timer (OTP's
  // terminate_dynamic_children).
  task<void> terminate_dynamic() {
    std::unordered_map<ref, pid> waiting;
    std::chrono::milliseconds longest{0};
    bool forever = false;
    for (auto& [key, c] : dynamic_) {
      if (c->running.is_null()) continue;
      const std::chrono::milliseconds how = shutdown_of(c->spec);
      if (how == infinity)
        forever = true;
      else if (how != brutal_kill)
        longest = std::max(longest, how);
      waiting.emplace(monitor(c->running), c->running);
      exit(c->running, how == brutal_kill ? atoms::kill : atoms::shutdown);
    }
    auto on_down = when([&](const down_message& d) { return waiting.count(d.monitor) != 0; },
                        [&](down_message d) {
                          pid child = waiting[d.monitor];
                          waiting.erase(d.monitor);
                          unlink_flush(child, d.reason);
                        });
    const auto deadline = std::chrono::steady_clock::now() + longest;
    bool killed = false;
    while (!waiting.empty()) {
      if (forever || killed) {
        co_await receive(on_down);
        continue;
      }
      auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      bool timed_out = false;
      co_await receive(on_down, after(std::max(left, 0ms), [&] { timed_out = true; }));
      if (timed_out) {
        for (const auto& [mon, child] : waiting) exit(child, atoms::kill);
        killed = true;
      }
    }
    for (auto& [key, c] : dynamic_) {
      running_.erase(c->running);
      c->running = {};
    }
    dynamic_.clear();
  }

  // OTP's add_restart: true when the intensity is exceeded.
  static std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  bool add_restart() {
    const std::int64_t now = now_seconds();
    const std::int64_t threshold = now - flags_.period.count();
    ++restarts_total_;
    while (!restarts_.empty() && restarts_.back() < threshold) restarts_.pop_back();
    restarts_.push_front(now);
    return restarts_.size() > static_cast<std::size_t>(flags_.intensity);
  }

  void try_again_later(child_record& c) {
    c.restarting = true;
    gen_server::cast(server<supervisor_server>(self()), try_again_restart{c.key});
  }

  // Restarts `c` (whose process has ended) by the strategy.
  task<gen_server::result> restart(child_record* c) {
    ++c->restarts;
    if (add_restart()) {
      report("reached the maximum restart intensity (" + std::to_string(flags_.intensity) +
             " restarts in " + std::to_string(flags_.period.count()) + " s); shutting down");
      forget(c);
      co_return gen_server::stopping(atoms::shutdown);
    }
    switch (flags_.strategy) {
      case strategy::simple_one_for_one:
      case strategy::one_for_one: {
        start_result r = co_await start_one(*c);
        if (r.is_error())
          try_again_later(*c);
        else if (!r.is_ok() && dynamic())
          dynamic_.erase(c->key);
        break;
      }
      case strategy::rest_for_one:
      case strategy::one_for_all: {
        std::size_t from = flags_.strategy == strategy::rest_for_one ? index_of(c) : 0;
        co_await terminate_children(from);  // `c` is not running: left alone
        // `c` is not temporary (it is being restarted), so it is still at `from`
        // for rest_for_one; one_for_all starts everything again from the first.
        std::optional<std::pair<term, term>> failed = co_await start_children(from);
        if (failed) {
          if (child_record* f = find_by_id(failed->first)) try_again_later(*f);
        }
        break;
      }
    }
    co_return gen_server::noreply();
  }

  flags flags_;
  std::vector<child_spec> initial_;
  std::optional<child_spec> template_;                   // simple_one_for_one's spec
  std::vector<std::unique_ptr<child_record>> children_;  // static children, start order
  std::unordered_map<std::uint64_t, std::unique_ptr<child_record>> dynamic_;
  std::unordered_map<pid, child_record*> running_;  // every running child
  std::deque<std::int64_t> restarts_;               // restart times (s), newest first
  std::uint64_t restarts_total_ = 0;
  std::uint64_t last_key_ = 0;
};

server<supervisor_server> as_supervisor(server_ref ref) {
  return server<supervisor_server>(std::move(ref));
}

}  // namespace

task<start_result> start_link(flags how, std::vector<child_spec> children,
                              gen_server::start_options options) {
  co_return co_await gen_server::start_link<supervisor_server>(std::move(options), how,
                                                               std::move(children));
}

child_spec supervisor_child(term id, flags how, std::vector<child_spec> children) {
  child_spec spec;
  spec.id = std::move(id);
  spec.type = child_type::supervisor;
  spec.shutdown = infinity;
  spec.start = [how, children]() -> task<start_result> {
    co_return co_await start_link(how, children);
  };
  return spec;
}

// (Each request is a named local: g++ 12 destroys an aggregate temporary twice
// inside a co_await expression.)
task<start_result> start_child(server_ref sup, child_spec spec) {
  start_child_request request{std::move(spec)};
  co_return co_await as_supervisor(std::move(sup)).call(std::move(request), infinity);
}

task<start_result> start_child(server_ref sup, term extra) {
  start_extra_request request{std::move(extra)};
  co_return co_await as_supervisor(std::move(sup)).call(std::move(request), infinity);
}

task<status> terminate_child(server_ref sup, term id_or_pid) {
  terminate_child_request request{std::move(id_or_pid)};
  co_return co_await as_supervisor(std::move(sup)).call(std::move(request), infinity);
}

task<start_result> restart_child(server_ref sup, term id) {
  restart_child_request request{std::move(id)};
  co_return co_await as_supervisor(std::move(sup)).call(std::move(request), infinity);
}

task<status> delete_child(server_ref sup, term id) {
  delete_child_request request{std::move(id)};
  co_return co_await as_supervisor(std::move(sup)).call(std::move(request), infinity);
}

task<std::vector<child_info>> which_children(server_ref sup) {
  co_return co_await as_supervisor(std::move(sup)).call(which_children_request{}, infinity);
}

task<description> describe(server_ref sup, std::chrono::milliseconds timeout) {
  co_return co_await as_supervisor(std::move(sup)).call(describe_request{}, timeout);
}

std::string_view to_string(strategy s) noexcept {
  switch (s) {
    case strategy::one_for_one:
      return "one_for_one";
    case strategy::one_for_all:
      return "one_for_all";
    case strategy::rest_for_one:
      return "rest_for_one";
    case strategy::simple_one_for_one:
      return "simple_one_for_one";
  }
  return "one_for_one";
}

task<child_counts> count_children(server_ref sup) {
  co_return co_await as_supervisor(std::move(sup)).call(count_children_request{}, infinity);
}

}  // namespace beamline::supervisor
