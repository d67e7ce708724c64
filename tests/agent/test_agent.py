#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The agent and the CLI, end to end: a real agent in a network namespace,
the real datapath on a veth, real TCP connections held by this test, and the
spillway binary as a user runs it. Run one case: test_agent.py NAME-PREFIX"""
import json
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from metrics import check_metrics  # noqa: E402
from netns import (SPILLWAY, WAIT_S, World, netns, run, run_cases,  # noqa: E402
                   start_dns, start_echo, start_spillway, wait_until)

SVC4 = "echo.default.svc.cluster.local"
SVC6 = "echo6.default.svc.cluster.local"


def config(w, max4=5, resume4=None, attach="tc", extra="", more_ifaces=""):
    iface = ("n0" if attach == "tc" else "{name: n0, attach: xdp}") + more_ifaces
    resume = f"\n    resume_below: {resume4}" if resume4 else ""
    return f"""cluster: cluster1
interfaces: [{iface}]
tls:
  dir: {w.certs}/cluster1
  allow_identities: [spiffe://cluster.local/ns/spillway/sa/spillway]
remotes:
  - name: cluster2
    gateway: 192.0.2.7:15008
services:
  - name: {SVC4}
    vip: 10.96.0.10
    port: 80
    max_connections: {max4}{resume}
    overflow_to: [cluster2]
  - name: {SVC6}
    vip: fd00:96::10
    port: 80
    max_connections: 10
metrics:
  listen: 127.0.0.1:15020
datapath:
  collect_interval: 1s
{extra}"""


def started(w, **kw):
    w.write_config(config(w, **kw))
    w.start_agent()
    return w


# ---------------------------------------------------------------------------

def test_status_counts_held_connections(w):
    started(w)
    held4 = [w.dial(4) for _ in range(3)]
    held6 = [w.dial(6) for _ in range(2)]
    w.wait_counts(SVC4, 3)
    w.wait_counts(SVC6, 2)
    st = w.status()
    assert st["cluster"] == "cluster1"
    s4 = w.service(SVC4)
    assert s4 == {"name": SVC4, "vip": "10.96.0.10", "port": 80,
                  "protocol": "tcp", "max_connections": 5, "resume_below": 5,
                  "active_local": 3, "active_remote": 0, "local_total": 3,
                  "overflowed_total": 0,
                  "overflow_unavailable_total": 0, "local_fallback_total": 0,
                  "handshakes_aged_total": 0, "state": "normal"}, s4
    assert st["remotes"] == [{"name": "cluster2", "gateway": "192.0.2.7:15008",
                              "healthy": False, "ejected_ms": 0, "connections": 0,
                              "streams": 0}], st["remotes"]
    # The table a person reads: aligned, one line per service.
    text = w.cli("status").stdout
    line = [l for l in text.splitlines() if l.startswith(SVC4)][0]
    assert re.search(r"10\.96\.0\.10:80\s+5\s+5\s+3\s+0\s+0\s+0\s+normal", line), text
    assert "[fd00:96::10]:80" in text, text
    assert re.search(r"^cluster2\s+192\.0\.2\.7:15008\s+0\s+0\s+no$", text, re.M), text
    # The flow table, as JSON and as a table, addresses as addresses.
    fl = __import__("json").loads(w.cli("flows", "--json").stdout)
    assert fl["shown"] == 5 and not fl["more"], fl
    ports = sorted(f["client_port"] for f in fl["flows"] if f["service"] == SVC4)
    assert ports == sorted(s.getsockname()[1] for s in held4), (ports, fl)
    assert all(f["decision"] == "local" and f["state"] == "established"
               for f in fl["flows"]), fl
    assert {f["client"] for f in fl["flows"]} == {"10.0.0.2", "fd00:1::2"}, fl
    only6 = __import__("json").loads(w.cli("flows", "--json", "--service", SVC6).stdout)
    assert only6["shown"] == 2 and not only6["more"], only6
    limited = w.cli("flows", "--limit", "1").stdout
    assert "(the first 1 flows shown, more match" in limited, limited
    assert len(limited.splitlines()) == 3, limited      # header, 1 flow, footer
    limited = __import__("json").loads(w.cli("flows", "--json", "--limit", "5").stdout)
    assert limited["shown"] == 5 and not limited["more"], limited
    for s in held4 + held6:
        w.echo_ok(s)
    w.hang_up(held4[0])
    w.wait_counts(SVC4, 2)


def add_pod(w, link, n):
    """A pod: a namespace whose eth0 pairs with the node's `link`, 10.0.N.2
    behind 10.0.N.1, as a CNI would make it after the agent started."""
    pod = f"{w.tag}-p{n}"
    run(f"ip netns add {pod}")
    w.pods = getattr(w, "pods", []) + [pod]
    run(f"ip -n {pod} link add eth0 type veth peer name {link} netns {w.node}")
    for cmd in (f"ip -n {pod} addr add 10.0.{n}.2/24 dev eth0", f"ip -n {pod} link set eth0 up",
                f"ip -n {pod} link set lo up", f"ip -n {pod} route add default via 10.0.{n}.1",
                f"ip -n {w.node} addr add 10.0.{n}.1/24 dev {link}",
                f"ip -n {w.node} link set {link} up"):
        run(cmd)
    return pod


def dial_from(w, pod):
    import socket
    from netns import netns
    with netns(pod):
        s = socket.create_connection(("10.96.0.10", 80), timeout=10)
    w.conns.append(s)
    assert s.recv(6) == b"local\n"
    return s


def attached(w):
    return [(i["name"], i["attach"], i["matched"]) for i in w.status()["interfaces"]]


def test_interfaces_by_pattern(w):
    """Pods' host-side links (here pod*) appear and go after the agent
    started: each matching one is attached as it appears, under the mode
    its entry gives, counted from its first connection, and let go when it
    goes; a link of the same name later is attached afresh (XDP too)."""
    try:
        for n, (entry, mode) in enumerate((('"pod*"', "tc"),
                                           ("{name: 'pod*', attach: xdp}", "xdp")), 1):
            w.write_config(config(w, more_ifaces=f", {entry}"))
            if n == 1:
                w.start_agent()
            else:
                run(["kill", "-HUP", str(w.agent.pid)])
                wait_until("the reload", lambda: "reloaded" in w.log_text())
            assert attached(w) == [("n0", "tc", "n0")], attached(w)
            for k in range(2):                 # a second life, the same name
                pod = add_pod(w, "podA", 10 + n)
                wait_until("podA attached", lambda: ("podA", mode, "pod*") in attached(w))
                assert f"interface podA appeared (matches pod*): attached, {mode} mode" \
                    in w.log_text()
                if mode == "xdp":
                    assert "xdp" in run(f"ip -n {w.node} link show podA").stdout
                held = [dial_from(w, pod) for _ in range(2)]
                w.wait_counts(SVC4, 2)
                if k == 0:                     # closed as usual: FINs
                    for c in held:
                        c.close()
                        w.conns.remove(c)
                    w.wait_counts(SVC4, 0)
                # The pod goes: CNI DEL deletes its veth, and with k == 1 its
                # two connections are open: no FIN or RST reaches the
                # datapath. (This test's sockets keep the namespace alive,
                # as the pod's processes would not: the link goes first.)
                run(f"ip -n {w.node} link del podA")
                run(f"ip netns del {pod}")
                w.pods.remove(pod)
                wait_until("podA let go", lambda: attached(w) == [("n0", "tc", "n0")])
                w.wait_counts(SVC4, 0)
                assert (f"interface podA (matched pod*) is gone: {2 * k} flow(s) of "
                        f"its clients released") in w.log_text(), w.log_text()
        status, body = w.http("/metrics")
        assert "spillway_interface_gone_flows_released_total 4" in body, body
        # Gone while the agent was down, back under the same name: the XDP
        # link pinned for the first is defunct; the second gets a fresh one.
        pod = add_pod(w, "podA", 30)
        wait_until("podA attached", lambda: ("podA", "xdp", "pod*") in attached(w))
        w.kill_agent()
        run(f"ip netns del {pod}")
        w.pods.remove(pod)
        pod = add_pod(w, "podA", 31)
        w.start_agent()
        assert ("podA", "xdp", "pod*") in attached(w), attached(w)
        assert "xdp" in run(f"ip -n {w.node} link show podA").stdout
        run(f"ip netns del {pod}")
        w.pods.remove(pod)
        wait_until("podA let go", lambda: attached(w) == [("n0", "tc", "n0")])
        text = w.cli("status").stdout
        assert "interfaces: n0 (tc)" in text, text
        status, body = w.http("/metrics")
        assert "spillway_interfaces_attached 1" in body, body
    finally:
        for pod in getattr(w, "pods", []):
            run(f"ip netns del {pod}", check=False)


def dial_to(w, addr):
    import socket
    with netns(w.client):
        s = socket.create_connection((addr, 80), timeout=10)
    w.conns.append(s)
    assert s.recv(6) == b"local\n"
    return s


def vips(w, name):
    return sorted((x["vip"], x["active_local"]) for x in w.status()["services"]
                  if x["name"] == name)


def test_vips_from_name(w):
    """A service with no vip takes its VIPs from its name, as the node's
    resolver answers it (A and AAAA: a dual-stack Service has both), looked
    up again every resolve_interval: a Service re-created with a new
    ClusterIP is followed without a restart, the connection already open
    keeps working, and a name that stops resolving keeps its last VIPs."""
    records = f"{w.dir}/etc/records"
    with open(records, "w") as f:
        f.write(f"{SVC4}=10.96.0.10,fd00:96::10\n")
    resolv = f"{w.dir}/etc/resolv.conf"
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    w.dns = start_dns(w.node, f"{w.dir}/dns.log", "127.0.0.1:53", 0, records)
    try:
        text = config(w).replace("    vip: 10.96.0.10\n", "")
        six = text.index(f"  - name: {SVC6}")          # its VIP is the name's now
        text = text[:six] + text[text.index("metrics:"):]
        w.write_config(text + "agent:\n  resolve_interval: 1s\n")
        w.start_agent(resolv_conf=resolv)
        wait_until("the name's VIPs", lambda: vips(w, SVC4) == [
            ("10.96.0.10", 0), ("fd00:96::10", 0)])
        held = [w.dial(4), w.dial(6)]
        wait_until("both counted", lambda: vips(w, SVC4) == [
            ("10.96.0.10", 1), ("fd00:96::10", 1)])
        # Both VIPs take the CLI's threshold; flows --service finds both.
        assert "max_connections 3" in w.cli("service", "set", SVC4,
                                            "--max-connections", "3").stdout
        assert {x["max_connections"] for x in w.status()["services"]
                if x["name"] == SVC4} == {3}
        flows = json.loads(w.cli("flows", "--json", "--service", SVC4).stdout)
        assert flows["shown"] == 2, flows
        # The Service is re-created with a new ClusterIP, IPv4 only.
        run(f"ip -n {w.svc} addr add 10.96.0.11/32 dev lo")
        run(f"ip -n {w.node} route add 10.96.0.11/32 via 10.1.0.2")
        w.echo2 = start_echo(w.svc, "local", f"{w.dir}/echo2.log", "10.96.0.11:80")
        with open(records, "w") as f:
            f.write(f"{SVC4}=10.96.0.11\n")
        wait_until("the new VIP", lambda: vips(w, SVC4) == [("10.96.0.11", 0)])
        assert (f"service {SVC4}: VIPs 10.96.0.11 (were 10.96.0.10, fd00:96::10)"
                in w.log_text()), w.log_text()
        for s in held:                     # open connections keep working
            w.echo_ok(s)
        dial_to(w, "10.96.0.11")
        wait_until("counted on the new VIP", lambda: vips(w, SVC4) == [("10.96.0.11", 1)])
        # The name stops resolving: its last VIPs stay.
        with open(records, "w") as f:
            f.write("")
        wait_until("the warning", lambda: f"service {SVC4}: the name does not "
                   "resolve" in w.log_text())
        assert "keeping its VIPs" in w.log_text()
        assert vips(w, SVC4) == [("10.96.0.11", 1)]
        st = w.status()
        assert st["resolver"]["queries"] >= 3 and st["resolver"]["failed"] >= 1, st
    finally:
        for p in (w.dns, getattr(w, "echo2", None)):
            if p:
                p.kill()
                p.wait()


def test_service_set_live(w):
    started(w)
    a, b = w.dial(), w.dial()
    w.wait_counts(SVC4, 2)
    r = w.cli("service", "set", SVC4, "--max-connections", "1")
    assert "max_connections 1, resume_below 1" in r.stdout, r.stdout
    s = w.service(SVC4)
    assert (s["max_connections"], s["resume_below"]) == (1, 1), s
    w.echo_ok(a)            # nothing moved
    w.echo_ok(b)
    c = w.dial()            # over the threshold, no healthy remote: kept local
    w.wait_counts(SVC4, 3)
    s = w.service(SVC4)
    assert s["overflow_unavailable_total"] == 1 and s["state"] == "overflowing", s
    w.echo_ok(c)
    w.cli("service", "set", SVC4, "--max-connections", "8", "--resume-below", "4")
    s = w.service(SVC4)
    assert (s["max_connections"], s["resume_below"]) == (8, 4), s
    # Raised above what is held: normal at once, no new connection needed.
    assert s["state"] == "normal", s
    # Overflowing again (threshold 2, three held), then every connection
    # closes: normal as soon as they are released, before any new SYN, in
    # status and in /metrics (an alert on it must not fire on an idle service).
    w.cli("service", "set", SVC4, "--max-connections", "2")
    assert w.service(SVC4)["state"] == "overflowing"
    status, body = w.http("/metrics")
    assert f'spillway_service_overflowing{{service="{SVC4}",vip="10.96.0.10",port="80"}} 1' \
        in body, body
    for s in (a, b, c):
        w.hang_up(s)
    w.wait_counts(SVC4, 0)
    assert w.service(SVC4)["state"] == "normal", w.service(SVC4)
    status, body = w.http("/metrics")
    assert f'spillway_service_overflowing{{service="{SVC4}",vip="10.96.0.10",port="80"}} 0' \
        in body, body
    w.cli("service", "set", SVC4, "--max-connections", "8", "--resume-below", "4")
    # Errors: clear message, non-zero status, nothing changed.
    r = w.cli("service", "set", "nope.svc", "--max-connections", "3", check=False)
    assert r.returncode == 1 and "no service named 'nope.svc'" in r.stderr, r
    for bad in (["--max-connections", "0"], ["--max-connections", "x"],
                ["--max-connections", "3", "--resume-below", "4"], []):
        r = w.cli("service", "set", SVC4, *bad, check=False)
        assert r.returncode == 2 and r.stderr.startswith("spillway service"), (bad, r)
    assert w.service(SVC4)["max_connections"] == 8


def test_config_edit_and_symlink_swap(w):
    # Lay the file out the way a Kubernetes ConfigMap volume does.
    etc = os.path.dirname(w.config)
    os.makedirs(f"{etc}/..v1")
    w.write_config(config(w, max4=5), f"{etc}/..v1/config.yaml")
    os.symlink("..v1", f"{etc}/..data")
    os.symlink("..data/config.yaml", w.config)
    w.start_agent()
    assert w.service(SVC4)["max_connections"] == 5
    # An edit in place (through the symlinks) is picked up...
    w.write_config(config(w, max4=7), f"{etc}/..v1/config.yaml")
    wait_until("max 7", lambda: w.service(SVC4)["max_connections"] == 7)
    # ...and so is the ..data swap Kubernetes makes.
    os.makedirs(f"{etc}/..v2")
    w.write_config(config(w, max4=9, resume4=3), f"{etc}/..v2/config.yaml")
    os.symlink("..v2", f"{etc}/..data_tmp")
    os.rename(f"{etc}/..data_tmp", f"{etc}/..data")
    wait_until("max 9", lambda: w.service(SVC4)["max_connections"] == 9)
    assert w.service(SVC4)["resume_below"] == 3
    # SIGHUP reloads too.
    w.write_config(config(w, max4=11), f"{etc}/..v2/config.yaml")
    wait_until("max 11", lambda: w.service(SVC4)["max_connections"] == 11)
    w.agent.send_signal(signal.SIGHUP)
    wait_until("SIGHUP logged", lambda: "SIGHUP: reloading" in w.log_text())


def test_bad_reload_rejected(w):
    started(w)
    held = [w.dial() for _ in range(2)]
    w.wait_counts(SVC4, 2)
    w.write_config(config(w, max4=0))
    wait_until("the rejection", lambda: "reload rejected" in w.log_text())
    log = w.log_text()
    assert re.search(r"config\.yaml:\d+:\d+: services\[0\]\.max_connections", log), log
    assert w.service(SVC4)["max_connections"] == 5       # state kept
    w.write_config("cluster: [unclosed\n")
    wait_until("two rejections", lambda: w.log_text().count("reload rejected") >= 2)
    for s in held:
        w.echo_ok(s)
    status, body = w.http("/metrics")
    assert 'spillway_config_reloads_total{result="rejected"} 2' in body, body
    w.write_config(config(w, max4=6))
    wait_until("max 6", lambda: w.service(SVC4)["max_connections"] == 6)
    assert w.agent.poll() is None


def test_kill9_keeps_connections_and_counters(w):
    started(w)
    held = [w.dial() for _ in range(4)]
    w.wait_counts(SVC4, 4)
    before = w.service(SVC4)
    w.kill_agent(signal.SIGKILL)
    for s in held:                      # no agent: connections still flow
        w.echo_ok(s)
    r = w.cli("status", check=False)
    assert r.returncode == 1 and "cannot reach the agent" in r.stderr, r
    w.start_agent()
    assert "adopted (flows and counters kept)" in w.log_text()
    after = w.service(SVC4)
    assert after == before, (before, after)
    for s in held:
        w.echo_ok(s)
    w.hang_up(held[0])
    w.wait_counts(SVC4, 3)              # and it keeps counting


def pin_as_layout_2(pin_dir):
    """Rewrite the pins as an agent of map layout 2 left them: its services
    values ended at epoch, before the handshake buckets and
    handshakes_aged_total (24 bytes). The attached programs go on counting
    in the unpinned new map."""
    path = f"{pin_dir}/services"
    info = json.loads(run(["bpftool", "-j", "map", "show", "pinned", path]).stdout)
    entries = json.loads(run(["bpftool", "-j", "map", "dump", "pinned", path]).stdout)
    v2 = f"{pin_dir}/v2services"
    run(["bpftool", "map", "create", v2, "type", "hash", "key",
         str(info["bytes_key"]), "value", str(info["bytes_value"] - 24),
         "entries", str(info["max_entries"]), "name", "services", "flags", "1"])
    for e in entries:
        value = e["value"][:-24]
        run(["bpftool", "map", "update", "pinned", v2, "key", "hex"] +
            [b[2:] for b in e["key"]] + ["value", "hex"] + [b[2:] for b in value])
    os.rename(v2, path)
    run(["bpftool", "map", "update", "pinned", f"{pin_dir}/layout",
         "key", "0", "0", "0", "0", "value", "2", "0", "0", "0"])


def test_upgrade_from_layout_2(w):
    """A rolling update to a new map layout: the new agent upgrades the
    pinned maps in place instead of refusing them; held connections and
    counters carry over and it keeps counting."""
    started(w, attach="xdp")
    held = [w.dial() for _ in range(3)]
    w.wait_counts(SVC4, 3)
    before = w.service(SVC4)
    w.kill_agent(signal.SIGTERM)
    pin_as_layout_2(w.pin_dir)
    w.start_agent()
    log = w.log_text()
    assert "maps of an older layout found (upgrading)" in log, log
    assert "upgraded from layout version 2 to 3: 2 services" in log, log
    assert w.service(SVC4) == before, (before, w.service(SVC4))
    assert sorted(os.listdir(w.pin_dir)) == sorted(
        ["agent", "clients", "flows", "layout", "links", "node_addrs", "remotes",
         "services", "stats", "svc_filter"]), os.listdir(w.pin_dir)
    dump = run(["bpftool", "map", "dump", "pinned", f"{w.pin_dir}/services"]).stdout
    assert "handshakes_aged_total" in dump, dump
    for s in held:
        w.echo_ok(s)
    w.hang_up(held[0])
    w.wait_counts(SVC4, 2)              # released into the new map
    extra = w.dial()
    w.wait_counts(SVC4, 3)
    w.echo_ok(extra)
    assert json.loads(w.cli("version", "--json").stdout)["layout_version"] == 3


def test_sigterm_leaves_datapath(w):
    started(w)
    held = w.dial()
    assert w.kill_agent(signal.SIGTERM) == 0
    assert "stopping; the datapath stays attached" in w.log_text()
    assert os.path.exists(f"{w.pin_dir}/flows")
    r = run(f"ip netns exec {w.node} tc filter show dev n0 ingress")
    assert "spill_tc_in" in r.stdout, r.stdout
    w.echo_ok(held)
    assert not os.path.exists(w.socket)


def test_node_early_demux_off(w):
    """Early demux would hand a local SYN the TIME_WAIT socket of a spilled
    connection from the same client port, and forwarding drops it."""
    def demux():
        return run(["nsenter", f"--net=/run/netns/{w.node}", "cat",
                    "/proc/sys/net/ipv4/tcp_early_demux"]).stdout.strip()
    assert demux() == "1"               # the default of a new namespace
    started(w)
    assert demux() == "0"
    assert "set net.ipv4.tcp_early_demux=0 (was 1)" in w.log_text()


def test_down_leaves_nothing(w):
    started(w, attach="xdp")
    held = w.dial()
    w.wait_counts(SVC4, 1)             # counted by the XDP program
    # What the agent says about the kernel and its XDP mode.
    assert re.search(r"info  kernel \S+: \d+ of \d+ datapath features present",
                     w.log_text()), w.log_text()
    handoff = "metadata" if "XDP metadata" not in w.log_text() else "flow-table"
    assert w.status()["datapath"] == {"loaded": True, "xdp_handoff": handoff,
                                      "xdp_meta_refused": False}, w.status()
    assert f"datapath: loaded; XDP mode hands off by {handoff}" in w.cli("status").stdout
    assert ("attach: tc costs less here" in w.log_text()) == (handoff == "flow-table")
    # Steered packets are kept out of conntrack (kube-proxy's NAT).
    table = run(f"ip netns exec {w.node} nft list table inet spillway").stdout
    assert "meta mark 0x00000053 notrack" in table, table
    down = ["nsenter", f"--net=/run/netns/{w.node}", SPILLWAY, "down",
            "--pin-dir", w.pin_dir, "--socket", w.socket]
    r = run(down, check=False)
    assert r.returncode == 1 and "an agent is running" in r.stderr, r
    w.kill_agent(signal.SIGTERM)
    r = run(down)
    assert "spillway is down" in r.stdout
    assert not os.path.exists(w.pin_dir)
    n = w.node
    assert "xdp" not in run(f"ip -n {n} link show n0").stdout
    for hook in ("ingress", "egress"):
        assert "spill" not in run(f"ip netns exec {n} tc filter show dev n0 {hook}").stdout
    assert "0x53" not in run(f"ip -n {n} rule show").stdout
    assert "0x53" not in run(f"ip -n {n} -6 rule show").stdout
    assert run(f"ip -n {n} route show table 153").stdout.strip() == ""
    assert "spillway" not in run(f"ip netns exec {n} nft list tables").stdout
    w.echo_ok(held)


def test_metrics_and_health_json_log(w):
    w.write_config(config(w))
    w.start_agent("--log-format", "json")
    # Every log line is one JSON object with a level and a message (the
    # last line may be half written as we read: only whole lines count).
    lines = w.log_text().split("\n")[:-1]
    assert lines, "no log"
    for line in lines:
        rec = __import__("json").loads(line)
        assert rec["level"] in ("debug", "info", "warn", "error") and rec["msg"], rec
    assert any("ready: control socket" in __import__("json").loads(l)["msg"]
               for l in lines), lines
    [w.dial() for _ in range(2)]
    w.wait_counts(SVC4, 2)
    status, body = w.http("/metrics")
    assert status == 200
    for want in (
        f'spillway_service_active_connections{{service="{SVC4}",vip="10.96.0.10",port="80",location="local"}} 2',
        f'spillway_service_active_connections{{service="{SVC4}",vip="10.96.0.10",port="80",location="remote"}} 0',
        f'spillway_service_max_connections{{service="{SVC4}",vip="10.96.0.10",port="80"}} 5',
        f'spillway_service_overflowing{{service="{SVC4}",vip="10.96.0.10",port="80"}} 0',
        'spillway_remote_healthy{remote="cluster2"} 0',
        'spillway_datapath_new_connections_total{decision="local"} 2',
        'spillway_ready 1',
        '# TYPE spillway_datapath_passed_total counter',
        'spillway_flow_table_capacity 1048576',
        'spillway_build_info{version="',
    ):
        assert want in body, (want, body)
    check_metrics(body)
    assert re.search(r"^spillway_certificate_not_after_timestamp_seconds \d{10}$",
                     body, re.M), body
    # One HELP text per family: none shares another's words.
    helps = re.findall(r"^# HELP (\S+) (.*)$", body, re.M)
    texts = [text for _, text in helps]
    assert len(set(texts)) == len(texts), sorted(texts)
    assert json.loads(w.cli("status", "--json").stdout)["ready"] is True
    # The flow table's use, as the collector (every 1 s here) counts it.
    wait_until("the flow table's two entries counted", lambda: re.search(
        r"^spillway_flow_table_entries 2$", w.http("/metrics")[1], re.M))
    assert w.http("/healthz") == (200, "ok\n")
    assert w.http("/readyz") == (200, "ready\n")
    assert w.http("/nope")[0] == 404


def test_cli_verbs_and_errors(w):
    # Without an agent: every agent verb says so, exit 1.
    for verb in (["status"], ["flows"], ["service", "set", SVC4, "--max-connections", "2"]):
        r = w.cli(*verb, check=False)
        assert r.returncode == 1 and "cannot reach the agent" in r.stderr, (verb, r)
    started(w)
    all_verbs = ["agent", "check", "status", "service", "flows", "top", "down", "istio",
                 "version", "completion", "help"]
    for verb in all_verbs:
        r = run([SPILLWAY, verb, "--help"])
        assert r.stdout.startswith(f"Usage: spillway {verb}"), (verb, r.stdout)
    r = run([SPILLWAY, "help"])
    verbs = re.findall(r"^  (\w+) ", r.stdout, re.M)
    assert verbs == all_verbs, verbs
    # As most tools: --help and -h are 'help', --version is 'version'.
    for opt in ("--help", "-h"):
        assert run([SPILLWAY, opt]).stdout == r.stdout, opt
    assert run([SPILLWAY, "--help", "top"]).stdout.startswith("Usage: spillway top")
    assert run([SPILLWAY, "--version"]).stdout == run([SPILLWAY, "version"]).stdout
    # Each error names the verb once, whether the CLI or the agent found it.
    for args, status, want in (
            (["status", "--bogus"], 2, "spillway status: unknown option '--bogus' "
             "(see 'spillway status --help')\n"),
            (["flows", "--limit", "-1"], 2, "spillway flows: --limit '-1' is not "),
            (["service", "set", SVC4, "--max-connections", "3", "--resume-below", "4"],
             2, "spillway service: --resume-below 4 is more than"),
            (["service", "set", "nope.svc", "--max-connections", "3"], 1,
             "spillway service: no service named 'nope.svc'"),
            (["flows", "--service", "nope"], 1, "spillway flows: "),
            (["top", "--socket", f"{w.dir}/none.sock"], 1,
             "spillway top: cannot reach the agent")):
        socket = [] if "--socket" in args else ["--socket", w.socket]
        r = run([SPILLWAY, *args, *socket], check=False)
        assert r.returncode == status and r.stderr.startswith(want), (args, r)
        assert r.stderr.count(f"{args[0]}:") == 1 and r.stderr.count("\n") == 1, \
            (args, r.stderr)
    # The man page and the CLI reference document every verb.
    man = open(os.path.join(os.path.dirname(SPILLWAY), "..", "doc", "spillway.8")).read()
    cli = open(os.path.join(os.path.dirname(SPILLWAY), "..", "doc", "cli.md")).read()
    for verb in verbs:
        assert f".B spillway {verb}" in man, f"spillway.8 lacks {verb}"
        assert f"spillway {verb}" in cli, f"doc/cli.md lacks {verb}"
    assert run([SPILLWAY, "bogus"], check=False).returncode == 2
    v = __import__("json").loads(run([SPILLWAY, "version", "--json"]).stdout)
    assert v["layout_version"] >= 1 and v["version"], v
    # Only root may control the agent (the socket is 0600).
    assert oct(os.stat(w.socket).st_mode & 0o777) == "0o600"
    r = run(["runuser", "-u", "nobody", "--", SPILLWAY, "status", "--socket",
             w.socket], check=False)
    assert r.returncode == 1 and "Permission denied" in r.stderr, r


def test_idle_metrics_connections_cannot_starve_healthz(w):
    """100 idle connections from one address take at most its share of the
    metrics server: /healthz from another address still answers."""
    import socket
    started(w)
    idle = []
    with netns(w.node):
        for _ in range(100):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            try:
                s.connect(("127.0.0.1", 15020))
            except OSError:
                pass
            idle.append(s)
    ok = 0
    for _ in range(10):
        with netns(w.node):
            c = socket.create_connection(("127.0.0.1", 15020), timeout=2)
        try:
            c.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            ok += c.recv(64).split(b" ")[1:2] == [b"200"]
        except OSError:
            pass
        c.close()
    for s in idle:
        s.close()
    assert ok == 10, f"{ok} of 10 /healthz answered 200"


def heartbeat(w):
    """The pinned `agent` map's value, as bpftool dumps it."""
    return run(["bpftool", "-j", "map", "dump", "pinned", f"{w.pin_dir}/agent"]).stdout


def test_control_clients_cannot_freeze_agent(w):
    """A client that never reads its reply and one that sends a byte a second
    (never finishing its request) hold the agent's event loop nowhere: every
    `status` answers and the heartbeat keeps moving."""
    import socket
    import time
    started(w)
    held = [w.dial(4) for _ in range(3)]
    w.wait_counts(SVC4, 3)
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.connect(w.socket)
    stalled.sendall(b"flows\0--limit\0" + b"0\0")
    stalled.shutdown(socket.SHUT_WR)                    # and never reads
    loris = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    loris.connect(w.socket)
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(w.socket)                            # sends nothing
    answered, beats, loris_cut = 0, set(), False
    for i in range(10):
        try:
            loris.send(b"status"[i % 6:i % 6 + 1])
        except OSError:
            loris_cut = True
        answered += w.cli("status", "--json", check=False).returncode == 0
        beats.add(heartbeat(w))
        time.sleep(1)
    assert answered == 10, f"{answered} of 10 status calls answered"
    assert len(beats) >= 5, f"the heartbeat took {len(beats)} values in 10 s"
    # The slow client was cut off at its deadline, with no answer.
    loris.settimeout(WAIT_S)
    assert loris_cut or loris.recv(100) == b"", "the slow client is still served"
    assert "did not finish its request" in w.log_text(), w.log_text()
    for s in (stalled, loris, silent):
        s.close()
    # More arguments than the agent takes: refused, not cut short.
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(w.socket)
    c.sendall(b"status\0" + b"--json\0" * 40)
    c.shutdown(socket.SHUT_WR)
    c.settimeout(WAIT_S)
    reply = b""
    while chunk := c.recv(4096):
        reply += chunk
    c.close()
    assert reply.startswith(b"2\nthe request has more than 32 arguments"), reply
    for s in held:
        w.echo_ok(s)


def cpu_cgroup(name, quota_us, period_us=100000):
    """A cgroup with a CPU quota (what a pod's CPU limit becomes), in the
    hierarchy that has the cpu controller (v1 on a hybrid host, else v2);
    returns its directory."""
    v1 = v2 = None
    for line in open("/proc/self/mountinfo"):
        fields, _, tail = line.partition(" - ")
        fstype, _, opts = tail.split()[:3]
        point = fields.split()[4]
        if fstype == "cgroup" and "cpu" in opts.split(","):
            v1 = point
        elif fstype == "cgroup2":
            v2 = point
    if v1:
        d = f"{v1}/{name}"
        os.mkdir(d)
        open(f"{d}/cpu.cfs_period_us", "w").write(str(period_us))
        open(f"{d}/cpu.cfs_quota_us", "w").write(str(quota_us))
        return d
    assert v2 and "cpu" in open(f"{v2}/cgroup.controllers").read().split(), \
        "no cgroup hierarchy here has the cpu controller"
    open(f"{v2}/cgroup.subtree_control", "w").write("+cpu")
    d = f"{v2}/{name}"
    os.mkdir(d)
    open(f"{d}/cpu.max", "w").write(f"{quota_us} {period_us}")
    return d


def test_workers_follow_the_cpu_quota(w):
    """Without tunnel.workers the agent runs a tunnel worker per CPU it may
    use: in a cgroup with a quota of half a CPU (a pod's limit of 500m),
    one, though its affinity mask has more."""
    assert len(os.sched_getaffinity(0)) >= 2, "needs two CPUs to tell"
    cg = cpu_cgroup(f"{w.node}-quota", 50000)
    try:
        w.write_config(config(w))
        w.agent = start_spillway(w.node, w.config, w.pin_dir, w.socket, w.log,
                                 wrap=["sh", "-c", 'echo $$ > "$0" && exec "$@"',
                                       f"{cg}/cgroup.procs"])
        assert w.status()["workers"]["count"] == 1, w.status()["workers"]
        assert re.search(r"1 tunnel worker\(s\): one per CPU the agent may use: \d+ in "
                         r"its affinity mask, a CPU quota of 0\.50 \(" + re.escape(cg),
                         w.log_text()), w.log_text()
    finally:
        if w.agent:
            w.kill_agent()
        os.rmdir(cg)
    started(w)                          # outside it: one per CPU
    assert w.status()["workers"]["count"] == len(os.sched_getaffinity(0))


def test_check_config(w):
    """`spillway check`: the agent's own validation, without an agent."""
    w.write_config(config(w))
    r = run([SPILLWAY, "check", "--config", w.config])
    assert r.stdout == (f"{w.config}: ok: cluster cluster1, 2 service(s), "
                        "1 remote(s), 1 interface(s), 0 export(s)\n"), r.stdout
    # --print writes it with the defaults filled in, and that reads back.
    r = run([SPILLWAY, "check", "--config", w.config, "--print"])
    assert "resume_below: 5" in r.stdout and "flow_capacity:" in r.stdout, r.stdout
    printed = f"{w.dir}/printed.yaml"
    open(printed, "w").write(r.stdout)
    assert run([SPILLWAY, "check", "--config", printed]).returncode == 0
    w.write_config(config(w, max4=0))
    r = run([SPILLWAY, "check", "--config", w.config], check=False)
    assert r.returncode == 1 and re.search(
        r"config\.yaml:\d+:\d+: services\[0\]\.max_connections", r.stderr), r
    w.write_config(config(w).replace(f"{w.certs}/cluster1", f"{w.dir}/nocerts"))
    r = run([SPILLWAY, "check", "--config", w.config], check=False)
    assert r.returncode == 1 and "nocerts" in r.stderr, r
    assert run([SPILLWAY, "check"], check=False).returncode == 2


def test_one_agent_per_pin_dir_and_socket(w):
    started(w)
    other = run(["nsenter", f"--net=/run/netns/{w.node}", SPILLWAY, "agent",
                 "--config", w.config, "--pin-dir", w.pin_dir, "--socket",
                 f"{w.dir}/other.sock"], check=False, timeout=20)
    assert other.returncode == 1 and "another agent is running with pin directory" \
        in other.stderr, other
    other = run(["nsenter", f"--net=/run/netns/{w.node}", SPILLWAY, "agent",
                 "--config", w.config, "--pin-dir", w.pin_dir + "-2", "--socket",
                 w.socket], check=False, timeout=20)
    assert other.returncode == 1 and "another agent is serving" in other.stderr, other
    run(["rm", "-rf", w.pin_dir + "-2"], check=False)
    assert w.status()["cluster"] == "cluster1"


def test_bad_config_at_start(w):
    w.write_config(config(w, max4=5).replace("port: 80\n    max_connections: 5",
                                             "port: 0\n    max_connections: 5"))
    r = run(["nsenter", f"--net=/run/netns/{w.node}", SPILLWAY, "agent",
             "--config", w.config, "--pin-dir", w.pin_dir, "--socket",
             w.socket], check=False, timeout=20)
    assert r.returncode == 1, r
    assert re.search(r"config\.yaml:\d+:\d+: services\[0\]\.port", r.stderr), r.stderr
    assert not os.path.exists(w.pin_dir), "a rejected config loaded the datapath"
    w.write_config(config(w).replace("interfaces: [n0]", "interfaces: [nosuch0]"))
    r = run(["nsenter", f"--net=/run/netns/{w.node}", SPILLWAY, "agent",
             "--config", w.config, "--pin-dir", w.pin_dir, "--socket",
             w.socket], check=False, timeout=20)
    assert r.returncode == 1 and "no interface 'nosuch0'" in r.stderr, r.stderr


if __name__ == "__main__":
    sys.exit(run_cases("agent", globals(), World,
                       lambda w: f"---- agent log:\n{w.log_text()}----"))
