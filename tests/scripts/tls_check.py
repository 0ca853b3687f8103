#!/usr/bin/python3
"""tls_check.py SPANWATCH PCAP CONFIG KEYLOG NOT_AFTER — spanwatch's TLS
metrics on PCAP (replayed with CONFIG, which names servers by SNI and sets
limits.tls_handshake_timeout) against tshark's dissection of the same file.

Per TCP stream whose client sent a ClientHello (server: the group whose sni
the ClientHello names, else the SYN's destination IP:port):
  handshakes  one per stream, by the version of the ServerHello
              (supported_versions, else its version; unknown without one) and
              the first outcome in frame order: a fatal cleartext alert or an
              encrypted alert -> alert; RST or FIN -> reset; TLS <= 1.2 both
              sides sent ChangeCipherSpec, TLS 1.3 the client sent an
              application-data record -> ok; none of them within the timeout
              of the ClientHello -> timeout
  handshake   ServerHello frame time - the ClientHello frame's (tshark dates a
  seconds     message by the frame that completes it, as spanwatch does)
  alerts      cleartext alerts (tls.alert_message.desc) by sender and name
  expiry      the notAfter tshark reads in the certificate (x509af.utcTime),
              which must also equal NOT_AFTER (openssl's, when it was made)
  response    decrypted with KEYLOG: each HTTP request frame -> the frame of
  seconds     its response (curl does not pipeline: in order), every request
              on TLS 1.2 and 1.3 (tshark sees which records are session
              tickets; spanwatch has to tell them by their place and length)
Histograms: cumulative le counts (a sample within 1% of a bound may sit on
either side), count and sum, as tshark_analyzers.py.
"""
import calendar
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tshark_analyzers as ta  # noqa: E402

ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
          40: "handshake_failure", 42: "bad_certificate", 45: "certificate_expired",
          46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
          50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
          71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
          90: "user_canceled", 109: "missing_extension", 110: "unsupported_extension",
          112: "unrecognized_name", 116: "certificate_required", 120: "no_application_protocol"}
VERSIONS = {"0x0300": "SSLv3", "0x0301": "TLSv1.0", "0x0302": "TLSv1.1", "0x0303": "TLSv1.2",
            "0x0304": "TLSv1.3"}
HRR = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
F = ["tcp.stream", "frame.time_epoch", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport",
     "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.reset", "tcp.flags.fin",
     "tls.record.content_type", "tls.record.opaque_type", "tls.handshake.type", "tls.handshake.extensions_server_name",
     "tls.handshake.version", "tls.handshake.extensions.supported_version",
     "tls.handshake.random", "tls.alert_message.level", "tls.alert_message.desc",
     "x509af.utcTime"]


def lst(v):
    return [x for x in v.split(",") if x] if v else []


def config_sni(path):
    """name of the servers: group for each sni in CONFIG (exact names only)"""
    groups, name = {}, None
    for line in open(path):
        s = line.strip()
        if s.startswith("- name:"):
            name = s.split(":", 1)[1].strip()
        if "sni:" in s and name:
            groups[s.split("sni:", 1)[1].strip(" }").lower()] = name
    return groups


def tls_version_of_frame(r):
    sv = lst(r["tls.handshake.extensions.supported_version"])
    v = sv[0] if sv else (lst(r["tls.handshake.version"]) or [""])[0]
    return VERSIONS.get(v, "unknown")


def streams(pcap, sni_groups, timeout):
    rows = ta.fields_all(pcap, "tcp", F)
    last_t = max(float(r["frame.time_epoch"]) for r in rows)
    st = {}
    for r in rows:
        s = st.setdefault(r["tcp.stream"], {"frames": []})
        s["frames"].append(r)
    out = {}
    for sid, s in st.items():
        fr = s["frames"]
        syn = [r for r in fr if r["tcp.flags.syn"] in ("1", "True") and r["tcp.flags.ack"] in ("0", "False")]
        if not syn:
            continue
        client = (syn[0]["ip.src"], syn[0]["tcp.srcport"])
        server = ta.ep(syn[0]["ip.dst"], syn[0]["tcp.dstport"])
        hellos = [r for r in fr if "1" in lst(r["tls.handshake.type"]) and
                  (r["ip.src"], r["tcp.srcport"]) == client]
        if not hellos:
            continue
        sni = (lst(hellos[0]["tls.handshake.extensions_server_name"]) or [""])[0].lower()
        name = sni_groups.get(sni, server)
        res = {"server": name, "version": "unknown", "result": None, "hs": None, "alerts": [],
               "not_after": None, "client": client}
        ccs = set()
        sh_t = None
        for r in fr:
            t = float(r["frame.time_epoch"])
            frm = "client" if (r["ip.src"], r["tcp.srcport"]) == client else "server"
            types = lst(r["tls.record.content_type"]) + lst(r["tls.record.opaque_type"])
            hs = lst(r["tls.handshake.type"])
            t0 = float(hellos[0]["frame.time_epoch"])
            if res["result"] is None and t - t0 >= timeout:
                res["result"] = "timeout"
            if frm == "server" and "2" in hs and sh_t is None:
                rnd = lst(r["tls.handshake.random"])
                if not rnd or rnd[0] != HRR:
                    sh_t = t
                    res["version"] = tls_version_of_frame(r)
                    hello_t = max(float(h["frame.time_epoch"]) for h in hellos
                                  if float(h["frame.time_epoch"]) <= t)
                    res["hs"] = t - hello_t
            for lv, d in zip(lst(r["tls.alert_message.level"]), lst(r["tls.alert_message.desc"])):
                res["alerts"].append((frm, ALERTS.get(int(d), "other")))
                if lv == "2" and res["result"] is None:
                    res["result"] = "alert"
            if "21" in types and not r["tls.alert_message.level"] and res["result"] is None:
                res["result"] = "alert"
            for u in lst(r["x509af.utcTime"])[1::2]:
                res["not_after"] = calendar.timegm(time.strptime(u.split(" (")[0], "%Y-%m-%d %H:%M:%S"))
            if res["result"] is None and sh_t is not None:
                if "20" in types:
                    ccs.add(frm)
                if res["version"] != "TLSv1.3" and len(ccs) == 2:
                    res["result"] = "ok"
                if res["version"] == "TLSv1.3" and frm == "client" and "23" in types:
                    res["result"] = "ok"
            if res["result"] is None and (r["tcp.flags.reset"] in ("1", "True") or
                                          r["tcp.flags.fin"] in ("1", "True")):
                res["result"] = "reset"
        if res["result"] is None:
            t0 = float(hellos[0]["frame.time_epoch"])
            res["result"] = "timeout" if last_t - t0 >= timeout else None
        out[sid] = res
    return out


def responses(pcap, keylog, info):
    """expected response-time samples per server, from the decrypted capture"""
    rows = ta.fields_all(pcap, "tcp.len > 0", ["tcp.stream", "frame.time_epoch", "ip.src",
                                                "tcp.srcport", "tls.handshake.type",
                                                "tls.record.content_type", "http.request",
                                                "http.response"],
                         prefs=["-o", "tls.keylog_file:" + keylog])
    per = {}
    for r in rows:
        per.setdefault(r["tcp.stream"], []).append(r)
    samples = {}
    for sid, fr in per.items():
        s = info.get(sid)
        if not s or s["result"] != "ok":
            continue
        reqs, resps = [], []
        for r in fr:
            t = float(r["frame.time_epoch"])
            frm = "client" if (r["ip.src"], r["tcp.srcport"]) == s["client"] else "server"
            if frm == "client" and r["http.request"] in ("1", "True"):
                reqs.append((t, True))
            if frm == "server" and r["http.response"] in ("1", "True"):
                resps.append(t)
        for (tq, timed), tr in zip(reqs, resps):
            if timed:
                samples.setdefault(s["server"], []).append(tr - tq)
    return samples


def main():
    sw, pcap, config, keylog, not_after = sys.argv[1:6]
    timeout = 1.0
    m = ta.metrics(sw, pcap, config)
    info = streams(pcap, config_sni(config), timeout)
    c = ta.Checker()
    servers = sorted({s["server"] for s in info.values()})
    for srv in servers:
        mine = [s for s in info.values() if s["server"] == srv]
        for v in ["unknown", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]:
            for res in ["ok", "alert", "reset", "timeout"]:
                want = sum(1 for s in mine if s["version"] == v and s["result"] == res)
                got = ta.get(m, "spanwatch_tls_handshakes_total", server=srv, version=v, result=res)
                if want or got:
                    c.eq("%s handshakes %s %s" % (srv, v, res), got, want)
        c.hist("%s handshake seconds" % srv, m, "spanwatch_tls_handshake_seconds", srv,
               [s["hs"] for s in mine if s["hs"] is not None])
        alerts = {}
        for s in mine:
            for a in s["alerts"]:
                alerts[a] = alerts.get(a, 0) + 1
        for k in ["spanwatch_tls_alerts_total{server=\"%s\"," % srv]:
            ours = {kk: v for kk, v in m.items() if kk.startswith(k)}
            c.eq("%s alert series" % srv, len(ours), len(alerts))
        for (who, name), n in sorted(alerts.items()):
            c.eq("%s alerts %s %s" % (srv, who, name),
                 ta.get(m, "spanwatch_tls_alerts_total", server=srv, sender=who, description=name), n)
        na = [s["not_after"] for s in mine if s["not_after"]]
        if na:
            got = ta.get(m, "spanwatch_tls_certificate_expiry_timestamp_seconds", server=srv)
            c.eq("%s certificate notAfter (tshark)" % srv, got, na[-1])
            c.eq("%s certificate notAfter (openssl)" % srv, got, float(not_after))
    samples = responses(pcap, keylog, info)
    for srv in servers:
        c.hist("%s response seconds" % srv, m, "spanwatch_tls_response_seconds", srv,
               samples.get(srv, []))
    # the capture has what the test meant to make (the reset one may have got
    # its ServerHello before the client's RST left: any version)
    results = {(s["version"], s["result"]) for s in info.values()}
    results |= {("any", s["result"]) for s in info.values()}
    for want in [("TLSv1.2", "ok"), ("TLSv1.3", "ok"), ("unknown", "alert"), ("any", "reset"),
                 ("unknown", "timeout")]:
        c.eq("the capture has a %s %s handshake" % want, float(want in results), 1.0)
    print("%d checked, %d failed" % (c.checked, c.failed))
    return 1 if c.failed or not c.checked else 0


if __name__ == "__main__":
    sys.exit(main())
