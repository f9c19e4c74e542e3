#!/usr/bin/env bash
# Apache Kafka in KRaft mode, single node, from the official jars on Maven Central.
# usage: kafka.sh fetch|start|stop|status   (env: KAFKA_PORT, KAFKA_CONTROLLER_PORT, STATE_DIR)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
KAFKA_VERSION=4.1.1
CACHE=${PEERBRIDGE_CACHE:-$HOME/.cache/peerbridge}
LIBS=$CACHE/kafka-$KAFKA_VERSION/libs
STATE_DIR=${STATE_DIR:-$here/../../.local/stack}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP=${KAFKA_HEAP:--Xms256m -Xmx768m}
dir=$STATE_DIR/kafka
pidfile=$dir/kafka.pid

fetch() {
  [ -f "$LIBS/.complete" ] && return 0
  mkdir -p "$LIBS"
  echo "resolving Kafka $KAFKA_VERSION jars with Maven into $LIBS" >&2
  mvn -q -B -f "$here/kafka-pom.xml" -Dkafka.version=$KAFKA_VERSION \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2
  touch "$LIBS/.complete"
}

run_java() { java $KAFKA_HEAP -Dlog4j2.configurationFile="$here/kafka-log4j2.xml" -Dkafka.logs.dir="$dir/logs" -cp "$LIBS/*" "$@"; }

start() {
  fetch
  mkdir -p "$dir/data" "$dir/logs"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "kafka already running" >&2; return 0; fi
  sed -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CPORT@#$KAFKA_CONTROLLER_PORT#g" -e "s#@DATA@#$dir/data#g" \
    "$here/kafka-server.properties" > "$dir/server.properties"
  if [ ! -f "$dir/data/meta.properties" ]; then
    cluster_id=$(run_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    run_java kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >/dev/null
  fi
  nohup java $KAFKA_HEAP -Dlog4j2.configurationFile="$here/kafka-log4j2.xml" -Dkafka.logs.dir="$dir/logs" \
    -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >"$dir/logs/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if port_open "$KAFKA_PORT"; then echo "kafka ready on 127.0.0.1:$KAFKA_PORT" >&2; return 0; fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -20 "$dir/logs/stdout.log" >&2; echo "kafka failed to start" >&2; return 1; }
    sleep 0.5
  done
  echo "kafka did not open port $KAFKA_PORT in 60s" >&2; return 1
}

stop() { stop_pidfile "$pidfile"; }

status() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && port_open "$KAFKA_PORT"; }

"${1:-status}"
