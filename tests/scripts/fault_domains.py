#!/usr/bin/python3
"""fault_domains.py SPANWATCH SRCDIR — fault-domain attribution on four incidents.

gen_faults.py writes four captures (backend, network, partial-page,
slow-network; see there). Each is replayed with 10 s attribution windows and
four rules (two of them baseline-relative). Checked per capture:
  - the web server's episode: the expected domain, starting at the incident
    (60 s) and ending when it ends (100 s; the network one may run one
    window longer, as handshakes started in the last window time out in
    the next), nothing else; the resolver (unaffected) stays "none"
  - the rule made for the incident fires, and its JSON (--alerts-out) has
    the expected fault_domain; no alert carries another domain
  - spanwatch_fault_domain ends at none for both servers (recovered)
and the new histograms against tshark on the same file (independent):
  - http_server_time_seconds: count = tshark's responses, sum = sum of
    (http.time - the connection's SYN -> SYN-ACK) within 2 us a sample
  - http_response_bytes: sum = server payload bytes tshark does not mark
    as retransmitted
  - tcp_data_rtt_seconds: count and sum equal a reference sampler run on
    tshark's fields (one server segment timed at a time, to the client ACK
    covering it, never across a retransmission; plus the SYN -> SYN-ACK leg)
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

sw, src = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from checks import check, finish  # noqa: E402


CONFIG = """
fault_domain:
  window: 10s
  min_baseline_windows: 3
rules:
  - name: web-5xx
    expr: http_5xx_ratio
    threshold: 0.1
    window: 10s
    min_events: 10
    fire_when: { bad_windows: 2, of_last: 3 }
    resolve_when: { good_windows: 2 }
  - name: web-handshakes
    expr: tcp_handshake_failure_ratio
    threshold: 0.1
    window: 10s
    min_events: 10
    fire_when: { bad_windows: 2, of_last: 3 }
    resolve_when: { good_windows: 2 }
  - name: web-size
    expr: http_response_bytes_p50
    op: "<"
    threshold_vs_baseline: 0.5
    window: 10s
    min_events: 10
    fire_when: { bad_windows: 2, of_last: 3 }
    resolve_when: { good_windows: 2 }
  - name: web-latency
    expr: http_latency_p50
    threshold_vs_baseline: 2.0
    window: 10s
    min_events: 10
    fire_when: { bad_windows: 2, of_last: 3 }
    resolve_when: { good_windows: 2 }
"""
EXPECT = {  # scenario: (domain, rule that must fire, longest episode in windows)
    "backend": ("backend", "web-5xx", 4),
    "network": ("network", "web-handshakes", 5),
    "partial-page": ("backend", "web-size", 4),
    "slow-network": ("network", "web-latency", 4),
}
WEB, DNS = "10.20.0.80:80", "10.20.0.53:53"


def metric(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    for line in text.splitlines():
        if line.startswith(name + "{" + want + "}"):
            return float(line.rsplit(" ", 1)[1])
    return None


def tshark_fields(pcap):
    fields = ["frame.time_epoch", "tcp.stream", "ip.src", "tcp.srcport", "tcp.flags.syn",
              "tcp.flags.ack", "tcp.seq", "tcp.ack", "tcp.len", "tcp.analysis.retransmission",
              "tcp.analysis.out_of_order", "http.time", "http.response.code"]
    # http.desegment_body off: a response is dissected at its head, so
    # http.time runs to its first byte, as spanwatch measures
    out = subprocess.run(["tshark", "-r", pcap, "-o", "tcp.relative_sequence_numbers:TRUE",
                          "-o", "http.desegment_body:FALSE",
                          "-Y", "tcp", "-T", "fields", "-E", "separator=\t"] +
                         sum([["-e", f] for f in fields], []),
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        v = line.split("\t")
        rows.append(dict(zip(fields, v + [""] * (len(fields) - len(v)))))
    return rows


def reference(rows):
    """Server time, response bytes and data RTT from tshark's fields."""
    streams = collections.defaultdict(list)
    for r in rows:
        if r["tcp.stream"]:
            streams[r["tcp.stream"]].append(r)
    st_sum, st_n, bytes_sum, drtt = 0.0, 0, 0, []
    for pk in streams.values():
        server = None
        syn_t = synack_t = None
        for p in pk:
            if p["tcp.flags.syn"] == "1" and p["tcp.flags.ack"] == "0":
                syn_t = float(p["frame.time_epoch"])  # the most recent SYN
            if p["tcp.flags.syn"] == "1" and p["tcp.flags.ack"] == "1" and synack_t is None:
                synack_t = float(p["frame.time_epoch"])
                server = (p["ip.src"], p["tcp.srcport"])
        if server is None:
            continue
        leg = synack_t - syn_t
        established = False
        timed = None
        max_end = None
        for p in pk:
            t = float(p["frame.time_epoch"])
            from_server = (p["ip.src"], p["tcp.srcport"]) == server
            ln = int(p["tcp.len"] or 0)
            if p["tcp.flags.syn"] == "1":
                continue
            if not from_server and not established:
                established = True  # the ACK completing the handshake
            if from_server and ln:
                seq = int(p["tcp.seq"])
                retx = p["tcp.analysis.retransmission"] == "1" or p["tcp.analysis.out_of_order"] == "1"
                if not retx:
                    bytes_sum += ln
                old = max_end is not None and seq < max_end
                if old:
                    timed = None
                elif established and timed is None:
                    timed = (seq + ln, t)
                max_end = seq + ln if max_end is None or seq + ln > max_end else max_end
            if from_server and p["http.time"]:
                st_sum += max(0.0, float(p["http.time"]) - leg)
                st_n += 1
            if not from_server and timed and p["tcp.flags.ack"] == "1" and int(p["tcp.ack"]) >= timed[0]:
                drtt.append(t - timed[1] + leg)
                timed = None
    return st_sum, st_n, bytes_sum, drtt


with tempfile.TemporaryDirectory() as tmp:
    gen = subprocess.run(["/usr/bin/python3", os.path.join(here, "gen_faults.py"), tmp],
                         capture_output=True, text=True)
    if gen.returncode:
        sys.exit("FAIL generate: " + gen.stderr)
    inc_start, inc_end = [float(x) for x in gen.stdout.split()[1:3]]
    cfg = os.path.join(tmp, "cfg.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    for name, (domain, rule, maxwin) in EXPECT.items():
        pcap = os.path.join(tmp, name + ".pcap")
        aj, mp = os.path.join(tmp, name + ".json"), os.path.join(tmp, name + ".prom")
        r = subprocess.run([sw, "-r", pcap, "-c", cfg, "--alerts-out", aj, "--metrics-out", mp],
                           capture_output=True, text=True)
        check(r.returncode == 0, "%s: exit %d" % (name, r.returncode))
        err = r.stderr
        first = float(subprocess.run(["tshark", "-r", pcap, "-c", "1", "-T", "fields", "-e",
                                      "frame.time_epoch"], capture_output=True, text=True).stdout)
        # the episodes of the summary
        eps = re.findall(r"^spanwatch:   (\S+)\s+(none|network|backend|both)\s+from (\S+) to (\S+(?: end)?) "
                         r"\((\d+) windows?; ([^)]*)\)", err, re.M)
        web = [e for e in eps if e[0] == WEB]
        other = [e for e in eps if e[0] != WEB]

        def rel(ts):
            import datetime
            d = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc)
            return d.timestamp() - first

        ok = len(web) == 1 and web[0][1] == domain and web[0][3] != "the"
        if ok:
            s, e, nwin = rel(web[0][2]), rel(web[0][3]), int(web[0][4])
            ok = abs(s - inc_start) < 1 and inc_end - 1 < e <= inc_end + 10 + 1 and 4 <= nwin <= maxwin
        check(ok, "%s: one %s episode of %s, from %s to %s s (the incident: %g to %g s): %s" % (
            name, domain, WEB, "%.1f" % rel(web[0][2]) if web else "?",
            "%.1f" % rel(web[0][3]) if web and web[0][3] != "the" else "?", inc_start, inc_end,
            web))
        check(not other, "%s: no episode for the unaffected resolver %s" % (name, other or ""))
        alerts = [json.loads(line) for line in open(aj)]
        fired = [a for a in alerts if a["state"] == "firing"]
        mine = [a for a in fired if a["rule"] == rule and a["server"] == WEB]
        check(len(mine) == 1 and mine[0]["fault_domain"] == domain,
              "%s: rule %s fired with fault_domain=%s (%s)" % (
                  name, rule, mine[0]["fault_domain"] if mine else "-",
                  mine[0]["fault_evidence"] if mine else "no alert"))
        wrong = [(a["rule"], a["fault_domain"]) for a in fired if a["fault_domain"] != domain]
        check(not wrong, "%s: every firing alert says %s %s" % (name, domain, wrong or ""))
        prom = open(mp).read()
        check(metric(prom, "spanwatch_fault_domain", server=WEB, domain="none") == 1 and
              metric(prom, "spanwatch_fault_domain", server=DNS, domain="none") == 1,
              "%s: spanwatch_fault_domain back to none at the end" % name)
        # the histograms, against tshark
        st_sum, st_n, bsum, drtt = reference(tshark_fields(pcap))
        got_n = metric(prom, "spanwatch_http_server_time_seconds_count", server=WEB)
        got_s = metric(prom, "spanwatch_http_server_time_seconds_sum", server=WEB)
        check(got_n == st_n and abs(got_s - st_sum) <= 2e-6 * st_n,
              "%s: server time %s samples sum %.6f s; tshark %d sum %.6f s" % (
                  name, got_n, got_s or 0, st_n, st_sum))
        got_b = metric(prom, "spanwatch_http_response_bytes_sum", server=WEB)
        check(got_b == bsum, "%s: response bytes %s; tshark %d" % (name, got_b, bsum))
        got_dn = metric(prom, "spanwatch_tcp_data_rtt_seconds_count", server=WEB)
        got_ds = metric(prom, "spanwatch_tcp_data_rtt_seconds_sum", server=WEB)
        check(got_dn == len(drtt) and abs(got_ds - sum(drtt)) <= 3e-6 * max(1, len(drtt)),
              "%s: data RTT %s samples sum %.6f s; reference on tshark %d sum %.6f s" % (
                  name, got_dn, got_ds or 0, len(drtt), sum(drtt)))

finish()
