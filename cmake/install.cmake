# What `cmake --install` puts under a prefix, by package (COMPONENT), and
# what `cpack -G DEB` makes of it (the CPack block of CMakeLists.txt):
#   ldmesh         bin/ ldmesh-agent, ldmeshctl, ldmesh-sync, ldmesh-exec;
#                  share/doc/ldmesh/ README.md and the examples
#   libldmesh      lib/ libldmesh.so.0 (glibc programs), libldmesh-musl.so.0
#                  (musl programs, where musl-gcc built it)
#   libldmesh-dev  lib/ libldmesh.so and libldmesh-musl.so (links to the
#                  above), libldmesh_reader.a (the table reader for tools of
#                  one's own) and pkgconfig/ldmesh.pc; include/ldmesh/*.h
# Shared libraries are not executable (Debian policy 8.1; lintian).

set(LDMESH_SHLIB_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

install(TARGETS ldmesh-agent ldmeshctl ldmesh-sync ldmesh-exec
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ldmesh)
install(TARGETS ldmesh
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} PERMISSIONS ${LDMESH_SHLIB_PERMISSIONS}
        COMPONENT libldmesh NAMELINK_COMPONENT libldmesh-dev)
install(TARGETS ldmesh_reader ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT libldmesh-dev)
if(LDMESH_MUSL_LIB)
  # built by a custom command, so installed by hand as a target would be:
  # the file under its SONAME, the link in -dev, stripped by install/strip
  set(musl_soname libldmesh-musl.so.${PROJECT_VERSION_MAJOR})
  install(FILES ${LDMESH_MUSL_LIB} DESTINATION ${CMAKE_INSTALL_LIBDIR}
          PERMISSIONS ${LDMESH_SHLIB_PERMISSIONS} RENAME ${musl_soname} COMPONENT libldmesh)
  install(CODE "if(CMAKE_INSTALL_DO_STRIP)
    execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-unneeded --remove-section=.comment
      \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/${musl_soname}\")
  endif()" COMPONENT libldmesh)
  file(CREATE_LINK ${musl_soname} ${PROJECT_BINARY_DIR}/libldmesh-musl.so-namelink SYMBOLIC)
  install(FILES ${PROJECT_BINARY_DIR}/libldmesh-musl.so-namelink DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RENAME libldmesh-musl.so COMPONENT libldmesh-dev)
endif()
install(DIRECTORY include/ldmesh DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT libldmesh-dev FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/ldmesh/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ldmesh COMPONENT libldmesh-dev)

# ldmesh.pc is written at install time, with the prefix the install really
# uses (--prefix, or the package's /usr), made absolute and normal: a path
# relative to ${pcfiledir} gave "-I/usr/lib/pkgconfig/../../include".
# Written straight to its destination, so installs running at once (tests)
# never share a file.
set(LDMESH_PC_PREFIX @LDMESH_PC_PREFIX@) # kept for the install-time pass
configure_file(cmake/ldmesh.pc.in ${PROJECT_BINARY_DIR}/ldmesh.pc.in @ONLY)
install(CODE "get_filename_component(LDMESH_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\" ABSOLUTE)
  set(pc \"\$ENV{DESTDIR}\${LDMESH_PC_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/ldmesh.pc\")
  message(STATUS \"Installing: \${pc}\")
  configure_file(\"${PROJECT_BINARY_DIR}/ldmesh.pc.in\" \"\${pc}\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${pc}\")"
  COMPONENT libldmesh-dev)

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT ldmesh)
# the demo's dependency list, sourced by its installed copy
install(FILES tests/deps.sh DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT ldmesh)
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT ldmesh
        PATTERN "*.sh" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
                                   GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
