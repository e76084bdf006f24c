# Installs heatkit as a CMake package: find_package(heatkit CONFIG) gives
# heatkit::heatkit and finds its dependencies.
install(TARGETS heatkit EXPORT heatkitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/kernels ${PROJECT_SOURCE_DIR}/host
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/heatkit
  FILES_MATCHING PATTERN "*.h")
install(EXPORT heatkitTargets NAMESPACE heatkit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/heatkit)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/heatkitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/heatkitConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/heatkit)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/heatkitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/heatkitConfig.cmake ${PROJECT_BINARY_DIR}/heatkitConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/heatkit)
