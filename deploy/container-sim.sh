#!/bin/bash
# container-sim.sh [BUILD] -- run the suite the way the image runs it, on a
# machine without a Docker engine (needs root for unshare and setpriv):
#   - the tree `make install PREFIX=/opt/jiesu` makes (what the image copies),
#     working directory share/jiesu (the image's WORKDIR);
#   - each service as PID 1 of its own PID namespace, as user 10001 without
#     privileges, configured only by the JIESU_* variables of the image and of
#     docker-compose.yml (binds tcp://*:PORT, peers by address);
#   - the contact key as a read-only file owned by 10001 (the secret);
#   - then: jiesuctl ping answers, an order is dispatched, and SIGTERM from
#     outside the namespace (what `docker stop` does) stops each with exit 0.
# Prints one line per step; exit 0 when all passed. Ports are free ones.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD=${1:-build}
[ "$(id -u)" = 0 ] || { echo "container-sim: needs root (unshare, setpriv)"; exit 2; }
T=$(mktemp -d /tmp/jiesu-csim.XXXXXX)
chmod 755 "$T"
OPT=$T/opt
SERVICES=(bus deadline-timer dispatcher classifier intake)
declare -A NSPID=()
RPID=
fail=0
say() { printf '%s\n' "$*"; }
bad() { say "FAIL: $*"; fail=1; }

cleanup() {
    local s
    for s in "${!NSPID[@]}"; do kill -KILL "${NSPID[$s]}" 2>/dev/null; done
    [ -n "$RPID" ] && kill -TERM "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
    [ "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

fp() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

make --no-print-directory -s BUILD="$BUILD" install PREFIX="$OPT" > "$T/install.log" 2>&1 ||
    { cat "$T/install.log"; bad "make install"; exit 1; }
say "ok: make install PREFIX=$OPT (the image's /opt/jiesu)"

mkdir -p "$T/secrets" "$T/redis" "$T/log"
(umask 077; head -c32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/secrets/pii_key")
chown 10001:10001 "$T/secrets/pii_key" && chmod 0400 "$T/secrets/pii_key"
chmod 777 "$T/log"

RP=$(fp)
redis-server --port "$RP" --bind 127.0.0.1 --dir "$T/redis" --appendonly yes --save "" \
    --logfile "$T/log/redis.log" &
RPID=$!
for _ in $(seq 100); do redis-cli -p "$RP" ping > /dev/null 2>&1 && break; sleep 0.1; done

P_PUB=$(fp) P_SUB=$(fp) P_IN=$(fp) P_CL=$(fp) P_DI=$(fp)
# the image's ENV (binds on every interface) and compose's environment, with
# service names replaced by 127.0.0.1 and ports by free ones
ENVV=(PATH="$OPT/bin:/usr/bin:/bin" HOME=/nonexistent
    ASAN_OPTIONS="detect_leaks=1:halt_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
    JIESU_INTAKE_BIND="tcp://*:$P_IN" JIESU_CLASSIFIER_BIND="tcp://*:$P_CL" JIESU_DISPATCHER_BIND="tcp://*:$P_DI"
    JIESU_BUS_FRONTEND="tcp://*:$P_PUB" JIESU_BUS_BACKEND="tcp://*:$P_SUB"
    JIESU_PII_KEY_FILE="$T/secrets/pii_key"
    JIESU_REDIS_HOST=127.0.0.1 JIESU_REDIS_PORT="$RP"
    JIESU_BUS_PUBLISH="tcp://127.0.0.1:$P_PUB" JIESU_BUS_SUBSCRIBE="tcp://127.0.0.1:$P_SUB"
    JIESU_CLASSIFIER_CONNECT="tcp://127.0.0.1:$P_CL" JIESU_DISPATCHER_CONNECT="tcp://127.0.0.1:$P_DI"
    JIESU_LOG_LEVEL=info JIESU_INTAKE="tcp://127.0.0.1:$P_IN" JIESU_BUS="tcp://127.0.0.1:$P_SUB")

for s in "${SERVICES[@]}"; do
    (cd "$OPT/share/jiesu" && exec env -i "${ENVV[@]}" unshare --pid --fork --mount-proc \
        setpriv --reuid=10001 --regid=10001 --clear-groups --no-new-privs "$OPT/bin/jiesu-$s") \
        > "$T/log/$s.log" 2>&1 &
    NSPID[$s]=$!
done
# the host pid of each service: the child of its unshare
declare -A HPID=()
for s in "${SERVICES[@]}"; do
    for _ in $(seq 50); do
        HPID[$s]=$(pgrep -P "${NSPID[$s]}" | head -1)
        [ -n "${HPID[$s]}" ] && break
        sleep 0.1
    done
    uid=$(awk '/^Uid:/ {print $2}' "/proc/${HPID[$s]}/status" 2>/dev/null)
    nspid=$(awk '/^NSpid:/ {print $NF}' "/proc/${HPID[$s]}/status" 2>/dev/null)
    if [ "$uid" = 10001 ] && [ "$nspid" = 1 ]; then say "ok: jiesu-$s runs as uid 10001, PID 1 of its namespace"
    else bad "jiesu-$s: uid '$uid', pid in namespace '$nspid'"; fi
done

CTL=(env -i "${ENVV[@]}" "$OPT/bin/jiesuctl")
ok=
for _ in $(seq 60); do
    if (cd "$OPT/share/jiesu" && "${CTL[@]}" ping > "$T/ping.json" 2>&1); then ok=1; break; fi
    sleep 0.5
done
if [ "$ok" ]; then say "ok: jiesuctl ping: $(cut -c1-120 "$T/ping.json")..."; else bad "jiesuctl ping: $(cat "$T/ping.json")"; fi

ID=$("${CTL[@]}" submit --text "小区门口的路灯坏了三天了" --contact 13800000000 2>&1 | tail -1)
stage=
for _ in $(seq 60); do
    stage=$("${CTL[@]}" show "$ID" 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["stage"])' 2>/dev/null)
    [ "$stage" = dispatched ] && break
    sleep 0.5
done
if [ "$stage" = dispatched ]; then say "ok: order $ID reached dispatched"; else bad "order '$ID' stage '$stage'"; fi

for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    s=${SERVICES[$i]}
    kill -TERM "${HPID[$s]}"
    wait "${NSPID[$s]}"
    rc=$?
    unset "NSPID[$s]"
    if [ $rc = 0 ]; then say "ok: jiesu-$s (PID 1) exited 0 on SIGTERM from outside"
    else bad "jiesu-$s exited $rc on SIGTERM: $(tail -3 "$T/log/$s.log")"; fi
done
if grep -l "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$T"/log/*.log; then bad "sanitizer report"; fi
[ $fail = 0 ] && say "all steps passed" || { KEEP=1; say "logs kept in $T"; }
exit $fail
