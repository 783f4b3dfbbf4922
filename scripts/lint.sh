#!/usr/bin/env bash
# Project rules no compiler checks: banned functions, and only backends include backend headers.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0

banned='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)[[:space:]]*\('
if grep -rnE "$banned" src tests/unit tests/fuzz; then
  echo "lint: banned function above (use snprintf, memcpy with a length, strtok_r, strtol)" >&2
  status=1
fi

check_include() { # header, allowed path pattern
  local hits
  hits=$(grep -rln "#include <$1>" src | grep -vE "$2" || true)
  if [ -n "$hits" ]; then
    echo "lint: <$1> included outside its backend: $hits" >&2
    status=1
  fi
}
check_include sqlite3.h '^src/store/sqlite'
check_include libpq-fe.h '^src/store/postgres'
check_include curl/curl.h '^src/(blob/s3|cli/|http/client)'
check_include microhttpd.h '^src/http/'
exit $status
