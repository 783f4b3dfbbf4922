#!/usr/bin/env bash
# Installs the Debian packages that building and testing sluice need, when they are missing.
set -euo pipefail

packages=(
  build-essential make pkg-config clang libclang-rt-14-dev
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev
  libzip-dev libexpat1-dev libfreexl-dev libyajl-dev
  libcmocka-dev libxlsxwriter-dev python3-openpyxl python3-xlwt
  python3 python3-pytest python3-requests
  sqlite3 curl bc time wrk hey valgrind
  chromium nodejs
  postgresql libpq-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The browser tests (tests/ui) need npm: NodeSource's nodejs carries it, Debian's has a package.
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
