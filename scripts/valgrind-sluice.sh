#!/usr/bin/env bash
# sluice under valgrind memcheck, for the API tests: `make valgrind` points SLUICE_BIN here.
#
#   VG_SLUICE_BIN      the real binary (default: build/sluice of this checkout)
#   VG_SLUICE_LOG_DIR  where each process writes its report, vg.<pid>.log (default:
#                      build/valgrind); tests/api/test_hardening_valgrind.py reads them
#
# The names do not start with SLUICE_: the API tests' conftest drops those from the environment
# of every process it starts. valgrind's own output goes to the log file, never to standard error,
# so that tests reading sluice's messages see only sluice's. A memory error or a definite leak
# makes the exit status 99 (besides the report). Children the server spawns (import commands, the
# XLS parser) run without valgrind.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${VG_SLUICE_BIN:-$root/build/sluice}
logs=${VG_SLUICE_LOG_DIR:-$root/build/valgrind}
mkdir -p "$logs"
exec valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=40 \
  --trace-children=no --child-silent-after-fork=yes --log-file="$logs/vg.%p.log" \
  "$bin" "$@"
