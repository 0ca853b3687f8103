#!/usr/bin/python3
"""encap_test.py SPANWATCH SRCDIR — mirrored traffic as it arrives (issue 17):
the DNS, TCP and HTTP conversations of tests/pcaps/analyzers.pcap and
http.pcap, wrapped by gen_encap.py in each encapsulation and two nestings,
give exactly the per-server series of the same conversations unwrapped
(servers seen inside VXLAN/Geneve carry their network as "@vniN"), with
spanwatch_encap_packets_total counting every frame; one layer too many is
encap/too_deep; -w 3 spreads a tunnel's conversations over the workers;
a doubled capture equals the original plus spanwatch_duplicates_total;
truncated and lying headers of every kind are counted, never a crash.
"""
import os
import re
import subprocess
import sys
import tempfile

sw, src = sys.argv[1], sys.argv[2]
gen = os.path.join(src, "tests", "scripts", "gen_encap.py")
DEPTH = {"gre-gre": 2}
TYPE = {"mpls": "mpls", "pppoe": "pppoe", "gre": "gre", "gre6": "gre", "erspan1": "erspan",
        "erspan2": "erspan", "erspan3": "erspan", "vxlan": "vxlan", "geneve": "geneve",
        "ipip": "ipip", "ip6ip": "ipip", "gtpu": "gtpu", "vlan-vxlan": "vxlan", "gre-gre": "gre"}
ok = bad = 0


def check(cond, what):
    global ok, bad
    if cond:
        ok += 1
    else:
        bad += 1
        print("FAIL " + what)


def metrics(pcap, *args):
    r = subprocess.run([sw, "-q", "-r", pcap, "--metrics-out", "-"] + list(args),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise SystemExit("FAIL %s: exit %d %s" % (pcap, r.returncode, r.stderr[-300:]))
    return r.stdout


def servers(text):
    """per-server series, the tenant suffix taken off"""
    return sorted(re.sub(r'@vni\d+"', '"', l) for l in text.splitlines()
                  if 'server="' in l and not l.startswith("#"))


def value(text, series):
    m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


with tempfile.TemporaryDirectory() as tmp:
    for base in ("analyzers.pcap", "http.pcap"):
        plain = os.path.join(src, "tests", "pcaps", base)
        out = os.path.join(tmp, base.split(".")[0])
        os.mkdir(out)
        subprocess.run(["/usr/bin/python3", gen, plain, out], check=True, timeout=600)
        want = metrics(plain)
        n = int(value(want, 'spanwatch_packets_total{worker="0"}'))
        want_srv = servers(want)
        check(len(want_srv) > 20, "%s: %d per-server series to compare" % (base, len(want_srv)))
        for kind, typ in TYPE.items():
            got = metrics(os.path.join(out, kind + ".pcap"))
            check(servers(got) == want_srv, "%s %s: per-server series equal the unwrapped capture's"
                  % (base, kind))
            enc = value(got, 'spanwatch_encap_packets_total{type="%s"}' % typ)
            check(enc == n * DEPTH.get(kind, 1), "%s %s: encap_packets_total{type=%s} = %s, want %d"
                  % (base, kind, typ, enc, n * DEPTH.get(kind, 1)))
            errs = sum(float(v) for v in re.findall(r"^spanwatch_decode_errors_total\{[^}]*\} (\S+)$",
                                                    got, re.M))
            check(errs == sum(float(v) for v in re.findall(
                r"^spanwatch_decode_errors_total\{[^}]*\} (\S+)$", want, re.M)),
                "%s %s: no decode errors of its own" % (base, kind))
            if kind in ("vxlan", "geneve"):
                vni = "1001" if kind == "vxlan" else "2002"
                check(all("@vni" + vni + '"' in l for l in got.splitlines()
                          if 'server="' in l and not l.startswith("#")),
                      "%s %s: servers labelled with their network @vni%s" % (base, kind, vni))
        # VXLAN on a configured port: unwrapped only when tunnels.vxlan_ports says so
        ports = os.path.join(tmp, "ports.yaml")
        open(ports, "w").write("tunnels:\n  vxlan_ports: [4789, 8472]\n")
        got = metrics(os.path.join(out, "vxlan-8472.pcap"), "-c", ports)
        check(servers(got) == want_srv and
              value(got, 'spanwatch_encap_packets_total{type="vxlan"}') == n,
              "%s vxlan on 8472 with tunnels.vxlan_ports [4789, 8472]: unwrapped" % base)
        got = metrics(os.path.join(out, "vxlan-8472.pcap"))
        check(value(got, 'spanwatch_encap_packets_total{type="vxlan"}') == 0,
              "%s vxlan on 8472 by default: plain UDP, not unwrapped" % base)
        deep = metrics(os.path.join(out, "deep.pcap"))
        check(value(deep, 'spanwatch_decode_errors_total{layer="encap",reason="too_deep"}') == n,
              "%s deep: every frame is encap/too_deep" % base)
        check(not servers(deep), "%s deep: no server series" % base)
        # -w 3: one outer flow (one VXLAN tunnel), conversations on every worker
        w3 = metrics(os.path.join(out, "vxlan.pcap"), "-w", "3")
        per = [value(w3, 'spanwatch_packets_total{worker="%d"}' % i) or 0 for i in range(3)]
        check(sum(per) == n and min(per) > 0, "%s vxlan -w 3: packets per worker %s" % (base, per))
        check(servers(w3) == servers(metrics(os.path.join(out, "vxlan.pcap"))),
              "%s vxlan -w 3: the same per-server series as -w 1" % base)
        # SPAN duplicates: every frame twice, 20 us apart
        dbl = os.path.join(out, "doubled.pcap")
        subprocess.run(["/usr/bin/python3", "-c", """
import sys
from scapy.all import rdpcap, wrpcap
out = []
for p in rdpcap(sys.argv[1]):
    q = p.copy()
    q.time = p.time + 0.00002
    out += [p, q]
wrpcap(sys.argv[2], out)
""", plain, dbl], check=True, timeout=300)
        got = metrics(dbl)
        check(servers(got) == want_srv, "%s doubled: per-server series equal the original's" % base)
        check(value(got, "spanwatch_duplicates_total") == n,
              "%s doubled: duplicates_total %s, want %d" % (base, value(got, "spanwatch_duplicates_total"), n))
        off = os.path.join(tmp, "nodedup.yaml")
        open(off, "w").write("limits:\n  dedup_window: 0\n")
        got = metrics(dbl, "-c", off)
        check(value(got, "spanwatch_duplicates_total") == 0, "%s doubled, dedup_window 0: off" % base)
    # truncated and lying headers of every kind: counted, no crash
    subprocess.run(["/usr/bin/python3", gen, "--bad", os.path.join(src, "tests", "pcaps", "analyzers.pcap"),
                    tmp], check=True, timeout=600)
    got = metrics(os.path.join(tmp, "encap_bad.pcap"))
    layers = set(re.findall(r'^spanwatch_decode_errors_total\{layer="([a-z]+)",reason="[a-z_]+"\} [1-9]',
                            got, re.M))
    for layer in ("mpls", "pppoe", "gre", "erspan", "vxlan", "geneve", "gtpu", "encap"):
        check(layer in layers, "encap_bad: some %s decode error counted" % layer)

print("encap: %d ok, %d bad" % (ok, bad))
sys.exit(1 if bad else 0)
