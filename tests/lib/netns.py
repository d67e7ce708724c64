# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The two-namespace world the agent tests run in, and helpers around it.

    client (c0) ---- (n0) node (n1) ---- (s0) svc
                       ^ spillway agent     VIP on lo, echo server

Names carry the run's prefix (SW_TEST_PREFIX) so tests/run.sh can remove
anything a crashed test left behind.
"""
import ctypes
import json
import os
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/lib/..
# SW_TEST_SPILLWAY: another build of the agent to test (a ThreadSanitizer
# build, say: doc/testing.md).
SPILLWAY = os.environ.get("SW_TEST_SPILLWAY") or os.path.join(ROOT, "build", "spillway")
PREFIX = os.environ.get("SW_TEST_PREFIX", "swt")
VIP4, VIP6, PORT = "10.96.0.10", "fd00:96::10", 80
WAIT_S = 10  # bound on every wait

_libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLONE_NEWNET = 0x40000000


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True,
                       text=True, **kw)
    if check and r.returncode:
        raise AssertionError(f"{cmd!r} exited {r.returncode}: {r.stderr.strip()}")
    return r


class netns:
    """with netns(name): sockets created inside belong to that namespace."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), f"setns {self.name}")
        finally:
            os.close(fd)

    def __exit__(self, *exc):
        _libc.setns(self.home, CLONE_NEWNET)
        os.close(self.home)


def wait_until(what, fn, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


# An echo server for many connections at once: greets with a banner, echoes,
# and on EOF sends "bye\n" and closes; "rst!" makes it reset the connection.
# Every accept and every reset it sees is a line in its event log.
ECHO_SERVER = r'''
import selectors, socket, struct, sys
banner, log = sys.argv[1].encode() + b"\n", open(sys.argv[2], "a", buffering=1)
sel = selectors.DefaultSelector()
for spec in sys.argv[3:]:
    host, port = spec.rsplit(":", 1)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host.strip("[]"), int(port))); s.listen(4096); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, None)
out = {}
def send(c, data):
    out[c] = out.get(c, b"") + data
    sel.modify(c, selectors.EVENT_READ | selectors.EVENT_WRITE, "conn")
def close(c, rst=False):
    if rst:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sel.unregister(c); out.pop(c, None); c.close()
print("ready", file=log)
while True:
    for key, ev in sel.select():
        if key.data is None:
            try:
                c, peer = key.fileobj.accept()
            except BlockingIOError:
                continue
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ, "conn")
            print("accept", peer[0], peer[1], file=log)
            send(c, banner)
            continue
        c = key.fileobj
        if ev & selectors.EVENT_READ:
            try:
                d = c.recv(65536)
            except ConnectionResetError:
                print("reset", file=log); close(c); continue
            if not d:
                send(c, b"bye\n")
                sel.modify(c, selectors.EVENT_WRITE, "closing")
                continue
            if d.endswith(b"rst!"):
                close(c, rst=True); continue
            send(c, d)
        if ev & selectors.EVENT_WRITE and c in out:
            try:
                n = c.send(out[c])
            except (BrokenPipeError, ConnectionResetError):
                close(c); continue
            out[c] = out[c][n:]
            if not out[c]:
                if key.data == "closing":
                    close(c)
                else:
                    sel.modify(c, selectors.EVENT_READ, "conn")
'''


def start_echo(ns, banner, log, *listen):
    """An echo server in namespace ns; returns once it listens."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c",
                          ECHO_SERVER, banner, log, *listen])
    wait_until(f"the echo server in {ns}",
               lambda: os.path.exists(log) and "ready" in open(log).read())
    return p


def start_dns(ns, log, listen, delay_s, records):
    """tests/lib/dns_server.py in namespace ns, answering after delay_s;
    records: {name: address or [addresses]}, or the path of a file of
    NAME=ADDR[,ADDR] lines read at each question. Returns once it listens."""
    server = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dns_server.py")
    args = ([f"@{records}"] if isinstance(records, str) else
            [f"{n}={a if isinstance(a, str) else ','.join(a)}" for n, a in records.items()])
    p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", server, log,
                          listen, str(delay_s), *args])
    wait_until(f"the DNS server in {ns}",
               lambda: os.path.exists(log) and "ready" in open(log).read())
    return p


def with_resolv_conf(conf, cmd):
    """cmd seeing the file conf as /etc/resolv.conf, in a mount namespace of
    its own: a program under test asks the test's DNS server, and nothing
    else on the machine does."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/resolv.conf && exec "$@"', conf, *cmd]


def add_netns(name):
    """A network namespace whose IPv6 addresses are usable at once (no
    duplicate address detection)."""
    run(f"ip netns add {name}")
    run(f"ip netns exec {name} sysctl -qw net.ipv6.conf.all.accept_dad=0 "
        f"net.ipv6.conf.default.accept_dad=0")


def start_spillway(ns, config, pin_dir, sock, log, *extra, resolv_conf=None, wrap=()):
    """`spillway agent` in namespace ns, its output appended to the file log;
    returns the process once its control socket answers. Entered with
    `nsenter --net`, never `ip netns exec`, which hides the host's bpffs
    (design.md 6). wrap: a command that runs it (setpriv ...); resolv_conf:
    its /etc/resolv.conf (with_resolv_conf)."""
    cmd = [*wrap, SPILLWAY, "agent", "--config", config, "--pin-dir", pin_dir,
           "--socket", sock, *extra]
    if resolv_conf:
        cmd = with_resolv_conf(resolv_conf, cmd)
    out = open(log, "a")
    p = subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", *cmd], stdout=out, stderr=out)
    out.close()
    wait_until(f"the agent in {ns} to answer",
               lambda: p.poll() is not None or
               run([SPILLWAY, "status", "--socket", sock], check=False).returncode == 0)
    assert p.poll() is None, f"the agent in {ns} exited: {open(log).read()}"
    return p


def spillway_down(ns, pin_dir, sock):
    """`spillway down` in namespace ns, if the agent there pinned anything."""
    if os.path.exists(pin_dir):
        run(["nsenter", f"--net=/run/netns/{ns}", SPILLWAY, "down",
             "--pin-dir", pin_dir, "--socket", sock], check=False)


class Watch:
    """Samples a number (sample(): active_local, say) all along a case, in a
    thread; end() returns the highest it saw."""

    def __init__(self, sample):
        import threading
        self.sample, self.peak, self.samples = sample, 0, 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.sample())
            self.samples += 1
            time.sleep(0.02)

    def end(self):
        self.stop.set()
        self.t.join()
        assert self.samples > 10, self.samples
        return self.peak


class World:
    """Namespaces, the echo service, and an agent on node."""

    def __init__(self, tag):
        self.tag = f"{PREFIX}-{tag}-{os.getpid()}"
        self.client, self.node, self.svc = (f"{self.tag}-c", f"{self.tag}-n",
                                            f"{self.tag}-s")
        self.namespaces = [self.client, self.node, self.svc]   # removed by down()
        self.dir = f"/tmp/{self.tag}"
        self.pin_dir = f"/sys/fs/bpf/{self.tag}"
        self.socket = f"{self.dir}/run/spillway.sock"
        self.config = f"{self.dir}/etc/config.yaml"
        self.log = f"{self.dir}/agent.log"
        self.agent = None
        self.echo = None
        self.conns = []

    # -- setup and teardown --------------------------------------------
    def prepare(self):
        """The world's directory, and certificates from a common root, one
        leaf per cluster (tls.dir: certs/CLUSTER)."""
        os.makedirs(f"{self.dir}/etc")
        self.certs = f"{self.dir}/pki"
        run([os.path.join(ROOT, "scripts", "gen-certs.sh"), self.certs,
             "cluster1", "cluster2"])

    def up(self):
        self.prepare()
        c, n, s = self.client, self.node, self.svc
        for ns in (c, n, s):
            add_netns(ns)
        run(f"ip -n {c} link add c0 type veth peer name n0 netns {n}")
        run(f"ip -n {n} link add n1 type veth peer name s0 netns {s}")
        for cmd in (
            f"ip -n {c} addr add 10.0.0.2/24 dev c0",
            f"ip -n {c} addr add fd00:1::2/64 dev c0 nodad",
            f"ip -n {c} link set c0 up", f"ip -n {c} link set lo up",
            f"ip -n {c} route add default via 10.0.0.1",
            f"ip -n {c} -6 route add default via fd00:1::1",
            f"ip -n {n} addr add 10.0.0.1/24 dev n0",
            f"ip -n {n} addr add fd00:1::1/64 dev n0 nodad",
            f"ip -n {n} addr add 10.1.0.1/24 dev n1",
            f"ip -n {n} addr add fd00:2::1/64 dev n1 nodad",
            f"ip -n {n} link set n0 up", f"ip -n {n} link set n1 up",
            f"ip -n {n} link set lo up",
            f"ip -n {n} route add {VIP4}/32 via 10.1.0.2",
            f"ip -n {n} -6 route add {VIP6}/128 via fd00:2::2",
            f"ip netns exec {n} sysctl -qw net.ipv4.ip_forward=1 "
            f"net.ipv6.conf.all.forwarding=1",
            f"ip -n {s} addr add 10.1.0.2/24 dev s0",
            f"ip -n {s} addr add fd00:2::2/64 dev s0 nodad",
            f"ip -n {s} addr add {VIP4}/32 dev lo",
            f"ip -n {s} addr add {VIP6}/128 dev lo",
            f"ip -n {s} link set s0 up", f"ip -n {s} link set lo up",
            f"ip -n {s} route add default via 10.1.0.1",
            f"ip -n {s} -6 route add default via fd00:2::1",
        ):
            run(cmd)
        self.echo = start_echo(s, "local", f"{self.dir}/echo.log",
                               f"{VIP4}:{PORT}", f"[{VIP6}]:{PORT}")
        return self

    def down(self):
        for c in self.conns:
            c.close()
        if self.agent and self.agent.poll() is None:
            self.agent.kill()
            self.agent.wait()
        if self.echo:
            self.echo.kill()
            self.echo.wait()
        spillway_down(self.node, self.pin_dir, self.socket)
        for ns in self.namespaces:
            run(f"ip netns del {ns}", check=False)
        run(["rm", "-rf", self.dir], check=False)

    # -- the agent -------------------------------------------------------
    def write_config(self, text, path=None):
        """SW_TEST_WORKERS=N in the environment: every agent runs N tunnel
        workers (tunnel.workers) unless the text sets it; by default the
        agent's own default (one per CPU)."""
        path = path or self.config
        workers = os.environ.get("SW_TEST_WORKERS")
        if workers and "workers:" not in text:
            line = f"  workers: {int(workers)}\n"
            text = (text.replace("\ntunnel:\n", "\ntunnel:\n" + line, 1)
                    if "\ntunnel:\n" in text else
                    text + ("" if text.endswith("\n") else "\n") + "tunnel:\n" + line)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)

    def start_agent(self, *extra, resolv_conf=None):
        """resolv_conf: the agent's /etc/resolv.conf (with_resolv_conf)."""
        self.agent = start_spillway(self.node, self.config, self.pin_dir, self.socket,
                                    self.log, *extra, resolv_conf=resolv_conf)
        return self.agent

    def kill_agent(self, sig=signal.SIGKILL):
        self.agent.send_signal(sig)
        return self.agent.wait(timeout=WAIT_S)

    def log_text(self):
        return open(self.log).read() if os.path.exists(self.log) else ""

    def cli(self, *args, check=True):
        return run([SPILLWAY, *args, "--socket", self.socket], check=check)

    def status(self):
        return json.loads(self.cli("status", "--json").stdout)

    def service(self, name):
        for s in self.status()["services"]:
            if s["name"] == name:
                return s
        raise AssertionError(f"no service {name} in status")

    def wait_counts(self, name, local, remote=0):
        wait_until(f"{name}: local {local}, remote {remote}",
                   lambda: (lambda s: s["active_local"] == local and
                            s["active_remote"] == remote)(self.service(name)))

    # -- clients -----------------------------------------------------------
    def dial(self, family=4):
        with netns(self.client):
            s = socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6)
        s.settimeout(WAIT_S)
        s.connect((VIP4 if family == 4 else VIP6, PORT))
        assert s.recv(6) == b"local\n"
        self.conns.append(s)
        return s

    @staticmethod
    def echo_ok(s):
        s.sendall(b"ping\n")
        got = b""
        while len(got) < 5:
            got += s.recv(5 - len(got))
        assert got == b"ping\n", got

    def hang_up(self, s):
        self.conns.remove(s)
        s.close()

    def http(self, path, ns=None, port=15020):
        """GET http://127.0.0.1:port/path (metrics.listen) from inside ns
        (default node)."""
        import http.client
        with netns(ns or self.node):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
            c.connect()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return r.status, body


def run_cases(suite, test_globals, make_world, log_of):
    """Run the test_* functions of a module, each in a fresh world; one line
    per case as the C tests print; a name prefix in argv[1] picks cases."""
    import sys
    import traceback
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    cases = [(name[len("test_"):].replace("_", "-"), fn)
             for name, fn in list(test_globals.items()) if name.startswith("test_")]
    ran = failed = 0
    for name, fn in cases:
        if not name.startswith(only):
            continue
        ran += 1
        w = make_world(name[:12])
        start = time.monotonic()
        try:
            w.up()
            fn(w)
            print(f"ok   {suite}/{name} ({time.monotonic() - start:.2f}s)", flush=True)
        except Exception:
            failed += 1
            traceback.print_exc()
            print(log_of(w), file=sys.stderr)
            print(f"FAIL {suite}/{name}", flush=True)
        finally:
            w.down()
    print(f"{suite}: {ran} run, {failed} failed")
    return 1 if failed or not ran else 0
