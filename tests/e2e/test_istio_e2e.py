#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`spillway istio import` end to end: the seed's Istio YAML (a
DestinationRule with maxConnections 5, a ServiceEntry whose second endpoint
is cluster 2's gateway in network2, a VirtualService and a Gateway), written
for the two-cluster sandbox, imported, and run by the cluster1 agent in
place of the sandbox's own configuration: the seed's scenario must behave
the same (the first 5 connections answered by cluster1, the next by
cluster2, none failing). Run one case: test_istio_e2e.py NAME"""
import json
import os
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from netns import SPILLWAY, Watch, run, run_cases, wait_until  # noqa: E402
from test_e2e import Sandbox  # noqa: E402

MAX = 5


def seed_yaml(service, vip, port, gateway_host, gateway_port):
    """The seed's four files, with the sandbox's service, VIP, port and
    cluster 2's gateway."""
    return {
        "echo-dr.yaml": f"""\
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: echo
  namespace: default
spec:
  host: {service}
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: {MAX}
        connectTimeout: 5s
      http:
        http1MaxPendingRequests: 1
        maxRequestsPerConnection: 1
    outlierDetection:
      consecutive5xxErrors: 2
      interval: 1s
      baseEjectionTime: 10s
""",
        "echo-entry.yaml": f"""\
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: echo
  namespace: default
spec:
  hosts:
    - {service}
  addresses:
    - {vip}
  ports:
    - number: {port}
      name: tcp-echo
      protocol: TCP
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
    - address: 10.1.0.2
      network: network1
      locality: region1/zone1
    - address: {gateway_host}
      network: network2
      locality: region2/zone1
      ports:
        tcp-echo: {gateway_port}
""",
        "echo-vs.yaml": f"""\
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: echo
  namespace: default
spec:
  hosts: [{service}]
  tcp:
    - route:
        - destination: {{host: {service}, port: {{number: {port}}}}}
""",
        "ingress-gw.yaml": """\
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: cross-network-gateway
  namespace: istio-system
spec:
  selector: {istio: eastwestgateway}
  servers:
    - port: {number: 15443, name: tls, protocol: TLS}
      tls: {mode: AUTO_PASSTHROUGH}
      hosts: ["*.local"]
""",
    }


def import_seed(sb):
    """Write the seed's files into the sandbox's state, import them with
    options read from the sandbox's own cluster1 configuration, and write
    the result as c1-istio.yaml; returns it parsed, and the import's
    stderr."""
    state = sb.env["SANDBOX_STATE"]
    c1 = yaml.safe_load(open(f"{state}/c1.yaml"))
    gw_host, gw_port = c1["remotes"][0]["gateway"].rsplit(":", 1)
    files = seed_yaml(sb.env["SANDBOX_SERVICE"], sb.env["SANDBOX_VIP4"], 80,
                      gw_host, gw_port)
    os.makedirs(f"{state}/istio")
    paths = []
    for name, text in files.items():
        paths.append(f"{state}/istio/{name}")
        open(paths[-1], "w").write(text)
    argv = [SPILLWAY, "istio", "import", "--cluster", c1["cluster"],
            "--tls-dir", c1["tls"]["dir"], "--metrics", c1["metrics"]["listen"]]
    for iface in c1["interfaces"]:
        argv += ["--interface", iface]
    for ident in c1["tls"]["allow_identities"]:
        argv += ["--allow-identity", ident]
    r = run(argv + paths)
    open(f"{state}/c1-istio.yaml", "w").write(r.stdout)
    run([SPILLWAY, "check", "--config", f"{state}/c1-istio.yaml"])
    return yaml.safe_load(r.stdout), r.stderr


def test_imported_config_spills_like_the_seed(sb):
    sb.start(max_conns=20)          # the sandbox's threshold; the import's is 5
    cfg, notes = import_seed(sb)
    service = sb.env["SANDBOX_SERVICE"]

    # What the import says and makes.
    assert "echo-dr.yaml:14:9: warning: document 1, DestinationRule default/echo: " \
        "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests: not " \
        "imported" in notes, notes
    assert "note: document 1, VirtualService default/echo: skipped" in notes, notes
    assert "note: document 1, Gateway istio-system/cross-network-gateway: " \
        "skipped" in notes, notes
    assert [s["name"] for s in cfg["services"]] == [service], cfg
    s = cfg["services"][0]
    assert (s["vip"], s["port"], s["max_connections"], s["overflow_to"]) == \
        (sb.env["SANDBOX_VIP4"], 80, MAX, ["network2"]), s
    assert [r["name"] for r in cfg["remotes"]] == ["network2"], cfg
    assert cfg["remotes"][0]["gateway"] == "10.2.0.2:15008", cfg

    # The cluster1 agent, restarted on the imported file.
    sb.kill("agent-c1")
    sb.restart("agent-c1", "SANDBOX_C1_NS", "c1-istio.yaml", "SANDBOX_C1_PIN_DIR",
               "SANDBOX_C1_SOCKET")
    wait_until("network2 healthy", sb.healthy)
    st = json.loads(sb.cli("status", "--json").stdout)
    assert [r["name"] for r in st["remotes"]] == ["network2"], st
    assert sb.service()["max_connections"] == MAX, sb.service()

    # The seed's scenario.
    watch = Watch(lambda: sb.service()["active_local"])
    answered = []
    for _ in range(MAX + 10):
        answered.append(sb.dial()[1])
        time.sleep(0.03)
    assert answered == ["cluster1"] * MAX + ["cluster2"] * 10, answered
    sb.wait_counts(MAX, 10)
    for conn in sb.conns:
        sb.echo_ok(conn)            # none failed: every one echoes
    assert watch.end() <= MAX, "local active passed the threshold"
    s = sb.service()
    assert s["overflowed_total"] == 10 and s["state"] == "overflowing", s


def test_cluster_dir(sb):
    """A cluster's Istio objects (tests/unit/istio/: bookinfo, gateways,
    filters, wildcard and external ServiceEntries, kubectl's List), most of
    them not for spillway: the verb imports what can be imported, skipping
    each other DestinationRule and ServiceEntry with one warning, and the
    agent's own check accepts the result; --strict refuses all of it."""
    sb.start()                      # for its certificates
    state = sb.env["SANDBOX_STATE"]
    c1 = yaml.safe_load(open(f"{state}/c1.yaml"))
    cluster = os.path.join(HERE, "..", "unit", "istio")
    files = sorted(os.path.join(cluster, f) for f in os.listdir(cluster))
    argv = [SPILLWAY, "istio", "import", "--tls-dir", c1["tls"]["dir"],
            "--locality", "us-east1/us-east1-b"]
    r = run(argv + files)
    cfg = yaml.safe_load(r.stdout)
    assert [s["name"] for s in cfg["services"]] == [
        "echo.default.svc.cluster.local", "httpbin.org",
        "grpc.payments.prod.svc.cluster.local",
        "http.payments.prod.svc.cluster.local"], cfg
    assert cfg["remotes"][0]["health"]["failures"] == 3, cfg  # consecutiveErrors
    skipped = [line for line in r.stderr.splitlines() if ": skipped: " in line]
    assert len(skipped) == 13, r.stderr     # 8 DR/SE warnings, 5 other kinds
    assert sum(": warning: " in line for line in skipped) == 8, r.stderr
    assert "/mesh-mtls.yaml:18:9: warning: document 2, DestinationRule " \
        "istio-system/default: skipped: spec.host: '*.local'" in r.stderr, r.stderr
    open(f"{state}/cluster.yaml", "w").write(r.stdout)
    run([SPILLWAY, "check", "--config", f"{state}/cluster.yaml"])

    for extra, says in (
            (["--strict"], "bookinfo-destination-rule-all.yaml:8:3: document 1, "
             "DestinationRule default/productpage: spec.trafficPolicy."
             "connectionPool.tcp.maxConnections: missing"),
            (["--locality", "us-east1/us-east1-b/a/b"], "--locality "
             "'us-east1/us-east1-b/a/b' has more than 3 parts; expected "
             "REGION[/ZONE[/SUBZONE]]")):
        r = run(argv + extra + files, check=False)
        assert r.returncode == 1 and says in r.stderr and not r.stdout, \
            (extra, r.returncode, r.stderr, r.stdout)


def test_cli(sb):
    """The verb as a user types it: no sandbox needed."""
    seed = os.path.join(HERE, "..", "istio")
    files = [os.path.join(seed, f) for f in ("echo-dr.yaml", "echo-entry.yaml")]
    r = run([SPILLWAY, "istio", "import", "--cluster", "c1", "--interface", "eth1",
             "--interface", "eth2", "--remote-name", "network2=cluster2",
             "--gateway-port", "15008", "--metrics", "none", *files])
    cfg = yaml.safe_load(r.stdout)
    assert cfg["cluster"] == "c1" and "metrics" not in cfg, cfg
    assert [i["name"] for i in cfg["interfaces"]] == ["eth1", "eth2"], cfg
    assert cfg["remotes"][0]["name"] == "cluster2", cfg
    assert cfg["remotes"][0]["gateway"] == "203.0.113.7:15008", cfg
    assert "warning: document 1, DestinationRule default/echo" in r.stderr, r.stderr
    stdin = run([SPILLWAY, "istio", "import", "-"], input=open(files[0]).read() +
                "---\n" + open(files[1]).read())
    assert "(stdin):21:9: warning: document 1, DestinationRule" in stdin.stderr, \
        stdin.stderr
    assert yaml.safe_load(stdin.stdout)["interfaces"][0]["name"] == "eth0"
    for argv, status, says in (
            ([], 2, "expected 'import'"),
            (["export"], 2, "expected 'import'"),
            (["import"], 2, "FILE... is required"),
            (["import", "--gateway-port", "0", files[0]], 2, "--gateway-port takes"),
            (["import", "--remote-name", "network2", files[0]], 2, "NETWORK=NAME"),
            (["import", "--frobnicate", files[0]], 2, "bad argument"),
            (["import", "/nonexistent.yaml"], 1, "/nonexistent.yaml: cannot open"),
            (["import", files[0]], 1, "nothing to import")):
        r = run([SPILLWAY, "istio", *argv], check=False)
        assert r.returncode == status and says in r.stderr and not r.stdout, \
            (argv, r.returncode, r.stderr, r.stdout)
    assert "Usage: spillway istio import" in run([SPILLWAY, "istio", "--help"]).stdout


if __name__ == "__main__":
    sys.exit(run_cases("istio-e2e", globals(), Sandbox,
                       lambda sb: f"---- c1 agent log:\n{sb.log()}---- c2 agent log:\n"
                                  f"{sb.log('agent-c2')}----"))
