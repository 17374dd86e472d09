// beamline/detail/signal.hpp: the nodes that travel through a process's inbox.
//
// Everything one process does to another is a signal: a message, an exit signal, a
// link or unlink request, a monitor or demonitor, a DOWN notification, a receive
// timeout. A signal is one pooled allocation: this header followed by its payload.
// A message's payload is the std::tuple of the values sent, and its `type` pointer
// identifies that tuple type: receive matches a handler to a message by comparing
// one pointer. An exit or DOWN signal carries a std::tuple<exit_message> or
// std::tuple<down_message>, so turning it into a message (trap_exit, an active
// monitor) changes only `kind`.
#pragma once

#include <cstdint>
#include <new>
#include <string>
#include <typeinfo>
#include <utility>

#include "beamline/detail/allocation.hpp"
#include "beamline/detail/print.hpp"
#include "beamline/term.hpp"

namespace beamline::detail {

enum class signal_kind : std::uint8_t {
  message,        // payload: std::tuple of the values sent
  exit,           // payload: std::tuple<exit_message>; flags: signal_flag_link if from a link
  link,           // payload: control_payload{from}
  unlink,         // payload: control_payload{from, id}
  unlink_ack,     // payload: control_payload{from, id}
  monitor,        // payload: control_payload{from = watcher, monitor}
  demonitor,      // payload: control_payload{from = watcher, monitor}
  down,           // payload: std::tuple<down_message>
  timeout,        // payload: control_payload{id = wait epoch}: the wait's deadline passed
  wake,           // no payload: the slot's own wake_node; ask the wait again (IO ready, blocking
                  // call done, a channel operation completed)
  info,           // payload: control_payload{from = asker, monitor = tag}: process_status
  alias_message,  // payload: alias_envelope: a message sent to an alias, delivered only if
                  // the alias is still active when the addressee takes it from its inbox
};

inline constexpr std::uint8_t signal_flag_link = 1;

struct signal;

// One per payload type: how to destroy and free a node, its name for diagnostics,
// and how it crosses to another node.
struct signal_type {
  void (*destroy)(signal*) noexcept;
  const std::type_info* payload;
  std::uint32_t size;                   // bytes of the node (header and payload)
  std::string (*print)(const signal*);  // the payload as text (print.hpp)
  // A message's values as one term (the value itself if there is one, else a tuple
  // of them), for a message to another node; null when some value has no term form.
  term (*to_term)(const signal*);
};

// A value that can cross to another node: a term, what converts to one (atoms,
// integers, floats, pids, references...), or a type with `term to_term() const`.
template <class T>
concept term_encodable = std::is_convertible_v<const T&, term> || requires(const T& v) {
  { v.to_term() } -> std::convertible_to<term>;
};

template <class T>
term value_to_term(const T& value) {
  if constexpr (std::is_convertible_v<const T&, term>)
    return term(value);
  else
    return value.to_term();
}

struct signal {
  signal* next;  // inbox or message-queue link; owned by whoever holds the node
  const signal_type* type;
  signal_kind kind;
  std::uint8_t flags;
  std::uint32_t target_serial;  // the receiver's serial: a stale node is dropped on arrival
};

template <class Payload>
struct signal_node : signal {
  Payload payload;

  template <class... Args>
  explicit signal_node(Args&&... args) : signal{}, payload(std::forward<Args>(args)...) {}
};

template <class Payload>
void destroy_signal(signal* s) noexcept {
  auto* node = static_cast<signal_node<Payload>*>(s);
  node->~signal_node<Payload>();
  pool_deallocate(node, sizeof(signal_node<Payload>));
}

template <class Payload>
std::string print_signal(const signal* s) {
  return print_payload(static_cast<const signal_node<Payload>*>(s)->payload);
}

template <class Payload>
struct payload_term {
  static constexpr term (*convert)(const signal*) = nullptr;
};
template <class... Ts>
requires(term_encodable<Ts>&&...) struct payload_term<std::tuple<Ts...>> {
  static term make(const signal* s) {
    const auto& values = static_cast<const signal_node<std::tuple<Ts...>>*>(s)->payload;
    if constexpr (sizeof...(Ts) == 1) {
      return value_to_term(std::get<0>(values));
    } else {
      return std::apply([](const Ts&... v) { return term::tuple({value_to_term(v)...}); }, values);
    }
  }
  static constexpr term (*convert)(const signal*) = &make;
};

template <class Payload>
inline constexpr signal_type signal_type_of{&destroy_signal<Payload>, &typeid(Payload),
                                            sizeof(signal_node<Payload>), &print_signal<Payload>,
                                            payload_term<Payload>::convert};

template <class Payload, class... Args>
signal* make_signal(signal_kind kind, Args&&... args) {
  void* memory = pool_allocate(sizeof(signal_node<Payload>));
  signal_node<Payload>* node;
  try {
    node = ::new (memory) signal_node<Payload>(std::forward<Args>(args)...);
  } catch (...) {
    pool_deallocate(memory, sizeof(signal_node<Payload>));
    throw;
  }
  node->next = nullptr;
  node->type = &signal_type_of<Payload>;
  node->kind = kind;
  node->flags = 0;
  node->target_serial = 0;
  return node;
}

// A message sent to a process alias (alias.hpp): the alias and the message itself,
// which the addressee unwraps into its queue while the alias is active, and frees
// with the envelope otherwise.
struct alias_envelope {
  ref alias;
  signal* message;  // owned

  alias_envelope(const ref& a, signal* m) noexcept : alias(a), message(m) {}
  alias_envelope(const alias_envelope&) = delete;
  alias_envelope& operator=(const alias_envelope&) = delete;
  ~alias_envelope() {
    if (message != nullptr) message->type->destroy(message);
  }
};

template <>
inline std::string print_signal<alias_envelope>(const signal* s) {
  const signal* m = static_cast<const signal_node<alias_envelope>*>(s)->payload.message;
  return m != nullptr ? m->type->print(m) : std::string();
}

// Wraps `message` (taken) for `alias`; frees it if the envelope cannot be made.
inline signal* make_alias_message(const ref& alias, signal* message) {
  try {
    return make_signal<alias_envelope>(signal_kind::alias_message, alias, message);
  } catch (...) {
    message->type->destroy(message);
    throw;
  }
}

template <class Payload>
Payload& payload_of(signal* s) noexcept {
  return static_cast<signal_node<Payload>*>(s)->payload;
}

inline void destroy(signal* s) noexcept {
  s->type->destroy(s);
}

}  // namespace beamline::detail
