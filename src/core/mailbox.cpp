// mailbox.cpp: see beamline/detail/mailbox.hpp.
#include "beamline/detail/mailbox.hpp"

namespace beamline::detail {

signal* inbox_close(process_slot& slot) noexcept {
  signal* s = slot.inbox.exchange(closed_tag(), std::memory_order_acq_rel);
  if (s == blocked_tag() || s == closed_tag()) return nullptr;
  return reverse_chain(s);
}

std::size_t message_queue::bytes() const noexcept {
  std::size_t total = 0;
  for (const signal* s = head_; s != nullptr; s = s->next) total += s->type->size;
  return total;
}

signal* message_queue::take_all() noexcept {
  signal* all = head_;
  head_ = nullptr;
  tail_ = &head_;
  save_ = &head_;
  length_ = 0;
  marks_[0] = marks_[1] = mark{};
  return all;
}

}  // namespace beamline::detail
