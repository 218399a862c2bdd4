#!/bin/sh
# Test hook: leaves a child running that holds standard output, writes its pid
# to $1, and exits at once.
sleep 5 &
echo "$!" > "$1"
echo started
