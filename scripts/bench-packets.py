#!/usr/bin/python3
"""bench-packets.py — the packet-rate benchmark behind `scripts/bench packets`.

Run from the repository root with build/spanwatch built. Steps:
  1. captures (cached in build-bench/): mix.pcap (2,000,000 packets from
     scripts/gen-bench-pcap mix: long flows), churn.pcap (1,500,000 packets
     from scripts/gen-bench-pcap churn: ~340,000 flows of four or five
     packets), the first 300,000 and first 10 packets of each, flows.pcap
     (1,000,000 concurrent TCP connections);
  2. the bare-libpcap baseline, scripts/bench-baseline.c, compiled here;
  3. wall time, alternating runs (RUNS rounds, default 5), for each mix:
     baseline, `tcpdump -r FILE -w /dev/null`, `spanwatch -r` with -w 1
     (and -w 2 on mix; on churn also with limits.max_flows: 8192, so that
     table-full eviction runs), tshark on the first 300,000 packets
     extracting the fields spanwatch computes; medians;
  4. instructions per packet under callgrind, baseline and spanwatch, each
     mix: (Ir(first 300,000) - Ir(first 10)) / (300,000 - 10), so start-up
     and exit costs cancel;
  5. peak RSS (ru_maxrss) of spanwatch replaying flows.pcap, with the
     number of flows active at the end read from its summary;
  6. start-up: hyperfine (warm cache) `spanwatch --version` against
     `tcpdump --version`, and a replay of tests/data/demo.pcap against
     `tcpdump -r` of it;
  7. a table of ratios on stdout and in BENCH.md (section "Packet rate").
Environment: RUNS (rounds of step 3), SKIP_CALLGRIND=1, SKIP_RSS=1.
"""
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import bench_md

OUT = "build-bench"
SW = "build/spanwatch"
TSHARK_FIELDS = ["dns.time", "dns.flags.rcode", "http.time", "http.response.code",
                 "tcp.analysis.initial_rtt", "tcp.analysis.retransmission"]


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def capinfo_packets(path):
    out = run(["capinfos", "-M", "-c", path], capture_output=True, text=True).stdout
    return int(re.search(r"Number of packets:\s+(\d+)", out).group(1))


def ensure_mix(kind, name, sname, tname):
    """the capture, its first 300,000 and its first 10 packets"""
    full, sl, tiny = (os.path.join(OUT, n) for n in (name, sname, tname))
    if not os.path.exists(full):
        log("generating %s (~40 s)" % full)
        run(["scripts/gen-bench-pcap", kind, full + ".tmp"])
        os.rename(full + ".tmp", full)
    if not os.path.exists(sl):
        run(["editcap", "-F", "pcap", "-r", full, sl, "1-300000"])
    if not os.path.exists(tiny):
        run(["editcap", "-F", "pcap", "-r", full, tiny, "1-10"])
    return full, sl, tiny


def ensure_captures():
    os.makedirs(OUT, exist_ok=True)
    mix = ensure_mix("mix", "mix.pcap", "slice.pcap", "tiny.pcap")
    churn = ensure_mix("churn", "churn.pcap", "churn-slice.pcap", "churn-tiny.pcap")
    flows = os.path.join(OUT, "flows.pcap")
    if not os.path.exists(flows) and not os.environ.get("SKIP_RSS"):
        log("generating %s (1,000,000 TCP connections, ~40 s)" % flows)
        run(["scripts/gen-bench-pcap", "flows", flows + ".tmp"])
        os.rename(flows + ".tmp", flows)
    return mix, churn, flows


def build_baseline():
    exe = os.path.join(OUT, "bench-baseline")
    src = "scripts/bench-baseline.c"
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        run(["cc", "-O2", "-o", exe, src, "-lpcap"])
    return exe


def timed(cmd):
    t = time.perf_counter()
    run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def callgrind_ir(cmd):
    r = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + cmd,
            capture_output=True, text=True)
    m = re.search(r"Collected : (\d+)", r.stderr)
    return int(m.group(1))


def peak_rss(cmd):
    """ru_maxrss (KiB) of this one child (wait4), and its stderr."""
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read()
    if p.returncode != 0:
        raise SystemExit("bench: %s failed: %s" % (" ".join(cmd), text[-500:]))
    return ru.ru_maxrss, text


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return "%s, %d CPUs, %.0f GiB, Linux %s" % (cpu, os.cpu_count(), mem, platform.release())


def hyperfine_ms(cmds):
    """mean wall ms of each command (hyperfine, warm cache, no shell)"""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as f:
        run(["hyperfine", "-N", "--warmup", "20", "--min-runs", "200", "--export-json", f.name]
            + cmds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import json
        res = json.load(f)["results"]
    return [r["mean"] * 1000 for r in res]


def main():
    runs = int(os.environ.get("RUNS", "5"))
    if not os.access(SW, os.X_OK):
        raise SystemExit("bench: build first (scripts/setup)")
    (mix, sl, tiny), (churn, csl, ctiny), flows = ensure_captures()
    base = build_baseline()
    small = os.path.join(OUT, "small-table.yaml")
    open(small, "w").write("limits:\n  max_flows: 8192\n")
    tshark = ["tshark", "-n", "-T", "fields"] + [x for f in TSHARK_FIELDS for x in ("-e", f)]
    mixes = {"mix": (mix, sl, tiny), "churn": (churn, csl, ctiny)}
    n = {k: (capinfo_packets(v[0]), capinfo_packets(v[1]), capinfo_packets(v[2]))
         for k, v in mixes.items()}

    cmds = {}
    for k, (full, part, _) in mixes.items():
        cmds[(k, "baseline")] = ([base, full], n[k][0])
        cmds[(k, "tcpdump")] = (["tcpdump", "-r", full, "-w", "/dev/null"], n[k][0])
        cmds[(k, "spanwatch -w 1")] = ([SW, "-q", "-w", "1", "-r", full], n[k][0])
        if k == "mix":
            cmds[(k, "spanwatch -w 2")] = ([SW, "-q", "-w", "2", "-r", full], n[k][0])
        else:
            cmds[(k, "spanwatch -w 1, 8,192-flow table")] = (
                [SW, "-q", "-w", "1", "-r", full, "-c", small], n[k][0])
        cmds[(k, "tshark")] = (tshark + ["-r", part], n[k][1])
    # warm the page cache, then alternate
    for c, _ in cmds.values():
        timed(c)
    times = {k: [] for k in cmds}
    for r in range(runs):
        log("round %d/%d" % (r + 1, runs))
        for k, (c, _) in cmds.items():
            times[k].append(timed(c))
    med = {k: statistics.median(v) for k, v in times.items()}
    pps = {k: cmds[k][1] / med[k] for k in cmds}

    ipp = {}
    if not os.environ.get("SKIP_CALLGRIND"):
        for k, (_, part, tn) in mixes.items():
            log("callgrind on %s (baseline, spanwatch)" % k)
            for who, c in (("baseline", [base]), ("spanwatch", [SW, "-q", "-w", "1", "-r"])):
                ipp[(k, who)] = (callgrind_ir(c + [part]) - callgrind_ir(c + [tn])) / (n[k][1] - n[k][2])

    rss = None
    if not os.environ.get("SKIP_RSS"):
        log("peak RSS with 1,000,000 concurrent flows")
        cfg = os.path.join(OUT, "flows.yaml")
        open(cfg, "w").write("limits:\n  max_flows: 1048576\n")
        kib, err = peak_rss([SW, "-w", "1", "-r", flows, "-c", cfg])
        m = re.search(r"flows: (\d+) seen, (\d+) active at end, (\d+) evicted idle, (\d+) evicted because", err)
        rss = (kib, int(m.group(2)) if m else None)

    log("start-up (hyperfine)")
    demo = "tests/data/demo.pcap"
    v_sw, v_td, r_sw, r_td = hyperfine_ms([SW + " --version", "tcpdump --version",
                                           "%s -q -r %s --web.listen-address none" % (SW, demo),
                                           "tcpdump -r %s -w /dev/null" % demo])
    churn_evict = ""
    with tempfile.TemporaryFile("w+") as err:
        run([SW, "-w", "1", "-r", churn, "-c", small], stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        m = re.search(r"flows: (\d+) seen, (\d+) active at end, (\d+) evicted idle, (\d+) evicted because", err.read())
        if m:
            churn_evict = "%s flows seen, %s evicted idle, %s evicted because the 8,192-flow table was full" % (
                "{:,}".format(int(m.group(1))), "{:,}".format(int(m.group(3))), "{:,}".format(int(m.group(4))))

    rows = []
    def row(name, value, target, ok):
        rows.append("| %s | %s | %s | %s |" % (name, value, target, "met" if ok else "**missed**"))

    for k in mixes:
        r1 = pps[(k, "spanwatch -w 1")] / pps[(k, "baseline")]
        row("%s: `spanwatch -r` 1 worker / bare libpcap loop (packets/s)" % k, "%.2f×" % r1, "≥ 0.6×", r1 >= 0.6)
        rt = pps[(k, "spanwatch -w 1")] / pps[(k, "tcpdump")]
        row("%s: `spanwatch -r` 1 worker / `tcpdump -r -w /dev/null`" % k, "%.2f×" % rt, "≥ 1.0×", rt >= 1.0)
        rs = pps[(k, "spanwatch -w 1")] / pps[(k, "tshark")]
        row("%s: `spanwatch -r` 1 worker / tshark (packets/s)" % k, "%.0f×" % rs, "≥ 100×", rs >= 100)
        if ipp:
            lim = 1.6 if k == "mix" else 2.0
            ri = ipp[(k, "spanwatch")] / ipp[(k, "baseline")]
            row("%s: instructions per packet, spanwatch / baseline (callgrind)" % k, "%.2f× (%.0f / %.0f)" %
                (ri, ipp[(k, "spanwatch")], ipp[(k, "baseline")]), "≤ %.1f×" % lim, ri <= lim)
    row("`spanwatch --version` (hyperfine; `tcpdump --version` %.1f ms)" % v_td, "%.1f ms" % v_sw, "≤ 5 ms", v_sw <= 5)
    row("replay of tests/data/demo.pcap (hyperfine; `tcpdump -r` %.1f ms)" % r_td, "%.1f ms" % r_sw, "≤ 15 ms", r_sw <= 15)
    if rss:
        row("peak RSS, %s concurrent TCP flows" % ("{:,}".format(rss[1]) if rss[1] is not None else "?"),
            "%.0f MB" % (rss[0] / 1024), "≤ 400 MB", rss[0] / 1024 <= 400 and (rss[1] or 0) >= 1000000)

    names = {"baseline": "bare libpcap loop (`scripts/bench-baseline.c`)",
             "tcpdump": "`tcpdump -r FILE -w /dev/null`",
             "tshark": "tshark -T fields (%s), first 300,000 packets" % ", ".join(TSHARK_FIELDS)}
    lines = []
    lines.append("## Packet rate: spanwatch vs a bare libpcap loop, tcpdump and tshark\n")
    lines.append("Command: `scripts/bench packets` (%s; %s). Medians of %d alternating runs, page cache warm.\n"
                 % (time.strftime("%Y-%m-%d"), machine(), runs))
    lines.append("- **mix** (`build-bench/mix.pcap`, `scripts/gen-bench-pcap mix`, %s packets, %.0f MB): DNS/UDP "
                 "to 9 resolvers with rcodes and a latency tail, HTTP/1.1 short and keep-alive connections with "
                 "0–64 KiB bodies, 1%% retransmitted segments, 30%% VLAN-tagged, 5%% IPv6 — long flows."
                 % ("{:,}".format(n["mix"][0]), os.path.getsize(mix) / 1e6))
    lines.append("- **churn** (`build-bench/churn.pcap`, `scripts/gen-bench-pcap churn`, %s packets, %.0f MB): "
                 "short flows as a busy resolver or API gateway sees them — DNS exchanges and one-request TCP "
                 "connections, about 4.4 packets a flow, 2,500 new flows a second (%s).\n"
                 % ("{:,}".format(n["churn"][0]), os.path.getsize(churn) / 1e6, churn_evict or "?"))
    lines.append("| mix | run | packets | median s | packets/s | ratio to baseline |")
    lines.append("|---|---|---|---|---|---|")
    for (k, who), (c, np) in cmds.items():
        lines.append("| %s | %s | %s | %.3f | %s | %.3f |" % (
            k, names.get(who, "`%s -r`" % who), "{:,}".format(np), med[(k, who)],
            "{:,.0f}".format(pps[(k, who)]), pps[(k, who)] / pps[(k, "baseline")]))
    lines.append("")
    if ipp:
        lines.append("Instructions per packet (callgrind, (Ir(first 300,000) − Ir(first 10)) / 299,990): "
                     "mix: baseline %.0f, spanwatch %.0f; churn: baseline %.0f, spanwatch %.0f.\n"
                     % (ipp[("mix", "baseline")], ipp[("mix", "spanwatch")],
                        ipp[("churn", "baseline")], ipp[("churn", "spanwatch")]))
    lines.append("Start-up (hyperfine -N, warm cache, mean of ≥ 200 runs): `spanwatch --version` %.1f ms, "
                 "`tcpdump --version` %.1f ms; `spanwatch -q -r tests/data/demo.pcap --web.listen-address none` "
                 "%.1f ms, `tcpdump -r tests/data/demo.pcap -w /dev/null` %.1f ms.\n" % (v_sw, v_td, r_sw, r_td))
    if rss:
        lines.append("Peak RSS: `spanwatch -w 1 -r build-bench/flows.pcap` (`limits.max_flows: 1048576`; "
                     "%s flows active at the end): %.0f MB.\n" % (rss[1], rss[0] / 1024))
    lines.append("| target (issues 8, 19) | measured | target | |")
    lines.append("|---|---|---|---|")
    lines += rows
    lines.append("")
    lines.append("On 2 cores `-w 2` runs three busy threads (the reader, which also dispatches, and two workers) on two CPUs, "
                 "so it is not expected to beat `-w 1` here: it shows what the dispatcher costs.\n")
    section = "\n".join(lines)
    print(section)
    bench_md.write_section("## Packet rate", section)
    log("BENCH.md updated")


if __name__ == "__main__":
    main()
