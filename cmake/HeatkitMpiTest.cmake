# heatkit_add_mpi_test(NAME name RANKS n COMMAND program args... [EXPECT_FAILURE])
# A CTest test that runs `program args...` as `n` MPI ranks (mpirun -np n),
# labelled `mpi`. With EXPECT_FAILURE the job's exit status is printed last
# ("exit status N") instead of deciding the test: give the test a
# PASS_REGULAR_EXPRESSION. More ranks than cores run oversubscribed (Open MPI's
# --oversubscribe), and as root: Open MPI refuses root unless told, which CI
# containers are, so the tests tell it (OMPI_ALLOW_RUN_AS_ROOT*).
if(NOT DEFINED HEATKIT_MPIEXEC_OVERSUBSCRIBE)
  set(HEATKIT_MPIEXEC_OVERSUBSCRIBE "")
  if(MPIEXEC_EXECUTABLE)
    execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _mpiexec_version
                    ERROR_QUIET RESULT_VARIABLE _mpiexec_rc)
    if(_mpiexec_rc EQUAL 0 AND _mpiexec_version MATCHES "Open MPI|OpenRTE")
      set(HEATKIT_MPIEXEC_OVERSUBSCRIBE --oversubscribe)
    endif()
  endif()
  set(HEATKIT_MPIEXEC_OVERSUBSCRIBE "${HEATKIT_MPIEXEC_OVERSUBSCRIBE}" CACHE STRING
      "mpiexec flag that lets more ranks than cores run (Open MPI: --oversubscribe)")
endif()

function(heatkit_add_mpi_test)
  cmake_parse_arguments(PARSE_ARGV 0 T "EXPECT_FAILURE" "NAME;RANKS" "COMMAND")
  if(NOT T_NAME OR NOT T_RANKS OR NOT T_COMMAND)
    message(FATAL_ERROR "heatkit_add_mpi_test: NAME, RANKS and COMMAND are required")
  endif()
  set(launch ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_RANKS} ${HEATKIT_MPIEXEC_OVERSUBSCRIBE}
      ${MPIEXEC_PREFLAGS} ${T_COMMAND} ${MPIEXEC_POSTFLAGS})
  if(T_EXPECT_FAILURE)
    add_test(NAME ${T_NAME} COMMAND sh -c "\"$0\" \"$@\" 2>&1; echo \"exit status $?\"" ${launch})
  else()
    add_test(NAME ${T_NAME} COMMAND ${launch})
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS mpi PROCESSORS ${T_RANKS} TIMEOUT 300
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
endfunction()
