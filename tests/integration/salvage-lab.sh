#!/bin/bash
# The lab's salvage_command: what "ssh HOST failoverd-salvage-binlog ..." does
# in production, on a machine where every node's files are local.
#
#   salvage-lab.sh HOST NODEDIR CHROOT STATE_ROOT [BINLOG_FILTER]
#
# First it reaches the host as ssh would (TCP to port 22: a host that is up
# refuses at once, since no sshd runs in the lab; one cut off never answers,
# and salvage_timeout ends the wait). Then it prints the node's binlog from
# NODEDIR/data/binlog.index: with the host's mariadb-binlog when CHROOT is "-",
# else with the mysqlbinlog of the server's chroot, the lab's state root bound
# into it as the lab binds it for the server.
set -eu
host=$1 nodedir=$2 chroot=$3 root=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
dump="$here/../../scripts/failoverd-salvage-binlog"
(exec 3<>"/dev/tcp/$host/22") 2>/dev/null || true
index="$nodedir/data/binlog.index"
if [ "$chroot" = "-" ]; then
    exec "$dump" "$index" /usr/bin/mariadb-binlog "$@"
fi
exec unshare --mount --propagation private sh -c \
    'root=$1 dir=$2; shift 2; mount --bind "$root" "$dir$root" && exec "$@"' \
    sh "$root" "$chroot" "$dump" "$index" /usr/sbin/chroot "$chroot" /usr/bin/mysqlbinlog "$@"
