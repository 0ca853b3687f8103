#!/usr/bin/python3
"""tshark_analyzers.py SPANWATCH PCAP [HTTP_STREAMS] — analyzer metrics vs tshark.

Runs spanwatch on PCAP (defaults: dns_timeout 5 s, tcp_handshake_timeout 3 s)
and derives the expected per-server values from tshark's dissection of the
same file:

DNS (server = destination IP:port of the query; frames tshark itself flags
     as malformed DNS are not messages: spanwatch counts them as decode
     errors, which tshark_crosscheck.py checks)
  queries      frames with dns.flags.response == 0
  responses    responses tshark matched to a query (dns.response_to) whose
               question is the query's too (tshark pairs by ID alone; the spec
               also requires the question: a response to another question, or
               with none, still matches when the response has no question
               section), by rcode
  latency      dns.time of those responses -> cumulative counts per le bucket;
               a sample within 1% of a bucket bound may sit on either side
  timeouts     queries tshark saw no response for (no dns.response_in on any
               copy of the query) that are older than 5 s at the last frame
TCP (server = destination of the stream's first SYN; streams without a SYN
     are skipped)
  connections  streams with a SYN
  rtt          tcp.analysis.initial_rtt per stream whose handshake completed
               (tshark also reports one for SYN -> RST, which completes
               nothing) -> le buckets as above
  failures     reset: an RST from the server before any SYN-ACK;
               timeout: no SYN-ACK nor RST within 3 s of the first SYN
  resets       streams with a completed handshake and an RST after it
  retransmits  frames with tcp.analysis.retransmission and tcp.len > 0
  gaps         0 bytes for a server none of whose streams has a frame with
               tcp.analysis.lost_segment or ack_lost_segment (else unchecked)
HTTP (server = server side of the TCP stream; tshark run with
      tcp.reassemble_out_of_order on; requests here have no body, so the
      frame tshark dates a request by is the one completing its head)
  requests     http.request frames (pipelined requests in one frame all count)
  responses    tshark's parsed responses, paired with tshark's parsed requests
               of the same stream in order (RFC 9112 9.3.2; tshark's own
               http.request_in leaves pipelined responses unpaired), by code.
               A 1xx interim response is counted and leaves its request
               waiting for the final one (RFC 9110 15.2); a response with no
               request waiting is not counted
  latency      request head -> the first segment of the response (the first
               tcp.segment of a reassembled head, else the response frame)
  HTTP_STREAMS lines "client-port requests=N CODE=N lat=a,b  # why" replace
               tshark's view of streams where it cannot be the oracle
Prints one line per check; exit 0 if all agree.
"""
import os
import collections
import re
import subprocess
import sys
import tempfile

LE = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
      0.5, 1, 2.5, 5, 10, 30]
DNS_TIMEOUT, HS_TIMEOUT = 5.0, 3.0
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def metrics(spanwatch, pcap, config=None):
    with tempfile.NamedTemporaryFile("r", suffix=".prom") as f:
        subprocess.run([spanwatch] + os.environ.get("SPANWATCH_ARGS", "").split() + ["-q", "-r", pcap, "--metrics-out", f.name] +
                       (["-c", config] if config else []), check=True)
        out = {}
        for line in f.read().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out


def get(m, name, **labels):
    lab = ",".join('%s="%s"' % kv for kv in labels.items())
    return m.get("%s{%s}" % (name, lab), 0.0)


def ep(ip, port):
    return "[%s]:%s" % (ip, port) if ":" in ip else "%s:%s" % (ip, port)


def fields(pcap, filt, names, occurrence="f", prefs=()):
    cmd = ["tshark", "-n", "-2", "-r", pcap, "-Y", filt, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=" + occurrence, "-E", "aggregator=,"] + list(prefs) + \
        sum((["-e", n] for n in names), [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [dict(zip(names, l.split("\t"))) for l in out.splitlines()]


def fields_all(pcap, filt, names, prefs=()):
    return fields(pcap, filt, names, "a", prefs)


def explode(rows, per_message):
    """One row per DNS message: split the per-message fields of frames that
    carry several (DNS over TCP). Fields absent from some messages (dns.time
    on queries) are matched up by message kind."""
    out = []
    for r in rows:
        flags = r["dns.flags.response"].split(",") if r["dns.flags.response"] else [""]
        n = len(flags)
        cols = {k: r[k].split(",") if r[k] else [] for k in per_message}
        nresp = sum(1 for f in flags if f in ("1", "True"))
        for i in range(n):
            row = dict(r)
            for k in per_message:
                v = cols[k]
                if len(v) == n:
                    row[k] = v[i]
                else:  # only responses carry dns.time / response_to; only queries response_in
                    is_resp = flags[i] in ("1", "True")
                    idx = sum(1 for f in flags[:i] if (f in ("1", "True")) == is_resp)
                    want = nresp if is_resp else n - nresp
                    row[k] = v[idx] if len(v) == want and idx < len(v) else ""
            out.append(row)
    return out


class Checker:
    def __init__(self):
        self.failed = 0
        self.checked = 0

    def eq(self, what, ours, want):
        self.checked += 1
        ok = ours == want
        self.failed += not ok
        print("%s %s: spanwatch %g, tshark %g" % ("ok  " if ok else "FAIL", what, ours, want))

    def hist(self, what, m, name, server, samples):
        """Cumulative le counts; a sample within 1% of a bound may fall either side."""
        for le in LE:
            lo = sum(1 for x in samples if x <= le * 0.99)
            hi = sum(1 for x in samples if x <= le * 1.01)
            ours = get(m, name + "_bucket", server=server, le="%g" % le)
            self.checked += 1
            if not lo <= ours <= hi:
                self.failed += 1
                print("FAIL %s le=%g: spanwatch %g, tshark %d..%d" % (what, le, ours, lo, hi))
        self.eq(what + " count", get(m, name + "_count", server=server), len(samples))
        s = sum(samples)
        ours = get(m, name + "_sum", server=server)
        self.checked += 1
        if abs(ours - s) > 1e-6 * max(1, len(samples)):
            self.failed += 1
            print("FAIL %s sum: spanwatch %.9f, tshark %.9f" % (what, ours, s))


host_groups = {}


def host_key(h):
    h = h.lower()
    if not h.endswith("]") and ":" in h:
        h = h.rsplit(":", 1)[0]
    return h.rstrip(".")


def main():
    # options: --config FILE (passed to spanwatch) and --host-group NAME=HOST,
    # which must mirror a servers: group of that config with only
    # match.http_host: HTTP requests whose Host is HOST belong to NAME
    global host_groups
    args = sys.argv[1:]
    config = None
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--config":
            config = args.pop(0)
        elif opt == "--host-group":
            name, host = args.pop(0).split("=", 1)
            host_groups[host_key(host)] = name
    sys.argv = [sys.argv[0]] + args
    sw, pcap = sys.argv[1], sys.argv[2]
    m = metrics(sw, pcap, config)
    c = Checker()
    last = float(fields(pcap, "frame", ["frame.time_epoch"])[-1]["frame.time_epoch"])

    # ---- DNS
    dns = explode(fields_all(pcap, "dns && !icmp && !icmpv6 && !_ws.malformed", ["frame.number", "frame.time_epoch",
                 "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "udp.srcport", "udp.dstport",
                 "tcp.srcport", "tcp.dstport", "dns.flags.response", "dns.flags.rcode",
                 "dns.time", "dns.response_to", "dns.response_in", "dns.id", "dns.qry.name"]),
                  ["dns.flags.response", "dns.flags.rcode", "dns.time", "dns.response_to",
                   "dns.response_in", "dns.id", "dns.qry.name"])
    queries = collections.Counter()
    responses = collections.Counter()
    latency = collections.defaultdict(list)
    answered_keys = set()
    query_first = {}
    qname_of = collections.defaultdict(set)
    for p in dns:
        qname_of[p["frame.number"]].add(p["dns.qry.name"])
    for p in dns:
        src = p["ip.src"] or p["ipv6.src"]
        dst = p["ip.dst"] or p["ipv6.dst"]
        sport = p["udp.srcport"] or p["tcp.srcport"]
        dport = p["udp.dstport"] or p["tcp.dstport"]
        if p["dns.flags.response"] in ("0", "False"):
            srv = ep(dst, dport)
            queries[srv] += 1
            key = (src, sport, dst, dport, p["dns.id"], p["dns.qry.name"])
            query_first.setdefault(key, (float(p["frame.time_epoch"]), srv))
            rin = p["dns.response_in"]
            if rin and (p["dns.qry.name"] in qname_of[rin] or qname_of[rin] <= {""}):
                answered_keys.add(key)
        elif p["dns.response_to"] and (p["dns.qry.name"] == "" or
                                       p["dns.qry.name"] in qname_of[p["dns.response_to"]]):
            srv = ep(src, sport)
            responses[(srv, RCODES.get(int(p["dns.flags.rcode"]), "OTHER"))] += 1
            latency[srv].append(float(p["dns.time"]))
    timeouts = collections.Counter(srv for k, (t, srv) in query_first.items()
                                   if k not in answered_keys and last - t > DNS_TIMEOUT)
    for srv in sorted(set(queries) | set(s for s, _ in responses)):
        c.eq("dns queries %s" % srv, get(m, "spanwatch_dns_queries_total", server=srv), queries[srv])
        for rc in list(RCODES.values()) + ["OTHER"]:
            c.eq("dns responses %s %s" % (srv, rc),
                 get(m, "spanwatch_dns_responses_total", server=srv, rcode=rc), responses[(srv, rc)])
        c.eq("dns timeouts %s" % srv, get(m, "spanwatch_dns_timeouts_total", server=srv), timeouts[srv])
        c.hist("dns latency %s" % srv, m, "spanwatch_dns_latency_seconds", srv, latency[srv])

    # ---- TCP
    tcp = fields(pcap, "tcp", ["tcp.stream", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src",
                 "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack",
                 "tcp.flags.reset", "tcp.len", "tcp.analysis.retransmission",
                 "tcp.analysis.initial_rtt", "tcp.analysis.lost_segment",
                 "tcp.analysis.ack_lost_segment", "tcp.flags.fin"])
    streams = collections.defaultdict(list)
    for p in tcp:
        streams[p["tcp.stream"]].append(p)
    conns = collections.Counter()
    rtts = collections.defaultdict(list)
    fail = collections.Counter()
    resets = collections.Counter()
    retx = collections.Counter()
    lossy = set()
    T = lambda v: v in ("1", "True")
    for sid, pk in streams.items():
        syns = [p for p in pk if T(p["tcp.flags.syn"]) and not T(p["tcp.flags.ack"])]
        if not syns:
            continue
        s0 = syns[0]
        client = (s0["ip.src"] or s0["ipv6.src"], s0["tcp.srcport"])
        srv = ep(s0["ip.dst"] or s0["ipv6.dst"], s0["tcp.dstport"])
        t0 = float(s0["frame.time_epoch"])
        conns[srv] += 1
        from_server = lambda p: (p["ip.src"] or p["ipv6.src"], p["tcp.srcport"]) != client
        synack = [p for p in pk if T(p["tcp.flags.syn"]) and T(p["tcp.flags.ack"])]
        rsts = [p for p in pk if T(p["tcp.flags.reset"])]
        first_synack = float(synack[0]["frame.time_epoch"]) if synack else None
        srv_rst_first = [p for p in rsts if from_server(p) and
                         (first_synack is None or float(p["frame.time_epoch"]) < first_synack)]
        if srv_rst_first:
            fail[(srv, "reset")] += 1
        elif first_synack is None or first_synack - t0 > HS_TIMEOUT:
            if last - t0 > HS_TIMEOUT:
                fail[(srv, "timeout")] += 1
        rtt = [p["tcp.analysis.initial_rtt"] for p in pk if p["tcp.analysis.initial_rtt"]]
        if rtt and synack and not srv_rst_first:
            rtts[srv].append(float(rtt[0]))
            after = [p for p in rsts if first_synack and float(p["frame.time_epoch"]) > first_synack]
            if after:
                resets[srv] += 1
        retx[srv] += sum(1 for p in pk if p["tcp.analysis.retransmission"] and int(p["tcp.len"] or 0) > 0)
        if any(p["tcp.analysis.lost_segment"] or p["tcp.analysis.ack_lost_segment"] for p in pk):
            lossy.add(srv)
    for srv in sorted(conns):
        c.eq("tcp connections %s" % srv, get(m, "spanwatch_tcp_connections_total", server=srv), conns[srv])
        for why in ("reset", "timeout"):
            c.eq("tcp handshake failures %s %s" % (srv, why),
                 get(m, "spanwatch_tcp_handshake_failures_total", server=srv, reason=why), fail[(srv, why)])
        c.eq("tcp resets %s" % srv, get(m, "spanwatch_tcp_resets_total", server=srv), resets[srv])
        c.eq("tcp retransmits %s" % srv, get(m, "spanwatch_tcp_retransmits_total", server=srv), retx[srv])
        c.hist("tcp handshake rtt %s" % srv, m, "spanwatch_tcp_handshake_rtt_seconds", srv, rtts[srv])
        # where tshark sees no lost segment in any of the server's streams,
        # reassembly must not report missing bytes (FINs use a sequence number
        # but carry none); with loss the byte count has no tshark equivalent
        if srv not in lossy:
            c.eq("tcp stream gaps %s" % srv, get(m, "spanwatch_tcp_stream_gaps_total", server=srv), 0)

    # ---- HTTP
    overrides = {}
    if len(sys.argv) > 3:
        for line in open(sys.argv[3]):
            line = line.split("#")[0].split()
            if line:
                kv = dict(x.split("=") for x in line[1:])
                overrides[line[0]] = kv
    times = {p["frame.number"]: float(p["frame.time_epoch"])
             for p in fields(pcap, "frame", ["frame.number", "frame.time_epoch"])}
    http = fields_all(pcap, "http && tcp", ["frame.number", "tcp.stream", "ip.src", "ip.dst",
                      "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "http.request.method",
                      "http.response.code", "http.request_in", "tcp.segment", "http.host"],
                      ["-o", "tcp.reassemble_out_of_order:TRUE"])
    hreq = collections.Counter()
    hcodes = collections.Counter()
    hlat = collections.defaultdict(list)
    waiting = collections.defaultdict(collections.deque)  # stream -> request frames
    server_of = {}
    for p in http:
        sid = p["tcp.stream"]
        src = p["ip.src"] or p["ipv6.src"]
        dst = p["ip.dst"] or p["ipv6.dst"]
        if p["http.request.method"]:
            server_of[sid] = (ep(dst, p["tcp.dstport"]), p["tcp.srcport"])
        srv, cport = server_of.get(sid, (ep(src, p["tcp.srcport"]), p["tcp.dstport"]))
        if cport in overrides:
            continue
        hosts = p["http.host"].split(",") if p["http.host"] else []
        for i, _ in enumerate(filter(None, p["http.request.method"].split(","))):
            label = srv
            if host_groups and i < len(hosts) and host_key(hosts[i]) in host_groups:
                label = host_groups[host_key(hosts[i])]
            hreq[label] += 1
            waiting[sid].append((p["frame.number"], label))
        for code in filter(None, p["http.response.code"].split(",")):
            first = times[p["tcp.segment"].split(",")[0]] if p["tcp.segment"] else times[p["frame.number"]]
            if not waiting[sid]:
                continue
            frame, label = waiting[sid][0]
            hcodes[(label, int(code))] += 1
            if 100 <= int(code) < 200 and int(code) != 101:
                continue
            waiting[sid].popleft()
            hlat[label].append(round(first - times[frame], 9))
    for cport, kv in overrides.items():
        srvs = {v[0] for k, v in server_of.items() if v[1] == cport}
        srv = srvs.pop() if srvs else None
        if srv is None:
            continue
        hreq[srv] += int(kv.get("requests", 0))
        for k, v in kv.items():
            if k.isdigit():
                hcodes[(srv, int(k))] += int(v)
        if kv.get("lat"):
            hlat[srv] += [float(x) for x in kv["lat"].split(",")]
    for srv in sorted(set(hreq) | {s for s, _ in hcodes}):
        c.eq("http requests %s" % srv, get(m, "spanwatch_http_requests_total", server=srv), hreq[srv])
        codes = {int(k.split('code="')[1].split('"')[0]) for k in m
                 if k.startswith("spanwatch_http_responses_total{") and 'server="%s"' % srv in k}
        for code in sorted(codes | {cd for s2, cd in hcodes if s2 == srv}):
            c.eq("http responses %s %d" % (srv, code),
                 get(m, "spanwatch_http_responses_total", server=srv, code=str(code)), hcodes[(srv, code)])
        c.hist("http latency %s" % srv, m, "spanwatch_http_latency_seconds", srv, hlat[srv])

    print("%s: %d checks, %s" % (pcap, c.checked, "all agree with tshark" if not c.failed
                                 else "%d disagree" % c.failed))
    return 1 if c.failed or c.checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
