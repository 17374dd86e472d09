// exceptions.cpp: see exceptions.hpp.
#include "core/exceptions.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

#include "beamline/atom.hpp"
#include "beamline/errors.hpp"

namespace beamline::detail {

std::string demangled(const std::type_info* type) {
  if (type == nullptr) return "unknown";
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(type->name(), nullptr, nullptr, &status), &std::free);
  std::string s = status == 0 && name ? name.get() : type->name();
  if (s.size() > 255) s.resize(255);  // the longest atom
  return s;
}

bool is_shutdown_reason(const term& reason) {
  if (reason == term(atoms::normal) || reason == term(atoms::shutdown)) return true;
  return reason.is_tuple() && reason.size() == 2 && reason[0] == term(atoms::shutdown);
}

std::string type_name(const std::type_info& type) {
  return demangled(&type);
}

term exception_reason(const std::exception_ptr& e) {
  bool exited = false;
  return exception_reason(e, exited);
}

term exception_reason(const std::exception_ptr& e, bool& exited) {
  exited = false;
  try {
    std::rethrow_exception(e);
  } catch (const exit_exception& x) {
    exited = true;
    return x.reason();
  } catch (const error& x) {
    return x.reason();
  } catch (const std::exception& x) {
    return term::tuple(
        {atoms::exception, term::tuple({atom(demangled(abi::__cxa_current_exception_type())),
                                        term::binary(x.what())})});
  } catch (...) {
    return term::tuple(
        {atoms::exception,
         term::tuple({atom(demangled(abi::__cxa_current_exception_type())), atoms::undefined})});
  }
}

}  // namespace beamline::detail
