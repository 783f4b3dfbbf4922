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
  PORT=$(free_port)
  (cd "$dir" && exec env "$@" "$SLUICE" serve --port "$PORT" --no-cron >"$dir/server.log" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0
    sleep 0.05
  done
  echo "sluice did not start: $(tail -3 "$dir/server.log")" >&2
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
