// task_pool: work that may fail, fanned out under a task supervisor (Elixir's
// Task.Supervisor), without the caller going down with it.
//
// A "checker" is asked to check 20 documents. Some are corrupt and their check
// throws; one hangs. Each check runs in a task of its own under the task
// supervisor, not linked to the caller (async_stream_nolink), so a crash is just
// that document's {exit, Reason}; the hanging one is given up on after its timeout
// (on_timeout kill_task). Then a single slow task is awaited with yield and, still
// running, shut down.
//
//   build/release/bin/task_pool [--schedulers N]
#include <beamline/otp.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace bl = beamline;
namespace gs = bl::gen_server;
namespace ts = bl::task_supervisor;
using namespace std::chrono_literals;

namespace {

// Checks document `n`: its length, or an exception for a corrupt one.
bl::task<int> check(int n) {
  if (n % 7 == 3) throw bl::error(bl::atom("corrupt"), "document " + std::to_string(n));
  if (n == 13) co_await bl::sleep(1h);  // hangs
  co_await bl::sleep(std::chrono::milliseconds(n));
  co_return n * 100;
}

bl::process checker() {
  bl::pid tasks = (co_await ts::start_link(gs::start_options(bl::atom("checks")))).pid_or_throw();

  std::vector<int> documents;
  for (int n = 1; n <= 20; ++n) documents.push_back(n);
  auto results = co_await ts::async_stream_nolink(
      tasks, documents, check,
      {.max_concurrency = 4, .timeout = 500ms, .on_timeout = bl::kill_task});
  int ok = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].is_ok()) {
      ++ok;
      continue;
    }
    std::printf("document %d: %s\n", documents[i], results[i].exit_reason().to_string().c_str());
  }
  std::printf("%zu documents: %d checked, %zu failed; the checker is still here\n", results.size(),
              ok, results.size() - static_cast<std::size_t>(ok));

  // One slow task: ask for its result for a while, then stop it.
  bl::async_task<int> slow = co_await ts::async_nolink(tasks, check, 13);
  if (!co_await slow.yield(100ms)) std::printf("document 13 is still being checked\n");
  if (!co_await slow.shutdown()) std::printf("gave up on document 13\n");
  std::printf("tasks left: %zu\n", (co_await ts::children(tasks)).size());
  co_await bl::supervisor::stop(tasks);
}

}  // namespace

int main(int argc, char** argv) {
  bl::node node(bl::node_options::from_args(argc, argv));
  node.spawn(checker);
  return node.run();
}
