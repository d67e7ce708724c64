#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`make demo K8S=1`: the demo on the simulated Kubernetes node of
tests/k8s/test_k8s.py instead of the two-cluster sandbox.

Brings the node up as that test builds it: pods in network namespaces
behind Calico-style cali* links, service A's ClusterIP DNATed to its two
pods by kube-proxy's own iptables rules, kube-dns, and a remote cluster's
gateway; the node agent runs the interfaces of the shipped ConfigMap
(deploy/cluster1) with max_connections MAX_CONNECTIONS (default 20). Then
runs COMMAND with the variables `scripts/sandbox.sh env` gives the plain
demo (SANDBOX_CLIENT_NS: a client pod; SANDBOX_VIP4: the ClusterIP;
SANDBOX_SERVICE; SANDBOX_C1_SOCKET: the node agent's) and DEMO_LOCAL,
DEMO_REMOTE (who answers: the pods' names, "remote"), and takes it all
down; with KEEP=1 it stays up until Ctrl-C. Every namespace, pin directory
and file it makes starts with NAME. Exits with COMMAND's status.

usage: scripts/demo_k8s.py [--name NAME] -- COMMAND [ARG...]"""
import argparse
import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def first_errors(w):
    """The first error each agent logged, one line each."""
    lines = []
    for who, text in (("node agent", w.log_text()), ("gateway", w.gw_log_text())):
        errors = [line for line in text.splitlines() if " error " in line]
        if errors:
            lines.append(f"{who}: {errors[0].split(' error ', 1)[1].strip()}")
    return lines


def wait_for_ctrl_c(w, k8s, env):
    print(f"""
The simulated node is up until Ctrl-C. In another terminal try:
  build/spillway top --socket {w.socket}
  ip netns exec {env['SANDBOX_CLIENT_NS']} nc {k8s.CLUSTER_IP[4]} 80
  build/spillway service set {k8s.SVC} --max-connections 5 --socket {w.socket}
  ip netns exec {w.node} iptables-save -t nat     # kube-proxy's rules
  ip netns exec {w.node} nft list table inet spillway""", flush=True)
    # Even where SIGINT came ignored (started in the background).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", default="spillway-demo",
                   help="the start of every name it makes (default spillway-demo)")
    p.add_argument("command", nargs="+", help="what to run while the node is up")
    args = p.parse_args()
    # The test bed names everything after SW_TEST_PREFIX, read on import.
    os.environ["SW_TEST_PREFIX"] = args.name
    sys.path[:0] = [os.path.join(ROOT, "tests", "k8s"), os.path.join(ROOT, "tests", "lib")]
    import test_k8s as k8s

    # SIGTERM unwinds like Ctrl-C: the node is taken down either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    w = k8s.K8sWorld("k8s")
    w.max = int(os.environ.get("MAX_CONNECTIONS", "20"))
    try:
        w.up()
        try:
            w.start(cni="calico", proxy="iptables", interfaces=k8s.shipped_interfaces())
        except Exception as e:
            why = first_errors(w) or [str(e).splitlines()[0]]
            print("\n".join(f"demo: the simulated node did not come up: {line}"
                            for line in why), file=sys.stderr)
            return 1
        print(f"node {w.node}: pods {', '.join(w.pods)}; the agent attached to "
              f"{', '.join(k8s.attached(w))}; {k8s.SVC} at {k8s.CLUSTER_IP[4]}:80, "
              f"kube-proxy (iptables) DNATs it to {', '.join(k8s.BACKENDS)}", flush=True)
        env = dict(os.environ, SANDBOX_CLIENT_NS=w.pods[k8s.CLIENTS[0]].ns,
                   SANDBOX_VIP4=k8s.CLUSTER_IP[4], SANDBOX_SERVICE=k8s.SVC,
                   SANDBOX_C1_SOCKET=w.socket, DEMO_LOCAL=",".join(k8s.BACKENDS),
                   DEMO_REMOTE="remote")
        status = subprocess.run(args.command, env=env).returncode
        if os.environ.get("KEEP") == "1":
            wait_for_ctrl_c(w, k8s, env)
        return status
    finally:
        print("\n== teardown", flush=True)
        w.down()


if __name__ == "__main__":
    sys.exit(main())
