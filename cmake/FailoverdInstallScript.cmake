# Runs at install time (see FailoverdInstall.cmake), where CMAKE_INSTALL_PREFIX
# is the prefix of this installation.  file(INSTALL) honours DESTDIR.

# The configuration directory is /etc/failoverd whatever the prefix: it is
# where the daemon looks by default, where the unit's ExecStart= and
# ConditionPathExists= point, and what its ConfigurationDirectory= names
# (always relative to /etc).  A PREFIX/etc copy would be read by nothing.
file(INSTALL "${FO_SOURCE_DIR}/etc/failoverd.conf" DESTINATION "/etc/failoverd"
     RENAME failoverd.conf.example
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

foreach(fo_var FO_UNITDIR FO_SBINDIR FO_BINDIR)
  if(NOT IS_ABSOLUTE "${${fo_var}}")
    set(${fo_var} "${CMAKE_INSTALL_PREFIX}/${${fo_var}}")
  endif()
endforeach()
file(READ "${FO_SOURCE_DIR}/systemd/failoverd.service" fo_unit)
string(REPLACE "ExecStart=/usr/sbin/failoverd " "ExecStart=${FO_SBINDIR}/failoverd " fo_unit
       "${fo_unit}")
string(REPLACE "ExecReload=/usr/bin/failoverctl " "ExecReload=${FO_BINDIR}/failoverctl " fo_unit
       "${fo_unit}")
file(WRITE "${FO_BINARY_DIR}/systemd/failoverd.service" "${fo_unit}")
file(INSTALL "${FO_BINARY_DIR}/systemd/failoverd.service" DESTINATION "${FO_UNITDIR}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
