// beamline/chan.hpp: Go's channels, between processes on beamline's schedulers.
//
//     auto jobs = bl::make_chan<job>(16);          // buffered (capacity 16); 0: unbuffered
//     co_await jobs.send(job{42});                  // waits while the buffer is full
//     std::optional<job> j = co_await jobs.receive();   // nullopt: closed and drained
//     while (auto j = co_await jobs.receive()) work(*j);   // Go's `for j := range jobs`
//     jobs.close();
//
// The semantics are Go's (docs/channels.md lists the differences): an unbuffered
// channel hands each value from a sender to a receiver that meet (whoever comes
// first waits); a buffered one queues up to `capacity` values, in order. close()
// lets receivers drain the buffer and then see the channel closed; sending on a
// closed channel, or closing it twice, throws beamline::error (Go panics). A
// default-constructed chan is Go's nil channel: its sends and receives wait for
// ever, and select never picks its cases.
//
// A chan is a shared handle: copies name the same channel, and it lives while any
// copy does, so it can be captured, passed to spawn and sent in messages. Values
// are moved in and out (T's move constructor must not throw).
//
// A process blocked on a channel waits like one in a receive: process_info shows
// `waiting: channel (file:line)`, exit signals reach it, and a kill ends it at
// once (it leaves the channel's queues; the channel goes on for the others). From a
// plain thread that runs no process, send_blocking and receive_blocking block the
// thread (for bridging into code that is not a process).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "beamline/detail/chan_core.hpp"
#include "beamline/detail/process_control.hpp"
#include "beamline/errors.hpp"
#include "beamline/process.hpp"

namespace beamline {

// How an operation that may not complete ended.
enum class chan_status : std::uint8_t {
  ok,           // done: sent, or a value received
  closed,       // the channel is closed (a receive: and drained)
  timeout,      // the time ran out
  would_block,  // try_*: it would have had to wait
};

// A receive's outcome when it can end without a value: its status, and the value
// when ok.
template <class T>
class chan_result {
 public:
  explicit chan_result(chan_status s) : status_(s) {}
  explicit chan_result(T value) : status_(chan_status::ok), value_(std::move(value)) {}

  chan_status status() const noexcept { return status_; }
  bool ok() const noexcept { return status_ == chan_status::ok; }
  explicit operator bool() const noexcept { return ok(); }
  // The value (only when ok()).
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  T* operator->() { return &*value_; }

 private:
  chan_status status_;
  std::optional<T> value_;
};

namespace detail {

[[noreturn]] void throw_send_on_closed();
[[noreturn]] void throw_close_of_closed();
[[noreturn]] void throw_blocking_in_process(const char* operation);
std::int64_t chan_deadline(std::chrono::nanoseconds timeout);
// Blocks the calling plain thread until the group is ready.
void chan_block_thread(chan_group& group) noexcept;

// Raw storage for one T.
template <class T>
class value_cell {
 public:
  value_cell() noexcept = default;
  value_cell(const value_cell&) = delete;
  value_cell& operator=(const value_cell&) = delete;
  ~value_cell() { reset(); }

  void* address() noexcept { return storage_; }
  T& get() noexcept { return *std::launder(reinterpret_cast<T*>(storage_)); }
  void emplace(T value) {
    ::new (storage_) T(std::move(value));
    full_ = true;
  }
  // The channel moved the value in (receive) or out (send).
  void filled() noexcept { full_ = true; }
  void emptied() noexcept { full_ = false; }
  void reset() noexcept {
    if (full_) get().~T();
    full_ = false;
  }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
  bool full_ = false;
};

// A process's wait on one channel operation. Sending = true: the value in `cell_`
// goes out; false: a value comes into it.
template <class T, bool Sending>
class chan_op_awaiter : public wait_base {
 public:
  chan_op_awaiter(chan_core* core, std::int64_t timeout_ns)
      : core_(core), timeout_ns_(timeout_ns) {}
  chan_op_awaiter(const chan_op_awaiter&) = delete;
  chan_op_awaiter& operator=(const chan_op_awaiter&) = delete;
  ~chan_op_awaiter() {
    // Killed while waiting: out of the channel's queue before this frame goes.
    if (suspended_result_ && core_ != nullptr && timeout_ns_ != 0) core_->leave(waiter_);
  }

  bool await_ready(BL_WAIT_SITE_PARAMETERS) {
    const char* operation = Sending ? "channel send" : "channel receive";
    process_control& p = current_process(operation);
    p.charge(1);
    process_ = &p;
    // The buffered common case first, with nothing of a wait set up.
    if (core_ != nullptr && core_->capacity() != 0) {
      if constexpr (Sending) {
        if (core_->send_fast(cell_.get())) {
          cell_.reset();  // moved into the buffer
          finish(chan_status::ok);
          return true;
        }
      } else {
        if (core_->template receive_fast<T>(cell_.address())) {
          finish(chan_status::ok);  // (filled: the value is in the cell)
          return true;
        }
      }
    }
    group_.node = &p.node();
    group_.process = p.self();
    wait_base::satisfied = &chan_op_awaiter::is_done;
    reason = wait_reason::channel;
    where = wait_site{site_file, site_line};
    waiter_.group = &group_;
    waiter_.slot = cell_.address();
    if (core_ == nullptr) {  // the nil channel: waits for ever (or the timeout)
      if (timeout_ns_ == 0) {
        finish(chan_status::would_block);
        return true;
      }
      if (timeout_ns_ > 0) deadline_ns = chan_deadline(std::chrono::nanoseconds(timeout_ns_));
      return false;
    }
    chan_core::outcome o;
    if (timeout_ns_ == 0)
      o = Sending ? core_->try_send(cell_.address()) : core_->try_receive(cell_.address());
    else
      o = Sending ? core_->send(cell_.address(), waiter_)
                  : core_->receive(cell_.address(), waiter_);
    switch (o) {
      case chan_core::outcome::done:
        finish(chan_status::ok);
        return true;
      case chan_core::outcome::closed:
        finish(chan_status::closed);
        return true;
      case chan_core::outcome::would_block:
        if (timeout_ns_ == 0) {
          finish(chan_status::would_block);
          return true;
        }
        break;
    }
    if (timeout_ns_ > 0) deadline_ns = chan_deadline(std::chrono::nanoseconds(timeout_ns_));
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    if (timeout_ns_ > 0)
      process_->timed_wait_suspend(*this, h);
    else
      process_->wait_suspend(*this, h);
  }

 protected:
  // After a suspension: how the wait ended.
  chan_status resume_status() {
    if (!suspended_result_) return status_;
    process_->receive_take(*this);
    if (!group_.is_ready() && core_ != nullptr) core_->leave(waiter_);
    // (A completion that began before leave took the lock has ended by now.)
    if (group_.is_ready())
      finish(group_.closed ? chan_status::closed : chan_status::ok);
    else
      finish(chan_status::timeout);
    return status_;
  }

  value_cell<T> cell_;

 private:
  static bool is_done(wait_base& base, process_control&) {
    return static_cast<chan_op_awaiter&>(base).group_.is_ready();
  }
  void finish(chan_status s) noexcept {
    status_ = s;
    suspended_result_ = false;
    if (s == chan_status::ok) {
      if constexpr (Sending)
        cell_.emptied();
      else
        cell_.filled();
    }
  }

  // The channel, which the chan the operation was called on keeps alive: that chan
  // lives at least as long as the co_await expression (as a local or a temporary of
  // it), so the awaiter takes no reference of its own (no shared counter to touch
  // on every operation).
  chan_core* core_;
  std::int64_t timeout_ns_;  // -1: none; 0: do not wait
  process_control* process_ = nullptr;
  chan_group group_;
  chan_waiter waiter_;
  chan_status status_ = chan_status::ok;
  bool suspended_result_ = true;  // the outcome is read after the suspension
};

template <class T>
class chan_send_awaiter : public chan_op_awaiter<T, true> {
 public:
  chan_send_awaiter(chan_core* core, T value) : chan_op_awaiter<T, true>(core, -1) {
    this->cell_.emplace(std::move(value));
  }
  void await_resume() {
    if (this->resume_status() == chan_status::closed) throw_send_on_closed();
  }
};

template <class T>
class chan_timed_send_awaiter : public chan_op_awaiter<T, true> {
 public:
  chan_timed_send_awaiter(chan_core* core, T value, std::int64_t timeout_ns)
      : chan_op_awaiter<T, true>(core, timeout_ns) {
    this->cell_.emplace(std::move(value));
  }
  // ok or timeout (the value is then dropped).
  chan_status await_resume() {
    chan_status s = this->resume_status();
    if (s == chan_status::closed) throw_send_on_closed();
    return s;
  }
};

template <class T>
class chan_receive_awaiter : public chan_op_awaiter<T, false> {
 public:
  explicit chan_receive_awaiter(chan_core* core) : chan_op_awaiter<T, false>(core, -1) {}
  std::optional<T> await_resume() {
    if (this->resume_status() != chan_status::ok) return std::nullopt;
    return std::optional<T>(std::move(this->cell_.get()));
  }
};

template <class T>
class chan_timed_receive_awaiter : public chan_op_awaiter<T, false> {
 public:
  chan_timed_receive_awaiter(chan_core* core, std::int64_t timeout_ns)
      : chan_op_awaiter<T, false>(core, timeout_ns) {}
  chan_result<T> await_resume() {
    chan_status s = this->resume_status();
    if (s != chan_status::ok) return chan_result<T>(s);
    return chan_result<T>(std::move(this->cell_.get()));
  }
};

}  // namespace detail

template <class T>
class chan {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "a channel moves its values: T's move constructor must be noexcept");

 public:
  using value_type = T;

  // The nil channel (see the top of this file).
  chan() noexcept = default;
  // A channel holding up to `capacity` values (0: unbuffered).
  explicit chan(std::size_t capacity)
      : core_(std::make_shared<detail::chan_core>(capacity, detail::chan_ops_of<T>)) {}

  // co_await: sends `value`, waiting while the channel cannot take it; throws
  // beamline::error (send_on_closed_channel) if the channel is or becomes closed.
  detail::chan_send_awaiter<T> send(T value) const { return {core_.get(), std::move(value)}; }
  // co_await: the next value, or nullopt once the channel is closed and drained.
  detail::chan_receive_awaiter<T> receive() const {
    return detail::chan_receive_awaiter<T>(core_.get());
  }

  // The same, waiting at most `timeout`: chan_status ok or timeout (a send that
  // times out drops its value).
  template <class Rep, class Period>
  detail::chan_timed_send_awaiter<T> send_for(T value,
                                              std::chrono::duration<Rep, Period> timeout) const {
    return {core_.get(), std::move(value), timeout_ns(timeout)};
  }
  // ok (with the value), closed or timeout.
  template <class Rep, class Period>
  detail::chan_timed_receive_awaiter<T> receive_for(
      std::chrono::duration<Rep, Period> timeout) const {
    return {core_.get(), timeout_ns(timeout)};
  }

  // Without waiting: true if sent (then `value` has been moved from; otherwise it
  // keeps its value); throws on a closed channel.
  bool try_send(T& value) const {
    if (core_ == nullptr) return false;
    detail::value_cell<T> cell;
    cell.emplace(std::move(value));
    switch (core_->try_send(cell.address())) {
      case detail::chan_core::outcome::done:
        cell.emptied();
        return true;
      case detail::chan_core::outcome::closed:
        value = std::move(cell.get());
        detail::throw_send_on_closed();
      default:
        value = std::move(cell.get());
        return false;
    }
  }
  bool try_send(T&& value) const { return try_send(value); }
  // Without waiting: ok (with the value), closed, or would_block.
  chan_result<T> try_receive() const {
    if (core_ == nullptr) return chan_result<T>(chan_status::would_block);
    detail::value_cell<T> cell;
    switch (core_->try_receive(cell.address())) {
      case detail::chan_core::outcome::done:
        cell.filled();
        return chan_result<T>(std::move(cell.get()));
      case detail::chan_core::outcome::closed:
        return chan_result<T>(chan_status::closed);
      default:
        return chan_result<T>(chan_status::would_block);
    }
  }

  // From a plain thread (not a process, whose worker it would block): send and
  // receive, blocking the thread. Inside a process they throw std::logic_error.
  void send_blocking(T value) const {
    detail::value_cell<T> cell;
    cell.emplace(std::move(value));
    switch (blocking_op(true, cell.address())) {
      case chan_status::ok:
        cell.emptied();
        return;
      default:
        detail::throw_send_on_closed();
    }
  }
  std::optional<T> receive_blocking() const {
    detail::value_cell<T> cell;
    if (blocking_op(false, cell.address()) != chan_status::ok) return std::nullopt;
    cell.filled();
    return std::optional<T>(std::move(cell.get()));
  }

  // Closes the channel (see the top of this file); throws beamline::error
  // (close_of_closed_channel) if it was closed already, or for the nil channel.
  void close() const {
    if (core_ == nullptr || !core_->close()) detail::throw_close_of_closed();
  }

  // The values buffered now, and the capacity (Go's len and cap).
  std::size_t len() const { return core_ == nullptr ? 0 : core_->length(); }
  std::size_t cap() const noexcept { return core_ == nullptr ? 0 : core_->capacity(); }

  // Whether this is the nil channel.
  bool is_nil() const noexcept { return core_ == nullptr; }
  friend bool operator==(const chan& a, const chan& b) noexcept { return a.core_ == b.core_; }

  // (select's access to the channel.)
  detail::chan_core* core() const noexcept { return core_.get(); }

 private:
  template <class Rep, class Period>
  static std::int64_t timeout_ns(std::chrono::duration<Rep, Period> timeout) {
    auto ns = std::chrono::ceil<std::chrono::nanoseconds>(timeout).count();
    return ns <= 0 ? 0 : static_cast<std::int64_t>(ns);
  }
  chan_status blocking_op(bool sending, void* slot) const {
    if (detail::this_thread.process != nullptr)
      detail::throw_blocking_in_process(sending ? "send_blocking" : "receive_blocking");
    if (core_ == nullptr) throw std::logic_error("beamline: a blocking operation on a nil channel");
    detail::chan_group group;
    detail::chan_waiter waiter;
    waiter.group = &group;
    waiter.slot = slot;
    detail::chan_core::outcome o =
        sending ? core_->send(slot, waiter) : core_->receive(slot, waiter);
    if (o == detail::chan_core::outcome::would_block) {
      detail::chan_block_thread(group);
      core_->leave(waiter);
      return group.closed ? chan_status::closed : chan_status::ok;
    }
    return o == detail::chan_core::outcome::done ? chan_status::ok : chan_status::closed;
  }

  std::shared_ptr<detail::chan_core> core_;
};

// Go's make(chan T, capacity).
template <class T>
chan<T> make_chan(std::size_t capacity = 0) {
  return chan<T>(capacity);
}

}  // namespace beamline
