#!/usr/bin/python3
"""compare_live.py [--sample-tolerance-us N] [--exclude REGEX] LIVE.prom REPLAY.prom — what a
live capture reported must equal a replay of tcpdump's capture of the same
interface, series by series.

Every latency is the difference of two packets' own timestamps, so a live
run and a replay of a capture taken beside it differ only where the two
capturing sockets were given different stamps for the same frame. The
kernel stamps a frame once for all packet sockets when it enables
software receive timestamps (spanwatch does) — except a frame whose
skb->tstamp still holds the monotonic delivery time the sender's TCP stack
set (a TCP segment that crossed a veth or loopback from a local sender):
AF_PACKET then reads the real-time clock as it delivers the frame to each
socket, one after the other, a few hundred ns to a few us apart. On a
physical NIC every frame arrives without it.

So: every counter, every histogram _count, and every bucket and _sum of
histograms that are not times (bytes) must be equal. Time histograms
(*_seconds): with --sample-tolerance-us 0 (frames the kernel stamped once:
a NIC, a SPAN-like feed) every bucket and _sum equal to the ns; with N > 0
(sockets stamping a frame one after the other) each _sum within N us per
sample, and buckets not compared: a socket whose delivery was delayed by an
interrupt moves a sample by tens of us, across any edge. With "inf" only
the sample counts of time histograms are compared (a back end whose stamps
carry no per-packet truth: DPDK's poll-time stamps, where a request and
its reply often share one burst and so one stamp), and the mean error per
sample is only reported.

--exclude leaves out the families whose name matches REGEX (a caller
states why). Always left out: spanwatch_fault_domain, judged per alert window; a live run's
windows start when it starts, a replay's at its first packet."""
import re
import sys

LINE = re.compile(r'^(spanwatch_[a-z0-9_]+)\{([^}]*)\} (\S+)$')


def load(path, exclude):
    d = {}
    for line in open(path):
        m = LINE.match(line.strip())
        if (m and 'server="' in m.group(2) and m.group(1) != "spanwatch_fault_domain" and
                not (exclude and re.search(exclude, m.group(1)))):
            d[(m.group(1), m.group(2))] = float(m.group(3))
    return d


def main(argv):
    tol_us = 2.0
    exclude = None
    while argv and argv[0].startswith("--"):
        if argv[0] == "--sample-tolerance-us":
            tol_us = float(argv[1])
        elif argv[0] == "--exclude":
            exclude = argv[1]
        else:
            print("compare_live.py: unknown option %s" % argv[0])
            return 2
        argv = argv[2:]
    live, replay = load(argv[0], exclude), load(argv[1], exclude)
    keys = sorted(set(live) | set(replay))
    bad = []
    worst = 0.0  # largest |sum difference| / samples of a time histogram
    for k in keys:
        name, lab = k
        a, b = live.get(k, 0.0), replay.get(k, 0.0)
        timed = tol_us > 0 and re.sub(r"_(bucket|sum|count)$", "", name).endswith("_seconds")
        if timed and name.endswith("_sum"):
            count = replay.get((name[:-4] + "_count", lab), 0.0)
            if count:
                worst = max(worst, abs(a - b) / count * 1e6)
            if tol_us == float("inf"):
                continue
            if abs(a - b) > count * tol_us * 1e-6 + 1e-9:
                bad.append((k, b, a, "more than %g us per sample (%g samples)" % (tol_us, count)))
        elif timed and name.endswith("_bucket"):
            continue
        elif a != b:
            bad.append((k, b, a, ""))
    for (name, lab), want, got, why in bad[:15]:
        print("differs: %s{%s} replay %.9g live %.9g %s" % (name, lab, want, got, why))
    how = ("times to the ns" if tol_us == 0 else "time sums to %g us per sample, largest mean "
           "error %.2f us" % (tol_us, worst))
    print("compared %d series (%s), %d differ" % (len(keys), how, len(bad)))
    return 1 if bad or not keys else 0


sys.exit(main(sys.argv[1:]))
