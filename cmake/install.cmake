# What `cmake --install` puts under a prefix, and the .deb `cpack -G DEB`
# makes of it:
#   bin/      ldmesh-agent, ldmeshctl, ldmesh-sync, ldmesh-exec, ldmesh-dns
#   lib/      libldmesh.so (glibc programs), libldmesh-musl.so (musl programs,
#             where musl-gcc built it), libldmesh_reader.a (the table reader
#             for tools of one's own) and pkgconfig/ldmesh.pc
#   include/  ldmesh/*.h: the snapshot format and the reader API
#   share/doc/ldmesh/  README.md and the examples (DaemonSet, manifests)

install(TARGETS ldmesh-agent ldmeshctl ldmesh-sync ldmesh-exec RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ldmesh-dns RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ldmesh)
install(TARGETS ldmesh LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS ldmesh_reader ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(LDMESH_MUSL_LIB)
  install(PROGRAMS ${LDMESH_MUSL_LIB} DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
install(DIRECTORY include/ldmesh DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/ldmesh/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ldmesh)

file(RELATIVE_PATH LDMESH_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(cmake/ldmesh.pc.in ${PROJECT_BINARY_DIR}/ldmesh.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ldmesh.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        PATTERN "*.sh" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
                                   GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(CPACK_PACKAGE_NAME ldmesh)
set(CPACK_PACKAGE_VENDOR ldmesh)
set(CPACK_PACKAGE_CONTACT "ldmesh developers <ldmesh@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "sidecar-free service-mesh data plane: node agent and LD_PRELOAD library")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Written out, not computed by dpkg-shlibdeps: that tool cannot read the musl
# library's dependency (musl's libc.so) and fails. GLIBC_2.34 is the newest
# symbol version the programs and libldmesh.so import (objdump -T).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.34), libyaml-0-2, libcurl4 (>= 7.85), libjson-c5, libldns3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "musl")
include(CPack)
