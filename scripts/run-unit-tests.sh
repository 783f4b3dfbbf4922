#!/usr/bin/env bash
# Runs every unit test binary of a build folder, each in its own temporary working directory.
set -uo pipefail
build=${1:-build}
failed=0
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  dir=$(mktemp -d)
  if (cd "$dir" && "$OLDPWD/$t"); then
    rm -rf "$dir"
  else
    echo "FAILED: $t (workdir kept: $dir)" >&2
    failed=1
  fi
done
exit $failed
