#!/usr/bin/env bash
# Apache Kafka in KRaft mode from the official jars on Maven Central: one node, or a cluster of KAFKA_BROKERS nodes
# (each broker and controller), all on loopback.
# usage: kafka.sh fetch|start|stop|status|bootstrap|kill-node NODE|start-node NODE
#   env: KAFKA_BROKERS (1), KAFKA_PORT, KAFKA_CONTROLLER_PORT, STATE_DIR; a cluster's node i listens on
#   KAFKA_PORT + 2(i-1) and KAFKA_CONTROLLER_PORT + 2(i-1) unless KAFKA_PORTS / KAFKA_CONTROLLER_PORTS list them
#   (comma-separated). Three or more brokers: topics get replication factor 3 and min.insync.replicas 2.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
KAFKA_VERSION=4.1.1
CACHE=${PEERBRIDGE_CACHE:-$HOME/.cache/peerbridge}
LIBS=$CACHE/kafka-$KAFKA_VERSION/libs
STATE_DIR=${STATE_DIR:-$here/../../.local/stack}
KAFKA_BROKERS=${KAFKA_BROKERS:-1}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP=${KAFKA_HEAP:--Xms256m -Xmx768m}
if [ "$KAFKA_BROKERS" -ge 3 ]; then RF=3 MIN_ISR=2; else RF=1 MIN_ISR=1; fi

ports=() cports=()
for i in $(seq 1 "$KAFKA_BROKERS"); do
  ports+=("$((KAFKA_PORT + 2 * (i - 1)))"); cports+=("$((KAFKA_CONTROLLER_PORT + 2 * (i - 1)))")
done
[ -n "${KAFKA_PORTS:-}" ] && IFS=, read -r -a ports <<<"$KAFKA_PORTS"
[ -n "${KAFKA_CONTROLLER_PORTS:-}" ] && IFS=, read -r -a cports <<<"$KAFKA_CONTROLLER_PORTS"

# Node 1 keeps the single broker's directory, so a one-node stack is laid out as it always was.
node_dir() { if [ "$1" = 1 ]; then echo "$STATE_DIR/kafka"; else echo "$STATE_DIR/kafka-$1"; fi; }
port_of() { echo "${ports[$(($1 - 1))]}"; }

fetch() {
  [ -f "$LIBS/.complete" ] && return 0
  mkdir -p "$LIBS"
  echo "resolving Kafka $KAFKA_VERSION jars with Maven into $LIBS" >&2
  mvn -q -B -f "$here/kafka-pom.xml" -Dkafka.version=$KAFKA_VERSION \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2
  touch "$LIBS/.complete"
}

run_java() { java $KAFKA_HEAP -Dlog4j2.configurationFile="$here/kafka-log4j2.xml" -Dkafka.logs.dir="$1/logs" -cp "$LIBS/*" "${@:2}"; }

voters() {
  local v="" i
  for i in $(seq 1 "$KAFKA_BROKERS"); do v+="${v:+,}$i@127.0.0.1:${cports[$((i - 1))]}"; done
  echo "$v"
}

bootstrap() {
  local b="" i
  for i in $(seq 1 "$KAFKA_BROKERS"); do b+="${b:+,}127.0.0.1:$(port_of "$i")"; done
  echo "$b"
}

# Lay out node $1's directory and properties; format its storage once, with the cluster's one id.
prepare() {
  local n=$1 dir
  dir=$(node_dir "$n")
  mkdir -p "$dir/data" "$dir/logs"
  sed -e "s#@NODE@#$n#g" -e "s#@VOTERS@#$(voters)#g" -e "s#@PORT@#$(port_of "$n")#g" \
    -e "s#@CPORT@#${cports[$((n - 1))]}#g" -e "s#@DATA@#$dir/data#g" -e "s#@RF@#$RF#g" -e "s#@MINISR@#$MIN_ISR#g" \
    "$here/kafka-server.properties" > "$dir/server.properties"
  if [ ! -f "$dir/data/meta.properties" ]; then
    local idfile=$STATE_DIR/kafka-cluster.id
    [ -s "$idfile" ] || run_java "$dir" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1 > "$idfile"
    run_java "$dir" kafka.tools.StorageTool format -t "$(cat "$idfile")" -c "$dir/server.properties" >/dev/null
  fi
}

launch() {
  local n=$1 dir pidfile
  dir=$(node_dir "$n"); pidfile=$dir/kafka.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "kafka node $n already running" >&2; return 0; fi
  nohup java $KAFKA_HEAP -Dlog4j2.configurationFile="$here/kafka-log4j2.xml" -Dkafka.logs.dir="$dir/logs" \
    -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >>"$dir/logs/stdout.log" 2>&1 &
  echo $! > "$pidfile"
}

wait_ready() {
  local n=$1 dir port
  dir=$(node_dir "$n"); port=$(port_of "$n")
  for _ in $(seq 1 240); do
    if port_open "$port"; then echo "kafka node $n ready on 127.0.0.1:$port" >&2; return 0; fi
    kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null || { tail -20 "$dir/logs/stdout.log" >&2; echo "kafka node $n failed to start" >&2; return 1; }
    sleep 0.5
  done
  echo "kafka node $n did not open port $port in 120s" >&2; return 1
}

start() {
  fetch
  mkdir -p "$STATE_DIR"
  local n
  for n in $(seq 1 "$KAFKA_BROKERS"); do prepare "$n"; done
  # All at once: a cluster's controllers need a quorum before any of them serves.
  for n in $(seq 1 "$KAFKA_BROKERS"); do launch "$n"; done
  for n in $(seq 1 "$KAFKA_BROKERS"); do wait_ready "$n"; done
}

start-node() { launch "$1"; wait_ready "$1"; }

# kill -9 one node, as a crash would (the chaos run's broker fault).
kill-node() {
  local pidfile
  pidfile=$(node_dir "$1")/kafka.pid
  [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

# Every node that was started, whatever KAFKA_BROKERS says now.
# All nodes are told at once, so a cluster's nodes shut down side by side rather than each waiting for the last.
stop() {
  local f files=()
  for f in "$STATE_DIR"/kafka/kafka.pid "$STATE_DIR"/kafka-*/kafka.pid; do [ -e "$f" ] && files+=("$f"); done
  for f in "${files[@]}"; do kill "$(cat "$f")" 2>/dev/null || true; done
  for f in "${files[@]}"; do stop_pidfile "$f"; done
  return 0
}

status() {
  local n
  for n in $(seq 1 "$KAFKA_BROKERS"); do
    local pidfile
    pidfile=$(node_dir "$n")/kafka.pid
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && port_open "$(port_of "$n")" || return 1
  done
}

"${1:-status}" "${@:2}"
