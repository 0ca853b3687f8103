#!/usr/bin/python3
"""bench-live.py — loss-free capture rate per back end, behind `scripts/bench live`.

Run from the repository root as root, with build/spanwatch built. A veth
pair lA -> lB in a network namespace of its own (offloads off, IPv6 off);
tcpreplay sends a capture into lA at a fixed rate (--pps) and a receiver
captures lB:
  - tcpdump -w /dev/null (libpcap on AF_PACKET, 64 MiB buffer): the bare
    reader, i.e. what the kernel delivers to a capture that does nothing;
  - spanwatch --backend afpacket -w 2, pcap -w 2, afxdp (native, 2 queues),
    dpdk (net_af_packet on lB, no hugepages) -w 2.
A rate is loss-free when the receiver counted every packet tcpreplay sent
and reported no drop. Rates rise by doubling from 25,000 packets/s until a
loss (or until tcpreplay cannot reach the rate: the sender's limit), then
three bisection steps; the highest loss-free rate tcpreplay actually
achieved is reported. Two captures: 64-byte UDP frames (60 bytes + FCS,
200,000 distinct flows) and the benchmark mix (scripts/gen-bench-pcap,
frames larger than the veth MTU left out). The table goes to stdout and to
BENCH.md ("Live capture: loss-free rate"). Environment: PACKETS (per
trial, default 200000), BACKENDS (default "tcpdump afpacket pcap afxdp dpdk").
"""
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time

import bench_md

SW = os.path.abspath("build/spanwatch")
NS = "swbench%d" % os.getpid()
OUT = "build-bench"


def sh(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, **kw)


def ns(*cmd, **kw):
    return sh("ip", "netns", "exec", NS, *cmd, **kw)


def setup():
    sh("ip", "netns", "add", NS)
    ns("ip", "link", "add", "lA", "numtxqueues", "2", "numrxqueues", "2", "type", "veth", "peer", "name", "lB",
       "numtxqueues", "2", "numrxqueues", "2")
    ns("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
    for i in ("lo", "lA", "lB"):
        ns("ip", "link", "set", i, "up")
    for i in ("lA", "lB"):
        ns("ethtool", "-K", i, "tso", "off", "gso", "off", "gro", "off", stdout=subprocess.DEVNULL,
           stderr=subprocess.DEVNULL, check=False)


def teardown():
    sh("ip", "netns", "del", NS, check=False)


def small_frames(path, n):
    """n 60-byte Ethernet/IPv4/UDP frames (64 on the wire with the FCS), distinct flows"""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 46, 0, 0x4000, 64, 17, 0,
                             bytes([10, 1, (i >> 8) & 255, i & 255]), bytes([10, 2, 0, 1]))
            udp = struct.pack("!HHHH", 1024 + i % 60000, 9999, 26, 0) + bytes(18)
            frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp
            f.write(struct.pack("<IIII", 1700000000 + i // 1000000, i % 1000000, len(frame), len(frame)) + frame)


def mix_frames(path, n):
    tmp = path + ".all"
    sh("scripts/gen-bench-pcap", "mix", tmp, str(n))
    # frames above the 1500-byte MTU (VLAN-tagged full segments) would fail to send
    sh("tshark", "-r", tmp, "-Y", "frame.len <= 1514", "-w", path, "-F", "pcap")
    os.unlink(tmp)


def start_receiver(kind, tmp):
    prom = os.path.join(tmp, "r.prom")
    err = open(os.path.join(tmp, "r.err"), "w")
    if kind == "tcpdump":
        cmd = ["tcpdump", "-i", "lB", "-w", "/dev/null", "-B", "65536", "-n", "--immediate-mode"]
    elif kind == "dpdk":
        cmd = [SW, "--backend", "dpdk", "-w", "2", "--web.listen-address", "none", "--metrics-out", prom,
               "--dpdk-args", "--no-huge --no-pci -m 512 --vdev=net_af_packet0,iface=lB,qpairs=2"]
    elif kind == "afxdp":
        cmd = [SW, "--backend", "afxdp", "--xdp-mode", "native", "-w", "2", "-i", "lB",
               "--web.listen-address", "none", "--metrics-out", prom]
    else:
        cmd = [SW, "--backend", kind, "-w", "2", "-i", "lB", "--web.listen-address", "none",
               "--metrics-out", prom]
    p = subprocess.Popen(["ip", "netns", "exec", NS] + cmd, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.time() + 10
    ready = "listening on" if kind == "tcpdump" else "capturing on"
    while time.time() < deadline:
        with open(err.name) as f:
            if ready in f.read():
                break
        time.sleep(0.05)
    time.sleep(0.3)
    return p, prom, err.name


def stop_receiver(kind, p, prom, errpath):
    time.sleep(0.5)
    p.send_signal(signal.SIGINT if kind == "tcpdump" else signal.SIGTERM)
    p.wait(timeout=30)
    text = open(errpath).read()
    if kind == "tcpdump":
        got = int(re.search(r"(\d+) packets? captured", text).group(1))
        drops = int(re.search(r"(\d+) packets? dropped by kernel", text).group(1))
        return got, drops
    body = open(prom).read()
    got = sum(int(float(v)) for v in re.findall(r"^spanwatch_packets_total\{[^}]*\} (\S+)", body, re.M))
    drops = sum(int(float(v)) for v in re.findall(r"^spanwatch_capture_drops_total\{[^}]*\} (\S+)", body, re.M))
    return got, drops


def trial(kind, pcap, rate, tmp):
    p, prom, err = start_receiver(kind, tmp)
    r = ns("tcpreplay", "--pps=%d" % rate, "-i", "lA", pcap, capture_output=True, text=True, check=False)
    got, drops = stop_receiver(kind, p, prom, err)
    sent = int(re.search(r"Successful packets:\s+(\d+)", r.stdout).group(1))
    m = re.search(r"Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps", r.stdout)
    actual = float(m.group(1)) if m else 0.0
    # tcpdump may also see the odd frame of the kernel's own (none expected: IPv6 off)
    lossless = drops == 0 and got >= sent
    return lossless, actual, sent, got, drops


def search(kind, pcap, tmp):
    good, bad, rate, note = 0.0, None, 25000, ""
    while True:
        ok, actual, sent, got, drops = trial(kind, pcap, rate, tmp)
        print("  %-9s %-6s target %8d pps: sent %d at %.0f pps, counted %d, drops %d -> %s" %
              (kind, os.path.basename(pcap)[:6], rate, sent, actual, got, drops, "ok" if ok else "LOSS"),
              file=sys.stderr, flush=True)
        if ok:
            good = max(good, actual)
            if actual < 0.9 * rate:
                note = "sender limit"
                break
            rate *= 2
        else:
            bad = rate
            break
        if rate > 20000000:
            break
    if bad:
        lo, hi = rate // 2 if good else 0, bad
        for _ in range(3):
            mid = (lo + hi) // 2
            if mid <= 0:
                break
            ok, actual, *_ = trial(kind, pcap, mid, tmp)
            if ok:
                good, lo = max(good, actual), mid
            else:
                hi = mid
    return good, note


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench live: needs root (network namespaces)")
    n = int(os.environ.get("PACKETS", "200000"))
    kinds = os.environ.get("BACKENDS", "tcpdump afpacket pcap afxdp dpdk").split()
    have = subprocess.run([SW, "--version"], capture_output=True, text=True).stdout
    kinds = [k for k in kinds if k in ("tcpdump", "afpacket", "pcap") or k in have]
    os.makedirs(OUT, exist_ok=True)
    caps = [("64-byte UDP", os.path.join(OUT, "live-64.pcap")), ("mix", os.path.join(OUT, "live-mix.pcap"))]
    if not os.path.exists(caps[0][1]):
        small_frames(caps[0][1], n)
    if not os.path.exists(caps[1][1]):
        mix_frames(caps[1][1], n)
    results = {}
    tmp = tempfile.mkdtemp()
    try:
        setup()
        for label, pcap in caps:
            for k in kinds:
                results[(label, k)] = search(k, pcap, tmp)
    finally:
        teardown()
    lines = ["## Live capture: loss-free rate per back end (veth)\n",
             "Command: `scripts/bench live` (%s; %s; tcpreplay into a veth pair in a network namespace, "
             "%s packets per trial; a rate counts when the receiver counted every packet sent and "
             "reported no drop)." % (time.strftime("%Y-%m-%d"), platform_line(), "{:,}".format(n)), "",
             "| receiver | " + " | ".join("%s: packets/s | vs tcpdump" % l for l, _ in caps) + " |",
             "|---|" + "---|---|" * len(caps)]
    for k in kinds:
        row = ["tcpdump -w /dev/null (bare AF_PACKET reader)" if k == "tcpdump" else
               "spanwatch --backend %s%s" % (k, " (native)" if k == "afxdp" else "")]
        for label, _ in caps:
            v, note = results[(label, k)]
            base = results[(label, "tcpdump")][0] if (label, "tcpdump") in results else 0
            row.append("{:,.0f}".format(v) + (" (%s)" % note if note else ""))
            row.append("%.2f×" % (v / base) if base else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("\"sender limit\": tcpreplay could not send faster than this, so the receiver's own limit "
                 "is higher. On a veth both ends share the machine's two CPUs with the sender; these are "
                 "ratios for this box, not a NIC's line rate.\n")
    section = "\n".join(lines)
    print(section)
    bench_md.write_section("## Live capture: loss-free rate", section)


def platform_line():
    import platform
    return "%d CPUs, Linux %s" % (os.cpu_count(), platform.release())


if __name__ == "__main__":
    main()
