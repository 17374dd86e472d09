// cluster: a distributed job queue over three beamline nodes on one host, which heals
// when a node is killed.
//
//   build/release/bin/cluster [--jobs N]
//
// This process becomes the node queue<os pid>@127.0.0.1 and starts two more nodes of
// itself (w1..., w2...), each with two worker processes; the queue node runs two
// workers too. Workers ask the registered process `jobs` on the queue node for work
// ({ready, Worker}), get {job, Id, Limit}, count the primes below Limit and answer
// {done, Worker, Id, Count}. The queue monitors every worker it has seen. A third of
// the way through it kills node w2 with SIGKILL: the monitors of w2's workers fire
// with noconnection, their jobs go back to the queue, and the other nodes take them.
// Then w2 is started again under the same name (a new incarnation, with a new
// creation), connects, and takes work again. At the end the queue checks that every
// job was done once and that sampled answers match a count made here, prints how
// many jobs each node did, and stops the other nodes. Exit status 0 when all is well.
//
// The nodes find each other through EPMD ($ERL_EPMD_PORT or 4369); when none answers,
// the first node starts beamline-epmd, which stays, as epmd does for Erlang.
//
// Run by hand as three programs:
//   cluster --name q@127.0.0.1 --cookie C --queue [--jobs N]   (waits for workers)
//   cluster --name w@127.0.0.1 --cookie C --worker q@127.0.0.1
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <beamline/beamline.hpp>

#include "../common/programs.hpp"

#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bl = beamline;
using namespace std::chrono_literals;

namespace {

const bl::atom jobs_name("jobs");
const bl::atom ready_tag("ready");
const bl::atom job_tag("job");
const bl::atom done_tag("done");

// The work: how many primes are below `limit` (a sieve).
long count_primes(long limit) {
  if (limit < 3) return 0;
  std::vector<bool> composite(static_cast<std::size_t>(limit), false);
  long count = 0;
  for (long i = 2; i < limit; ++i) {
    if (composite[static_cast<std::size_t>(i)]) continue;
    ++count;
    for (long j = i * i; j < limit; j += i) composite[static_cast<std::size_t>(j)] = true;
  }
  return count;
}

long limit_of(long id) {
  return 200'000 + (id % 64) * 5'000;
}

// --- workers (on every node) -----------------------------------------------------------

bl::process worker(bl::atom queue_node) {
  const bl::pid queue = bl::dist::registered(jobs_name, queue_node);
  for (;;) {
    bl::send(queue, bl::term::tuple({ready_tag, bl::self()}));
    bool stop = false;
    co_await bl::receive([&](const bl::term& t) {
      if (t.is_tuple() && t.size() == 3 && t[0] == bl::term(job_tag)) {
        const long id = t[1].as_int();
        bl::send(queue, bl::term::tuple({done_tag, bl::self(), id, count_primes(t[2].as_int())}));
      } else {
        stop = true;  // `stop`, or anything else
      }
    });
    if (stop) co_return;
  }
}

// A worker node: two workers; it stops when the queue's node goes away.
bl::process worker_node(bl::atom queue_node) {
  bool connected = false;
  for (int tries = 0; tries < 50 && !connected; ++tries) {
    connected = co_await bl::dist::connect_node(queue_node);
    if (!connected) co_await bl::sleep(100ms);
  }
  if (!connected) {
    std::fprintf(stderr, "cluster: %s cannot reach %s\n",
                 std::string(bl::dist::node_name().name()).c_str(),
                 std::string(queue_node.name()).c_str());
    bl::stop_node();
    co_return;
  }
  bl::dist::monitor_node(queue_node, true);
  for (int i = 0; i < 2; ++i) bl::spawn(worker, queue_node);
  co_await bl::receive([](const bl::term&) {});  // {nodedown, QueueNode}
  bl::stop_node();
}

// --- the queue ---------------------------------------------------------------------------

// A node's name, with its creation for remote nodes: a node started again under the
// same name is a new incarnation, with pids of its own.
std::string node_of(const bl::pid& p) {
  if (p.is_local()) return std::string(bl::dist::node_name().name());
  return std::string(bl::atom::from_index(p.node_atom()).name()) + " (creation " +
         std::to_string(p.creation) + ")";
}

struct demo_nodes {
  std::string cookie;
  std::string queue_node;
  std::string w1, w2;
  pid_t w1_pid = -1, w2_pid = -1;

  pid_t start_worker(const std::string& name) const {
    return examples::start_program(
        "/proc/self/exe", {"cluster", "--name", name, "--cookie", cookie, "--worker", queue_node});
  }
};

struct queue_state {
  std::deque<long> pending;
  std::map<bl::pid, std::optional<long>> workers;  // what each is doing
  std::vector<bl::pid> idle;
  std::map<long, long> results;
  std::map<std::string, long> done_by_node;
  long requeued = 0, duplicates = 0;
};

void dispatch(queue_state& q) {
  while (!q.pending.empty() && !q.idle.empty()) {
    const bl::pid w = q.idle.back();
    q.idle.pop_back();
    const long id = q.pending.front();
    q.pending.pop_front();
    q.workers[w] = id;
    bl::send(w, bl::term::tuple({job_tag, id, limit_of(id)}));
  }
}

std::atomic<bool> cluster_ok{false};

// The demo's phases. The queue hands out work only while running: it waits for the
// three nodes' workers before the first job, and, once w2 is killed and started
// again, for the new w2's workers before the rest, so that every run shows each step.
enum class phase { gathering, running, rejoining, running_again };

// `demo`: the nodes this one starts (null when run by hand with --queue).
bl::process queue_process(long jobs, demo_nodes* demo) {
  bl::register_name(jobs_name, bl::self());
  queue_state q;
  for (long id = 0; id < jobs; ++id) q.pending.push_back(id);
  for (int i = 0; i < 2; ++i) bl::spawn(worker, bl::dist::node_name());
  if (demo) {
    demo->w1_pid = demo->start_worker(demo->w1);
    demo->w2_pid = demo->start_worker(demo->w2);
  }
  phase now = demo ? phase::gathering : phase::running;
  const bl::atom w2_atom(demo ? demo->w2 : std::string("none@none"));
  auto w2_workers = [&](bool new_life, std::uint32_t old_creation) {
    int n = 0;
    for (const auto& [w, doing] : q.workers)
      if (!w.is_local() && w.node_atom() == w2_atom.index() &&
          (!new_life || w.creation != old_creation))
        ++n;
    return n;
  };
  std::uint32_t w2_creation = 0;
  bool stuck = false;
  while (static_cast<long>(q.results.size()) < jobs && !stuck) {
    const bool waiting = now == phase::gathering || now == phase::rejoining;
    co_await bl::receive(
        [&](const bl::down_message& d) {
          // A worker is gone (its node was killed: noconnection): its job goes back.
          auto found = q.workers.find(d.from);
          if (found == q.workers.end()) return;
          if (found->second && !q.results.contains(*found->second)) {
            q.pending.push_front(*found->second);
            ++q.requeued;
          }
          std::erase(q.idle, d.from);
          q.workers.erase(found);
          std::printf("queue: worker %s on %s is gone: %s\n", d.from.to_string().c_str(),
                      node_of(d.from).c_str(), d.reason.to_string().c_str());
        },
        [&](const bl::term& t) {
          if (t.is_tuple() && t.size() == 2 && t[0] == bl::term(ready_tag) && t[1].is_pid()) {
            const bl::pid w = t[1].as_pid();
            if (!q.workers.contains(w)) bl::monitor(w);
            q.workers[w] = std::nullopt;
            q.idle.push_back(w);
          } else if (t.is_tuple() && t.size() == 4 && t[0] == bl::term(done_tag) && t[1].is_pid()) {
            const bl::pid w = t[1].as_pid();
            const long id = t[2].as_int();
            if (q.results.contains(id)) {
              ++q.duplicates;
            } else {
              q.results[id] = t[3].as_int();
              ++q.done_by_node[node_of(w)];
            }
            if (auto found = q.workers.find(w); found != q.workers.end()) found->second.reset();
          }
        },
        bl::after(waiting ? 15s : 1h, [&] {
          std::printf("queue: the workers of %s did not come in 15 s\n",
                      now == phase::gathering ? "every node" : "the new w2");
          stuck = true;
        }));
    if (now == phase::gathering && q.workers.size() == 6) {
      for (const auto& [w, doing] : q.workers)
        if (!w.is_local() && w.node_atom() == w2_atom.index()) w2_creation = w.creation;
      std::printf("queue: 6 workers on 3 nodes are ready\n");
      now = phase::running;
    }
    if (now == phase::running && demo && static_cast<long>(q.results.size()) >= jobs / 3) {
      std::printf("queue: %ld of %ld jobs done; killing %s (SIGKILL), then starting it again\n",
                  static_cast<long>(q.results.size()), jobs, demo->w2.c_str());
      std::fflush(stdout);
      ::kill(demo->w2_pid, SIGKILL);
      ::waitpid(demo->w2_pid, nullptr, 0);
      demo->w2_pid = demo->start_worker(demo->w2);
      now = phase::rejoining;
    }
    if (now == phase::rejoining && w2_workers(true, w2_creation) == 2) {
      std::printf("queue: %s is back with 2 workers\n", demo->w2.c_str());
      now = phase::running_again;
    }
    std::fflush(stdout);
    if (now == phase::running || now == phase::running_again) dispatch(q);
  }
  // Every job once, and the answers right (every 8th is counted again here).
  bool right = true;
  for (const auto& [id, count] : q.results)
    if (id % 8 == 0 && count != count_primes(limit_of(id))) right = false;
  for (const auto& [node, count] : q.done_by_node)
    std::printf("queue: %-48s did %4ld jobs\n", node.c_str(), count);
  std::printf(
      "queue: %ld of %ld jobs done, %ld went back to the queue when their node died, "
      "%ld answered twice, sampled answers %s\n",
      static_cast<long>(q.results.size()), jobs, q.requeued, q.duplicates,
      right ? "right" : "WRONG");
  for (const auto& [w, doing] : q.workers) bl::send(w, bl::atom("stop"));
  // The demo: the queue's node, w1, and w2's two incarnations each did jobs.
  cluster_ok =
      right && static_cast<long>(q.results.size()) == jobs && (!demo || q.done_by_node.size() == 4);
  std::printf(cluster_ok ? "cluster ok\n" : "cluster FAILED\n");
  std::fflush(stdout);
  co_await bl::sleep(100ms);  // the stops go out before this node does
  bl::stop_node();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bl::node_options options = bl::node_options::from_args(argc, argv);
    std::optional<bl::dist::options> dist = bl::dist::options::from_args(argc, argv);
    long jobs = 300;
    std::optional<std::string> queue_node;
    bool queue = false;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) jobs = std::atol(argv[++i]);
      if (std::strcmp(argv[i], "--worker") == 0 && i + 1 < argc) queue_node = argv[++i];
      if (std::strcmp(argv[i], "--queue") == 0) queue = true;
    }
    if (jobs < 3) jobs = 3;
    std::optional<demo_nodes> demo;
    if (!dist) {  // the demo: this node is the queue, and it starts the others
      const std::string tag = std::to_string(::getpid());
      demo = demo_nodes{"cluster" + tag, "queue" + tag + "@127.0.0.1", "w1_" + tag + "@127.0.0.1",
                        "w2_" + tag + "@127.0.0.1"};
      dist = bl::dist::options{};
      dist->name = demo->queue_node;
      dist->cookie = demo->cookie;
      if (const char* port = std::getenv("ERL_EPMD_PORT"))
        dist->epmd_port = static_cast<std::uint16_t>(std::atoi(port));
    } else if (!queue && !queue_node) {
      std::fprintf(stderr,
                   "usage: cluster [--jobs N]\n"
                   "       cluster --name NAME --cookie C --queue [--jobs N]\n"
                   "       cluster --name NAME --cookie C --worker QUEUE_NODE\n");
      return 2;
    }
    bl::node node(options);
    bl::dist::start(node, *dist);
    if (queue_node) {
      node.spawn(worker_node, bl::atom(*queue_node));
    } else {
      std::printf("cluster: %s runs the queue (%ld jobs)\n",
                  std::string(bl::dist::node_name().name()).c_str(), jobs);
      std::fflush(stdout);
      node.spawn(queue_process, jobs, demo ? &*demo : nullptr);
    }
    const int status = node.run();
    if (queue_node) return status;
    // This node's connections stay open until `node` is destroyed: the worker nodes
    // are told to stop (SIGTERM: an orderly shutdown).
    if (demo)
      for (pid_t p : {demo->w1_pid, demo->w2_pid})
        if (p > 0) examples::end_program(p);
    return status == 0 && cluster_ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster: %s\n", e.what());
    return 1;
  }
}
