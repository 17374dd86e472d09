// process_groups: Erlang's pg on beamline. Workers join a group; a dispatcher sends
// each job to a member it reads from the group (no message to ask); a scope monitor
// reports every join and leave; a worker that crashes leaves the group by itself,
// and the dispatcher's next jobs go to the ones that are left.
//
// The same groups span a cluster: run the scope on several nodes (beamline or
// Erlang, after bl::dist::start) and get_members lists every node's members
// (docs/names.md).
//
//   build/release/bin/process_groups [--schedulers N]
#include <beamline/beamline.hpp>
#include <beamline/pg.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

namespace bl = beamline;
namespace pg = bl::pg;

namespace {

const bl::atom workers("workers");

// Does jobs until a job says "poison": then it crashes.
bl::process worker(bl::pid results) {
  co_await pg::join(workers, bl::self());
  bl::send(results, bl::atom("joined"));
  for (;;) {
    long job = co_await bl::receive<long>();
    if (job < 0) throw std::runtime_error("poisoned job");
    bl::send(results, bl::self(), job * job);
  }
}

// Prints the scope monitor's notifications, {Ref, join | leave, Group, Pids}.
bl::process reporter(bl::pid ready) {
  pg::scope_monitor m = co_await pg::monitor_scope(pg::default_scope());
  bl::send(ready, bl::atom("monitoring"));
  for (;;) {
    bl::term note = co_await bl::receive<bl::term>();
    if (note.is_tuple() && note.size() == 4 && note[0] == bl::term(m.monitor))
      std::printf("scope monitor: %s %s %s\n", note[1].to_string().c_str(),
                  note[2].to_string().c_str(), note[3].to_string().c_str());
  }
}

bl::process main_process() {
  bl::trap_exit(true);
  co_await pg::start_link();
  bl::pid monitor = bl::spawn_link(reporter, bl::self());
  co_await bl::receive([](bl::atom) {});  // monitoring
  for (int i = 0; i < 3; ++i) bl::spawn(worker, bl::self());
  for (int i = 0; i < 3; ++i) co_await bl::receive([](bl::atom) {});  // joined

  // Jobs go round the members the group has when each is sent.
  long sum = 0;
  for (long job = 1; job <= 30; ++job) {
    std::vector<bl::pid> members = pg::get_members(workers);
    const bl::pid to = members[static_cast<std::size_t>(job) % members.size()];
    if (job == 10) {
      bl::send(to, -1L);  // this one crashes; pg takes it out of the group
      while (pg::get_members(workers).size() != 2) co_await bl::sleep(std::chrono::milliseconds(1));
      continue;
    }
    bl::send(to, job);
    auto [from, square] = co_await bl::receive<bl::pid, long>();
    (void)from;
    sum += square;
  }
  std::printf("29 jobs done (sum of squares %ld), %zu workers left in the group\n", sum,
              pg::get_members(workers).size());
  bl::exit(monitor, bl::atom("kill"));
  bl::stop_node();
}

}  // namespace

int main(int argc, char** argv) {
  bl::node_options options = bl::node_options::from_args(argc, argv);
  options.log_crashes = false;  // the poisoned worker's crash is part of the example
  bl::node node(options);
  node.spawn(main_process);
  return node.run();
}
