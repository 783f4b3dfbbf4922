#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, from Debian's binaries (apt-get install postgresql).
#
#   scripts/pg-test-server.sh run CMD [ARG...]   starts a cluster, runs CMD with
#                                                 SLUICE_TEST_STORE_URL (the C contract suite) and
#                                                 SLUICE_TEST_DATABASE_URL (the pytest suites) set
#                                                 to its URL (in a fresh temporary working
#                                                 directory), stops the cluster, and exits with
#                                                 CMD's status
#   scripts/pg-test-server.sh start               starts a cluster and prints its URL
#   scripts/pg-test-server.sh stop URL            stops the cluster of that URL and removes it
#   scripts/pg-test-server.sh pause URL           stops the cluster of that URL, keeping its data
#   scripts/pg-test-server.sh resume URL          starts a paused cluster again (same URL)
#
# The cluster lives in a temporary folder and listens only on a unix socket there (no port to
# collide with); the URL is postgres://sluice@<socket folder, %-encoded>/postgres, user sluice
# trusted. initdb refuses to run as root, so as root the cluster belongs to the `postgres` user
# that the Debian package creates. Durability is switched off: the cluster is thrown away
# (PG_TEST_DURABLE=1 keeps PostgreSQL's defaults, for benchmarks).
set -euo pipefail

pg_bin() {
  local dir
  for dir in ${PG_BINDIR:-} /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
      echo "$dir"
      return
    fi
  done
  echo "pg-test-server: no initdb found; install the postgresql package" >&2
  exit 1
}

as_owner() { # runs a command as the cluster's owner
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

urlencode_path() { # percent-encodes a folder for the host part of a URL
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  echo "$out"
}

start() {
  local bin dir
  bin=$(pg_bin)
  dir=$(mktemp -d /tmp/sluice-pg.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U sluice --auth=trust --no-locale -E UTF8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  pg_start "$dir"
  echo "postgres://sluice@$(urlencode_path "$dir")/postgres"
}

pg_start() { # starts the server of the cluster in folder $1
  local dir=$1 durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  # benchmarks want a real server's durability (PG_TEST_DURABLE=1): fsync and synchronous commit on
  [ "${PG_TEST_DURABLE:-0}" = 1 ] && durability=""
  as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start -o \
    "-c listen_addresses='' -c unix_socket_directories='$dir' $durability \
     -c max_connections=200" \
    >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
}

dir_of() { # the cluster folder of a URL printed by start (or the folder itself)
  local v=$1
  v=${v#postgres://sluice@}
  v=${v%%/postgres*}
  printf '%b' "${v//%/\\x}"
}

test_dir_of() { # dir_of, refusing anything but a cluster made by start
  local dir
  dir=$(dir_of "$1")
  case $dir in /tmp/sluice-pg.*) ;; *) echo "pg-test-server: not a test cluster: $dir" >&2; exit 2 ;; esac
  echo "$dir"
}

pause() {
  local dir
  dir=$(test_dir_of "$1")
  as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
}

resume() {
  local dir
  dir=$(test_dir_of "$1")
  pg_start "$dir"
}

stop() {
  local dir
  dir=$(test_dir_of "$1")
  [ -d "$dir/data" ] && as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

run() {
  local url work status=0
  url=$(start)
  work=$(mktemp -d)
  trap 'stop "$url"; rm -rf "$work"' EXIT
  (cd "$work" && SLUICE_TEST_STORE_URL=$url SLUICE_TEST_DATABASE_URL=$url "$@") || status=$?
  exit $status
}

case ${1:-} in
  run) shift; [ $# -gt 0 ] || { echo "usage: $0 run CMD [ARG...]" >&2; exit 2; }; run "$@" ;;
  start) start ;;
  stop | pause | resume) [ $# -eq 2 ] || { echo "usage: $0 $1 URL" >&2; exit 2; }; "$1" "$2" ;;
  *) echo "usage: $0 run CMD [ARG...] | start | stop URL | pause URL | resume URL" >&2; exit 2 ;;
esac
