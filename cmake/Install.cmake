# `cmake --install`: the program in bin/, the encoder modules in LIBDIR/mediabatch/ (the program
# finds them there, src/core/encoder_modules.cpp), libmediabatch-core with its SOVERSION, its
# headers, a CMake package (find_package(mediabatch CONFIG): mediabatch::core) and a
# pkg-config file; the man page and the bash completion.
include(CMakePackageConfigHelpers)

install(TARGETS mediabatch RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(TARGETS mediabatch_core EXPORT mediabatchTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/mediabatch DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT development)

set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/mediabatch)
install(EXPORT mediabatchTargets NAMESPACE mediabatch:: DESTINATION ${config_dir} COMPONENT development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mediabatchConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mediabatchConfig.cmake INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mediabatchConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mediabatchConfig.cmake ${PROJECT_BINARY_DIR}/mediabatchConfigVersion.cmake
  DESTINATION ${config_dir} COMPONENT development)

# The prefix as seen from the .pc file, so that `cmake --install --prefix DIR` stays right.
file(RELATIVE_PATH pc_to_prefix ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/mediabatch.pc.in ${PROJECT_BINARY_DIR}/mediabatch.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mediabatch.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT development)

install(FILES ${PROJECT_SOURCE_DIR}/doc/mediabatch.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
install(FILES ${PROJECT_SOURCE_DIR}/doc/mediabatch.bash-completion
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME mediabatch COMPONENT runtime)
