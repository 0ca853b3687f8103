#!/usr/bin/python3
"""gen_faults.py OUTDIR — captures of four incidents, for fault-domain tests.

Each capture holds one web server, 10.20.0.80:80, and one resolver,
10.20.0.53:53, seen from a tap, with WINDOW-second windows (10 s):
  windows 0-5   normal traffic (the baselines learn it)
  windows 6-9   the incident (40 s)
  windows 10-12 normal again
Per window: 20 HTTP connections (one GET each, answered 200 with an
8,000-byte body in 1,400-byte segments, the client ACKing each segment)
and 15 DNS queries (NOERROR, 1 ms). Normal timing: server think time 5 ms;
the tap sits next to the server (SYN -> SYN-ACK 0.1 ms; client leg, SYN-ACK
-> ACK and data -> ACK, 20 ms), except in slow-network, whose tap sits next
to the clients (server leg 20 ms, client leg 0.1 ms).

The incidents (only the web server is affected; the resolver stays normal):
  backend       half of the responses are 503 with a 120-byte body;
                RTT and think time unchanged                  -> backend
  network       a quarter of the SYNs are never answered (handshake
                timeouts) and a quarter of the connections retransmit
                their second response segment after 200 ms; codes and
                think time normal                              -> network
  partial-page  bodies shrink by 80% (1,600 bytes), think time falls to
                1 ms                                           -> backend
  slow-network  the RTT triples (server leg 20 -> 60 ms; the tap is by the
                clients, so HTTP latency grows too, but think time is the
                same)                                          -> network
Writes OUTDIR/<name>.pcap for each and prints the incident's start and end
(seconds from the first packet).
"""
import importlib.machinery
import importlib.util
import os
import random
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
loader = importlib.machinery.SourceFileLoader(
    "genbench", os.path.join(here, "..", "..", "scripts", "gen-bench-pcap"))
spec = importlib.util.spec_from_loader("genbench", loader)
g = importlib.util.module_from_spec(spec)
loader.exec_module(g)

WINDOW = 10.0
NORMAL_BEFORE, INCIDENT, NORMAL_AFTER = 6, 4, 3
WEB = bytes([10, 20, 0, 80])
DNS = bytes([10, 20, 0, 53])
CONNS, QUERIES = 20, 15
BODY, SEG = 8000, 1400
SCENARIOS = ("backend", "network", "partial-page", "slow-network")


def client(i):
    return bytes([192, 168, 50 + i // 250, 1 + i % 250])


def pkt(pk, t, src, dst, proto, l4):
    pk.append((t, g.l2(0, False) + g.ip_l4(src, dst, proto, l4)))


def http_conn(pk, rnd, t, ci, sport, server_leg, client_leg, think, status, body,
              syn_unanswered, retransmit):
    """One connection as the tap sees it: t is when the SYN passes the tap."""
    c = client(ci)
    cs, ss = rnd.getrandbits(32), rnd.getrandbits(32)
    T = g.tcp
    pkt(pk, t, c, WEB, 6, T(sport, 80, cs, 0, g.SYN, syn_opts=True))
    if syn_unanswered:
        # the client tries again after 1 s and 3 s; nothing ever answers
        pkt(pk, t + 1.0, c, WEB, 6, T(sport, 80, cs, 0, g.SYN, syn_opts=True))
        pkt(pk, t + 3.0, c, WEB, 6, T(sport, 80, cs, 0, g.SYN, syn_opts=True))
        return
    t += server_leg
    pkt(pk, t, WEB, c, 6, T(80, sport, ss, cs + 1, g.SYN | g.ACK, syn_opts=True))
    t += client_leg
    pkt(pk, t, c, WEB, 6, T(sport, 80, cs + 1, ss + 1, g.ACK))
    req = b"GET /page HTTP/1.1\r\nHost: web.example\r\nUser-Agent: gen\r\nAccept: */*\r\n\r\n"
    pkt(pk, t + 0.00001, c, WEB, 6, T(sport, 80, cs + 1, ss + 1, g.PSH | g.ACK, req))
    cseq = cs + 1 + len(req)
    t += 0.00001 + server_leg + think
    reason = b"OK" if status == 200 else b"Service Unavailable"
    head = (b"HTTP/1.1 %d %s\r\nServer: gen\r\nContent-Type: text/html\r\n"
            b"Content-Length: %d\r\n\r\n" % (status, reason, len(body)))
    data = head + body
    segs = [data[i:i + SEG] for i in range(0, len(data), SEG)]
    sseq = ss + 1
    acks = []
    for k, s in enumerate(segs):
        ts = t + k * 0.00002
        if retransmit and k == 1:
            # lost after the tap: seen once now, again 200 ms later; the
            # client's ACKs stop at the hole until the copy arrives
            pkt(pk, ts, WEB, c, 6, T(80, sport, sseq, cseq, g.ACK, s))
            pkt(pk, ts + 0.2, WEB, c, 6, T(80, sport, sseq, cseq, g.ACK, s))
            hole = sseq
            sseq += len(s)
            continue
        pkt(pk, ts, WEB, c, 6, T(80, sport, sseq, cseq, g.PSH | g.ACK, s))
        sseq += len(s)
        acks.append((ts + client_leg, sseq))
    if retransmit:
        acks = [(a_t, min(a, hole)) if a_t < t + 0.2 + client_leg else (a_t, a) for a_t, a in acks]
        acks.append((t + 0.2 + client_leg, sseq))
    for a_t, a in acks:
        pkt(pk, a_t, c, WEB, 6, T(sport, 80, cseq, a, g.ACK))
    tend = max(a_t for a_t, _ in acks) + 0.001
    pkt(pk, tend, c, WEB, 6, T(sport, 80, cseq, sseq, g.FIN | g.ACK))
    pkt(pk, tend + server_leg, WEB, c, 6, T(80, sport, sseq, cseq + 1, g.FIN | g.ACK))
    pkt(pk, tend + server_leg + client_leg, c, WEB, 6, T(sport, 80, cseq + 1, sseq + 1, g.ACK))


def dns_query(pk, t, ci, qid):
    c = client(ci)
    name = g.qname_wire("host%d.example.com" % (qid % 50))
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)
    sport = 20000 + qid % 40000
    pkt(pk, t, c, DNS, 17, g.udp(sport, 53, q))
    a = (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + name + struct.pack("!HH", 1, 1) +
         b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([10, 1, 2, 3]))
    pkt(pk, t + 0.001, DNS, c, 17, g.udp(53, sport, a))


def build(name, rnd):
    pk = []
    t0 = g.T0
    nwin = NORMAL_BEFORE + INCIDENT + NORMAL_AFTER
    sport, qid = 10000, 1
    for w in range(nwin):
        bad = NORMAL_BEFORE <= w < NORMAL_BEFORE + INCIDENT
        for i in range(CONNS):
            t = t0 + w * WINDOW + (i + 0.5) * WINDOW / CONNS
            server_leg, client_leg, think = 0.0001, 0.020, 0.005
            status, body = 200, bytes(BODY)
            unanswered = retransmit = False
            if name == "slow-network":
                server_leg, client_leg = 0.020, 0.0001
                if bad:
                    server_leg = 0.060
            if bad and name == "backend" and i % 2 == 0:
                status, body = 503, b"x" * 120
            if bad and name == "network":
                unanswered = i % 4 == 0
                retransmit = i % 4 == 1
            if bad and name == "partial-page":
                body, think = bytes(BODY // 5), 0.001
            http_conn(pk, rnd, t, i, sport, server_leg, client_leg, think, status, body,
                      unanswered, retransmit)
            sport = sport + 1 if sport < 60000 else 10000
        for q in range(QUERIES):
            dns_query(pk, t0 + w * WINDOW + (q + 0.25) * WINDOW / QUERIES, q, qid)
            qid = qid % 65535 + 1
    return pk


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name in SCENARIOS:
        g.write(os.path.join(out, name + ".pcap"), build(name, random.Random(name)))
    print("incident %g %g" % (NORMAL_BEFORE * WINDOW, (NORMAL_BEFORE + INCIDENT) * WINDOW))


if __name__ == "__main__":
    main()
