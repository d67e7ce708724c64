#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# make demo: spillway doing its job, on one machine, in about a minute.
# Installs what is missing (scripts/deps.sh), builds, brings up the
# two-cluster sandbox (scripts/sandbox.sh) with a small threshold, and ramps
# long-lived connections past it and back (scripts/demo_ramp.py), showing
# live who serves them. Ends with a summary and a plot, and tears the
# sandbox down unless KEEP=1.
#
# make demo K8S=1: the same on the simulated Kubernetes node of tests/k8s
# instead (scripts/demo_k8s.py): the clients are a pod, service A's
# ClusterIP is DNATed by kube-proxy's rules to two pods, the spill goes to
# a remote cluster's gateway.
#
# Environment: MAX_CONNECTIONS (default 20), KEEP=1 (leave the sandbox up
# to explore it; with K8S=1, the node stays up until Ctrl-C), OUT (default
# build/demo: the plot and its data), DEMO_NAME (default spillway-demo: the
# sandbox's name, or the start of every name of the simulated node's).
set -euo pipefail

cd "$(dirname "$0")/.."
NAME=${DEMO_NAME:-spillway-demo}
OUT=${OUT:-build/demo}
export MAX_CONNECTIONS=${MAX_CONNECTIONS:-20}

step() { printf '\n== %s\n' "$*"; }

# The ramp, what the agent says and the plot, on the node the SANDBOX_*
# variables describe (scripts/sandbox.sh env, or scripts/demo_k8s.py);
# DEMO_LOCAL and DEMO_REMOTE: who answers in each cluster, if not the
# sandbox's cluster1 and cluster2. Exit status 1 if a connection failed.
ramp_and_plot() {
	local status=0
	step "ramp: connections to $SANDBOX_VIP4:80 from 0 to $((2 * MAX_CONNECTIONS)) and back"
	mkdir -p "$OUT"
	ip netns exec "$SANDBOX_CLIENT_NS" scripts/demo_ramp.py --vip "$SANDBOX_VIP4" \
		--service "$SANDBOX_SERVICE" --socket "$SANDBOX_C1_SOCKET" \
		--local "${DEMO_LOCAL:-cluster1}" --remote "${DEMO_REMOTE:-cluster2}" \
		--spillway build/spillway --data "$OUT/demo.tsv" \
		--phases "$OUT/demo-phases.tsv" || status=$?

	step "what the agent says now"
	build/spillway status --socket "$SANDBOX_C1_SOCKET"
	plot
	return $status
}

# demo.png to look at, and demo.svg: the same plot as text, whose labels can
# be searched (the e2e test does). The phases are labelled across the top.
# The threshold is drawn first, thin and dashed, and the local line last and
# thickest: local stays visible while it sits on the threshold. The churn,
# connections opened and closed per step, is bars against the right axis,
# kept below the lines.
plot() {
	local top=$((2 * MAX_CONNECTIONS + MAX_CONNECTIONS / 2 + 1))
	gnuplot <<EOF
set datafile separator "\t"
set terminal png size 900,500 noenhanced
set output "$OUT/demo.png"
set title "spillway demo: $SANDBOX_SERVICE, max_connections $MAX_CONNECTIONS"
set xlabel "seconds"
set ylabel "active connections"
set y2label "opened / closed per step"
set key below horizontal
set xrange [0:*]
set grid
set yrange [0:$top]
set y2range [0:16]
set ytics nomirror
set y2tics 0,2,4
set style fill solid 0.5 noborder
set boxwidth 0.2
plot "$OUT/demo-phases.tsv" using 2:(0):(0):($top) with vectors nohead dt 3 \
         lc "gray60" notitle, \
     "" using ((\$1+\$2)/2):($top - 1):3 with labels notitle, \
     "$OUT/demo.tsv" using (\$1-0.1):7 axes x1y2 with boxes lc "dark-green" \
         title "opened", \
     "" using (\$1+0.1):8 axes x1y2 with boxes lc "dark-red" title "closed", \
     "" using 1:5 with lines dt 2 lw 1 lc "black" title "max_connections", \
     "" using 1:2 with lines lw 1 lc "gray" title "held by the client", \
     "" using 1:4 with lines lw 2 lc "orange" title "remote (cluster2)", \
     "" using 1:3 with lines lw 4 lc "blue" title "local (cluster1)"
set terminal svg size 900,500 noenhanced
set output "$OUT/demo.svg"
replot
EOF
	echo
	echo "plot: $OUT/demo.png, $OUT/demo.svg (data: $OUT/demo.tsv," \
		"$OUT/demo-phases.tsv)"
}

# scripts/demo_k8s.py runs this with its node up.
if [ "${1:-}" = ramp ]; then
	ramp_and_plot
	exit
fi

[ "$(id -u)" -eq 0 ] || { echo "make demo: run as root (namespaces, BPF)" >&2; exit 1; }
if [ "${K8S:-0}" != 1 ] && [ -e "/run/spillway-sandbox/$NAME" ]; then
	echo "make demo: a demo sandbox is still up (KEEP=1 earlier?);" \
		"remove it with: scripts/sandbox.sh down --name $NAME" >&2
	exit 1
fi

step "dependencies and build"
scripts/deps.sh
tests/preflight.sh
make -s all

if [ "${K8S:-0}" = 1 ]; then
	step "a simulated Kubernetes node, its pods and kube-proxy, a remote cluster"
	exec scripts/demo_k8s.py --name "$NAME" -- scripts/demo.sh ramp
fi

step "two clusters in network namespaces"
if [ "${KEEP:-0}" != 1 ]; then
	trap 'step "teardown"; scripts/sandbox.sh down --name $NAME' EXIT
fi
scripts/sandbox.sh up --name "$NAME"
eval "$(scripts/sandbox.sh env --name "$NAME")"
status=0
ramp_and_plot || status=$?

if [ "${KEEP:-0}" = 1 ]; then
	cat <<EOF

The sandbox is still up. Try:
  build/spillway top --socket $SANDBOX_C1_SOCKET
  ip netns exec $SANDBOX_CLIENT_NS nc $SANDBOX_VIP4 80
  build/spillway service set $SANDBOX_SERVICE --max-connections 5 --socket $SANDBOX_C1_SOCKET
  scripts/sandbox.sh status --name $NAME
and remove it with: scripts/sandbox.sh down --name $NAME
EOF
fi
exit $status
