#!/usr/bin/env bash
# Runs libFuzzer targets: each for <seconds> on a scratch copy of tests/fuzz/corpus/<target> (so the
# committed corpus is not grown), then every input in tests/fuzz/regressions/<target> once, so a
# fixed crash stays fixed. Crash inputs are kept in build-fuzz/artifacts/<target>/.
# Usage: scripts/fuzz.sh <bin dir> <seconds> <target>...
set -euo pipefail
cd "$(dirname "$0")/.."
bindir=$1 seconds=$2
shift 2
status=0
for t in "$@"; do
  scratch=$(mktemp -d)
  artifacts=build-fuzz/artifacts/$t
  mkdir -p "$artifacts"
  cp -r "tests/fuzz/corpus/$t/." "$scratch/"
  echo "== $t: ${seconds}s"
  # FUZZ_SEED makes a run repeatable (CI uses one, so a pass here is a pass there).
  if ! "$bindir/$t" -max_total_time="$seconds" ${FUZZ_SEED:+-seed=$FUZZ_SEED} -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$scratch" 2>"build-fuzz/$t.log"; then
    echo "fuzz: $t found a crash (build-fuzz/$t.log, $artifacts/)" >&2
    tail -n 60 "build-fuzz/$t.log" >&2
    status=1
  fi
  grep -E '^#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss' \
    "build-fuzz/$t.log" || true
  rm -rf "$scratch"
  regressions=(tests/fuzz/regressions/"$t"/*)
  if [ -e "${regressions[0]}" ]; then
    echo "== $t: ${#regressions[@]} regression input(s)"
    if ! "$bindir/$t" -timeout=10 "${regressions[@]}" 2>"build-fuzz/$t.regressions.log"; then
      echo "fuzz: $t fails on a regression input (build-fuzz/$t.regressions.log)" >&2
      tail -n 60 "build-fuzz/$t.regressions.log" >&2
      status=1
    fi
  fi
done
exit $status
