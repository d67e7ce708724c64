/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Defaults shared by the loader, the agent and the documentation. Each can be
 * overridden; the configuration reference, doc/configuration.md, lists them.
 */
#ifndef SPILLWAY_DEFAULTS_H
#define SPILLWAY_DEFAULTS_H

/* Durations below are in seconds; the agent's clocks count nanoseconds. */
#define NS_PER_S 1000000000ull

/* Where the maps, programs and links are pinned. */
#define SW_DEFAULT_PIN_DIR "/sys/fs/bpf/spillway"

/* Flow table capacity: connections tracked at once on one node. */
#define SW_DEFAULT_FLOW_CAPACITY 1048576

/*
 * Port of this node's transparent tunnel endpoint (an IP_TRANSPARENT
 * listener): overflowed connections are assigned to it at TC ingress.
 */
#define SW_DEFAULT_TUNNEL_PORT 15001

/*
 * Packet marks. The steer mark is set on every packet assigned to the tunnel
 * endpoint; a policy route (`ip rule add fwmark MARK lookup TABLE` with
 * `local default dev lo` in TABLE) delivers such packets locally. The bypass
 * mark is set (SO_MARK) on the agent's own outgoing sockets: the datapath
 * never steers or counts packets that carry it. Both are chosen away from
 * the bits kube-proxy (0x4000, 0x8000), Calico (0xffff0000) and Cilium
 * (0x0f00) use.
 */
#define SW_DEFAULT_STEER_MARK 0x00000053
#define SW_DEFAULT_BYPASS_MARK 0x00000057
#define SW_DEFAULT_ROUTE_TABLE 153

/*
 * Preference of the policy routing rule (`ip rule ... pref`): before the
 * main table (32766), after the local table (0).
 */
#define SW_DEFAULT_RULE_PREF 1530

/*
 * Routing protocol number on the rules and routes spillway adds (`proto 83`
 * in `ip rule show`; 83 = 0x53, the steer mark; no routing daemon in
 * iproute2's list uses it): it tells ours from look-alikes, which matters
 * because the kernel deletes the first rule that matches the attributes
 * given. Name it for iproute2 in /etc/iproute2/rt_protos.d/.
 */
#define SW_ROUTE_PROTO 83

/* Flow expiry (the collector, run by the agent). */
#define SW_DEFAULT_HALF_OPEN_TIMEOUT_S 10	/* SYN seen, handshake never finished */
#define SW_DEFAULT_IDLE_TIMEOUT_S 3600		/* established, no packet either way */
#define SW_DEFAULT_CLOSED_LINGER_S 10		/* released; kept for late packets */
#define SW_DEFAULT_COLLECT_INTERVAL_S 5	/* how often the agent collects */

/*
 * The tunnel (HTTP/2 CONNECT over mutual TLS 1.3). The handshake timeout is
 * the gateway's for its clients and each remote's default connect_timeout;
 * the probe interval and fall are each remote's default health.interval and
 * health.failures (health.ejection_time defaults to 0).
 */
#define SW_DEFAULT_GATEWAY_PORT 15008	/* remote gateways listen here */
#define SW_TUNNEL_HANDSHAKE_TIMEOUT_S 10	/* TCP connect + TLS handshake */
#define SW_TUNNEL_CONNECT_TIMEOUT_S 10	/* gateway -> exported target */
#define SW_GATEWAY_HANDSHAKE_TIMEOUT_S 3	/* an accepted TLS handshake */
#define SW_TUNNEL_PROBE_INTERVAL_S 2	/* health: a PING per remote */
#define SW_TUNNEL_PROBE_FALL 2		/* failed probes before unhealthy */
#define SW_TUNNEL_IDLE_TIMEOUT_S 60	/* spare pooled connections close */
#define SW_TUNNEL_POOL_MAX 64		/* connections per remote */
/*
 * On SIGTERM an agent carrying spilled connections drains for at most this
 * long before it exits (agent.drain_timeout). Below Kubernetes' default
 * grace period (30 s) minus the DaemonSet's preStop pause (5 s).
 */
#define SW_DRAIN_TIMEOUT_S 20
/*
 * A service without a vip takes its VIPs from its name: looked up again this
 * often (agent.resolve_interval), so a Service re-created with a new
 * ClusterIP is followed. CoreDNS answers Services with a TTL of 5 s.
 */
#define SW_RESOLVE_INTERVAL_S 10
#define SW_TUNNEL_MAX_HEADER_BYTES 8192	/* a CONNECT request's headers */
/*
 * A gateway's open streams per peer identity, over all its connections
 * (tunnel.max_streams_per_peer): one peer cluster cannot take every
 * target connection. Past it a CONNECT gets 503 and the peer's agent
 * serves that connection in its own cluster.
 */
#define SW_TUNNEL_MAX_STREAMS_PER_PEER 10000
#define SW_TUNNEL_MAX_STREAMS_PER_PEER_MAX 1000000
/*
 * What a gateway may hold, over all its streams, of bytes its peers sent
 * that the targets have not taken yet. Each connection's window bounds its
 * own share (16 MiB); past the budget (tunnel.buffer_budget_mib),
 * connections holding such bytes are not read until it falls back under
 * (their peers see their windows stay shut). Nothing received is ever
 * dropped.
 */
#define SW_TUNNEL_BUFFER_BUDGET_MIB 256
#define SW_TUNNEL_BUFFER_BUDGET_MIB_MAX (1u << 20)
/*
 * The agent's tunnel workers (tunnel.workers): event loops, each on its own
 * thread with its own tunnel connections, sharing the endpoint's and the
 * gateway's ports through SO_REUSEPORT. Not written: one per CPU the agent
 * may run on (sched_getaffinity), at most this many.
 */
#define SW_WORKERS_MAX 64
/*
 * Connects a gateway opens to export targets a second for one peer identity
 * (tunnel.max_connects_per_peer; a burst of as many). A CONNECT past it
 * waits for its turn (within the 10 s connect timeout, then 503): a stream
 * reset meanwhile never reaches its target.
 */
#define SW_TUNNEL_MAX_CONNECTS_PER_PEER 1000
#define SW_TUNNEL_MAX_CONNECTS_PER_PEER_MAX 1000000
/*
 * Envoy's premature-reset rule: once a connection has had this many streams
 * ended by the peer before their target answered, and they are more than
 * half of its streams, it is closed (GOAWAY ENHANCE_YOUR_CALM) and its
 * identity's connect rate halved for each such close (SW_TUNNEL_MAX_STRIKES
 * times at most, and never below 1/s), one halving undone every
 * SW_TUNNEL_STRIKE_DECAY_S.
 */
#define SW_TUNNEL_PREMATURE_RESETS 50
#define SW_TUNNEL_STRIKE_DECAY_S 10
#define SW_TUNNEL_MAX_STRIKES 6		/* the rate falls to 1/64 at most */

/* The agent's control socket (the CLI's --socket). */
#define SW_DEFAULT_SOCKET "/run/spillway/spillway.sock"

/* TC filter identity on clsact, so we only ever touch our own filters. */
#define SW_TC_HANDLE 0x5370
#define SW_TC_PRIORITY 0x5370
/*
 * spill_tc_bridge's, at a bridge above attached ports: one less, so that it
 * runs first where the bridge is attached itself too (lower runs first).
 */
#define SW_TC_BRIDGE_PRIORITY (SW_TC_PRIORITY - 1)

#endif /* SPILLWAY_DEFAULTS_H */
