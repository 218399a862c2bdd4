#!/bin/bash
# The remote side of the lab's salvage_command: what
# "failoverd-salvage-binlog INDEX TOOL {binlog_filter}" is on a production
# database host, run there through the node's real sshd (tests/lab/labssh.py).
#
#   salvage-lab.sh NODEDIR CHROOT STATE_ROOT [BINLOG_FILTER]
#
# Prints the node's binlog from NODEDIR/data/binlog.index: with the host's
# mariadb-binlog when CHROOT is "-", else with the mysqlbinlog of the server's
# chroot, the lab's state root bound into it as the lab binds it for the
# server.
set -eu
nodedir=$1 chroot=$2 root=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
dump="$here/../../scripts/failoverd-salvage-binlog"
index="$nodedir/data/binlog.index"
if [ "$chroot" = "-" ]; then
    exec "$dump" "$index" /usr/bin/mariadb-binlog "$@"
fi
exec unshare --mount --propagation private sh -c \
    'root=$1 dir=$2; shift 2; mount --bind "$root" "$dir$root" && exec "$@"' \
    sh "$root" "$chroot" "$dump" "$index" /usr/sbin/chroot "$chroot" /usr/bin/mysqlbinlog "$@"
