# Fails when an install prefix holds headers other than the public API: every
# file under PREFIX/include must be one of PUBLIC_DIR/heatkit/*.h (the
# source tree's include/), and each of those must be there. The library's
# internal headers (src/) are not installed.
#
#   cmake -DPREFIX=<install prefix> -DPUBLIC_DIR=<source>/include -P check_installed_headers.cmake
foreach(var PREFIX PUBLIC_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_installed_headers.cmake: ${var} is not set")
  endif()
endforeach()

file(GLOB public RELATIVE ${PUBLIC_DIR} ${PUBLIC_DIR}/heatkit/*.h)
if(NOT public)
  message(FATAL_ERROR "no public headers under '${PUBLIC_DIR}/heatkit'")
endif()
file(GLOB_RECURSE installed RELATIVE ${PREFIX}/include ${PREFIX}/include/*)

set(extra "")
foreach(file IN LISTS installed)
  list(FIND public "${file}" at)
  if(at EQUAL -1)
    string(APPEND extra "  include/${file}\n")
  endif()
endforeach()
set(missing "")
foreach(file IN LISTS public)
  list(FIND installed "${file}" at)
  if(at EQUAL -1)
    string(APPEND missing "  include/${file}\n")
  endif()
endforeach()

if(extra)
  message(FATAL_ERROR "the install holds headers outside the public API (include/heatkit/*.h):\n${extra}")
endif()
if(missing)
  message(FATAL_ERROR "the install lacks public headers:\n${missing}")
endif()
list(LENGTH public count)
message(STATUS "the install holds the ${count} public headers and nothing else")
