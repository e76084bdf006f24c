# Run by CTest (cmake -P): installs HEATKIT_BUILD_DIR into a fresh prefix under
# WORK_DIR, checks that it holds the public headers (PUBLIC_DIR/heatkit/*.h)
# and no others, then configures, builds and runs the consumer project against
# that prefix only. The consumer is built with the same compiler and flags as the
# library (a sanitizer build needs its runtime at link time).
foreach(var HEATKIT_BUILD_DIR HEATKIT_VERSION CONSUMER_SOURCE_DIR PUBLIC_DIR WORK_DIR GENERATOR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_package_test.cmake: ${var} is not set")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run_step what)
  message(STATUS "package test: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package test: ${what} failed (${rc})")
  endif()
endfunction()

run_step("install into ${prefix}" ${CMAKE_COMMAND} --install ${HEATKIT_BUILD_DIR} --prefix ${prefix})
run_step("only the public headers are installed" ${CMAKE_COMMAND} -DPREFIX=${prefix} -DPUBLIC_DIR=${PUBLIC_DIR}
         -P ${CMAKE_CURRENT_LIST_DIR}/check_installed_headers.cmake)

set(configure_args
  -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build} -G ${GENERATOR}
  -DCMAKE_PREFIX_PATH=${prefix}
  -DHEATKIT_EXPECTED_VERSION=${HEATKIT_VERSION}
  # Only the fresh prefix may provide heatkit: never the build tree or a
  # package registry entry.
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
  "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
if(MAKE_PROGRAM)
  list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(CXX_COMPILER)
  list(APPEND configure_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(BUILD_TYPE)
  list(APPEND configure_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
run_step("configure the consumer" ${CMAKE_COMMAND} ${configure_args})

# The config the consumer found must be the one just installed.
file(STRINGS ${consumer_build}/CMakeCache.txt found_dir REGEX "^heatkit_DIR:")
string(REGEX REPLACE "^heatkit_DIR:[A-Z]+=" "" found_dir "${found_dir}")
file(REAL_PATH "${found_dir}" found_dir)
file(REAL_PATH "${prefix}" real_prefix)
string(FIND "${found_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "package test: the consumer found heatkit in '${found_dir}', not under '${real_prefix}'")
endif()

run_step("build the consumer" ${CMAKE_COMMAND} --build ${consumer_build})
run_step("run the consumer" ${consumer_build}/heatkit_consumer)
