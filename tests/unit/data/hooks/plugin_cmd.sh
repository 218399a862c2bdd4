#!/bin/sh
# Command run by the recorder plugin through the host's spawn service: prints
# its argument, the RECORDER variable and its standard input on one line.
printf '%s %s %s\n' "$1" "$RECORDER" "$(cat)"
