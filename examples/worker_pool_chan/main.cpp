// worker_pool_chan: a pool of workers fed by a channel, with results over another,
// and a process that supervises it through its mailbox in the same select.
//
// A feeder sends 200 jobs into `jobs` (buffered); four workers take jobs from it
// and send results into `results`. Some jobs are poisoned: the worker that takes
// one crashes. The supervisor monitors its workers; it waits in one select for a
// result *or* a DOWN message from its mailbox, so it counts results and replaces a
// crashed worker as things happen, without a second process or a polling loop.
// When every job is accounted for it closes `jobs`, and the workers, whose
// receive then reports the channel closed, end normally.
//
//   build/release/bin/worker_pool_chan [--schedulers N]
#include <beamline/beamline.hpp>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace bl = beamline;

namespace {

constexpr int job_count = 200;
constexpr int pool_size = 4;

struct job {
  int id;
};
struct result {
  int id;
  long value;
};

bool poisoned(int id) {
  return id % 50 == 13;  // 13, 63, 113, 163
}

bl::process worker(bl::chan<job> jobs, bl::chan<result> results) {
  while (std::optional<job> j = co_await jobs.receive()) {
    if (poisoned(j->id)) throw bl::error(bl::atom("poisoned"), "job " + std::to_string(j->id));
    long v = 0;
    for (int i = 1; i <= j->id; ++i) v += i;
    co_await results.send(result{j->id, v});
  }
}

bl::process feeder(bl::chan<job> jobs) {
  for (int i = 1; i <= job_count; ++i) co_await jobs.send(job{i});
}

bl::process supervise() {
  auto jobs = bl::make_chan<job>(8);
  auto results = bl::make_chan<result>(8);
  std::vector<bl::pid> workers;
  auto start_worker = [&] { workers.push_back(bl::spawn_monitor(worker, jobs, results).first); };
  for (int i = 0; i < pool_size; ++i) start_worker();
  bl::spawn(feeder, jobs);

  int done = 0, crashed = 0;
  long total = 0;
  while (done + crashed < job_count) {
    co_await bl::select(bl::on_receive(results,
                                       [&](std::optional<result> r) {
                                         total += r->value;
                                         ++done;
                                       }),
                        bl::on_message([&](const bl::down_message& d) {
                          std::erase(workers, d.from);
                          ++crashed;  // a worker ends only by crashing while jobs remain
                          std::printf("worker %s crashed (%s); starting another\n",
                                      d.from.to_string().c_str(), d.reason.to_string().c_str());
                          start_worker();
                        }));
  }
  jobs.close();
  // The workers see the channel closed and end normally.
  while (!workers.empty()) std::erase(workers, (co_await bl::receive<bl::down_message>()).from);
  std::printf("%d results (total %ld), %d workers crashed and were replaced, pool of %d\n", done,
              total, crashed, pool_size);
}

}  // namespace

int main(int argc, char** argv) {
  bl::node_options options = bl::node_options::from_args(argc, argv);
  options.log_crashes = false;  // the supervisor reports the crashes itself
  bl::node node(options);
  node.spawn(supervise);
  return node.run();
}
