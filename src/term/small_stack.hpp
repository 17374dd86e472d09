// small_stack.hpp: a stack that keeps its first N entries inline.
//
// The explicit stacks that let comparison, hashing and printing walk terms without
// recursion. Most terms are shallow, so the inline entries mean no allocation; deep
// ones spill into a vector. The inline entries are raw storage, constructed only when
// pushed, so an unused stack costs nothing to set up: these walks run for every
// comparison of two tuples. T must be trivially copyable and destructible.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <vector>

namespace beamline::detail {

template <class T, std::size_t N>
class small_stack {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  small_stack() noexcept {}  // leaves the inline storage raw
  small_stack(const small_stack&) = delete;
  small_stack& operator=(const small_stack&) = delete;

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  T& top() noexcept { return size_ <= N ? inline_entry(size_ - 1) : spilled_[size_ - N - 1]; }
  void push(const T& value) {
    if (size_ < N) {
      new (storage_ + size_ * sizeof(T)) T(value);
    } else {
      spilled_.push_back(value);
    }
    ++size_;
  }
  void pop() noexcept {
    if (size_ > N) spilled_.pop_back();
    --size_;
  }

 private:
  T& inline_entry(std::size_t i) noexcept {
    return *std::launder(reinterpret_cast<T*>(storage_ + i * sizeof(T)));
  }

  alignas(T) std::byte storage_[N * sizeof(T)];
  std::vector<T> spilled_;
  std::size_t size_ = 0;
};

}  // namespace beamline::detail
