#!/usr/bin/env bash
# A local HAPI FHIR R4 server (HAPI's plain RestfulServer, jars from Maven Central) standing in for a hospital's
# FHIR server in push tests and the benchmark.
# usage: hapi.sh fetch|start|stop   (env: HAPI_PORT, STATE_DIR, PEERBRIDGE_CACHE)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../local/lib.sh
source "$here/../local/lib.sh"
CACHE=${PEERBRIDGE_CACHE:-$HOME/.cache/peerbridge}
HAPI_VERSION=8.8.0
LIBS=$CACHE/hapi-$HAPI_VERSION/libs
# Compiled per source version: worktrees with different versions of the server share the jar cache, not classes.
CLASSES=$CACHE/hapi-$HAPI_VERSION/classes-$(sha256sum "$here/src/PeerBridgeHapiServer.java" | cut -c1-12)
STATE_DIR=${STATE_DIR:-$here/../../.local/stack}
HAPI_PORT=${HAPI_PORT:-8090}
dir=$STATE_DIR/hapi
pidfile=$dir/hapi.pid

fetch() {
  if [ ! -f "$LIBS/.complete" ]; then
    mkdir -p "$LIBS"
    echo "resolving HAPI FHIR $HAPI_VERSION jars with Maven into $LIBS" >&2
    mvn -q -B -f "$here/pom.xml" -Dhapi.version=$HAPI_VERSION \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2
    touch "$LIBS/.complete"
  fi
  if [ ! -f "$CLASSES/PeerBridgeHapiServer.class" ] || [ "$here/src/PeerBridgeHapiServer.java" -nt "$CLASSES/PeerBridgeHapiServer.class" ]; then
    mkdir -p "$CLASSES"
    javac -d "$CLASSES" -cp "$LIBS/*" "$here/src/PeerBridgeHapiServer.java"
  fi
}

start() {
  fetch
  mkdir -p "$dir"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "hapi already running" >&2; return 0; fi
  nohup java -Xms64m -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$CLASSES:$LIBS/*" \
    PeerBridgeHapiServer "$HAPI_PORT" >"$dir/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if curl -sf "http://127.0.0.1:$HAPI_PORT/fhir/metadata" >/dev/null 2>&1; then
      echo "hapi ready on http://127.0.0.1:$HAPI_PORT/fhir" >&2; return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -20 "$dir/stdout.log" >&2; echo "hapi failed to start" >&2; return 1; }
    sleep 0.5
  done
  echo "hapi did not answer in 120s" >&2; return 1
}

stop() { stop_pidfile "$pidfile"; }

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 fetch|start|stop" >&2; exit 2 ;;
esac
