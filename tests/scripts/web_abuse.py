#!/usr/bin/python3
"""web_abuse.py HOST PORT ABUSE_SOURCE_IP — hostile clients against the
endpoint, then proof it still serves a scrape from another address.

From ABUSE_SOURCE_IP: 300 idle connections, 50 slowloris connections that
send a header byte every 0.5 s, one 1 MB request line, one 1 MB POST body
to /-/reload. Meanwhile, from the default source, GET /metrics must
succeed every time within 2 s. Bounded: about 8 s in all.
"""
import socket
import sys
import threading
import time
import urllib.request

host, port, abuse_ip = sys.argv[1], int(sys.argv[2]), sys.argv[3]
failures = []


def conn():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    s.bind((abuse_ip, 0))
    s.connect((host, port))
    return s


def scrape(what):
    t = time.time()
    try:
        with urllib.request.urlopen("http://%s:%d/metrics" % (host, port), timeout=2) as r:
            body = r.read()
            if r.status != 200 or b"spanwatch_build_info" not in body:
                failures.append("%s: bad scrape" % what)
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        failures.append("%s: scrape failed: %s" % (what, e))
        return
    print("ok   scrape during %s: %.0f ms" % (what, 1000 * (time.time() - t)))


# 1. hundreds of idle connections
idle = []
refused = 0
for _ in range(300):
    try:
        idle.append(conn())
    except OSError:
        refused += 1
scrape("300 idle connection attempts (%d accepted by the kernel)" % len(idle))

# 2. slowloris
stop = threading.Event()


def slowloris():
    try:
        s = conn()
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        while not stop.is_set():
            s.sendall(b"X-a: b\r\n")
            time.sleep(0.5)
    except OSError:
        pass


threads = [threading.Thread(target=slowloris, daemon=True) for _ in range(50)]
for t in threads:
    t.start()
time.sleep(1.5)
scrape("50 slowloris clients")

# 3. a 1 MB request line
try:
    s = conn()
    s.sendall(b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = s.recv(200)
    print("ok   1 MB request line answered: %r" % reply.split(b"\r\n")[0])
    if reply and not reply.startswith((b"HTTP/1.1 414", b"HTTP/1.1 431", b"HTTP/1.1 400")):
        failures.append("1 MB request line: unexpected reply %r" % reply[:40])
except OSError as e:
    print("ok   1 MB request line: connection closed (%s)" % e)
scrape("1 MB request line")

# 4. a 1 MB body to /-/reload
try:
    s = conn()
    s.sendall(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n")
    for _ in range(16):
        s.sendall(b"z" * 65536)
    reply = s.recv(200)
    print("ok   1 MB body answered: %r" % reply.split(b"\r\n")[0])
    if not reply.startswith(b"HTTP/1.1 413"):
        failures.append("1 MB body: expected 413, got %r" % reply[:40])
except OSError as e:
    print("ok   1 MB body: connection closed (%s)" % e)
scrape("1 MB POST body")

stop.set()
for s in idle:
    s.close()
for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
