#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""make bench, the spill part: the two-cluster sandbox (scripts/sandbox.sh)
under wrk, spillway against HAProxy 2.6 doing the same spill job, side by
side in one run.

             n0: spillway's programs
  client ========================== c1-node ---- c1-echo   service A: 10.1.0.2:80
         ==========================    |                   and the VIP 10.96.0.10:80
             n2: no program            w0
                                       |
                                     c2-gw ----- c2-echo   service B: 10.3.0.2:80

  (a) direct: to service A's own address over a second client link (n2)
      that has no BPF program: the floor
  (b) spillway: to the VIP over n0, the threshold far above wrk's
      connections: all local
  (c) spillway: to the VIP, threshold T = half of wrk's connections: about
      half of the connections open at any moment are spilled through the
      tunnel (agent on c1-node -> gateway agent on c2-gw -> service B)
  (d) HAProxy: to HAProxy on c1-node (over n2) in TCP mode,
      `use_backend remote if { be_conn(local) ge T }`, the same T; the
      remote backend is TLS 1.3 with client certificates (the sandbox's
      cluster1 certificate) to a second HAProxy on c2-gw that verifies it
      against the same root and forwards to service B.
  (e) HAProxy again, T lowered until it spills about the share of
      connections (c) does: at the same T it spills far fewer (its own
      work delays connections before they reach the local backend, so
      be_conn(local) seldom reaches T); (e) compares the spill paths.

Both services are `tcpload http` (one response, then close); wrk sends
`Connection: close`, so each request is a new TCP connection and requests/s
is new connections/s. Latency is wrk's: from writing the request to the end
of the response (the client's TCP handshake is not in it). The cases run
one after another, RUNS rounds; the table shows medians. Whether half
really spilled is checked on the counters: spillway's overflowed_total and
HAProxy's per-backend session totals, and the split of open connections
sampled halfway through each run.

  bench_spill.py --cost [--agent-bin PATH]... [--workers N]... [--rounds N]
                       [--perf PREFIX]
      CPU time per spilled connection of the node agent (transparent
      endpoint + tunnel client) and of the gateway agent, for each binary
      given (default build/spillway) with each number of tunnel workers
      given (default 1 and 2), and per relayed connection of HAProxy as
      a plain TCP relay with as many threads (the floor), side by side in
      one run; with --perf, two more rounds, not counted, record each
      (perf record -g, then perf trace -s) into PREFIX-N-END.data and
      PREFIX-N-END.trace, N the setup's index, END node, gateway or
      relay. A build from before tunnel.workers runs as workers=1.
"""
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from netns import SPILLWAY, netns, run, wait_until  # noqa: E402
from test_e2e import Sandbox, TCPLOAD  # noqa: E402

RUNS = 3
SECONDS = 5
CONNECTIONS = 100
THREADS = 2                     # one per CPU of the development VM
HALF = CONNECTIONS // 2         # T for (c) and (d)
# T for (e). On the development VM, HAProxy spilled 4% of its connections
# at T 50, 14% at 20, 25% at 10, 38% at 5; spillway 25-35% at 50.
HAPROXY_LOW_T = 10
ALL_LOCAL = 100000              # T for (b): far above CONNECTIONS
SERVICE_A = "10.1.0.2"          # c1-echo's own address (e0)
SERVICE_B = "10.3.0.2"
BYPASS_CLIENT, BYPASS_NODE = "10.0.1.2", "10.0.1.1"   # the link with no BPF
HAPROXY_TLS_PORT = 15443        # the gateway agent has 15008

CASES = ("a", "b", "c", "d", "e")
TITLES = {
    "a": "(a) direct to service A",
    "b": "(b) spillway, all local",
    "c": f"(c) spillway, T={HALF}",
    "d": f"(d) HAProxy 2.6, T={HALF}",
    "e": f"(e) HAProxy 2.6, T={HAPROXY_LOW_T}",
}
HAPROXY_PORT = {"d": 80, "e": 81}       # a frontend each, on BYPASS_NODE

# --cost: CPU per spilled connection at each end of the tunnel.
COST_RUNS = 5
COST_CONNECTIONS = 32           # in flight; all spill (hold_local_slot)
IDLE_SECONDS = 2                # the idle baseline, measured before each load
TIME_WAITS = 1024               # per namespace (few_time_waits)


def haproxy_config(sock, threads=None):
    """The global and default sections of an HAProxy configuration in TCP
    mode, its stats socket at sock."""
    return (f"global\n    maxconn 4096\n    stats socket {sock} mode 600\n"
            + (f"    nbthread {threads}\n" if threads else "") +
            "defaults\n    mode tcp\n    timeout connect 5s\n"
            "    timeout client 30s\n    timeout server 30s\n")


class SpillBench(Sandbox):
    """The sandbox, with HTTP services, the bypass link and two HAProxies."""

    def up(self, spillway=SPILLWAY, haproxy=True, workers=None):
        super().start(max_conns=ALL_LOCAL, spillway=spillway, workers=workers)
        self.state = self.env["SANDBOX_STATE"]
        self.ns = {k: f"{self.name}-{k}" for k in
                   ("client", "c1-node", "c1-echo", "c2-gw", "c2-echo")}
        self.vip = self.env["SANDBOX_VIP4"]
        self.tune()
        self.bypass_link()
        self.http_services()
        if haproxy:
            self.start_haproxy()
        return self

    def tune(self):
        # The load generator's host, as load generators are set up: without
        # these its connect() runs out of ports in TIME_WAIT after ~14k
        # connections (seen in bench_tunnel.py).
        run(f"ip netns exec {self.ns['client']} sysctl -qw net.ipv4.tcp_tw_reuse=1 "
            f"net.ipv4.ip_local_port_range='1024 65000'")
        # The c1 agent turns TCP early demux off in c1-node (see
        # early_demux_off in user/agent/reconcile.c); (a) and (d) share c1-node and
        # so run with it off as well: the comparison stays like for like.

    def bypass_link(self):
        """A second client link into c1-node, with no spillway program on
        it: the path of (a) and (d)."""
        c, n = self.ns["client"], self.ns["c1-node"]
        for cmd in (f"ip -n {c} link add c1 type veth peer name n2 netns {n}",
                    f"ip -n {c} addr add {BYPASS_CLIENT}/24 dev c1",
                    f"ip -n {c} link set c1 up",
                    f"ip -n {n} addr add {BYPASS_NODE}/24 dev n2",
                    f"ip -n {n} link set n2 up",
                    f"ip -n {c} route add {SERVICE_A}/32 via {BYPASS_NODE}"):
            run(cmd)

    # -- processes: pid files in the sandbox's state dir, so that
    #    `sandbox.sh down` stops them too, whatever happens here ----------
    def spawn(self, what, ns, *argv):
        log = open(f"{self.state}/{what}.log", "w")
        p = subprocess.Popen(["nsenter", f"--net=/run/netns/{self.ns[ns]}", *argv],
                             stdout=log, stderr=log)
        with open(f"{self.state}/{what}.pid", "w") as f:
            f.write(str(p.pid))
        return p

    def stop(self, what):
        """Stop a process sandbox.sh started, and forget it."""
        pidfile = f"{self.state}/{what}.pid"
        pid = int(open(pidfile).read())
        os.kill(pid, signal.SIGTERM)
        wait_until(f"{what} (pid {pid}) to exit",
                   lambda: not os.path.exists(f"/proc/{pid}") or
                   open(f"/proc/{pid}/stat").read().split()[2] == "Z")
        os.remove(pidfile)

    def http_services(self):
        # The sandbox's services are line echo servers on port 80, the only
        # port its configurations steer and export: HTTP servers take their
        # place there. Service A listens on every address of c1-echo, so
        # (a) and (b) reach the same socket, at 10.1.0.2 and at the VIP.
        self.stop("echo1-v4")
        self.stop("echo2-v4")
        self.spawn("http-a", "c1-echo", TCPLOAD, "http", "0.0.0.0:80", "cluster1")
        self.spawn("http-b", "c2-echo", TCPLOAD, "http", f"{SERVICE_B}:80", "cluster2")
        wait_until("service A over HTTP",
                   lambda: self.get("client", SERVICE_A) == "cluster1")
        wait_until("service B over HTTP",
                   lambda: self.get("c2-gw", SERVICE_B) == "cluster2")
        assert self.get("client", self.vip) == "cluster1"

    def start_haproxy(self):
        d = f"{self.state}/haproxy"
        os.makedirs(d)
        pki = f"{self.state}/pki"
        for cluster in ("cluster1", "cluster2"):
            # HAProxy takes certificate chain and key in one file.
            with open(f"{d}/{cluster}.pem", "w") as out:
                for part in ("cert-chain.pem", "key.pem"):
                    out.write(open(f"{pki}/{cluster}/{part}").read())
        self.haproxy_sock = f"{d}/c1.sock"
        frontends = "".join(f"""
frontend spill{port}
    bind {BYPASS_NODE}:{port}
    use_backend remote if {{ be_conn(local) ge {t} }}
    default_backend local
""" for port, t in ((HAPROXY_PORT["d"], HALF), (HAPROXY_PORT["e"], HAPROXY_LOW_T)))
        with open(f"{d}/c1.cfg", "w") as f:
            f.write(haproxy_config(self.haproxy_sock) + frontends + f"""
backend local
    server a {SERVICE_A}:80
backend remote
    server b 10.2.0.2:{HAPROXY_TLS_PORT} ssl ssl-min-ver TLSv1.3 crt {d}/cluster1.pem ca-file {pki}/root-cert.pem verify required verifyhost cluster2
""")
        # The gateway: verifies the client's chain to the common root and,
        # as spillway's gateway checks its allow-list, who the client is.
        with open(f"{d}/c2.cfg", "w") as f:
            f.write(haproxy_config(f"{d}/c2.sock") + f"""
frontend gateway
    bind 10.2.0.2:{HAPROXY_TLS_PORT} ssl ssl-min-ver TLSv1.3 crt {d}/cluster2.pem ca-file {pki}/root-cert.pem verify required
    tcp-request session reject unless {{ ssl_c_s_dn(CN) -m str cluster1 }}
    default_backend service
backend service
    server b {SERVICE_B}:80
""")
        self.spawn("haproxy-c2", "c2-gw", "haproxy", "-db", "-f", f"{d}/c2.cfg")
        self.spawn("haproxy-c1", "c1-node", "haproxy", "-db", "-f", f"{d}/c1.cfg")
        # The remote leg on its own, as c1's HAProxy opens it (mutual TLS).
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.minimum_version = ssl.TLSVersion.TLSv1_3
        tls.load_verify_locations(f"{pki}/root-cert.pem")
        tls.load_cert_chain(f"{pki}/cluster1/cert-chain.pem", f"{pki}/cluster1/key.pem")
        tls.check_hostname = False      # the leaf names cluster2 by URI SAN and CN only
        wait_until("HAProxy's gateway over mutual TLS", lambda: self.get(
            "c1-node", "10.2.0.2", HAPROXY_TLS_PORT, tls) == "cluster2")
        for port in HAPROXY_PORT.values():
            wait_until(f"HAProxy on port {port}",
                       lambda p=port: self.get("client", BYPASS_NODE, p) == "cluster1")

    def start_relay(self, threads, port):
        """HAProxy as a plain TCP relay (no TLS, no HTTP) with `threads`
        threads in c1-node, from the bypass link's port to service A: one
        accepted and one connected TCP connection per client connection,
        each one veth away, as the node agent accepts and the gateway
        connects. Its stats socket's path."""
        what = f"relay-{threads}"
        d = f"{self.state}/{what}"
        os.makedirs(d)
        sock = f"{d}/stats.sock"
        with open(f"{d}/relay.cfg", "w") as f:
            f.write(haproxy_config(sock, threads) + f"""
frontend relay
    bind {BYPASS_NODE}:{port}
    default_backend service
backend service
    server a {SERVICE_A}:80
""")
        self.spawn(what, "c1-node", "haproxy", "-db", "-f", f"{d}/relay.cfg")
        wait_until(f"HAProxy relaying on port {port}",
                   lambda: self.get("client", BYPASS_NODE, port) == "cluster1")
        return sock

    # -- probes ---------------------------------------------------------------
    def get(self, ns, addr, port=80, tls=None):
        """GET / from namespace ns; the response's body, or None."""
        with netns(self.ns[ns]):
            s = socket.socket()
        s.settimeout(5)
        try:
            s.connect((addr, port))
            if tls:
                s = tls.wrap_socket(s)
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            return data.split(b"\r\n\r\n", 1)[-1].decode().strip()
        except OSError:
            return None
        finally:
            s.close()

    def haproxy_stats(self, sock=None):
        """{(proxy, server): row} from c1's HAProxy (`show stat`), or from
        the one whose stats socket is sock."""
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock or self.haproxy_sock)
        s.sendall(b"show stat\n")
        lines = s.makefile().read().splitlines()
        s.close()
        head = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(head, line.split(","))) for line in lines[1:] if line]
        return {(r["pxname"], r["svname"]): r for r in rows}

    def spillway_counts(self):
        """(spilled so far, open local, open remote) by spillway."""
        s = self.service()
        return s["overflowed_total"], s["active_local"], s["active_remote"]

    def haproxy_counts(self):
        """The same by c1's HAProxy: its backends' session counts."""
        st = self.haproxy_stats()
        local, remote = st[("local", "BACKEND")], st[("remote", "BACKEND")]
        return int(remote["stot"]), int(local["scur"]), int(remote["scur"])

    def counts(self, case):
        return self.haproxy_counts() if case in HAPROXY_PORT else self.spillway_counts()

    def drained(self):
        return self.spillway_counts()[1:] == (0, 0) and (
            not hasattr(self, "haproxy_sock") or self.haproxy_counts()[1:] == (0, 0))


# -- wrk ----------------------------------------------------------------------
UNITS = {"us": 1e-3, "ms": 1, "s": 1e3, "m": 60e3}


def parse_wrk(out):
    """wrk --latency's report: requests/s, p50 and p99 in ms, requests,
    and errors (socket errors and non-2xx responses)."""
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        assert m, out
        return float(m.group(1)) * UNITS[m.group(2)]
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    assert rate and total, out
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rate": float(rate.group(1)), "p50": pct(50), "p99": pct(99),
            "requests": int(total.group(1)),
            "errors": errors + (int(non2xx.group(1)) if non2xx else 0)}


def measure(sb, case):
    """One wrk run for a case; its figures, and what the spiller's counters
    say: the share of requests spilled, open connections halfway through."""
    if case in HAPROXY_PORT:
        url = f"{BYPASS_NODE}:{HAPROXY_PORT[case]}"
    else:
        url = {"a": SERVICE_A, "b": sb.vip, "c": sb.vip}[case]
    if case in ("b", "c"):
        sb.cli("service", "set", sb.env["SANDBOX_SERVICE"], "--max-connections",
               str(ALL_LOCAL if case == "b" else HALF))
    # Every connection of the run before has ended: nothing holds a slot.
    try:
        wait_until("the last run's connections to end", sb.drained, timeout=20)
    except AssertionError as e:
        print(f"  ({e}: open local/remote {sb.spillway_counts()[1:]} spillway, "
              f"{sb.haproxy_counts()[1:]} HAProxy)")
    spilled0 = sb.counts(case)[0]
    # --timeout: at wrk's default of 2 s HAProxy's slowest would be dropped
    # from the percentiles as errors.
    wrk = subprocess.Popen(
        ["ip", "netns", "exec", sb.ns["client"], "wrk", f"-t{THREADS}",
         f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "5s", "--latency",
         "-H", "Connection: close", f"http://{url}/"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(SECONDS / 2)
    _, open_local, open_remote = sb.counts(case)
    out, _ = wrk.communicate(timeout=SECONDS + 30)
    r = parse_wrk(out)
    r["spilled"] = (sb.counts(case)[0] - spilled0) / max(r["requests"], 1)
    r["open"] = (open_local, open_remote)
    return r


def fmt_spill(case, runs):
    if case == "a":
        return "-"
    share = statistics.median(r["spilled"] for r in runs)
    local = statistics.median(r["open"][0] for r in runs)
    remote = statistics.median(r["open"][1] for r in runs)
    return f"{share:4.0%}  {local:3.0f} / {remote:3.0f}"


def report(results):
    med = {c: {k: statistics.median(r[k] for r in results[c])
               for k in ("rate", "p50", "p99")} for c in CASES}
    print(f"\n  {'':28s} {'conn/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s}"
          f"  spilled  open local/remote")
    for c in CASES:
        errors = sum(r["errors"] for r in results[c])
        print(f"  {TITLES[c]:28s} {med[c]['rate']:8.0f} {med[c]['p50']:8.2f} "
              f"{med[c]['p99']:8.2f} {errors:7d}  {fmt_spill(c, results[c])}")
    a, b, c, d, e = (med[x] for x in CASES)
    print(f"\n  {'b/a, conn/s':28s} {b['rate'] / a['rate']:6.2f}x   target >= 0.95x")
    print(f"  {'c/d, conn/s':28s} {c['rate'] / d['rate']:6.2f}x   target >= 5x")
    print(f"  {'p99, c vs d':28s} {c['p99']:6.1f} ms vs {d['p99']:.1f} ms   "
          f"target: c lower")
    print(f"  {'p99, b vs a':28s} {b['p99']:6.1f} ms vs {a['p99']:.1f} ms")
    print(f"  {'c/e, conn/s':28s} {c['rate'] / e['rate']:6.2f}x   "
          f"(e: about the share (c) spills)")
    print(f"  {'p99, c vs e':28s} {c['p99']:6.1f} ms vs {e['p99']:.1f} ms")
    print("\n  spilled: spilled connections (spillway overflowed_total, HAProxy's remote"
          "\n  sessions) per request served; open: the split of open connections"
          "\n  halfway through a run (spillway active_local/active_remote, HAProxy"
          "\n  backend scur). Medians; errors summed over the runs.")


# -- --cost: CPU per spilled connection, builds side by side -----------------
def cpu_seconds(pid):
    """CPU time of a process, all its threads, in seconds: the scheduler's
    nanoseconds (utime + stime in /proc/PID/stat count whole 10 ms ticks,
    too coarse for the idle baseline)."""
    return sum(int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
               for t in os.listdir(f"/proc/{pid}/task")) / 1e9


def streams_ended(sb, ns):
    """CONNECT streams ended, every answer, by the agent in namespace ns
    (its /metrics): the spilled connections that end relayed."""
    with netns(sb.ns[ns]):
        s = socket.create_connection(("127.0.0.1", 15020), timeout=5)
    with s:
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        text = s.makefile("rb").read().decode()
    # The tunnel's and the gateway's (not the per-worker series of the same).
    return sum(int(v) for v in re.findall(
        r"^spillway_(?:tunnel|gateway)_streams_total\{.*\} (\d+)$", text, re.M))


def unthrottle(sb):
    """The gateway's connect rate per peer (tunnel.max_connects_per_peer,
    1000/s by default) would be the bench's bottleneck, and its queue
    the latency: lift it. (With it, case (c) spilled 7% of 16,404 conn/s,
    about 1,100/s, and its p99 was 935 ms: connections waiting up to a
    second in the gateway's queue.)"""
    path = f"{sb.state}/c2.yaml"
    text = open(path).read()
    open(path, "w").write(text.replace("tunnel:\n", "tunnel:\n  max_connects_per_peer: 1000000\n", 1))
    os.kill(sb.pid("agent-c2"), signal.SIGHUP)
    wait_until("the gateway to reload", lambda: "reloaded" in sb.log("agent-c2"))


def few_time_waits(sb):
    """At ~5,000 spilled connections/s the node (which closes first) and
    service B would hold ~300,000 TIME_WAIT sockets each, and every TCP
    lookup in the kernel's shared hash walks longer chains: the CPU per
    connection rose round after round, by a third to a half over 5
    rounds, for both builds alike. The bench measures the agents, not
    that: few TIME_WAITs (service A's too: the floor's target)."""
    for ns in ("client", "c1-node", "c1-echo", "c2-gw", "c2-echo"):
        run(f"ip netns exec {sb.ns[ns]} sysctl -qw net.ipv4.tcp_max_tw_buckets={TIME_WAITS}")


def hold_local_slot(sb):
    """Threshold 1 and one idle connection holding the local slot: every
    other connection spills."""
    sb.cli("service", "set", sb.env["SANDBOX_SERVICE"], "--max-connections", "1")
    with netns(sb.ns["client"]):
        s = socket.create_connection((sb.vip, 80), timeout=5)
    sb.conns.append(s)
    wait_until("the held connection to be local", lambda: sb.spillway_counts()[1:] == (1, 0))


class Spilling:
    """A build of spillway in its own sandbox, all of wrk's connections
    spilled (hold_local_slot): the node agent and the gateway agent."""

    def __init__(self, sb, binary, workers):
        self.sb, self.workers, self.title = sb, workers, f"{binary} workers={workers}"
        self.ends = {"node": sb.pid("agent-c1"), "gateway": sb.pid("agent-c2")}
        self.url = f"http://{sb.vip}/"

    def drained(self):
        return self.sb.spillway_counts()[1:] == (1, 0)

    def counters(self):
        """Per end, the CONNECT streams ended: the connections relayed; and
        what the datapath spilled."""
        return {"node": streams_ended(self.sb, "c1-node"),
                "gateway": streams_ended(self.sb, "c2-gw"),
                "spilled": self.sb.spillway_counts()[0]}


class Relaying:
    """The floor: HAProxy as a plain TCP relay (SpillBench.start_relay)
    with as many threads as the agents have workers."""
    PORT = 82

    def __init__(self, sb, threads):
        self.sb, self.workers, self.title = sb, threads, f"HAProxy TCP relay threads={threads}"
        self.sock = sb.start_relay(threads, self.PORT + threads)
        self.ends = {"relay": sb.pid(f"relay-{threads}")}
        self.url = f"http://{BYPASS_NODE}:{self.PORT + threads}/"

    def frontend(self):
        return self.sb.haproxy_stats(self.sock)[("relay", "FRONTEND")]

    def drained(self):
        return self.frontend()["scur"] == "0"

    def counters(self):
        return {"relay": int(self.frontend()["stot"])}


# --perf: each in a round of its own, as perf trace slows every system call
PERF = {"data": ["perf", "record", "-q", "-g"],    # where the CPU goes
        "trace": ["perf", "trace", "-s"]}          # system calls: counts and times


class CostRun:
    """One load through a setup (Spilling, Relaying); the CPU time each of
    its processes spent meanwhile, less what it spends idle over the same
    time, per connection it counted. With perf (PREFIX, a key of PERF),
    each process is recorded into PREFIX-END.KEY."""

    def __init__(self, setup, perf=None):
        ends = setup.ends
        wait_until("the last run's connections to end", setup.drained, timeout=20)
        idle0 = {e: cpu_seconds(p) for e, p in ends.items()}
        time.sleep(IDLE_SECONDS)
        idle = {e: (cpu_seconds(p) - idle0[e]) / IDLE_SECONDS for e, p in ends.items()}
        recorders = [subprocess.Popen(
            PERF[perf[1]] + ["-p", str(p), "-o", f"{perf[0]}-{e}.{perf[1]}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for e, p in ends.items()] if perf else []
        count0 = setup.counters()
        cpu0 = {e: cpu_seconds(p) for e, p in ends.items()}
        t0 = time.monotonic()
        wrk = run(["ip", "netns", "exec", setup.sb.ns["client"], "wrk", f"-t{THREADS}",
                   f"-c{COST_CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "5s", "--latency",
                   "-H", "Connection: close", setup.url], timeout=SECONDS + 30)
        # The last responses are written by the time wrk ends; the relays'
        # teardown is part of the cost: wait for it.
        wait_until("the relayed connections to end", setup.drained, timeout=20)
        wall = time.monotonic() - t0
        cpu = {e: cpu_seconds(p) - cpu0[e] - idle[e] * wall for e, p in ends.items()}
        for r in recorders:
            r.send_signal(signal.SIGINT)
            r.wait(timeout=60)
        self.load = parse_wrk(wrk.stdout)
        self.counted = {k: n - count0[k] for k, n in setup.counters().items()}
        self.us = {e: cpu[e] * 1e6 / max(self.counted[e], 1) for e in cpu}
        self.idle = idle

    def describe(self):
        return (f"{self.load['requests']} requests ({self.load['rate']:.0f}/s, p50 "
                f"{self.load['p50']:.1f} ms, errors {self.load['errors']}), "
                + ", ".join(f"{k} {n}" for k, n in self.counted.items()) + "; "
                + ", ".join(f"{e} {us:.1f} us (idle {self.idle[e] * 1e3:.1f} ms/s)"
                            for e, us in self.us.items()))


def total(r):
    """CPU per connection of a setup's processes together: node and
    gateway, or the one relay."""
    return sum(r.us.values())


def knows_workers(binary):
    """Whether a build reads tunnel.workers: one from before runs one
    event loop, with no tunnel.workers in the sandbox's configurations."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write("cluster: probe\ntunnel:\n  workers: 1\n")
        f.flush()
        return run([binary, "check", "--config", f.name], check=False).returncode == 0


def cost(bins, workers, perf_prefix, rounds):
    """--cost: every setup (a build, a number of workers) in its own
    sandbox, all up at once, and the floor (HAProxy relaying, with as many
    threads) in the first one; in each of the rounds each runs once, so
    that the figures of old and new, of 1 worker and 2, and of the floor
    come from one run under the same load on the machine. With a perf
    prefix, a round more per tool of PERF, not counted, records each
    setup. A build from before tunnel.workers runs as workers=1 only."""
    boxes, setups = [], []
    known = {b: knows_workers(b) for b in bins}
    try:
        for i, (b, n) in enumerate(
                (b, n) for b in bins for n in workers if n == 1 or known[b]):
            boxes.append(SpillBench(f"cost{i}"))
            boxes[-1].up(spillway=b, haproxy=False, workers=n if known[b] else "")
            unthrottle(boxes[-1])
            few_time_waits(boxes[-1])
            hold_local_slot(boxes[-1])
            setups.append(Spilling(boxes[-1], b, n))
        setups += [Relaying(boxes[0], n) for n in workers]
        print(f"spill cost: CPU microseconds per connection, node agent (transparent "
              f"endpoint + tunnel client) and gateway agent per spilled connection, "
              f"HAProxy per relayed one; wrk {COST_CONNECTIONS} connections, {SECONDS} s, "
              f"{rounds} rounds; idle CPU subtracted")
        runs = {s: [] for s in setups}
        tools = list(PERF) if perf_prefix else []
        for i in range(rounds + len(tools)):
            tool = tools[i - rounds] if i >= rounds else None
            for k, s in enumerate(setups):
                r = CostRun(s, tool and (f"{perf_prefix}-{k}", tool))
                if not tool:
                    runs[s].append(r)
                print(f"  {tool or 'run'} {i + 1} {s.title}: {r.describe()}", flush=True)
        cost_table(runs, rounds)
    finally:
        for sb in boxes:
            sb.down()


def cost_table(runs, rounds):
    """Medians per setup; each build against the first, and node and
    gateway together against the floor with as many threads, both also
    paired: the median of the rounds' ratios (the pairs ran side by side,
    under the same load on the machine)."""
    setups = list(runs)
    first = setups[0]
    floor = {s.workers: s for s in setups if isinstance(s, Relaying)}
    figures = {"node": lambda r: r.us["node"], "gateway": lambda r: r.us["gateway"],
               "total": total}
    def med(s, f):
        return statistics.median(figures[f](r) for r in runs[s])
    def paired(s, f, base):
        return statistics.median(figures[f](r) / figures[f](r0)
                                 for r, r0 in zip(runs[s], runs[base]))
    def ratios(s, base, fs):
        return ("".join(f" {med(s, f) / med(base, f):5.0%}" for f in fs) + "  (" +
                "".join(f" {paired(s, f, base):5.0%}" for f in fs) + ")")
    print(f"\n  {'setup':40s} {'node':>7s} {'gateway':>8s} {'total':>7s}"
          f"   {'% of the first: node, gateway (paired)':42s} total / floor (paired)")
    for s in setups:
        spill = isinstance(s, Spilling)
        line = f"  {s.title[-40:]:40s}" + "".join(
            f" {med(s, f):{w}.1f}" if spill else f" {'-':>{w}s}"
            for f, w in (("node", 7), ("gateway", 8))) + f" {med(s, 'total'):7.1f}"
        line += f"   {ratios(s, first, ('node', 'gateway')) if spill and s is not first else '':42s}"
        if spill:
            line += ratios(s, floor[s.workers], ("total",))
        print(line.rstrip())
    print(f"\n  medians of {rounds}; % of the first build's median, and (paired)"
          "\n  the median of the rounds' ratios; total: node and gateway together, or"
          "\n  HAProxy (the floor: one accepted and one connected TCP connection, no"
          "\n  TLS, no HTTP/2), with as many threads as the agents have workers. The"
          "\n  machine's CPUs are shared with wrk and the services (and other work):"
          "\n  CPU per connection, not conn/s, is the figure that transfers.")


def main():
    # Both modes: --cost has HAProxy relay for its floor.
    for tool in ("wrk", "haproxy"):
        if not shutil.which(tool):
            sys.exit(f"bench_spill: {tool} is missing: run scripts/deps.sh")
    if "--cost" in sys.argv[1:]:
        args = sys.argv[1:]
        bins = [args[i + 1] for i, a in enumerate(args) if a == "--agent-bin"] or [SPILLWAY]
        workers = [int(args[i + 1]) for i, a in enumerate(args) if a == "--workers"] or [1, 2]
        perf = args[args.index("--perf") + 1] if "--perf" in args else None
        rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else COST_RUNS
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
        return cost(bins, workers, perf, rounds)
    # On SIGTERM too, the finally below takes the sandbox down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sb = SpillBench("spill")
    try:
        sb.up()
        unthrottle(sb)
        print(f"spill: new connections/s and latency under wrk ({CONNECTIONS} connections, "
              f"{THREADS} threads, {SECONDS} s, HTTP/1.1 'Connection: close'), "
              f"{RUNS} rounds of (a)..(e); the gateway's max_connects_per_peer lifted")
        results = {c: [] for c in CASES}
        for i in range(RUNS):
            for case in CASES:
                r = measure(sb, case)
                results[case].append(r)
                print(f"  run {i + 1} {TITLES[case]:28s} {r['rate']:7.0f} conn/s  "
                      f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:7.2f} ms  "
                      f"spilled {r['spilled']:4.0%}  errors {r['errors']}", flush=True)
        report(results)
        st = sb.service()
        print(f"\n  spillway over the whole run: spilled {st['overflowed_total']}, "
              f"kept local for lack of a remote {st['overflow_unavailable_total']}")
    finally:
        sb.down()


if __name__ == "__main__":
    main()
