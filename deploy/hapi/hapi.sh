#!/usr/bin/env bash
# A HAPI FHIR JPA server (R4 on PostgreSQL), jars from Maven Central, as the hospital's FHIR server in push tests and
# the benchmark. /fhir is open; /smart/fhir requires a token the authorization server at HAPI_INTROSPECT_URL issued.
# usage: hapi.sh fetch|start|stop
#   env: HAPI_DB_URL (jdbc:postgresql://host:port/db, a database of its own: HAPI creates its schema there),
#        HAPI_DB_USER, HAPI_PORT, HAPI_INTROSPECT_URL, HAPI_JAVA_OPTS, HAPI_START_TIMEOUT (s), STATE_DIR,
#        PEERBRIDGE_CACHE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../local/lib.sh
source "$here/../local/lib.sh"
CACHE=${PEERBRIDGE_CACHE:-$HOME/.cache/peerbridge}
HAPI_VERSION=8.8.0
SRC=$here/src/PeerBridgeHapiServer.java
# Keyed by the POM and the source: worktrees with another POM or server share nothing they should not.
LIBS=$CACHE/hapi-jpa-$HAPI_VERSION/libs-$(sha256sum "$here/pom.xml" | cut -c1-12)
CLASSES=$CACHE/hapi-jpa-$HAPI_VERSION/classes-$(cat "$here/pom.xml" "$SRC" | sha256sum | cut -c1-12)
STATE_DIR=${STATE_DIR:-$here/../../.local/stack}
HAPI_PORT=${HAPI_PORT:-8090}
# Serial GC and C1 only: on two shared cores the start (Spring, Hibernate, HAPI's search parameter registry) is what a
# test session waits for; the benchmark passes its own options for full JIT.
HAPI_JAVA_OPTS=${HAPI_JAVA_OPTS:--Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
HAPI_START_TIMEOUT=${HAPI_START_TIMEOUT:-600}
dir=$STATE_DIR/hapi
pidfile=$dir/hapi.pid
log=$dir/hapi.log

fetch() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/hapi-jpa.lock"
  flock 9   # two test sessions on one machine share the cache
  if [ ! -f "$LIBS/.complete" ]; then
    rm -rf "$LIBS" && mkdir -p "$LIBS"
    echo "resolving HAPI FHIR JPA $HAPI_VERSION jars with Maven into $LIBS" >&2
    mvn -q -B -f "$here/pom.xml" -Dhapi.version=$HAPI_VERSION \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2
    touch "$LIBS/.complete"
  fi
  if [ ! -f "$CLASSES/.complete" ]; then
    rm -rf "$CLASSES" && mkdir -p "$CLASSES"
    javac -nowarn -d "$CLASSES" -cp "$LIBS/*" "$SRC" >&2
    touch "$CLASSES/.complete"
  fi
  exec 9>&-
}

start() {
  : "${HAPI_DB_URL:?HAPI_DB_URL (jdbc:postgresql://host:port/database) is required}"
  fetch
  mkdir -p "$dir"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "hapi already running" >&2; return 0; fi
  # shellcheck disable=SC2086
  HAPI_PORT=$HAPI_PORT nohup java $HAPI_JAVA_OPTS -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -Dorg.slf4j.simpleLogger.log.org.hibernate.engine.jdbc.spi.SqlExceptionHelper=error \
    -cp "$CLASSES:$LIBS/*" PeerBridgeHapiServer >"$log" 2>&1 &
  echo $! > "$pidfile"
  local started=$SECONDS
  # Ready once the CapabilityStatement is served and lists the resources we push: HAPI can answer /metadata while
  # resource providers are still being registered (a write then fails with "Resource ServiceRequest is not supported").
  while [ $((SECONDS - started)) -lt "$HAPI_START_TIMEOUT" ]; do
    local metadata
    metadata=$(curl -sf --max-time 60 -H 'Accept: application/fhir+json' "http://127.0.0.1:$HAPI_PORT/fhir/metadata" \
      || true)
    if [[ $metadata == *'"ServiceRequest"'* ]]; then
      echo "hapi ready on http://127.0.0.1:$HAPI_PORT/fhir in $((SECONDS - started)) s" >&2; return 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "hapi failed to start; the end of $log:" >&2; grep -v '^\s*at ' "$log" | tail -25 >&2; return 1
    fi
    sleep 1
  done
  echo "hapi did not answer /fhir/metadata in ${HAPI_START_TIMEOUT}s; the end of $log:" >&2
  grep -v '^\s*at ' "$log" | tail -25 >&2
  stop
  return 1
}

stop() { stop_pidfile "$pidfile"; }

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 fetch|start|stop" >&2; exit 2 ;;
esac
