#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""make bench, the tunnel part: spillway's tunnel against stunnel4 on the
same path, side by side in one run.

  client -- node -- gw -- target (127.0.0.1 in gw: echo :8080, sink :8082)

spillway: connections to the VIP over the threshold are steered on node to
agent 1, carried over its pooled HTTP/2 mutual-TLS connections to agent 2's
gateway, and on to the target. stunnel4: the client connects to stunnel on
node, which opens one TLS 1.3 mutual-TLS connection per TCP connection to
stunnel on gw, which connects to the target. Same certificates, same hops.

Measured, alternating spillway and stunnel, median of RUNS, spillway with
1 tunnel worker and with 2 (tunnel.workers, both agents restarted between):
  - new connections per second: connect, echo 16 bytes, close; 64 in flight,
    and the CPU time both tunnel ends (node + gw) spent per connection
  - single-stream bulk throughput: 1 GiB one way into the sink, and the CPU
    time both tunnel ends spent on it: on this 2-vCPU machine the client,
    both ends and the sink share the CPUs, so CPU per connection and per GiB
    are the steadier measures of the tunnel's own cost
The gateway's connect rate per peer (tunnel.max_connects_per_peer, 1000/s by
default) is lifted: it would be the bottleneck, not the tunnel.
"""
import signal
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "agent"))
from netns import ROOT, netns, run, wait_until  # noqa: E402
from test_tunnel import TunnelWorld, SVC  # noqa: E402

TCPLOAD = os.path.join(ROOT, "build", "tcpload")
RUNS = 5
WORKERS = (1, 2)
RATE_SECONDS = 5
INFLIGHT = 64
BULK_BYTES = 1 << 30
SINK_SVC = "sink.default.svc.cluster.local"
VIP_SINK = "10.96.0.11"


class BenchWorld(TunnelWorld):
    def up(self):
        super().up()
        n, s, g = self.node, self.svc, self.gw
        # The load generator's host, as load generators are set up: without
        # this, after ~14k connections to one VIP:port its own connect()
        # spends all its time searching ports in TIME_WAIT (seen here).
        run(f"ip netns exec {self.client} sysctl -qw net.ipv4.tcp_tw_reuse=1 "
            f"net.ipv4.ip_local_port_range='1024 65000'")
        # A second service, whose spilled connections go to the sink.
        run(f"ip -n {n} route add {VIP_SINK}/32 via 10.1.0.2")
        run(f"ip -n {s} addr add {VIP_SINK}/32 dev lo")
        self.holder = subprocess.Popen(["ip", "netns", "exec", s, TCPLOAD, "serve",
                                        f"{VIP_SINK}:80", f"{VIP_SINK}:81"],
                                       stdout=subprocess.PIPE, text=True)
        assert self.holder.stdout.readline() == "ready\n", "the sink service did not start"
        # The target: the C echo and sink (the test's Python echo is slower).
        self.target.kill()
        self.target.wait()
        self.target = subprocess.Popen(["ip", "netns", "exec", g, TCPLOAD, "serve",
                                        "127.0.0.1:8080", "127.0.0.1:8082"],
                                       stdout=subprocess.PIPE, text=True)
        assert self.target.stdout.readline() == "ready\n", "the target did not start"
        self.stunnels = []
        return self

    def down(self):
        for p in [getattr(self, "holder", None)] + getattr(self, "stunnels", []):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        super().down()

    def stunnel(self, ns, name, text):
        conf = f"{self.dir}/{name}.conf"
        open(conf, "w").write(text)
        # Its log to a file: a pipe nobody reads would stop it when full.
        log = open(f"{self.dir}/{name}.log", "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns, "stunnel4", conf],
                             stdout=log, stderr=log)
        self.stunnels.append(p)

    def start_stunnel(self):
        # Errors only: spillway does not log each connection either.
        common = "foreground = yes\npid =\ndebug = err\nsslVersionMin = TLSv1.3\n" \
                 "socket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\n" \
                 f"CAfile = {self.certs}/root-cert.pem\nverifyChain = yes\n"
        c1, c2 = f"{self.certs}/cluster1", f"{self.certs}/cluster2"
        self.stunnel(self.node, "stunnel-client", common + f"""
cert = {c1}/cert-chain.pem
key = {c1}/key.pem
[echo]
client = yes
accept = 10.0.0.1:16001
connect = 10.2.0.2:16002
[sink]
client = yes
accept = 10.0.0.1:16003
connect = 10.2.0.2:16004
""")
        self.stunnel(self.gw, "stunnel-server", common + f"""
cert = {c2}/cert-chain.pem
key = {c2}/key.pem
requireCert = yes
[echo]
accept = 10.2.0.2:16002
connect = 127.0.0.1:8080
[sink]
accept = 10.2.0.2:16004
connect = 127.0.0.1:8082
""")
        wait_until("stunnel to listen", lambda: "16001" in run(
            f"ip netns exec {self.node} ss -ltn").stdout and "16004" in run(
            f"ip netns exec {self.gw} ss -ltn").stdout)

    def load(self, *args):
        r = run(["ip", "netns", "exec", self.client, TCPLOAD, *args],
                timeout=RATE_SECONDS + 120)
        return r.stdout


def tunnel_settings(n, gateway=False):
    """The tunnel: section's first lines: n workers; at the gateway, no
    connect rate limit."""
    return f"tunnel:\n  workers: {n}\n" + (
        "  max_connects_per_peer: 1000000\n" if gateway else "")


def config_with_sink(w, workers):
    text = w.node_config(1, extra=tunnel_settings(workers))
    return text.replace("metrics:", f"""  - name: {SINK_SVC}
    vip: {VIP_SINK}
    port: 80
    max_connections: 1
    overflow_to: [cluster2]
metrics:""")


def gw_config_with_sink(w, workers):
    return w.gw_config_text().replace(
        "tunnel:\n", tunnel_settings(workers, gateway=True), 1).replace(
        "metrics:", f"""  - name: {SINK_SVC}
    port: 80
    target: 127.0.0.1:8082
metrics:""")


def cpu_seconds(procs):
    """User + system time so far of the processes (all their threads)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in procs:
        with open(f"/proc/{p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def start_spillway(w, workers):
    """Both agents (again) with `workers` tunnel workers; the flows and
    the held local connections stay in the datapath meanwhile."""
    for agent in (getattr(w, "gw_agent", None), getattr(w, "agent", None)):
        if agent and agent.poll() is None:
            agent.send_signal(signal.SIGKILL)
            agent.wait(timeout=30)
    w.start_gateway(gw_config_with_sink(w, workers))
    w.write_config(config_with_sink(w, workers))
    w.start_agent()
    w.wait_healthy(True)
    for st in (w.status(), w.gw_status()):
        assert st["workers"]["count"] == workers, st["workers"]
    w.workers = workers


def one_run(w, who, ends, paths, results, i):
    echo, sink = paths
    cpu = cpu_seconds(ends)
    out = w.load("rate", echo, str(RATE_SECONDS), str(INFLIGHT))
    m = re.search(r"connections (\d+) failed (\d+) rate (\d+)", out)
    assert m, out
    results["rate"].append(int(m.group(3)))
    results["us"].append((cpu_seconds(ends) - cpu) * 1e6 / max(int(m.group(1)), 1))
    if int(m.group(2)):
        print(f"  ({who}: {m.group(2)} connections failed in run {i + 1})")
    cpu = cpu_seconds(ends)
    out = w.load("bulk", sink, str(BULK_BYTES))
    results["cpu"].append((cpu_seconds(ends) - cpu) / (BULK_BYTES / (1 << 30)))
    m = re.search(r"gbit ([\d.]+)", out)
    assert m, out
    results["gbit"].append(float(m.group(1)))
    print(f"  run {i + 1} {who:11s} {results['rate'][-1]:7d} conn/s "
          f"{results['us'][-1]:6.0f} CPU us/conn {results['gbit'][-1]:6.2f} Gbit/s "
          f"{results['cpu'][-1]:5.2f} CPU s/GiB", flush=True)


def measure(w):
    """For each number of workers, RUNS rounds of spillway then stunnel."""
    who = [f"spillway {n}w" for n in WORKERS] + ["stunnel4"]
    results = {k: {"rate": [], "gbit": [], "cpu": [], "us": []} for k in who}
    stunnel = ("10.0.0.1:16001", "10.0.0.1:16003")
    spillway = ("10.96.0.10:80", f"{VIP_SINK}:80")
    for n in WORKERS:
        if w.workers != n:
            start_spillway(w, n)
        for i in range(RUNS):
            one_run(w, f"spillway {n}w", [w.agent, w.gw_agent], spillway,
                    results[f"spillway {n}w"], i)
            one_run(w, "stunnel4", w.stunnels, stunnel, results["stunnel4"], i)
    return results


def report(r):
    """Medians; each spillway setup as a ratio to stunnel4."""
    med = {k: {m: statistics.median(v[m]) for m in v} for k, v in r.items()}
    st = med["stunnel4"]
    rows = (("new connections/s", "rate", "{:.0f}", ">= 10x"),
            ("new conn., CPU us/conn", "us", "{:.0f}", "lower is better"),
            ("one stream, Gbit/s", "gbit", "{:.2f}", ">= 1x"),
            ("one stream, CPU s/GiB", "cpu", "{:.2f}", "lower is better"))
    spill = [k for k in r if k != "stunnel4"]
    print(f"\n  {'':24s}" + "".join(f" {k:>12s} {'ratio':>6s}" for k in spill)
          + f" {'stunnel4':>10s}  target")
    for title, m, fmt, target in rows:
        print(f"  {title:24s}" + "".join(
            f" {fmt.format(med[k][m]):>12s} {med[k][m] / st[m]:5.2f}x" for k in spill)
            + f" {fmt.format(st[m]):>10s}  {target}")
    print("\n  CPU: both tunnel ends (node + gateway agents, or both stunnels); the"
          "\n  load generator, the target and the tunnel share the machine's 2 CPUs,"
          "\n  so CPU per connection and per GiB are the figures that transfer.")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    w = BenchWorld("bench")
    try:
        w.up()
        start_spillway(w, WORKERS[0])
        # Hold one local connection per service: every new one spills.
        w.dial_any()
        with netns(w.client):
            import socket
            s = socket.create_connection((VIP_SINK, 80), timeout=10)
        w.conns.append(s)
        w.wait_counts(SVC, 1, 0)
        w.wait_counts(SINK_SVC, 1, 0)
        w.start_stunnel()
        print(f"tunnel: new connections/s ({INFLIGHT} in flight, {RATE_SECONDS} s) "
              f"and one stream's throughput ({BULK_BYTES >> 20} MiB), spillway "
              f"with {' and '.join(map(str, WORKERS))} tunnel workers vs stunnel4 "
              f"on the same path, {RUNS} runs each")
        report(measure(w))
        st = [x for x in w.status()["services"] if x["name"] == SVC][0]
        print(f"\n  spilled through the tunnel: {st['overflowed_total']} connections; "
              f"kept local for lack of a remote: {st['overflow_unavailable_total']}")
    finally:
        w.down()


if __name__ == "__main__":
    main()
