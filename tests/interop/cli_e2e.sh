#!/usr/bin/env bash
# End-to-end test of the executables on loopback: three overlay-node processes, then
# `overlay dht announce --once` and `overlay dht get-peers --json` against them, plus
# the failure paths a script relies on (non-zero exit, one-line reason, JSON error).
# Usage: cli_e2e.sh PATH/TO/overlay-node PATH/TO/overlay
set -euo pipefail

NODE_BIN=$1
OVERLAY_BIN=$2
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for log in "$WORK"/*.log; do
        [ -f "$log" ] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
    done
    exit 1
}

# Starts a node on a kernel-chosen port; sets EP to its endpoint and PID to its pid.
# (Not run in $(...): the subshell would wait for the node and lose PIDS.)
start_node() {
    local name=$1
    shift
    "$NODE_BIN" --listen 127.0.0.1:0 --allow-shared-ip --log-level debug "$@" >/dev/null 2>"$WORK/$name.log" &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 100); do
        EP=$(grep -oE 'listening on udp (and tcp )?[0-9.]*:[0-9]*' "$WORK/$name.log" | awk '{print $NF}' || true)
        [ -n "$EP" ] && return 0
        sleep 0.1
    done
    fail "$name did not start"
}

json_field() { # json_field FILE PYTHON_EXPR  (d is the parsed object)
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

start_node n1 --state-dir "$WORK/state1"
N1=$EP
N1_PID=$PID
start_node n2 --bootstrap "$N1"
N2=$EP
start_node n3 --bootstrap "$N1"
N3=$EP
echo "nodes: $N1 $N2 $N3"

# Wait until both later nodes joined through n1 (each logs its finished bootstrap).
for _ in $(seq 100); do
    if grep -q 'bootstrap lookup done' "$WORK/n2.log" && grep -q 'bootstrap lookup done' "$WORK/n3.log"; then break; fi
    sleep 0.1
done

IH=0123456789abcdef0123456789abcdef01234567
"$OVERLAY_BIN" dht announce "$IH" --port 6881 --once --bootstrap "$N1" --allow-shared-ip --json --timeout 20 \
    >"$WORK/announce.json" 2>"$WORK/announce.log" || fail "announce --once exited non-zero"
[ "$(json_field "$WORK/announce.json" 'd["ok"] and d["stored_at"] >= 1')" = True ] ||
    fail "announce did not store: $(cat "$WORK/announce.json")"

# Look up through another node than the one the announce started from.
"$OVERLAY_BIN" dht get-peers "$IH" --bootstrap "$N2" --allow-shared-ip --json --timeout 20 \
    >"$WORK/get_peers.json" 2>"$WORK/get_peers.log" || fail "get-peers exited non-zero"
[ "$(json_field "$WORK/get_peers.json" '"127.0.0.1:6881" in d["peers"] and d["ok"] and d["nodes_answered"] >= 1')" = True ] ||
    fail "announced peer not found: $(cat "$WORK/get_peers.json")"
echo "get-peers: $(cat "$WORK/get_peers.json")"

# Human output of an info-hash nobody announced: success, and says so.
"$OVERLAY_BIN" dht get-peers ffffffffffffffffffffffffffffffffffffffff --bootstrap "$N3" --timeout 20 \
    >"$WORK/none.txt" 2>/dev/null || fail "get-peers without peers must succeed"
grep -q 'no peers found' "$WORK/none.txt" || fail "no 'no peers found' in: $(cat "$WORK/none.txt")"

"$OVERLAY_BIN" dht ping "$N3" --json >"$WORK/ping.json" || fail "ping of a live node failed"
[ "$(json_field "$WORK/ping.json" 'd["ok"]')" = True ] || fail "ping: $(cat "$WORK/ping.json")"

# A UDP port nobody listens on: bind one, note it, close it.
CLOSED=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if "$OVERLAY_BIN" dht ping "127.0.0.1:$CLOSED" --json >"$WORK/ping_closed.json" 2>"$WORK/ping_closed.err"; then
    fail "ping of a closed port exited 0"
fi
grep -q 'no valid reply' "$WORK/ping_closed.err" || fail "ping of a closed port: unclear reason: $(cat "$WORK/ping_closed.err")"
[ "$(wc -l <"$WORK/ping_closed.err")" -eq 1 ] || fail "ping failure reason is not one line"
[ "$(json_field "$WORK/ping_closed.json" 'd["ok"] is False and len(d["error"]) > 0')" = True ] ||
    fail "ping --json failure object: $(cat "$WORK/ping_closed.json")"

if "$OVERLAY_BIN" dht get-peers nothex --bootstrap "$N1" 2>"$WORK/nothex.err"; then
    fail "get-peers nothex exited 0"
fi
grep -q '40 hex digits' "$WORK/nothex.err" || fail "get-peers nothex: unclear reason: $(cat "$WORK/nothex.err")"

# Clean shutdown on SIGTERM: exit status 0 and the state saved.
kill -TERM "$N1_PID"
status=0
wait "$N1_PID" || status=$?
[ "$status" -eq 0 ] || fail "overlay-node exited $status on SIGTERM"
[ -s "$WORK/state1/node.state" ] || fail "no state file after shutdown"
ID1=$(grep -o 'node id [0-9a-f]*' "$WORK/n1.log" | head -1 | awk '{print $3}')

# Restart reuses the saved id.
start_node n1b --state-dir "$WORK/state1"
N1B=$EP
grep -q "node id $ID1" "$WORK/n1b.log" || fail "restarted node did not reuse id $ID1"
echo "restart on $N1B reused id $ID1"

echo PASS
