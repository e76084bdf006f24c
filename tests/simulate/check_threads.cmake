# Runs `${HEATKIT} ${ARGS} --json --backend B --threads T` for every backend B
# in BACKENDS and T in 0, 1, 4096, and checks that every backend reports the
# same threads for the same request: 1 for 1, and for 4096 what 0 (every
# hardware thread) gives, the request capped at the hardware threads.
set(all "")
foreach(backend IN LISTS BACKENDS)
  foreach(threads 0 1 4096)
    execute_process(COMMAND ${HEATKIT} ${ARGS} --json --backend ${backend} --threads ${threads}
      RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT status EQUAL 0)
      message(FATAL_ERROR "${backend} --threads ${threads}: exit status ${status}\n${err}")
    endif()
    string(JSON used GET "${out}" threads)
    string(JSON requested GET "${out}" threads_requested)
    if(NOT requested EQUAL threads)
      message(FATAL_ERROR "${backend} --threads ${threads}: threads_requested is ${requested}")
    endif()
    set(used_${threads} ${used})
  endforeach()
  if(NOT used_1 EQUAL 1 OR NOT used_4096 EQUAL used_0 OR used_0 LESS 1)
    message(FATAL_ERROR "${backend}: --threads 0, 1, 4096 ran on ${used_0}, ${used_1}, ${used_4096} threads")
  endif()
  if(all STREQUAL "")
    set(all ${used_0})
  elseif(NOT all EQUAL used_0)
    message(FATAL_ERROR "${backend} runs --threads 0 on ${used_0} threads, another backend on ${all}")
  endif()
endforeach()
message(STATUS "every backend: --threads 0 and 4096 on ${all} threads, 1 on 1")
