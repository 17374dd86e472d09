// mailbox.cpp: see beamline/detail/mailbox.hpp.
#include "beamline/detail/mailbox.hpp"

namespace beamline::detail {

signal* inbox_close(process_slot& slot) noexcept {
  signal* s = slot.inbox.exchange(closed_tag(), std::memory_order_acq_rel);
  if (s == blocked_tag() || s == closed_tag()) return nullptr;
  return reverse_chain(s);
}

signal* message_queue::unlink(signal** link) noexcept {
  signal* s = *link;
  *link = s->next;
  if (tail_ == &s->next) tail_ = link;
  if (save_ == &s->next) save_ = link;
  for (mark& m : marks_)
    if (m.link == &s->next) m.link = link;
  --length_;
  s->next = nullptr;
  return s;
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
  for (mark& m : marks_) m = mark{};
  return all;
}

void message_queue::set_mark(std::uint64_t key) noexcept {
  marks_[next_mark_] = mark{key, tail_};
  next_mark_ = static_cast<std::uint8_t>((next_mark_ + 1) % 2);
}

signal** message_queue::scan_start(std::uint64_t since_key) noexcept {
  if (since_key != 0)
    for (const mark& m : marks_)
      if (m.key == since_key && m.link != nullptr) return m.link;
  return &head_;
}

}  // namespace beamline::detail
