# Shared by the swarm container scripts (sourced, not run).
# BOOTSTRAP: space-separated IP:PORT of the introducers; METRICS_PORT: their metrics port.

log() { echo "[$(date +%T)] $*" >&2; }
die() { log "FAIL: $*"; echo "swarm: FAIL: $*"; exit 1; }

bootstrap_args() {
  local b
  for b in $BOOTSTRAP; do printf -- '--bootstrap\n%s\n' "$b"; done
}

# Default route through this LAN's NAT router (the container needs NET_ADMIN).
route_via_router() {
  : "${ROUTER_IP:?ROUTER_IP not set}"
  ip route replace default via "$ROUTER_IP"
  log "default route via $ROUTER_IP: $(ip -4 route show default)"
}

# Prints 1 when the introducer at IP serves (its metrics say so), else 0.
introducer_serving() {
  local out
  out=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET /metrics HTTP/1.0\r\nHost: $0\r\n\r\n" >&3 && cat <&3' \
        "$1" "${METRICS_PORT:-9464}" 2>/dev/null) || { echo 0; return; }
  grep -q '^overlay_introducer_serving 1' <<<"$out" && echo 1 || echo 0
}

# Waits until every introducer has verified its reachability by dial-back and serves
# (asked over TCP through this container's router, so it also proves the router forwards
# and translates before the first UDP packet of the overlay leaves).
wait_introducers() {
  local deadline=$((SECONDS + ${1:-120})) b ip ready
  while :; do
    ready=0
    for b in $BOOTSTRAP; do
      ip=${b%:*}
      [ "$(introducer_serving "$ip")" = 1 ] && ready=$((ready + 1))
    done
    [ "$ready" -eq "$(wc -w <<<"$BOOTSTRAP")" ] && { log "all $ready introducers serve (verified by dial-back)"; return 0; }
    [ $SECONDS -ge $deadline ] && die "only $ready of $(wc -w <<<"$BOOTSTRAP") introducers serve after ${1:-120}s"
    sleep 1
  done
}
