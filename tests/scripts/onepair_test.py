#!/usr/bin/python3
"""onepair_test.py SPANWATCH — one busy host pair spreads over the workers
(issue 22): a load balancer (10.1.0.1) and one backend (10.1.0.2:80), 400
HTTP/1.1 connections from distinct client ports, built here with struct
(behaviour known by construction: 400 requests, 300 answered 200 and 100
answered 503, each server time 2 ms plus 0.01 ms per connection index).

Checked, with shared reading (-r of a pcap file) and with the dispatcher
(SPANWATCH_DISPATCH=1):
  - -w 2 puts at least 30% of the packets on each worker, -w 3 at least
    20% (the 5-tuple hash; an address-pair hash put them all on one);
  - every per-server series is identical for -w 1, 2 and 3 (only the
    per-worker packet split and the flow table's end occupancy may differ,
    as in workers_equal.sh), and the shared reading's exposition equals the
    dispatcher's byte for byte;
  - the HTTP counts equal the construction.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

sw = sys.argv[1]
fails, oks = [], 0
CONNS = 400


def ok(msg):
    global oks
    oks += 1
    print("ok   " + msg)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame(src, dst, sp, dp, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp


def build(path):
    lb, be = bytes([10, 1, 0, 1]), bytes([10, 1, 0, 2])
    pkts = []
    t0 = 1_700_000_000_000_000  # microseconds
    for i in range(CONNS):
        t = t0 + i * 5000  # a new connection every 5 ms, overlapping
        sp = 20000 + i
        c, s = 1000 * i + 1, 5000 * i + 7
        req = b"GET /item/%d HTTP/1.1\r\nHost: backend\r\n\r\n" % i
        status = b"503 Service Unavailable" if i % 4 == 3 else b"200 OK"
        body = b"x" * 100
        resp = b"HTTP/1.1 " + status + b"\r\nContent-Length: 100\r\n\r\n" + body
        st = 2000 + 10 * i  # server time, microseconds
        seq = [
            (t, lb, be, sp, 80, c - 1, 0, 0x02, b""),
            (t + 300, be, lb, 80, sp, s - 1, c, 0x12, b""),
            (t + 600, lb, be, sp, 80, c, s, 0x10, b""),
            (t + 700, lb, be, sp, 80, c, s, 0x18, req),
            (t + 700 + st, be, lb, 80, sp, s, c + len(req), 0x18, resp),
            (t + 1000 + st, lb, be, sp, 80, c + len(req), s + len(resp), 0x11, b""),
            (t + 1300 + st, be, lb, 80, sp, s + len(resp), c + len(req) + 1, 0x11, b""),
            (t + 1600 + st, lb, be, sp, 80, c + len(req) + 1, s + len(resp) + 1, 0x10, b""),
        ]
        for ts, a, b, p1, p2, sq, ak, fl, pl in seq:
            pkts.append((ts, frame(a, b, p1, p2, sq, ak, fl, pl)))
    pkts.sort(key=lambda x: x[0])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for ts, fr in pkts:
            f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(fr), len(fr)) + fr)
    return len(pkts)


def run(pcap, w, prom, dispatch=False):
    env = dict(os.environ)
    if dispatch:
        env["SPANWATCH_DISPATCH"] = "1"
    r = subprocess.run([sw, "-q", "-r", pcap, "-w", str(w), "--metrics-out", prom], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        fails.append("-w %d: exit %d %s" % (w, r.returncode, r.stderr[-200:]))
    return open(prom).read() if os.path.exists(prom) else ""


def per_worker(text):
    return [int(float(m.group(1))) for m in
            re.finditer(r'^spanwatch_packets_total\{worker="\d+"\} (\S+)$', text, re.M)]


def servers_only(text):
    skip = ("spanwatch_scrape_duration_seconds", "spanwatch_flows_active",
            "spanwatch_flow_evictions_total")
    return [ln for ln in text.splitlines()
            if not ln.startswith(skip) and '{worker="' not in ln and '{source="ring"}' not in ln]


def value(text, pattern):
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else None


tmp = tempfile.mkdtemp()
pcap = os.path.join(tmp, "onepair.pcap")
n = build(pcap)
print("built %s: %d packets, %d connections between 10.1.0.1 and 10.1.0.2:80" % (pcap, n, CONNS))
outs = {}
for w in (1, 2, 3):
    for d in (False, True):
        outs[w, d] = run(pcap, w, os.path.join(tmp, "w%d%s.prom" % (w, "d" if d else "")), d)

one = outs[1, False]
S = r'\{server="10\.1\.0\.2:80"'
built = {
    "requests": (value(one, r'^spanwatch_http_requests_total' + S + r'\} (\S+)$'), CONNS),
    "200": (value(one, r'^spanwatch_http_responses_total' + S + r',code="200"\} (\S+)$'), 300),
    "503": (value(one, r'^spanwatch_http_responses_total' + S + r',code="503"\} (\S+)$'), 100),
    # request to response: 2 ms + 10 us x the connection's index
    "latency sum": (value(one, r'^spanwatch_http_latency_seconds_sum' + S + r'\} (\S+)$'),
                    CONNS * 0.002 + 0.00001 * CONNS * (CONNS - 1) / 2),
    "handshake sum": (value(one, r'^spanwatch_tcp_handshake_rtt_seconds_sum' + S + r'\} (\S+)$'),
                      CONNS * 0.0006),
}
bad = {k: v for k, v in built.items() if v[0] is None or abs(v[0] - v[1]) > 1e-6}
if not bad:
    ok("-w 1: 400 requests, 300 answered 200 and 100 503, latency and handshake sums as built")
else:
    fails.append("-w 1: not as built (spanwatch, built): %s" % bad)
for w, floor in ((2, 0.30), (3, 0.20)):
    for d in (False, True):
        how = "dispatcher" if d else "shared reading"
        split = per_worker(outs[w, d])
        if len(split) == w and sum(split) == n and min(split) >= floor * n:
            ok("-w %d (%s): packets per worker %s of %d, each >= %.0f%%"
               % (w, how, split, n, 100 * floor))
        else:
            fails.append("-w %d (%s): packets per worker %s of %d (each must be >= %.0f%%)"
                         % (w, how, split, n, 100 * floor))
        if servers_only(outs[w, d]) == servers_only(one):
            ok("-w %d (%s): every per-server series equals -w 1's" % (w, how))
        else:
            a, b = servers_only(one), servers_only(outs[w, d])
            diff = [x for x in b if x not in a][:3]
            fails.append("-w %d (%s): per-server series differ from -w 1: %s" % (w, how, diff))
    strip = [ln for ln in outs[w, False].splitlines()
             if not ln.startswith("spanwatch_scrape_duration_seconds")]
    strip_d = [ln for ln in outs[w, True].splitlines()
               if not ln.startswith("spanwatch_scrape_duration_seconds")]
    if strip == strip_d:
        ok("-w %d: shared reading's exposition equals the dispatcher's, per-worker series too" % w)
    else:
        fails.append("-w %d: shared reading and dispatcher differ" % w)
for f in os.listdir(tmp):
    os.unlink(os.path.join(tmp, f))
os.rmdir(tmp)
for f in fails:
    print("FAIL " + f)
print("onepair: %d ok, %d bad" % (oks, len(fails)))
sys.exit(1 if fails else 0)
