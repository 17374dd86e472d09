// beamline/detail/process_control.hpp: the process control block (PCB).
//
// A process is a coroutine whose promise *is* its control block, so spawning makes
// one pooled allocation (the coroutine frame) plus a slot in the process table. The
// slot (src/core/process_table.hpp) holds what other threads may touch: the inbox
// and the serial. Everything here is owned by the process: only the thread running
// it reads or writes these fields, and other processes reach it only through
// signals pushed onto the inbox (ARCHITECTURE.md decision 3; a process changes only
// its own link and monitor tables). The fields are private: the process's own
// operations are members, and its friends are the run loop (node_runtime) and the
// link, monitor and exit protocol (relations.cpp); docs/design/process.md.
//
// Where a process sits, by state:
//   created        spawned, in a run queue, its body not started
//   running        executing on a worker thread
//   waiting        suspended in receive; blocked (its inbox tagged BLOCKED, in no
//                  queue) or, once woken by a signal, in a run queue
//   receive_yield  reached a receive with its time slice spent; in a run queue
//   yielded        suspended in check()/yield(); in a run queue
//   exiting        an exit signal ended it; its frame is about to be destroyed
//
// A process ends in two steps: terminate() (src/core/relations.cpp) releases its
// name, closes its inbox and sends its link exits and DOWNs; then its frame is
// destroyed, and this class's destructor (process_control.cpp) frees what the
// process owned and, last, its slot.
#pragma once

#include <coroutine>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "beamline/detail/mailbox.hpp"
#include "beamline/detail/process_slot.hpp"
#include "beamline/detail/schedulable.hpp"
#include "beamline/detail/signal.hpp"
#include "beamline/detail/thread_state.hpp"
#include "beamline/pid.hpp"
#include "beamline/term.hpp"

namespace beamline {
struct process_info;
}

namespace beamline::detail {

class node_runtime;
class process_control;
struct receive_timer;
struct relations;
enum class alias_kind : std::uint8_t;

enum class run_state : std::uint8_t { created, running, waiting, receive_yield, yielded, exiting };

// Why a process waits (process_status shows it; docs/design/process.md).
enum class wait_reason : std::uint8_t {
  receive,   // a selective receive: a message some handler accepts, or its after clause
  sleep,     // sleep(): a receive with no handler
  io,        // a socket operation: readiness of its descriptor, or its timeout
  blocking,  // blocking(): a call running on a dirty thread
  call,      // gen_server::call and the like: the reply, the callee's DOWN, or the timeout
  channel,   // a channel's send or receive, or a select (bl::chan, bl::select)
};

// Where in the program a wait began: the file and line of its co_await. Each wait's
// await_ready takes them as default arguments, __builtin_FILE() and
// __builtin_LINE(), which g++ and clang both evaluate at the co_await expression
// (the call the compiler makes); clang 14 with libstdc++ has no std::source_location.
// BL_WAIT_SITE_PARAMETERS declares them. One word, kept in every waiting process's
// frame: the file name's address in the low 48 bits (user-space addresses on the
// 64-bit targets beamline runs on) and the line, up to 65535, in the high 16.
class wait_site {
 public:
  wait_site() noexcept = default;
  wait_site(const char* file, unsigned line) noexcept {
    static_assert(sizeof(std::uintptr_t) == 8, "wait_site packs a 48-bit address and a line");
    const auto address = reinterpret_cast<std::uintptr_t>(file);
    if ((address >> 48) == 0)
      bits_ = address | (static_cast<std::uintptr_t>(line < 0xffff ? line : 0xffff) << 48);
  }
  const char* file() const noexcept {
    return reinterpret_cast<const char*>(bits_ & ((std::uintptr_t{1} << 48) - 1));
  }
  unsigned line() const noexcept { return static_cast<unsigned>(bits_ >> 48); }
  // The packed form and back (the observer's published figures).
  std::uintptr_t bits() const noexcept { return bits_; }
  static wait_site from_bits(std::uintptr_t bits) noexcept {
    wait_site w;
    w.bits_ = bits;
    return w;
  }

 private:
  std::uintptr_t bits_ = 0;
};

// One wait of a process, whatever it waits for: kept in the awaiting coroutine's
// frame while the process is suspended. The run loop asks `satisfied` whether the
// wait is over each time the process has taken new signals (a message, a wake-up
// from the poller or a dirty thread), and blocks the process when it is not. A
// receive's `satisfied` scans the message queue from the save point and, on a
// match, sets `matched` (the link to it) and `matched_index`. 40 bytes: a million
// idle processes each keep one.
struct wait_base {
  bool (*satisfied)(wait_base&, process_control&) = nullptr;
  union {
    // Before the scan starts: the mark to start from (0: the first message).
    std::uint64_t since_key = 0;
    // Once it has started (receive_ready clears it): the link to the matched message.
    signal** matched;
  };
  std::int64_t deadline_ns = -1;  // steady-clock deadline; -1: none
  wait_site where;
  std::int32_t matched_index = -1;
  bool timed_out = false;
  bool at_head = false;  // matched the queue's first message without suspending
  wait_reason reason = wait_reason::receive;
  std::uint8_t io_side = 0;  // for io: 0 read, 1 write
};

#define BL_WAIT_SITE_PARAMETERS \
  const char *site_file = __builtin_FILE(), unsigned site_line = __builtin_LINE()

// Storage for a stateful callable and its arguments, owned by the process it spawned.
struct spawn_closure {
  void (*destroy)(spawn_closure*) noexcept;
};

class process_control : public schedulable {
 public:
  // Inside a coroutine's promise (process::promise_type): the frame's size was
  // noted by the promise's operator new just before. The function, file and line
  // are the process body's (its initial call: process_info, crash reports).
  explicit process_control(const char* function = nullptr, const char* file = nullptr,
                           unsigned line = 0) noexcept
      : initial_line_(line & 0x0fffffffu),
        crash_reported_(0),
        service_(0),
        published_(0),
        publish_requested_(0),
        frame_bytes_(this_thread.new_frame_bytes),
        initial_function_(function),
        initial_file_(file) {}
  process_control(const process_control&) = delete;
  process_control& operator=(const process_control&) = delete;
  ~process_control();

  pid self() const noexcept { return pid{self_id_, self_serial_, 0, 0}; }
  // The serial in the high 32 bits and the slot in the low ones, in one load (the
  // timeline's record of a run).
  std::uint64_t self_word() const noexcept {
    std::uint64_t word;
    std::memcpy(&word, &self_id_, sizeof word);
    return word;
  }
  bool spawned() const noexcept { return slot_ != nullptr; }
  node_runtime& node() const noexcept { return *node_; }
  // An exit has been decided (the process is ending; exit_reason_ holds why).
  bool exiting() const noexcept { return exiting_; }

  // --- spawn (spawn_api.cpp) -----------------------------------------------------
  // Gives the new process its identity, its slot, its body and what it owns.
  void bind(node_runtime& node, process_slot& slot, std::uint32_t index,
            std::coroutine_handle<> body, spawn_closure* closure) noexcept {
    self_id_ = index;
    self_serial_ = slot.serial.load(std::memory_order_relaxed);
    slot_ = &slot;
    node_ = &node;
    body_ = body;
    closure_ = closure;
  }
  // spawn_monitor: `watcher` monitors this new process with reference
  // ref::local(key) (kept here, not in the relations tables: see spawn_monitor_key_).
  void watched_from_spawn(std::uint64_t key, const pid& watcher) noexcept {
    spawn_monitor_key_ = key;
    spawn_watcher_id_ = watcher.id;
    spawn_watcher_serial_ = watcher.serial;
  }

  // --- the mailbox (owner only; beamline/detail/mailbox.hpp) ----------------------
  // Moves every signal in the inbox into this process: messages are appended to the
  // queue, other signals are acted upon (which may end the process: see exiting()).
  void drain_inbox();
  bool inbox_nonempty() const noexcept { return detail::inbox_nonempty(*slot_); }
  // The message queue, for the readers that scan it inline (receive.hpp,
  // next_message.hpp) or take from it (flushes).
  message_queue& messages() noexcept { return messages_; }
  const message_queue& messages() const noexcept { return messages_; }

  // --- reductions ------------------------------------------------------------------
  // Spends `n` reductions of the time slice (and counts them for process_info).
  void charge(std::uint32_t n) noexcept {
    this_thread.budget -= static_cast<std::int32_t>(n);
    reductions_ += n;
  }
  // A message sent, which cost `n` reductions.
  void count_send(std::uint32_t n) noexcept {
    charge(n);
    ++messages_out_;
  }

  // --- receive (called by receive.hpp's awaiter) ---------------------------------
  // The fast path, for a receive without a mark: true if the slice allows one more
  // receive, pending signals have been drained and the process is not exiting; the
  // caller may then take the queue's first message with take_first() if a handler
  // accepts it, and otherwise goes the slow way (receive_ready).
  bool receive_fast_ready() {
    if (this_thread.budget <= 1) return false;  // the slow path yields
    if (inbox_nonempty()) drain_inbox();
    return !exiting_;
  }
  // Removes the queue's first message (the fast path matched it) and charges the
  // receive's reduction. The receive never suspended: no timer is armed for it.
  signal* take_first() noexcept {
    charge(1);
    return messages_.take_first();
  }
  bool receive_ready(wait_base& r);
  void receive_suspend(wait_base& r, std::coroutine_handle<> h) noexcept;
  signal* receive_take(wait_base& r) noexcept;  // the matched node, unlinked; or null
  // Suspends in a wait that is not a receive (blocking calls): r.satisfied says
  // when it is over; a signal wakes the process to ask it again.
  void wait_suspend(wait_base& r, std::coroutine_handle<> h) noexcept;
  // The same with r.deadline_ns as a timeout (socket operations): the run loop asks
  // r.satisfied before it blocks the process, and again on each signal.
  void timed_wait_suspend(wait_base& r, std::coroutine_handle<> h) noexcept {
    state_ = run_state::waiting;
    receive_suspend(r, h);
  }
  // Suspends in check() or yield(): back to a run queue.
  void yield_suspend(std::coroutine_handle<> h) noexcept {
    resume_ = h;
    state_ = run_state::yielded;
  }

  // --- marks for receive(since(ref), ...) ---------------------------------------
  void set_mark(std::uint64_t key) noexcept { messages_.set_mark(key); }

  // --- exits ---------------------------------------------------------------------
  // Records why an exception ended the body (unhandled_exception).
  void record_exception(std::exception_ptr e) noexcept;
  [[noreturn]] void throw_exit();
  // Decides that the process ends with `reason` (the first decision wins).
  void begin_exit(const term& reason);
  // Returns the previous setting.
  bool set_trap_exit(bool on) noexcept { return std::exchange(trap_exit_, on); }
  bool traps_exit() const noexcept { return trap_exit_; }

  // --- what the process is doing (process_info.cpp) --------------------------------
  // Its process_info, with up to `max_messages` of its queued messages printed.
  beamline::process_info info(std::size_t max_messages = 0) const;
  std::string status() const;  // "running", "waiting: receive (file:line)", ...
  // The body's function and where it is: "worker (examples/demo/main.cpp:31)";
  // "unknown" when not known.
  std::string initial_call() const;
  std::optional<atom> registered_name() const;
  // The process's own code has logged why it ends (gen_server's termination report):
  // the process's crash line is not printed as well.
  void mark_reported() noexcept { crash_reported_ = 1; }
  // Names the initial call by a text that lives as long as the program (a behaviour
  // names its callback type rather than its loop).
  // Makes the process publish its figures at each suspension while its node is
  // observed, young or not (observe.hpp): for the processes a snapshot must find by
  // their initial call (supervisors). The process itself calls it.
  void request_publication() noexcept { publish_requested_ = 1; }
  void set_initial_call(const char* text) noexcept {
    initial_function_ = text;
    initial_file_ = nullptr;
  }

 private:
  // The run loop, deliver and destroy_process (node_runtime.cpp, run_loop.cpp).
  friend class node_runtime;
  // The link, monitor and exit protocol (relations.hpp, relations.cpp): a process's
  // tables, its exit reason and trap_exit.
  friend relations& relations_of(process_control& p);
  friend void request_link(process_control& p, const pid& target);
  friend void request_unlink(process_control& p, const pid& target);
  friend bool remove_alias(process_control& p, const ref& alias);
  friend bool accept_alias_message(process_control& p, const ref& alias);
  friend bool request_demonitor(process_control& p, const ref& monitor);
  friend void handle_relation_signal(process_control& p, signal* s);
  friend void answer_after_exit(process_control& p, signal* s) noexcept;
  friend void notify_exit(process_control& p) noexcept;
  friend void notify_spawn_watcher(process_control& p) noexcept;

  // --- internals of signal handling (process_control.cpp) -------------------------
  void handle_signal(signal* s);
  void append_message(signal* s) noexcept {
    s->kind = signal_kind::message;
    ++messages_in_;
    messages_.append(s);
  }
  // Ends the process for the rest of the node (its name, its inbox, its links and
  // monitors); the node calls it before destroying the frame.
  void terminate() noexcept;
  void terminate_in_full() noexcept;
  void close_inbox_after_exit() noexcept;
  void answer_info(signal* s) noexcept;

  void log_crash(bool exited) noexcept;  // record_exception's report

  // Identity, set at spawn.
  std::uint32_t self_id_ = 0;
  std::uint32_t self_serial_ = 0;
  // (Beside the ids, in what would be a hole in the layout.)
  std::uint32_t initial_line_ : 28;
  std::uint32_t crash_reported_ : 1;  // its own code logged its abnormal end (mark_reported)
  std::uint32_t service_ : 1;         // does not keep run() going (node_runtime::mark_service)
  // The observer (core/process_stats.hpp): it has published its figures, and a
  // snapshot has asked it to (a wake-up with observe_wake_flag).
  std::uint32_t published_ : 1;
  std::uint32_t publish_requested_ : 1;
  process_slot* slot_ = nullptr;
  node_runtime* node_ = nullptr;

  // Coroutines: the body (outermost frame) and the innermost suspended coroutine.
  std::coroutine_handle<> body_{};
  std::coroutine_handle<> resume_{};

  run_state state_ = run_state::created;
  bool trap_exit_ = false;
  bool exiting_ = false;  // an exit has been decided; exit_reason_ holds why
  bool terminated_ = false;
  // Reductions the current run spent on messages queued for processes on this
  // worker (flood affinity keeps a process that streams to a neighbour beside it).
  std::uint32_t local_send_cost_ = 0;

  // The message queue: messages taken from the inbox, oldest first.
  message_queue messages_;

  wait_base* waiter_ = nullptr;     // the receive this process waits in
  std::uint32_t wait_epoch_ = 0;    // tells a live receive timeout from a stale one
  std::uint32_t frame_bytes_;       // the body's coroutine frame (the control block in it)
  receive_timer* timer_ = nullptr;  // this process's receive timer, made on first use

  relations* relations_ = nullptr;  // links and monitors, made on first use
  // The monitor that spawn_monitor set on this process, kept here rather than in
  // relations_ (most such processes have no other link or monitor, and W7 spawns a
  // million of them): its reference is ref::local(spawn_monitor_key_), its watcher
  // the local process (spawn_watcher_id_, spawn_watcher_serial_); id 0: none.
  std::uint64_t spawn_monitor_key_ = 0;
  std::uint32_t spawn_watcher_id_ = 0;
  std::uint32_t spawn_watcher_serial_ = 0;
  spawn_closure* closure_ = nullptr;  // the callable and arguments it was spawned with
  // The body's function name and file (string literals; null when not known).
  const char* initial_function_;
  const char* initial_file_;

  term exit_reason_{atoms::normal};

  // Statistics (process_info, the observer, tests).
  std::uint64_t reductions_ = 0;
  std::uint64_t messages_in_ = 0;   // messages that reached the queue
  std::uint64_t messages_out_ = 0;  // messages sent
};

}  // namespace beamline::detail
