// mailbox.cpp: see beamline/detail/mailbox.hpp.
#include "beamline/detail/mailbox.hpp"

namespace beamline::detail {

std::size_t message_queue::bytes() const noexcept {
  std::size_t total = 0;
  for (const signal* s = head_; s != nullptr; s = s->next) total += s->type->size;
  return total;
}

std::size_t message_queue::bytes_estimate(std::uint32_t sample) const noexcept {
  std::size_t total = 0;
  std::uint32_t walked = 0;
  for (const signal* s = head_; s != nullptr && walked < sample; s = s->next, ++walked)
    total += s->type->size;
  if (walked == 0 || walked == length_) return total;
  return total / walked * length_;
}

}  // namespace beamline::detail
