#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""deploy/: the Kubernetes manifests and the Dockerfile, checked against the
binary they run. There is no cluster and no container daemon here, so:

- every YAML document parses, has what Kubernetes requires, and every
  kustomization's resources exist and cover every manifest; `kubectl
  kustomize` renders each cluster, and each rendered field is one the
  Kubernetes API's models (python3-kubernetes) have;
- the hardening Cilium's and ztunnel's manifests have (priority class, node
  selector, termination messages, startup probe, probe timeouts, AppArmor,
  Pod Security level, host ports only where the agent listens);
- the Dockerfile is checked as text: Debian 12, a build stage that runs the
  developers' make, a runtime stage with the binary, the Debian packages of
  every library it links, bpftool, and the DaemonSet's command;
- the node DaemonSet's and the gateway Deployment's commands, mounts, ports
  and probes agree with the CLI and with each cluster's configuration
  (cluster1: nodes that spill, cluster2: the gateway), which `spillway check`
  accepts with the certificate files the Secret is made of (as
  deploy/README.md makes it);
- agent-* cases run the real agent the way the container runtime would: in
  the node's network namespace, with exactly the DaemonSet's capabilities
  and nothing else, no new privileges, /, /sys and /proc/sys read-only, after
  the init container's script; gateway-* cases run the gateway as its pod:
  a network namespace of its own, its user, no capability, no bpffs.
  Run one case: test_manifests.py NAME-PREFIX"""
import glob
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from netns import (ROOT, SPILLWAY, WAIT_S, World, netns, run,  # noqa: E402
                   run_cases, wait_until)

DEPLOY = os.path.join(ROOT, "deploy")
CLUSTERS = ("cluster1", "cluster2")
SECRET_FILES = {"root-cert.pem", "cert-chain.pem", "key.pem"}
NAMESPACED = {"ServiceAccount", "ConfigMap", "DaemonSet", "Deployment", "Service",
              "PodDisruptionBudget", "Secret"}
# Which workload runs each cluster's configuration, and its container.
WORKLOAD = {"cluster1": "node", "cluster2": "gateway"}


# -- reading deploy/ ---------------------------------------------------------

def docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def manifests():
    """{path relative to deploy/: [documents]} for every YAML file."""
    return {os.path.relpath(p, DEPLOY): docs(p)
            for p in sorted(glob.glob(f"{DEPLOY}/**/*.yaml", recursive=True))}


def one(kind, path):
    found = [d for d in docs(os.path.join(DEPLOY, path)) if d.get("kind") == kind]
    assert len(found) == 1, f"deploy/{path}: expected one {kind}, found {len(found)}"
    return found[0]


def daemonset():
    return one("DaemonSet", "node/daemonset.yaml")


def deployment():
    return one("Deployment", "gateway/deployment.yaml")


def workload(which="node"):
    return daemonset() if which == "node" else deployment()


def pod_spec(which="node"):
    return workload(which)["spec"]["template"]["spec"]


def agent_container(which="node"):
    name = "agent" if which == "node" else "gateway"
    (c,) = [c for c in pod_spec(which)["containers"] if c["name"] == name]
    return c


def init_container(which="node"):
    (c,) = pod_spec(which)["initContainers"]
    return c


def agent_argv(which="node"):
    c = agent_container(which)
    return c["command"] + c["args"]


def mount_path(container, volume):
    paths = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume]
    assert len(paths) == 1, f"{container['name']}: volume {volume} mounted {len(paths)} times"
    return paths[0]


def volume(kind, which="node"):
    """The pod's volume of this kind (configMap, secret, emptyDir, or a
    hostPath path)."""
    for v in pod_spec(which)["volumes"]:
        if kind in v or v.get("hostPath", {}).get("path") == kind:
            return v
    raise AssertionError(f"the {which} pod has no {kind} volume")


def drain_timeout_s(cfg):
    """A config's agent.drain_timeout in seconds (written as Ns or Nm), or
    the agent's default."""
    v = (cfg.get("agent") or {}).get("drain_timeout")
    if v is None:
        defaults = open(os.path.join(ROOT, "include", "spillway", "defaults.h")).read()
        return int(re.search(r"#define SW_DRAIN_TIMEOUT_S (\d+)", defaults).group(1))
    m = re.fullmatch(r"(\d+)([sm])", v)
    assert m, f"agent.drain_timeout {v!r}: this test reads Ns or Nm"
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def config_of(cluster):
    cm = one("ConfigMap", f"{cluster}/configmap.yaml")
    return cm, yaml.safe_load(cm["data"]["config.yaml"])


def caps_granted(which="node"):
    sc = agent_container(which)["securityContext"]["capabilities"]
    assert sc["drop"] == ["ALL"], sc
    return sc.get("add", [])


def dockerfile_stages():
    """[(FROM line, [instructions])], continuation lines joined."""
    text = open(os.path.join(DEPLOY, "Dockerfile")).read()
    text = re.sub(r"\\\n\s*", " ", text)
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        else:
            assert stages, f"Dockerfile: '{line}' before any FROM"
            stages[-1][1].append(line)
    return stages


def apt_packages(instructions):
    pkgs = set()
    for i in instructions:
        m = re.search(r"apt-get install ([^&]*)", i)
        if m:
            pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def package_of(path):
    """The Debian package that installed a file, whichever of /lib and
    /usr/lib it was registered under (merged /usr)."""
    real = os.path.realpath(path)
    for p in {path, real, real.replace("/usr/lib/", "/lib/", 1)}:
        r = run(["dpkg", "-S", p], check=False)
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    raise AssertionError(f"no Debian package has {path}")


def agent_help():
    return run([SPILLWAY, "agent", "--help"]).stdout


def default_of(option):
    m = re.search(rf"{option} \S+\s+.*\(default (\S+)\)", agent_help())
    assert m, f"'spillway agent --help' gives no default for {option}"
    return m.group(1)


def secret_command():
    """The `kubectl create secret` deploy/README.md tells users to run."""
    text = open(os.path.join(DEPLOY, "README.md")).read()
    m = re.search(r"^kubectl ([^\n]*create secret generic(?:[^\n]*\\\n)*[^\n]*)$",
                  text, re.M)
    assert m, "deploy/README.md shows no 'kubectl ... create secret generic'"
    return shlex.split(m.group(1).replace("\\\n", " "))


# -- the worlds the cases run in ----------------------------------------------

class Files:
    """Static cases: a scratch directory, certificates made by gen-certs.sh."""

    def __init__(self, tag):
        self.dir = None

    def up(self):
        self.dir = tempfile.mkdtemp(prefix="sw-deploy-")
        self.certs = f"{self.dir}/pki"
        run([os.path.join(ROOT, "scripts", "gen-certs.sh"), self.certs, *CLUSTERS])
        return self

    def down(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class Node(World):
    """The agent tests' namespaces, with the agent run as its container."""

    def container(self, argv, caps, ns=None, user=None, writable=None, no_bpffs=False):
        """argv as the runtime runs a container: in network namespace ns
        (default the node's: hostNetwork), only caps, no new privileges, and
        /, /sys and /proc/sys read-only in a mount namespace of its own;
        writable (default the socket's directory, a hostPath) stays writable,
        and so does the bpffs unless no_bpffs hides it (no hostPath: the
        container has none). user: (uid, gid) to run as, gid also its
        supplementary group (fsGroup)."""
        writable = writable or os.path.dirname(self.socket)
        os.makedirs(writable, exist_ok=True)
        setup = (f"mount --bind {writable} {writable} && "
                 + ("mount -t tmpfs tmpfs /sys/fs/bpf && " if no_bpffs else "") +
                 "mount --bind /proc/sys /proc/sys && "
                 "mount -o remount,bind,ro /proc/sys && "
                 "mount -o remount,bind,ro /sys && "
                 "mount -o remount,bind,ro / && exec \"$@\"")
        bounding = ",".join(["-all"] + [f"+{c.lower()}" for c in caps])
        ids = [f"--reuid={user[0]}", f"--regid={user[1]}", f"--groups={user[1]}"] \
            if user else []
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", setup,
                "sh", "nsenter", f"--net=/run/netns/{ns or self.node}", "setpriv",
                *ids, "--inh-caps=-all", f"--bounding-set={bounding}", "--no-new-privs",
                "--", *argv]

    def start_gateway_pod(self):
        """The gateway Deployment's container in its pod: the pod's own
        network namespace (svc here, address 10.1.0.2), its user and
        fsGroup, no capability, no bpffs; the Secret and the socket's
        emptyDir as the kubelet makes them for fsGroup."""
        psc = pod_spec("gateway")["securityContext"]
        uid, gid = psc["runAsUser"], psc["fsGroup"]
        certs, run_dir = f"{self.dir}/gw/certs", f"{self.dir}/gw/run"
        for d in (certs, run_dir):
            os.makedirs(d, exist_ok=True)
        mode = volume("secret", "gateway")["secret"]["defaultMode"]
        for f in SECRET_FILES:
            shutil.copy(f"{self.certs}/cluster2/{f}", certs)
            os.chown(f"{certs}/{f}", 0, gid)
            os.chmod(f"{certs}/{f}", mode)
        os.chown(run_dir, 0, gid)
        os.chmod(run_dir, 0o2770)
        cm, cfg = config_of("cluster2")
        cfg["tls"]["dir"] = certs
        self.gw_config = f"{self.dir}/gw/config.yaml"
        self.write_config(yaml.safe_dump(cfg), self.gw_config)
        self.gw_socket = f"{run_dir}/spillway.sock"
        mount = mount_path(agent_container("gateway"), "config")
        argv = [SPILLWAY if a == "/usr/local/bin/spillway" else
                a.replace(mount + "/config.yaml", self.gw_config)
                for a in agent_argv("gateway")]
        argv += ["--pin-dir", self.pin_dir, "--socket", self.gw_socket]
        log = open(self.log, "a")
        self.agent = subprocess.Popen(
            self.container(argv, caps_granted("gateway"), ns=self.svc, user=(uid, gid),
                           writable=run_dir, no_bpffs=True),
            stdout=log, stderr=log)
        wait_until("the gateway to answer or exit",
                   lambda: self.agent.poll() is not None or
                   run([SPILLWAY, "status", "--socket", self.gw_socket],
                       check=False).returncode == 0)
        return self.agent

    def pod_setup(self):
        """The gateway's init container's script, in the pod's namespace."""
        c = init_container("gateway")
        run(["nsenter", f"--net=/run/netns/{self.svc}", *c["command"], *c.get("args", [])])

    def agent_config(self, cluster="cluster1"):
        """The ConfigMap's file for this node: its interface, the test's
        certificates, and the remote's gateway inside the test namespaces."""
        cm, cfg = config_of(cluster)
        if cfg.get("interfaces"):
            cfg["interfaces"] = ["n0"]
        cfg["tls"]["dir"] = f"{self.certs}/{cluster}"
        for r in cfg.get("remotes", []):
            r["gateway"] = "10.1.0.2:15008"   # svc namespace: nothing listens
        for s in cfg.get("services", []):
            s["max_connections"] = 2
        self.write_config(yaml.safe_dump(cfg))
        return cfg

    def agent_argv(self):
        """The DaemonSet's command, its ConfigMap mount mapped to the test's
        file; a pin directory and socket of the test's own."""
        mount = mount_path(agent_container(), "config")
        argv = [SPILLWAY if a == "/usr/local/bin/spillway" else
                a.replace(mount + "/config.yaml", self.config) for a in agent_argv()]
        return argv + ["--pin-dir", self.pin_dir, "--socket", self.socket]

    def node_setup(self):
        """The init container's script, as root in the node's namespace."""
        c = init_container()
        run(["nsenter", f"--net=/run/netns/{self.node}", *c["command"], *c.get("args", [])])

    def start_container(self, caps=None):
        """The node agent's container (DaemonSet), with caps (default
        exactly the DaemonSet's)."""
        log = open(self.log, "a")
        self.agent = subprocess.Popen(self.container(self.agent_argv(), caps or caps_granted()),
                                      stdout=log, stderr=log)
        wait_until("the agent to answer or exit",
                   lambda: self.agent.poll() is not None or
                   self.cli("status", check=False).returncode == 0)
        return self.agent

    def probe(self, path, port, pod_ip="10.0.0.1", ns=None):
        """What the kubelet does: GET the pod's IP (with hostNetwork, the
        node's: 10.0.0.1) from outside the pod (default: the client)."""
        with netns(ns or self.client):
            c = http.client.HTTPConnection(pod_ip, port, timeout=WAIT_S)
            c.connect()
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status


def make_world(name):
    return Node(name) if name.startswith(("agent", "gateway")) else Files(name)


# -- the manifests ------------------------------------------------------------

def test_yaml_parses_with_required_fields(w):
    all_docs = manifests()
    kinds = {}
    for path, ds in all_docs.items():
        assert ds, f"deploy/{path}: no YAML document"
        for d in ds:
            where = f"deploy/{path}: {d.get('kind')}"
            assert d.get("apiVersion") and d.get("kind"), f"{where}: apiVersion and kind"
            if d["kind"] == "Kustomization":
                continue
            assert d.get("metadata", {}).get("name"), f"{where}: metadata.name"
            if d["kind"] in NAMESPACED:
                assert d["metadata"].get("namespace") == "spillway", f"{where}: namespace"
            kinds.setdefault(d["kind"], []).append(path)
    assert sorted(kinds) == ["ConfigMap", "DaemonSet", "Deployment", "Namespace",
                             "PodDisruptionBudget", "Service", "ServiceAccount"], kinds
    for which in ("node", "gateway"):
        wl = workload(which)
        assert wl["apiVersion"] == "apps/v1"
        labels = wl["spec"]["template"]["metadata"]["labels"]
        sel = wl["spec"]["selector"]["matchLabels"]
        assert sel and all(labels.get(k) == v for k, v in sel.items()), (sel, labels)
        spec = pod_spec(which)
        for c in spec["containers"] + spec["initContainers"]:
            assert c.get("name") and c.get("image"), c
        # Every volume mounted is defined, every volume defined is mounted.
        defined = {v["name"] for v in spec["volumes"]}
        mounted = {m["name"] for c in spec["containers"] + spec["initContainers"]
                   for m in c.get("volumeMounts", [])}
        assert defined == mounted, (which, defined, mounted)


def test_kustomizations_cover_every_manifest(w):
    listed = set()
    for k in glob.glob(f"{DEPLOY}/**/kustomization.yaml", recursive=True):
        (kz,) = docs(k)
        here = os.path.dirname(k)
        for r in kz["resources"]:
            p = os.path.normpath(os.path.join(here, r))
            assert os.path.exists(p), f"{os.path.relpath(k, ROOT)}: no resource {r}"
            if os.path.isfile(p):
                listed.add(os.path.relpath(p, DEPLOY))
        for img in kz.get("images", []):
            wl = os.path.basename(here)
            assert wl in ("node", "gateway"), f"{wl}: images belong to a workload"
            spec = pod_spec(wl)
            assert all(c["image"].split(":")[0] == img["name"]
                       for c in spec["containers"] + spec["initContainers"]), img
    files = {p for p in manifests() if not p.endswith("kustomization.yaml")}
    assert files == listed, f"not in any kustomization: {files - listed}"
    for cluster in CLUSTERS:   # common, the cluster's workload, its ConfigMap
        (kz,) = docs(f"{DEPLOY}/{cluster}/kustomization.yaml")
        assert kz["resources"] == ["../common", f"../{WORKLOAD[cluster]}",
                                   "configmap.yaml"], kz


# -- against the Kubernetes API -----------------------------------------------

# The models are python3-kubernetes' (Debian 12: 22.6, Kubernetes 1.22's
# API). Fields Kubernetes added since are checked here instead, with the
# release that added them: {(model, field): what it must be}.
NEWER_FIELDS = {
    ("V1SecurityContext", "appArmorProfile"):   # 1.30
        lambda v: v in ({"type": "Unconfined"}, {"type": "RuntimeDefault"}),
}


def unknown_fields(value, type_name, where):
    """Each field of value (a manifest's dict) that the model type_name does
    not have, as 'where.field', walking the nested models."""
    import kubernetes.client as k8s
    m = re.fullmatch(r"list\[(.+)\]", type_name)
    if m:
        return [f for i, v in enumerate(value)
                for f in unknown_fields(v, m.group(1), f"{where}[{i}]")]
    model = getattr(k8s, type_name, None)
    if model is None or not isinstance(value, dict):
        return []               # str, int, dict(str, str), object...
    by_json = {j: a for a, j in model.attribute_map.items()}
    out = []
    for key, v in value.items():
        newer = NEWER_FIELDS.get((type_name, key))
        if newer:
            assert newer(v), f"{where}.{key}: {v!r}"
        elif key not in by_json:
            out.append(f"{where}.{key}")
        else:
            out += unknown_fields(v, model.openapi_types[by_json[key]], f"{where}.{key}")
    return out


def test_kustomize_renders_kubernetes_objects(w):
    """`kubectl kustomize` renders each cluster, and every object it renders
    is one the Kubernetes API takes: each field known to its model (a typo
    or a misplaced field fails here, where the API server would drop or
    refuse it), each value of the model's type."""
    import kubernetes.client as k8s
    api = k8s.ApiClient()
    for cluster in CLUSTERS:
        r = run(["kubectl", "kustomize", os.path.join(DEPLOY, cluster)])
        objs = [d for d in yaml.safe_load_all(r.stdout) if d]
        kinds = sorted(d["kind"] for d in objs)
        assert "Namespace" in kinds and ("DaemonSet" in kinds or "Deployment" in kinds), kinds
        for d in objs:
            version = d["apiVersion"].split("/")[-1]
            type_name = version[0].upper() + version[1:] + d["kind"]
            where = f"{cluster}: {d['kind']} {d['metadata']['name']}"
            assert hasattr(k8s, type_name), f"{where}: no model {type_name}"
            bad = unknown_fields(d, type_name, where)
            assert not bad, f"fields the Kubernetes API does not have: {bad}"
            # Types and required fields, as the client checks them.
            obj = api._ApiClient__deserialize(d, type_name)
            assert obj.metadata.name == d["metadata"]["name"], where
    # The check catches what it is for.
    ds = daemonset()
    ds["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicy"] = "x"
    ds["spec"]["template"]["spec"]["priorityClass"] = "system-node-critical"
    ds["spec"]["template"]["spec"]["containers"][0]["startupProbe"]["httpGet"]["paht"] = "/"
    assert unknown_fields(ds, "V1DaemonSet", "ds") == [
        "ds.spec.template.spec.containers[0].startupProbe.httpGet.paht",
        "ds.spec.template.spec.priorityClass"], unknown_fields(ds, "V1DaemonSet", "ds")


def test_hardened_as_node_agents_are(w):
    """What Cilium's agent and Istio's ztunnel set, and why (deploy/README.md)."""
    ns = one("Namespace", "common/namespace.yaml")
    # The node agent needs hostNetwork, hostPath and capabilities: only
    # "privileged" admits it, and the level is the namespace's.
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged", ns
    assert pod_spec()["priorityClassName"] == "system-node-critical"
    assert "priorityClassName" not in pod_spec("gateway")   # a Deployment: rescheduled
    for which in ("node", "gateway"):
        spec, c = pod_spec(which), agent_container(which)
        assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}, which
        for each in spec["containers"] + spec["initContainers"]:
            assert each["terminationMessagePolicy"] == "FallbackToLogsOnError", each["name"]
        # A startup probe on what liveness probes; every probe has a timeout.
        assert c["startupProbe"]["httpGet"] == c["livenessProbe"]["httpGet"], which
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert c[probe]["timeoutSeconds"] <= c[probe]["periodSeconds"], (which, probe)
        # The startup probe allows longer than the liveness probe would.
        st, lv = c["startupProbe"], c["livenessProbe"]
        assert st["periodSeconds"] * st["failureThreshold"] > \
            lv["periodSeconds"] * lv["failureThreshold"], (which, st, lv)
    # AppArmor unconfined for the agent only: the runtime's default profile
    # denies writes under /sys/fs/bpf. Both forms, which the kubelet checks
    # agree: the field (1.30+) and the annotation (before).
    c = agent_container()
    assert c["securityContext"]["appArmorProfile"] == {"type": "Unconfined"}, c
    ann = daemonset()["spec"]["template"]["metadata"]["annotations"]
    assert ann[f"container.apparmor.security.beta.kubernetes.io/{c['name']}"] == \
        "unconfined", ann
    assert "appArmorProfile" not in agent_container("gateway")["securityContext"]
    # Host ports where the agent listens on the node, and nowhere else.
    cfg = config_of("cluster1")[1]
    listens = {int(cfg["metrics"]["listen"].rsplit(":", 1)[1]),
               cfg.get("datapath", {}).get("tunnel_port", 15001)}
    if "tunnel" in cfg:
        listens.add(int(cfg["tunnel"]["listen"].rsplit(":", 1)[1]))
    ports = c["ports"]
    assert {p["containerPort"] for p in ports} == listens, (ports, listens)
    assert all(p["hostPort"] == p["containerPort"] for p in ports), ports
    assert not any("hostPort" in p for p in agent_container("gateway")["ports"])


def test_dockerfile(w):
    stages = dockerfile_stages()
    assert len(stages) >= 2, "the Dockerfile is not multi-stage"
    base = [re.match(r"FROM (\S+)", f, re.I).group(1) for f, _ in stages]
    for b in base:
        assert re.fullmatch(r"debian:(12|bookworm)(-slim)?", b), f"not Debian 12: {b}"
    build, runtime = stages[0], stages[-1]
    assert re.search(r"\bAS build\b", build[0], re.I), build[0]
    assert any(re.search(r"\bmake build/spillway\b", i) for i in build[1]), build[1]
    # The build stage has what scripts/deps.sh installs to build.
    deps = open(os.path.join(ROOT, "scripts", "deps.sh")).read()
    wanted = {p for p in re.findall(r"\b(\S+-dev|make|gcc|clang|bpftool)\b",
                                    deps.split("packages=(")[1].split(")")[0])}
    assert wanted <= apt_packages(build[1]), f"build stage lacks {wanted - apt_packages(build[1])}"
    # The runtime stage: the binary from the build stage, bpftool, and the
    # Debian package of every library the binary links.
    pkgs = apt_packages(runtime[1])
    assert "bpftool" in pkgs, pkgs
    copies = [i for i in runtime[1] if i.startswith("COPY --from=build")]
    assert len(copies) == 1 and "build/spillway" in copies[0], copies
    dest = copies[0].split()[-1]
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]", run(["readelf", "-d", SPILLWAY]).stdout)
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", SPILLWAY]).stdout, re.M))
    for lib in needed:
        if lib != "libc.so.6":  # in every image
            owner = package_of(paths[lib])
            assert owner in pkgs, f"the runtime stage lacks {owner} (for {lib})"
    # ENTRYPOINT + CMD is the DaemonSet's command, and the gateway's.
    exec_form = {}
    for i in runtime[1]:
        m = re.match(r"(ENTRYPOINT|CMD) (\[.*\])$", i)
        if m:
            exec_form[m.group(1)] = yaml.safe_load(m.group(2))
    image_argv = exec_form["ENTRYPOINT"] + exec_form["CMD"]
    for which in ("node", "gateway"):
        assert image_argv == agent_argv(which), (which, image_argv, agent_argv(which))
    assert image_argv[0] == dest, (image_argv[0], dest)


def test_daemonset_command_and_mounts_match_the_cli(w):
    argv = agent_argv()
    assert argv[0] == "/usr/local/bin/spillway" and argv[1] == "agent", argv
    documented = set(re.findall(r"--[a-z-]+", agent_help()))
    assert set(a for a in argv if a.startswith("--")) <= documented, argv
    config = argv[argv.index("--config") + 1]
    c = agent_container()
    cm_mount = mount_path(c, "config")
    assert os.path.dirname(config) == cm_mount, (config, cm_mount)
    assert volume("configMap")["configMap"]["name"] == "spillway-config"
    # The defaults the agent uses, on the node's paths.
    pin_dir, sock = default_of("--pin-dir"), default_of("--socket")
    bpffs = mount_path(c, "bpffs")
    assert volume("/sys/fs/bpf")["name"] == "bpffs" and bpffs == "/sys/fs/bpf"
    assert os.path.dirname(pin_dir) == bpffs, (pin_dir, bpffs)
    assert mount_path(c, "run") == os.path.dirname(sock) == \
        volume(os.path.dirname(sock))["hostPath"]["path"], sock
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["bpffs"].get("mountPropagation") == "HostToContainer", mounts
    (im,) = init_container()["volumeMounts"]
    assert im["mountPath"] == "/sys/fs/bpf" and im["mountPropagation"] == "Bidirectional", im


def test_daemonset_security_and_lifecycle(w):
    spec, c = pod_spec(), agent_container()
    assert spec["hostNetwork"] is True and spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    sc = c["securityContext"]
    assert sorted(caps_granted()) == ["BPF", "NET_ADMIN", "PERFMON"], caps_granted()
    assert sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False, sc
    assert sc.get("readOnlyRootFilesystem") is True, sc
    # Privileged only in the init container, only for what needs it.
    init = init_container()
    assert init["securityContext"] == {"privileged": True}, init
    script = " ".join(init["command"] + init.get("args", []))
    assert "echo 0 > /proc/sys/net/ipv4/tcp_early_demux" in script, script
    assert "echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse" in script, script
    assert init["image"] == c["image"], (init["image"], c["image"])
    # No API access: a service account of its own, no token, no RBAC.
    sa = one("ServiceAccount", "common/serviceaccount.yaml")
    assert spec["serviceAccountName"] == sa["metadata"]["name"] == "spillway"
    assert sa["automountServiceAccountToken"] is False
    assert spec["automountServiceAccountToken"] is False
    # A rolling update never runs two agents on a node, and never detaches.
    ru = daemonset()["spec"]["updateStrategy"]["rollingUpdate"]
    assert ru["maxSurge"] == 0 and ru["maxUnavailable"] == 1, ru
    pre = c["lifecycle"]["preStop"]["exec"]["command"]
    assert "down" not in " ".join(pre) and "spillway" not in " ".join(pre), pre
    sleep = int(re.search(r"sleep (\d+)", " ".join(pre)).group(1))
    # SIGTERM comes after the preStop; the agent's drain must end before
    # the kubelet's SIGKILL, or spilled connections are cut.
    drain = drain_timeout_s(config_of("cluster1")[1])
    assert sleep + drain < spec["terminationGracePeriodSeconds"], (sleep, drain)
    # The Secret: the three files of tls.dir, owner-readable only.
    sv = volume("secret")["secret"]
    assert sv["secretName"] == "spillway-certs" and sv["defaultMode"] == 0o400, sv
    assert mount_path(c, volume("secret")["name"]) == "/etc/spillway/certs"


def test_deployment_command_mounts_and_security(w):
    spec, c = pod_spec("gateway"), agent_container("gateway")
    argv = agent_argv("gateway")
    assert argv[:2] == ["/usr/local/bin/spillway", "agent"], argv
    assert set(a for a in argv if a.startswith("--")) <= set(re.findall(r"--[a-z-]+", agent_help()))
    config = argv[argv.index("--config") + 1]
    assert os.path.dirname(config) == mount_path(c, "config"), config
    assert volume("configMap", "gateway")["configMap"]["name"] == "spillway-gateway-config"
    # No datapath: no host network, no hostPath, no capability, not root.
    assert not spec.get("hostNetwork"), spec
    assert not any("hostPath" in v for v in spec["volumes"]), spec["volumes"]
    assert caps_granted("gateway") == [], caps_granted("gateway")
    sc = c["securityContext"]
    assert sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False, sc
    assert sc.get("readOnlyRootFilesystem") is True, sc
    psc = spec["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0, psc
    assert psc["fsGroup"] == psc["runAsGroup"], psc
    # The socket's directory, at the CLI's default, is the pod's own.
    sock = default_of("--socket")
    assert mount_path(c, "run") == os.path.dirname(sock), sock
    assert volume("emptyDir", "gateway")["name"] == "run"
    # The Secret, group-readable for fsGroup.
    sv = volume("secret", "gateway")["secret"]
    assert sv["secretName"] == "spillway-certs" and sv["defaultMode"] == 0o440, sv
    assert mount_path(c, "certs") == "/etc/spillway/certs"
    # Privileged only in the init container, only for the pod's sysctl.
    init = init_container("gateway")
    assert init["securityContext"]["privileged"] is True, init
    assert init["image"] == c["image"]
    script = " ".join(init["command"] + init.get("args", []))
    assert script.endswith("echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse"), script
    assert spec["serviceAccountName"] == "spillway" and not spec["automountServiceAccountToken"]
    # Capacity never dips in a rollout; the drain fits the grace period.
    ru = deployment()["spec"]["strategy"]["rollingUpdate"]
    assert ru == {"maxUnavailable": 0, "maxSurge": 1}, ru
    pre = " ".join(c["lifecycle"]["preStop"]["exec"]["command"])
    sleep = int(re.search(r"sleep (\d+)", pre).group(1))
    drain = drain_timeout_s(config_of("cluster2")[1])
    assert sleep + drain < spec["terminationGracePeriodSeconds"], (sleep, drain)
    # The Service the other cluster dials, and the disruption budget.
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    svc = one("Service", "gateway/service.yaml")
    assert svc["spec"]["type"] == "LoadBalancer", svc
    assert all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()), svc
    (port,) = svc["spec"]["ports"]
    tunnel = int(config_of("cluster2")[1]["tunnel"]["listen"].rsplit(":", 1)[1])
    assert port["port"] == tunnel and port["targetPort"] == "tunnel", port
    assert {"name": "tunnel", "containerPort": tunnel} in c["ports"], c["ports"]
    pdb = one("PodDisruptionBudget", "gateway/poddisruptionbudget.yaml")
    assert pdb["spec"]["minAvailable"] >= 1, pdb
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), pdb


def test_configs_match_mounts_probes_and_check(w):
    # The Secret as deploy/README.md makes it: the names tls.dir needs.
    cmd = secret_command()
    assert cmd[cmd.index("generic") + 1] == volume("secret")["secret"]["secretName"], cmd
    assert cmd[cmd.index("-n") + 1] == "spillway", cmd
    files = [a.split("=", 1)[1] for a in cmd if a.startswith("--from-file=")]
    assert {os.path.basename(f) for f in files} == SECRET_FILES, files
    for cluster in CLUSTERS:
        which = WORKLOAD[cluster]
        c = agent_container(which)
        tmpl = workload(which)["spec"]["template"]["metadata"]["annotations"]
        ports = {p["containerPort"] for p in c["ports"]}
        secret_mount = mount_path(c, volume("secret", which)["name"])
        cm_mount = mount_path(c, "config")
        config_arg = agent_argv(which)[agent_argv(which).index("--config") + 1]
        cm, cfg = config_of(cluster)
        assert cm["metadata"]["name"] == volume("configMap", which)["configMap"]["name"]
        assert os.path.join(cm_mount, next(iter(cm["data"]))) == config_arg, cm["data"]
        assert cfg["tls"]["dir"] == secret_mount, (cluster, cfg["tls"])
        host, port = cfg["metrics"]["listen"].rsplit(":", 1)
        assert host in ("0.0.0.0", "[::]"), \
            f"{cluster}: metrics.listen {host}: kubelet probes the pod's IP"
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            assert c[probe]["httpGet"] == {"path": path, "port": int(port)}, c[probe]
        prom = {k: v for k, v in tmpl.items() if k.startswith("prometheus.io/")}
        assert prom == {"prometheus.io/scrape": "true", "prometheus.io/port": port,
                        "prometheus.io/path": "/metrics"}, tmpl
        assert int(port) in ports, (port, ports)
        if "tunnel" in cfg:
            assert int(cfg["tunnel"]["listen"].rsplit(":", 1)[1]) in ports, cfg["tunnel"]
        # The datapath runs where there are interfaces, and only there.
        assert bool(cfg.get("interfaces")) == (which == "node"), (cluster, cfg)
        if which == "node":
            assert cfg.get("datapath", {}).get("tunnel_port", 15001) in ports
            shipped_interfaces_fit_every_node(cluster, cfg["interfaces"])
        # The agent's own check, with the Secret's files where tls.dir says.
        tls = f"{w.dir}/{cluster}/certs"
        os.makedirs(tls)
        for f in files:
            shutil.copy(f"{w.certs}/{cluster}/{os.path.basename(f)}", tls)
        path = f"{w.dir}/{cluster}/config.yaml"
        with open(path, "w") as f:
            f.write(cm["data"]["config.yaml"].replace(secret_mount, tls))
        r = run([SPILLWAY, "check", "--config", path], check=False)
        assert r.returncode == 0 and "ok: cluster " + cluster in r.stdout, (cluster, r)


def shipped_interfaces_fit_every_node(cluster, interfaces):
    """The ConfigMap goes to every node: an exact name a node lacks fails
    the apply there, a pattern may match none. So patterns only, and the
    list deploy/README.md and doc/deployment.md show is this one."""
    names = [i if isinstance(i, str) else i["name"] for i in interfaces]
    exact = [n for n in names if not any(c in n for c in "*?[")]
    assert not exact, f"{cluster}: interfaces {exact}: not a pattern, and a node " \
        "without that link refuses the whole configuration"
    shown = json.dumps(interfaces)
    for doc in (os.path.join(DEPLOY, "README.md"), os.path.join(ROOT, "doc", "deployment.md")):
        assert shown in open(doc).read(), f"{doc} does not show the shipped {shown}"


# -- the agent as its container runs it ----------------------------------------

def test_agent_runs_with_the_daemonsets_capabilities(w):
    w.node_setup()
    w.agent_config()
    w.start_container()
    assert w.agent.poll() is None, f"the agent exited: {w.log_text()}"
    status = open(f"/proc/{w.agent.pid}/status").read()
    want = sum(1 << {"NET_ADMIN": 12, "PERFMON": 38, "BPF": 39}[c] for c in caps_granted())
    for field in ("CapEff", "CapPrm", "CapBnd"):
        got = int(re.search(rf"{field}:\s+(\w+)", status).group(1), 16)
        assert got == want, f"{field} {got:x}, expected {want:x}"
    assert re.search(r"NoNewPrivs:\s+1", status), status
    # The kubelet's probes and Prometheus, at the node's address.
    port = int(agent_container()["readinessProbe"]["httpGet"]["port"])
    wait_until("ready", lambda: w.probe("/readyz", port) == 200)
    assert w.probe("/healthz", port) == 200
    assert w.probe("/metrics", port) == 200
    held = [w.dial() for _ in range(3)]
    s = w.service("echo.default.svc.cluster.local")
    assert (s["active_local"], s["overflow_unavailable_total"]) == (3, 1), s
    # A rolling update: SIGTERM, then the next pod's agent adopts the maps.
    w.agent.send_signal(signal.SIGTERM)
    assert w.agent.wait(timeout=WAIT_S) == 0, w.log_text()
    for c in held:
        w.echo_ok(c)
    w.start_container()
    assert w.agent.poll() is None, w.log_text()
    assert "adopted (flows and counters kept)" in w.log_text(), w.log_text()
    assert w.service("echo.default.svc.cluster.local")["active_local"] == 3
    for c in held:
        w.echo_ok(c)


def test_agent_needs_each_capability(w):
    w.node_setup()
    w.agent_config()
    for cap in caps_granted():
        fewer = [c for c in caps_granted() if c != cap]
        w.start_container(fewer)
        assert w.agent.wait(timeout=WAIT_S) == 1, f"runs without CAP_{cap}: {w.log_text()}"
        assert "loading the datapath into the kernel failed" in w.log_text(), w.log_text()
        os.truncate(w.log, 0)


def test_agent_without_node_setup_says_why(w):
    run(f"ip netns exec {w.node} sysctl -qw net.ipv4.tcp_early_demux=1")
    w.agent_config()
    w.start_container()
    assert w.agent.wait(timeout=WAIT_S) == 1, w.log_text()
    log = w.log_text()
    assert "cannot write /proc/sys/net/ipv4/tcp_early_demux: Read-only file system" in log, log
    w.node_setup()
    w.start_container()
    assert w.agent.poll() is None, w.log_text()


def test_agent_reload_detaches_a_removed_interface(w):
    w.node_setup()
    cfg = w.agent_config()
    w.start_container()
    filters = f"ip netns exec {w.node} tc filter show dev n0 ingress"
    assert "spill_tc_in" in run(filters).stdout
    cfg["interfaces"] = []
    w.write_config(yaml.safe_dump(cfg))
    wait_until("the reload", lambda: "reloaded" in w.log_text())
    assert "spill_tc_in" not in run(filters).stdout, \
        "with the DaemonSet's capabilities a reload leaves the datapath on an " \
        "interface removed from the configuration"


def test_gateway_runs_as_its_pod(w):
    w.pod_setup()
    w.start_gateway_pod()
    assert w.agent.poll() is None, f"the gateway exited: {w.log_text()}"
    status = open(f"/proc/{w.agent.pid}/status").read()
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert int(re.search(rf"{field}:\s+(\w+)", status).group(1), 16) == 0, status
    uid = pod_spec("gateway")["securityContext"]["runAsUser"]
    assert re.search(rf"^Uid:\s+{uid}\s", status, re.M), status
    assert re.search(r"NoNewPrivs:\s+1", status), status
    assert not os.path.exists(w.pin_dir), "the gateway pinned maps"
    assert "no interfaces: no datapath" in w.log_text(), w.log_text()
    # The kubelet probes the pod's IP from the node; the other cluster's
    # nodes reach its tunnel port (through the Service) with mutual TLS.
    port = int(agent_container("gateway")["readinessProbe"]["httpGet"]["port"])
    wait_until("ready", lambda: w.probe("/readyz", port, "10.1.0.2", w.node) == 200)
    assert w.probe("/healthz", port, "10.1.0.2", w.node) == 200
    assert w.probe("/metrics", port, "10.1.0.2", w.node) == 200
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(f"{w.certs}/root-cert.pem")
    ctx.load_cert_chain(f"{w.certs}/cluster1/cert-chain.pem", f"{w.certs}/cluster1/key.pem")
    ctx.set_alpn_protocols(["h2"])
    with netns(w.node):
        raw = socket.create_connection(("10.1.0.2", 15008), timeout=WAIT_S)
    with ctx.wrap_socket(raw) as t:
        assert t.selected_alpn_protocol() == "h2" and t.version() == "TLSv1.3"
    st = json.loads(run([SPILLWAY, "status", "--json", "--socket", w.gw_socket]).stdout)
    assert st["datapath"]["loaded"] is False and st["cluster"] == "cluster2", st


def test_gateway_without_pod_setup_says_why(w):
    w.start_gateway_pod()
    assert w.agent.wait(timeout=WAIT_S) == 1, w.log_text()
    log = w.log_text()
    assert "cannot write /proc/sys/net/ipv4/tcp_tw_reuse" in log, log
    assert "deploy/gateway/deployment.yaml" in log, log
    w.pod_setup()
    w.start_gateway_pod()
    assert w.agent.poll() is None, w.log_text()


if __name__ == "__main__":
    sys.exit(run_cases("deploy", globals(), make_world,
                       lambda w: w.log_text() if isinstance(w, Node) else ""))
