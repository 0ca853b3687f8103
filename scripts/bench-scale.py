#!/usr/bin/python3
"""bench-scale.py — `scripts/bench scale`: spanwatch with more workers.

    scripts/bench-scale.py [--out DIR] [--spanwatch PATH] [--sender PATH]
                           [--workers 1,2,3,4,6,8,12] [--live-secs 4]
                           [--no-live] [--md FILE]

Python standard library only (no tshark, tcprewrite, bc or awk), so the
same script runs on this machine and on the bare 16-core device machine
(scripts/device-scale packs what it needs).

1. `spanwatch -r` on the benchmark mix (DIR/mix.pcap, made by
   scripts/gen-bench-pcap if missing) and on onepair.pcap (the mix's first
   300,000 packets with every IPv4 source rewritten to 10.1.0.1 and every
   destination to 10.1.0.2: one host pair, as a load balancer to backend
   link looks; made here if missing), for each -w up to the CPUs present
   (and up to 3 on smaller machines): medians of 3 by wall time, packets/s,
   speed-up over -w 1, CPU time (user + system, from wait4), packets on the
   busiest worker; and the same with SPANWATCH_DISPATCH=1 (one reader
   thread dispatching copies into rings instead of shared reading).
2. Live (root, `ip` on PATH, a bench-sender binary): a veth pair in a new
   network namespace; bench-sender with S threads pinned from CPU W sends
   64-byte UDP frames of 4,096 flows per thread into one end for SECS
   seconds; `spanwatch --backend B -w W` reads the other. Reported: sent/s,
   received/s (spanwatch_packets_total), drops
   (spanwatch_capture_drops_total) and spanwatch's CPU time per received
   packet (utime + stime over the run). A receiver that takes everything
   at 100% of its CPUs is at its ceiling; one that takes everything with
   CPU to spare was limited by the sender.

Markdown on stdout (and in --md FILE).
"""
import argparse
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def packets_by_worker(prom):
    per = {}
    drops = 0
    with open(prom) as f:
        for line in f:
            m = re.match(r'spanwatch_packets_total\{worker="(\d+)"\} (\S+)', line)
            if m:
                per[int(m.group(1))] = int(float(m.group(2)))
            elif line.startswith("spanwatch_capture_drops_total{"):
                drops += int(float(line.split()[-1]))
    return per, drops


def timed(cmd, env=None):
    """wall seconds and CPU seconds (user + system) of one run"""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("bench scale: %s failed: %s" % (" ".join(cmd), err.strip()[-300:]))
    return wall, ru.ru_utime + ru.ru_stime


def onepair(mix, out, n=300000):
    """the first n records of mix, IPv4 sources -> 10.1.0.1, destinations
    -> 10.1.0.2 (IPv4 header checksum fixed; spanwatch does not verify the
    TCP/UDP ones); IPv6 frames unchanged"""
    src, dst = bytes([10, 1, 0, 1]), bytes([10, 1, 0, 2])
    with open(mix, "rb") as f, open(out + ".tmp", "wb") as o:
        hdr = f.read(24)
        o.write(hdr)
        for _ in range(n):
            rh = f.read(16)
            if len(rh) < 16:
                break
            caplen = struct.unpack("<I", rh[8:12])[0]
            b = bytearray(f.read(caplen))
            off = 14
            et = struct.unpack(">H", b[12:14])[0]
            if et == 0x8100:
                et = struct.unpack(">H", b[16:18])[0]
                off = 18
            if et == 0x0800 and len(b) >= off + 20:
                b[off + 12:off + 16] = src
                b[off + 16:off + 20] = dst
                ihl = (b[off] & 15) * 4
                b[off + 10:off + 12] = b"\0\0"
                s = 0
                for i in range(off, off + ihl, 2):
                    s += b[i] << 8 | b[i + 1]
                while s >> 16:
                    s = (s & 0xffff) + (s >> 16)
                b[off + 10:off + 12] = struct.pack(">H", ~s & 0xffff)
            o.write(rh + bytes(b))
    os.replace(out + ".tmp", out)


def replay_table(a, md):
    mix = os.path.join(a.out, "mix.pcap")
    pair = os.path.join(a.out, "onepair.pcap")
    if not os.path.exists(mix):
        subprocess.run([sys.executable, os.path.join(HERE, "gen-bench-pcap"), "mix", mix],
                       check=True, stdout=subprocess.DEVNULL)
    if not os.path.exists(pair):
        onepair(mix, pair)
    cpus = os.cpu_count() or 1
    ws = [w for w in a.workers if w <= max(cpus, 3)]
    md.append("## Scaling: spanwatch -r with more workers")
    md.append("")
    md.append("Command: `scripts/bench scale` (%s, %d CPUs, %s). Medians of 3 runs, page cache warm."
              % (time.strftime("%Y-%m-%d", time.gmtime()), cpus, platform.release()))
    md.append("")
    md.append("| capture | -w | median s | packets/s | speedup over -w 1 | CPU s | packets on the "
              "busiest worker | with the dispatcher (SPANWATCH_DISPATCH=1): median s, speedup |")
    md.append("|---|---|---|---|---|---|---|---|")
    prom = os.path.join(a.out, "scale.prom")
    for f in (mix, pair):
        base = None
        for w in ws:
            cmd = [a.spanwatch, "-q", "-w", str(w), "-r", f, "--metrics-out", prom]
            runs = sorted(timed(cmd) for _ in range(3))
            t, cpu = runs[1]
            per, _ = packets_by_worker(prom)
            n = sum(per.values())
            env = dict(os.environ, SPANWATCH_DISPATCH="1")
            td = sorted(timed(cmd[:-1] + [os.devnull], env)[0] for _ in range(3))[1]
            base = base or t
            md.append("| %s | %d | %.3f | %.0f | %.2f× | %.2f | %d of %d | %.3f, %.2f× |" % (
                os.path.basename(f), w, t, n / t, base / t, cpu, max(per.values()), n, td, base / td))
            print(md[-1], file=sys.stderr)
    md.append("")
    md.append("onepair.pcap: the mix's first 300,000 packets with every IPv4 source rewritten to "
              "10.1.0.1 and every destination to 10.1.0.2, as a load balancer to backend link looks.")
    md.append("-w 1 reads and analyses in one thread. With more, a classic pcap file is read by "
              "every worker from a mapping (shared reading, README \"Workers\"); the last column is "
              "the same run with one reader thread dispatching copies into the workers' rings, as "
              "pcapng files, -f filters and live --backend pcap still do.")
    if cpus < 4:
        md.append("On %d CPUs, -w 3 has more workers than CPUs: it shows the cost of "
                  "oversubscription, not scaling." % cpus)


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def live_table(a, md):
    cpus = os.cpu_count() or 1
    md.append("")
    if os.geteuid() != 0 or not shutil.which("ip") or not a.sender:
        md.append("(live part skipped: needs root, `ip` and a bench-sender binary)")
        return
    ns = "swscale%d" % os.getpid()
    ipn = ["ip", "netns", "exec", ns]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(ipn + ["ip", "link", "add", "sa", "type", "veth", "peer", "name", "sb"],
                       check=True)
        for i in ("lo", "sa", "sb"):
            subprocess.run(ipn + ["ip", "link", "set", i, "up"], check=True)
        if shutil.which("ethtool"):
            for i in ("sa", "sb"):
                subprocess.run(ipn + ["ethtool", "-K", i, "tso", "off", "gso", "off", "gro", "off"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        md.append("Live: `spanwatch --backend B -w W -i sb` while `bench-sender sa S %d` (64-byte "
                  "UDP, 4,096 flows per sender thread, senders pinned from CPU W) runs; %d CPUs."
                  % (a.live_secs, cpus))
        md.append("")
        md.append("| back end | senders S | workers W | sent/s | received/s | dropped | "
                  "received / sent | spanwatch CPU per packet |")
        md.append("|---|---|---|---|---|---|---|---|")
        prom = os.path.join(a.out, "scale-live.prom")
        log = os.path.join(a.out, "scale-live.log")
        for be in ("afpacket", "pcap"):
            for s in (1, 2, 4, 8):
                for w in (1, 2, 4, 8):
                    if s + w > max(cpus, 3):
                        continue
                    if os.path.exists(prom):
                        os.unlink(prom)
                    with open(log, "w") as lf:
                        sw = subprocess.Popen(ipn + [a.spanwatch, "--backend", be, "-w", str(w),
                                                     "-i", "sb", "-q", "--web.listen-address",
                                                     "none", "--user", "root", "--metrics-out",
                                                     prom], stdout=subprocess.DEVNULL, stderr=lf)
                    for _ in range(100):
                        if "capturing on" in open(log).read():
                            break
                        time.sleep(0.1)
                    time.sleep(0.3)
                    # the process inside `ip netns exec` (which execs it): same pid
                    c0 = proc_cpu(sw.pid)
                    out = subprocess.run(ipn + [a.sender, "sa", str(s), str(a.live_secs), "64",
                                                str(w)], capture_output=True, text=True).stdout
                    time.sleep(0.5)
                    c1 = proc_cpu(sw.pid)
                    sw.send_signal(signal.SIGINT)
                    try:
                        sw.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        sw.kill()
                        sw.wait()
                    m = re.search(r"sent (\d+)", out)
                    sent = int(m.group(1)) if m else 0
                    per, drops = packets_by_worker(prom) if os.path.exists(prom) else ({}, 0)
                    got = sum(per.values())
                    md.append("| %s | %d | %d | %.0f | %.0f | %d | %.3f | %.0f ns |" % (
                        be, s, w, sent / a.live_secs, got / a.live_secs, drops,
                        got / sent if sent else 0, (c1 - c0) * 1e9 / (got + 1)))
                    print(md[-1], file=sys.stderr)
        md.append("")
        md.append("Received can exceed sent by the few packets the kernel itself sends on the "
                  "link (IPv6 neighbour discovery).")
    finally:
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build-bench")
    ap.add_argument("--spanwatch", default="build/spanwatch")
    ap.add_argument("--sender", default="")
    ap.add_argument("--workers", default="1,2,3,4,6,8,12")
    ap.add_argument("--live-secs", type=int, default=4)
    ap.add_argument("--no-live", action="store_true")
    ap.add_argument("--md", default="")
    a = ap.parse_args()
    a.workers = [int(x) for x in a.workers.split(",")]
    a.spanwatch = os.path.abspath(a.spanwatch)
    a.sender = os.path.abspath(a.sender) if a.sender else ""
    os.makedirs(a.out, exist_ok=True)
    md = []
    replay_table(a, md)
    if not a.no_live:
        live_table(a, md)
    text = "\n".join(md) + "\n"
    sys.stdout.write(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
