// beamline/detail/callable_traits.hpp: parameter and result types of a callable.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>

namespace beamline::detail {

template <class R, class... P>
struct signature {
  using result = R;
  using params = std::tuple<P...>;
  using values = std::tuple<std::decay_t<P>...>;
  static constexpr std::size_t arity = sizeof...(P);
};

template <class F, class = void>
struct callable_traits {
  static constexpr bool known = false;
};

template <class F>
struct callable_traits<F, std::void_t<decltype(&F::operator())>>
    : callable_traits<decltype(&F::operator())> {};

#define BEAMLINE_MEMBER_SIGNATURE(QUALIFIERS)                              \
  template <class C, class R, class... P>                                  \
  struct callable_traits<R (C::*)(P...) QUALIFIERS> : signature<R, P...> { \
    static constexpr bool known = true;                                    \
  };
BEAMLINE_MEMBER_SIGNATURE()
BEAMLINE_MEMBER_SIGNATURE(const)
BEAMLINE_MEMBER_SIGNATURE(noexcept)
BEAMLINE_MEMBER_SIGNATURE(const noexcept)
BEAMLINE_MEMBER_SIGNATURE(&)
BEAMLINE_MEMBER_SIGNATURE(const&)
#undef BEAMLINE_MEMBER_SIGNATURE

template <class R, class... P>
struct callable_traits<R (*)(P...)> : signature<R, P...> {
  static constexpr bool known = true;
};
template <class R, class... P>
struct callable_traits<R (*)(P...) noexcept> : signature<R, P...> {
  static constexpr bool known = true;
};
template <class R, class... P>
struct callable_traits<R(P...)> : signature<R, P...> {
  static constexpr bool known = true;
};

}  // namespace beamline::detail
