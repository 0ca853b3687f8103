#!/usr/bin/python3
"""dashboard_check.py SPANWATCH DASHBOARD.json DEMO.pcap CONFIG [PROMTOOL]

The Grafana dashboard in examples/ must be valid JSON, reference only metric
families spanwatch really exports, and hold PromQL that parses:
  - families: every `spanwatch_*` name in a panel or variable query (with
    _bucket/_sum/_count mapped to its histogram) must have a `# TYPE` line
    in the exposition of a replay of DEMO.pcap with CONFIG (rules on, so the
    alert families are present);
  - syntax: with Grafana's variables replaced ($__rate_interval -> 5m,
    $instance/$server -> .*), every query goes into a recording-rule file
    that `promtool check rules` must accept (skipped if promtool is absent).
Prints one line per check and "N passed, N failed".
"""
import json
import os
import re
import subprocess
import sys
import tempfile

from checks import check, finish

sw, dash_path, pcap, cfg = sys.argv[1:5]
promtool = sys.argv[5] if len(sys.argv) > 5 else None


try:
    dash = json.load(open(dash_path))
    check(True, "%s is valid JSON" % dash_path)
except ValueError as e:
    check(False, "%s: %s" % (dash_path, e))
    finish()

exprs = []
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in ("expr", "definition") and isinstance(v, str):
                exprs.append(v)
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(dash)
check(len(exprs) >= 10, "%d queries found" % len(exprs))

out = subprocess.run([sw, "-q", "-r", pcap, "-c", cfg, "--metrics-out", "-"], capture_output=True,
                     text=True, check=True).stdout
families = set(re.findall(r"^# TYPE (\S+) ", out, re.M))
check("spanwatch_dns_latency_seconds" in families, "%d families in the exposition" % len(families))

used = set()
for e in exprs:
    for name in re.findall(r"\bspanwatch_[a-z0-9_]+", e):
        used.add(re.sub(r"_(bucket|sum|count)$", "", name) if name.endswith(("_bucket", "_sum", "_count")) and
                 re.sub(r"_(bucket|sum|count)$", "", name) in families else name)
for name in sorted(used):
    check(name in families, "dashboard metric %s is exported" % name)

if promtool:
    rules = []
    for i, e in enumerate(exprs):
        if e.startswith("label_values("):
            m = re.match(r"label_values\((.*),\s*\w+\)$", e)
            e = m.group(1) if m else e
        e = e.replace("$__rate_interval", "5m").replace("$instance", ".*").replace("$server", ".*")
        rules.append({"record": "dashboard:q%d" % i, "expr": e})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)  # JSON is YAML
    r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    os.unlink(f.name)
    check(r.returncode == 0, "promtool check rules accepts all %d queries%s" %
          (len(rules), "" if r.returncode == 0 else ": " + (r.stdout + r.stderr).strip()[-600:]))

finish()
