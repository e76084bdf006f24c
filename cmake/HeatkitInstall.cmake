# Installs heatkit as a CMake package: find_package(heatkit CONFIG) gives
# heatkit::heatkit and finds its dependencies.
#
# Layout under the prefix:
#   include/heatkit/*.h  the public API only (consumers include <heatkit/heatkit.h>);
#                        the library's internal headers (src/) are not installed
#   lib/libheatkit.a
#   lib/libheatkit_mpi.a  heatkit::mpi, when MPI was found (include/heatkit/distributed_registry.h)
#   lib/cmake/heatkit/heatkit{Config,ConfigVersion,Targets*}.cmake
set(_heatkit_installed_targets heatkit)
if(TARGET heatkit_mpi)
  list(APPEND _heatkit_installed_targets heatkit_mpi)  # heatkit::mpi
endif()
install(TARGETS ${_heatkit_installed_targets} EXPORT heatkitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/heatkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(EXPORT heatkitTargets NAMESPACE heatkit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/heatkit)

# The config must find every imported target heatkit links (a static library
# passes even its PRIVATE links on). Derive the find_dependency calls from the
# target itself, so linking a new dependency cannot silently break consumers.
get_target_property(_heatkit_links heatkit LINK_LIBRARIES)
get_target_property(_heatkit_interface_links heatkit INTERFACE_LINK_LIBRARIES)
set(_heatkit_all_links "${_heatkit_links};${_heatkit_interface_links}")
if(TARGET heatkit_mpi)
  get_target_property(_heatkit_mpi_links heatkit_mpi LINK_LIBRARIES)
  string(APPEND _heatkit_all_links ";${_heatkit_mpi_links}")
endif()
set(HEATKIT_CONFIG_DEPENDENCIES "")
foreach(_dep IN ITEMS "Threads::|find_dependency(Threads)"
                      "hwy::|find_dependency(hwy CONFIG)"
                      "CUDA::|find_dependency(CUDAToolkit)"
                      "CLI11::|find_dependency(CLI11 CONFIG)"
                      "OpenMP::|find_dependency(OpenMP COMPONENTS CXX)"
                      "MPI::|find_dependency(MPI COMPONENTS CXX)")
  string(REPLACE "|" ";" _dep "${_dep}")
  list(GET _dep 0 _namespace)
  list(GET _dep 1 _call)
  string(FIND "${_heatkit_all_links}" "${_namespace}" _at)
  if(NOT _at EQUAL -1)
    string(APPEND HEATKIT_CONFIG_DEPENDENCIES "${_call}\n")
  endif()
endforeach()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/heatkitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/heatkitConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/heatkit)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/heatkitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/heatkitConfig.cmake ${PROJECT_BINARY_DIR}/heatkitConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/heatkit)
