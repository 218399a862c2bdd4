#!/bin/sh
# Provisions one machine of the Vagrant lab (see Vagrantfile). Servers get the
# configuration and SQL of tests/lab/provision, like the namespace lab.
#   provision.sh db ID ADDRESS PRIMARY_ADDRESS HOSTS   a database server
#   provision.sh manager                                the failoverd machine
# Passwords come from REPL_PASSWORD, ADMIN_PASSWORD, WRITER_PASSWORD and
# ROOT_PASSWORD; the defaults are the lab's (a private network only).
set -eu
SRC=/failoverd
P=$SRC/tests/lab/provision
export DEBIAN_FRONTEND=noninteractive
export REPL_PASSWORD="${REPL_PASSWORD:-repl-secret}" ADMIN_PASSWORD="${ADMIN_PASSWORD:-failoverd-secret}"
export WRITER_PASSWORD="${WRITER_PASSWORD:-writer-secret}" ROOT_PASSWORD="${ROOT_PASSWORD:-labroot-secret}"

case "${1:-}" in
db)
  id=$2 addr=$3 primary=$4 hosts=$5
  apt-get update -qq
  apt-get install -y -qq mariadb-server mariadb-client iputils-arping >/dev/null
  "$P/mkcnf.sh" flavor=mariadb server_id="$id" name="db$id" report_host="$addr" \
    semisync="${FAILOVERD_SEMISYNC:-0}" > /etc/mysql/mariadb.conf.d/90-failoverd.cnf
  systemctl restart mariadb
  if [ "$addr" = "$primary" ]; then
    { "$P/sql.sh" writable mariadb; "$P/sql.sh" users mariadb "$hosts"; } | mariadb
    [ "${FAILOVERD_SEMISYNC:-0}" = 1 ] && "$P/sql.sh" semisync-source mariadb on | mariadb
    # The VIP starts on the primary; from then on failoverd moves it.
    [ -n "${FAILOVERD_VIP:-}" ] && ip addr replace "$FAILOVERD_VIP/24" dev eth1 &&
      arping -q -U -c 1 -I eth1 "$FAILOVERD_VIP" || true
  else
    # The primary is provisioned first (machines come up in order).
    "$P/sql.sh" replica mariadb "$primary" 3306 | mariadb
  fi
  echo "db$id ($addr) provisioned"
  ;;
manager)
  apt-get update -qq
  "$SRC/scripts/deps"
  apt-get install -y -qq mariadb-client iputils-arping >/dev/null
  cmake -S "$SRC" -B /opt/failoverd-build >/dev/null
  cmake --build /opt/failoverd-build -j2 >/dev/null
  echo "manager provisioned: failoverd and labwriter in /opt/failoverd-build"
  ;;
*)
  sed -n '2,9p' "$0" >&2
  exit 64
  ;;
esac
