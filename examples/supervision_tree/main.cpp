// supervision_tree: an application that heals itself.
//
//   top (rest_for_one, 3 restarts in 5 s)
//    ├── pool_registry   a bl::registry: workers are found by {worker, N}
//    ├── stats           a bl::agent holding counters
//    ├── pool_sup        a dynamic supervisor (5 restarts in 1 s) of worker gen_servers
//    └── pool_manager    fills pool_sup with 8 workers when it starts
//
// A load generator outside the tree sends jobs to workers it looks up in the
// registry; one job in two hundred is poisoned and crashes its worker, which
// pool_sup restarts under the same name. Then a storm crashes six workers at once: more
// restarts than pool_sup allows, so it shuts down; the top supervisor restarts it
// and (rest_for_one) the pool manager after it, which refills the pool. The load
// goes on against the new workers.
//
//   build/release/bin/supervision_tree [--schedulers N]
#include <beamline/otp.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <stdexcept>
#include <string>

namespace bl = beamline;
namespace gs = bl::gen_server;
namespace sup = bl::supervisor;
using namespace std::chrono_literals;

namespace {

constexpr int pool_size = 8;

struct stats {
  long jobs = 0;
  long crashes = 0;
  long starts = 0;
  std::map<int, int> starts_of;  // by worker id
};

bl::agent<stats> stats_agent() {
  return bl::agent<stats>(bl::atom("stats"));
}

bl::term worker_key(int id) {
  return bl::term::tuple({bl::atom("worker"), id});
}

// A worker: does jobs; a poisoned one crashes it.
struct pool_worker {
  struct job {
    long n;
    bool poisoned;
  };

  explicit pool_worker(int id) : id_(id) {}

  // Counts this start in the stats agent; a restart is reported.
  bl::task<void> init() {
    int id = id_;
    int starts = co_await stats_agent().get_and_update([id](stats& s) {
      ++s.starts;
      return ++s.starts_of[id];
    });
    if (starts > 1)
      std::printf("  worker %d (re)started as %s, its start #%d\n", id_,
                  bl::self().to_string().c_str(), starts);
  }

  void handle_cast(job j) {
    if (j.poisoned) {
      stats_agent().cast([](stats& s) { ++s.crashes; });
      std::printf("  worker %d %s crashes on job %ld\n", id_, bl::self().to_string().c_str(), j.n);
      throw std::runtime_error(std::string("job ") + std::to_string(j.n) + " was poisoned");
    }
    stats_agent().cast([](stats& s) { ++s.jobs; });
  }

  int id_;
};

sup::child_spec worker_spec(int id) {
  sup::child_spec spec(worker_key(id), [id]() -> bl::task<bl::start_result> {
    auto registry = bl::registry::named(bl::atom("pool_registry"));
    if (!registry) co_return bl::start_result::error(bl::atom("no_registry"));
    co_return co_await gs::start_link<pool_worker>(registry->via(worker_key(id)), id);
  });
  spec.shutdown = 1000ms;
  return spec;
}

// Starts the pool's workers, then has nothing more to do.
struct pool_manager {
  bl::task<void> init() {
    for (int id = 1; id <= pool_size; ++id) {
      bl::start_result r = co_await sup::start_child(bl::atom("pool_sup"), worker_spec(id));
      if (!r) throw bl::error(r.reason(), "a worker did not start");
    }
    std::printf("  pool manager %s: %d workers started in pool_sup %s\n",
                bl::self().to_string().c_str(), pool_size,
                bl::whereis(bl::atom("pool_sup"))->to_string().c_str());
  }
};

bl::task<bl::start_result> start_application() {
  sup::child_spec registry_spec(bl::atom("pool_registry"), []() -> bl::task<bl::start_result> {
    co_return co_await bl::registry::start_link(
        {.keys = bl::registry::unique, .partitions = 2, .name = bl::atom("pool_registry")});
  });
  sup::child_spec stats_spec(bl::atom("stats"), []() -> bl::task<bl::start_result> {
    co_return co_await bl::agent<stats>::start_link([] { return stats{}; }, bl::atom("stats"));
  });
  sup::child_spec pool_spec(bl::atom("pool_sup"), []() -> bl::task<bl::start_result> {
    co_return co_await sup::start_link(
        {.strategy = sup::strategy::simple_one_for_one, .intensity = 5, .period = 1s}, {},
        bl::atom("pool_sup"));
  });
  pool_spec.type = sup::child_type::supervisor;
  pool_spec.shutdown = bl::infinity;
  sup::child_spec manager_spec = sup::worker<pool_manager>(bl::atom("pool_manager"));
  return sup::start_link({.strategy = sup::strategy::rest_for_one, .intensity = 3, .period = 5s},
                         sup::children(registry_spec, stats_spec, pool_spec, manager_spec),
                         bl::atom("top"));
}

bl::task<void> print_stats(const char* when) {
  stats s = co_await stats_agent().get([](const stats& x) { return x; });
  s.starts_of.clear();
  std::printf("[%s] jobs done %ld, workers crashed %ld, worker starts %ld\n", when, s.jobs,
              s.crashes, s.starts);
}

// Sends `count` jobs, one every 2 ms, to workers looked up in the registry.
bl::task<long> send_jobs(long first, long count, std::mt19937& random) {
  long lost = 0;
  for (long n = first; n < first + count; ++n) {
    int id = 1 + static_cast<int>(random() % pool_size);
    auto found = bl::registry::named(bl::atom("pool_registry"));
    auto entries = found ? found->lookup(worker_key(id)) : std::vector<bl::registry::entry>{};
    if (entries.empty()) {
      ++lost;  // restarting at this instant
    } else {
      bl::server<pool_worker>(entries.front().first).cast(pool_worker::job{n, n % 200 == 99});
    }
    co_await bl::sleep(2ms);
  }
  co_return lost;
}

bl::process application() {
  std::printf("starting the application\n");
  bl::start_result top = co_await start_application();
  if (!top) {
    std::printf("the application did not start: %s\n", top.to_term().to_string().c_str());
    co_return;
  }
  std::printf("  top supervisor %s with:\n", top.pid().to_string().c_str());
  for (const sup::child_info& c : co_await sup::which_children(top.pid()))
    std::printf("    %s\n", c.to_term().to_string().c_str());

  std::mt19937 random(2024);
  std::printf("\nphase 1: steady load, one job in two hundred poisoned\n");
  long lost = co_await send_jobs(0, 500, random);
  co_await bl::sleep(20ms);
  co_await print_stats("after 500 jobs");
  std::printf("  (%ld jobs found their worker restarting and were dropped)\n", lost);

  std::printf("\nphase 2: a storm crashes 6 workers at once; pool_sup allows 5 restarts in 1 s\n");
  co_await bl::sleep(2100ms);  // let the restart history of phase 1 age out
  bl::pid old_pool = *bl::whereis(bl::atom("pool_sup"));
  bl::ref watching = bl::monitor(old_pool);
  auto registry = bl::registry::named(bl::atom("pool_registry"));
  for (int id = 1; id <= 6; ++id)
    for (const auto& [pid, value] : registry->lookup(worker_key(id)))
      bl::server<pool_worker>(pid).cast(pool_worker::job{-id, true});
  bl::down_message down = co_await bl::receive(
      bl::when([watching](const bl::down_message& d) { return d.monitor == watching; },
               [](bl::down_message d) { return d; }));
  std::printf("  pool_sup %s gave up: it exited with reason %s\n", old_pool.to_string().c_str(),
              down.reason.to_string().c_str());
  std::optional<bl::pid> new_pool;
  while (!(new_pool = bl::whereis(bl::atom("pool_sup"))) || *new_pool == old_pool)
    co_await bl::sleep(1ms);
  while ((co_await sup::count_children(*new_pool)).active < pool_size) co_await bl::sleep(1ms);
  std::printf("  top restarted it as %s, and the pool manager after it (rest_for_one)\n",
              new_pool->to_string().c_str());

  std::printf("\nphase 3: the load goes on against the new workers\n");
  lost = co_await send_jobs(500, 500, random);
  co_await bl::sleep(20ms);
  co_await print_stats("after 1000 jobs");
  std::printf("  (%ld jobs found their worker restarting and were dropped)\n", lost);
  std::printf("  the tree now:\n");
  for (const sup::child_info& c : co_await sup::which_children(top.pid()))
    std::printf("    %s\n", c.to_term().to_string().c_str());
  auto counts = co_await sup::count_children(*new_pool);
  std::printf("    pool_sup: %ld active workers\n", counts.active);

  co_await gs::stop(top.pid(), bl::atom("shutdown"));
  std::printf("\napplication stopped; every process of the tree has ended\n");
}

}  // namespace

int main(int argc, char** argv) {
  bl::node_options options = bl::node_options::from_args(argc, argv);
  options.log_crashes = false;  // this program narrates the crashes itself
  bl::node node(options);
  node.spawn(application);
  return node.run();
}
