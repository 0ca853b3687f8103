#!/usr/bin/python3
"""stamp_spread.py A.pcap B.pcap LOCAL_SENDER_IP[,IP...] OUT — two tcpdumps of
one interface, run side by side: every frame the kernel stamps once for all
packet sockets must carry the same nanosecond stamp in both. The exception
is a TCP segment that a local sender (LOCAL_SENDER_IP, in another namespace
of this host, or this one over loopback) handed to the interface: it still
carries the monotonic delivery time TCP set, so AF_PACKET reads the
real-time clock as it hands the frame to each socket, one after the other.

Frames are paired by their bytes (copies of the same bytes from the end:
the captures stop together, B may start later), so B may miss the first
frames. Prints the count of each kind and the largest spread of
those segments; writes to OUT the per-sample bound a comparison of two
sockets' times needs (a sample spans two frames: twice the spread, + 2 us).
Reads nanosecond pcap files (tcpdump --time-stamp-precision=nano)."""
import ipaddress
import struct
import sys


def frames(path):
    """[(ns, bytes)] of a classic pcap file with nanosecond stamps."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xa1b23c4d, 0xa1b2c3d4):
        sys.exit("%s: not a little-endian pcap file" % path)
    scale = 1 if magic == 0xa1b23c4d else 1000
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append((sec * 1000000000 + frac * scale, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def local_tcp(b, senders):
    """A TCP segment from one of the local senders?"""
    if len(b) < 14:
        return False
    et = struct.unpack(">H", b[12:14])[0]
    if et == 0x0800 and len(b) >= 34:
        return b[23] == 6 and ipaddress.ip_address(b[26:30]) in senders
    if et == 0x86dd and len(b) >= 54:
        return b[20] == 6 and ipaddress.ip_address(b[22:38]) in senders
    return False


senders = {ipaddress.ip_address(a) for a in sys.argv[3].split(",")}
a_by_bytes, b_by_bytes = {}, {}
for ts, b in frames(sys.argv[1]):
    a_by_bytes.setdefault(b, []).append(ts)
for ts, b in frames(sys.argv[2]):
    b_by_bytes.setdefault(b, []).append(ts)
shared = differ = local = unpaired = 0
worst = 0
for b, ats in a_by_bytes.items():
    bts = b_by_bytes.get(b, [])
    m = min(len(ats), len(bts))
    unpaired += len(ats) - m
    # both captures stop together, the second may start later: copies of
    # the same bytes (a repeated announcement) are paired from the end
    for ta, tb in zip(ats[len(ats) - m:], bts[len(bts) - m:]):
        d = abs(ta - tb)
        if local_tcp(b, senders):
            local += 1
            worst = max(worst, d)
        else:
            shared += 1
            if d:
                differ += 1
                if differ <= 3:
                    print("a frame of %d bytes stamped %d and %d" % (len(b), ta, tb))
print("%d frames stamped once for all sockets, %d of them differ; %d TCP segments from the local "
      "sender: up to %d ns apart (%d frames in one capture only)" %
      (shared, differ, local, worst, unpaired))
with open(sys.argv[4], "w") as f:
    f.write("%d\n" % (2 * worst // 1000 + 2))
sys.exit(1 if differ or not shared else 0)
