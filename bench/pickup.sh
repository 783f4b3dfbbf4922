#!/usr/bin/env bash
# Pickup latency in continuous mode: `sluice serve --continuous` (vercel.json {"crons": []}, so
# the worker alone runs jobs), BENCH_PICKUP_JOBS (200) 64-byte uploads sent one at a time,
# BENCH_PICKUP_GAP_MS (10) apart, then once more back to back (bench/pickup.py). A job's pickup
# runs from the moment the client has the 202 (the job is durable and claimable) to its processor
# starting, on the machine's real-time clock; the start comes from the server log ("picked up X
# ms after upload", X counted from the job id's time, kept to 1/4096 ms in the UUIDv7). Also
# shown: the same start counted from the id's making, which adds the upload's own durable commit.
# p50, p99 and mean in ms. There is no slower system to compare with (the seed's cron would wait
# up to two minutes), so the scale beside it is the upload request's own round trip. Median of
# BENCH_RUNS runs, fresh server and folder each.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JOBS=${BENCH_PICKUP_JOBS:-200}
GAP_MS=${BENCH_PICKUP_GAP_MS:-10} # pause between uploads: a steady stream, not a flood
work=$(mktemp -d)
trap 'stop_sluice; rm -rf "$work"' EXIT

# run GAP RESULT_FILE: BENCH_RUNS fresh servers, one pickup.py line each
run() {
  for r in $(seq "$BENCH_RUNS"); do
    echo "pickup: ${1} ms apart, run $r/$BENCH_RUNS" >&2
    rm -rf "$work/srv" && mkdir -p "$work/srv"
    echo '{"crons": []}' >"$work/srv/vercel.json"
    start_sluice_flags "$work/srv" "--continuous"
    /usr/bin/python3 "$ROOT/bench/pickup.py" "$PORT" "$JOBS" "$1" "$work/srv/server.log" >>"$2"
    stop_sluice
  done
}
run "$GAP_MS" "$work/res"
run 0 "$work/flood" # back to back: the queue's throughput shows, not its latency

col() { awk -v c="$1" '{print $c}' "${2:-$work/res}" | median; }
p50=$(col 1) p99=$(col 2) mean=$(col 3) u50=$(col 4) u99=$(col 5) m50=$(col 7) m99=$(col 8)
f50=$(col 1 "$work/flood") f99=$(col 2 "$work/flood") fu50=$(col 4 "$work/flood")

echo
echo "== pickup latency, continuous mode: $JOBS uploads one at a time (median of $BENCH_RUNS) =="
printf '%-50s %9s %9s %9s\n' "" "p50 ms" "p99 ms" "mean ms"
printf '%-50s %9.3f %9.3f %9.3f\n' "pickup, ${GAP_MS} ms apart (202 to processor start)" "$p50" "$p99" "$mean"
printf '%-50s %9.3f %9.3f %9s\n' "  same, from the upload's arrival (id made)" "$m50" "$m99" "-"
printf '%-50s %9.2f %9.2f %9s\n' "  upload round trip (scale, not a goal)" "$u50" "$u99" "-"
printf '%-50s %9.3f %9.3f %9s\n' "pickup, back to back (queueing; not a goal)" "$f50" "$f99" "-"
printf '%-50s %9.2f %9s %9s\n' "  upload round trip" "$fu50" "-" "-"
echo "goals: pickup p50 < 1 ms, p99 < 5 ms"
summary "pickup ${JOBS} jobs" "p50 ms" "$(printf '%.3f' "$p50")" "$(printf '%.2f' "$u50")" "upload round trip p50" "-" "<" 1
summary "pickup ${JOBS} jobs" "p99 ms" "$(printf '%.3f' "$p99")" "$(printf '%.2f' "$u99")" "upload round trip p99" "-" "<" 5
summary "pickup ${JOBS} jobs" "flood p50 ms" "$(printf '%.3f' "$f50")" "$(printf '%.2f' "$fu50")" "upload round trip p50" "-" "" ""
summary_flush
