// small_stack.hpp: a stack that keeps its first N entries inline.
//
// The explicit stacks that let comparison, hashing and printing walk terms without
// recursion. Most terms are shallow, so the inline entries mean no allocation; deep
// ones spill into a vector. T must be trivially copyable.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <vector>

namespace beamline::detail {

template <class T, std::size_t N>
class small_stack {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  bool empty() const noexcept { return size_ == 0; }
  T& top() noexcept { return size_ <= N ? inline_[size_ - 1] : spilled_[size_ - N - 1]; }
  void push(const T& value) {
    if (size_ < N) {
      inline_[size_] = value;
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
  std::array<T, N> inline_;
  std::vector<T> spilled_;
  std::size_t size_ = 0;
};

}  // namespace beamline::detail
