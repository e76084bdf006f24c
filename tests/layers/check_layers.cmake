# Fails when a file includes from a layer above its own.
#
#   cmake -DROOT=<source tree> -P check_layers.cmake
#
# The layers, lowest first (docs/ARCHITECTURE.md). A file's layer is its
# folder: include/heatkit is the public API, src/<layer> the library's
# layers, then the simulation, the CLI, the Python module and the benchmarks. A file may include
# from its own layer and those below: `#include "store/x.h"` names the layer
# by its first folder, `<heatkit/x.h>` is the public API, and a bare name
# ("x.h") is the including file's own folder. Headers of other projects
# (<...> other than <heatkit/...>) are not checked.
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source tree> -P check_layers.cmake")
endif()
# Globs RELATIVE to a relative path (ROOT=.) find nothing: make it absolute.
file(REAL_PATH "${ROOT}" ROOT)

set(layers heatkit util math kernels thrust store cuda backends registry snapshot api mpi sim tools python bench)
# Where each layer's files are, relative to ROOT.
set(folder_heatkit include/heatkit)
foreach(layer util math kernels thrust store cuda backends registry snapshot api mpi)
  set(folder_${layer} src/${layer})
endforeach()
foreach(layer sim tools python bench)
  set(folder_${layer} ${layer})
endforeach()

set(violations "")
set(checked 0)
foreach(layer IN LISTS layers)
  list(FIND layers ${layer} rank)
  file(GLOB_RECURSE files RELATIVE ${ROOT}
    ${ROOT}/${folder_${layer}}/*.h ${ROOT}/${folder_${layer}}/*.cc
    ${ROOT}/${folder_${layer}}/*.cu ${ROOT}/${folder_${layer}}/*.cuh)
  foreach(file IN LISTS files)
    math(EXPR checked "${checked} + 1")
    file(STRINGS ${ROOT}/${file} includes REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
    foreach(line IN LISTS includes)
      if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
        set(target "${CMAKE_MATCH_1}")
        if(target MATCHES "^([^/]+)/")
          set(target_layer "${CMAKE_MATCH_1}")
        else()
          set(target_layer ${layer})  # a file of its own folder
        endif()
      elseif(line MATCHES "#[ \t]*include[ \t]*<heatkit/([^>]+)>")
        set(target "heatkit/${CMAKE_MATCH_1}")
        set(target_layer heatkit)
      else()
        continue()  # another project's header
      endif()
      list(FIND layers "${target_layer}" target_rank)
      if(target_rank EQUAL -1)
        if(target_layer STREQUAL "hwy")
          continue()  # Highway's own headers, named in quotes by its foreach_target idiom
        endif()
        string(APPEND violations "  ${file}: includes \"${target}\", which is in no layer\n")
      elseif(target_rank GREATER rank)
        string(APPEND violations
          "  ${file} (layer ${layer}) includes ${target} (layer ${target_layer}, above it)\n")
      endif()
    endforeach()
  endforeach()
endforeach()

if(checked EQUAL 0)
  message(FATAL_ERROR "no source files found under ${ROOT}")
endif()
if(violations)
  message(FATAL_ERROR "includes that run up a layer (order, lowest first: ${layers}):\n${violations}")
endif()
message(STATUS "${checked} files include only from their own layer or below")
