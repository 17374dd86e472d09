// observe_supervisors.cpp: observe::supervisors() (beamline/observe.hpp), in the OTP
// layer since it asks supervisors what they supervise.
#include <unordered_set>
#include <utility>

#include "beamline/observe.hpp"
#include "beamline/otp/call_exit.hpp"
#include "beamline/otp/supervisor.hpp"

namespace beamline::observe {

task<supervision> supervisors(std::chrono::milliseconds timeout) {
  process_query query;
  query.sort = sort_key::pid;
  query.descending = false;
  query.limit = 1'000'000;
  query.filter = supervisor::supervisor_initial_call;
  process_page page = co_await processes(query);
  // Supervisors publish at every suspension (request_publication), but one that was
  // running when this snapshot began, on a node not observed before, may not have
  // yet: the next snapshot asks every process found unpublished.
  if (page.unpublished != 0) page = co_await processes(query);
  supervision out;
  std::unordered_set<pid> children;
  for (observe::process_row& row : page.rows) {
    // The filter also keeps names and statuses that contain the text.
    if (row.initial_call != supervisor::supervisor_initial_call) continue;
    supervisor_view view;
    view.process = row.process;
    view.registered_name = std::move(row.registered_name);
    try {
      supervisor::description d = co_await supervisor::describe(row.process, timeout);
      view.answered = true;
      view.strategy = supervisor::to_string(d.how.strategy);
      view.intensity = d.how.intensity;
      view.period = d.how.period;
      view.restarts_in_period = d.restarts_in_period;
      view.restarts = d.restarts;
      for (const supervisor::child_info& c : d.children) {
        if (c.child) children.insert(*c.child);
        view.children.push_back({c.id.to_string(), c.child,
                                 c.type == supervisor::child_type::supervisor, c.restarting,
                                 c.restarts});
      }
    } catch (const call_exit&) {
      // Ended meanwhile (noproc), or busy past the timeout: shown as not answering.
    }
    out.supervisors.push_back(std::move(view));
  }
  for (const supervisor_view& v : out.supervisors)
    if (!children.contains(v.process)) out.roots.push_back(v.process);
  co_return out;
}

}  // namespace beamline::observe
