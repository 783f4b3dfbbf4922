#!/usr/bin/env bash
# A throwaway S3-compatible server for tests: s3rver from npm (tests/s3), on a free loopback port.
#
#   scripts/s3-test-server.sh run CMD [ARG...]   starts a server, runs CMD with
#                                                 SLUICE_TEST_BLOB_URL and the AWS_* variables set
#                                                 (in a fresh temporary working directory), stops
#                                                 the server, and exits with CMD's status
#   scripts/s3-test-server.sh start               starts a server and prints its environment as
#                                                 `export` lines (eval "$(... start)")
#   scripts/s3-test-server.sh stop DIR            stops the server of SLUICE_S3_TEST_DIR=DIR
#
# The bucket sluice-test exists from the start; data lives in a temporary folder. s3rver knows one
# access key, S3RVER (secret S3RVER), and refuses others, but does not verify SigV4 signatures:
# tests/unit/test_blob_s3_sign.c checks the signing against AWS's published examples instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bucket=sluice-test

ensure_installed() {
  if [ ! -x "$root/tests/s3/node_modules/.bin/s3rver" ]; then
    (cd "$root/tests/s3" && npm install --no-audit --no-fund --loglevel=error >&2)
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local dir port i
  ensure_installed
  dir=$(mktemp -d /tmp/sluice-s3.XXXXXX)
  port=$(free_port)
  mkdir -p "$dir/data"
  "$root/tests/s3/node_modules/.bin/s3rver" --directory "$dir/data" --address 127.0.0.1 \
    --port "$port" --silent --configure-bucket "$bucket" >"$dir/server.log" 2>&1 &
  echo $! >"$dir/pid"
  for ((i = 0; i < 100; i++)); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
      cat <<ENV
export SLUICE_S3_TEST_DIR=$dir
export SLUICE_TEST_BLOB_URL=s3://$bucket/prefix
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=S3RVER
export AWS_SECRET_ACCESS_KEY=S3RVER
ENV
      return
    fi
    sleep 0.1
  done
  echo "s3-test-server: s3rver did not start:" >&2
  cat "$dir/server.log" >&2
  stop "$dir"
  exit 1
}

stop() {
  local dir=$1
  case $dir in /tmp/sluice-s3.*) ;; *) echo "s3-test-server: not a test server: $dir" >&2; exit 2 ;; esac
  if [ -f "$dir/pid" ]; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    wait "$(cat "$dir/pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

run() {
  local env work status=0
  env=$(start)
  eval "$env"
  work=$(mktemp -d)
  trap 'stop "$SLUICE_S3_TEST_DIR"; rm -rf "$work"' EXIT
  (cd "$work" && "$@") || status=$?
  exit $status
}

case ${1:-} in
  run) shift; [ $# -gt 0 ] || { echo "usage: $0 run CMD [ARG...]" >&2; exit 2; }; run "$@" ;;
  start) start ;;
  stop) [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$2" ;;
  *) echo "usage: $0 run CMD [ARG...] | start | stop DIR" >&2; exit 2 ;;
esac
