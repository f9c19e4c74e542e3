#!/bin/sh
# The image's entrypoint: the first argument names a service to run, or a `peerbridge` CLI command.
set -eu
cmd=${1:-help}
case "$cmd" in
  intake|pairing|referral|billing|notify|console)
    shift
    exec python -m "services.$cmd" "$@" ;;
  help|-h|--help)
    echo "usage: <intake|pairing|referral|billing|notify|console> | <peerbridge command: migrate, dead-letters, ...>"
    exit 0 ;;
  *)
    exec peerbridge "$@" ;;
esac
