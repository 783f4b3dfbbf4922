#!/usr/bin/env bash
# Cost as the table grows: latency of GET /api/integration/queue and GET
# /api/integration/stats?days=7 on a store holding 1,000 jobs and on one holding BENCH_GROWTH_JOBS
# (1,000,000), both generated straight into the SQLite file (bench/genjobs.py, on a store made by
# `sluice migrate`): created over 90 days (a 7-day window holds ~8%), 2% failed, 10 pending, the
# rest completed. Each figure is the median of BENCH_GROWTH_REQUESTS (50) sequential requests on
# one keep-alive connection after one warm-up request, then the median over BENCH_RUNS runs (a
# fresh server each run, same files). The 1,000-job store is the baseline; the ratio is big/small.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BIG=${BENCH_GROWTH_JOBS:-1000000}
SMALL=1000
REQS=${BENCH_GROWTH_REQUESTS:-50}
work=$(mktemp -d)
trap 'stop_sluice; rm -rf "$work"' EXIT

for n in $SMALL $BIG; do
  echo "growth: generating a store of $n jobs" >&2
  mkdir -p "$work/$n"
  (cd "$work/$n" && "$SLUICE" migrate >/dev/null)
  /usr/bin/python3 "$ROOT/bench/genjobs.py" "$work/$n/data/sluice.db" "$n"
done

# prints the median time_total (ms) of REQS GETs of path $1 on $PORT; fails on any non-200
probe() {
  local url="http://127.0.0.1:$PORT$1" args=()
  curl -sf -o /dev/null "$url"
  for _ in $(seq "$REQS"); do args+=(-o /dev/null "$url"); done
  curl -s -w '%{http_code} %{time_total}\n' "${args[@]}" >"$work/probe"
  if awk '$1 != 200 {bad = 1} END {exit !bad}' "$work/probe"; then
    echo "growth: $1 answered $(awk '$1 != 200 {print $1; exit}' "$work/probe")" >&2
    exit 1
  fi
  awk '{print $2 * 1000}' "$work/probe" | median
}

for run in $(seq "$BENCH_RUNS"); do
  for n in $SMALL $BIG; do
    echo "growth: run $run/$BENCH_RUNS, $n jobs" >&2
    start_sluice "$work/$n"
    echo "$(probe /api/integration/queue) $(probe '/api/integration/stats?days=7')" >>"$work/res.$n"
    stop_sluice
  done
done

col() { awk -v c="$2" '{print $c}' "$work/res.$1" | median; }
q_s=$(col $SMALL 1) q_b=$(col "$BIG" 1) s_s=$(col $SMALL 2) s_b=$(col "$BIG" 2)
r_q=$(ratio "$q_b" "$q_s")
r_s=$(ratio "$s_b" "$s_s")

echo
echo "== growth: route latency with $SMALL and $BIG jobs in the store (median of $REQS requests, median of $BENCH_RUNS runs) =="
printf '%-36s %12s %12s %8s %10s\n' "" "$SMALL jobs" "$BIG jobs" "ratio" "goal"
printf '%-36s %10.2fms %10.2fms %7sx %10s\n' "GET /api/integration/queue" "$q_s" "$q_b" "$r_q" "<= 3x"
printf '%-36s %10.2fms %10.2fms %7sx %10s\n' "GET /api/integration/stats?days=7" "$s_s" "$s_b" "$r_s" "<= 10x"
short() { awk -v n="$1" 'BEGIN {if (n >= 1e6 && n % 1e6 == 0) print n / 1e6 "M"; else if (n >= 1e3 && n % 1e3 == 0) print n / 1e3 "k"; else print n}'; }
summary "growth queue route" "ms with $(short "$BIG") jobs" "$(printf '%.2f' "$q_b")" "$(printf '%.2f' "$q_s")" "same, $(short $SMALL) jobs" "$r_q" "<=" 3
summary "growth stats 7 days" "ms with $(short "$BIG") jobs" "$(printf '%.2f' "$s_b")" "$(printf '%.2f' "$s_s")" "same, $(short $SMALL) jobs" "$r_s" "<=" 10
summary_flush
