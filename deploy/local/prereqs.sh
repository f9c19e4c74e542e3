#!/usr/bin/env bash
# Installs the system packages the local stack and the tests need (Java 17 JDK, Maven, PostgreSQL 15, libfaketime,
# Chromium and chromium-driver, Go for building helm) where missing, then the deployment validators (validators.sh).
set -euo pipefail
need=()
# a JDK, not only a JRE: deploy/hapi and deploy/fhir-validator compile their small Java programs with javac
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v faketime >/dev/null || need+=(faketime)
# the console's browser tests: Debian's headless Chromium and its WebDriver (no browser download at test time)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# helm is built from the Go module proxy by validators.sh (helm v3.21 needs Go 1.24 or newer)
command -v go >/dev/null || need+=(golang-go)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing: ${need[*]}; install them (as root: apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
"$(dirname "$0")/validators.sh" fetch
