#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# The two-cluster sandbox: the seed's scenario in network namespaces.
#
#   client (c0) --- (n0) c1-node (n1) --- (e0) c1-echo   service A: "cluster1"
#                   datapath + agent       VIP 10.96.0.10 / fd00:96::10 on lo
#                        (w0)
#                         |  mTLS HTTP/2 tunnel, 10.2.0.0/24
#                        (w1)
#                       c2-gw (g0) -------- (g1) c2-echo  service B: "cluster2"
#                       gateway agent             10.3.0.2 / fd00:4::2
#
# The VIP is routed through c1-node; over the threshold, new connections
# spill through the tunnel to the gateway, which forwards them to service B.
#
#   scripts/sandbox.sh up     [--name NAME]   build it and start both agents
#   scripts/sandbox.sh down   [--name NAME]   remove all it made, even after a failed up
#   scripts/sandbox.sh status [--name NAME]   namespaces, processes, agents' status
#   scripts/sandbox.sh env    [--name NAME]   shell variables describing it
#
# Environment: MAX_CONNECTIONS (default 20) and RESUME_BELOW (default = max)
# for the service; WORKERS (default 2) for both agents' tunnel.workers
# (empty: none in their configurations, for builds from before it);
# SPILLWAY (default build/spillway). Names start with NAME
# (default "spillway"), so two sandboxes, or a test and the demo, never
# collide. Needs root.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SPILLWAY=${SPILLWAY:-$ROOT/build/spillway}
TCPLOAD=$ROOT/build/tcpload
MAX_CONNECTIONS=${MAX_CONNECTIONS:-20}
RESUME_BELOW=${RESUME_BELOW:-$MAX_CONNECTIONS}
WORKERS=${WORKERS-2}

usage() {
	sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
NAME=spillway
while [ $# -gt 0 ]; do
	case "$1" in
	--name) NAME=$2; shift 2 ;;
	*) usage ;;
	esac
done
case "$NAME" in
*[!a-zA-Z0-9-]* | "") echo "sandbox: --name takes letters, digits and '-'" >&2; exit 2 ;;
esac

STATE=/run/spillway-sandbox/$NAME
# Where a failed 'up' leaves its logs: 'down' removes STATE, not these.
FAILED_LOGS=$ROOT/build/sandbox-logs/$NAME
NS_CLIENT=$NAME-client
NS_C1=$NAME-c1-node
NS_E1=$NAME-c1-echo
NS_C2=$NAME-c2-gw
NS_E2=$NAME-c2-echo
ALL_NS="$NS_CLIENT $NS_C1 $NS_E1 $NS_C2 $NS_E2"
PIN_C1=/sys/fs/bpf/$NAME-c1
PIN_C2=/sys/fs/bpf/$NAME-c2
SOCK_C1=$STATE/c1.sock
SOCK_C2=$STATE/c2.sock
VIP4=10.96.0.10
VIP6=fd00:96::10
SERVICE=echo.default.svc.cluster.local
SERVICE6=echo6.default.svc.cluster.local

say() { echo "sandbox $NAME: $*"; }
die() { echo "sandbox $NAME: $*" >&2; exit 1; }

# Run a process in a namespace in the background; remember its pid.
# nsenter (network namespace only) so agents see the host's /sys/fs/bpf.
spawn() {
	local what=$1 ns=$2
	shift 2
	nsenter --net=/run/netns/"$ns" "$@" >"$STATE/$what.log" 2>&1 &
	echo $! >"$STATE/$what.pid"
}

addrs() {
	local ns=$1 dev=$2 v4=$3 v6=$4
	ip -n "$ns" addr add "$v4" dev "$dev"
	ip -n "$ns" addr add "$v6" dev "$dev" nodad
	ip -n "$ns" link set "$dev" up
}

wait_for() {
	local what=$1
	shift
	for _ in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$what did not come up"
}

# up failed: keep the logs where 'down' does not reach, say the first error
# each agent logged, and remove the rest.
up_failed() {
	local f line
	rm -rf "$FAILED_LOGS"
	mkdir -p "$FAILED_LOGS"
	cp "$STATE"/*.log "$FAILED_LOGS"/ 2>/dev/null || true
	for f in "$FAILED_LOGS"/agent-*.log; do
		[ -e "$f" ] || continue
		line=$(grep -m1 -E '^[^ ]+ error ' "$f" || true)
		[ -n "$line" ] && echo "sandbox $NAME: $(basename "$f" .log): ${line#* error }" >&2
	done
	echo "sandbox $NAME: up failed; logs kept in $FAILED_LOGS; removing what it made" >&2
	down >/dev/null 2>&1
}

network() {
	for ns in $ALL_NS; do
		ip netns add "$ns"
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_CLIENT" link add c0 type veth peer name n0 netns "$NS_C1"
	ip -n "$NS_C1" link add n1 type veth peer name e0 netns "$NS_E1"
	ip -n "$NS_C1" link add w0 type veth peer name w1 netns "$NS_C2"
	ip -n "$NS_C2" link add g0 type veth peer name g1 netns "$NS_E2"

	addrs "$NS_CLIENT" c0 10.0.0.2/24 fd00:1::2/64
	ip -n "$NS_CLIENT" route add default via 10.0.0.1
	ip -n "$NS_CLIENT" -6 route add default via fd00:1::1

	addrs "$NS_C1" n0 10.0.0.1/24 fd00:1::1/64
	addrs "$NS_C1" n1 10.1.0.1/24 fd00:2::1/64
	addrs "$NS_C1" w0 10.2.0.1/24 fd00:3::1/64
	ip -n "$NS_C1" route add $VIP4/32 via 10.1.0.2
	ip -n "$NS_C1" -6 route add $VIP6/128 via fd00:2::2
	ip netns exec "$NS_C1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

	addrs "$NS_E1" e0 10.1.0.2/24 fd00:2::2/64
	ip -n "$NS_E1" addr add $VIP4/32 dev lo
	ip -n "$NS_E1" addr add $VIP6/128 dev lo
	ip -n "$NS_E1" route add default via 10.1.0.1
	ip -n "$NS_E1" -6 route add default via fd00:2::1

	addrs "$NS_C2" w1 10.2.0.2/24 fd00:3::2/64
	addrs "$NS_C2" g0 10.3.0.1/24 fd00:4::1/64

	addrs "$NS_E2" g1 10.3.0.2/24 fd00:4::2/64
	ip -n "$NS_E2" route add default via 10.3.0.1
	ip -n "$NS_E2" -6 route add default via fd00:4::1
}

configs() {
	cat >"$STATE/c1.yaml" <<EOF
cluster: cluster1
interfaces: [n0]
tls:
  dir: $STATE/pki/cluster1
  allow_identities: [spiffe://cluster.local/ns/spillway/sa/spillway]
remotes:
  - name: cluster2
    gateway: 10.2.0.2:15008
services:
  - name: $SERVICE
    vip: $VIP4
    port: 80
    max_connections: $MAX_CONNECTIONS
    resume_below: $RESUME_BELOW
    overflow_to: [cluster2]
  - name: $SERVICE6
    vip: $VIP6
    port: 80
    max_connections: $MAX_CONNECTIONS
    resume_below: $RESUME_BELOW
    overflow_to: [cluster2]
${WORKERS:+tunnel:
  workers: $WORKERS}
metrics:
  listen: 127.0.0.1:15020
datapath:
  collect_interval: 1s
EOF
	cat >"$STATE/c2.yaml" <<EOF
cluster: cluster2
tls:
  dir: $STATE/pki/cluster2
  allow_identities: [spiffe://cluster.local/ns/spillway/sa/spillway]
tunnel:
  listen: 10.2.0.2:15008
${WORKERS:+  workers: $WORKERS}
exports:
  - name: $SERVICE
    port: 80
    target: 10.3.0.2:80
  - name: $SERVICE6
    port: 80
    target: 10.3.0.2:80
metrics:
  listen: 127.0.0.1:15020
EOF
}

up() {
	[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, BPF)"
	if [ ! -x "$SPILLWAY" ] || [ ! -x "$TCPLOAD" ]; then die "build first: make"; fi
	[ ! -e "$STATE" ] || die "already up (scripts/sandbox.sh down --name $NAME)"
	mkdir -p "$STATE"
	# Whatever happens from here (a failed command, die), 'down' undoes it.
	trap 'rc=$?; trap - EXIT; [ $rc -eq 0 ] || up_failed; exit $rc' EXIT
	network
	scripts/gen-certs.sh "$STATE/pki" cluster1 cluster2 >/dev/null
	configs
	spawn echo1-v4 "$NS_E1" "$TCPLOAD" serve $VIP4:80 127.0.0.1:9 cluster1
	spawn echo1-v6 "$NS_E1" "$TCPLOAD" serve "[$VIP6]:80" "[::1]:9" cluster1
	spawn echo2-v4 "$NS_E2" "$TCPLOAD" serve 10.3.0.2:80 127.0.0.1:9 cluster2
	spawn agent-c2 "$NS_C2" "$SPILLWAY" agent --config "$STATE/c2.yaml" \
		--pin-dir "$PIN_C2" --socket "$SOCK_C2"
	wait_for "the cluster2 gateway" "$SPILLWAY" status --socket "$SOCK_C2"
	spawn agent-c1 "$NS_C1" "$SPILLWAY" agent --config "$STATE/c1.yaml" \
		--pin-dir "$PIN_C1" --socket "$SOCK_C1"
	wait_for "the cluster1 agent" "$SPILLWAY" status --socket "$SOCK_C1"
	wait_for "cluster2 to be healthy from cluster1" \
		sh -c "'$SPILLWAY' status --json --socket '$SOCK_C1' | grep -q '\"healthy\":true'"
	trap - EXIT
	say "up: max_connections $MAX_CONNECTIONS; clients run in namespace $NS_CLIENT," \
		"e.g. ip netns exec $NS_CLIENT nc $VIP4 80"
}

down() {
	local pid
	for f in "$STATE"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null || true
	done
	sleep 0.2
	for f in "$STATE"/*.pid; do
		[ -e "$f" ] || continue
		kill -9 "$(cat "$f")" 2>/dev/null || true
	done
	# The datapath, its pins and policy routes (inside each namespace).
	for pair in "$NS_C1:$PIN_C1:$SOCK_C1" "$NS_C2:$PIN_C2:$SOCK_C2"; do
		IFS=: read -r ns pin sock <<<"$pair"
		if [ -e /run/netns/"$ns" ]; then
			nsenter --net=/run/netns/"$ns" "$SPILLWAY" down --pin-dir "$pin" \
				--socket "$sock" >/dev/null 2>&1 || true
		fi
		rm -rf "$pin"
	done
	for ns in $ALL_NS; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$STATE"
	rmdir /run/spillway-sandbox 2>/dev/null || true
	say "down"
}

status() {
	[ -d "$STATE" ] || { say "not up"; return 1; }
	for f in "$STATE"/*.pid; do
		pid=$(cat "$f")
		if kill -0 "$pid" 2>/dev/null; then s=running; else s=exited; fi
		printf '  %-10s pid %-7s %s\n' "$(basename "$f" .pid)" "$pid" "$s"
	done
	echo
	"$SPILLWAY" status --socket "$SOCK_C1" || true
}

env_vars() {
	cat <<EOF
SANDBOX_NAME=$NAME
SANDBOX_STATE=$STATE
SANDBOX_CLIENT_NS=$NS_CLIENT
SANDBOX_C1_NS=$NS_C1
SANDBOX_C2_NS=$NS_C2
SANDBOX_C1_ECHO_NS=$NS_E1
SANDBOX_C2_ECHO_NS=$NS_E2
SANDBOX_C1_SOCKET=$SOCK_C1
SANDBOX_C2_SOCKET=$SOCK_C2
SANDBOX_C1_PIN_DIR=$PIN_C1
SANDBOX_C2_PIN_DIR=$PIN_C2
SANDBOX_VIP4=$VIP4
SANDBOX_VIP6=$VIP6
SANDBOX_SERVICE=$SERVICE
SANDBOX_SERVICE6=$SERVICE6
EOF
}

case "$cmd" in
up) up ;;
down) down ;;
status) status ;;
env) env_vars ;;
*) usage ;;
esac
