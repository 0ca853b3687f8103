#!/usr/bin/python3
"""make_seeds.py OUTDIR PCAP... — turn capture files into fuzz_decode seeds.

Each packet becomes one file: [link-type index][255 = whole frame][frame].
Reads classic pcap only (the test captures), with the stdlib alone.
"""
import os
import struct
import sys

LINK_INDEX = {1: 0, 113: 1, 276: 2, 101: 3, 12: 3, 0: 4, 108: 5, 228: 6, 229: 7}


def packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
        linktype = struct.unpack(endian + "I", hdr[20:24])[0] & 0x0fffffff
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            _, _, incl, _ = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield linktype, data


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    n = 0
    for path in sys.argv[2:]:
        for lt, data in packets(path):
            if lt not in LINK_INDEX:
                continue
            with open(os.path.join(out, "seed-%05d" % n), "wb") as f:
                f.write(bytes([LINK_INDEX[lt], 255]) + data)
            n += 1
    print("%d seeds written to %s" % (n, out))


if __name__ == "__main__":
    main()
