#!/usr/bin/env bash
# Import throughput: a generated CSV (BENCH_CSV_MB, default 200 MB) read by sluice's CSV reader
# (parsing alone) beside `wc -l` (a floor no parser beats), and imported end to end (reader,
# schema-less conversion, records upserted in SQLite with synchronous=FULL) beside SQLite's own
# `.import` into a table of a file database. Also the reader's peak memory at two file sizes:
# it must stay flat as the file grows. On a shared machine wall times swing with the other load,
# so the CPU seconds (user + system) of each side are shown too, from the same runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MB=${BENCH_CSV_MB:-200}
work=$(mktemp -d)
trap 'stop_sluice; rm -rf "$work"' EXIT

gen_csv() { # size_mb file
  /usr/bin/python3 - "$1" "$2" <<'PY'
import random, sys
mb, path = int(sys.argv[1]), sys.argv[2]
random.seed(7)
kinds = ["preventive", "corrective", "inspection"]
with open(path, "w") as f:
    f.write("internalCode,name,year,kind,price,notes\n")
    i, size = 0, 0
    while size < mb * 1_000_000:
        line = 'M%08d,"Pump %d, model %s",%d,%s,%.2f,"said ""ok"" at noon"\n' % (
            i, i, chr(65 + i % 26), 1990 + i % 35, kinds[i % 3], random.random() * 1000)
        f.write(line)
        size += len(line)
        i += 1
PY
}

gen_csv "$MB" "$work/big.csv"
gen_csv $((MB / 4)) "$work/quarter.csv"
bytes=$(stat -c %s "$work/big.csv")
rows=$(($(wc -l <"$work/big.csv") - 1))

# cpu_seconds FILE CMD...: runs CMD, appends its user + system seconds to FILE, prints its wall s
cpu_seconds() {
  local out=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$work/time.txt" "$@" >/dev/null
  t1=$(date +%s.%N)
  awk '{print $1 + $2}' "$work/time.txt" >>"$out"
  echo "$t1 - $t0" | bc -l
}
: >"$work/wc.cpu"
: >"$work/parse.cpu"
wc_s=$(for _ in $(seq "$BENCH_RUNS"); do seconds wc -l "$work/big.csv"; done | median)
for _ in $(seq "$BENCH_RUNS"); do cpu_seconds "$work/wc.cpu" wc -l "$work/big.csv" >/dev/null; done
# Both timed the same way, from fork to exit (the reader's own startup, heavier than wc's, counts).
parse_s=$(for _ in $(seq "$BENCH_RUNS"); do seconds "$ROOT/build/bench/readrows" "$work/big.csv"; done | median)
for _ in $(seq "$BENCH_RUNS"); do
  cpu_seconds "$work/parse.cpu" "$ROOT/build/bench/readrows" "$work/big.csv" >/dev/null
done
rss_big=$("$ROOT/build/bench/readrows" "$work/big.csv" | awk '{print $4}')
rss_quarter=$("$ROOT/build/bench/readrows" "$work/quarter.csv" | awk '{print $4}')

: >"$work/sqlite.cpu"
sqlite_s=$(for _ in $(seq "$BENCH_RUNS"); do
  rm -f "$work/import.db"*
  cpu_seconds "$work/sqlite.cpu" sqlite3 "$work/import.db" "PRAGMA journal_mode=WAL;" \
    "PRAGMA synchronous=FULL;" ".mode csv" ".import $work/big.csv t"
done | median)

# sluice end to end: upload once per run into a fresh store, then time the job's processing.
sluice_ms=()
sluice_rss=()
sluice_cpu=()
# user + system seconds of process $1 so far (clock ticks in /proc/PID/stat)
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
for _ in $(seq "$BENCH_RUNS"); do
  rm -rf "$work/srv" && mkdir -p "$work/srv"
  start_sluice "$work/srv" SLUICE_JOB_TIMEOUT_SECONDS=3600
  curl -sf -F "files=@$work/big.csv" "http://127.0.0.1:$PORT/api/integration/upload" >/dev/null
  cpu0=$(proc_cpu "$SERVER_PID")
  curl -sf -X POST "http://127.0.0.1:$PORT/api/cron/process-integration-jobs" >"$work/batch.json"
  sluice_cpu+=("$(echo "$(proc_cpu "$SERVER_PID") - $cpu0" | bc -l)")
  sluice_rss+=("$(peak_rss_kb "$SERVER_PID")")
  stop_sluice
  ms=$(/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; assert j["status"]=="completed", j; print(j["processingMs"])' "$work/batch.json")
  sluice_ms+=("$ms")
done
sluice_s=$(printf '%s\n' "${sluice_ms[@]}" | median | awk '{print $1 / 1000}')
rss_server=$(printf '%s\n' "${sluice_rss[@]}" | median)

mbps() { echo "$bytes / $1 / 1000000" | bc -l | xargs printf '%.0f MB/s'; }
rps() { echo "$rows / $1" | bc -l | xargs printf '%.0f rows/s'; }

echo
echo "== import: ${MB} MB CSV, $rows rows (median of $BENCH_RUNS) =="
row "" "throughput" "rows" "time"
row "wc -l (floor)" "$(mbps "$wc_s")" "$(rps "$wc_s")" "$(printf '%.2fs' "$wc_s")"
row "sluice CSV reader (parse only)" "$(mbps "$parse_s")" "$(rps "$parse_s")" "$(printf '%.2fs' "$parse_s")"
row "sqlite3 .import (baseline)" "$(mbps "$sqlite_s")" "$(rps "$sqlite_s")" "$(printf '%.2fs' "$sqlite_s")"
row "sluice import end to end" "$(mbps "$sluice_s")" "$(rps "$sluice_s")" "$(printf '%.2fs' "$sluice_s")"
printf 'ratios: parse / wc -l = %.1fx slower (goal <= 3x); sluice / sqlite3 .import = %.2fx faster (goal > 1)\n' \
  "$(echo "$parse_s / $wc_s" | bc -l)" "$(echo "$sqlite_s / $sluice_s" | bc -l)"
printf 'reader peak RSS: %s kB at %s MB, %s kB at %s MB (flat is the goal); server peak RSS %s kB\n' \
  "$rss_quarter" $((MB / 4)) "$rss_big" "$MB" "$rss_server"
c_wc=$(median <"$work/wc.cpu")
c_parse=$(median <"$work/parse.cpu")
c_sqlite=$(median <"$work/sqlite.cpu")
c_sluice=$(printf '%s\n' "${sluice_cpu[@]}" | median)
printf 'cpu seconds (user + system, median): wc -l %.2f, reader %.2f (%sx); sqlite3 .import %.2f, sluice import %.2f (server, during the batch; %sx)\n' \
  "$c_wc" "$c_parse" "$(ratio "$c_parse" "$c_wc")" "$c_sqlite" "$c_sluice" "$(ratio "$c_sqlite" "$c_sluice")"
