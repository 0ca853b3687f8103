#!/usr/bin/python3
"""gen_floods.py OUTDIR [SCALE] — hostile captures with legitimate traffic inside.

Writes OUTDIR/legit.pcap and OUTDIR/flood-{syn,dns,http,ooo}.pcap. Every
flood capture holds the same legitimate traffic (below), interleaved over
20 s with one flood, SCALE times the base size (default 1):
  syn   20,000 SYNs from random sources and ports to random servers
  dns   10,000 queries for random subdomains to 1,000 made-up resolvers
        (each answered NXDOMAIN, as a real victim would)
  http  200 connections to a web server, each sending a request with a
        random Host header and a 64 KiB header line, in 1448-byte segments
  ooo   100 connections each sending 300 one-byte segments in reverse order
Legitimate traffic, known by construction (the test's truth):
  DNS to 10.9.0.53:53: 200 queries, answered 180 NOERROR, 15 NXDOMAIN,
  5 SERVFAIL; HTTP to 10.9.0.80:80: 40 connections, one request each,
  answered 30 x 200, 6 x 404, 4 x 503.
The legitimate servers speak first (at t = 0), as established servers do.
Packets are built with scripts/gen-bench-pcap's struct helpers.
"""
import importlib.machinery
import importlib.util
import os
import random
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
loader = importlib.machinery.SourceFileLoader("genbench", os.path.join(here, "..", "..", "scripts", "gen-bench-pcap"))
spec = importlib.util.spec_from_loader("genbench", loader)
g = importlib.util.module_from_spec(spec)
loader.exec_module(g)

T0 = g.T0
LEGIT_DNS = bytes([10, 9, 0, 53])
LEGIT_WEB = bytes([10, 9, 0, 80])
CLIENT = bytes([192, 168, 7, 7])


def pkt(pk, t, src, dst, proto, l4):
    pk.append((t, g.l2(0, False) + g.ip_l4(src, dst, proto, l4)))


def tcp_conn(pk, t, cli, srv, sport, dport, req_segments, resp, rtt=0.002):
    """handshake, request in the given segments, one response, FIN both ways"""
    c, s = 1000, 50000
    pkt(pk, t, cli, srv, 6, g.tcp(sport, dport, c, 0, g.SYN, syn_opts=True))
    pkt(pk, t + rtt / 2, srv, cli, 6, g.tcp(dport, sport, s, c + 1, g.SYN | g.ACK, syn_opts=True))
    t += rtt
    c += 1
    s += 1
    pkt(pk, t, cli, srv, 6, g.tcp(sport, dport, c, s, g.ACK))
    for seg in req_segments:
        pkt(pk, t, cli, srv, 6, g.tcp(sport, dport, c, s, g.PSH | g.ACK, seg))
        c += len(seg)
        t += 0.00005
    if resp is not None:
        t += rtt / 2 + 0.001
        pkt(pk, t, srv, cli, 6, g.tcp(dport, sport, s, c, g.PSH | g.ACK, resp))
        s += len(resp)
        pkt(pk, t + rtt / 2, cli, srv, 6, g.tcp(sport, dport, c, s, g.ACK))
    t += rtt
    pkt(pk, t, cli, srv, 6, g.tcp(sport, dport, c, s, g.FIN | g.ACK))
    pkt(pk, t + rtt / 2, srv, cli, 6, g.tcp(dport, sport, s, c + 1, g.FIN | g.ACK))
    pkt(pk, t + rtt, cli, srv, 6, g.tcp(sport, dport, c + 1, s + 1, g.ACK))


def dns_msg(qid, name, resp=False, rcode=0):
    q = g.qname_wire(name) + struct.pack("!HH", 1, 1)
    if not resp:
        return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q
    ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1]) if rcode == 0 else b""
    return struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 1 if ans else 0, 0, 0) + q + ans


def legit():
    pk = []
    rcodes = [0] * 180 + [3] * 15 + [2] * 5
    random.Random(1).shuffle(rcodes)
    for i, rc in enumerate(rcodes):
        t = T0 + i * 0.1
        sp = 20000 + i
        pkt(pk, t, CLIENT, LEGIT_DNS, 17, g.udp(sp, 53, dns_msg(i, "host%d.example.com" % i)))
        pkt(pk, t + 0.003, LEGIT_DNS, CLIENT, 17, g.udp(53, sp, dns_msg(i, "host%d.example.com" % i, True, rc)))
    codes = [200] * 30 + [404] * 6 + [503] * 4
    random.Random(2).shuffle(codes)
    reasons = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}
    for i, code in enumerate(codes):
        req = b"GET /page%d HTTP/1.1\r\nHost: www.example.com\r\n\r\n" % i
        resp = b"HTTP/1.1 %d %s\r\nContent-Length: 5\r\n\r\nhello" % (code, reasons[code].encode())
        tcp_conn(pk, T0 + i * 0.5, CLIENT, LEGIT_WEB, 30000 + i, 80, [req], resp)
    return pk


def rand_ip(r, first=None):
    return bytes([first if first is not None else r.randrange(1, 224), r.randrange(256), r.randrange(256),
                  r.randrange(1, 255)])


def flood_syn(r, n):
    pk = []
    for i in range(n):
        t = T0 + 0.01 + 20.0 * i / n
        pkt(pk, t, rand_ip(r, 100), rand_ip(r, 172), 6,
            g.tcp(r.randrange(1024, 65536), r.choice((80, 443, 22, 8080)), r.getrandbits(32), 0, g.SYN, syn_opts=True))
    return pk


def flood_dns(r, n):
    pk = []
    servers = [bytes([10, 66, k // 250, k % 250 + 1]) for k in range(1000)]
    for i in range(n):
        t = T0 + 0.01 + 20.0 * i / n
        srv, sp, qid = r.choice(servers), r.randrange(1024, 65536), r.getrandbits(16)
        name = "%x.victim.example" % r.getrandbits(48)
        cli = rand_ip(r, 100)
        pkt(pk, t, cli, srv, 17, g.udp(sp, 53, dns_msg(qid, name)))
        pkt(pk, t + 0.002, srv, cli, 17, g.udp(53, sp, dns_msg(qid, name, True, 3)))
    return pk


def flood_http(r, n):
    pk = []
    web = bytes([10, 9, 0, 81])
    for i in range(n):
        t = T0 + 0.01 + 20.0 * i / n
        head = (b"GET / HTTP/1.1\r\nHost: %x.example\r\nX-Junk: " % r.getrandbits(64)) + b"a" * 65536 + b"\r\n\r\n"
        segs = [head[k:k + 1448] for k in range(0, len(head), 1448)]
        tcp_conn(pk, t, rand_ip(r, 100), web, r.randrange(1024, 65536), 80, segs, None)
    return pk


def flood_ooo(r, n):
    pk = []
    web = bytes([10, 9, 0, 82])
    for i in range(n):
        t = T0 + 0.01 + 20.0 * i / n
        cli, sp = rand_ip(r, 100), r.randrange(1024, 65536)
        c, s = 1000, 50000
        pkt(pk, t, cli, web, 6, g.tcp(sp, 80, c, 0, g.SYN, syn_opts=True))
        pkt(pk, t + 0.001, web, cli, 6, g.tcp(80, sp, s, c + 1, g.SYN | g.ACK, syn_opts=True))
        pkt(pk, t + 0.002, cli, web, 6, g.tcp(sp, 80, c + 1, s + 1, g.ACK))
        # byte k of "GET /..." sent last-first: every segment but the last is out of order
        for k in reversed(range(300)):
            pkt(pk, t + 0.003 + (300 - k) * 0.00001, cli, web, 6,
                g.tcp(sp, 80, c + 1 + k, s + 1, g.PSH | g.ACK, b"GET /"[k:k + 1] if k < 5 else b"x"))
    return pk


def main():
    out = sys.argv[1]
    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    os.makedirs(out, exist_ok=True)
    base = legit()
    g.write(os.path.join(out, "legit.pcap"), list(base))
    for name, fn, n in (("syn", flood_syn, 20000), ("dns", flood_dns, 10000), ("http", flood_http, 200),
                        ("ooo", flood_ooo, 100)):
        r = random.Random(name)
        g.write(os.path.join(out, "flood-%s.pcap" % name), list(base) + fn(r, n * scale))


if __name__ == "__main__":
    main()
