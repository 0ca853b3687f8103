#!/usr/bin/python3
"""make_seeds.py [--dns|--http|--tls] OUTDIR PCAP... — turn captures into fuzz seeds.

Default (fuzz_decode): each packet becomes [link-type index][255][frame].
--dns: each UDP/TCP payload to or from port 53 (TCP without its 2-byte
length prefix). --http: each TCP payload to or from port 80, prefixed with
a byte saying request (1) or response (0). --tls: each TCP payload that
starts like a TLS record (content type 20..23, version 3.x). Ethernet + IPv4 frames only for
the payload modes. Reads classic pcap only, with the stdlib alone.
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


def l4_payload(data):
    """(proto, sport, dport, payload) of an Ethernet/IPv4 TCP/UDP frame, or None."""
    if len(data) < 34 or data[12:14] != b"\x08\x00" or data[14] >> 4 != 4:
        return None
    ihl = (data[14] & 15) * 4
    proto = data[23]
    l4 = data[14 + ihl:]
    if proto == 17 and len(l4) >= 8:
        return proto, struct.unpack(">H", l4[:2])[0], struct.unpack(">H", l4[2:4])[0], l4[8:]
    if proto == 6 and len(l4) >= 20:
        off = (l4[12] >> 4) * 4
        return proto, struct.unpack(">H", l4[:2])[0], struct.unpack(">H", l4[2:4])[0], l4[off:]
    return None


def main():
    mode = None
    args = sys.argv[1:]
    if args and args[0] in ("--dns", "--http", "--tls"):
        mode = args.pop(0)
    out = args[0]
    os.makedirs(out, exist_ok=True)
    n = 0
    for path in args[1:]:
        for lt, data in packets(path):
            if mode:
                r = l4_payload(data) if lt == 1 else None
                if not r or not r[3]:
                    continue
                proto, sp, dp, pl = r
                if mode == "--dns" and 53 in (sp, dp):
                    seed = pl[2:] if proto == 6 else pl
                elif mode == "--http" and proto == 6 and 80 in (sp, dp):
                    seed = bytes([1 if dp == 80 else 0]) + pl
                elif mode == "--tls" and proto == 6 and len(pl) >= 5 and 20 <= pl[0] <= 23 and \
                        pl[1] == 3:
                    seed = pl
                else:
                    continue
                with open(os.path.join(out, "seed-%05d" % n), "wb") as f:
                    f.write(seed)
                n += 1
                continue
            if lt not in LINK_INDEX:
                continue
            with open(os.path.join(out, "seed-%05d" % n), "wb") as f:
                f.write(bytes([LINK_INDEX[lt], 255]) + data)
            n += 1
    print("%d seeds written to %s" % (n, out))


if __name__ == "__main__":
    main()
