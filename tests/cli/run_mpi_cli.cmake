# Runs the heatkit binary under an MPI launcher, once for each rank count, and
# checks its exit status and output (heatkit_add_mpi_script_test passes the
# launcher).
#   MPIEXEC_LAUNCHER      the launcher and its flags, separated by |
#   MPIEXEC_NUMPROC_FLAG  its flag before a rank count
#   MPIEXEC_POSTFLAGS     optional: its flags after the program
#   NAME                  the test's name, for the files it writes
#   RANKS                 the rank counts, separated by |
#   HEATKIT               the binary
#   ARGS                  its arguments, separated by |; @TRACE@ stands for
#                         the trace GENERATE wrote
#   GENERATE              optional: a command, separated by |, whose stdout
#                         is written to a trace file first
#   OTHER_RANK_WDIR       optional: the ranks run in WDIR, but one more rank
#                         runs in this folder (MPMD: `-wdir WDIR A : -wdir
#                         OTHER_RANK_WDIR A`), where a relative path in the
#                         arguments may name nothing
# What each run must do:
#   EXPECT_RC             its exit status (default 0)
#   STDOUT                optional: a file stdout must equal byte for byte
#   STDERR                optional: a file stderr must equal byte for byte
#   STDERR_REGEX          optional: a regex stderr must match (backslash-n: a newline)
#   SAME_AS_ONE_PROCESS   on: stdout, stderr and exit status equal those of
#                         `heatkit ARGS` run without the launcher
#   AGREE                 optional, with SAME_AS_ONE_PROCESS: a command,
#                         separated by |, that given the two stdouts' files
#                         says (exit status 0) whether they agree, instead
#                         of byte for byte
#   EVICTS                on: the trace evicts in one process; with more than
#                         one rank stderr is either empty, and stdout equals
#                         STDOUT, or one warning line about evictions
cmake_minimum_required(VERSION 3.25)

foreach(list MPIEXEC_LAUNCHER MPIEXEC_POSTFLAGS RANKS ARGS GENERATE AGREE)
  string(REPLACE "|" ";" ${list} "${${list}}")
endforeach()
if(DEFINED STDERR_REGEX)
  string(REPLACE "\\n" "\n" STDERR_REGEX "${STDERR_REGEX}")
endif()
if(NOT DEFINED EXPECT_RC)
  set(EXPECT_RC 0)
endif()

if(GENERATE)
  set(trace ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.trace)
  execute_process(COMMAND ${GENERATE} OUTPUT_FILE ${trace} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${GENERATE} failed: ${rc}")
  endif()
  string(REPLACE "@TRACE@" "${trace}" ARGS "${ARGS}")
endif()

if(SAME_AS_ONE_PROCESS)
  execute_process(COMMAND ${HEATKIT} ${ARGS} RESULT_VARIABLE one_rc OUTPUT_VARIABLE one_out
                  ERROR_VARIABLE one_err)
endif()

set(problems)
foreach(ranks IN LISTS RANKS)
  if(OTHER_RANK_WDIR)
    math(EXPR first_ranks "${ranks} - 1")
    set(command ${MPIEXEC_LAUNCHER} ${MPIEXEC_NUMPROC_FLAG} ${first_ranks} -wdir ${WDIR} ${HEATKIT}
                ${MPIEXEC_POSTFLAGS} ${ARGS} : ${MPIEXEC_NUMPROC_FLAG} 1 -wdir ${OTHER_RANK_WDIR} ${HEATKIT}
                ${MPIEXEC_POSTFLAGS} ${ARGS})
  else()
    set(command ${MPIEXEC_LAUNCHER} ${MPIEXEC_NUMPROC_FLAG} ${ranks} ${HEATKIT} ${MPIEXEC_POSTFLAGS} ${ARGS})
  endif()
  execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 120)

  set(run_problems)
  if(NOT rc STREQUAL EXPECT_RC)
    string(APPEND run_problems "exit status ${rc}, expected ${EXPECT_RC}\n")
  endif()
  set(check_stdout TRUE)
  if(EVICTS AND ranks GREATER 1 AND NOT err STREQUAL "")
    # The ranks evicted among their own keys: the answers may differ.
    set(check_stdout FALSE)
    if(NOT err MATCHES "^warning: [0-9]+ evictions?: each of the ${ranks} ranks evicts among its own keys [^\n]*\n$")
      string(APPEND run_problems "stderr is not one warning about evictions\n")
    endif()
  endif()
  if(DEFINED STDOUT AND check_stdout)
    file(READ ${STDOUT} expected)
    if(NOT out STREQUAL expected)
      string(APPEND run_problems "stdout differs from ${STDOUT}; expected:\n${expected}\n")
    endif()
  endif()
  if(DEFINED STDERR AND check_stdout)
    file(READ ${STDERR} expected)
    if(NOT err STREQUAL expected)
      string(APPEND run_problems "stderr differs from ${STDERR}; expected:\n${expected}\n")
    endif()
  endif()
  if(DEFINED STDERR_REGEX AND NOT err MATCHES "${STDERR_REGEX}")
    string(APPEND run_problems "stderr does not match ${STDERR_REGEX}\n")
  endif()
  if(SAME_AS_ONE_PROCESS)
    if(NOT rc STREQUAL one_rc)
      string(APPEND run_problems "exit status ${rc}, ${one_rc} in one process\n")
    endif()
    # Long outputs: kept in files to compare rather than printed.
    set(kept ${CMAKE_CURRENT_BINARY_DIR}/${NAME})
    file(WRITE ${kept}.one_process.out "${one_out}")
    file(WRITE ${kept}.ranks${ranks}.out "${out}")
    set(agree TRUE)
    if(AGREE)
      execute_process(COMMAND ${AGREE} ${kept}.one_process.out ${kept}.ranks${ranks}.out
                      RESULT_VARIABLE agree_rc ERROR_VARIABLE why)
      if(NOT agree_rc EQUAL 0)
        set(agree FALSE)
        string(APPEND run_problems "stdout disagrees with one process's: ${why}")
      endif()
    elseif(NOT out STREQUAL one_out)
      set(agree FALSE)
      string(APPEND run_problems "stdout differs from one process's\n")
    endif()
    if(NOT err STREQUAL one_err)
      set(agree FALSE)
      string(APPEND run_problems "stderr differs from one process's:\n${one_err}\n")
    endif()
    if(agree)
      file(REMOVE ${kept}.one_process.out ${kept}.ranks${ranks}.out)
    else()
      string(APPEND run_problems "(see ${kept}.one_process.out and ${kept}.ranks${ranks}.out)\n")
    endif()
  endif()
  if(run_problems)
    string(LENGTH "${out}" out_length)
    if(out_length GREATER 4000)
      string(SUBSTRING "${out}" 0 4000 out)
      string(APPEND out "...\n")
    endif()
    string(APPEND problems "--- ${command}\n${run_problems}--- stdout:\n${out}--- stderr:\n${err}")
  endif()
endforeach()

if(problems)
  message(FATAL_ERROR "${problems}")
endif()
