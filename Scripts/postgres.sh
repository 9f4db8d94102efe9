#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for Parley's tests, on 127.0.0.1, run as a non-root user.
#
#   eval "$(bash Scripts/postgres.sh start)"    # installs Debian's postgresql if missing, starts
#   bash Scripts/postgres.sh stop
#
# `start` prints the environment the tests read: PARLEY_POSTGRES_URL, and PARLEY_PG_BIN,
# PARLEY_PG_DATA, PARLEY_PG_USER for the test that stops the server with -m immediate.
set -euo pipefail
command=${1:-start}
dir=${PARLEY_PG_DIR:-/tmp/parley-postgres}
port=${PARLEY_PG_PORT:-55432}
# A start that fails, wherever it fails (the install, initdb, the server), prints `false` for the
# caller's eval: `eval "$(bash Scripts/postgres.sh start)" && swift test` and CI then stop there,
# where an empty output would have let the tests run with the PostgreSQL suites skipped.
if [ "$command" = start ]; then
  trap 'status=$?; if [ $status -ne 0 ]; then
    echo false
    echo "error: PostgreSQL did not start; the end of its log:" >&2
    tail -n 5 "$dir/server.log" >&2 2>/dev/null || true
  fi' EXIT
fi

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin=$(find_bin || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >&2
  bin=$(find_bin)
fi

if [ "$(id -u)" -eq 0 ]; then
  user=postgres
  id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home "$user"
  as_user() { runuser -u "$user" -- "$@"; }
else
  user=$(id -un)
  as_user() { "$@"; }
fi

case "$command" in
  start)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_user "$bin/pg_ctl" -D "$dir/data" stop -m fast >&2 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    chown "$user" "$dir" 2>/dev/null || true
    as_user "$bin/initdb" -D "$dir/data" -A trust -U parley --no-instructions >"$dir/initdb.log" 2>&1
    options="-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200"
    as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$options" start >&2
    echo "export PARLEY_POSTGRES_URL='postgres://parley@127.0.0.1:$port/postgres?sslmode=disable'"
    echo "export PARLEY_PG_BIN='$bin' PARLEY_PG_DATA='$dir/data' PARLEY_PG_USER='$user'"
    echo "export PARLEY_PG_OPTIONS='$options' PARLEY_PG_LOG='$dir/server.log'"
    ;;
  stop)
    as_user "$bin/pg_ctl" -D "$dir/data" stop -m fast >&2 || true
    ;;
  *)
    echo "usage: Scripts/postgres.sh start|stop" >&2
    exit 2
    ;;
esac
