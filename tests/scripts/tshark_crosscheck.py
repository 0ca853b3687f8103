#!/usr/bin/python3
"""tshark_crosscheck.py SPANWATCH PCAP [EXPECT]

Replays PCAP through spanwatch and checks its metrics against tshark on the
same file:
  - spanwatch_packets_total == number of frames tshark reads
  - spanwatch_bytes_total   == sum of tshark's frame.len
  - for each layer L (ethernet, vlan, ipv4, ipv6, tcp, udp, dns): the sum of
    spanwatch_decode_errors_total{layer=L} == the number of frames whose
    outermost problem, per tshark, sits in L's dissector. A frame "has a
    problem" in a protocol when tshark attaches an expert item of warning or
    error severity in the malformed or protocol groups inside that protocol,
    or an option-length expert (ip.opt.len.invalid, tcp.option.len.invalid:
    tshark rates the TCP one only a note, spanwatch rejects the segment), or
    throws a malformed-packet exception while dissecting it (then the
    protocol is the last one in frame.protocols). Checksum and sequence
    analysis experts are ignored (spanwatch does not verify checksums), as
    are DNS retransmission warnings (traffic analysis, not malformation).
  - for captures with no L2-L4 decode errors and no flow evictions: the sum of
    spanwatch_flows_active == the number of TCP + UDP conversations tshark
    lists (conv,tcp + conv,udp). With broken packets the two decoders may
    differ on which of them open a conversation, so that check is skipped.
If EXPECT is given (lines "layer/reason count", from how the capture was
built), every decode_errors series must equal it (absent lines mean 0).
Exit 0 when all checks pass; prints one line per check.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

SEV_WARN = 0x00600000
GROUPS = {0x07000000, 0x09000000}  # PI_MALFORMED, PI_PROTOCOL
TSHARK_LAYER = {"eth": "ethernet", "vlan": "vlan", "ieee8021ad": "vlan", "ip": "ipv4",
                "ipv6": "ipv6", "ipv6.hopopts": "ipv6", "ipv6.routing": "ipv6",
                "ipv6.dstopts": "ipv6", "ipv6.fraghdr": "ipv6", "tcp": "tcp", "udp": "udp",
                "dns": "dns"}
OPTION_LENGTH_EXPERTS = ("ip.opt.len.invalid", "tcp.option.len.invalid")
# protocol-group warnings that describe traffic, not malformed packets
ANALYSIS_EXPERTS = ("dns.retransmit_request", "dns.retransmit_response")
TSHARK = ["tshark", "-n", "-o", "tcp.check_checksum:FALSE", "-o", "udp.check_checksum:FALSE"]


def metrics_of(spanwatch, pcap):
    with tempfile.NamedTemporaryFile("r", suffix=".prom") as f:
        subprocess.run([spanwatch] + os.environ.get("SPANWATCH_ARGS", "").split() + ["-q", "-r", pcap, "--metrics-out", f.name], check=True)
        text = f.read()
    series = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name_labels, value = line.rsplit(" ", 1)
        series[name_labels] = float(value)
    return series


def sum_of(series, name, **match):
    total = 0.0
    for k, v in series.items():
        m = re.match(r"([a-z_]+)(?:\{(.*)\})?$", k)
        if m.group(1) != name:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(labels.get(a) == b for a, b in match.items()):
            total += v
    return total


def problem_layer(layers, protocols):
    """Outermost tshark protocol with a problem in this frame, or None."""
    order = [p for p in protocols.split(":")]

    def experts(node, proto, found):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "_ws.expert" and isinstance(v, dict):
                    sev = int(v.get("_ws.expert.severity", 0))
                    grp = int(v.get("_ws.expert.group", 0))
                    named = any(e in v for e in OPTION_LENGTH_EXPERTS)
                    analysis = any(e in v for e in ANALYSIS_EXPERTS)
                    if proto and (named or (sev >= SEV_WARN and grp in GROUPS and not analysis)):
                        found.append(proto)
                if isinstance(v, (dict, list)):
                    experts(v, proto, found)
        elif isinstance(node, list):
            for x in node:
                experts(x, proto, found)

    found = []
    for proto, tree in layers.items():
        if proto in ("frame", "_ws.malformed", "_ws.expert"):
            continue
        experts(tree, proto, found)
        if isinstance(tree, dict) and "_ws.malformed" in tree:
            found.append(proto)
    if "_ws.malformed" in layers:
        last = [p for p in order if p not in ("ethertype", "data")]
        found.append(last[-1] if last else "frame")
    if not found:
        return None
    found.sort(key=lambda p: order.index(p) if p in order else len(order))
    return found[0]


def main():
    spanwatch, pcap = sys.argv[1], sys.argv[2]
    expect = sys.argv[3] if len(sys.argv) > 3 else None
    series = metrics_of(spanwatch, pcap)
    failures = 0

    def check(what, ours, theirs):
        nonlocal failures
        ok = ours == theirs
        failures += not ok
        print("%s %s: spanwatch %g, %s %g" % ("ok  " if ok else "FAIL", what, ours,
                                               "expected" if expect and "/" in what else "tshark",
                                               theirs))

    frames = subprocess.run(TSHARK + ["-r", pcap, "-T", "fields", "-e", "frame.len"],
                            capture_output=True, text=True, check=True).stdout.split()
    check("packets", sum_of(series, "spanwatch_packets_total"), len(frames))
    check("bytes", sum_of(series, "spanwatch_bytes_total"), sum(int(x) for x in frames))

    pk = json.loads(subprocess.run(TSHARK + ["-r", pcap, "-T", "json"], capture_output=True,
                                   text=True, check=True).stdout or "[]")
    per_layer = {v: 0 for v in set(TSHARK_LAYER.values())}
    for p in pk:
        layers = p["_source"]["layers"]
        protos = layers.get("frame", {}).get("frame.protocols", "")
        pl = problem_layer(layers, protos)
        if pl is not None:
            per_layer[TSHARK_LAYER.get(pl, pl)] = per_layer.get(TSHARK_LAYER.get(pl, pl), 0) + 1
    for layer in sorted(set(TSHARK_LAYER.values())):
        check("decode errors in %s" % layer,
              sum_of(series, "spanwatch_decode_errors_total", layer=layer), per_layer.get(layer, 0))
    for layer in sorted(set(per_layer) - set(TSHARK_LAYER.values())):
        if per_layer[layer]:
            print("note: tshark flags %d frame(s) in %s, a layer spanwatch does not decode"
                  % (per_layer[layer], layer))

    if (sum_of(series, "spanwatch_flow_evictions_total") == 0 and
            sum_of(series, "spanwatch_decode_errors_total") ==
            sum_of(series, "spanwatch_decode_errors_total", layer="ipfrag")):
        conv = subprocess.run(TSHARK + ["-r", pcap, "-q", "-z", "conv,tcp", "-z", "conv,udp"],
                              capture_output=True, text=True, check=True).stdout
        nconv = sum(1 for l in conv.splitlines() if "<->" in l)
        check("tcp+udp flows", sum_of(series, "spanwatch_flows_active", proto="tcp") +
              sum_of(series, "spanwatch_flows_active", proto="udp"), nconv)

    if expect:
        want = {}
        for line in open(expect):
            if line.strip() and not line.startswith("#"):
                k, n = line.split()
                want[k] = int(n)
        for k, v in series.items():
            m = re.match(r'spanwatch_decode_errors_total\{layer="([^"]+)",reason="([^"]+)"\}', k)
            if m:
                key = "%s/%s" % m.groups()
                if v or key in want:
                    check(key, v, want.get(key, 0))
    print("%s: %s" % (pcap, "all checks passed" if not failures else "%d check(s) failed" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
