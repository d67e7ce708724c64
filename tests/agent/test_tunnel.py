#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The mTLS tunnel end to end, with real OpenSSL and real TCP:

  client -- node (agent 1: datapath + tunnel client) -- svc ("local")
              `-- w0 == w1 -- gw (agent 2: gateway 10.2.0.2:15008)
                                 `-- export target 127.0.0.1:8080 ("remote")

Connections over the threshold on node are steered to agent 1, carried in an
HTTP/2 CONNECT stream to agent 2, and delivered to the export's target. The
gateway is also spoken to directly, with python3-h2 (a client nobody here
wrote) and with handshakes built to fail. Run one case: test_tunnel.py NAME"""
import ctypes
import datetime
import hashlib
import json
import os
import re
import resource
import select
import signal
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from metrics import check_metrics  # noqa: E402
from netns import (ROOT, SPILLWAY, World, netns, run, run_cases,  # noqa: E402
                   WAIT_S, spillway_down, start_dns, start_echo, start_spillway,
                   wait_until)

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402

GEN_CERTS = os.path.join(ROOT, "scripts", "gen-certs.sh")
SVC = "echo.default.svc.cluster.local"
GW = ("10.2.0.2", 15008)
IDENTITY = "spiffe://cluster.local/ns/spillway/sa/spillway"


class TunnelWorld(World):
    def up(self):
        super().up()
        self.gw = f"{self.tag}-g"
        n, g = self.node, self.gw
        run(f"ip netns add {g}")
        run(f"ip -n {n} link add w0 type veth peer name w1 netns {g}")
        for cmd in (f"ip -n {n} addr add 10.2.0.1/24 dev w0", f"ip -n {n} link set w0 up",
                    f"ip -n {g} addr add 10.2.0.2/24 dev w1", f"ip -n {g} link set w1 up",
                    f"ip -n {g} link set lo up"):
            run(cmd)
        self.gw_log = f"{self.dir}/gw-agent.log"
        self.gw_socket = f"{self.dir}/run/gw.sock"
        self.gw_pin = f"{self.pin_dir}-gw"
        self.gw_config = f"{self.dir}/etc/gw.yaml"
        self.target_log = f"{self.dir}/target.log"
        self.target = start_echo(g, "remote", self.target_log, "127.0.0.1:8080")
        self.gw_agent = None
        self.dns = []
        return self

    def down(self):
        if getattr(self, "gw_agent", None) and self.gw_agent.poll() is None:
            self.gw_agent.kill()
            self.gw_agent.wait()
        for p in [self.target] if getattr(self, "target", None) else []:
            p.kill()
            p.wait()
        for p in getattr(self, "dns", []):
            p.kill()
            p.wait()
        if getattr(self, "gw", None):
            spillway_down(self.gw, self.gw_pin, self.gw_socket)
            run(f"ip netns del {self.gw}", check=False)
        super().down()

    # -- the two agents ---------------------------------------------------
    def node_config(self, max_conns=1, extra="", gateway=f"{GW[0]}:{GW[1]}", remote=""):
        """remote: more keys of the remote, one per line."""
        remote = "".join(f"    {line}\n" for line in remote.splitlines())
        return f"""cluster: cluster1
interfaces: [n0]
tls:
  dir: {self.certs}/cluster1
  allow_identities: [{IDENTITY}]
remotes:
  - name: cluster2
    gateway: {gateway}
{remote}services:
  - name: {SVC}
    vip: 10.96.0.10
    port: 80
    max_connections: {max_conns}
    overflow_to: [cluster2]
metrics:
  listen: 127.0.0.1:15020
{extra}"""

    def gw_config_text(self, certs=None, allow=IDENTITY, exports=""):
        """exports: more entries of exports, as YAML lines."""
        return f"""cluster: cluster2
tls:
  dir: {certs or self.certs + '/cluster2'}
  allow_identities: [{allow}]
tunnel:
  listen: {GW[0]}:{GW[1]}
exports:
  - name: {SVC}
    port: 80
    target: 127.0.0.1:8080
  - name: nowhere.default.svc.cluster.local
    port: 80
    target: 127.0.0.1:8081
  - name: unresolvable.default.svc.cluster.local
    port: 80
    target: no-such-host.invalid:80
{exports}metrics:
  listen: 127.0.0.1:15021
"""

    def start_gateway(self, config=None, no_caps=False, resolv_conf=None):
        """no_caps: as root without a single capability, as the gateway
        Deployment runs it (deploy/gateway). resolv_conf: the gateway's
        /etc/resolv.conf (with_resolv_conf)."""
        self.write_config(config or self.gw_config_text(), self.gw_config)
        drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-all",
                "--no-new-privs", "--"] if no_caps else []
        self.gw_agent = start_spillway(self.gw, self.gw_config, self.gw_pin, self.gw_socket,
                                       self.gw_log, resolv_conf=resolv_conf, wrap=drop)

    def gw_status(self):
        return json.loads(run([SPILLWAY, "status", "--json", "--socket",
                               self.gw_socket]).stdout)

    def gw_log_text(self):
        return open(self.gw_log).read() if os.path.exists(self.gw_log) else ""

    def start_both(self, max_conns=1):
        self.start_gateway()
        self.write_config(self.node_config(max_conns))
        self.start_agent()
        self.wait_healthy(True)

    def wait_healthy(self, healthy):
        wait_until(f"cluster2 healthy={healthy}",
                   lambda: self.status()["remotes"][0]["healthy"] == healthy)

    def target_accepts(self):
        return open(self.target_log).read().count("accept ")

    # -- clients -----------------------------------------------------------
    def dial_any(self):
        """Connect to the VIP; return (socket, who answered)."""
        with netns(self.client):
            s = socket.socket(socket.AF_INET)
        s.settimeout(10)
        s.connect(("10.96.0.10", 80))
        banner = b""
        while not banner.endswith(b"\n"):
            chunk = s.recv(1)
            assert chunk, "closed before the banner"
            banner += chunk
        self.conns.append(s)
        return s, banner.decode().strip()

    def tls_to_gateway(self, cluster="cluster1", certs=None, alpn=("h2",),
                       max_version=None, cert=True):
        """A TLS connection from node to the gateway, as we choose to make it."""
        d = certs or f"{self.certs}/{cluster}"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(f"{self.certs}/root-cert.pem")
        if cert:
            ctx.load_cert_chain(f"{d}/cert-chain.pem", f"{d}/key.pem")
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        if max_version:
            ctx.maximum_version = max_version
        with netns(self.node):
            raw = socket.create_connection(GW, timeout=10)
        return ctx.wrap_socket(raw)


def checksum_roundtrip(s, size):
    """Send size random bytes; the echo must return exactly them."""
    data = os.urandom(size)
    sent = hashlib.sha256(data).hexdigest()
    got = hashlib.sha256()
    total = 0
    s.setblocking(False)
    view = memoryview(data)
    deadline = time.monotonic() + 60
    while total < size:
        assert time.monotonic() < deadline, f"echo stalled at {total}/{size}"
        if view:
            try:
                n = s.send(view[:65536])
                view = view[n:]
            except BlockingIOError:
                pass
        try:
            chunk = s.recv(262144)
            assert chunk, f"closed after {total} bytes"
            got.update(chunk)
            total += len(chunk)
        except BlockingIOError:
            time.sleep(0.0005)
    s.setblocking(True)
    assert got.hexdigest() == sent, "the bytes came back different"


class H2Client:
    """A python3-h2 client connection to the gateway, CONNECT streams on it."""

    def __init__(self, w, **tls):
        self.t = w.tls_to_gateway(**tls)
        assert self.t.selected_alpn_protocol() == "h2"
        # python3-h2 4.1 requires :path and :scheme on every request it sends,
        # CONNECT (RFC 7540 8.3) included: its outbound header check is off.
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, validate_outbound_headers=False))
        self.conn.initiate_connection()
        self.status, self.body, self.ended = {}, {}, set()
        self.closed = False
        self.pings = 0      # PING ACKs received
        self.flush()

    def flush(self):
        self.t.sendall(self.conn.data_to_send())

    def request(self, authority, headers=(), method="CONNECT", data=None):
        """Open a stream; returns its id."""
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":authority", authority)]
        if method != "CONNECT":
            hdrs += [(":scheme", "https"), (":path", "/")]
        self.conn.send_headers(sid, hdrs + list(headers), end_stream=False)
        self.body[sid] = b""
        if data:
            self.conn.send_data(sid, data)
        self.flush()
        return sid

    def send(self, sid, data):
        self.conn.send_data(sid, data)
        self.flush()

    def pump(self, timeout):
        """Take in what arrives within timeout seconds."""
        self.t.settimeout(timeout)
        try:
            chunk = self.t.recv(65536)
        except TimeoutError:
            return
        if not chunk:
            self.closed = True
            return
        for ev in self.conn.receive_data(chunk):
            if isinstance(ev, h2.events.ResponseReceived):
                self.status[ev.stream_id] = int(dict(ev.headers)[b":status"])
            elif isinstance(ev, h2.events.DataReceived):
                self.body[ev.stream_id] += ev.data
                self.conn.acknowledge_received_data(len(ev.data), ev.stream_id)
            elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                self.ended.add(ev.stream_id)
            elif isinstance(ev, h2.events.PingAckReceived):
                self.pings += 1
        self.flush()

    def until(self, done, timeout_s=10):
        """Pump until done() or the connection closes; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while not done() and not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.pump(min(left, 0.5))
        return True

    def close(self):
        self.t.close()


def h2_connect(w, authority, headers=(), method="CONNECT", data=None, **tls):
    """One request on a fresh connection with python3-h2; returns (status, body)."""
    c = H2Client(w, **tls)
    sid = c.request(authority, headers, method, data)
    c.until(lambda: sid in c.ended or c.status.get(sid, 200) != 200 or
            bool(data and c.body[sid].endswith(data)))
    c.close()
    return c.status.get(sid), c.body[sid]


# ---------------------------------------------------------------------------

def test_spill_through_tunnel_integrity(w):
    w.start_both(max_conns=1)
    local, who = w.dial_any()
    assert who == "local", who
    spilled, who = w.dial_any()
    assert who == "remote", who            # served by cluster 2's target
    w.wait_counts(SVC, 1, 1)
    for s in (local, spilled):
        checksum_roundtrip(s, 8 << 20)     # 8 MiB each way, byte for byte
    status, body = w.http("/metrics")
    # Each worker keeps a connection to the remote ahead of need.
    n = w.status()["workers"]["count"]
    assert f'spillway_tunnel_connections{{remote="cluster2"}} {n}' in body, body
    m = re.search(r'spillway_tunnel_bytes_total\{remote="cluster2",direction="sent"\} (\d+)', body)
    assert m and int(m.group(1)) >= 8 << 20, body


def test_gateway_without_bpf_or_capabilities(w):
    """A gateway-only agent (no interfaces) loads no BPF, pins nothing and
    runs with no capability at all; its one node setting is made for it, as
    deploy/gateway's init container does."""
    run(f"ip netns exec {w.gw} sysctl -qw net.ipv4.tcp_tw_reuse=1")
    w.start_gateway(no_caps=True)
    caps = re.search(r"^CapEff:\s*(\w+)", open(f"/proc/{w.gw_agent.pid}/status").read(),
                     re.M)
    assert caps and int(caps.group(1), 16) == 0, caps
    assert not os.path.exists(w.gw_pin), "a gateway-only agent pinned maps"
    log = w.gw_log_text()
    assert "no interfaces: no datapath" in log and "BPF" not in log.replace(
        "loads no BPF", ""), log
    st = w.gw_status()
    assert st["datapath"] == {"loaded": False, "xdp_handoff": "",
                              "xdp_meta_refused": False}, st
    status, body = w.http("/metrics", ns=w.gw, port=15021)
    assert status == 200 and "spillway_datapath_loaded 0" in body, body
    assert "spillway_datapath_packets_total" not in body, body
    check_metrics(body)
    w.write_config(w.node_config(1))
    w.start_agent()
    w.wait_healthy(True)
    local, who = w.dial_any()
    assert who == "local", who
    spilled, who = w.dial_any()
    assert who == "remote", who
    checksum_roundtrip(spilled, 1 << 20)
    assert w.status()["datapath"]["loaded"] is True
    # A node with a datapath, a tunnel client and a healthy remote.
    status, body = w.http("/metrics")
    assert 'spillway_remote_healthy{remote="cluster2"} 1' in body, body
    check_metrics(body)


def test_half_close_and_reset(w):
    w.start_both(max_conns=1)
    w.dial_any()
    s, who = w.dial_any()
    assert who == "remote"
    # FIN -> END_STREAM -> FIN at the target, which says bye and closes.
    s.sendall(b"last words\n")
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    assert got == b"last words\nbye\n", got
    w.hang_up(s)
    # The target resets: RST -> RST_STREAM -> RST to the client.
    s, who = w.dial_any()
    assert who == "remote"
    s.sendall(b"rst!")
    try:
        while s.recv(4096):
            pass
        raise AssertionError("the reset did not reach the client")
    except ConnectionResetError:
        pass
    w.hang_up(s)
    # The client resets: the target sees a reset.
    s, who = w.dial_any()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    w.hang_up(s)
    wait_until("the target to see a reset", lambda: "reset" in open(w.target_log).read())
    w.wait_counts(SVC, 1, 0)


def test_concurrent_streams(w):
    w.start_both(max_conns=1)
    w.dial_any()
    socks = []
    for _ in range(1000):
        s, who = w.dial_any()
        assert who == "remote", who
        socks.append(s)
    w.wait_counts(SVC, 1, 1000)
    for i, s in enumerate(socks):
        s.sendall(b"n%d\n" % i)
    for i, s in enumerate(socks):
        want = b"n%d\n" % i
        got = b""
        while len(got) < len(want):
            got += s.recv(64)
        assert got == want, (i, got)
    _, body = w.http("/metrics")
    m = re.search(r'spillway_tunnel_connections\{remote="cluster2"\} (\d+)', body)
    assert m and int(m.group(1)) >= 10, body   # at most 100 streams each
    for s in socks:
        w.hang_up(s)
    w.wait_counts(SVC, 1, 0)


def test_gateway_refusals(w):
    w.start_gateway()
    cases = [
        ("GET", SVC + ":80", 405, "only CONNECT"),
        ("CONNECT", "other.default.svc.cluster.local:80", 403, "not exported"),
        ("CONNECT", SVC + ":81", 403, "not exported"),
        ("CONNECT", "127.0.0.1:8080", 403, "an IP address is not a service name"),
        ("CONNECT", "[::1]:8080", 403, "an IP address is not a service name"),
        ("CONNECT", "no-port", 403, "malformed authority"),
        ("CONNECT", "unresolvable.default.svc.cluster.local:80", 503, "does not resolve"),
        ("CONNECT", "nowhere.default.svc.cluster.local:80", 502, "cannot connect to the target"),
    ]
    for method, authority, want, phrase in cases:
        before = w.target_accepts()
        status, _ = h2_connect(w, authority, method=method)
        assert status == want, (authority, status)
        assert w.target_accepts() == before, f"{authority}: the target was reached"
        wait_until(phrase, lambda: phrase in w.gw_log_text())
    big = [("x-pad-%d" % i, "y" * 1000) for i in range(10)]
    status, _ = h2_connect(w, SVC + ":80", headers=big)
    assert status == 431, status
    # And the conformant case: a client nobody here wrote, byte for byte.
    status, body = h2_connect(w, SVC + ":80", headers=[("forwarded", 'for="10.0.0.2:1"')],
                              data=b"hello through h2\n")
    assert status == 200, status
    assert body == b"remote\nhello through h2\n", body


SLOW = "slow.default.svc.cluster.local"


def resolv_conf(w, name):
    """A resolv.conf naming the test's DNS server, 127.0.0.1 in the agent's
    namespace: no search domain, one try that waits long enough."""
    path = f"{w.dir}/etc/{name}"
    with open(path, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:10 attempts:1\n")
    return path


def dns_queries(log, name):
    return open(log).read().count(f"query {name} A\n")


def test_slow_dns_stalls_no_stream(w):
    """The cluster DNS answers an export target's name after 5 s. Meanwhile
    a stream already open keeps its round trip under 50 ms (the lookup runs
    off the event loop), three CONNECTs to that target share one question,
    and once it is answered the next CONNECT is served from the cache."""
    dns_log = f"{w.dir}/dns-gw.log"
    w.dns.append(start_dns(w.gw, dns_log, "127.0.0.1:53", 5,
                           {"slow-target.test": "127.0.0.1"}))
    export = f"  - name: {SLOW}\n    port: 80\n    target: slow-target.test:8080\n"
    w.start_gateway(w.gw_config_text(exports=export),
                    resolv_conf=resolv_conf(w, "gw-resolv.conf"))
    fast = H2Client(w)
    sid = fast.request(SVC + ":80")
    assert fast.until(lambda: fast.body[sid] == b"remote\n"), (fast.status, fast.body)
    slow = H2Client(w)
    started = time.monotonic()
    waiting = [slow.request(f"{SLOW}:80") for _ in range(3)]
    rtts = []
    while (not all(s in slow.status for s in waiting) and
           time.monotonic() - started < 15):
        line = f"ping {len(rtts)}\n".encode()
        sent = time.monotonic()
        fast.send(sid, line)
        assert fast.until(lambda: fast.body[sid].endswith(line), 5), "the open stream stalled"
        rtts.append(time.monotonic() - sent)
        slow.pump(0.02)
    took = time.monotonic() - started
    assert [slow.status.get(s) for s in waiting] == [200] * 3, (slow.status, w.gw_log_text())
    assert took >= 4.5, f"answered after {took:.1f} s: the DNS server's 5 s were not seen"
    assert len(rtts) > 20 and max(rtts) < 0.05, \
        f"round trips while resolving: max {max(rtts) * 1000:.1f} ms of {len(rtts)}"
    # One question (c-ares may send it twice: a retransmission) for three.
    assert w.gw_status()["resolver"] == {"queries": 1, "cached": 0, "failed": 0}
    asked = dns_queries(dns_log, "slow-target.test")
    # Within the answer's TTL: served at once, no new question. (On this
    # connection's worker: each worker keeps its own cache.)
    start = time.monotonic()
    again = slow.request(f"{SLOW}:80", data=b"again\n")
    assert slow.until(lambda: slow.body[again].endswith(b"again\n")), (slow.status, slow.body)
    assert (slow.status.get(again), slow.body[again]) == (200, b"remote\nagain\n")
    assert time.monotonic() - start < 2
    assert dns_queries(dns_log, "slow-target.test") == asked, open(dns_log).read()
    assert w.gw_status()["resolver"] == {"queries": 1, "cached": 1, "failed": 0}
    status, body = w.http("/metrics", ns=w.gw, port=15021)
    assert "spillway_resolver_cache_hits_total 1" in body, body
    fast.close()
    slow.close()


def test_remote_gateway_by_name(w):
    """A remote's gateway named by DNS (a LoadBalancer's hostname): the node
    agent resolves it and spills to it; a name that does not resolve keeps
    the remote unhealthy and the log says which name and why."""
    dns_log = f"{w.dir}/dns-node.log"
    w.dns.append(start_dns(w.node, dns_log, "127.0.0.1:53", 0.2,
                           {"gw.cluster2.test": GW[0]}))
    conf = resolv_conf(w, "node-resolv.conf")
    w.start_gateway()
    w.write_config(w.node_config(gateway=f"gw.cluster2.test:{GW[1]}"))
    w.start_agent(resolv_conf=conf)
    w.wait_healthy(True)
    assert [w.dial_any()[1] for _ in range(2)] == ["local", "remote"]
    assert dns_queries(dns_log, "gw.cluster2.test") >= 1, open(dns_log).read()
    w.kill_agent()
    w.write_config(w.node_config(gateway=f"nowhere.cluster2.test:{GW[1]}"))
    w.start_agent(resolv_conf=conf)
    phrase = "cannot resolve nowhere.cluster2.test: Domain name not found"
    wait_until("the log to say why", lambda: phrase in w.log_text())
    w.wait_healthy(False)
    assert [w.dial_any()[1] for _ in range(2)] == ["local", "local"]


def test_handshake_rejections(w):
    w.start_gateway()
    run([GEN_CERTS, f"{w.dir}/other-pki", "cluster1"])
    run([GEN_CERTS, "--root", w.certs, "--expired", w.certs, "expired"])
    run([GEN_CERTS, "--root", w.certs, "--identity",
         "spiffe://cluster.local/ns/other/sa/intruder", w.certs, "intruder"])
    cases = [
        (dict(cert=False), "no_client_cert"),
        (dict(certs=f"{w.dir}/other-pki/cluster1"), "unknown_ca"),
        (dict(cluster="expired"), "expired"),
        (dict(cluster="intruder"), "not_allowed"),
        (dict(max_version=ssl.TLSVersion.TLSv1_2), "protocol"),
    ]
    for kw, label in cases:
        before = w.target_accepts()
        try:
            status, _ = h2_connect(w, SVC + ":80", **kw)
        except (ssl.SSLError, ConnectionResetError, OSError):
            status = None
        assert status is None, (kw, status)
        assert w.target_accepts() == before
        wait_until(f"a {label} failure counted", lambda: re.search(
            r'spillway_gateway_handshake_failures_total\{reason="%s"\} [1-9]' % label,
            gw_metrics(w)))
    # A client that connects and says nothing is dropped after the deadline
    # (3 s, checked on the agent's one-second tick).
    with netns(w.node):
        s = socket.create_connection(GW, timeout=30)
    start = time.monotonic()
    assert s.recv(1) == b""
    assert 2 <= time.monotonic() - start < 15, time.monotonic() - start
    wait_until("the timeout logged", lambda: "did not finish within 3s" in w.gw_log_text())


def gw_metrics(w):
    import http.client
    with netns(w.gw):
        c = http.client.HTTPConnection("127.0.0.1", 15021, timeout=10)
        c.connect()
    c.request("GET", "/metrics")
    return c.getresponse().read().decode()


def test_certificate_hot_reload(w):
    # The gateway's certificates live behind a Secret-style ..data symlink.
    sec = f"{w.dir}/gw-secret"
    os.makedirs(f"{sec}/..v1")
    for f in ("root-cert.pem", "cert-chain.pem", "key.pem"):
        run(["cp", f"{w.certs}/cluster2/{f}", f"{sec}/..v1/{f}"])
    os.symlink("..v1", f"{sec}/..data")
    for f in ("root-cert.pem", "cert-chain.pem", "key.pem"):
        os.symlink(f"..data/{f}", f"{sec}/{f}")
    w.start_gateway(w.gw_config_text(certs=sec))
    w.write_config(w.node_config(1))
    w.start_agent()
    w.wait_healthy(True)
    w.dial_any()
    live, who = w.dial_any()
    assert who == "remote"
    # A bad set (another cluster's key) is rejected, the old one kept.
    os.makedirs(f"{sec}/..v2")
    for f in ("root-cert.pem", "cert-chain.pem"):
        run(["cp", f"{w.certs}/cluster2/{f}", f"{sec}/..v2/{f}"])
    run(["cp", f"{w.certs}/cluster1/key.pem", f"{sec}/..v2/key.pem"])
    os.symlink("..v2", f"{sec}/..data_tmp")
    os.rename(f"{sec}/..data_tmp", f"{sec}/..data")
    wait_until("the bad set rejected",
               lambda: "new certificates rejected" in w.gw_log_text())
    checksum_roundtrip(live, 1 << 20)
    # A good new set (a new leaf from the same root) replaces it.
    run([GEN_CERTS, "--root", w.certs, w.certs, "cluster2b"])
    os.makedirs(f"{sec}/..v3")
    for f in ("root-cert.pem", "cert-chain.pem", "key.pem"):
        run(["cp", f"{w.certs}/cluster2b/{f}", f"{sec}/..v3/{f}"])
    os.symlink("..v3", f"{sec}/..data_tmp")
    os.rename(f"{sec}/..data_tmp", f"{sec}/..data")
    wait_until("the new set loaded",
               lambda: "certificates reloaded" in w.gw_log_text())
    checksum_roundtrip(live, 1 << 20)          # the live stream is untouched
    status, body = h2_connect(w, SVC + ":80", data=b"after reload\n")
    assert status == 200 and body.endswith(b"after reload\n"), (status, body)
    # Every worker took the new set: fresh connections, spread over them,
    # all see the new leaf.
    pem = open(f"{w.certs}/cluster2b/cert-chain.pem").read()
    end = "-----END CERTIFICATE-----"
    new_leaf = ssl.PEM_cert_to_DER_cert(pem[:pem.index(end) + len(end)] + "\n")
    # (The one stream ended so far: h2_connect's; the live one is open.)
    before = wait_until("h2_connect's stream counted", lambda: (
        lambda a: sum(a) == 1 and a)(per_worker(w.gw_status())))
    for _ in range(12):
        c = H2Client(w)
        assert c.t.getpeercert(binary_form=True) == new_leaf, "an old certificate"
        sid = c.request(SVC + ":80", data=b"x\n")
        assert c.until(lambda: c.body[sid].endswith(b"x\n")), (c.status, c.body)
        c.close()
    after = wait_until("the streams counted", lambda: (
        lambda a: sum(a) == 13 and a)(per_worker(w.gw_status())))
    assert all(a > b for a, b in zip(after, before)), (before, after)


def test_remote_down_and_back(w):
    w.start_both(max_conns=1)
    w.dial_any()
    s, who = w.dial_any()
    assert who == "remote"
    w.gw_agent.send_signal(signal.SIGTERM)
    w.gw_agent.wait()
    w.wait_healthy(False)
    for _ in range(5):                         # over the threshold, none fail
        s, who = w.dial_any()
        assert who == "local", who
    st = [x for x in w.status()["services"] if x["name"] == SVC][0]
    assert st["overflow_unavailable_total"] == 5, st
    w.start_gateway()
    w.wait_healthy(True)
    s, who = w.dial_any()
    assert who == "remote", who


def test_refused_connect_falls_back_local(w):
    """The gateway will not take a spilled connection (403: not exported
    there; 502: its target is down): the connection is served by cluster 1
    instead of reset, with what the client sent before the refusal, and its
    slot counts as local."""
    exported = f"  - name: {SVC}\n    port: 80\n    target: 127.0.0.1:8080\n"
    cases = [("", 403), (f"  - name: {SVC}\n    port: 80\n    target: 127.0.0.1:8081\n", 502)]
    w.write_config(w.node_config(1))
    for n, (export, status) in enumerate(cases, 1):
        text = w.gw_config_text()
        assert exported in text
        w.start_gateway(text.replace(exported, export))
        if n == 1:
            w.start_agent()
            held, who = w.dial_any()
            assert who == "local", who
        w.wait_healthy(True)
        before = w.target_accepts()
        with netns(w.client):
            s = socket.create_connection(("10.96.0.10", 80), timeout=10)
        w.conns.append(s)
        s.sendall(b"sent before any answer\n")
        got = b""
        while got.count(b"\n") < 2:
            chunk = s.recv(100)
            assert chunk, f"{status}: closed after {got!r}"
            got += chunk
        assert got == b"local\nsent before any answer\n", (status, got)
        checksum_roundtrip(s, 1 << 20)
        assert w.target_accepts() == before, "cluster 2's target was reached"
        w.wait_counts(SVC, 2, 0)
        st = w.service(SVC)
        assert (st["overflowed_total"], st["local_fallback_total"]) == (n, n), st
        flows = json.loads(w.cli("flows", "--json").stdout)["flows"]
        port = s.getsockname()[1]
        mine = [f for f in flows if f["client_port"] == port]
        assert len(mine) == 1 and mine[0]["local_fallback"], flows
        assert "local (fallback)" in w.cli("flows").stdout
        _, body = w.http("/metrics")
        assert f'spillway_fallback_total{{result="served"}} {n}' in body, body
        assert f'spillway_tunnel_streams_total{{remote="cluster2",result="{status}"}} 1' in body
        assert 'spillway_fallback_connections 1' in body, body
        assert f"answered CONNECT {SVC}:80 with {status}: serving it in this cluster" in w.log_text()
        s.close()
        w.conns.remove(s)
        w.wait_counts(SVC, 1, 0)            # given back once, from local
        w.gw_agent.kill()
        w.gw_agent.wait()
    _, body = w.http("/metrics")
    assert 'spillway_fallback_connections 0' in body, body


def test_refused_connect_falls_back_local_ipv6(w):
    """The same over IPv6: a service the gateway does not export (403)."""
    svc6 = "echo6.default.svc.cluster.local"
    w.write_config(w.node_config(1).replace("metrics:", f"""  - name: {svc6}
    vip: fd00:96::10
    port: 80
    max_connections: 1
    overflow_to: [cluster2]
metrics:"""))
    w.start_gateway()
    w.start_agent()
    w.wait_healthy(True)
    w.dial(6)
    s = w.dial(6)                       # spilled, refused, served by cluster 1
    w.echo_ok(s)
    w.wait_counts(svc6, 2, 0)
    st = w.service(svc6)
    assert (st["overflowed_total"], st["local_fallback_total"]) == (1, 1), st
    assert f"answered CONNECT {svc6}:80 with 403: serving it in this cluster" in w.log_text()
    w.hang_up(s)
    w.wait_counts(svc6, 1, 0)


def test_gateway_killed_spills_fall_back(w):
    """kill -9 of the gateway: until probes mark the remote unhealthy, new
    spilled connections find no gateway to connect to. Each is served by
    cluster 1 instead of reset: none fails."""
    w.start_both(max_conns=1)
    held, who = w.dial_any()
    assert who == "local", who
    s, who = w.dial_any()
    assert who == "remote", who
    w.gw_agent.kill()
    w.gw_agent.wait()
    for i in range(5):
        s, who = w.dial_any()
        assert who == "local", (i, who)
        checksum_roundtrip(s, 64 << 10)
    st = w.service(SVC)
    # Spilled then fallen back, or kept local once the remote was unhealthy.
    assert st["local_fallback_total"] + st["overflow_unavailable_total"] == 5, st
    assert st["local_fallback_total"] >= 1, st
    w.wait_counts(SVC, 6, 0)    # the tunnelled one was reset with its gateway


def test_streams_per_peer_limit(w):
    """tunnel.max_streams_per_peer caps one peer identity's open streams over
    all its connections: past it the gateway answers 503, and the node
    serves those connections in cluster 1."""
    w.start_gateway(w.gw_config_text().replace(
        "  listen: 10.2.0.2:15008\n",
        "  listen: 10.2.0.2:15008\n  max_streams_per_peer: 2\n"))
    w.write_config(w.node_config(1))
    w.start_agent()
    w.wait_healthy(True)
    held, who = w.dial_any()
    assert who == "local", who
    answered = [w.dial_any() for _ in range(4)]
    assert [who for _, who in answered] == ["remote", "remote", "local", "local"], answered
    wait_until("the refusals logged", lambda: w.gw_log_text().count(
        "503, this peer has 2 streams open, the most tunnel.max_streams_per_peer "
        "allows") == 2)
    w.wait_counts(SVC, 3, 2)
    st = w.service(SVC)
    assert st["local_fallback_total"] == 2, st
    # One remote stream ends: room for one more.
    answered[0][0].close()
    w.conns.remove(answered[0][0])
    w.wait_counts(SVC, 3, 1)
    s, who = w.dial_any()
    assert who == "remote", who


# -- hostile load (issue 16) --------------------------------------------------

ATTACKER = "10.2.0.3"    # a second address of node, on the gateway's link


def idle_connections(w, n, source=ATTACKER):
    """n TCP connections from node to the gateway that never say a word."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    with netns(w.node):
        for _ in range(n):
            s = socket.socket(socket.AF_INET)
            s.setblocking(False)
            s.bind((source, 0))
            s.connect_ex(GW)
            socks.append(s)
    return socks


def reopen_closed(w, socks, most):
    """Replace up to `most` of the idle connections the gateway closed, from
    the same addresses, as an attacker would."""
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN | select.POLLERR | select.POLLHUP)
    gone = {fd for fd, _ in p.poll(0)}
    for i, s in enumerate(socks):
        if s.fileno() in gone and most > 0:
            source = s.getsockname()[0]
            s.close()
            socks[i] = idle_connections(w, 1, source)[0]
            most -= 1


def proc_cpu_s(pid):
    """utime + stime of a process, in seconds."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect_ok(w):
    """Does a CONNECT on a new connection to the gateway get its 200?"""
    try:
        c = H2Client(w)
        sid = c.request(SVC + ":80")
        c.until(lambda: sid in c.status)
        c.close()
        return c.status.get(sid) == 200
    except (ssl.SSLError, OSError):
        return False


def legitimate_peer_gets_through(w, idle, reason, logged):
    """100 connections of the legitimate peer, one at a time, while the
    gateway's closed idle connections are reopened: at least 99 succeed;
    the gateway counted the idle ones it turned away under `reason` and
    logged `logged`. Closes the idle connections."""
    try:
        ok = tried = 0
        deadline = time.monotonic() + 120
        while tried < 100 and time.monotonic() < deadline:
            reopen_closed(w, idle, 300)
            tried += 1
            ok += connect_ok(w)
        assert tried == 100, f"only {tried} attempts in 120 s"
        assert ok >= 99, f"{ok} of {tried} connections of the legitimate peer succeeded"
        wait_until(f"the idle connections counted as {reason}", lambda: re.search(
            r'spillway_gateway_handshake_failures_total\{reason="%s"\} [1-9]' % reason,
            gw_metrics(w)))
        assert logged in w.gw_log_text()
    finally:
        for s in idle:
            s.close()


def test_idle_handshakes_lock_no_peer_out(w):
    """Connections that never finish their TLS handshake have their own cap,
    a per-address cap and a short deadline: 4,500 of them from one address
    (more than the 4,096 authenticated connections the gateway takes) leave
    a legitimate peer's connections untouched."""
    w.start_gateway()
    run(f"ip -n {w.node} addr add {ATTACKER}/24 dev w0")
    idle = idle_connections(w, 4500)
    legitimate_peer_gets_through(w, idle, "busy",
                                 "connections from this address are in the TLS handshake")


def test_idle_handshakes_from_many_addresses(w):
    """Idle connections from 20 addresses, 60 each per worker (under the
    per-address cap), fill every worker's 1,024 handshakes: a new connection
    takes the place of the oldest, so a legitimate peer, whose handshake
    takes a round trip or two, still gets through."""
    w.start_gateway()
    workers = int(re.search(r"^spillway_workers (\d+)$", gw_metrics(w), re.M)[1])
    sources = [f"10.2.0.{100 + i}" for i in range(20)]
    for a in sources:
        run(f"ip -n {w.node} addr add {a}/24 dev w0")
    idle = [s for a in sources for s in idle_connections(w, 60 * workers, a)]
    legitimate_peer_gets_through(w, idle, "evicted",
                                 "closed in its TLS handshake for a newer connection")


def test_out_of_descriptors_pauses_accepting(w):
    """Out of file descriptors the gateway stops accepting for 100 ms at a
    time instead of spinning on EMFILE, and serves again once some free."""
    w.start_gateway()
    assert "open files limit" in w.gw_log_text()
    pid = w.gw_agent.pid
    limit = len(os.listdir(f"/proc/{pid}/fd")) + 16
    run(["prlimit", f"--pid={pid}", f"--nofile={limit}:{limit}"])
    run(f"ip -n {w.node} addr add {ATTACKER}/24 dev w0")
    idle = idle_connections(w, 200)
    try:
        wait_until("EMFILE met", lambda: "cannot accept a connection: Too many open files"
                   in w.gw_log_text())
        before = proc_cpu_s(pid)
        time.sleep(2)
        used = proc_cpu_s(pid) - before
        # Spinning on accept4 takes a core; paused, it takes next to nothing.
        assert used < 0.3, f"the gateway used {used:.2f} s of CPU in 2 s out of descriptors"
    finally:
        for s in idle:
            s.close()
    wait_until("the gateway to serve again", lambda: connect_ok(w))


def test_endpoint_log_rate(w):
    """Connections straight to the tunnel endpoint's port (no service) log at
    most 20 lines a second, then say how many they left out."""
    w.start_both()
    phrase = "to no configured service"
    start, n = time.monotonic(), 0

    def knock():
        try:
            socket.create_connection(("10.0.0.1", 15001), timeout=5).close()
        except OSError:    # reset by the endpoint, maybe before connect returns
            pass
    with netns(w.client):
        while time.monotonic() - start < 3 and n < 20000:
            knock()
            n += 1
        seconds = time.monotonic() - start
        time.sleep(1.1)
        knock()
    wait_until("the summary line", lambda: re.search(
        phrase + r".*and \d+ more like it not logged", w.log_text()))
    lines = w.log_text().count(phrase)
    assert n > 200, f"only {n} connections made"
    assert lines <= 20 * (int(seconds) + 3), f"{lines} lines for {n} connections in {seconds:.1f}s"


def two_san_cert(w, name, first):
    """A client certificate of cluster1's CA whose URI SANs are first, then
    the allowed identity; its directory, as tls_to_gateway takes it."""
    d, ca = f"{w.dir}/{name}", f"{w.certs}/cluster1"
    os.makedirs(d)
    with open(f"{d}/ext.cnf", "w") as f:
        f.write("basicConstraints = critical, CA:FALSE\n"
                "keyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = serverAuth, clientAuth\n"
                f"subjectAltName = URI:{first}, URI:{IDENTITY}\n")
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", f"{d}/key.pem", "-subj", f"/O=spillway/CN={name}",
         "-out", f"{d}/leaf.csr"])
    run(["openssl", "x509", "-req", "-in", f"{d}/leaf.csr", "-CA", f"{ca}/ca-cert.pem",
         "-CAkey", f"{ca}/ca-key.pem", "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
         "-days", "1", "-extfile", f"{d}/ext.cnf", "-out", f"{d}/leaf.pem"])
    with open(f"{d}/cert-chain.pem", "w") as f:
        f.write(open(f"{d}/leaf.pem").read() + open(f"{ca}/ca-cert.pem").read())
    return d


def test_one_identity_per_certificate(w):
    """Certificates listing the allowed identity after other URI SANs are
    that one peer: together they get no more than max_streams_per_peer."""
    w.start_gateway(w.gw_config_text().replace(
        "  listen: 10.2.0.2:15008\n",
        "  listen: 10.2.0.2:15008\n  max_streams_per_peer: 2\n"))
    clients = [H2Client(w, certs=two_san_cert(w, f"two-san-{i}", f"spiffe://evil/{i}"))
               for i in range(2)]
    try:
        sids = [(c, c.request(SVC + ":80")) for c in clients for _ in range(3)]
        for c in clients:
            c.until(lambda: all(sid in c.status for cc, sid in sids if cc is c))
        answered = [c.status.get(sid) for c, sid in sids]
        assert answered.count(200) == 2, answered
        assert answered.count(503) == 4, answered
        log = w.gw_log_text()
        assert "spiffe://evil" not in log, log
        assert log.count(f"connected as {IDENTITY}") == 2, log
    finally:
        for c in clients:
            c.close()
def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) << 10 for line in f if line.startswith("VmRSS:"))


def metric_value(body, name):
    return next(int(float(line.split()[-1])) for line in body.splitlines()
                if line.startswith(name + " "))


SINK = "sink.default.svc.cluster.local"


def start_sink(w, exports_extra=""):
    """A gateway exporting SINK to 127.0.0.1:8082, where a listener never
    accepts (so never reads) until the test says; returns that listener."""
    w.start_gateway(w.gw_config_text(exports=f"  - name: {SINK}\n    port: 80\n"
                                              f"    target: 127.0.0.1:8082\n")
                    .replace("  listen: 10.2.0.2:15008\n",
                             "  listen: 10.2.0.2:15008\n" + exports_extra))
    wait_until("the gateway listening", lambda: "gateway listening" in w.gw_log_text())
    with netns(w.gw):
        sink = socket.socket()
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sink.bind(("127.0.0.1", 8082))
    sink.listen(8)
    w.conns.append(sink)
    return sink


def sink_client(w, streams):
    """An H2Client with streams CONNECTed to SINK (answered 200), once the
    gateway's SETTINGS (its 4 MiB stream window) are acknowledged."""
    c = H2Client(w)
    assert c.until(lambda: c.conn.remote_settings.initial_window_size == 4 << 20)
    sids = [c.request(f"{SINK}:80") for _ in range(streams)]
    assert c.until(lambda: all(c.status.get(s) == 200 for s in sids)), c.status
    return c, sids


def data_frames(sid, size, count):
    """count DATA frames of size bytes each on stream sid, raw."""
    return (size.to_bytes(3, "big") + b"\x00\x00" + sid.to_bytes(4, "big") +
            b"x" * size) * count


def test_one_byte_frames_bounded_memory(w):
    """1-byte DATA frames to a target that never reads cost the gateway what
    flow control counts, not an allocation per frame: 3 streams x 4,000,000
    frames (within the 4 MiB stream windows) were ~48 bytes each
    before the down chunks coalesced (~300 MB of RSS, less what the target
    socket takes); now at most ~12 MB plus a few chunks."""
    start_sink(w)               # never accepted, never read
    pid = w.gw_agent.pid
    assert open(f"/proc/{pid}/comm").read().strip() == "spillway"
    c, sids = sink_client(w, 3)
    before = rss_bytes(pid)
    frames = 4_000_000
    c.t.settimeout(120)
    for sid in sids:
        for _ in range(frames // 100_000):
            c.t.sendall(data_frames(sid, 1, 100_000))
    # A PING answered: the gateway has handled every frame before it.
    c.conn.ping(b"spillway")
    c.flush()
    assert c.until(lambda: c.pings, timeout_s=120) and c.pings, "no PING ACK"
    grown = rss_bytes(pid) - before
    print(f"RSS grew {grown >> 20} MiB")
    assert grown < 64 << 20, f"RSS grew {grown >> 20} MiB for {len(sids) * frames} bytes"
    body = gw_metrics(w)
    check_metrics(body)
    buffered = metric_value(body, "spillway_gateway_buffered_bytes")
    assert metric_value(body, "spillway_gateway_buffer_budget_bytes") == 256 << 20
    # At most the windows' bytes, plus two part-used 16 KiB chunks a stream.
    assert 0 < buffered <= len(sids) * (frames + 2 * (16 << 10) + 64), buffered
    c.close()
    # The connection gone, its buffers are freed.
    wait_until("nothing buffered", lambda: metric_value(
        gw_metrics(w), "spillway_gateway_buffered_bytes") == 0)


def test_buffer_budget_pauses_not_drops(w):
    """Past tunnel.buffer_budget_mib (1 MiB here) a connection holding bytes
    for a target that does not read is not read any more: what it sent
    beyond waits in the kernel, not in the gateway. Another peer still gets
    through; once the target reads, every byte arrives."""
    sink = start_sink(w, "  buffer_budget_mib: 1\n")
    # The budget is split over the gateway's workers; one connection's
    # streams all live on one of them.
    budget = (1 << 20) // w.gw_status()["workers"]["count"]
    c, sids = sink_client(w, 3)
    # 3 x ~4 MiB (within the stream windows) in full frames, from a thread:
    # its writes stall once the gateway stops reading. The kernel's socket
    # buffers (the gateway's to the target, the target's) take a few MB.
    per_stream = 255 * 16384
    blob = b"".join(data_frames(sid, 16384, 255) for sid in sids)
    c.t.settimeout(60)
    sender = threading.Thread(target=c.t.sendall, args=(blob,), daemon=True)
    sender.start()
    wait_until("over the budget", lambda: metric_value(
        gw_metrics(w), "spillway_gateway_buffered_bytes") > budget)
    time.sleep(1)               # what it would read more, it has read
    buffered = metric_value(gw_metrics(w), "spillway_gateway_buffered_bytes")
    # The budget, plus one read (64 KiB) and two part-used chunks a stream.
    assert buffered <= budget + (64 << 10) + 4 * (16 << 10) + 4096, buffered
    status, body = h2_connect(w, f"{SVC}:80", data=b"hello\n")
    assert status == 200 and body.endswith(b"hello\n"), (status, body)
    # The target reads: the rest flows, none of it lost.
    sink.settimeout(10)
    targets = [sink.accept()[0] for _ in sids]
    for t in targets:
        t.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    got = 0
    deadline = time.monotonic() + 60
    while got < len(sids) * per_stream and time.monotonic() < deadline:
        for t in select.select(targets, [], [], 1)[0]:
            got += len(t.recv(1 << 20))
    sender.join(10)
    assert not sender.is_alive(), "the sender never finished"
    assert got == len(sids) * per_stream, f"{got} of {len(sids) * per_stream} bytes"
    wait_until("nothing buffered", lambda: metric_value(
        gw_metrics(w), "spillway_gateway_buffered_bytes") == 0)
    c.close()


def rapid_reset(w, seconds=3, most=20000):
    """HEADERS + RST_STREAM pairs, 50 a write, reconnecting whenever the
    gateway closes; for at most seconds or most streams. Returns (streams,
    connections)."""
    sent = conns = 0
    c = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and sent < most:
        if c is None or c.closed:
            if c:
                c.close()
            c = H2Client(w)
            conns += 1
        try:
            for _ in range(50):
                sid = c.conn.get_next_available_stream_id()
                c.conn.send_headers(sid, [(":method", "CONNECT"),
                                          (":authority", f"{SVC}:80")])
                c.conn.reset_stream(sid)
            c.flush()
            sent += 50
            c.pump(0.001)
        except (OSError, h2.exceptions.ProtocolError):
            c.closed = True
    c.close()
    return sent, conns


def test_rapid_reset_bounded_connects(w):
    """Streams reset as soon as they are opened (CVE-2023-44487's pattern),
    reconnecting after each GOAWAY, cost the target one connect each before
    (~all of the streams); now the peer's connects are rate-bounded (here
    20/s, a burst of 20, halved per premature-reset close), a stream reset
    while waiting for its turn never connects, and the connection is closed
    once it has had 50 such resets. A peer of the same identity still gets
    through."""
    w.start_gateway(w.gw_config_text().replace(
        "  listen: 10.2.0.2:15008\n",
        "  listen: 10.2.0.2:15008\n  max_connects_per_peer: 20\n"))
    wait_until("the gateway listening", lambda: "gateway listening" in w.gw_log_text())
    sent, conns = rapid_reset(w)
    time.sleep(1)       # connects already started reach the target's log
    accepts = w.target_accepts()
    print(f"{sent} streams reset over {conns} connections: {accepts} target connects")
    assert sent >= 1000, f"only {sent} streams: no flood to bound"
    # 3 s (and a tick) at 20/s at most, plus the first burst of 20.
    assert accepts <= 20 + 20 * 5, f"{accepts} connects to the target for {sent} streams"
    assert conns >= 2, "the gateway never closed the resetting connection"
    assert "streams reset before their target answered" in w.gw_log_text()
    status, body = h2_connect(w, f"{SVC}:80", data=b"hello\n")
    assert status == 200 and body.endswith(b"hello\n"), (status, body)


# -- per-remote settings ------------------------------------------------------

LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z")


def log_times(text, phrase):
    """When each agent log line containing phrase was written (seconds)."""
    return [datetime.datetime.fromisoformat(m.group(1)).timestamp()
            for line in text.splitlines() if phrase in line
            for m in [LOG_TS.match(line)] if m]


def test_health_settings_honoured(w):
    interval, failures, ejection = 0.2, 1, 3.0
    w.start_gateway()
    w.write_config(w.node_config(remote="health: {interval: 200ms, failures: 1, "
                                        "ejection_time: 3s}"))
    w.start_agent()
    w.wait_healthy(True)
    w.gw_agent.send_signal(signal.SIGKILL)
    w.gw_agent.wait()
    stopped = time.monotonic()
    # The closed connection is a failed probe; a PING left unanswered would be
    # seen one interval later: failures + 1 intervals, and slack for the CLI.
    wait_until("cluster2 unhealthy", lambda: not w.status()["remotes"][0]["healthy"],
               timeout=(failures + 1) * interval + 1.0)
    assert "unhealthy: new connections stay local for at least 3s" in w.log_text()
    r = w.status()["remotes"][0]
    assert 0 < r["ejected_ms"] <= 3000 and r["connections"] == 0, r
    assert "no (ejected for " in w.cli("status").stdout
    w.start_gateway()
    up = time.monotonic()
    # Probes succeed from now on, yet the remote stays out until its ejection
    # ends, then the next probe (or the end itself) brings it back.
    wait_until("cluster2 healthy again", lambda: w.status()["remotes"][0]["healthy"],
               timeout=stopped + ejection + interval + 2.0 - time.monotonic())
    healthy = time.monotonic()
    assert healthy - stopped >= ejection - 0.1, (
        f"healthy {healthy - stopped:.2f}s after the gateway stopped, "
        f"{healthy - up:.2f}s after it was back: ejection_time is {ejection}s")
    assert w.log_text().count("is healthy: new connections may spill") == 2
    assert w.status()["remotes"][0]["ejected_ms"] == 0


def keepalive_timers(w):
    """For each established connection from node to the gateway, the seconds
    its keepalive timer has left (ss -o), None if it has no timer; or None
    for all while one has data in flight (ss shows that timer instead)."""
    out = run(f"ip netns exec {w.node} ss -tnoi state established "
              f"dst {GW[0]} dport = :{GW[1]}").stdout
    timers = []
    for line in out.splitlines()[1:]:          # the header, then a line per socket
        if not line or line[0].isspace():      # -i details go on their own lines
            continue
        m = re.search(r"timer:\((\w+),([^,]*),", line)
        if m and m.group(1) != "keepalive":
            return None
        units = {"min": 60, "sec": 1, "ms": 0.001}
        timers.append(m and sum(int(n) * units[u]
                                for n, u in re.findall(r"(\d+)(min|sec|ms)", m.group(2))))
    return timers or None


def test_keepalive_on_pooled_connections(w):
    w.start_gateway()
    w.write_config(w.node_config())
    w.start_agent()
    w.wait_healthy(True)
    n = w.status()["workers"]["count"]     # each keeps one pooled connection
    timers = wait_until("the pooled connections at rest",
                        lambda: len(keepalive_timers(w) or []) == n and keepalive_timers(w))
    assert timers == [None] * n, f"without a keepalive block: {timers}"
    w.kill_agent(signal.SIGTERM)
    w.write_config(w.node_config(remote="keepalive: {time: 30s, interval: 5s, probes: 3}"))
    w.start_agent()
    w.wait_healthy(True)
    timers = wait_until("the new agent's pooled connections at rest",
                        lambda: len(keepalive_timers(w) or []) == n and keepalive_timers(w))
    assert all(t and 0 < t <= 30 for t in timers), (
        f"expected {n} keepalive timers of at most 30s (TCP_KEEPIDLE), got {timers}")


def timed_out_dials(w, gateway, timeout, count=2):
    """How long each dial to gateway took to time out (from the debug log),
    once count of them have; None before."""
    starts = log_times(w.log_text(), f"connecting to {gateway}, up within {timeout}")
    ends = log_times(w.log_text(), f"connecting with {gateway} did not finish within {timeout}")
    took = [end - start for start, end in zip(starts, ends)]
    return took if len(took) >= count else None


def test_connect_timeout_honoured(w):
    # Frames to this address leave for a MAC no one has: the SYN is dropped
    # without a word, so only the connect timeout ends the dial.
    blackhole = "10.2.0.3"
    run(f"ip -n {w.node} neigh replace {blackhole} lladdr 02:00:00:00:05:03 "
        f"dev w0 nud permanent")
    gateway = f"{blackhole}:{GW[1]}"
    health = "health: {interval: 200ms, failures: 1}"
    w.write_config(w.node_config(gateway=gateway, remote=f"connect_timeout: 500ms\n{health}"))
    w.start_agent("--debug")
    took = wait_until("two dials to time out", lambda: timed_out_dials(w, gateway, "500ms"))
    assert all(0.48 <= t <= 0.75 for t in took), f"dials timed out after {took}s, not ~0.5s"
    assert not w.status()["remotes"][0]["healthy"]
    # A reload applies to the next dial.
    w.write_config(w.node_config(gateway=gateway, remote=f"connect_timeout: 1000ms\n{health}"))
    took = wait_until("two dials to time out after the reload",
                      lambda: timed_out_dials(w, gateway, "1s"))
    assert all(0.98 <= t <= 1.25 for t in took), f"dials timed out after {took}s, not ~1s"
    assert not w.status()["remotes"][0]["healthy"]


# --- tunnel.workers -----------------------------------------------------------

WORKERS2 = "tunnel:\n  workers: 2\n"


def start_two_workers_each(w, max_conns=1):
    """Both agents with tunnel.workers: 2, whatever the machine's CPUs."""
    w.start_gateway(w.gw_config_text().replace("tunnel:\n", WORKERS2, 1))
    w.write_config(w.node_config(max_conns, extra=WORKERS2))
    w.start_agent()
    w.wait_healthy(True)
    for status in (w.status(), w.gw_status()):
        assert status["workers"]["count"] == 2, status["workers"]
        assert all(x["alive"] for x in status["workers"]["each"]), status["workers"]


def per_worker(status, key="streams_total"):
    return [x[key] for x in status["workers"]["each"]]


def sample_value(body, name, labels):
    m = re.search(rf"^{name}\{{{re.escape(labels)}\}} (\d+)$", body, re.M)
    assert m, f"no {name}{{{labels}}} in:\n{body}"
    return int(m.group(1))


def test_workers_share_the_load(w):
    """Two workers a side: the kernel spreads connections over them
    (SO_REUSEPORT), each carries some, and the sums in status and /metrics
    are the connections made."""
    start_two_workers_each(w)
    local, who = w.dial_any()
    assert who == "local", who
    spilled = 24
    for _ in range(spilled):
        s, who = w.dial_any()
        assert who == "remote", who
        checksum_roundtrip(s, 4096)
        w.conns.remove(s)
        s.close()
    wait_until("every spilled stream ended on the node",
               lambda: sum(per_worker(w.status())) == spilled)
    node = w.status()
    assert all(n > 0 for n in per_worker(node)), node["workers"]
    assert per_worker(node, "streams") == [0, 0], node["workers"]
    body = w.http("/metrics")[1]
    check_metrics(body)
    assert sample_value(body, "spillway_tunnel_streams_total",
                        'remote="cluster2",result="200"') == spilled
    assert re.search(r"^spillway_workers 2$", body, re.M), body
    assert all(sample_value(body, "spillway_worker_streams_total", f'worker="{i}"') ==
               per_worker(node)[i] for i in range(2))
    # The gateway: the node's pooled connections, then fresh ones of ours.
    direct = 16
    for _ in range(direct):
        status, body = h2_connect(w, f"{SVC}:80", data=b"hello\n")
        assert status == 200 and body.endswith(b"hello\n"), (status, body)
    wait_until("every stream ended at the gateway",
               lambda: sum(per_worker(w.gw_status())) == spilled + direct)
    gw = w.gw_status()
    assert all(n > 0 for n in per_worker(gw)), gw["workers"]
    gw_body = gw_metrics(w)
    check_metrics(gw_body)
    assert sample_value(gw_body, "spillway_gateway_streams_total",
                        'result="200"') == spilled + direct


def test_reload_reaches_every_worker(w):
    """A reload that withdraws an export takes effect on both workers: every
    CONNECT for it is refused, on whichever worker it lands."""
    start_two_workers_each(w)
    tries = 16
    for _ in range(tries):
        assert h2_connect(w, f"{SVC}:80", data=b"hi\n")[0] == 200
    before = wait_until("the streams counted", lambda: (lambda c: sum(c) == tries and c)(
        per_worker(w.gw_status())))
    text = w.gw_config_text().replace("tunnel:\n", WORKERS2, 1)
    export = f"  - name: {SVC}\n    port: 80\n    target: 127.0.0.1:8080\n"
    assert export in text
    w.write_config(text.replace(export, ""), w.gw_config)
    wait_until("the reload", lambda: sample_value(
        gw_metrics(w), "spillway_config_reloads_total", 'result="ok"') == 1)
    for _ in range(tries):
        assert h2_connect(w, f"{SVC}:80", data=b"hi\n")[0] == 403
    after = per_worker(w.gw_status())
    assert all(a > b for a, b in zip(after, before)), (before, after)
    assert sample_value(gw_metrics(w), "spillway_gateway_streams_total",
                        'result="403"') == tries


def thread_of(pid, name):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == name:
                return int(tid)
    raise AssertionError(f"no thread {name} in process {pid}")


class Stopped:
    """One thread of a process stopped, the others running: ptrace
    (PTRACE_SEIZE, PTRACE_INTERRUPT) holds it until the block ends."""
    SEIZE, INTERRUPT, DETACH, WALL = 0x4206, 0x4207, 17, 0x40000000

    def __init__(self, tid):
        self.tid = tid
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long,
                                     ctypes.c_void_p, ctypes.c_void_p]

    def ptrace(self, req):
        if self.libc.ptrace(req, self.tid, None, None) != 0:
            raise OSError(ctypes.get_errno(), f"ptrace {req:#x} on {self.tid}")

    def __enter__(self):
        self.ptrace(self.SEIZE)
        self.ptrace(self.INTERRUPT)
        os.waitpid(self.tid, self.WALL)
        return self

    def __exit__(self, *exc):
        self.ptrace(self.DETACH)


def test_stalled_worker_is_noticed(w):
    """A worker whose loop stops (here: its thread stopped by ptrace, the
    rest of the agent running) is reported within SW_WORKER_STALL_S and a
    tick: status, /metrics, the log, /healthz; then it recovers."""
    w.start_gateway(w.gw_config_text().replace("tunnel:\n", WORKERS2, 1))
    wait_until("the gateway up", lambda: w.gw_status()["workers"]["count"] == 2)
    assert w.http("/healthz", ns=w.gw, port=15021)[0] == 200
    with Stopped(thread_of(w.gw_agent.pid, "sw-worker-1")):
        wait_until("worker 1 noticed", lambda: per_worker(w.gw_status(), "alive") ==
                   [True, False], timeout=15)
        status, body = w.http("/healthz", ns=w.gw, port=15021)
        assert status == 503 and "1 worker(s) stalled" in body, (status, body)
        metrics = gw_metrics(w)
        assert 'spillway_worker_alive{worker="1"} 0' in metrics
        assert 'spillway_worker_alive{worker="0"} 1' in metrics
        assert "worker 1 has not ticked for" in w.gw_log_text()
    wait_until("worker 1 back", lambda: per_worker(w.gw_status(), "alive") == [True, True])
    assert w.http("/healthz", ns=w.gw, port=15021)[0] == 200
    assert "worker 1 ticks again" in w.gw_log_text()


def test_sigterm_drains_every_worker(w):
    """SIGTERM with spilled connections on both workers: the agent stays
    while any of them lives, each keeps working, and it exits once the last
    one ends."""
    start_two_workers_each(w)
    w.dial_any()                              # the local slot
    # The workers share the endpoint's socket: whichever wakes first takes
    # a connection, so on a busy machine one may take many in a row.
    held = []
    while len(held) < 64 and not all(n > 0 for n in per_worker(w.status(), "streams")):
        held.append(w.dial_any()[0])
    assert all(n > 0 for n in per_worker(w.status(), "streams")), w.status()["workers"]
    w.agent.send_signal(signal.SIGTERM)
    wait_until("the drain", lambda: f"draining {len(held)} spilled connection(s)"
               in w.log_text())
    assert w.status()["draining"] is True
    for s in held[:-1]:
        checksum_roundtrip(s, 4096)            # still carried, on either worker
        w.conns.remove(s)
        s.close()
    wait_until("one stream left", lambda: sum(per_worker(w.status(), "streams")) == 1)
    assert w.agent.poll() is None, "exited with a spilled connection still open"
    checksum_roundtrip(held[-1], 4096)
    w.conns.remove(held[-1])
    held[-1].close()
    assert w.agent.wait(timeout=WAIT_S) == 0
    assert "drained: stopping" in w.log_text()


if __name__ == "__main__":
    sys.exit(run_cases("tunnel", globals(), TunnelWorld,
                       lambda w: (f"---- node agent log:\n{w.log_text()}---- gateway log:\n"
                              f"{w.gw_log_text()}----")))
