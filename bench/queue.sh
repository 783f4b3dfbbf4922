#!/usr/bin/env bash
# Queue cycle: enqueue then drain BENCH_QUEUE_JOBS (10,000) no-op jobs through sluice's store and
# batch runner (build/bench/queue sluice: one insert transaction per job, batches of 100, a
# processor that does nothing), beside the bare SQLite floor (build/bench/queue floor: insert,
# claim with UPDATE ... RETURNING, delete, one transaction each) on a file with the same
# durability (WAL, synchronous=FULL), in the same folder. Then the same on PostgreSQL: sluice's
# PostgreSQL store beside the bare PostgreSQL floor (build/bench/queue floor-pg: the same three
# statements, the claim with FOR UPDATE SKIP LOCKED), both on one throwaway local cluster
# (scripts/pg-test-server.sh with PG_TEST_DURABLE=1: fsync and synchronous commit on), a fresh
# schema per run; BENCH_QUEUE_PG=0 skips it. Median of BENCH_RUNS runs, fresh files each run.
# Prints jobs/s for the whole cycle and for each half, and the ratio sluice / floor.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JOBS=${BENCH_QUEUE_JOBS:-10000}
BIN=$ROOT/build/bench/queue
PG=${BENCH_QUEUE_PG:-1}
work=$(mktemp -d)
pg_url=""
trap '[ -n "$pg_url" ] && "$ROOT/scripts/pg-test-server.sh" stop "$pg_url"; rm -rf "$work"' EXIT

# a URL of pg_url with search_path set to a new, empty schema $1
pg_schema() {
  psql -X -q -v ON_ERROR_STOP=1 -d "$pg_url" -c "CREATE SCHEMA $1" >/dev/null
  echo "$pg_url?options=-csearch_path%3D$1"
}

for run in $(seq "$BENCH_RUNS"); do
  order="sluice floor"
  [ $((run % 2)) -eq 0 ] && order="floor sluice"
  for side in $order; do
    echo "queue: run $run/$BENCH_RUNS, $side" >&2
    rm -rf "${work:?}/$side" && mkdir -p "$work/$side"
    "$BIN" "$side" "$work/$side" "$JOBS" >>"$work/res.$side" 2>"$work/$side.log" ||
      { tail -5 "$work/$side.log" >&2; exit 1; }
  done
done

if [ "$PG" = 1 ]; then
  pg_url=$(PG_TEST_DURABLE=1 "$ROOT/scripts/pg-test-server.sh" start)
  for run in $(seq "$BENCH_RUNS"); do
    order="pg pgfloor"
    [ $((run % 2)) -eq 0 ] && order="pgfloor pg"
    for side in $order; do
      echo "queue: run $run/$BENCH_RUNS, $side" >&2
      url=$(pg_schema "q_${side}_$run")
      rm -rf "${work:?}/$side" && mkdir -p "$work/$side"
      if [ "$side" = pg ]; then
        "$BIN" sluice "$work/$side" "$JOBS" "$url" >>"$work/res.$side" 2>"$work/$side.log"
      else
        "$BIN" floor-pg "$url" "$JOBS" >>"$work/res.$side" 2>"$work/$side.log"
      fi || { tail -5 "$work/$side.log" >&2; exit 1; }
    done
  done
fi

rate() { awk -v c="$2" -v n="$JOBS" '{print n / $c}' "$work/res.$1" | median; } # jobs/s of column c

s_all=$(rate sluice 2) s_enq=$(rate sluice 3) s_drn=$(rate sluice 4)
f_all=$(rate floor 2) f_enq=$(rate floor 3) f_drn=$(rate floor 4)
r_all=$(ratio "$s_all" "$f_all")

echo
echo "== queue cycle: $JOBS no-op jobs enqueued then drained, WAL + synchronous=FULL (median of $BENCH_RUNS) =="
printf '%-40s %12s %12s %12s\n' "" "cycle jobs/s" "enqueue/s" "drain/s"
printf '%-40s %12.0f %12.0f %12.0f\n' "sluice store + batch runner" "$s_all" "$s_enq" "$s_drn"
printf '%-40s %12.0f %12.0f %12.0f\n' "bare SQLite floor (insert/claim/delete)" "$f_all" "$f_enq" "$f_drn"
echo "ratio sluice / floor: cycle ${r_all}x (goal >= 0.5x); enqueue $(ratio "$s_enq" "$f_enq")x; drain $(ratio "$s_drn" "$f_drn")x"
summary "queue ${JOBS} no-op" "cycle jobs/s" "$(printf '%.0f' "$s_all")" "$(printf '%.0f' "$f_all")" "bare SQLite floor" "$r_all" ">=" 0.5
summary "queue ${JOBS} no-op" "enqueue jobs/s" "$(printf '%.0f' "$s_enq")" "$(printf '%.0f' "$f_enq")" "bare SQLite floor" "$(ratio "$s_enq" "$f_enq")" "" ""
summary "queue ${JOBS} no-op" "drain jobs/s" "$(printf '%.0f' "$s_drn")" "$(printf '%.0f' "$f_drn")" "bare SQLite floor" "$(ratio "$s_drn" "$f_drn")" "" ""

if [ "$PG" = 1 ]; then
  p_all=$(rate pg 2) p_enq=$(rate pg 3) p_drn=$(rate pg 4)
  g_all=$(rate pgfloor 2) g_enq=$(rate pgfloor 3) g_drn=$(rate pgfloor 4)
  r_pg=$(ratio "$p_all" "$g_all")
  echo
  echo "== queue cycle on PostgreSQL: $JOBS no-op jobs, fsync and synchronous commit on (median of $BENCH_RUNS) =="
  printf '%-40s %12s %12s %12s\n' "" "cycle jobs/s" "enqueue/s" "drain/s"
  printf '%-40s %12.0f %12.0f %12.0f\n' "sluice PostgreSQL store + runner" "$p_all" "$p_enq" "$p_drn"
  printf '%-40s %12.0f %12.0f %12.0f\n' "bare PostgreSQL floor" "$g_all" "$g_enq" "$g_drn"
  echo "ratio sluice / floor: cycle ${r_pg}x (goal >= 0.5x); enqueue $(ratio "$p_enq" "$g_enq")x; drain $(ratio "$p_drn" "$g_drn")x"
  summary "queue ${JOBS} no-op PG" "cycle jobs/s" "$(printf '%.0f' "$p_all")" "$(printf '%.0f' "$g_all")" "bare PostgreSQL floor" "$r_pg" ">=" 0.5
fi
summary_flush
