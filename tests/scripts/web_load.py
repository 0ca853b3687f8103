#!/usr/bin/python3
"""web_load.py SPANWATCH SRCDIR — the endpoint stays open under hostile
load (issue 22): spanwatch replays the demo capture and lingers on
127.0.0.1; 1,000 connections from 250 other loopback addresses (4 each,
under the per-address cap) are opened and held: half idle, half slowloris
(a header line every second, never finishing the head). Meanwhile scrapes
from 127.0.0.1 — one after another, alternately on a kept-alive
connection (as Prometheus scrapes) and on a new connection — for 8 s,
must all be served, and the
99th percentile of the times of those made while every hostile connection
was still held (the first 4.5 s: a few hundred) at most 100 ms (issue
22's target); and the server must have closed every held connection within its
request-head deadline (5 s) plus a second. Bounded: about 15 s.
"""
import os
import resource
import selectors
import socket
import subprocess
import sys
import time
import urllib.request
import http.client

sw, src = sys.argv[1], sys.argv[2]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
port = 19400 + os.getpid() % 500
proc = subprocess.Popen([sw, "-q", "-r", os.path.join(src, "tests", "data", "demo.pcap"), "--linger",
                         "--web.listen-address", "127.0.0.1:%d" % port],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
fails = []
oks = 0


def ok(msg):
    global oks
    oks += 1
    print("ok   " + msg)


def scrape():
    """a scrape on a connection of its own"""
    t = time.time()
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
        body = r.read()
    if r.status != 200 or b"spanwatch_build_info" not in body:
        raise OSError("bad scrape")
    return time.time() - t


keep = None


def scrape_kept():
    """a scrape on a kept-alive connection, as Prometheus makes them"""
    global keep
    t = time.time()
    if keep is None:
        keep = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        keep.request("GET", "/metrics")
        r = keep.getresponse()
        body = r.read()
    except (OSError, http.client.HTTPException) as e:
        keep.close()
        keep = None
        raise OSError(str(e))
    if r.status != 200 or b"spanwatch_build_info" not in body:
        raise OSError("bad scrape")
    return time.time() - t


try:
    for _ in range(100):
        try:
            scrape()
            break
        except OSError:
            time.sleep(0.1)
    sel = selectors.DefaultSelector()
    held = []
    refused = 0
    for i in range(1000):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.1.%d" % (1 + i // 4), 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            refused += 1
            s.close()
            continue
        held.append((s, i % 2 == 1))
        sel.register(s, selectors.EVENT_READ)
    t0 = time.time()
    ok("1000 connections from 250 addresses opened (%d refused by the kernel)" % refused)
    closed_at = {}
    times = []
    last_loris = -1.0
    fresh = 0
    while time.time() - t0 < 8:
        # one on the kept-alive connection, one on a new connection: new
        # connections back to back are what found the watchdog shutting
        # down a fresh scrape (a connection that started while it waited
        # for its lock looked ~584 years old)
        for how in (scrape_kept, scrape):
            try:
                at = time.time() - t0
                took = how()
                if at < 4.5:  # before the head deadline (5 s) starts closing the held ones
                    times.append(took)
                fresh += how is scrape
            except OSError as e:
                fails.append("scrape at %.1f s failed: %s" % (time.time() - t0, e))
        now = time.time() - t0
        if now - last_loris >= 1.0:  # each slowloris writer: one line a second
            last_loris = now
            for s, loris in held:
                if loris and s not in closed_at:
                    try:
                        s.send(b"GET /metrics HTTP/1.1\r\n" if now < 0.5 else b"X-a: b\r\n")
                    except OSError:
                        pass
        for key, _ in sel.select(timeout=0.01):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data and key.fileobj not in closed_at:
                closed_at[key.fileobj] = time.time() - t0
                sel.unregister(key.fileobj)
    times.sort()
    if len(times) >= 100:
        p50 = times[len(times) // 2]
        p99 = times[min(len(times) - 1, (len(times) * 99 + 99) // 100 - 1)]
        msg = ("%d scrapes (%d in all on new connections) from a fresh address while all %d were "
               "held: p50 %.1f ms, p99 %.1f ms, "
               "slowest %.1f ms" % (len(times), fresh, len(held), 1000 * p50, 1000 * p99, 1000 * times[-1]))
        if p99 <= 0.100 and not fails:
            ok(msg + " (p99 target 100 ms)")
        else:
            fails.append(msg + " (p99 target 100 ms)")
    else:
        fails.append("only %d scrapes served in the first 4.5 s" % len(times))
    idle_closed = [closed_at.get(s) for s, loris in held if not loris]
    loris_closed = [closed_at.get(s) for s, loris in held if loris]
    for what, times in (("idle", idle_closed), ("slowloris", loris_closed)):
        done = [t for t in times if t is not None]
        if len(done) == len(times) and max(done) <= 6.5:
            ok("all %d %s connections closed by the server, the last after %.1f s (deadline 5 s)"
               % (len(times), what, max(done)))
        else:
            fails.append("%s connections: %d of %d closed, the last after %s s" %
                         (what, len(done), len(times), "%.1f" % max(done) if done else "-"))
    for s, _ in held:
        s.close()
finally:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
for f in fails:
    print("FAIL " + f)
print("web load: %d ok, %d bad" % (oks, len(fails)))
sys.exit(1 if fails else 0)
