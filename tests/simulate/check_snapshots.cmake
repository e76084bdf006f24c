# `heatkit simulate --snapshot/--resume` and `heatkit snapshot info`, run as
# the user would. MODE says which check:
#   split      ARGS (a workload without --duration-s) ends at DURATION on
#              BACKEND; the same run stopped at each of SPLITS (seconds) with
#              --snapshot and resumed with --resume (on RESUME_BACKEND, default
#              BACKEND) must report every count of the run never stopped;
#              EXPECT names the counts the workload must have (evictions).
#   kill       the run with --snapshot-every 1, killed with SIGKILL once its
#              snapshot exists, resumes to the totals of the run never stopped.
#   info       `snapshot info --json` of a run's snapshot holds that run's values.
#   save_fails a save that fails (the file size limit, `ulimit -f`) stops the
#              run with exit 4 naming the path; the previous snapshot stays,
#              byte for byte, and no temporary file is left.
# HEATKIT is the binary, DIR a scratch folder (emptied first).
cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE "${DIR}")
file(MAKE_DIRECTORY "${DIR}")
if(NOT DEFINED BACKEND)
  set(BACKEND highway)
endif()
if(NOT DEFINED RESUME_BACKEND)
  set(RESUME_BACKEND ${BACKEND})
endif()

# Every count `--json` reports; timings and memory are left out.
set(counts ticks reads_per_tick counters_live counters_peak bumps emits_committed emits_rolled_back
           withdrawals_committed withdrawals_rolled_back prunes evictions counters_ticked)

# Runs heatkit with the arguments that follow; it must exit 0. Sets `out`.
function(heatkit_ok)
  execute_process(COMMAND ${HEATKIT} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "heatkit ${ARGN}\nexit status ${rc}\n--- stderr:\n${stderr}")
  endif()
  set(out "${stdout}" PARENT_SCOPE)
endfunction()

function(expect_same_counts what expected actual)
  foreach(field IN LISTS counts)
    string(JSON want GET "${expected}" ${field})
    string(JSON got GET "${actual}" ${field})
    if(NOT want STREQUAL got)
      message(FATAL_ERROR "${what}: ${field} is ${got}, the run never stopped has ${want}\n"
                          "never stopped: ${expected}\n${what}: ${actual}")
    endif()
  endforeach()
endfunction()

# The counts a test relies on must happen at all.
function(expect_nonzero json)
  foreach(field IN LISTS ARGN)
    string(JSON value GET "${json}" ${field})
    if(value EQUAL 0)
      message(FATAL_ERROR "the workload has no ${field}; choose one that does:\n${json}")
    endif()
  endforeach()
endfunction()

set(snapshot "${DIR}/run.snap")

if(MODE STREQUAL "split")
  heatkit_ok(simulate ${ARGS} --duration-s ${DURATION} --backend ${BACKEND} --json)
  set(whole "${out}")
  if(NOT DEFINED EXPECT)
    set(EXPECT evictions)
  endif()
  expect_nonzero("${whole}" emits_rolled_back ${EXPECT})
  set(resume_from)
  set(done 0)
  foreach(split IN LISTS SPLITS)
    heatkit_ok(simulate ${ARGS} ${resume_from} --duration-s ${split} --backend ${BACKEND} --snapshot ${snapshot} --json)
    string(JSON resumed_at GET "${out}" snapshot resumed_at_tick)
    if(NOT resumed_at EQUAL done)
      message(FATAL_ERROR "resumed after tick ${resumed_at}, expected ${done}:\n${out}")
    endif()
    set(done ${split})
    set(resume_from --resume ${snapshot})
  endforeach()
  # The workload comes from the snapshot: only the duration is given again.
  heatkit_ok(simulate --resume ${snapshot} --duration-s ${DURATION} --backend ${RESUME_BACKEND} --json)
  expect_same_counts("resumed at ${SPLITS} s on ${RESUME_BACKEND}" "${whole}" "${out}")
  message(STATUS "stopped at ${SPLITS} s and resumed: every count equal")

elseif(MODE STREQUAL "kill")
  heatkit_ok(simulate ${ARGS} --duration-s ${DURATION} --backend ${BACKEND} --json)
  set(whole "${out}")
  # Started in the background; killed once a snapshot exists (and the run
  # is still going: it has hundreds of ticks left). `ran` says how it ended.
  string(REPLACE ";" " " args "${ARGS}")
  set(script "\"$0\" simulate ${args} --duration-s ${DURATION} --backend ${BACKEND} --snapshot '${snapshot}' --snapshot-every 1 >/dev/null 2>&1 &
pid=$!
n=0
while [ ! -e '${snapshot}' ] && [ $n -lt 2000 ] && kill -0 $pid 2>/dev/null; do sleep 0.01; n=$((n+1)); done
sleep 0.1
kill -9 $pid
wait $pid
echo \"ended $?\"")
  execute_process(COMMAND sh -c "${script}" ${HEATKIT} OUTPUT_VARIABLE ran ERROR_VARIABLE err)
  if(NOT ran MATCHES "ended 137")
    message(FATAL_ERROR "the run was not killed mid-way (${ran}); stderr:\n${err}")
  endif()
  heatkit_ok(snapshot info --json ${snapshot})
  string(JSON done GET "${out}" simulate ticks_done)
  string(JSON ticks GET "${out}" simulate ticks)
  if(NOT done LESS ticks)
    message(FATAL_ERROR "the snapshot has all ${ticks} ticks: the kill came too late")
  endif()
  heatkit_ok(simulate --resume ${snapshot} --backend ${BACKEND} --json)
  expect_same_counts("killed after tick ${done} of ${ticks} and resumed" "${whole}" "${out}")
  message(STATUS "killed after tick ${done} of ${ticks}, resumed: every count equal")

elseif(MODE STREQUAL "info")
  heatkit_ok(simulate ${ARGS} --duration-s ${DURATION} --backend ${BACKEND} --snapshot ${snapshot} --json)
  set(run "${out}")
  heatkit_ok(snapshot info --json ${snapshot})
  set(info "${out}")
  file(SIZE ${snapshot} size)
  string(JSON cap GET "${run}" config cap)
  string(JSON live GET "${run}" counters_live)
  string(JSON evictions GET "${run}" evictions)
  string(JSON prunes GET "${run}" prunes)
  set(problems)
  foreach(check "counters;${live}" "cap;${cap}" "stats;evictions;${evictions}" "stats;pruned;${prunes}"
                "bytes;${size}" "key_type;u64" "shards;1" "version;1" "tracks_in_flight;ON" "verified;ON"
                "simulate;ticks_done;${DURATION}" "simulate;backend;${BACKEND}" "simulate;config;cap;${cap}")
    list(POP_BACK check want)
    string(JSON got GET "${info}" ${check})
    if(NOT got STREQUAL want)
      string(APPEND problems "${check}: ${got}, expected ${want}\n")
    endif()
  endforeach()
  string(JSON record GET "${info}" simulate)
  foreach(field IN LISTS counts)
    if(field STREQUAL "counters_live")
      continue()  # the registry's `counters` above
    endif()
    string(JSON want GET "${run}" ${field})
    string(JSON got GET "${record}" ${field})
    if(NOT got STREQUAL want)
      string(APPEND problems "simulate.${field}: ${got}, expected ${want}\n")
    endif()
  endforeach()
  if(problems)
    message(FATAL_ERROR "snapshot info differs from the run that saved it:\n${problems}"
                        "--- run:\n${run}\n--- info:\n${info}")
  endif()
  message(STATUS "snapshot info matches the run")

elseif(MODE STREQUAL "save_fails")
  heatkit_ok(simulate ${ARGS} --duration-s 1 --backend ${BACKEND} --snapshot ${snapshot})
  file(SHA256 ${snapshot} before)
  # Files of at most 16 blocks of 512 bytes: the first save of the larger
  # run fails (EFBIG; SIGXFSZ ignored, so the write returns the error).
  execute_process(
    COMMAND sh -c "trap '' XFSZ && ulimit -f 16 && exec \"$0\" \"$@\"" ${HEATKIT}
            simulate ${ARGS} --duration-s ${DURATION} --backend ${BACKEND} --snapshot ${snapshot} --snapshot-every 1
    RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
  if(NOT rc EQUAL 4)
    message(FATAL_ERROR "exit status ${rc}, expected 4\n--- stdout:\n${stdout}--- stderr:\n${stderr}")
  endif()
  if(NOT stderr MATCHES "^error: cannot save snapshot [^\n]*run.snap after tick 1: [^\n]+\n$")
    message(FATAL_ERROR "stderr does not name the path and the tick:\n${stderr}")
  endif()
  if(NOT stdout STREQUAL "")
    message(FATAL_ERROR "a run whose save failed printed a summary:\n${stdout}")
  endif()
  file(SHA256 ${snapshot} after)
  if(NOT before STREQUAL after)
    message(FATAL_ERROR "the previous snapshot changed")
  endif()
  file(GLOB left "${DIR}/.*" "${DIR}/*")
  if(NOT left STREQUAL snapshot)
    message(FATAL_ERROR "files left beside the snapshot: ${left}")
  endif()
  heatkit_ok(snapshot info ${snapshot})
  message(STATUS "the failed save stopped the run and kept the previous snapshot")

else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
