# Installation of everything besides the two binaries (daemon/CMakeLists.txt
# installs those): the systemd unit, the sysusers.d and tmpfiles.d snippets, the
# example configuration, the plugin directory and ABI header, the man pages and
# the documents.
#
# Relative destinations follow the prefix given at install time
# (cmake --install build --prefix /usr).  cmake/FailoverdInstallScript.cmake
# writes the unit with ExecStart= and ExecReload= pointing at the installed
# binaries, and the example configuration into /etc/failoverd whatever the
# prefix (under DESTDIR): that is where the daemon and the unit read it.
#
# The daemon's plugin directory (FAILOVERD_PLUGINDIR) is compiled in from the
# prefix of the configure step, so a build meant for packaging is configured with
# -DCMAKE_INSTALL_PREFIX=/usr.

set(FAILOVERD_UNITDIR "lib/systemd/system" CACHE STRING
    "Where the systemd unit goes: relative to the prefix, or absolute")
set(FAILOVERD_SYSUSERSDIR "lib/sysusers.d" CACHE STRING
    "Where the sysusers.d snippet goes: relative to the prefix, or absolute")
set(FAILOVERD_TMPFILESDIR "lib/tmpfiles.d" CACHE STRING
    "Where the tmpfiles.d snippet goes: relative to the prefix, or absolute")

install(FILES systemd/failoverd.sysusers DESTINATION ${FAILOVERD_SYSUSERSDIR}
        RENAME failoverd.conf)
install(FILES systemd/failoverd.tmpfiles DESTINATION ${FAILOVERD_TMPFILESDIR}
        RENAME failoverd.conf)

# The directory plugins named by a relative path are looked up in, and the ABI
# header they are built against, also outside this tree.
install(DIRECTORY DESTINATION ${CMAKE_INSTALL_LIBDIR}/failoverd/plugins)
install(FILES include/failoverd/plugin.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/failoverd)

install(FILES docs/man/failoverd.8 docs/man/failoverctl.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES docs/man/failoverd.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)

file(GLOB FAILOVERD_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES README.md ${FAILOVERD_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES etc/failoverd.conf systemd/local-vip.conf
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The unit (with ExecStart pointing at the installed daemon) and the example
# configuration in /etc/failoverd, as failoverd.conf.example: installing never
# writes failoverd.conf, so an operator's configuration is never overwritten.
install(CODE "
  set(FO_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(FO_BINARY_DIR \"${PROJECT_BINARY_DIR}\")
  set(FO_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
  set(FO_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(FO_UNITDIR \"${FAILOVERD_UNITDIR}\")")
install(SCRIPT cmake/FailoverdInstallScript.cmake)
