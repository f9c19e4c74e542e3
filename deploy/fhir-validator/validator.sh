#!/usr/bin/env bash
# HL7's FHIR validator (org.hl7.fhir.validation through HAPI FHIR's FhirInstanceValidator, R4 core definitions),
# jars from Maven Central, for the tests: `serve` reads one FHIR JSON resource per line on stdin and answers each
# with one OperationOutcome line on stdout, after printing "ready".
# usage: validator.sh fetch|serve   (env: PEERBRIDGE_CACHE)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${PEERBRIDGE_CACHE:-$HOME/.cache/peerbridge}
HAPI_VERSION=8.8.0
LIBS=$CACHE/fhir-validator-$HAPI_VERSION/libs
CLASSES=$CACHE/fhir-validator-$HAPI_VERSION/classes
SRC=$here/src/PeerBridgeFhirValidator.java

fetch() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/fhir-validator.lock"
  flock 9   # two test sessions on one machine share the cache
  if [ ! -f "$LIBS/.complete" ]; then
    rm -rf "$LIBS" && mkdir -p "$LIBS"
    echo "resolving the FHIR validator's jars (HAPI FHIR $HAPI_VERSION) with Maven into $LIBS" >&2
    mvn -q -B -f "$here/pom.xml" -Dhapi.version=$HAPI_VERSION \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2
    touch "$LIBS/.complete"
  fi
  if [ ! -f "$CLASSES/PeerBridgeFhirValidator.class" ] || [ "$SRC" -nt "$CLASSES/PeerBridgeFhirValidator.class" ]; then
    rm -rf "$CLASSES" && mkdir -p "$CLASSES"
    javac -nowarn -d "$CLASSES" -cp "$LIBS/*" "$SRC" >&2
  fi
  exec 9>&-
}

case "${1:-}" in
  fetch) fetch ;;
  # C1 only (TieredStopAtLevel=1): start-up takes 10 s of CPU instead of 18 s; over a whole test session's resources
  # both come to about 20 s, and the start is what a session waits for.
  serve) fetch; exec java -Xms128m -Xmx1g -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
           -Dorg.slf4j.simpleLogger.defaultLogLevel=error -cp "$CLASSES:$LIBS/*" PeerBridgeFhirValidator ;;
  *) echo "usage: $0 fetch|serve" >&2; exit 2 ;;
esac
