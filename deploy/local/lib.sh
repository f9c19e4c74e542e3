# Shell helpers shared by the local stack scripts (sourced, not run).

# True when something listens on 127.0.0.1:$1.
port_open() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

# Stop the process named in pidfile $1: TERM, up to 30 s of grace, then KILL; removes the pidfile.
stop_pidfile() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    # It may exit between the check and the signal: that is not a failure (set -e would abandon the rest of a
    # `down`, leaving later services, brokers and PostgreSQL running).
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}
