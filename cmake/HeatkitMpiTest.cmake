# heatkit_add_mpi_test(NAME name RANKS n COMMAND program args... [EXPECT_FAILURE])
# A CTest test that runs `program args...` as `n` MPI ranks (mpirun -np n),
# labelled `mpi`. With EXPECT_FAILURE the job's output (stderr too, without
# the launcher's banners) ends with its exit status ("exit status N") instead
# of the status deciding the test: give the test a PASS_REGULAR_EXPRESSION. More ranks than cores run oversubscribed (Open MPI's
# --oversubscribe), and as root: Open MPI refuses root unless told, which CI
# containers are, so the tests tell it (OMPI_ALLOW_RUN_AS_ROOT*).
# Open MPI's flags: --oversubscribe lets more ranks than cores run; -q keeps
# its banners off stderr when a rank exits non-zero (for tests that check
# stderr). Other launchers get neither.
if(NOT DEFINED HEATKIT_MPIEXEC_OVERSUBSCRIBE OR NOT DEFINED HEATKIT_MPIEXEC_QUIET)
  set(_open_mpi FALSE)
  if(MPIEXEC_EXECUTABLE)
    execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _mpiexec_version
                    ERROR_QUIET RESULT_VARIABLE _mpiexec_rc)
    if(_mpiexec_rc EQUAL 0 AND _mpiexec_version MATCHES "Open MPI|OpenRTE")
      set(_open_mpi TRUE)
    endif()
  endif()
  set(_oversubscribe "")
  set(_quiet "")
  if(_open_mpi)
    set(_oversubscribe --oversubscribe)
    set(_quiet -q)
  endif()
  set(HEATKIT_MPIEXEC_OVERSUBSCRIBE "${_oversubscribe}" CACHE STRING
      "mpiexec flag that lets more ranks than cores run (Open MPI: --oversubscribe)")
  set(HEATKIT_MPIEXEC_QUIET "${_quiet}" CACHE STRING
      "mpiexec flag that keeps the launcher's own messages off stderr (Open MPI: -q)")
endif()

# The environment of every MPI test. Open MPI refuses root unless told, and
# CI containers run as root. Its shared-memory transport copies large
# messages between processes with process_vm_readv, which a container without
# CAP_SYS_PTRACE (Docker's default) refuses ("Read -1, expected N, errno =
# 1" on stderr): the tests copy through the shared segment instead.
set(HEATKIT_MPI_TEST_ENVIRONMENT
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    OMPI_MCA_btl_vader_single_copy_mechanism=none)

function(heatkit_add_mpi_test)
  cmake_parse_arguments(PARSE_ARGV 0 T "EXPECT_FAILURE" "NAME;RANKS" "COMMAND")
  if(NOT T_NAME OR NOT T_RANKS OR NOT T_COMMAND)
    message(FATAL_ERROR "heatkit_add_mpi_test: NAME, RANKS and COMMAND are required")
  endif()
  set(launch ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_RANKS} ${HEATKIT_MPIEXEC_OVERSUBSCRIBE}
      ${MPIEXEC_PREFLAGS} ${T_COMMAND} ${MPIEXEC_POSTFLAGS})
  if(T_EXPECT_FAILURE)
    # Without the launcher's banners: the output is the program's own.
    if(HEATKIT_MPIEXEC_QUIET)
      list(INSERT launch 1 ${HEATKIT_MPIEXEC_QUIET})
    endif()
    add_test(NAME ${T_NAME} COMMAND sh -c "\"$0\" \"$@\" 2>&1; echo \"exit status $?\"" ${launch})
  else()
    add_test(NAME ${T_NAME} COMMAND ${launch})
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS mpi PROCESSORS ${T_RANKS} TIMEOUT 300
    ENVIRONMENT "${HEATKIT_MPI_TEST_ENVIRONMENT}")
endfunction()

# heatkit_add_mpi_script_test(NAME name RANKS n SCRIPT file.cmake [DEFINES -DVAR=value...])
# A CTest test that runs `cmake -DVAR=value... -P file.cmake`, for a script
# that launches MPI programs itself (to check their stderr and exit status,
# or to compare with a run without MPI). The script gets the launcher as
# MPIEXEC_LAUNCHER (the executable and its flags, |-separated, without the
# rank count), MPIEXEC_NUMPROC_FLAG and MPIEXEC_POSTFLAGS (|-separated).
# RANKS is the most ranks it runs at once. Label, limits and environment as
# heatkit_add_mpi_test.
function(heatkit_add_mpi_script_test)
  cmake_parse_arguments(PARSE_ARGV 0 T "" "NAME;RANKS;SCRIPT" "DEFINES")
  if(NOT T_NAME OR NOT T_RANKS OR NOT T_SCRIPT)
    message(FATAL_ERROR "heatkit_add_mpi_script_test: NAME, RANKS and SCRIPT are required")
  endif()
  set(launcher ${MPIEXEC_EXECUTABLE} ${HEATKIT_MPIEXEC_OVERSUBSCRIBE} ${HEATKIT_MPIEXEC_QUIET}
               ${MPIEXEC_PREFLAGS})
  string(REPLACE ";" "|" launcher "${launcher}")
  string(REPLACE ";" "|" postflags "${MPIEXEC_POSTFLAGS}")
  add_test(NAME ${T_NAME}
    COMMAND ${CMAKE_COMMAND} "-DMPIEXEC_LAUNCHER=${launcher}" "-DMPIEXEC_NUMPROC_FLAG=${MPIEXEC_NUMPROC_FLAG}"
            "-DMPIEXEC_POSTFLAGS=${postflags}" ${T_DEFINES} -P ${T_SCRIPT})
  set_tests_properties(${T_NAME} PROPERTIES LABELS mpi PROCESSORS ${T_RANKS} TIMEOUT 300
    ENVIRONMENT "${HEATKIT_MPI_TEST_ENVIRONMENT}")
endfunction()
