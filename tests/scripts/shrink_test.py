#!/usr/bin/python3
"""shrink_test.py SPANWATCH SRCDIR — a capture file truncated while
spanwatch reads it with workers (shared reading maps the file, and a read
past the new end raises SIGBUS): spanwatch must not die; it warns, counts
what it read before, and exits 0.

A ~300 MB capture is built from tests/data/demo.pcap (its records over and
over, later and later). spanwatch -w 2 starts on it; once its worker
threads run it is stopped (SIGSTOP), the file is cut to a third — inside a
page (the rest of that page then reads as zeros) and at a page boundary
(the next page faults: SIGBUS, util/map_guard.c) — and it is continued. -w 1 reads with read() (a short file is libpcap's "truncated"
case); -w 2 and -w 3 must warn too and count exactly the same packets.
Then the file is cut to one record while the workers are past it (their
next read faults: SIGBUS without the guard): exit 0 and a warning. Then
SIGINT in the middle of a -w 3 replay of the whole file: exit 0 and
no warning (every worker stops at the same record). Bounded: a few
seconds.
"""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sw, src = sys.argv[1], sys.argv[2]
fails, oks = [], 0


def count(prom):
    got = 0
    try:
        for line in open(prom):
            if line.startswith("spanwatch_packets_total{"):
                got += int(float(line.split()[-1]))
    except OSError:
        pass
    return got


def ok(msg):
    global oks
    oks += 1
    print("ok   " + msg)


demo = open(os.path.join(src, "tests", "data", "demo.pcap"), "rb").read()
assert struct.unpack("<I", demo[:4])[0] == 0xa1b2c3d4
recs, off = [], 24
while off + 16 <= len(demo):
    sec, usec, cl, ln = struct.unpack("<IIII", demo[off:off + 16])
    recs.append((sec, usec, demo[off + 16:off + 16 + cl], ln))
    off += 16 + cl
span = recs[-1][0] - recs[0][0] + 1
tmp = tempfile.mkdtemp()
big = os.path.join(tmp, "big.pcap")


def build():
    """the whole capture (again): demo.pcap's records over and over, later
    and later, to ~300 MB; its record count"""
    n = 0
    with open(big, "wb") as f:
        f.write(demo[:24])
        rep = 0
        while f.tell() < 300 << 20:
            chunk = bytearray()
            for sec, usec, data, ln in recs:
                chunk += struct.pack("<IIII", sec + rep * span, usec, len(data), ln) + data
            f.write(chunk)
            n += len(recs)
            rep += 1
    return n


def start(w, prom, after=0.0):
    """spanwatch -w W on the capture, stopped (SIGSTOP) once its workers
    run (and `after` seconds more); (process, stopped mid-read)"""
    p = subprocess.Popen([sw, "-q", "-r", big, "-w", str(w), "--metrics-out", prom],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline and p.poll() is None:
        try:
            if len(os.listdir("/proc/%d/task" % p.pid)) >= (1 + w if w > 1 else 1):
                break
        except OSError:
            break
        time.sleep(0.001)
    time.sleep(after)
    if p.poll() is not None:
        return p, False
    os.kill(p.pid, signal.SIGSTOP)
    return p, True


def finish(p, stopped):
    if stopped:
        os.kill(p.pid, signal.SIGCONT)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return p.returncode, err.decode(errors="replace").strip()


def last(err):
    return (err.splitlines() or ["no message"])[-1][:160]


total = build()
size = os.path.getsize(big)
print("built %s: %d records, %d MB" % (big, total, size >> 20))

# the cut ahead of the readers: -w 1 (read(), libpcap) is the reference
ref = None
for cut in ("inside a page", "at a page boundary"):
    for w in (1, 2, 3):
        prom = os.path.join(tmp, "w%d.prom" % w)
        p, stopped = start(w, prom)
        os.truncate(big, size // 3 if cut == "inside a page" else (size // 3) & ~4095)
        rc, err = finish(p, stopped)
        got = count(prom)
        what = "cut %s, -w %d (%s)" % (cut, w, "stopped mid-read" if stopped else
                                      "finished before the cut")
        if w == 1:
            ref = got if stopped else None
        warned = "shrank while it was read" in err or "truncated dump file" in err
        if rc != 0:
            fails.append("%s: exit %d %s %s" % (what, rc, "(SIGBUS)" if rc == -signal.SIGBUS
                                                else "", err[-300:]))
        elif not 0 < got <= total:
            fails.append("%s: %d packets counted of %d" % (what, got, total))
        elif stopped and not warned:
            fails.append("%s: no warning that the file was cut short: %s" % (what, err[-200:]))
        elif stopped and ref is not None and got != ref:
            # the workers stop before the record the cut runs through, and
            # libpcap says "truncated" from there, as with -w 1
            fails.append("%s: %d packets counted, -w 1 %d" % (what, got, ref))
        else:
            ok("%s: exit 0, %d packets counted of %d; %s" % (what, got, total, last(err)))
        build()

# cut behind the readers (a rotation by copy and truncate to nothing): their
# next read faults (SIGBUS without util/map_guard.c); they stop where they
# are, and the run ends with a warning
for w in (2, 3):
    prom = os.path.join(tmp, "behind.prom")
    p, stopped = start(w, prom, after=0.05)
    os.truncate(big, 24 + 16 + len(recs[0][2]))  # the header and one record
    rc, err = finish(p, stopped)
    what = "cut behind the readers, -w %d (%s)" % (w, "stopped mid-read" if stopped else
                                                  "finished before the cut")
    if rc != 0:
        fails.append("%s: exit %d %s" % (what, rc, "(SIGBUS)" if rc == -signal.SIGBUS
                                         else err[-200:]))
    elif stopped and "shrank while it was read" not in err and count(prom) != 1:
        # no warning only if no worker had passed the cut: then the run is
        # that of the one-record file
        fails.append("%s: no warning, %d packets: %s" % (what, count(prom), err[-200:]))
    else:
        ok("%s: exit 0; %s" % (what, last(err)))
    build()

# SIGINT mid-replay: every worker stops at the same record
for attempt in range(3):
    p, stopped = start(3, os.path.join(tmp, "int.prom"), after=0.01 * (attempt + 1))
    if stopped:
        p.send_signal(signal.SIGINT)
    rc, err = finish(p, stopped)
    if rc != 0 or err:
        fails.append("SIGINT mid-read (-w 3): exit %d, %s" % (rc, err[-200:]))
    else:
        ok("SIGINT %s (-w 3): exit 0, no warning" % ("mid-read" if stopped else "after the end"))
shutil.rmtree(tmp)
for f in fails:
    print("FAIL " + f)
print("shrink: %d ok, %d bad" % (oks, len(fails)))
sys.exit(1 if fails else 0)
