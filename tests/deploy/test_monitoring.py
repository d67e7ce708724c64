#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""deploy/monitoring/: the example alerting rules and the Grafana dashboard,
checked without a Prometheus server or a Grafana:

- alerts.yml passes promtool check rules, and every alert fires on the
  series that should fire it and not on the others (promtool test rules with
  alerts_test.yml);
- dashboard.json is valid JSON with the panels an operator looks for, and
  every PromQL expression in it parses (promtool, as recording rules);
- every metric either names is in doc/metrics.md's table, which the agent
  tests hold /metrics to (tests/lib/metrics.py).
Run one case: test_monitoring.py NAME-PREFIX"""
import json
import os
import re
import shutil
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from metrics import NAME, documented_families, promtool  # noqa: E402
from netns import ROOT, run_cases  # noqa: E402

MONITORING = os.path.join(ROOT, "deploy", "monitoring")
ALERTS = os.path.join(MONITORING, "alerts.yml")
DASHBOARD = os.path.join(MONITORING, "dashboard.json")
ALERTS_TEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "alerts_test.yml")
# What the dashboard must show (issue 14): a panel whose title has each.
PANELS = ("local vs remote", "spill rate", "remote health", "flow table use")
# Grafana's variables, as values PromQL accepts.
GRAFANA_VARS = {"$__rate_interval": "5m", "$service": ".*"}


class Scratch:
    """A scratch directory per case."""

    def __init__(self, tag):
        self.dir = None

    def up(self):
        self.dir = tempfile.mkdtemp(prefix="sw-monitoring-")
        return self

    def down(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def alert_rules():
    (group,) = yaml.safe_load(open(ALERTS))["groups"]
    return group["rules"]


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def dashboard_queries(d):
    """(where, PromQL) of every panel target and query variable."""
    for p in d["panels"]:
        for t in p.get("targets", []):
            yield f"panel '{p['title']}' {t['refId']}", t["expr"]
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            yield f"variable {v['name']}", v["definition"]


def undocumented(exprs):
    """(where, metric) of each metric an expression names that
    doc/metrics.md's table does not."""
    known = documented_families()
    return [(where, m) for where, e in exprs for m in NAME.findall(e) if m not in known]


# ---------------------------------------------------------------------------

def test_alerts_check_and_fire(w):
    out = promtool("check", "rules", ALERTS)
    assert f"SUCCESS: {len(alert_rules())} rules found" in out, out
    # alerts_test.yml checks labels: run it against the rules without their
    # annotations (promtool compares annotations whole).
    rules = yaml.safe_load(open(ALERTS))
    for r in rules["groups"][0]["rules"]:
        r.pop("annotations")
    with open(os.path.join(w.dir, "alerts.yml"), "w") as f:
        yaml.safe_dump(rules, f)
    shutil.copy(ALERTS_TEST, w.dir)
    promtool("test", "rules", os.path.basename(ALERTS_TEST), cwd=w.dir)
    tested = set(re.findall(r"alertname: (\w+)", open(ALERTS_TEST).read()))
    assert tested == {r["alert"] for r in alert_rules()}, tested


def test_alerts_name_documented_metrics(w):
    rules = alert_rules()
    missing = undocumented((r["alert"], r["expr"]) for r in rules)
    assert not missing, f"deploy/monitoring/alerts.yml: not in doc/metrics.md: {missing}"
    for r in rules:
        assert r["alert"].startswith("Spillway"), r["alert"]
        assert r["labels"]["severity"] in ("info", "warning", "critical"), r
        assert r["annotations"]["summary"] and r["annotations"]["description"], r


def test_dashboard_panels(w):
    d = dashboard()
    assert d["title"] and d["uid"] and d["schemaVersion"] >= 36, d.get("title")
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"
    titles = [p["title"].lower() for p in d["panels"]]
    for want in PANELS:
        assert any(want in t for t in titles), f"no panel about '{want}': {titles}"
    for p in d["panels"]:
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        if p["type"] != "row":
            assert p["targets"] and p["datasource"]["uid"] == "${datasource}", p["title"]


def test_dashboard_queries_parse_and_name_documented_metrics(w):
    queries = list(dashboard_queries(dashboard()))
    missing = undocumented(queries)
    assert not missing, f"deploy/monitoring/dashboard.json: not in doc/metrics.md: {missing}"
    # Each expression as a recording rule: promtool parses its PromQL.
    records = []
    for i, (where, e) in enumerate(queries):
        if e.startswith("label_values("):
            e = re.fullmatch(r"label_values\((\w+), *\w+\)", e).group(1)
        for var, value in GRAFANA_VARS.items():
            e = e.replace(var, value)
        assert "$" not in e, f"{where}: a Grafana variable this test does not know: {e}"
        records.append({"record": f"dashboard:query_{i}", "expr": e})
    path = os.path.join(w.dir, "dashboard-queries.yml")
    with open(path, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}, f)
    out = promtool("check", "rules", path)
    assert f"SUCCESS: {len(records)} rules found" in out, out


if __name__ == "__main__":
    sys.exit(run_cases("monitoring", globals(), Scratch, lambda w: ""))
