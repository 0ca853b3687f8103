#!/usr/bin/python3
"""stamp_spread.py A.pcap B.pcap LOCAL_SENDER_IP[,IP...] OUT — two tcpdumps of one
interface, run side by side: both must hold the same frames, and every
frame the kernel stamps once for all packet sockets must carry the same
nanosecond stamp in both. The exception is a TCP segment that a local
sender (LOCAL_SENDER_IP, in another namespace of this host) handed to a
veth: it still carries the monotonic delivery time TCP set, so AF_PACKET
reads the real-time clock as it hands the frame to each socket, one after
the other. Prints the count of each kind and the largest spread of those
segments; writes to OUT the per-sample bound a comparison of two sockets'
times needs (a sample spans two frames: twice the spread, + 2 us)."""
import subprocess
import sys


def rows(p):
    out = subprocess.run(["tshark", "-r", p, "-T", "fields", "-e", "frame.time_epoch", "-e",
                          "ip.src", "-e", "ipv6.src", "-e", "tcp.stream"],
                         capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


a, b = rows(sys.argv[1]), rows(sys.argv[2])
senders = set(sys.argv[3].split(","))
if len(a) != len(b):
    print("the two tcpdumps saw %d and %d frames" % (len(a), len(b)))
    sys.exit(1)
shared = differ = local = 0
worst = 0
for x, y in zip(a, b):
    d = abs(int(x[0].replace(".", "")) - int(y[0].replace(".", "")))
    if (x[1] in senders or x[2] in senders) and x[3] != "":
        local += 1
        worst = max(worst, d)
    else:
        shared += 1
        differ += d != 0
print("%d frames stamped once for all sockets, %d of them differ; %d TCP segments from the local "
      "sender: up to %d ns apart" % (shared, differ, local, worst))
with open(sys.argv[4], "w") as f:
    f.write("%d\n" % (2 * worst // 1000 + 2))
sys.exit(1 if differ or not shared else 0)
