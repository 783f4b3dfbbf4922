#!/usr/bin/env bash
# Pickup latency in continuous mode: `sluice serve --continuous` (vercel.json {"crons": []}, so
# the worker alone runs jobs), BENCH_PICKUP_JOBS (200) 64-byte uploads sent one after another
# (bench/pickup.py), then each job's pickup from the server log ("picked up X ms after upload":
# from the making of its id, which keeps the time to 1/4096 ms, to its processor's start),
# checked against startedAt - createdAt (whole ms): p50, p99 and mean in ms. There is no slower
# system to compare with (the seed's cron would wait up to two minutes), so the scale beside it
# is the upload request's own round trip. Median of BENCH_RUNS runs, fresh server and folder each.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JOBS=${BENCH_PICKUP_JOBS:-200}
GAP_MS=${BENCH_PICKUP_GAP_MS:-0} # pause between uploads
work=$(mktemp -d)
trap 'stop_sluice; rm -rf "$work"' EXIT

for run in $(seq "$BENCH_RUNS"); do
  echo "pickup: run $run/$BENCH_RUNS" >&2
  rm -rf "$work/srv" && mkdir -p "$work/srv"
  echo '{"crons": []}' >"$work/srv/vercel.json"
  start_sluice_flags "$work/srv" "--continuous"
  /usr/bin/python3 "$ROOT/bench/pickup.py" "$PORT" "$JOBS" "$GAP_MS" "$work/srv/server.log" >>"$work/res"
  stop_sluice
done

col() { awk -v c="$1" '{print $c}' "$work/res" | median; }
p50=$(col 1) p99=$(col 2) mean=$(col 3) u50=$(col 4) u99=$(col 5)

echo
echo "== pickup latency, continuous mode: $JOBS uploads one after another (median of $BENCH_RUNS) =="
printf '%-44s %9s %9s %9s\n' "" "p50 ms" "p99 ms" "mean ms"
printf '%-44s %9.3f %9.3f %9.3f\n' "pickup (upload to processor start)" "$p50" "$p99" "$mean"
printf '%-44s %9.2f %9.2f %9s\n' "upload round trip (scale, not a goal)" "$u50" "$u99" "-"
echo "goals: pickup p50 < 1 ms, p99 < 5 ms"
summary "pickup ${JOBS} jobs" "p50 ms" "$(printf '%.3f' "$p50")" "$(printf '%.2f' "$u50")" "upload round trip p50" "-" "<" 1
summary "pickup ${JOBS} jobs" "p99 ms" "$(printf '%.3f' "$p99")" "$(printf '%.2f' "$u99")" "upload round trip p99" "-" "<" 5
summary "pickup ${JOBS} jobs" "mean ms" "$(printf '%.3f' "$mean")" "-" "-" "-" "" ""
summary_flush
