#!/usr/bin/python3
"""tls_backtest.py SPANWATCH — the TLS rule expressions, backtested on a
capture built here (scapy) whose behaviour is known by construction:

  api (10.20.0.1:443, SNI api.example.test, TLS 1.3): 10 windows of 10 s,
      20 handshakes each; the ServerHello comes 2 ms after the ClientHello,
      400 ms in windows 4 and 5 (the server slows down); in window 8 half
      the handshakes are refused (fatal alert handshake_failure). A third of
      the ClientHellos carry a post-quantum-sized key share and span two
      segments; five in window 2 get a HelloRetryRequest first; one
      connection is picked up mid-stream (no handshake counted)
  old (10.20.0.2:443, TLS 1.2): 5 handshakes a window, its certificate
      (made with openssl) expires 10 days after the capture's start
  new (10.20.0.3:443, TLS 1.2): the same with 60 days

Rules (one bad window fires, one good window resolves): tls_handshake_p99
> 0.2 s and tls_handshake_failure_ratio > 0.2 on api (firing at 4 and 8,
resolved at 6 and 9), tls_certificate_days_left < 14 on every server (old
fires in window 1; new never). The handshake counts and the certificate
expiry gauges are checked too, the fault domain of the two api alerts
(backend: tls_server_time, tls_alerts), and a replay with -w 3 gives the
same transitions.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402

from scapy.all import IP, TCP, Ether, wrpcap  # noqa: E402

sw = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="spanwatch-tlsbt.")
START = float(int(time.time()))  # the certificates' clock is the capture's
W = 10.0


def u16(v):
    return v.to_bytes(2, "big")


def u24(v):
    return v.to_bytes(3, "big")


def record(ctype, body, ver=0x0303):
    return bytes([ctype]) + u16(ver) + u16(len(body)) + body


def hs(htype, body):
    return bytes([htype]) + u24(len(body)) + body


def client_hello(sni, key_share=0):
    name = sni.encode()
    sni_ext = u16(0) + u16(len(name) + 5) + u16(len(name) + 3) + b"\x00" + u16(len(name)) + name
    sv = u16(43) + u16(5) + b"\x04" + u16(0x0304) + u16(0x0303)
    exts = sni_ext + sv
    if key_share:  # one large share, as X25519MLKEM768's 1,216 bytes
        share = u16(0x11ec) + u16(key_share) + os.urandom(key_share)
        exts += u16(51) + u16(len(share) + 2) + u16(len(share)) + share
    body = u16(0x0303) + os.urandom(32) + b"\x20" + os.urandom(32) + u16(2) + u16(0x1301) + \
        b"\x01\x00" + u16(len(exts)) + exts
    return record(22, hs(1, body), 0x0301)


HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def server_hello(tls13, hrr=False):
    exts = u16(43) + u16(2) + u16(0x0304) if tls13 else b""
    rnd = HRR_RANDOM if hrr else os.urandom(32)
    body = u16(0x0303) + rnd + b"\x20" + os.urandom(32) + u16(0x1301) + b"\x00"
    body += u16(len(exts)) + exts if tls13 else b""
    return hs(2, body)


class Conn:
    def __init__(self, pkts, cip, cport, sip, t):
        self.p, self.c, self.s, self.t = pkts, (cip, cport), (sip, 443), t
        self.seq = {0: 1000, 1: 5000}

    def send(self, side, payload=b"", flags="PA", dt=0.0001):
        self.t += dt
        src, dst = (self.c, self.s) if side == 0 else (self.s, self.c)
        pkt = Ether() / IP(src=src[0], dst=dst[0]) / TCP(sport=src[1], dport=dst[1], flags=flags,
                                                         seq=self.seq[side], ack=self.seq[1 - side],
                                                         window=65535) / payload
        pkt.time = self.t
        self.p.append(pkt)
        self.seq[side] += len(payload) + (1 if ("S" in flags or "F" in flags) else 0)

    def handshake(self):
        self.seq = {0: 1000, 1: 5000}
        self.t += 0.0001
        src, dst = self.c, self.s
        for side, fl in ((0, "S"), (1, "SA"), (0, "A")):
            a, b = (src, dst) if side == 0 else (dst, src)
            pkt = Ether() / IP(src=a[0], dst=b[0]) / TCP(sport=a[1], dport=b[1], flags=fl,
                                                         seq=self.seq[side] - (0 if fl == "A" else 0),
                                                         ack=self.seq[1 - side] if "A" in fl else 0,
                                                         window=65535)
            pkt.time = self.t
            self.p.append(pkt)
            if "S" in fl:
                self.seq[side] += 1
            self.t += 0.00005

    def close(self):
        self.send(0, b"", "FA")
        self.send(1, b"", "FA")
        self.send(0, b"", "A")


def tls13(pkts, cport, t, sni, delay, refuse, big=False, hrr=False):
    c = Conn(pkts, "10.20.1.%d" % (cport % 200 + 1), cport, "10.20.0.1", t)
    c.handshake()
    hello = client_hello(sni, 1216 if big else 0)
    if big:  # over two segments, as a browser's does
        c.send(0, hello[:700])
        c.send(0, hello[700:])
    else:
        c.send(0, hello)
    if hrr:  # HelloRetryRequest, a second ClientHello; the time counts from it
        c.send(1, record(22, server_hello(True, hrr=True)), dt=0.002)
        c.send(0, record(20, b"\x01") + client_hello(sni), dt=0.0003)
    if refuse:
        c.send(1, record(21, b"\x02\x28"), dt=0.002)
        c.close()
        return
    c.send(1, record(22, server_hello(True)) + record(23, os.urandom(120)), dt=delay)
    c.send(0, record(20, b"\x01") + record(23, os.urandom(53)), dt=0.0003)
    c.send(0, record(23, os.urandom(90)))
    # two session tickets (as OpenSSL sends them), then the response
    c.send(1, record(23, os.urandom(250)) + record(23, os.urandom(250)), dt=0.0002)
    c.send(1, record(23, os.urandom(300)), dt=0.003)
    c.close()


def tls12(pkts, sip, cport, t, der):
    c = Conn(pkts, "10.20.2.%d" % (cport % 200 + 1), cport, sip, t)
    c.handshake()
    c.send(0, client_hello("cert.example.test"))
    cert = hs(11, u24(len(der) + 3) + u24(len(der)) + der)
    c.send(1, record(22, server_hello(False) + cert + hs(14, b"")), dt=0.002)
    c.send(0, record(22, hs(16, os.urandom(65))) + record(20, b"\x01") + record(22, os.urandom(40)),
           dt=0.0003)
    c.send(1, record(20, b"\x01") + record(22, os.urandom(40)), dt=0.0005)
    c.send(0, record(23, os.urandom(90)))
    c.send(1, record(23, os.urandom(300)), dt=0.003)
    c.close()


def certificate(days):
    key, crt = os.path.join(tmp, "k%d.pem" % days), os.path.join(tmp, "c%d.der" % days)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", str(days), "-keyout", key, "-out", crt, "-outform", "DER",
                    "-subj", "/CN=cert%d" % days], check=True, capture_output=True)
    na = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", crt, "-noout", "-enddate"],
                        check=True, capture_output=True, text=True).stdout.split("=", 1)[1].strip()
    when = subprocess.run(["date", "-u", "-d", na, "+%s"], check=True, capture_output=True,
                          text=True).stdout.strip()
    return open(crt, "rb").read(), int(when)


def main():
    der_old, na_old = certificate(10)
    der_new, na_new = certificate(60)
    pkts = []
    port = 20000
    for w in range(10):
        base = START + w * W
        for i in range(20):
            port += 1
            slow = w in (3, 4)
            tls13(pkts, port, base + 0.2 + i * 0.4, "api.example.test", 0.4 if slow else 0.002,
                  w == 7 and i % 2 == 0, big=i % 3 == 1, hrr=w == 1 and i < 5)
        for i in range(5):
            port += 1
            tls12(pkts, "10.20.0.2", port, base + 0.3 + i * 1.5, der_old)
            port += 1
            tls12(pkts, "10.20.0.3", port, base + 0.35 + i * 1.5, der_new)
    # a connection picked up mid-stream (no SYN, no ClientHello): no handshake
    c = Conn(pkts, "10.20.1.250", 40000, "10.20.0.1", START + 55)
    c.send(0, record(23, os.urandom(90)))
    c.send(1, record(23, os.urandom(300)), dt=0.003)
    pkts.sort(key=lambda p: p.time)
    pcap = os.path.join(tmp, "tls_faults.pcap")
    wrpcap(pcap, pkts)
    cfg = os.path.join(tmp, "rules.yaml")
    with open(cfg, "w") as f:
        f.write("""fault_domain:
  window: 10s
  min_baseline_windows: 2
servers:
  - name: api
    match: { sni: api.example.test }
  - name: old
    match: { cidr: 10.20.0.2/32 }
  - name: new
    match: { cidr: 10.20.0.3/32 }
rules:
  - name: tls-slow
    server: api
    expr: tls_handshake_p99
    op: ">"
    threshold: 200ms
    window: 10s
    min_events: 5
    fire_when: { bad_windows: 1, of_last: 1 }
    resolve_when: { good_windows: 1 }
  - name: tls-refused
    server: api
    expr: tls_handshake_failure_ratio
    op: ">"
    threshold: 0.2
    window: 10s
    min_events: 5
    fire_when: { bad_windows: 1, of_last: 1 }
    resolve_when: { good_windows: 1 }
  - name: cert-expiry
    server: "*"
    expr: tls_certificate_days_left
    op: "<"
    threshold: 14
    window: 10s
    min_events: 1
    fire_when: { bad_windows: 1, of_last: 1 }
    resolve_when: { good_windows: 1 }
""")
    want = {("tls-slow", "api", "firing", 4), ("tls-slow", "api", "resolved", 6),
            ("tls-refused", "api", "firing", 8), ("tls-refused", "api", "resolved", 9),
            ("cert-expiry", "old", "firing", 1)}
    # the server's own TLS work above its baseline; alerts from the server
    fd_want = {"tls-slow": ("backend", "tls_server_time"), "tls-refused": ("backend", "tls_alerts")}
    first = min(p.time for p in pkts)
    for workers in ("1", "3"):
        out = subprocess.run([sw, "-q", "-w", workers, "-r", pcap, "-c", cfg, "--alerts-out", "-",
                              "--metrics-out", os.path.join(tmp, "m.prom")],
                             check=True, capture_output=True, text=True).stdout
        got = set()
        for line in out.splitlines():
            a = json.loads(line)
            if a["state"] == "firing" and a["rule"] in fd_want:
                dom = (a["fault_domain"], a["fault_evidence"])
                check(dom == fd_want[a["rule"]], "-w %s %s: fault domain %s (%s)" %
                      (workers, a["rule"], dom[0], dom[1]))
            end = a["window_end"]
            t = time.mktime(time.strptime(end[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            got.add((a["rule"], a["server"], a["state"], int(round((t - first) / W))))
        check(got == want, "-w %s transitions: %s%s" % (workers, sorted(got),
                                                         "" if got == want else " (want %s)" % sorted(want)))
    prom = open(os.path.join(tmp, "m.prom")).read()

    def val(series):
        for line in prom.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return None
    check(val('spanwatch_tls_handshakes_total{server="api",version="TLSv1.3",result="ok"}') == 190,
          "api: 190 handshakes ok")
    check(val('spanwatch_tls_handshakes_total{server="api",version="unknown",result="alert"}') == 10,
          "api: 10 refused with an alert")
    check(val('spanwatch_tls_alerts_total{server="api",sender="server",description="handshake_failure"}') == 10,
          "api: 10 handshake_failure alerts from the server")
    check(val('spanwatch_tls_certificate_expiry_timestamp_seconds{server="old"}') == na_old,
          "old: certificate expiry %s (openssl)" % na_old)
    check(val('spanwatch_tls_certificate_expiry_timestamp_seconds{server="new"}') == na_new,
          "new: certificate expiry %s (openssl)" % na_new)
    # handshake time = the delay after the (last, complete) ClientHello, by construction
    hs_sum = val('spanwatch_tls_handshake_seconds_sum{server="api"}')
    check(val('spanwatch_tls_handshake_seconds_count{server="api"}') == 190 and
          abs(hs_sum - (40 * 0.4 + 150 * 0.002)) < 1e-5,
          "api: 190 handshake times summing to %.6f s (built: 16.3 s)" % hs_sum)
    check(val('spanwatch_tls_response_seconds_count{server="api"}') == 190,
          "api: one response time per request")
    if os.environ.get("KEEP"): print("kept", tmp)
    else: subprocess.run(["rm", "-rf", tmp])
    finish()


main()
