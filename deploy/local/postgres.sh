#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster in a data directory of its own, run as an unprivileged user.
# usage: postgres.sh start|stop|status   (env: PG_PORT, STATE_DIR)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
STATE_DIR=${STATE_DIR:-$here/../../.local/stack}
PG_PORT=${PG_PORT:-55432}
dir=$STATE_DIR/postgres
data=$dir/data

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "${PG_OS_USER:-postgres}" -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    id "${PG_OS_USER:-postgres}" >/dev/null 2>&1 || useradd --system --no-create-home "${PG_OS_USER:-postgres}"
    chown "${PG_OS_USER:-postgres}" "$dir"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_owner "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then echo "postgres already running" >&2; return 0; fi
  as_owner "$PGBIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $dir -c max_connections=300 -c fsync=${PG_FSYNC:-on} -c shared_buffers=256MB" >/dev/null
  echo "postgres ready on 127.0.0.1:$PG_PORT" >&2
}

stop() {
  [ -f "$data/postmaster.pid" ] || return 0
  as_owner "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

status() { as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; }

"${1:-status}"
