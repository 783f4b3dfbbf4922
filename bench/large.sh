#!/usr/bin/env bash
# Large upload: one BENCH_LARGE_MB (1024) MiB file sent with curl to `sluice serve` (which
# answers 202 only once the blob is durable), beside `dd if=/dev/zero bs=1M conv=fsync` writing
# the same size into the same folder: the disk's own sequential write rate with a final fsync,
# a floor no upload can beat. Also the server's peak resident memory (VmHWM) after the upload:
# the body streams to disk, so it must stay small whatever the file size. Median of BENCH_RUNS.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MB=${BENCH_LARGE_MB:-1024}
bytes=$((MB * 1048576))
work=$(mktemp -d)
trap 'stop_sluice; rm -rf "$work"' EXIT

# The source: a sparse file, so reading it costs no disk and no page cache (sluice still hashes
# and writes every byte).
truncate -s "$bytes" "$work/big.bin"

upload_once() {
  local dir="$work/srv"
  rm -rf "$dir" && mkdir -p "$dir"
  start_sluice "$dir" SLUICE_MAX_UPLOAD_BYTES=$((bytes + 1048576))
  sync
  local out
  out=$(curl -s -o "$work/resp.json" -w '%{http_code} %{time_total}' \
    -F "files=@$work/big.bin;type=application/octet-stream" "http://127.0.0.1:$PORT/api/integration/upload")
  local rss
  rss=$(peak_rss_kb "$SERVER_PID")
  stop_sluice
  rm -rf "$dir"
  local code secs
  read -r code secs <<<"$out"
  if [ "$code" != 202 ]; then
    echo "large: upload answered $code: $(head -c 300 "$work/resp.json")" >&2
    exit 1
  fi
  echo "$secs $rss" >>"$work/res.sluice"
}

dd_once() {
  mkdir -p "$work/srv"
  sync
  seconds dd if=/dev/zero of="$work/srv/x" bs=1M count="$MB" conv=fsync status=none >>"$work/res.dd"
  rm -rf "$work/srv"
}

for run in $(seq "$BENCH_RUNS"); do
  echo "large: run $run/$BENCH_RUNS (${MB} MiB)" >&2
  if [ $((run % 2)) -eq 1 ]; then upload_once; dd_once; else dd_once; upload_once; fi
done

s_t=$(awk '{print $1}' "$work/res.sluice" | median)
d_t=$(median <"$work/res.dd")
rss_kb=$(awk '{print $2}' "$work/res.sluice" | median)
rss_max=$(awk '{print $2}' "$work/res.sluice" | sort -g | tail -1)
s_mbps=$(echo "$bytes / $s_t / 1000000" | bc -l)
d_mbps=$(echo "$bytes / $d_t / 1000000" | bc -l)
r=$(ratio "$s_mbps" "$d_mbps")
rss_mib=$(echo "$rss_kb / 1024" | bc -l)

echo
echo "== large upload: one ${MB} MiB file, curl over loopback (median of $BENCH_RUNS; MB = 10^6 bytes) =="
printf '%-40s %10s %10s\n' "" "MB/s" "time"
printf '%-40s %10.0f %9.2fs\n' "dd bs=1M conv=fsync, same folder" "$d_mbps" "$d_t"
printf '%-40s %10.0f %9.2fs\n' "sluice upload (202 after fsync)" "$s_mbps" "$s_t"
printf 'ratio sluice / dd = %sx (goal >= 0.8x); server peak RSS %.1f MiB (median; max %.1f MiB; goal < 32 MiB)\n' \
  "$r" "$rss_mib" "$(echo "$rss_max / 1024" | bc -l)"
summary "large ${MB}MiB upload" "MB/s" "$(printf '%.0f' "$s_mbps")" "$(printf '%.0f' "$d_mbps")" "dd conv=fsync" "$r" ">=" 0.8
summary "large ${MB}MiB upload" "server peak RSS MiB" "$(printf '%.1f' "$rss_mib")" "-" "-" "-" "<" 32
summary_flush
