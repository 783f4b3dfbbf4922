#!/usr/bin/env bash
# Runs every benchmark (or those named in BENCH_ONLY, space-separated) and prints their tables.
set -euo pipefail
cd "$(dirname "$0")"
all="import"
for b in ${BENCH_ONLY:-$all}; do
  bash "./$b.sh"
done
