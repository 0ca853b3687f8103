#!/usr/bin/env bash
# fault_domains_live.sh SPANWATCH SRCDIR — fault-domain attribution on real
# traffic (root): nginx in a server namespace, curl in a client namespace,
# a router namespace between them; spanwatch captures the server's link
# (--backend afpacket -w 2) with 2 s attribution windows. Phases, each a few
# windows long:
#   normal    curl fetches / over new connections (the baselines learn)
#   network   the router's link to the clients becomes a 512 kbit/s
#             bottleneck (tc tbf, 40 ms of queue, tail drop) while one client
#             downloads 200 KB: queueing delay and loss beyond the tap
#   normal    bottleneck removed
#   backend   the same clients fetch /unavailable: nginx answers 503
# (tc netem is what one would use for fixed delay and random loss, but this
# kernel has no sch_netem; a rate limit gives both delay and loss, the way a
# congested link does.)
# Checked: spanwatch_fault_domain scraped during each incident says network,
# then backend, for 10.77.0.1:80; the rule on handshake RTT (baseline-
# relative) fires with fault_domain "network" and the 5xx rule with
# "backend" (JSON from --alerts-out); the end-of-run summary lists a network
# episode before a backend one. Every traffic loop is bounded in time.
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
tmp_prefix=spanwatch-fd
router=1
netns_tools="tc"
. "$(dirname "$0")/netns_lib.sh"

port=$((19500 + RANDOM % 400))
cat > "$tmp/cfg.yaml" <<'CFG'
fault_domain:
  window: 2s
  baseline_windows: 30
  min_baseline_windows: 3
rules:
  - name: web-rtt
    expr: tcp_rtt_p50
    threshold_vs_baseline: 3
    window: 2s
    min_events: 5
    fire_when: { bad_windows: 2, of_last: 3 }
    resolve_when: { good_windows: 2 }
  - name: web-5xx
    expr: http_5xx_ratio
    threshold: 0.2
    window: 2s
    min_events: 5
    fire_when: { bad_windows: 2, of_last: 3 }
    resolve_when: { good_windows: 2 }
CFG
chmod 644 "$tmp/cfg.yaml"
ip netns exec "$ns_s" "$sw" -i "$if_s" --backend afpacket -w 2 -c "$tmp/cfg.yaml" \
    --web.listen-address "127.0.0.1:$port" --alerts-out "$tmp/alerts.json" \
    --metrics-out "$tmp/final.prom" 2> "$tmp/sw.err" &
swpid=$!
pids+=($swpid)
for _ in $(seq 150); do grep -q 'capturing on' "$tmp/sw.err" && break; sleep 0.1; done

# traffic for $1 seconds: batches of 20 requests for path $2, each on its own
# connection (Connection: close), every 0.3 s
traffic() {
    local until=$((SECONDS + $1)) urls=() i
    for i in $(seq 20); do urls+=("http://10.77.0.1$2"); done
    while [ $SECONDS -lt "$until" ]; do
        C curl -s -o /dev/null --max-time 5 -H 'Connection: close' "${urls[@]}" || true
        sleep 0.3
    done
}
domain_now() {
    S curl -s --max-time 2 "http://127.0.0.1:$port/metrics" |
        awk '/^spanwatch_fault_domain\{server="10\.77\.0\.1:80",domain="[a-z]+"\} 1/ {
                 sub(/.*domain="/, ""); sub(/".*/, ""); print }'
}

traffic 9 /
R tc qdisc add dev "$if_rc" root tbf rate 512kbit burst 4kb latency 40ms ||
    bad "cannot add the tbf qdisc"
ip netns exec "$ns_c" curl -s -o /dev/null --max-time 7 http://10.77.0.1/big.html &
bulk=$!
pids+=($bulk)
traffic 7 /
net_seen=$(domain_now)
wait "$bulk" 2>/dev/null
R tc qdisc del dev "$if_rc" root
traffic 5 /
traffic 7 /unavailable
back_seen=$(domain_now)
kill "$swpid"; wait "$swpid"; rc=$?
[ "$rc" = 0 ] && ok "spanwatch exit 0 on SIGTERM" || bad "spanwatch exit $rc: $(tail -3 "$tmp/sw.err")"

[ "$net_seen" = network ] && ok "behind the bottleneck: spanwatch_fault_domain says network" ||
    bad "behind the bottleneck: domain '$net_seen'"
[ "$back_seen" = backend ] && ok "while nginx answers 503: spanwatch_fault_domain says backend" ||
    bad "while nginx answers 503: domain '$back_seen'"
out=$(/usr/bin/python3 - "$tmp/alerts.json" <<'PY'
import json, sys
fired = [json.loads(l) for l in open(sys.argv[1]) if '"firing"' in l]
def first(rule):
    a = [x for x in fired if x["rule"] == rule and x["server"] == "10.77.0.1:80"]
    return a[0]["fault_domain"] + "(" + a[0]["fault_evidence"] + ")" if a else "-"
print(first("web-rtt"), first("web-5xx"))
PY
)
rtt_dom=${out%% *}
fxx_dom=${out##* }
[ "${rtt_dom%%(*}" = network ] && ok "web-rtt alert fired with fault_domain $rtt_dom" ||
    bad "web-rtt alert: fault_domain $rtt_dom"
[ "${fxx_dom%%(*}" = backend ] && ok "web-5xx alert fired with fault_domain $fxx_dom" ||
    bad "web-5xx alert: fault_domain $fxx_dom"
eps=$(grep -E '^spanwatch:   10\.77\.0\.1:80 +(network|backend|both) +from' "$tmp/sw.err" | awk '{print $3}' | tr '\n' ' ')
case "$eps" in
    "network backend "*) ok "summary: episodes $eps(network first, then backend)" ;;
    *) bad "summary episodes: '$eps'"; grep -A8 'fault domains' "$tmp/sw.err" ;;
esac
[ $fail = 0 ] || { echo "--- spanwatch stderr"; tail -30 "$tmp/sw.err"; }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
