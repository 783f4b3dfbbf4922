#!/usr/bin/env bash
# Shared helpers of the benchmark scripts: medians, timing, a sluice server in a scratch folder.
# Sourced, not run. Every figure is a median of BENCH_RUNS runs (default 3), measured beside its
# baseline in the same run, because these machines are noisy.

BENCH_RUNS=${BENCH_RUNS:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SLUICE=${SLUICE_BIN:-$ROOT/build/sluice}

# median of the numbers on standard input
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) exit 1; print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# seconds (float) that "$@" takes
seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

# a free TCP port on loopback
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# starts sluice serve in folder $1 on a free port with extra env "${@:2}"; sets SERVER_PID, PORT
start_sluice() {
  local dir=$1
  shift
  start_sluice_flags "$dir" "--no-cron" "$@"
}

# the same with the serve flags of $2 (space-separated, e.g. "--continuous") instead of --no-cron
start_sluice_flags() {
  local dir=$1 flags=$2
  shift 2
  PORT=$(free_port)
  # shellcheck disable=SC2086 # flags are words on purpose
  (cd "$dir" && exec env "$@" "$SLUICE" serve --port "$PORT" $flags >"$dir/server.log" 2>&1) &
  SERVER_PID=$!
  wait_healthy "http://127.0.0.1:$PORT/healthz" && return 0
  echo "sluice did not start: $(tail -3 "$dir/server.log")" >&2
  return 1
}

# waits up to ~10 s for URL to answer 2xx
wait_healthy() {
  for _ in $(seq 200); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

stop_sluice() {
  if [ -n "${SERVER_PID:-}" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}

# peak resident set (kB) of process $1 so far
peak_rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

row() { printf '%-34s %14s %14s %10s\n' "$@"; }

# ratio a / b, formatted "%.2f", or "-" when either is missing or b is 0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }

# A line of the final table of `make bench` (bench/run.sh prints them all at the end).
# summary BENCH MEASURE SLUICE BASELINE BASELINE_NAME RATIO GOAL_OP GOAL_VALUE
#   RATIO is sluice / baseline ("-" when there is none); the goal "GOAL_OP GOAL_VALUE" (op one
#   of >= <= < >) applies to RATIO, or to SLUICE when RATIO is "-". GOAL_OP "" means no goal.
#   The last column says whether the goal is met: a reading, never an assertion.
# Lines go to the file $BENCH_SUMMARY (run.sh sets it); a script run on its own keeps them in a
# temporary file and prints them with summary_flush, its last command.
summary() {
  local met
  met=$(awk -v r="$6" -v s="$3" -v op="$7" -v g="$8" 'BEGIN {
    if (op == "") { print "-"; exit }
    v = (r == "-") ? s : r
    if (v == "-" || v == "") { print "?"; exit }
    v += 0; g += 0
    ok = (op == ">=") ? v >= g : (op == "<=") ? v <= g : (op == "<") ? v < g : v > g
    print ok ? "yes" : "no" }')
  local goal="-"
  if [ -n "$7" ]; then
    if [ "$6" = "-" ]; then goal="$7 $8"; else goal="$7 ${8}x"; fi
  fi
  local ratio_col="$6"
  [ "$6" != "-" ] && ratio_col="${6}x"
  local line
  line=$(summary_row "$1" "$2" "$3" "$4" "$5" "$ratio_col" "$goal" "$met")
  echo "$line" >>"$BENCH_SUMMARY"
}

if [ -z "${BENCH_SUMMARY:-}" ]; then
  BENCH_SUMMARY=$(mktemp)
  BENCH_SUMMARY_OWN=1
fi

summary_flush() {
  if [ -n "${BENCH_SUMMARY_OWN:-}" ]; then
    echo
    summary_header
    cat "$BENCH_SUMMARY"
    rm -f "$BENCH_SUMMARY"
  fi
}

summary_row() { printf '%-20s %-20s %11s %11s %-22s %8s %-9s %s\n' "$@"; }
summary_header() { summary_row "benchmark" "measure" "sluice" "baseline" "baseline is" "ratio" "goal" "met"; }
