// name_registry.cpp: see name_registry.hpp.
#include "core/name_registry.hpp"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>

#include "beamline/errors.hpp"
#include "core/process_table.hpp"

namespace beamline::detail {

namespace {

constexpr std::uint64_t pack(const pid& p) noexcept {
  return (std::uint64_t{p.id} << 32) | p.serial;
}
constexpr pid unpack(std::uint64_t v) noexcept {
  return pid{static_cast<std::uint32_t>(v >> 32), static_cast<std::uint32_t>(v), 0, 0};
}

[[noreturn]] void badarg(const std::string& message) {
  throw error(atoms::badarg, message);
}

// Joins pieces with appends (g++ 12 warns falsely on chains of operator+).
std::string cat(std::initializer_list<std::string_view> pieces) {
  std::string s;
  for (std::string_view p : pieces) s += p;
  return s;
}

std::string quoted(atom a) {
  return cat({"'", a.name(), "'"});
}

}  // namespace

name_registry::name_registry(process_table& table)
    : table_(table), chunks_(new std::atomic<std::atomic<std::uint64_t>*>[max_chunks]) {
  for (std::uint32_t i = 0; i < max_chunks; ++i) chunks_[i].store(nullptr);
}

name_registry::~name_registry() {
  for (std::uint32_t i = 0; i < max_chunks; ++i) delete[] chunks_[i].load();
}

std::atomic<std::uint64_t>* name_registry::entry(std::uint32_t atom_index) const noexcept {
  std::uint32_t chunk = atom_index >> chunk_bits;
  if (chunk >= max_chunks) return nullptr;
  std::atomic<std::uint64_t>* c = chunks_[chunk].load(std::memory_order_acquire);
  return c == nullptr ? nullptr : &c[atom_index & (chunk_size - 1)];
}

std::atomic<std::uint64_t>& name_registry::entry_for_write(std::uint32_t atom_index) {
  std::uint32_t chunk = atom_index >> chunk_bits;
  if (chunk >= max_chunks) badarg("register_name: too many atoms for the name table");
  std::atomic<std::uint64_t>* c = chunks_[chunk].load(std::memory_order_relaxed);
  if (c == nullptr) {
    c = new std::atomic<std::uint64_t>[chunk_size];
    for (std::uint32_t i = 0; i < chunk_size; ++i) c[i].store(0, std::memory_order_relaxed);
    chunks_[chunk].store(c, std::memory_order_release);
  }
  return c[atom_index & (chunk_size - 1)];
}

void name_registry::register_name(atom name, const pid& process) {
  if (name == atoms::undefined) badarg("register_name: the name 'undefined' cannot be registered");
  if (!process.is_local())
    badarg(cat({"register_name: ", process.to_string(), " is not a process of this node"}));
  lock_guard guard(lock_);
  process_slot* slot = table_.find(process.id);
  bool alive = slot != nullptr && slot->serial.load(std::memory_order_acquire) == process.serial &&
               slot->inbox.load(std::memory_order_acquire) != closed_tag();
  if (!alive) badarg(cat({"register_name: ", process.to_string(), " is not alive"}));
  std::atomic<std::uint64_t>& e = entry_for_write(name.index());
  if (std::uint64_t holder = e.load(std::memory_order_relaxed); holder != 0)
    badarg(cat({"register_name: the name ", quoted(name), " is already registered to ",
                unpack(holder).to_string()}));
  if (std::uint32_t current = slot->name.load(std::memory_order_relaxed); current != 0)
    badarg(cat({"register_name: ", process.to_string(), " already has the name ",
                quoted(atom::from_index(current - 1))}));
  e.store(pack(process), std::memory_order_release);
  slot->name.store(name.index() + 1, std::memory_order_release);
  names_.insert(name.index());
}

void name_registry::unregister(atom name) {
  lock_guard guard(lock_);
  std::atomic<std::uint64_t>* e = entry(name.index());
  std::uint64_t holder = e == nullptr ? 0 : e->load(std::memory_order_relaxed);
  if (holder == 0) badarg(cat({"unregister: the name ", quoted(name), " is not registered"}));
  e->store(0, std::memory_order_release);
  if (process_slot* slot = table_.find(unpack(holder).id))
    slot->name.store(0, std::memory_order_release);
  names_.erase(name.index());
}

std::optional<pid> name_registry::whereis(atom name) const noexcept {
  std::atomic<std::uint64_t>* e = entry(name.index());
  if (e == nullptr) return std::nullopt;
  std::uint64_t holder = e->load(std::memory_order_acquire);
  if (holder == 0) return std::nullopt;
  return unpack(holder);
}

std::vector<atom> name_registry::registered() const {
  lock_guard guard(lock_);
  std::vector<atom> out;
  out.reserve(names_.size());
  for (std::uint32_t index : names_) out.push_back(atom::from_index(index));
  return out;
}

void name_registry::release(const pid& process) noexcept {
  process_slot* slot = table_.find(process.id);
  if (slot == nullptr || slot->name.load(std::memory_order_acquire) == 0) return;
  lock_guard guard(lock_);
  std::uint32_t current = slot->name.load(std::memory_order_relaxed);
  if (current == 0) return;
  slot->name.store(0, std::memory_order_release);
  if (std::atomic<std::uint64_t>* e = entry(current - 1)) {
    if (e->load(std::memory_order_relaxed) == pack(process)) e->store(0, std::memory_order_release);
  }
  names_.erase(current - 1);
}

}  // namespace beamline::detail
