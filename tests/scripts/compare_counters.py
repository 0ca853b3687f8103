#!/usr/bin/python3
"""compare_counters.py LIVE.prom REPLAY.prom... — the timing-independent
per-server counters (DNS queries, responses by rcode, TCP connections, HTTP
requests, responses by code) of a live capture must equal the sum of those
of replays of the files that were sent. Timestamps of live back ends
without hardware/kernel stamps (AF_XDP, DPDK) are arrival times, so
latencies, timeouts and retransmission timing are not compared."""
import re
import sys

PAT = re.compile(r'^(spanwatch_(?:dns_queries_total|dns_responses_total|tcp_connections_total|'
                 r'http_requests_total|http_responses_total)\{[^}]*\}) (\S+)$')


def load(paths):
    d = {}
    for p in paths:
        for line in open(p):
            m = PAT.match(line.strip())
            if m:
                d[m.group(1)] = d.get(m.group(1), 0) + float(m.group(2))
    return d


got, want = load(sys.argv[1:2]), load(sys.argv[2:])
keys = sorted(set(want) | set(got))
bad = [(k, want.get(k, 0), got.get(k, 0)) for k in keys if want.get(k, 0) != got.get(k, 0)]
for b in bad[:10]:
    print("differs: %s replay %g live %g" % b)
print("compared %d series, %d differ" % (len(keys), len(bad)))
sys.exit(1 if bad or not keys else 0)
