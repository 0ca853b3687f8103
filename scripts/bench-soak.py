#!/usr/bin/python3
"""bench-soak.py [MINUTES] — long-run stability, behind `scripts/bench soak`.

Run from the repository root as root, with build/spanwatch built. In a
network namespace, spanwatch captures a veth (--backend afpacket -w 2,
rules from tests/configs/alerts.yaml, the HTTP endpoint on) while
tcpreplay sends the same 20,000-packet slice of the benchmark mix into the
other end again and again at 20,000 packets/s, for MINUTES (default 30).
Every 10 s: a scrape of /metrics, the process's RSS and open file
descriptors; every 60 s: a reload (alternately POST /-/reload and SIGHUP).
Checked and reported:
  - RSS over the last third of the run: flat means it grew by at most
    4 MiB there (before that, RSS rises while fixed tables are written
    through for the first time: the pending-query ring is sized from
    limits.max_flows, 1M entries of 48 bytes per worker by default, and
    fills page by page as queries arrive); the RSS curve is reported;
  - open fds: the same at every sample;
  - counters: after each pass of the slice, spanwatch_packets_total and
    spanwatch_dns_queries_total (all servers) grew by exactly what one pass
    holds (what tcpreplay sent, and the DNS queries in the slice), with no
    capture drops;
  - every reload answered 200 / logged as successful.
Results go to stdout and BENCH.md ("Soak").
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import bench_md

SW = os.path.abspath("build/spanwatch")
NS = "swsoak%d" % os.getpid()
PORT = 19690


def ns(*cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", NS] + list(cmd), **kw)


def total(body, family):
    return sum(float(v) for v in re.findall(r"^%s(?:\{[^}]*\})? (\S+)" % family, body, re.M))


def main():
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    if os.geteuid() != 0:
        raise SystemExit("bench soak: needs root")
    os.makedirs("build-bench", exist_ok=True)
    mix = "build-bench/soak-slice.pcap"
    if not os.path.exists(mix):
        subprocess.run(["scripts/gen-bench-pcap", "mix", mix + ".all", "20000"], check=True)
        subprocess.run(["tshark", "-r", mix + ".all", "-Y", "frame.len <= 1514", "-w", mix, "-F", "pcap"], check=True)
        os.unlink(mix + ".all")
    # the DNS queries one pass holds, counted by tshark (independent of spanwatch)
    q = subprocess.run(["tshark", "-r", mix, "-Y", "dns.flags.response == 0", "-T", "fields", "-e", "frame.number"],
                       capture_output=True, text=True, check=True).stdout.split()
    queries_per_pass = len(q)

    subprocess.run(["ip", "netns", "add", NS], check=True)
    tmp = tempfile.mkdtemp()
    p = None
    try:
        ns("ip", "link", "add", "sA", "type", "veth", "peer", "name", "sB", check=True)
        ns("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        for i in ("lo", "sA", "sB"):
            ns("ip", "link", "set", i, "up", check=True)
        for i in ("sA", "sB"):
            ns("ethtool", "-K", i, "tso", "off", "gso", "off", "gro", "off", stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
        cfg = os.path.join(tmp, "soak.yaml")
        open(cfg, "w").write(open("tests/configs/alerts.yaml").read())
        os.chmod(tmp, 0o755)
        os.chmod(cfg, 0o644)   # readable by nobody, for reloads after the switch
        err = open(os.path.join(tmp, "err"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", NS, SW, "-i", "sB", "--backend", "afpacket", "-w", "2",
                              "-c", cfg, "--web.listen-address", "127.0.0.1:%d" % PORT,
                              "--alerts-out", "/dev/null"], stderr=err)
        time.sleep(1.5)
        pid = p.pid   # `ip netns exec` execs spanwatch: same process

        def ns_scrape():   # the endpoint lives in the namespace
            r = ns("curl", "-sf", "http://127.0.0.1:%d/metrics" % PORT, capture_output=True, text=True)
            return r.stdout

        def proc_sample():
            rss = int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % pid).read()).group(1))
            fds = len(os.listdir("/proc/%d/fd" % pid))
            return rss, fds

        t0 = time.time()
        end = t0 + minutes * 60
        samples, passes, reloads, bad_reloads = [], [], 0, 0
        last_reload = t0
        prev = ns_scrape()
        sent_total = 0
        k = 0
        while time.time() < end:
            r = ns("tcpreplay", "--pps=20000", "-i", "sA", mix, capture_output=True, text=True)
            sent = int(re.search(r"Successful packets:\s+(\d+)", r.stdout).group(1))
            sent_total += sent
            time.sleep(1.0)   # let the workers drain
            # sampled before the scrape: its connection is not an fd of ours yet
            rss, fds = proc_sample()
            samples.append((time.time() - t0, rss, fds))
            body = ns_scrape()
            dp = total(body, "spanwatch_packets_total") - total(prev, "spanwatch_packets_total")
            dq = total(body, "spanwatch_dns_queries_total") - total(prev, "spanwatch_dns_queries_total")
            dd = total(body, "spanwatch_capture_drops_total") - total(prev, "spanwatch_capture_drops_total")
            passes.append((sent, dp, queries_per_pass, dq, dd))
            prev = body
            if time.time() - last_reload >= 60:
                k += 1
                if k % 2:
                    code = ns("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                              "http://127.0.0.1:%d/-/reload" % PORT, capture_output=True, text=True).stdout
                    bad_reloads += code != "200"
                else:
                    os.kill(pid, signal.SIGHUP)
                    time.sleep(0.5)
                    body2 = ns_scrape()
                    bad_reloads += total(body2, "spanwatch_config_last_reload_successful") != 1
                reloads += 1
                last_reload = time.time()
            print("soak: %5.0f s  pass %d: sent %d counted %d, queries %d/%d, drops %d; RSS %d KiB, %d fds" %
                  (time.time() - t0, len(passes), sent, dp, dq, queries_per_pass, dd, rss, fds),
                  file=sys.stderr, flush=True)
    finally:
        if p:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
        subprocess.run(["ip", "netns", "del", NS])
    last_third = [s for s in samples if s[0] >= samples[-1][0] * 2 / 3] or samples
    rss_warm, rss_end = last_third[0][1], samples[-1][1]
    rss_max = max(s[1] for s in last_third)
    curve = []
    for m in range(0, int(samples[-1][0] // 60) + 1, 5):
        near = min(samples, key=lambda s: abs(s[0] - 60 * m))
        curve.append("%d min: %d" % (m, near[1] // 1024))
    fds = sorted(set(s[2] for s in samples))
    exact = sum(1 for s, dp, qp, dq, dd in passes if s == dp and qp == dq and dd == 0)
    lines = ["## Soak: %g minutes of live capture with scrapes and reloads\n" % minutes,
             "Command: `scripts/bench soak %g` (%s). spanwatch `--backend afpacket -w 2` with the alert rules of "
             "tests/configs/alerts.yaml on a veth; tcpreplay sends a 20,000-packet slice of the benchmark mix "
             "at 20,000 packets/s, pass after pass; a scrape after each pass, a reload every minute "
             "(POST /-/reload and SIGHUP in turn).\n" % (minutes, time.strftime("%Y-%m-%d")),
             "| check | result |", "|---|---|",
             "| passes | %d (%s packets sent) |" % (len(passes), "{:,}".format(sent_total)),
             "| passes where packets counted = sent, DNS queries = %d (tshark), no drops | %d of %d |" %
             (queries_per_pass, exact, len(passes)),
             "| RSS at the start of the last third / max there / at the end | %d / %d / %d KiB (%+d KiB) |" %
             (rss_warm, rss_max, rss_end, rss_end - rss_warm),
             "| RSS curve (MiB) | %s |" % ", ".join(curve),
             "| open file descriptors over the run | %s |" % ", ".join(map(str, fds)),
             "| reloads (all successful?) | %d (%d failed) |" % (reloads, bad_reloads), ""]
    verdict = (exact == len(passes) and rss_max - rss_warm <= 4096 and len(fds) == 1 and bad_reloads == 0)
    lines.append("Verdict: %s.\n" % ("stable — RSS flat, no fd leak, no counter drift" if verdict else
                                     "**not stable**, see the table"))
    section = "\n".join(lines)
    print(section)
    bench_md.write_section("## Soak:", section)
    sys.exit(0 if verdict else 1)


if __name__ == "__main__":
    main()
