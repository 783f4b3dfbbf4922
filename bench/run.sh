#!/usr/bin/env bash
# Runs every benchmark (or those named in BENCH_ONLY, space-separated), printing each one's own
# section as it finishes, then one table of every figure beside its baseline (see README.md).
# A benchmark that fails is reported in the table and makes the exit status 1; the others still run.
set -uo pipefail
cd "$(dirname "$0")" || exit 1
all="upload large queue pickup import growth"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
export BENCH_SUMMARY=$logs/summary
: >"$BENCH_SUMMARY"
. ./lib.sh

# import.sh predates the summary lines: its figures are read back from its own section.
import_summary() {
  awk '
    /^wc -l \(floor\)/                  {wc = $4}
    /^sluice CSV reader \(parse only\)/ {parse = $6}
    /^sqlite3 \.import \(baseline\)/    {sq = $6}
    /^sluice import end to end/         {e2e = $8}
    /^== import:/                       {mb = $3}
    /^reader peak RSS:/                 {q = $4; b = $9}
    END {print wc, parse, sq, e2e, mb, q, b}' "$1" | {
    read -r wc parse sq e2e mb q b
    [ -n "${b:-}" ] || return 0
    summary "import ${mb}MB CSV" "parse MB/s" "$parse" "$wc" "wc -l (floor)" "$(ratio "$parse" "$wc")" ">=" 0.33
    summary "import ${mb}MB CSV" "end to end rows/s" "$e2e" "$sq" "sqlite3 .import" "$(ratio "$e2e" "$sq")" ">" 1
    summary "import ${mb}MB CSV" "reader RSS kB" "$b" "$q" "same, quarter file" "$(ratio "$b" "$q")" "" ""
  }
}

start=$(date +%s)
status=0
for b in ${BENCH_ONLY:-$all}; do
  t0=$(date +%s)
  if bash "./$b.sh" | tee "$logs/$b.out"; then
    [ "$b" = import ] && import_summary "$logs/import.out"
  else
    status=1
    summary_row "$b" "FAILED (see above)" "-" "-" "-" "-" "-" "-" >>"$BENCH_SUMMARY"
  fi
  echo "($b took $(($(date +%s) - t0)) s)" >&2
done

echo
echo "== sluice benchmarks: every figure beside its baseline, measured in the same run =="
echo "BENCH_RUNS=$BENCH_RUNS (figures are medians), ratio = sluice / baseline, goals from issue 5; $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $(($(date +%s) - start)) s in all"
summary_header
cat "$BENCH_SUMMARY"
exit $status
