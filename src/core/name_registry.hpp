// name_registry.hpp: a node's registered names (Erlang's register/2, whereis/1).
//
// whereis is on the path of every send to a name, so it is one lock-free load: the
// table is indexed by atom index (atoms are dense small integers) in chunks that
// are allocated on first use and never freed; an entry packs the pid's index and
// serial (0: no process). Changes take a mutex. A process's slot records its name
// (process_slot::name) so that a dying process knows, without locking, whether it
// has one to release.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/detail/thread_safety.hpp"
#include "beamline/pid.hpp"

namespace beamline::detail {

class process_table;

class name_registry {
 public:
  explicit name_registry(process_table& table);
  ~name_registry();

  // Throws beamline::error (badarg) saying which rule was broken.
  void register_name(atom name, const pid& process) BL_EXCLUDES(lock_);
  // Throws beamline::error (badarg) if the name is not registered.
  void unregister(atom name) BL_EXCLUDES(lock_);
  std::optional<pid> whereis(atom name) const noexcept;
  std::vector<atom> registered() const BL_EXCLUDES(lock_);
  // A dying process releases its name (if the slot says it has one).
  void release(const pid& process) noexcept BL_EXCLUDES(lock_);

 private:
  static constexpr std::uint32_t chunk_bits = 12;
  static constexpr std::uint32_t chunk_size = 1u << chunk_bits;
  static constexpr std::uint32_t max_chunks = 1u << 10;  // 4M atom indices

  std::atomic<std::uint64_t>* entry(std::uint32_t atom_index) const noexcept;
  std::atomic<std::uint64_t>& entry_for_write(std::uint32_t atom_index) BL_REQUIRES(lock_);

  process_table& table_;
  // Taken by every change. The chunk pointers and entries are atomics written under
  // it and read without it (whereis).
  mutable mutex lock_;
  std::unique_ptr<std::atomic<std::atomic<std::uint64_t>*>[]> chunks_;
  // Atom indices with an entry, for registered().
  std::unordered_set<std::uint32_t> names_ BL_GUARDED_BY(lock_);
};

}  // namespace beamline::detail
