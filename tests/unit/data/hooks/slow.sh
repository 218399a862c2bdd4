#!/bin/sh
# Test hook that outlives its timeout: starts a child of its own, writes
# "its-pid child-pid" to $1, and waits.  With $2 = ignore-term neither it nor
# the child heeds SIGTERM, so only SIGKILL ends them.
[ "$2" = ignore-term ] && trap '' TERM
sleep 60 &
echo "$$ $!" > "$1.tmp" && mv "$1.tmp" "$1"
wait
