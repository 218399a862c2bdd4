# Fails when the core library (ARCHIVE) needs a symbol of a library the core
# must not use: libuv (uv_), Connector/C (mysql_, mariadb_), libcurl (curl_),
# libconfig (config_).  Run as: cmake -DNM=nm -DARCHIVE=libfailoverd_core.a -P this
if(NOT NM OR NOT ARCHIVE)
  message(FATAL_ERROR "usage: cmake -DNM=<nm> -DARCHIVE=<core archive> -P CheckCoreSymbols.cmake")
endif()
execute_process(COMMAND ${NM} -u ${ARCHIVE} OUTPUT_VARIABLE undefined RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -u ${ARCHIVE} failed (${rc})")
endif()
string(REGEX MATCHALL "[ \t]U[ \t]+(uv_|mysql_|mariadb_|curl_|Curl_|config_)[A-Za-z0-9_]*"
       bad "${undefined}")
if(bad)
  list(TRANSFORM bad REPLACE "^[ \t]U[ \t]+" "")
  list(REMOVE_DUPLICATES bad)
  list(JOIN bad ", " names)
  message(FATAL_ERROR "the core library ${ARCHIVE} is not pure: it needs ${names}")
endif()
message(STATUS "core is pure: no libuv, Connector/C, libcurl or libconfig symbol in ${ARCHIVE}")
