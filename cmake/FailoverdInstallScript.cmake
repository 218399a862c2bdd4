# Runs at install time (see FailoverdInstall.cmake), where CMAKE_INSTALL_PREFIX
# is the prefix of this installation.  file(INSTALL) honours DESTDIR.

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(fo_etc "/etc")
else()
  set(fo_etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()
file(INSTALL "${FO_SOURCE_DIR}/etc/failoverd.conf" DESTINATION "${fo_etc}/failoverd"
     RENAME failoverd.conf.example
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

foreach(fo_var FO_UNITDIR FO_SBINDIR)
  if(NOT IS_ABSOLUTE "${${fo_var}}")
    set(${fo_var} "${CMAKE_INSTALL_PREFIX}/${${fo_var}}")
  endif()
endforeach()
file(READ "${FO_SOURCE_DIR}/systemd/failoverd.service" fo_unit)
string(REPLACE "ExecStart=/usr/sbin/failoverd " "ExecStart=${FO_SBINDIR}/failoverd " fo_unit
       "${fo_unit}")
file(WRITE "${FO_BINARY_DIR}/systemd/failoverd.service" "${fo_unit}")
file(INSTALL "${FO_BINARY_DIR}/systemd/failoverd.service" DESTINATION "${FO_UNITDIR}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
