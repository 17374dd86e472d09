# Writes OUTPUT, a C++ file defining beamline::observer::dashboard_assets() with
# the bytes of the dashboard's files. Run at build time (src/observer/CMakeLists.txt)
# with -DOUTPUT=… -DDIR=… -DFILES=a.html|b.js|c.css, the first file served at "/";
# the content type follows from the file's extension.
set(arrays "")
set(entries "")
set(index 0)
string(REPLACE "|" ";" files "${FILES}")
foreach(file IN LISTS files)
  if(file MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(file MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(file MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  else()
    message(FATAL_ERROR "embed_assets: no content type for ${file}")
  endif()
  file(READ "${DIR}/${file}" hex HEX)
  string(LENGTH "${hex}" digits)
  math(EXPR size "${digits} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "const unsigned char file${index}[] = {${bytes}0x00};\n")
  if(index EQUAL 0)
    set(path "/")
  else()
    set(path "/${file}")
  endif()
  string(APPEND entries
    "    {\"${path}\", \"${type}\", {reinterpret_cast<const char*>(file${index}), ${size}}},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUTPUT}.new" "// Generated from src/observer/dashboard/ by embed_assets.cmake: do not edit.
#include \"observer/server.hpp\"

namespace beamline::observer {

namespace {
${arrays}
const asset assets[] = {
${entries}};
}  // namespace

std::span<const asset> dashboard_assets() noexcept { return assets; }

}  // namespace beamline::observer
")
file(COPY_FILE "${OUTPUT}.new" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.new")
