// beamline/detail/allocation.hpp: the runtime's small-object allocator, as seen from
// templates in public headers (coroutine frames, message nodes).
//
// Objects up to max_pooled_size bytes come from per-thread caches of size classes
// that recycle memory (src/sched/memory_pool.cpp); larger ones from operator new.
// The caller passes the size back on deallocation, so blocks carry no header.
#pragma once

#include <cstddef>

namespace beamline::detail {

inline constexpr std::size_t max_pooled_size = 8192;

// Throws std::bad_alloc when memory is exhausted.
void* pool_allocate(std::size_t size);
void pool_deallocate(void* block, std::size_t size) noexcept;

}  // namespace beamline::detail

namespace beamline::detail {

// Coroutine frames (processes and tasks): pooled, and counted so that tests can
// assert that no frame outlives its process.
void* frame_allocate(std::size_t size);
void frame_deallocate(void* frame, std::size_t size) noexcept;
// Frames allocated and not yet freed, over all threads.
long long live_frames() noexcept;

}  // namespace beamline::detail
