#!/usr/bin/env bash
# Small uploads: `sluice serve` on its defaults beside the seed's upload route rebuilt on Node.js
# (bench/node-baseline: busboy, files streamed to a folder, one better-sqlite3 job row per file,
# nothing fsynced), both loaded with wrk on loopback: one 4 KiB file per request, then ten 4 KiB
# files per request; BENCH_CONNECTIONS (32) connections, BENCH_SECONDS (20) s per run after a
# BENCH_WARMUP (2) s warm-up, BENCH_RUNS runs, each on a fresh server and folder. Prints
# requests/s, files/s, p50 and p99 latency (medians of the runs) and the ratios sluice / node.
# sluice answers 202 only once the blobs and job rows are durable (fsync); the baseline does not.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SECS=${BENCH_SECONDS:-20}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-32}
SHAPES=${BENCH_UPLOAD_SHAPES:-"1 10"} # files per request, 4 KiB each
NODE_DIR=$ROOT/bench/node-baseline
work=$(mktemp -d)
NODE_PID=
stop_node() {
  if [ -n "${NODE_PID:-}" ]; then
    kill "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
  fi
  NODE_PID=
}
trap 'stop_sluice; stop_node; rm -rf "$work"' EXIT

for tool in wrk node npm; do
  command -v "$tool" >/dev/null || { echo "upload.sh: $tool is missing (make deps; node 20 and npm)" >&2; exit 1; }
done

# The baseline's packages, from npm (the one thing fetched at bench time); quick once installed.
echo "upload: npm install in bench/node-baseline (builds better-sqlite3 the first time)" >&2
(cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error >&2)

start_node() { # folder; sets NODE_PID, PORT
  PORT=$(free_port)
  (cd "$1" && exec env PORT="$PORT" DATA_DIR="$1/data" node "$NODE_DIR/server.js" >"$1/server.log" 2>&1) &
  NODE_PID=$!
  wait_healthy "http://127.0.0.1:$PORT/healthz" && return 0
  echo "node baseline did not start: $(tail -3 "$1/server.log")" >&2
  return 1
}

# wrk against PORT with FILES files per request for SECS seconds; prints "rps p50_us p99_us non202 socket_errors"
load() {
  local port=$1 files=$2 secs=$3
  wrk -t2 -c"$CONNS" -d"${secs}s" -s "$ROOT/bench/upload.lua" "http://127.0.0.1:$port" -- "$files" 4 |
    awk '/^RESULT/ {for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
                    print v["rps"], v["p50_us"], v["p99_us"], v["non202"], v["socket_errors"]}'
}

one_run() { # server files
  local server=$1 files=$2 dir="$work/$1"
  rm -rf "$dir" && mkdir -p "$dir"
  if [ "$server" = sluice ]; then start_sluice "$dir"; else start_node "$dir"; fi
  [ "$WARMUP" -gt 0 ] && load "$PORT" "$files" "$WARMUP" >/dev/null
  load "$PORT" "$files" "$SECS" >>"$work/res.$server.$files"
  if [ "$server" = sluice ]; then stop_sluice; else stop_node; fi
  rm -rf "$dir"
}

for run in $(seq "$BENCH_RUNS"); do
  for files in $SHAPES; do
    order="sluice node"
    [ $((run % 2)) -eq 0 ] && order="node sluice" # alternate who goes first: no systematic drift
    for server in $order; do
      echo "upload: run $run/$BENCH_RUNS, $files file(s) per request, $server" >&2
      one_run "$server" "$files"
    done
  done
done

col() { awk -v c="$2" '{print $c}' "$1" | median; }  # median of column c of a result file
rps_sluice='' rps_node='' p50_sluice='' p50_node='' p99_sluice='' p99_node='' # set per shape below
sum() { awk -v c="$2" '{s += $c} END {print s + 0}' "$1"; }

echo
echo "== upload: 4 KiB files over loopback, wrk $CONNS connections, ${SECS}s per run (median of $BENCH_RUNS) =="
printf '%-30s %10s %10s %9s %9s %9s\n' "" "req/s" "files/s" "p50 ms" "p99 ms" "non-202"
for files in $SHAPES; do
  for server in sluice node; do
    f="$work/res.$server.$files"
    rps=$(col "$f" 1)
    printf -v "rps_$server" '%s' "$rps"
    printf -v "p50_$server" '%s' "$(col "$f" 2)"
    printf -v "p99_$server" '%s' "$(col "$f" 3)"
    label="sluice ${files}x4KiB (fsync)"
    [ "$server" = node ] && label="node ${files}x4KiB (no fsync)"
    printf '%-30s %10.0f %10.0f %9.2f %9.2f %9s\n' "$label" "$rps" \
      "$(echo "$rps * $files" | bc -l)" "$(echo "$(col "$f" 2) / 1000" | bc -l)" \
      "$(echo "$(col "$f" 3) / 1000" | bc -l)" "$(($(sum "$f" 4) + $(sum "$f" 5)))"
  done
  r_rps=$(ratio "$rps_sluice" "$rps_node")
  r_p99=$(ratio "$p99_sluice" "$p99_node")
  r_p50=$(ratio "$p50_sluice" "$p50_node")
  echo "ratios (${files}x4KiB): requests/s sluice/node = ${r_rps}x (goal >= 2x); p99 sluice/node = ${r_p99}x (goal <= 0.5x); p50 ${r_p50}x"
  label="upload ${files}x4KiB"
  summary "$label" "requests/s" "$(printf '%.0f' "$rps_sluice")" "$(printf '%.0f' "$rps_node")" "node busboy+sqlite" "$r_rps" ">=" 2
  summary "$label" "files/s" "$(printf '%.0f' "$(echo "$rps_sluice * $files" | bc -l)")" \
    "$(printf '%.0f' "$(echo "$rps_node * $files" | bc -l)")" "node busboy+sqlite" "$r_rps" "" ""
  summary "$label" "p50 latency ms" "$(printf '%.2f' "$(echo "$p50_sluice / 1000" | bc -l)")" \
    "$(printf '%.2f' "$(echo "$p50_node / 1000" | bc -l)")" "node busboy+sqlite" "$r_p50" "" ""
  summary "$label" "p99 latency ms" "$(printf '%.2f' "$(echo "$p99_sluice / 1000" | bc -l)")" \
    "$(printf '%.2f' "$(echo "$p99_node / 1000" | bc -l)")" "node busboy+sqlite" "$r_p99" "<=" 0.5
  summary "$label" "non-202 + socket err" "$(($(sum "$work/res.sluice.$files" 4) + $(sum "$work/res.sluice.$files" 5)))" \
    "$(($(sum "$work/res.node.$files" 4) + $(sum "$work/res.node.$files" 5)))" "node busboy+sqlite" - "" ""
done
echo "non-202 counts every answer that was not 202 plus wrk's socket errors, summed over the runs."
summary_flush
