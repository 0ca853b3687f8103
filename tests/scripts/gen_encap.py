#!/usr/bin/python3
"""gen_encap.py IN.pcap OUTDIR [KIND...] — the frames of IN.pcap (Ethernet)
wrapped the way mirrored traffic arrives (README "Where packets come
from"), one capture per kind in OUTDIR/KIND.pcap, timestamps kept:

  mpls      Ethernet / MPLS (two labels) / IP
  pppoe     Ethernet / PPPoE session / PPP / IP
  gre       Ethernet / IPv4 / GRE (checksum, key, sequence) / IP
  gre6      Ethernet / IPv6 / GRE / Ethernet (0x6558)
  erspan1   Ethernet / IPv4 / GRE 0x88BE (no sequence) / Ethernet
  erspan2   Ethernet / IPv4 / GRE 0x88BE + sequence / ERSPAN II / Ethernet
  erspan3   Ethernet / IPv4 / GRE 0x22EB / ERSPAN III + platform sub-header / Ethernet
  vxlan     Ethernet / IPv4 / UDP 4789 / VXLAN (VNI 1001) / Ethernet
  vxlan-8472  the same on UDP 8472 (Linux's old default: tunnels.vxlan_ports)
  geneve    Ethernet / IPv6 / UDP 6081 / Geneve (VNI 2002, an option) / Ethernet
  ipip      Ethernet / IPv4 / IP (4in4 for IPv4, 6in4 for IPv6 inner packets)
  ip6ip     Ethernet / IPv6 / IP (4in6, 6in6)
  gtpu      Ethernet / IPv4 / UDP 2152 / GTP-U G-PDU with a PDU session extension / IP
  vlan-vxlan  Ethernet / 802.1Q 10 / IPv4 / UDP 4789 / VXLAN / Ethernet (a VLAN underlay)
  gre-gre   Ethernet / IPv4 / GRE / IPv4 / GRE / IP (GRE in GRE)
  deep      five GRE layers: one more than spanwatch unwraps (encap/too_deep)

Both directions of a conversation go through the same tunnel endpoints the
other way round, as a mirror session delivers them. With --bad, OUTDIR/
encap_bad.pcap instead: every kind once, then cut at every length and with
lying length fields (for the fuzz seeds and the decode-error checks).
"""
import sys

from scapy.all import Ether, IP, IPv6, UDP, GRE, Dot1Q, Raw, rdpcap, wrpcap, conf
from scapy.contrib.mpls import MPLS
from scapy.contrib.geneve import GENEVE
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.layers.vxlan import VXLAN
from scapy.layers.ppp import PPPoE, PPP

conf.verb = 0
A4, B4 = "192.0.2.1", "192.0.2.2"      # tunnel endpoints
A6, B6 = "2001:db8::a", "2001:db8::b"
MACS = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def outer4(fwd, **kw):
    return Ether(**MACS) / IP(src=A4 if fwd else B4, dst=B4 if fwd else A4, **kw)


def outer6(fwd, **kw):
    return Ether(**MACS) / IPv6(src=A6 if fwd else B6, dst=B6 if fwd else A6, **kw)


def inner_ip(p):
    return p[IP] if IP in p else p[IPv6]


def wrap(kind, p, fwd, seq):
    eth = p[Ether]
    ip = inner_ip(p)
    v6 = IPv6 in p and IP not in p
    if kind == "mpls":
        return Ether(**MACS) / MPLS(label=100, s=0, ttl=64) / MPLS(label=200, s=1, ttl=64) / ip
    if kind == "pppoe":
        return Ether(**MACS) / PPPoE(sessionid=7) / PPP(proto=0x57 if v6 else 0x21) / ip
    if kind == "gre":
        return outer4(fwd) / GRE(chksum_present=1, key_present=1, seqnum_present=1, key=42,
                                 seqence_number=seq, proto=0x86dd if v6 else 0x0800) / ip
    if kind == "gre6":
        return outer6(fwd) / GRE(proto=0x6558) / eth
    if kind == "erspan1":
        return outer4(fwd) / GRE(proto=0x88be) / eth
    if kind == "erspan2":
        return outer4(fwd) / GRE(proto=0x88be, seqnum_present=1, seqence_number=seq) / \
            ERSPAN_II(ver=1, session_id=3 if fwd else 4) / eth
    if kind == "erspan3":
        return outer4(fwd) / GRE(proto=0x22eb, seqnum_present=1, seqence_number=seq) / \
            ERSPAN_III(session_id=5, o=1) / ERSPAN_PlatformSpecific(platf_id=3) / eth
    if kind in ("vxlan", "vxlan-8472"):
        return outer4(fwd) / UDP(sport=49152 + seq % 1000, dport=4789 if kind == "vxlan" else 8472) / \
            VXLAN(vni=1001, flags=0x08) / eth
    if kind == "geneve":
        return outer6(fwd) / UDP(sport=49152 + seq % 1000, dport=6081) / \
            GENEVE(vni=2002, proto=0x6558, optionlen=2, options=Raw(b"\x01\x02\x03\x01" + b"\0" * 4)) / eth
    if kind == "ipip":
        return outer4(fwd, proto=41 if v6 else 4) / ip
    if kind == "ip6ip":
        return outer6(fwd, nh=41 if v6 else 4) / ip
    if kind == "gtpu":
        return outer4(fwd) / UDP(sport=2152, dport=2152) / \
            GTP_U_Header(teid=0x1234, E=1, next_ex=0x85) / \
            GTPPDUSessionContainer(type=1 if fwd else 0, QFI=9) / ip
    if kind == "vlan-vxlan":
        return Ether(**MACS) / Dot1Q(vlan=10) / IP(src=A4 if fwd else B4, dst=B4 if fwd else A4) / \
            UDP(sport=49152, dport=4789) / VXLAN(vni=1001, flags=0x08) / eth
    if kind == "gre-gre":
        return outer4(fwd) / GRE(proto=0x0800) / IP(src="198.51.100.1", dst="198.51.100.2") / \
            GRE(proto=0x86dd if v6 else 0x0800) / ip
    if kind == "deep":
        x = ip
        for _ in range(5):
            x = IP(src="198.51.100.1", dst="198.51.100.2") / GRE(proto=0x0800) / x
        return Ether(**MACS) / x
    raise SystemExit("gen_encap: unknown kind " + kind)


KINDS = ["mpls", "pppoe", "gre", "gre6", "erspan1", "erspan2", "erspan3", "vxlan", "vxlan-8472",
         "geneve",
         "ipip", "ip6ip", "gtpu", "vlan-vxlan", "gre-gre", "deep"]


def wrapped(pkts, kind):
    out = []
    first_src = None
    for i, p in enumerate(pkts):
        if Ether not in p or (IP not in p and IPv6 not in p):
            continue
        ip = inner_ip(p)
        if first_src is None:
            first_src = ip.src
        w = wrap(kind, p, ip.src == first_src, i)
        w.time = p.time
        out.append(w)
    return out


def bad(pkts):
    """every kind once, cut at every length, and with lying length fields"""
    base = [p for p in pkts if UDP in p][:1] + [p for p in pkts if IP in p and UDP not in p][:1]
    out = []
    t = 1700000000
    for kind in KINDS:
        for p in base:
            raw = bytes(wrapped([p], kind)[0])
            for n in range(14, len(raw), 3):
                out.append(Ether(raw[:n]))
            # lying lengths: every 16-bit field after the outer IP set to 0xffff, in turn
            for off in range(34, min(len(raw) - 1, 90), 2):
                b = bytearray(raw)
                b[off] = b[off + 1] = 0xff
                out.append(Ether(bytes(b)))
    # headers cut short with consistent outer lengths, and bad flags or versions
    o4 = Ether(**MACS) / IP(src=A4, dst=B4)
    for hdr in (Ether(**MACS, type=0x8847) / Raw(b"\x00\x00"),
                Ether(**MACS, type=0x8847) / Raw(b"\x00\x00\x00\x00" * 9),     # no bottom label
                Ether(**MACS, type=0x8864) / Raw(b"\x11\x00\x00"),
                Ether(**MACS, type=0x8864) / Raw(b"\x21\x00\x00\x07\x00\x02\x00\x21"),
                o4 / GRE(proto=0x0800, version=2),
                o4 / GRE(proto=0x88be, seqnum_present=1) / Raw(b"\x10"),
                o4 / GRE(proto=0x22eb) / Raw(b"\x50" + b"\x00" * 12),
                o4 / UDP(dport=4789) / Raw(b"\x08\x00\x00"),
                o4 / UDP(dport=4789) / Raw(b"\x00" * 8),
                o4 / UDP(dport=6081) / Raw(b"\x00\x00"),
                o4 / UDP(dport=6081) / Raw(b"\x80" + b"\x00" * 7),
                o4 / UDP(dport=6081) / Raw(b"\x3f" + b"\x00" * 7),               # options past the end
                o4 / UDP(dport=2152) / Raw(b"\x30\xff"),
                o4 / UDP(dport=2152) / Raw(b"\x50\xff\x00\x00" + b"\x00" * 4),
                o4 / UDP(dport=2152) / Raw(b"\x34\xff\x00\x08\x00\x00\x00\x01\x00\x00\x00\x85\x00\x00")):
        out.append(Ether(bytes(hdr)))
    x = inner_ip(base[0])
    for _ in range(6):
        x = IP(src=A4, dst=B4) / GRE(proto=0x0800) / x
    out.append(Ether(**MACS) / x)
    for i, p in enumerate(out):
        p.time = t + i * 0.001
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--bad"]
    if len(args) < 2:
        raise SystemExit(__doc__)
    pkts = rdpcap(args[0])
    if "--bad" in sys.argv:
        wrpcap(args[1] + "/encap_bad.pcap", bad(pkts))
        return
    for kind in args[2:] or KINDS:
        wrpcap("%s/%s.pcap" % (args[1], kind), wrapped(pkts, kind))


if __name__ == "__main__":
    main()
