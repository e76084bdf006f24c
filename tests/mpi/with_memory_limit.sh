#!/bin/sh
# with_memory_limit.sh KIB PROGRAM ARGS...: runs PROGRAM with its virtual
# memory limited to KIB KiB (ulimit -v), for a rank that is short of memory.
ulimit -v "$1" || exit 1
shift
exec "$@"
