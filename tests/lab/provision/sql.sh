#!/bin/sh
# Prints the SQL that provisions a failoverd test cluster, in the dialect of
# MariaDB 10.11 and 11.8 or MySQL 9.7; pipe it into the client of the right node. Used by
# the lab (tests/lab) and by the Vagrant machines (vagrant/).
#
# Usage: sql.sh users FLAVOR HOSTS      run on the primary only: users, schema
#        sql.sh replica FLAVOR HOST PORT [slave_pos|current_pos]
#                                       on a replica: replicate from HOST:PORT
#        sql.sh writable FLAVOR         make this node the writable primary
#        sql.sh readonly FLAVOR
#        sql.sh semisync-source FLAVOR on|off
# HOSTS is the account host pattern the cluster's clients connect from, such as
# '10.213.7.%'. Passwords and user names come from the environment:
#   REPL_USER/REPL_PASSWORD       replication (default repl)
#   ADMIN_USER/ADMIN_PASSWORD     failoverd's account (default failoverd)
#   WRITER_USER/WRITER_PASSWORD   the lab's write checker (default writer)
#   ROOT_USER/ROOT_PASSWORD       full rights over TCP for tests (default labroot)
#   REPL_SSL_CA                   replica: a TLS channel checking the source's
#                                 certificate against this CA (and its name)
# Users are created on the primary only and reach replicas by replication: a
# user created on each node would give each node its own GTIDs (with
# gtid_strict_mode on MariaDB, a divergence).
set -eu

usage() { sed -n '5,11p' "$0" >&2; exit 64; }
[ $# -ge 2 ] || usage
cmd=$1 flavor=$2
case "$flavor" in mariadb|mysql) ;; *) usage ;; esac
q() { printf "%s" "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; } # SQL string body

case "$cmd" in
users)
  [ $# -eq 3 ] || usage
  hosts=$(q "$3")
  repl=$(q "${REPL_USER:-repl}") admin=$(q "${ADMIN_USER:-failoverd}")
  writer=$(q "${WRITER_USER:-writer}") root=$(q "${ROOT_USER:-labroot}")
  cat <<SQL
CREATE USER '$repl'@'$hosts' IDENTIFIED BY '$(q "${REPL_PASSWORD:?}")';
GRANT REPLICATION SLAVE ON *.* TO '$repl'@'$hosts';
CREATE USER '$admin'@'$hosts' IDENTIFIED BY '$(q "${ADMIN_PASSWORD:?}")';
CREATE USER '$writer'@'$hosts' IDENTIFIED BY '$(q "${WRITER_PASSWORD:?}")';
CREATE USER '$root'@'$hosts' IDENTIFIED BY '$(q "${ROOT_PASSWORD:?}")';
GRANT ALL PRIVILEGES ON *.* TO '$root'@'$hosts' WITH GRANT OPTION;
SQL
  # failoverd's account: read every node's replication and GTID state, stop,
  # point and start replication, switch read_only and semi-sync, and end the
  # sessions of a fenced primary. It has no rights on user data. See docs/lab.md.
  if [ "$flavor" = mariadb ]; then
    cat <<SQL
GRANT BINLOG MONITOR, REPLICA MONITOR, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN,
      READ_ONLY ADMIN, CONNECTION ADMIN, PROCESS, RELOAD ON *.* TO '$admin'@'$hosts';
SQL
  else
    cat <<SQL
GRANT REPLICATION CLIENT, REPLICATION SLAVE, PROCESS, RELOAD ON *.* TO '$admin'@'$hosts';
GRANT REPLICATION_SLAVE_ADMIN, SYSTEM_VARIABLES_ADMIN, CONNECTION_ADMIN, SYSTEM_USER ON *.* TO '$admin'@'$hosts';
GRANT SELECT ON performance_schema.* TO '$admin'@'$hosts';
SQL
  fi
  cat <<SQL
CREATE DATABASE lab;
-- The write checker's rows: id is chosen by the writer and never reused, sent_us
-- is the writer's clock when it sent the row, origin the server that executed it.
CREATE TABLE lab.writes (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  sent_us BIGINT NOT NULL,
  origin INT UNSIGNED NOT NULL
) ENGINE=InnoDB;
-- Rows written directly on a replica to make an errant GTID.
CREATE TABLE lab.errant (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  origin INT UNSIGNED NOT NULL,
  at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;
GRANT SELECT, INSERT ON lab.writes TO '$writer'@'$hosts';
SQL
  ;;
replica)
  [ $# -ge 4 ] || usage
  host=$(q "$3") port=$4 pos=${5:-slave_pos}
  user=$(q "${REPL_USER:-repl}") pass=$(q "${REPL_PASSWORD:?}")
  tls=
  if [ -n "${REPL_SSL_CA:-}" ]; then
    if [ "$flavor" = mariadb ]; then p=MASTER; else p=SOURCE; fi
    tls=", ${p}_SSL=1, ${p}_SSL_CA='$(q "$REPL_SSL_CA")', ${p}_SSL_VERIFY_SERVER_CERT=1"
  fi
  if [ "$flavor" = mariadb ]; then
    cat <<SQL
STOP SLAVE;
CHANGE MASTER TO MASTER_HOST='$host', MASTER_PORT=$port, MASTER_USER='$user',
  MASTER_PASSWORD='$pass', MASTER_USE_GTID=$pos, MASTER_CONNECT_RETRY=1,
  MASTER_HEARTBEAT_PERIOD=0.25$tls;
START SLAVE;
SQL
  else
    # Replicas use TLS to the source by default; GET_SOURCE_PUBLIC_KEY lets
    # caching_sha2_password authenticate on a channel without TLS too.
    cat <<SQL
STOP REPLICA;
CHANGE REPLICATION SOURCE TO SOURCE_HOST='$host', SOURCE_PORT=$port, SOURCE_USER='$user',
  SOURCE_PASSWORD='$pass', SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=1,
  SOURCE_RETRY_COUNT=100000, SOURCE_HEARTBEAT_PERIOD=0.25, GET_SOURCE_PUBLIC_KEY=1$tls;
START REPLICA;
SQL
  fi
  ;;
writable)
  if [ "$flavor" = mariadb ]; then echo "SET GLOBAL read_only=OFF;"
  else echo "SET GLOBAL super_read_only=OFF; SET GLOBAL read_only=OFF;"; fi
  ;;
readonly)
  if [ "$flavor" = mariadb ]; then echo "SET GLOBAL read_only=ON;"
  else echo "SET GLOBAL super_read_only=ON;"; fi
  ;;
semisync-source)
  [ $# -eq 3 ] || usage
  case "$3" in on) v=ON ;; off) v=OFF ;; *) usage ;; esac
  if [ "$flavor" = mariadb ]; then echo "SET GLOBAL rpl_semi_sync_master_enabled=$v;"
  else echo "SET GLOBAL rpl_semi_sync_source_enabled=$v;"; fi
  ;;
*) usage ;;
esac
