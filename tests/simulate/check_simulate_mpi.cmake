# `heatkit simulate` under mpirun. MPIEXEC is the launcher's command line up
# to the program (mpiexec -n RANKS ...), HEATKIT the CLI, ARGS its arguments.
#
# MODE totals: runs `${HEATKIT} ${ARGS} --json` once without MPI and once
# under MPIEXEC, and checks that the sharded run's totals equal the single
# process's (ARGS must rule out eviction: cap 0 or cap >= keys), and that its
# `ranks` array has RANKS entries whose reads_applied sum to bumps and whose
# counters_live sum to counters_live.
#
# MODE error: runs `${MPIEXEC} ${HEATKIT} ${ARGS}` and checks the exit status
# (EXPECT_EXIT; any non-zero status when "nonzero"), that standard error has
# exactly one line starting "error:" (what the launcher adds of its own is
# not counted) and that it matches EXPECT_STDERR. With SKIP_IF_SUCCEEDS, a
# run that succeeds prints "skipped: ..." instead.

function(run_json label out_var)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${label}: exit status ${status}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  string(REGEX REPLACE "\n$" "" body "${out}")
  if(body MATCHES "\n")
    message(FATAL_ERROR "${label}: --json printed more than one line:\n${out}")
  endif()
  string(JSON type ERROR_VARIABLE json_error TYPE "${body}")
  if(json_error OR NOT type STREQUAL "OBJECT")
    message(FATAL_ERROR "${label}: stdout is not a JSON object (${json_error}):\n${out}")
  endif()
  set(${out_var} "${body}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "totals")
  run_json("one process" single ${HEATKIT} ${ARGS} --json)
  run_json("${RANKS} ranks" sharded ${MPIEXEC} ${HEATKIT} ${ARGS} --json)
  foreach(field ticks reads_per_tick bumps counters_live counters_peak counters_ticked emits_committed
                emits_rolled_back withdrawals_committed withdrawals_rolled_back prunes evictions)
    string(JSON expected GET "${single}" ${field})
    string(JSON got ERROR_VARIABLE json_error GET "${sharded}" ${field})
    if(json_error OR NOT got STREQUAL expected)
      message(FATAL_ERROR "${field}: ${got} on ${RANKS} ranks, ${expected} in one process\n"
                          "one process: ${single}\n${RANKS} ranks: ${sharded}")
    endif()
  endforeach()
  string(JSON count LENGTH "${sharded}" ranks)
  if(NOT count EQUAL RANKS)
    message(FATAL_ERROR "ranks has ${count} entries, expected ${RANKS}:\n${sharded}")
  endif()
  set(reads 0)
  set(live 0)
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON rank GET "${sharded}" ranks ${i} rank)
    if(NOT rank EQUAL i)
      message(FATAL_ERROR "ranks[${i}].rank is ${rank}:\n${sharded}")
    endif()
    string(JSON applied GET "${sharded}" ranks ${i} reads_applied)
    string(JSON counters GET "${sharded}" ranks ${i} counters_live)
    foreach(field bytes_sent bytes_received seconds.reads seconds.exchange seconds.tick seconds.commit)
      string(REPLACE "." ";" path "${field}")
      string(JSON value ERROR_VARIABLE json_error GET "${sharded}" ranks ${i} ${path})
      if(json_error)
        message(FATAL_ERROR "ranks[${i}] lacks ${field}: ${json_error}\n${sharded}")
      endif()
    endforeach()
    math(EXPR reads "${reads} + ${applied}")
    math(EXPR live "${live} + ${counters}")
  endforeach()
  string(JSON bumps GET "${sharded}" bumps)
  string(JSON counters_live GET "${sharded}" counters_live)
  if(NOT reads EQUAL bumps OR NOT live EQUAL counters_live)
    message(FATAL_ERROR "the ranks applied ${reads} reads (bumps: ${bumps}) and hold ${live} counters "
                        "(counters_live: ${counters_live}):\n${sharded}")
  endif()
  message(STATUS "${RANKS} ranks: the totals of one process (${bumps} bumps, ${counters_live} counters)")
elseif(MODE STREQUAL "error")
  execute_process(COMMAND ${MPIEXEC} ${HEATKIT} ${ARGS} RESULT_VARIABLE status OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(status EQUAL 0 AND SKIP_IF_SUCCEEDS)
    # A failure that depends on the machine (a backend that runs here does
    # not fail): nothing to check.
    message(STATUS "skipped: the run succeeded here")
    return()
  endif()
  if(EXPECT_EXIT STREQUAL "nonzero")
    if(status EQUAL 0 OR NOT status MATCHES "^[0-9]+$")
      message(FATAL_ERROR "exit status ${status}, expected a failure\nstdout:\n${out}\nstderr:\n${err}")
    endif()
  elseif(NOT status STREQUAL "${EXPECT_EXIT}")
    message(FATAL_ERROR "exit status ${status}, expected ${EXPECT_EXIT}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  # A ';' in a message would split it as a CMake list item: count without.
  string(REPLACE ";" "<semicolon>" text "${err}")
  string(REGEX MATCHALL "(^|\n)error:[^\n]*" errors "${text}")
  list(LENGTH errors lines)
  string(REGEX REPLACE "^\n" "" errors "${errors}")
  string(REPLACE "<semicolon>" ";" errors "${errors}")
  if(NOT lines EQUAL 1)
    message(FATAL_ERROR "${lines} 'error:' lines on stderr, expected one:\n${err}")
  endif()
  if(DEFINED EXPECT_STDERR AND NOT errors MATCHES "${EXPECT_STDERR}")
    message(FATAL_ERROR "the error does not match '${EXPECT_STDERR}':\n${err}")
  endif()
  if(NOT out STREQUAL "")
    message(FATAL_ERROR "stdout is not empty:\n${out}")
  endif()
else()
  message(FATAL_ERROR "MODE must be totals or error, got '${MODE}'")
endif()
