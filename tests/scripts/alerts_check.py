#!/usr/bin/python3
"""alerts_check.py SPANWATCH PCAP CONFIG [EXPECT]

Backtest check of the alert engine. spanwatch replays PCAP with CONFIG and
writes its alert transitions (--alerts-out). Independently, this script
computes every rule's per-window value from tshark's dissection of the same
file (DNS queries and rcodes, HTTP status codes and http.time, TCP SYNs and
RSTs answering them), applies the documented window semantics (tumbling
windows from the first packet, min_events, k of the last n windows,
m good windows to resolve, the last partial window closed at the end) and
requires the same transitions: rule, server, state, window end and
pattern.

EXPECT (optional) lists transitions known from how the capture was built,
"rule server state window" (1-based window index), or "rule never"; they
are checked too, so a shared misunderstanding between this script and
spanwatch cannot pass unnoticed.
"""
import json
import os
import math
import re
import subprocess
import sys
import tempfile
from collections import defaultdict

import yaml

spanwatch, pcap, config = sys.argv[1:4]
expect_file = sys.argv[4] if len(sys.argv) > 4 else None
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def duration(s):
    if isinstance(s, (int, float)):
        return float(s)
    total, pos = 0.0, 0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(us|ms|ns|s|m|h)", s):
        total += float(num) * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    return total


cfg = yaml.safe_load(open(config))
rules = cfg.get("rules") or []

# ---------------------------------------------------------------- tshark


def tshark(filt, fields):
    cmd = ["tshark", "-r", pcap, "-n", "-Y", filt, "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


times = [float(r[0]) for r in tshark("frame", ["frame.time_epoch"])]
t0, tend = min(times), max(times)


def label(ip, port):
    return ("[%s]:%s" % (ip, port)) if ":" in ip else "%s:%s" % (ip, port)


# events: (time, server, kind, value)
ev = []
for t, src, dst, src6, dst6, sp, dp, resp, rcode in tshark(
        "dns && udp", ["frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
                       "udp.srcport", "udp.dstport", "dns.flags.response", "dns.flags.rcode"]):
    s, d = src or src6, dst or dst6
    if resp in ("0", "False"):
        ev.append((float(t), label(d, dp), "dns_query", 1))
    else:
        ev.append((float(t), label(s, sp), "dns_rcode", int(rcode)))
for t, src, sp, code, htime in tshark(
        "http.response", ["frame.time_epoch", "ip.src", "tcp.srcport", "http.response.code",
                          "http.time"]):
    ev.append((float(t), label(src, sp), "http_code", int(code)))
    if htime:
        ev.append((float(t), label(src, sp), "http_time", float(htime)))
# TCP: connection attempts at the first SYN of a stream; a failure when a RST
# answers it before any SYN-ACK
streams = {}
for t, stream, src, dst, sp, dp, flags in tshark(
        "tcp", ["frame.time_epoch", "tcp.stream", "ip.src", "ip.dst", "tcp.srcport",
                "tcp.dstport", "tcp.flags"]):
    f = int(flags, 16)
    st = streams.setdefault(stream, {"syn": None, "synack": False, "failed": None})
    if f & 0x02 and not f & 0x10 and st["syn"] is None:
        st["syn"] = (float(t), label(dst, dp))
    elif f & 0x02 and f & 0x10:
        st["synack"] = True
    elif f & 0x04 and st["syn"] and not st["synack"] and st["failed"] is None:
        st["failed"] = float(t)
for st in streams.values():
    if st["syn"]:
        ev.append((st["syn"][0], st["syn"][1], "tcp_conn", 1))
        if st["failed"] is not None:
            ev.append((st["failed"], st["syn"][1], "tcp_fail", 1))

# ---------------------------------------------------------------- windows


def windows_for(W):
    """per window index: per server: list of events"""
    per = defaultdict(lambda: defaultdict(list))
    for t, srv, kind, v in ev:
        per[int((t - t0) // W)][srv].append((kind, v))
    return per


def quantile(vals, q):
    s = sorted(vals)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def value(expr, evs, W):
    """(value, events) for one server and window"""
    q = sum(1 for k, _ in evs if k == "dns_query")
    rc = [v for k, v in evs if k == "dns_rcode"]
    codes = [v for k, v in evs if k == "http_code"]
    lat = [v for k, v in evs if k == "http_time"]
    conns = sum(1 for k, _ in evs if k == "tcp_conn")
    fails = sum(1 for k, _ in evs if k == "tcp_fail")
    if expr == "dns_error_ratio":
        return (sum(1 for r in rc if r in (2, 5)) / q if q else 0.0), q
    if expr == "dns_nxdomain_ratio":
        return (sum(1 for r in rc if r == 3) / q if q else 0.0), q
    if expr == "http_5xx_ratio":
        return (sum(1 for c in codes if 500 <= c < 600) / len(codes) if codes else 0.0), len(codes)
    if expr == "http_4xx_ratio":
        return (sum(1 for c in codes if 400 <= c < 500) / len(codes) if codes else 0.0), len(codes)
    m = re.match(r"http_latency_p(\d+)$", expr)
    if m:
        return (quantile(lat, int(m.group(1)) / 100) if lat else 0.0), len(lat)
    if expr == "tcp_handshake_failure_ratio":
        return (fails / conns if conns else 0.0), conns
    raise SystemExit("alerts_check: expression %s not modelled here" % expr)


def applies(expr, evs):
    kinds = {k for k, _ in evs}
    if expr.startswith("dns_"):
        return "dns_query" in kinds or "dns_rcode" in kinds
    if expr.startswith("http_"):
        return "http_code" in kinds
    if expr.startswith("tcp_"):
        return "tcp_conn" in kinds
    return True


OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
       "<=": lambda a, b: a <= b}


def iso(t):
    import datetime
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (round(t * 1000) % 1000)


expected = []
for r in rules:
    W = duration(r.get("window", "60s"))
    thr = r["threshold"]
    thr = duration(thr) if isinstance(thr, str) else float(thr)
    op = OPS[r.get("op", ">")]
    k = r.get("fire_when", {}).get("bad_windows", 1)
    n = r.get("fire_when", {}).get("of_last", 1)
    m = r.get("resolve_when", {}).get("good_windows", 1)
    mine = r.get("min_events", 1)
    per = windows_for(W)
    nwin = int((tend - t0) // W) + 1  # the last one is partial (closed at the end)
    state = {}
    for wi in range(nwin):
        seen_servers = set()
        for w2 in range(wi + 1):
            for srv, evs in per[w2].items():
                if applies(r["expr"], evs):
                    seen_servers.add(srv)
        for srv in sorted(seen_servers):
            if r.get("server", "*") != "*" and srv != r["server"]:
                continue
            v, events = value(r["expr"], per[wi].get(srv, []), W)
            sparse = events < mine or events == 0
            bad = not sparse and op(v, thr)
            s = state.setdefault(srv, {"hist": [], "firing": False, "good": 0})
            s["hist"].append("X" if bad else "-" if sparse else ".")
            if bad:
                s["good"] = 0
            elif not sparse:
                s["good"] += 1
            last = s["hist"][-n:]
            end = t0 + (wi + 1) * W
            if not s["firing"]:
                if last.count("X") >= k:
                    s["firing"] = True
                    s["good"] = 0
                    expected.append((r["name"], srv, "firing", iso(end), "".join(last)))
            elif s["good"] >= m:
                expected.append((r["name"], srv, "resolved", iso(end), "".join(last)))
                s.update(hist=[], firing=False, good=0)

# ---------------------------------------------------------------- spanwatch

with tempfile.TemporaryDirectory() as tmp:
    out = tmp + "/alerts.json"
    met = tmp + "/metrics.prom"
    p = subprocess.run([spanwatch] + os.environ.get("SPANWATCH_ARGS", "").split() + ["-q", "-r", pcap, "-c", config, "--alerts-out", out,
                        "--metrics-out", met], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("spanwatch exited %d: %s" % (p.returncode, p.stderr))
    got_json = [json.loads(line) for line in open(out)]
    metrics = open(met).read()

got = [(a["rule"], a["server"], a["state"], a["window_end"], a["pattern"]) for a in got_json]
print("tshark-derived transitions: %d, spanwatch: %d" % (len(expected), len(got)))
for e in expected:
    print("  expect %s" % (e,))
if sorted(got) != sorted(expected):
    for g in sorted(set(got) - set(expected)):
        fail("spanwatch reported %s, not derived from tshark" % (g,))
    for e in sorted(set(expected) - set(got)):
        fail("derived from tshark but not reported by spanwatch: %s" % (e,))
else:
    print("ok   %d transitions agree with tshark" % len(got))

# every transition's JSON carries what an operator needs
for a in got_json:
    for key in ("rule", "server", "value", "threshold", "window_start", "window_end", "pattern",
                "severity", "events"):
        if key not in a:
            fail("alert JSON lacks %s: %s" % (key, a))

# metrics: fired counters per rule and alert_active per instance
fired = defaultdict(int)
for a in got_json:
    if a["state"] == "firing":
        fired[a["rule"]] += 1
for r in rules:
    m = re.search(r'^spanwatch_alerts_fired_total\{rule="%s"\} (\d+)$' % re.escape(r["name"]),
                  metrics, re.M)
    if not m or int(m.group(1)) != fired[r["name"]]:
        fail("spanwatch_alerts_fired_total{rule=%s}: %s, transitions say %d"
             % (r["name"], m.group(1) if m else "missing", fired[r["name"]]))
print("ok   spanwatch_alerts_fired_total matches the transitions" if not failures else "")

# ---------------------------------------------------------------- construction
if expect_file:
    W = {r["name"]: duration(r.get("window", "60s")) for r in rules}
    for line in open(expect_file):
        line = line.split("#")[0].split()
        if not line:
            continue
        if line[1] == "never":
            if any(g[0] == line[0] for g in got):
                fail("%s must never fire (by construction)" % line[0])
            else:
                print("ok   %s never fires" % line[0])
            continue
        rule, srv, st, wi = line[0], line[1], line[2], int(line[3])
        end = iso(t0 + wi * W[rule])
        if not any(g[:4] == (rule, srv, st, end) for g in got):
            fail("by construction %s %s should be %s at the end of window %d (%s)"
                 % (rule, srv, st, wi, end))
        else:
            print("ok   %s %s %s at window %d" % (rule, srv, st, wi))
        # and not earlier
        if st == "firing":
            firsts = [g for g in got if g[0] == rule and g[1] == srv and g[2] == "firing"]
            if firsts and min(g[3] for g in firsts) < end and wi == min(
                    int(x.split()[3]) for x in open(expect_file)
                    if x.split() and x.split()[0] == rule and x.split()[2:3] == ["firing"]):
                fail("%s %s fired before window %d" % (rule, srv, wi))

print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
