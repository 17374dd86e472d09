// mailbox.cpp: see beamline/detail/mailbox.hpp.
#include "beamline/detail/mailbox.hpp"

namespace beamline::detail {

std::size_t message_queue::bytes() const noexcept {
  std::size_t total = 0;
  for (const signal* s = head_; s != nullptr; s = s->next) total += s->type->size;
  return total;
}

}  // namespace beamline::detail
