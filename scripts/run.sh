#!/bin/bash
# run.sh start|stop|status -- what `make run` and `make stop` do.
#
# start: a private redis-server (AOF everysec, noeviction, data in var/redis,
# port 6390 or JIESU_REDIS_PORT), then every service found in build/bin,
# consumers before producers, each with its log in var/log/<name>.log and its
# pid in var/run/<name>.pid; then stays in the foreground until Ctrl-C (or
# `make stop` from another terminal) and stops everything cleanly: services
# with SIGTERM in reverse order (SIGKILL after 10 s), Redis last.
#
# Children run in their own session (setsid), so a Ctrl-C in the terminal
# reaches only this script, which stops them in order: Redis must outlive
# the services that are still storing their in-flight work.
#
# JIESU_VAR (default var/) and JIESU_BIN (default build/bin) move the state
# and the binaries; every other JIESU_* variable reaches the services.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BIN=${JIESU_BIN:-$ROOT/build/bin}
VAR=${JIESU_VAR:-$ROOT/var}
case $VAR in /*) ;; *) VAR=$ROOT/$VAR ;; esac
PORT=${JIESU_REDIS_PORT:-6390}
export JIESU_REDIS_HOST=127.0.0.1 JIESU_REDIS_PORT=$PORT
export JIESU_PII_KEY_FILE=${JIESU_PII_KEY_FILE:-$VAR/pii.key}
# partner hotlines: CURVE key pairs and the two lists (docs/OPERATIONS.md "Partner hotlines")
export JIESU_INTAKE_CURVE_SECRET_FILE=${JIESU_INTAKE_CURVE_SECRET_FILE:-$VAR/keys/intake.key}
export JIESU_INTAKE_PARTNER_KEYS=${JIESU_INTAKE_PARTNER_KEYS:-$VAR/keys/partner-keys.tsv}
export JIESU_PARTNER_CURVE_SECRET_FILE=${JIESU_PARTNER_CURVE_SECRET_FILE:-$VAR/keys/dispatcher.key}
export JIESU_PARTNER_PEERS=${JIESU_PARTNER_PEERS:-$VAR/keys/partner-peers.tsv}
SERVICES=(bus deadline-timer dispatcher classifier intake) # consumers before producers
STOP_WAIT_S=10

say() { printf 'jiesu: %s\n' "$*"; }

# alive NAME: its pid file names a live process that is still that program
# (a stale file whose pid was reused by something else does not count).
# Builtins only: the watcher calls this every second.
alive() {
    local pf=$VAR/run/$1.pid pid= cmd= want=jiesu-$1
    [ "$1" = redis ] && want=redis-server
    [ -f "$pf" ] && read -r pid < "$pf" 2>/dev/null
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    read -r -d '' cmd < "/proc/$pid/cmdline" 2>/dev/null
    [[ $cmd == *"$want"* ]]
}

pid_of() { cat "$VAR/run/$1.pid" 2>/dev/null; }

redis_cli() { redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }

make_key() {
    [ -s "$JIESU_PII_KEY_FILE" ] && return 0
    mkdir -p "$(dirname "$JIESU_PII_KEY_FILE")"
    # 32 random bytes as 64 hex characters, readable by the owner only
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$JIESU_PII_KEY_FILE.tmp" &&
        echo >> "$JIESU_PII_KEY_FILE.tmp" && chmod 600 "$JIESU_PII_KEY_FILE.tmp" &&
        mv "$JIESU_PII_KEY_FILE.tmp" "$JIESU_PII_KEY_FILE") || { say "cannot write $JIESU_PII_KEY_FILE"; return 1; }
    say "made a new contact-data key in $JIESU_PII_KEY_FILE (keep it: sealed contacts need it)"
}

# dev keys for the partner endpoints, made once (never overwritten; never committed: var/ is ignored)
make_curve_keys() {
    local k
    mkdir -p "$VAR/keys" && chmod 700 "$VAR/keys" || return 1
    for k in "$JIESU_INTAKE_CURVE_SECRET_FILE" "$JIESU_PARTNER_CURVE_SECRET_FILE"; do
        [ -s "$k" ] && continue
        [ -x "$BIN/jiesuctl" ] || { say "not built yet: $BIN/jiesuctl (no partner keys made)"; return 0; }
        "$BIN/jiesuctl" keygen --out "${k%.key}" > /dev/null || return 1
        say "made a CURVE key pair for partner hotlines: $k and ${k%.key}.pub"
    done
}

start_redis() {
    cat > "$VAR/redis/redis.conf" <<EOF
# written by scripts/run.sh at each start; deploy/redis.conf is the production one
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
    setsid redis-server "$VAR/redis/redis.conf" < /dev/null >> "$VAR/log/redis.log" 2>&1 &
    echo $! > "$VAR/run/redis.pid"
    local pid=$! i
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "redis-server exited at start (port $PORT taken?): see $VAR/log/redis.log"
            tail -3 "$VAR/log/redis.log"; rm -f "$VAR/run/redis.pid"; return 1
        fi
        # the answer must come from our redis-server, not another one on the port
        if [ "$(redis_cli info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')" = "$pid" ]; then
            return 0
        fi
        sleep 0.1
    done
    say "redis-server did not answer on port $PORT in 10 s: see $VAR/log/redis.log"
    return 1
}

# wait until every started service (except the bus, which has no Redis) has
# a heartbeat key; report the slow ones, keep going
wait_ready() {
    local s i left
    for ((i = 0; i < 150; i++)); do
        left=()
        for s in "${STARTED[@]}"; do
            [ "$s" = bus ] && continue
            alive "$s" || continue
            [ -n "$(redis_cli --scan --pattern "jiesu:hb:$s:*" 2>/dev/null | head -1)" ] || left+=("$s")
        done
        [ ${#left[@]} -eq 0 ] && return 0
        sleep 0.2
    done
    say "not ready after 30 s: ${left[*]} (see their logs)"
}

start() {
    local s
    for s in redis "${SERVICES[@]}"; do
        if alive "$s"; then say "already running: $s (pid $(pid_of "$s")); 'make stop' first"; exit 1; fi
    done
    mkdir -p "$VAR/redis" "$VAR/log" "$VAR/run" || exit 1
    rm -f "$VAR/run/stopping"
    make_key || exit 1
    make_curve_keys || exit 1
    start_redis || { stop; exit 1; }
    STARTED=()
    for s in "${SERVICES[@]}"; do
        rm -f "$VAR/run/$s.pid"
        if [ ! -x "$BIN/jiesu-$s" ]; then say "not built yet: $BIN/jiesu-$s (skipped)"; continue; fi
        setsid "$BIN/jiesu-$s" < /dev/null >> "$VAR/log/$s.log" 2>&1 &
        echo $! > "$VAR/run/$s.pid"
        STARTED+=("$s")
    done
    [ ${#STARTED[@]} -gt 0 ] && wait_ready
    for s in "${STARTED[@]}"; do
        if ! alive "$s"; then say "jiesu-$s exited at start:"; tail -3 "$VAR/log/$s.log"; fi
    done
    cat <<EOF

jiesu is running (redis and ${#STARTED[@]} of ${#SERVICES[@]} services).
  redis      127.0.0.1:$PORT, AOF in $VAR/redis
  intake     ${JIESU_INTAKE_BIND:-tcp://127.0.0.1:7010} (submissions), ${JIESU_INTAKE_PARTNER_BIND-tcp://127.0.0.1:7015} (partner hotlines, CURVE)
  bus        publish ${JIESU_BUS_FRONTEND:-tcp://127.0.0.1:7001}, subscribe ${JIESU_BUS_BACKEND:-tcp://127.0.0.1:7002}
  actions    ${JIESU_DISPATCHER_ACTIONS_BIND:-tcp://127.0.0.1:7020} (units and reviewers: jiesuctl act)
  timer      ${JIESU_TIMER_CONTROL:-tcp://127.0.0.1:7014} (control: jiesuctl calendar reload)
  logs       $VAR/log/<service>.log, one JSON object per line
try:
  build/bin/jiesuctl ping
  build/bin/jiesuctl submit --text "小区东门的下水道堵了，污水漫到路面" --contact 13800000000 --channel web
  build/bin/jiesuctl show ORDER-ID
  build/bin/jiesuctl act ORDER-ID accept --as unit:UNIT-ID     (the unit from show's assignments)
  build/bin/jiesuctl tail jiesu.order.
EOF
    [ "$PORT" != 6390 ] && echo "  (Redis is on $PORT: give jiesuctl --redis.port $PORT or export JIESU_REDIS_PORT=$PORT)"
    echo "stop: Ctrl-C here, or 'make stop' in another terminal."
}

stop_one() { # name
    local pid
    alive "$1" || { rm -f "$VAR/run/$1.pid"; return 0; }
    pid=$(pid_of "$1")
    if [ "$1" = redis ]; then
        redis_cli shutdown > /dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null
    else
        kill -TERM "$pid" 2>/dev/null
    fi
    local i
    for ((i = 0; i < STOP_WAIT_S * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$VAR/run/$1.pid"; return 0; }
        sleep 0.1
    done
    say "$1 did not stop in $STOP_WAIT_S s: killing it"
    kill -KILL "$pid" 2>/dev/null
    rm -f "$VAR/run/$1.pid"
}

stop() {
    local i any=0
    for s in redis "${SERVICES[@]}"; do alive "$s" && any=1; done
    [ -d "$VAR/run" ] && : > "$VAR/run/stopping" # the watcher in `start` reads this: no false alarms
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop_one "${SERVICES[$i]}"; done
    stop_one redis
    if [ $any = 1 ]; then say "stopped"; else say "nothing was running"; fi
}

status() { # exit 0 if anything runs
    local s any=1
    for s in redis "${SERVICES[@]}"; do
        if alive "$s"; then printf '%-15s running (pid %s)\n' "$s" "$(pid_of "$s")"; any=0
        elif [ -f "$VAR/run/$s.pid" ]; then printf '%-15s died (see %s)\n' "$s" "$VAR/log/$s.log"
        else printf '%-15s stopped\n' "$s"; fi
    done
    return $any
}

watch() {
    declare -A reported=()
    local s
    while true; do
        # stopped from elsewhere (make stop): nothing left to watch
        if [ -f "$VAR/run/stopping" ]; then
            while status > /dev/null; do sleep 0.2; done
            say "stopped by 'make stop'"; exit 0
        fi
        for s in redis "${STARTED[@]}"; do
            if [ -z "${reported[$s]:-}" ] && ! alive "$s"; then
                [ -f "$VAR/run/stopping" ] && break
                say "$s has died: see $VAR/log/$s.log (the rest go on; 'make stop' and 'make run' to restart)"
                reported[$s]=1
            fi
        done
        status > /dev/null || { say "everything has stopped"; exit 0; }
        sleep 1 & wait $!
    done
}

case "${1:-}" in
start)
    STARTED=()
    # (a shell started in the background by a non-interactive shell, as in
    # `setsid make run &`, inherits SIGINT ignored and cannot trap it: there
    # SIGTERM or `make stop` is the way)
    trap 'echo; stop; exit 0' INT TERM
    start
    watch
    ;;
stop) stop ;;
status) status ;;
*) echo "usage: scripts/run.sh start|stop|status" >&2; exit 2 ;;
esac
