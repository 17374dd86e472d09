// thread_signals.hpp: the runtime's threads leave SIGTERM, SIGINT and SIGQUIT to the
// program's.
//
// Workers, spare threads, the preemption monitor, dirty-pool threads and the signal
// reader are created with these three signals blocked, so the kernel delivers them
// to a thread of the program (the one waiting in node::run(), typically), never to a
// worker running a process's code or parked in epoll. The handlers
// (core/os_signals.hpp) then run at once; ThreadSanitizer, which runs a handler only
// when its thread next enters a function it intercepts, would otherwise leave one
// pending for as long as a parked worker sleeps. The preemption signal stays open.
#pragma once

#include <pthread.h>
#include <signal.h>

namespace beamline::sched {

// While alive, the calling thread blocks the three signals, and so do the threads it
// creates (they inherit its mask).
class process_signals_blocked {
 public:
  process_signals_blocked() noexcept {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &set, &previous_);
  }
  ~process_signals_blocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  process_signals_blocked(const process_signals_blocked&) = delete;
  process_signals_blocked& operator=(const process_signals_blocked&) = delete;

 private:
  sigset_t previous_;
};

}  // namespace beamline::sched
