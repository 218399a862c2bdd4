#!/bin/sh
# Test hook: 100000 bytes on standard output, one line on standard error.
head -c 100000 /dev/zero | tr '\0' 'x'
echo
echo "to stderr" >&2
