#!/usr/bin/env bash
# The whole local stack: Kafka, PostgreSQL, the services and the console.
# usage: stack.sh up|down|run|status|bench
#   KAFKA_BROKERS=3: a three-node KRaft cluster (replication 3, min ISR 2); REPLICAS=2: every service as two processes,
#   replica r listening on its port + 100(r-1) (intake's MLLP too), sharing the database and consumer groups.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
export STATE_DIR=${STATE_DIR:-$root/.local/stack}
PY=$root/.venv/bin/python
# Locally, notify writes every message it would send to its log (the log channel), and escalations go to a demo
# supervisor, so `make run` shows who would have been paged and what they would have read.
export NOTIFY_LOG_WHEN_NO_CONTACT=${NOTIFY_LOG_WHEN_NO_CONTACT:-true}
export NOTIFY_ONCALL=${NOTIFY_ONCALL:-'{"*": "demo-supervisor"}'}
SERVICES=(intake pairing referral billing notify console)
declare -A PORTS=([intake]=${INTAKE_PORT:-8001} [pairing]=${PAIRING_PORT:-8002} [referral]=${REFERRAL_PORT:-8003} [billing]=${BILLING_PORT:-8004} [notify]=${NOTIFY_PORT:-8006} [console]=${CONSOLE_PORT:-8005})
run_dir=$STATE_DIR/run
log_dir=$STATE_DIR/logs
export KAFKA_BROKERS=${KAFKA_BROKERS:-1}
REPLICAS=${REPLICAS:-1}

# Replica 1 keeps the plain names ($s.pid, $s.log), so a one-replica stack is laid out as it always was.
replica_name() { if [ "$2" = 1 ]; then echo "$1"; else echo "$1-$2"; fi; }
replica_port() { echo $(($1 + 100 * ($2 - 1))); }

infra_up() {
  "$here/prereqs.sh"
  if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
    "$here/kafka.sh" start
    KAFKA_BOOTSTRAP_SERVERS=$("$here/kafka.sh" bootstrap)
    export KAFKA_BOOTSTRAP_SERVERS
  fi
  if [ -z "${DATABASE_URL:-}" ]; then
    "$here/postgres.sh" start
    local port=${PG_PORT:-55432}
    psql -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='peerbridge'" | grep -q 1 \
      || psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE peerbridge"
    export DATABASE_URL=postgresql://postgres@127.0.0.1:$port/peerbridge
  fi
}

# Start replica $2 of service $1 (unless running) on its own ports.
start_replica() {
  local s=$1 r=$2 name pidfile port var
  name=$(replica_name "$s" "$r"); pidfile=$run_dir/$name.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then return 0; fi
  var=$(echo "$s" | tr '[:lower:]' '[:upper:]')_PORT
  port=$(replica_port "${PORTS[$s]}" "$r")
  env "$var=$port" INTAKE_MLLP_PORT="$(replica_port "${INTAKE_MLLP_PORT:-2575}" "$r")" \
    nohup "$PY" -m "services.$s" >>"$log_dir/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

wait_replica() {
  local s=$1 r=$2 name url
  name=$(replica_name "$s" "$r")
  url=http://127.0.0.1:$(replica_port "${PORTS[$s]}" "$r")/readyz
  for _ in $(seq 1 240); do
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$run_dir/$name.pid")" 2>/dev/null || break
    sleep 0.25
  done
  echo "$name did not become ready; see $log_dir/$name.log (make down stops what did start)" >&2
  tail -5 "$log_dir/$name.log" >&2
  return 1
}

up() {
  local started=$SECONDS
  infra_up
  mkdir -p "$run_dir" "$log_dir"
  "$root/.venv/bin/peerbridge" migrate >/dev/null
  cd "$root"
  local s r name
  for s in "${SERVICES[@]}"; do
    for r in $(seq 1 "$REPLICAS"); do start_replica "$s" "$r"; done
  done
  for s in "${SERVICES[@]}"; do
    for r in $(seq 1 "$REPLICAS"); do wait_replica "$s" "$r" || return 1; done
  done
  echo "stack up in $((SECONDS - started))s: $KAFKA_BROKERS Kafka node(s) at $KAFKA_BOOTSTRAP_SERVERS, $REPLICAS replica(s) per service"
  [ "$REPLICAS" -gt 1 ] && echo "  replica r of each service listens on its port + 100(r-1) (pairing: 8002, 8102, ...)"
  for s in "${SERVICES[@]}"; do
    if [ "$s" = console ]; then echo "  console: http://127.0.0.1:${PORTS[$s]}/ (sign in; accounts: make run prints them)"
    else echo "  $s: http://127.0.0.1:${PORTS[$s]}/docs"; fi
  done
  echo "  intake MLLP: 127.0.0.1:${INTAKE_MLLP_PORT:-2575}"
  echo "  tokens: .venv/bin/peerbridge token --role admin"
}

down() {
  local f
  # Every replica that was started, whatever REPLICAS says now.
  for f in "$run_dir"/*.pid; do [ -e "$f" ] && stop_pidfile "$f"; done
  "$here/kafka.sh" stop
  "$here/postgres.sh" stop
  echo "stack down"
}

status() {
  local s r name
  for s in "${SERVICES[@]}"; do
    for r in $(seq 1 "$REPLICAS"); do
      name=$(replica_name "$s" "$r")
      if curl -fsS "http://127.0.0.1:$(replica_port "${PORTS[$s]}" "$r")/readyz" >/dev/null 2>&1; then
        echo "$name: ready"; else echo "$name: down"; fi
    done
  done
}

run() {
  trap 'echo; kill $(jobs -p) 2>/dev/null || true; down; exit 0' INT TERM
  up || { down; exit 1; }
  "$root/.venv/bin/peerbridge" demo || { echo "demo data failed to load; see $log_dir" >&2; down; exit 1; }
  "$root/.venv/bin/peerbridge" console demo || { echo "demo accounts failed; see $log_dir" >&2; down; exit 1; }
  echo "running; Ctrl-C stops everything. Lines starting NOTIFY are the texts and emails notify would send."
  tail -n 0 -F "$log_dir"/*.log &
  wait
}

bench() {
  up
  for b in "$root"/bench/*.py; do echo "== $(basename "$b")"; "$PY" "$b"; done
}

"${1:-status}"
