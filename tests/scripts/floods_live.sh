#!/usr/bin/env bash
# floods_live.sh SPANWATCH SRCDIR — the floods of floods.sh, live (root).
#
# tcpreplay sends each flood capture of gen_floods.py (SYN flood,
# random-subdomain DNS, 64 KiB HTTP header lines, tiny reverse-order
# segments; the legitimate traffic inside) into a veth at 50,000 packets/s
# while spanwatch captures the other end (--backend afpacket -w 2, 4 MiB
# rings, the same small caps as floods.sh, and the two legitimate servers
# named in `servers:`). After each: no capture drops, the legitimate
# servers' counts equal the construction (200 DNS queries: 180 NOERROR,
# 15 NXDOMAIN, 5 SERVFAIL; 40 HTTP requests: 30 x 200, 6 x 404, 4 x 503),
# what was shed is counted, and spanwatch's RSS stayed under 64 MiB
# (not checked under ASan). MALLOC_PERTURB_, which meson test sets, is
# removed for spanwatch: it makes glibc fill every malloc'd byte, so RSS
# would be the whole preallocated footprint (fragment pools, rings: ~110 MiB
# for -w 2) whatever the traffic, and the check would measure nothing.
# Why the names: with several workers each has its own server registry
# (max_servers each), and fanout decides which worker sees a flow first; a
# worker whose registry a flood has filled before it meets a legitimate
# server would fold that server into __overflow__. Named groups are
# registered on every worker at start, so a flood cannot push them out.
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
ns=swflood$$
. "$(dirname "$0")/check_lib.sh"
chmod 755 "$tmp"   # the config must be readable by nobody
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v tcpreplay >/dev/null || { echo "SKIP: tcpreplay not installed"; exit 77; }
chmod 755 "$tmp"
N() { ip netns exec "$ns" "$@"; }
asan=0
ldd "$sw" 2>/dev/null | grep -q libasan && asan=1

/usr/bin/python3 "$src/tests/scripts/gen_floods.py" "$tmp/x" 1 || { echo "FAIL generate"; exit 1; }
cat > "$tmp/cfg.yaml" <<'CFG'
limits:
  max_flows: 5000
  max_servers: 50
  max_stream_buffers: 256
servers:
  - name: legit-dns
    match: { cidr: 10.9.0.53/32, port: 53 }
  - name: legit-web
    match: { cidr: 10.9.0.80/32, port: 80 }
CFG
chmod 644 "$tmp/cfg.yaml"
veth_ns fA fB || { echo "FAIL: netns"; exit 1; }

exp=(
    'spanwatch_dns_queries_total{server="legit-dns"}=200'
    'spanwatch_dns_responses_total{server="legit-dns",rcode="NOERROR"}=180'
    'spanwatch_dns_responses_total{server="legit-dns",rcode="NXDOMAIN"}=15'
    'spanwatch_dns_responses_total{server="legit-dns",rcode="SERVFAIL"}=5'
    'spanwatch_tcp_connections_total{server="legit-web"}=40'
    'spanwatch_http_requests_total{server="legit-web"}=40'
    'spanwatch_http_responses_total{server="legit-web",code="200"}=30'
    'spanwatch_http_responses_total{server="legit-web",code="404"}=6'
    'spanwatch_http_responses_total{server="legit-web",code="503"}=4'
)
for f in syn dns http ooo; do
    P=$tmp/$f.prom
    ip netns exec "$ns" env -u MALLOC_PERTURB_ "$sw" -i fB --backend afpacket -w 2 --buffer-size 4 -c "$tmp/cfg.yaml" --web.listen-address none \
        --metrics-out "$P" 2> "$tmp/$f.err" &
    pid=$!
    for _ in $(seq 100); do grep -q 'capturing on' "$tmp/$f.err" && break; sleep 0.1; done
    sleep 0.3
    N tcpreplay --pps=50000 -i fA "$tmp/x/flood-$f.pcap" > "$tmp/replay.out" 2>&1
    sent=$(awk '/Successful packets:/ {print $3}' "$tmp/replay.out")
    sleep 1
    rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    kill "$pid"; wait "$pid"; rc=$?; pid=
    [ "$rc" = 0 ] || bad "$f: exit $rc: $(tail -2 "$tmp/$f.err")"
    got=$(awk '/^spanwatch_packets_total\{/ {s += $NF} END {print s + 0}' "$P")
    drops=$(awk '/^spanwatch_capture_drops_total\{/ {s += $NF} END {print s + 0}' "$P")
    [ "$drops" = 0 ] && [ "$got" = "$sent" ] && ok "$f: all $sent frames captured, no drops" ||
        bad "$f: sent $sent, counted $got, drops $drops"
    good=1
    for e in "${exp[@]}"; do
        [ "$(metric_value "$P" "${e%=*}")" = "${e##*=}" ] || { good=0; bad "$f: ${e%=*} = $(metric_value "$P" "${e%=*}"), built with ${e##*=}"; }
    done
    [ $good = 1 ] && ok "$f: the legitimate servers' ${#exp[@]} counts equal the construction"
    case $f in
        syn) v=$(metric_value "$P" 'spanwatch_flow_evictions_total{reason="full"}')
             [ "$v" -gt 0 ] && ok "$f: $v flows evicted from the full tables" || bad "$f: no full-table evictions" ;;
        dns) v=$(metric_value "$P" 'spanwatch_servers_overflow_total')
             [ "$v" -gt 0 ] && ok "$f: $v samples to __overflow__" || bad "$f: no overflow" ;;
        http) v=$(metric_value "$P" 'spanwatch_decode_errors_total{layer="http",reason="header_too_large"}')
              [ "$v" = 200 ] && ok "$f: 200 oversized heads counted" || bad "$f: header_too_large $v of 200" ;;
        ooo) v=$(metric_value "$P" 'spanwatch_tcp_connections_total{server="10.9.0.82:80"}')
             [ "$v" = 100 ] && ok "$f: the 100 flooding connections seen" || bad "$f: flooding connections $v of 100" ;;
    esac
    if [ $asan = 0 ]; then
        [ -n "$rss" ] && [ "$rss" -le $((64 * 1024)) ] && ok "$f: peak RSS $rss KiB <= 64 MiB" || bad "$f: peak RSS $rss KiB"
    fi
done
finish
