# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""What the tests hold /metrics and the monitoring examples to: Prometheus'
own linter, and doc/metrics.md's table of families."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METRICS_DOC = os.path.join(ROOT, "doc", "metrics.md")
# A metric name in PromQL or in the exposition format.
NAME = re.compile(r"\bspillway_[a-z0-9_]+\b")


def promtool(*args, text=None, cwd=None):
    """promtool (Debian's prometheus package) with args; its output."""
    r = subprocess.run(["promtool", *args], input=text, capture_output=True,
                       text=True, cwd=cwd)
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0, f"promtool {' '.join(args)} exited {r.returncode}: {out}"
    return out


def check_metrics(body):
    """A /metrics body parses, has no lint problem at all, and every family
    in it is in doc/metrics.md's table."""
    problems = promtool("check", "metrics", text=body)
    assert not problems, f"promtool check metrics: {problems}"
    undocumented = exposed_families(body) - documented_families()
    assert not undocumented, f"not in {METRICS_DOC}'s table: {sorted(undocumented)}"


def documented_families():
    """The families doc/metrics.md's table names; spillway_gateway_* stands
    for the spillway_tunnel_* families without the remote label."""
    names = set(re.findall(r"^\| `(spillway_[a-z0-9_*]+)`", open(METRICS_DOC).read(),
                           re.M))
    assert "spillway_gateway_*" in names, f"{METRICS_DOC}: no spillway_gateway_* row"
    names.discard("spillway_gateway_*")
    return names | {n.replace("spillway_tunnel_", "spillway_gateway_", 1)
                    for n in names if n.startswith("spillway_tunnel_")}


def exposed_families(body):
    """The families a /metrics body has, from its HELP lines."""
    return set(re.findall(r"^# HELP (\S+) ", body, re.M))
