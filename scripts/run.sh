#!/bin/bash
# run.sh start|stop|status -- what `make run` and `make stop` do.
#
# start: a private redis-server (AOF everysec, noeviction, data in var/redis,
# port 6390 or JIESU_REDIS_PORT), then every service from build/bin with its
# log in var/log/<name>.log and its pid in var/run/<name>.pid; then stays in
# the foreground until Ctrl-C (or `make stop` from another terminal), and
# stops everything cleanly: services with SIGTERM in reverse order, Redis last.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${JIESU_BIN:-$ROOT/build/bin}
VAR=${JIESU_VAR:-$ROOT/var}
PORT=${JIESU_REDIS_PORT:-6390}
export JIESU_REDIS_PORT=$PORT
export JIESU_PII_KEY_FILE=${JIESU_PII_KEY_FILE:-$VAR/pii.key}
SERVICES=(bus deadline-timer dispatcher classifier intake) # consumers before producers

say() { printf 'jiesu: %s\n' "$*"; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

redis_cli() { redis-cli -p "$PORT" "$@"; }

start_redis() {
    mkdir -p "$VAR/redis" "$VAR/log" "$VAR/run"
    if alive "$VAR/run/redis.pid"; then say "redis-server already runs (pid $(cat "$VAR/run/redis.pid"))"; return 0; fi
    cat > "$VAR/redis/redis.conf" <<EOF
# written by scripts/run.sh; see deploy/redis.conf for production
port $PORT
bind 127.0.0.1
dir $VAR/redis
appendonly yes
appendfsync everysec
maxmemory-policy noeviction
save ""
daemonize no
logfile $VAR/log/redis.log
EOF
    redis-server "$VAR/redis/redis.conf" &
    echo $! > "$VAR/run/redis.pid"
    for _ in $(seq 1 100); do
        redis_cli ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    say "redis-server did not answer on port $PORT: see $VAR/log/redis.log"
    return 1
}

start() {
    for s in "${SERVICES[@]}"; do
        if alive "$VAR/run/$s.pid"; then say "already running: jiesu-$s (make stop first)"; exit 1; fi
    done
    mkdir -p "$VAR/log" "$VAR/run"
    if [ ! -s "$JIESU_PII_KEY_FILE" ]; then
        (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$JIESU_PII_KEY_FILE"; echo >> "$JIESU_PII_KEY_FILE")
        say "made a new contact-data key in $JIESU_PII_KEY_FILE (keep it: sealed contacts need it)"
    fi
    start_redis || exit 1
    for s in "${SERVICES[@]}"; do
        if [ ! -x "$BIN/jiesu-$s" ]; then say "not built: $BIN/jiesu-$s (skipped)"; continue; fi
        "$BIN/jiesu-$s" >> "$VAR/log/$s.log" 2>&1 &
        echo $! > "$VAR/run/$s.pid"
    done
    sleep 0.5
    for s in "${SERVICES[@]}"; do
        if [ -f "$VAR/run/$s.pid" ] && ! alive "$VAR/run/$s.pid"; then
            say "jiesu-$s exited at start:"; tail -3 "$VAR/log/$s.log"
        fi
    done
    cat <<EOF

jiesu is running.
  redis      127.0.0.1:$PORT (AOF in $VAR/redis)
  intake     tcp://127.0.0.1:7010     bus: publish :7001, subscribe :7002
  logs       $VAR/log/<service>.log (one JSON object per line)
try:
  build/bin/jiesuctl ping
  build/bin/jiesuctl submit --text "小区东门的下水道堵了" --contact 13800000000 --channel web
  build/bin/jiesuctl show ORDER-ID
  build/bin/jiesuctl tail jiesu.order.
stop: Ctrl-C here, or 'make stop' in another terminal.
EOF
}

stop_pid() { # name pidfile
    local pf=$2
    alive "$pf" || { rm -f "$pf"; return 0; }
    local pid; pid=$(cat "$pf")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pf"; return 0; }
        sleep 0.1
    done
    say "$1 did not stop in 10 s: killing it"
    kill -KILL "$pid" 2>/dev/null
    rm -f "$pf"
}

stop() {
    local i
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        stop_pid "jiesu-${SERVICES[$i]}" "$VAR/run/${SERVICES[$i]}.pid"
    done
    if alive "$VAR/run/redis.pid"; then
        redis_cli shutdown >/dev/null 2>&1 || true
        stop_pid redis-server "$VAR/run/redis.pid"
    fi
    say "stopped"
}

status() {
    local any=1
    for s in redis "${SERVICES[@]}"; do
        if alive "$VAR/run/$s.pid"; then echo "$s: running (pid $(cat "$VAR/run/$s.pid"))"; any=0
        else echo "$s: stopped"; fi
    done
    return $any
}

case "${1:-}" in
start)
    start
    trap 'echo; stop; exit 0' INT TERM
    # Stay in the foreground; report a service that dies, keep the rest.
    declare -A reported=()
    while true; do
        for s in "${SERVICES[@]}"; do
            if [ -f "$VAR/run/$s.pid" ] && ! alive "$VAR/run/$s.pid" && [ -z "${reported[$s]:-}" ]; then
                say "jiesu-$s has stopped: see $VAR/log/$s.log"; reported[$s]=1
            fi
        done
        # stopped from elsewhere (make stop): nothing left to watch
        status >/dev/null || { say "everything stopped"; exit 0; }
        sleep 1 & wait $!
    done
    ;;
stop) stop ;;
status) status ;;
*) echo "usage: scripts/run.sh start|stop|status" >&2; exit 2 ;;
esac
