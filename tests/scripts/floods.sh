#!/usr/bin/env bash
# floods.sh SPANWATCH SRCDIR — hostile traffic with legitimate traffic inside
# (tests/scripts/gen_floods.py: SYN flood, random-subdomain DNS to 1,000
# made-up resolvers, HTTP with random Host and 64 KiB header lines, tiny
# reverse-order TCP segments), each at 1x and 4x its base size, replayed
# with small caps (max_flows 5000, max_servers 50, max_stream_buffers 256).
# For every flood:
#   - the legitimate servers' series equal a replay of the legitimate
#     traffic alone, and their counts equal the construction (200 DNS
#     queries: 180 NOERROR, 15 NXDOMAIN, 5 SERVFAIL; 40 HTTP connections:
#     30 x 200, 6 x 404, 4 x 503);
#   - what was shed is counted (full-table evictions and __overflow__ for
#     the SYN flood, __overflow__ for the DNS flood, http/header_too_large
#     for every oversized head);
#   - peak RSS does not grow with the flood: 4x the flood costs at most
#     8 MiB more than 1x (caps, not input, bound memory), and stays under
#     64 MiB (not checked under ASan, whose shadow memory inflates RSS).
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
. "$(dirname "$0")/check_lib.sh"
asan=0
nm -D "$sw" 2>/dev/null | grep -q __asan_init && asan=1
ldd "$sw" 2>/dev/null | grep -q libasan && asan=1

/usr/bin/python3 "$src/tests/scripts/gen_floods.py" "$tmp/x1" 1 || { echo "FAIL generate"; exit 1; }
/usr/bin/python3 "$src/tests/scripts/gen_floods.py" "$tmp/x4" 4 || { echo "FAIL generate"; exit 1; }
printf 'limits:\n  max_flows: 5000\n  max_servers: 50\n  max_stream_buffers: 256\n' > "$tmp/cfg.yaml"

# replay FILE OUT.prom -> prints peak RSS in KiB. Without MALLOC_PERTURB_
# (meson test sets it; glibc would then fill every malloc'd byte and RSS
# would be the preallocated footprint from the start, so growth could not show).
replay() {
    /usr/bin/python3 - "$sw" "$1" "$tmp/cfg.yaml" "$2" <<'PY'
import os, subprocess, sys
sw, pcap, cfg, out = sys.argv[1:5]
p = subprocess.Popen([sw, "-q", "-r", pcap, "-c", cfg, "--metrics-out", out],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     env={k: v for k, v in os.environ.items() if k != "MALLOC_PERTURB_"})
_, status, ru = os.wait4(p.pid, 0)
print(ru.ru_maxrss if os.waitstatus_to_exitcode(status) == 0 else -1)
PY
}
legit() { grep -E '^spanwatch_[a-z_]+\{server="10\.9\.0\.(53:53|80:80)"' "$1" | sort; }

replay "$tmp/x1/legit.pcap" "$tmp/legit.prom" > /dev/null
legit "$tmp/legit.prom" > "$tmp/legit.series"
L=$tmp/legit.prom
exp=(
    'spanwatch_dns_queries_total{server="10.9.0.53:53"}=200'
    'spanwatch_dns_responses_total{server="10.9.0.53:53",rcode="NOERROR"}=180'
    'spanwatch_dns_responses_total{server="10.9.0.53:53",rcode="NXDOMAIN"}=15'
    'spanwatch_dns_responses_total{server="10.9.0.53:53",rcode="SERVFAIL"}=5'
    'spanwatch_tcp_connections_total{server="10.9.0.80:80"}=40'
    'spanwatch_http_requests_total{server="10.9.0.80:80"}=40'
    'spanwatch_http_responses_total{server="10.9.0.80:80",code="200"}=30'
    'spanwatch_http_responses_total{server="10.9.0.80:80",code="404"}=6'
    'spanwatch_http_responses_total{server="10.9.0.80:80",code="503"}=4'
)
good=1
for e in "${exp[@]}"; do
    [ "$(metric_value "$L" "${e%=*}")" = "${e##*=}" ] || { good=0; bad "legit alone: ${e%=*} = $(metric_value "$L" "${e%=*}"), built with ${e##*=}"; }
done
[ $good = 1 ] && ok "legitimate traffic alone: ${#exp[@]} counts equal the construction"

for f in syn dns http ooo; do
    rss=()
    for s in 1 4; do
        r=$(replay "$tmp/x$s/flood-$f.pcap" "$tmp/$f$s.prom")
        [ "$r" -gt 0 ] || { bad "$f x$s: replay failed"; continue; }
        rss+=("$r")
        P=$tmp/$f$s.prom
        if diff "$tmp/legit.series" <(legit "$P") > "$tmp/d"; then
            ok "$f x$s: legitimate servers' $(wc -l < "$tmp/legit.series") series equal the legitimate-only replay"
        else
            bad "$f x$s: legitimate servers' series changed:"; head -6 "$tmp/d"
        fi
        full=$(metric_value "$P" 'spanwatch_flow_evictions_total{reason="full"}')
        ovf=$(metric_value "$P" 'spanwatch_servers_overflow_total')
        case $f in
            syn) [ "$full" -gt 0 ] && [ "$ovf" -gt 0 ] &&
                     ok "$f x$s: shed and counted: $full flows evicted from the full table, $ovf samples to __overflow__" ||
                     bad "$f x$s: nothing counted as shed (full evictions $full, overflow $ovf)" ;;
            dns) q=$(metric_value "$P" 'spanwatch_dns_queries_total{server="__overflow__"}')
                 [ "$ovf" -gt 0 ] && [ "$q" -gt 0 ] &&
                     ok "$f x$s: $q flood queries folded into __overflow__ ($ovf samples), servers capped at 50" ||
                     bad "$f x$s: no overflow counted ($ovf samples, $q queries)" ;;
            http) h=$(metric_value "$P" 'spanwatch_decode_errors_total{layer="http",reason="header_too_large"}')
                  [ "$h" = $((200 * s)) ] && ok "$f x$s: all $h oversized heads counted as http/header_too_large" ||
                      bad "$f x$s: http/header_too_large $h, sent $((200 * s))" ;;
            ooo) c=$(metric_value "$P" 'spanwatch_tcp_connections_total{server="10.9.0.82:80"}')
                 [ "$c" = $((100 * s)) ] && ok "$f x$s: the $c flooding connections are still seen" ||
                     bad "$f x$s: flooding connections counted $c, sent $((100 * s))" ;;
        esac
    done
    [ ${#rss[@]} = 2 ] || continue
    grow=$(( (rss[1] - rss[0]) / 1024 ))
    if [ "$grow" -le 8 ]; then
        ok "$f: peak RSS ${rss[0]} KiB at 1x, ${rss[1]} KiB at 4x (+$grow MiB): bounded by the caps"
    else
        bad "$f: peak RSS grows with the flood: ${rss[0]} KiB at 1x, ${rss[1]} KiB at 4x"
    fi
    if [ $asan = 0 ]; then
        [ "${rss[1]}" -le $((64 * 1024)) ] && ok "$f: peak RSS ${rss[1]} KiB <= 64 MiB" || bad "$f: peak RSS ${rss[1]} KiB > 64 MiB"
    fi
done
finish
