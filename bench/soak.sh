#!/usr/bin/env bash
# Soak: `sluice serve` on its defaults in a scratch folder, under SOAK_CONNECTIONS (64) wrk
# connections of mixed uploads and reads (bench/soak.lua) for SECONDS (argument, default 60),
# while a loop runs a batch through the cron route every SOAK_BATCH_EVERY (0.5) s. Samples the
# server's resident memory (VmRSS) and open descriptors (/proc/PID/fd) every second, prints a
# table, and exits 1 when:
#   - any request failed: a non-2xx answer or a socket error in wrk, or a batch answer other than
#     200 (409 is counted apart: the built-in cron may run a batch at the same moment);
#   - RSS grew from the sample at second B (B = 10, or a third of the run when shorter) to the
#     end by more than SOAK_RSS_PCT (20) percent AND more than SOAK_RSS_KIB (8192) KiB: both
#     must be exceeded, so a small server is not failed for a few pages, nor a big one for its
#     caches settling;
#   - the server holds more descriptors once idle again than it did idle before the load.
# Usage: bash bench/soak.sh [SECONDS]   (make soak: 60 s; make soak-short: 15 s)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SECS=${1:-60}
CONNS=${SOAK_CONNECTIONS:-64}
THREADS=${SOAK_THREADS:-2}
BATCH_EVERY=${SOAK_BATCH_EVERY:-0.5}
RSS_PCT=${SOAK_RSS_PCT:-20}
RSS_KIB=${SOAK_RSS_KIB:-8192}
BASE=$((SECS / 3 < 10 ? SECS / 3 : 10))

for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "soak.sh: $tool is missing (make deps)" >&2; exit 1; }
done
[ -x "$SLUICE" ] || { echo "soak.sh: no sluice binary at $SLUICE (make, or set SLUICE_BIN)" >&2; exit 1; }

work=$(mktemp -d)
SAMPLER_PID=
BATCHER_PID=
cleanup() {
  for pid in $SAMPLER_PID $BATCHER_PID; do kill "$pid" 2>/dev/null || true; done
  stop_sluice
  rm -rf "$work"
}
trap cleanup EXIT

# Defaults: no SLUICE_* setting at all (the environment's are dropped), only the port and folder.
clean_env=()
while IFS='=' read -r name _; do
  case $name in SLUICE_* | CRON_SECRET | DATABASE_URL) clean_env+=(-u "$name") ;; esac
done < <(env)
start_sluice_flags "$work" "" "${clean_env[@]}" >/dev/null
PID=$SERVER_PID
# start_sluice_flags execs `env`, which execs the server: the PID is the server's own.
grep -q sluice "/proc/$PID/cmdline" || { echo "soak.sh: PID $PID is not the server" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
fds() { find "/proc/$PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }

curl -sf "$URL/api/integration/queue" >/dev/null
fds_idle_before=$(fds)

# One sample a second: elapsed seconds, RSS KiB, descriptors.
(
  t=0
  while kill -0 "$PID" 2>/dev/null; do
    sleep 1
    t=$((t + 1))
    echo "$t $(rss_kib) $(fds)"
  done
) >"$work/samples" &
SAMPLER_PID=$!

# Batches meanwhile, through the route the cron calls.
(
  ok=0 busy=0 bad=0
  trap 'echo "$ok $busy $bad" >"$work/batches"; exit 0' TERM
  while :; do
    code=$(curl -s --max-time 120 -o /dev/null -w '%{http_code}' -X POST "$URL/api/cron/process-integration-jobs?limit=100" || echo 000)
    case $code in 200) ok=$((ok + 1)) ;; 409) busy=$((busy + 1)) ;; *) bad=$((bad + 1)) ;; esac
    echo "$ok $busy $bad" >"$work/batches"
    sleep "$BATCH_EVERY" &
    wait $!
  done
) &
BATCHER_PID=$!

echo "soak: $CONNS connections for ${SECS}s on $URL (server PID $PID)" >&2
wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 10s -s "$(dirname "$0")/soak.lua" "$URL" \
  >"$work/wrk.out" 2>"$work/wrk.err" || { cat "$work/wrk.err" >&2; echo "soak.sh: wrk failed" >&2; exit 1; }
kill "$BATCHER_PID"
wait "$BATCHER_PID" 2>/dev/null || true
BATCHER_PID=
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=

# Idle again: wrk's connections are gone once the server's threads have seen them close.
fds_idle_after=$(fds)
for _ in $(seq 50); do
  [ "$fds_idle_after" -le "$fds_idle_before" ] && break
  sleep 0.1
  fds_idle_after=$(fds)
done
curl -sf "$URL/healthz" >/dev/null || { echo "soak.sh: the server no longer answers" >&2; exit 1; }
queue=$(curl -sf "$URL/api/integration/queue")

result=$(grep '^RESULT' "$work/wrk.out")
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $result"; }
read -r batches_ok batches_busy batches_bad <"$work/batches"
socket_errors=$(($(field connect) + $(field read) + $(field write) + $(field timeout)))
errors=$(($(field non2xx) + socket_errors + batches_bad))

# The sampler may have taken one more sample after wrk stopped: the last one under load is kept.
samples=$(wc -l <"$work/samples")
[ "$samples" -ge "$SECS" ] && samples=$((SECS - 1))
sample() { sed -n "${1}p" "$work/samples"; } # line N: t rss fds
first=$(sample 1)
base=$(sample "$BASE")
mid=$(sample $(((samples + 1) / 2)))
last=$(sample "$samples")
rss_of() { awk '{print $2}' <<<"$1"; }
fds_of() { awk '{print $3}' <<<"$1"; }
growth_kib=$(($(rss_of "$last") - $(rss_of "$base")))
growth_pct=$(awk -v g="$growth_kib" -v b="$(rss_of "$base")" 'BEGIN {printf "%.1f", 100 * g / b}')
pending=$(sed -n 's/.*"pending":\([0-9]*\).*/\1/p' <<<"$queue")
completed=$(sed -n 's/.*"completed":\([0-9]*\).*/\1/p' <<<"$queue")

row2() { printf '%-40s %s\n' "$1" "$2"; }
echo
echo "soak: ${SECS}s, $CONNS connections, mixed uploads and reads, a batch every ${BATCH_EVERY}s"
row2 "requests (wrk)" "$(field requests) ($(field rps)/s; p50 $(($(field p50_us) / 1000)) ms, p99 $(($(field p99_us) / 1000)) ms, max $(($(field max_us) / 1000)) ms)"
row2 "non-2xx answers" "$(field non2xx)"
row2 "socket errors (connect/read/write/timeout)" "$socket_errors ($(field connect)/$(field read)/$(field write)/$(field timeout))"
row2 "batches: 200 / 409 (cron ran one) / other" "$batches_ok / $batches_busy / $batches_bad"
row2 "jobs completed / pending at the end" "$completed / $pending"
row2 "RSS first / mid / last (KiB)" "$(rss_of "$first") / $(rss_of "$mid") / $(rss_of "$last") (at ${BASE}s: $(rss_of "$base"))"
row2 "RSS growth from ${BASE}s to the end" "$growth_kib KiB ($growth_pct %)"
row2 "descriptors first / last (under load)" "$(fds_of "$first") / $(fds_of "$last")"
row2 "descriptors idle before / after" "$fds_idle_before / $fds_idle_after"

status=0
if [ "$errors" -ne 0 ]; then
  echo "soak: FAIL: $errors failed requests" >&2
  head -5 "$work/wrk.err" >&2
  status=1
fi
if [ "$growth_kib" -gt "$RSS_KIB" ] && awk -v p="$growth_pct" -v m="$RSS_PCT" 'BEGIN {exit !(p > m)}'; then
  echo "soak: FAIL: RSS grew by $growth_kib KiB ($growth_pct %) from ${BASE}s (limits: $RSS_KIB KiB and $RSS_PCT %)" >&2
  status=1
fi
if [ "$fds_idle_after" -gt "$fds_idle_before" ]; then
  echo "soak: FAIL: $fds_idle_after descriptors open once idle, $fds_idle_before before the load" >&2
  ls -l "/proc/$PID/fd" >&2 || true
  status=1
fi
[ "$status" -eq 0 ] && echo "soak: PASS"
exit "$status"
