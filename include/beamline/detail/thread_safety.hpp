// beamline/detail/thread_safety.hpp: locks whose use the compiler checks.
//
// Clang's thread-safety analysis (-Wthread-safety) proves at compile time that a
// field marked BL_GUARDED_BY(m) is only touched with m held, that a function marked
// BL_REQUIRES(m) is only called with m held, and that every lock taken is released
// on every path. libstdc++'s std::mutex carries no capability attributes, so the
// runtime's locks are the thin types below: each holds the standard type and
// forwards to it inline, so it compiles to the same code (same size, same calls).
// Other compilers see empty macros.
//
// Vocabulary (Clang's names):
//   capability          a lock: mutex, shared_mutex
//   scoped capability   an object that holds a lock for its lifetime: lock_guard,
//                       unique_lock (which may also unlock and lock again), shared_lock
//   BL_GUARDED_BY(m)    this field is read and written with m held (shared for reads)
//   BL_REQUIRES(m)      the caller holds m (functions named *_locked)
//   BL_EXCLUDES(m)      the caller must not hold m (the function takes it)
//   BL_ACQUIRED_BEFORE  lock order: this lock is never taken while holding the others
//                       (checked with -Wthread-safety-beta)
//   lock_role           a name for a family of locks the analysis cannot name one by
//                       one (one per worker): whoever takes one of them also takes
//                       the role, so a lock order can be written against the family
//
// Rules for the runtime's code:
// - Atomics are not annotated: they are read without a lock by design. A field that
//   is written only under a lock but read without one stays an atomic, and its
//   comment says so.
// - A condition variable wait is written as a loop in the caller,
//     while (!ready) wake.wait(lock);
//   never with a predicate lambda: the analysis checks a lambda as a function of its
//   own that holds no lock, so a predicate that reads guarded fields is rejected.
//   condition_variable::wait releases and retakes the lock inside; to the caller it
//   is held before and after, which is what the analysis assumes.
// - Where the analysis cannot follow the code (a lock taken in one function and
//   released in another), use BL_NO_THREAD_SAFETY_ANALYSIS on the narrowest
//   function and say why in a comment.
//
// Rejected: std::condition_variable_any, which takes any lockable type directly; it
// keeps a mutex and a shared_ptr of its own, so every wait and notify costs more.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define BL_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define BL_THREAD_ANNOTATION(x)
#endif

#define BL_CAPABILITY(name) BL_THREAD_ANNOTATION(capability(name))
#define BL_SCOPED_CAPABILITY BL_THREAD_ANNOTATION(scoped_lockable)
#define BL_GUARDED_BY(x) BL_THREAD_ANNOTATION(guarded_by(x))
#define BL_PT_GUARDED_BY(x) BL_THREAD_ANNOTATION(pt_guarded_by(x))
#define BL_ACQUIRED_BEFORE(...) BL_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define BL_ACQUIRED_AFTER(...) BL_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define BL_REQUIRES(...) BL_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define BL_REQUIRES_SHARED(...) BL_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define BL_ACQUIRE(...) BL_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define BL_ACQUIRE_SHARED(...) BL_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define BL_RELEASE(...) BL_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define BL_RELEASE_SHARED(...) BL_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define BL_RELEASE_GENERIC(...) BL_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define BL_TRY_ACQUIRE(...) BL_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define BL_TRY_ACQUIRE_SHARED(...) BL_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
#define BL_EXCLUDES(...) BL_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define BL_ASSERT_CAPABILITY(x) BL_THREAD_ANNOTATION(assert_capability(x))
#define BL_RETURN_CAPABILITY(x) BL_THREAD_ANNOTATION(lock_returned(x))
#define BL_NO_THREAD_SAFETY_ANALYSIS BL_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace beamline::detail {

class unique_lock;
class condition_variable;

// std::mutex with capability attributes.
class BL_CAPABILITY("mutex") mutex {
 public:
  constexpr mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  void lock() BL_ACQUIRE() { native_.lock(); }
  bool try_lock() BL_TRY_ACQUIRE(true) { return native_.try_lock(); }
  void unlock() BL_RELEASE() { native_.unlock(); }

 private:
  friend class unique_lock;
  std::mutex native_;
};

// std::shared_mutex with capability attributes: exclusive for writers, shared for
// readers.
class BL_CAPABILITY("shared_mutex") shared_mutex {
 public:
  shared_mutex() = default;
  shared_mutex(const shared_mutex&) = delete;
  shared_mutex& operator=(const shared_mutex&) = delete;

  void lock() BL_ACQUIRE() { native_.lock(); }
  bool try_lock() BL_TRY_ACQUIRE(true) { return native_.try_lock(); }
  void unlock() BL_RELEASE() { native_.unlock(); }
  void lock_shared() BL_ACQUIRE_SHARED() { native_.lock_shared(); }
  bool try_lock_shared() BL_TRY_ACQUIRE_SHARED(true) { return native_.try_lock_shared(); }
  void unlock_shared() BL_RELEASE_SHARED() { native_.unlock_shared(); }

 private:
  std::shared_mutex native_;
};

// A capability with no state and no code: the name of a family of locks (every
// worker's timer-wheel lock, say) for the analysis. The guard of each lock in the
// family acquires the role with it; a lock declared BL_ACQUIRED_BEFORE(role) may then
// not be taken by code that holds the role (a function marked BL_REQUIRES(role)).
class BL_CAPABILITY("lock role") lock_role {
 public:
  constexpr lock_role() noexcept = default;
  lock_role(const lock_role&) = delete;
  lock_role& operator=(const lock_role&) = delete;

  void acquire() noexcept BL_ACQUIRE() {}
  void release() noexcept BL_RELEASE() {}
};

// Holds a mutex (or a shared_mutex, exclusively) from construction to destruction,
// as std::lock_guard does.
template <class Mutex>
class BL_SCOPED_CAPABILITY lock_guard {
 public:
  explicit lock_guard(Mutex& m) BL_ACQUIRE(m) : mutex_(m) { m.lock(); }
  ~lock_guard() BL_RELEASE() { mutex_.unlock(); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  Mutex& mutex_;
};

// Holds a shared_mutex shared from construction to destruction (readers).
class BL_SCOPED_CAPABILITY shared_lock {
 public:
  explicit shared_lock(shared_mutex& m) BL_ACQUIRE_SHARED(m) : mutex_(m) { m.lock_shared(); }
  ~shared_lock() BL_RELEASE() { mutex_.unlock_shared(); }
  shared_lock(const shared_lock&) = delete;
  shared_lock& operator=(const shared_lock&) = delete;

 private:
  shared_mutex& mutex_;
};

// Holds a mutex from construction; it may be released and taken again in between
// (unlock(), lock()), and a condition_variable waits on it. The destructor releases
// it if held. A std::unique_lock inside, so condition_variable can hand it to
// std::condition_variable as is.
class BL_SCOPED_CAPABILITY unique_lock {
 public:
  explicit unique_lock(mutex& m) BL_ACQUIRE(m) : native_(m.native_) {}
  ~unique_lock() BL_RELEASE() = default;
  unique_lock(const unique_lock&) = delete;
  unique_lock& operator=(const unique_lock&) = delete;

  void lock() BL_ACQUIRE() { native_.lock(); }
  void unlock() BL_RELEASE() { native_.unlock(); }

 private:
  friend class condition_variable;
  std::unique_lock<std::mutex> native_;
};

// std::condition_variable over a detail::unique_lock. No predicate overloads: the
// caller loops (see the rules at the top of this file).
class condition_variable {
 public:
  condition_variable() = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;

  void notify_one() noexcept { native_.notify_one(); }
  void notify_all() noexcept { native_.notify_all(); }

  // Releases the lock while it sleeps and holds it again when it returns (which it
  // may do spuriously).
  void wait(unique_lock& lock) { native_.wait(lock.native_); }
  template <class Clock, class Duration>
  std::cv_status wait_until(unique_lock& lock,
                            const std::chrono::time_point<Clock, Duration>& deadline) {
    return native_.wait_until(lock.native_, deadline);
  }
  template <class Rep, class Period>
  std::cv_status wait_for(unique_lock& lock, const std::chrono::duration<Rep, Period>& timeout) {
    return native_.wait_for(lock.native_, timeout);
  }

 private:
  std::condition_variable native_;
};

static_assert(sizeof(mutex) == sizeof(std::mutex));
static_assert(sizeof(shared_mutex) == sizeof(std::shared_mutex));
static_assert(sizeof(unique_lock) == sizeof(std::unique_lock<std::mutex>));
static_assert(sizeof(condition_variable) == sizeof(std::condition_variable));

}  // namespace beamline::detail
