// beamline/priority.hpp: a process's scheduling priority.
//
//     bl::spawn_opt({.priority = bl::priority::high}, body, args...);
//     bl::priority old = bl::set_priority(bl::priority::low);  // inside a process
//
// The levels have Erlang's meaning (docs/design/scheduler.md, docs/semantics.md):
//   max     runs before every other level on its worker;
//   high    runs before normal and low;
//   normal  the default, for almost every process;
//   low     shares normal's queue but is picked less often: when other tasks
//           wait in that queue, a low task at its head goes back to the tail seven
//           turns in eight (Erlang's RESCHEDULE_LOW); it is never starved.
// The order holds on each worker, not across them: as on the BEAM, a low process on
// one worker may run while a high one waits on another. A task that keeps its
// worker too long is preempted (docs/design/preemption.md): it goes on running on
// a thread of its own whose OS priority drops below the workers': nice 19, or 10
// for high and 5 for max.
#pragma once

#include <cstdint>

namespace beamline {

enum class priority : std::uint8_t { low, normal, high, max };

}  // namespace beamline
