#!/bin/sh
# Test hook: writes its environment to $1 and its standard input to $1.stdin,
# then exits with status $2 (default 0).
env > "$1.tmp"
cat > "$1.stdin"
mv "$1.tmp" "$1"
exit "${2:-0}"
