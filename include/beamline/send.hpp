// beamline/send.hpp: sending messages.
//
//     bl::send(pid, values...);     // never blocks; order kept per sender and receiver
//     bl::send(name, values...);    // to a registered name (error badarg if none)
//     bl::send(alias, values...);   // to a process alias (alias.hpp)
//
// The values are moved or copied into the receiver's mailbox: messages are values.
// Raw pointers, references, views (std::string_view, std::span) and non-const
// std::shared_ptr are rejected at compile time because they would share mutable
// state between processes; share large immutable data as std::shared_ptr<const T>.
// (Members of your own types are not checked: keep them values too.)
//
// A message to a process that has ended, or never existed, is dropped silently,
// as on BEAM; so is one to an alias that is not active when it arrives, or to a
// reference that is no alias. A message to a pid of another node goes through distribution
// (dist.hpp), which must be started; it must then be a term or convert to one.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "beamline/atom.hpp"
#include "beamline/detail/signal.hpp"
#include "beamline/detail/thread_state.hpp"
#include "beamline/pid.hpp"
#include "beamline/ref.hpp"

namespace beamline {

namespace detail {

template <class T>
struct is_mutable_shared_ptr : std::false_type {};
template <class T>
struct is_mutable_shared_ptr<std::shared_ptr<T>> : std::bool_constant<!std::is_const_v<T>> {};

template <class T>
struct is_view : std::false_type {};
template <class C, class Tr>
struct is_view<std::basic_string_view<C, Tr>> : std::true_type {};
template <class T, std::size_t N>
struct is_view<std::span<T, N>> : std::true_type {};

template <class T>
constexpr bool check_sendable() {
  using V = std::decay_t<T>;
  static_assert(!std::is_pointer_v<V>,
                "a message cannot hold a raw pointer (for text, send std::string)");
  static_assert(!is_view<V>::value, "a message cannot hold a view (string_view, span)");
  static_assert(!is_mutable_shared_ptr<V>::value,
                "a message cannot share mutable state: use std::shared_ptr<const T>");
  static_assert(std::is_move_constructible_v<V>, "a message value must be movable");
  return true;
}

class node_runtime;

// Throws std::logic_error: `operation` needs a node and this thread has none.
[[noreturn]] void throw_no_node(const char* operation);
// The node a send from this thread goes to: the running process's node, or the
// node whose API the thread is calling; std::logic_error otherwise.
inline node_runtime& sending_node(const char* operation) {
  node_runtime* node = this_thread.node;
  if (node == nullptr) [[unlikely]]
    throw_no_node(operation);
  return *node;
}
// Delivers s (a message addressed to `to`) and takes ownership of it.
void send_signal(node_runtime& node, const pid& to, signal* s) noexcept;
// Delivers s (a message) to the process alias `to`, and takes ownership of it.
void send_alias_signal(node_runtime& node, const ref& to, signal* s) noexcept;
pid whereis_or_badarg(node_runtime& node, atom name);

template <class... Ts>
signal* make_message(Ts&&... values) {
  static_assert(sizeof...(Ts) > 0, "a message has at least one value");
  (void)(check_sendable<Ts>() && ...);
  return make_signal<std::tuple<std::decay_t<Ts>...>>(signal_kind::message,
                                                      std::forward<Ts>(values)...);
}

}  // namespace detail

template <class... Ts>
void send(const pid& to, Ts&&... values) {
  detail::node_runtime& node = detail::sending_node("send");
  detail::send_signal(node, to, detail::make_message(std::forward<Ts>(values)...));
}

template <class... Ts>
void send(const ref& alias, Ts&&... values) {
  detail::node_runtime& node = detail::sending_node("send");
  detail::send_alias_signal(node, alias, detail::make_message(std::forward<Ts>(values)...));
}

template <class... Ts>
void send(atom name, Ts&&... values) {
  detail::node_runtime& node = detail::sending_node("send");
  pid to = detail::whereis_or_badarg(node, name);
  detail::send_signal(node, to, detail::make_message(std::forward<Ts>(values)...));
}

}  // namespace beamline
