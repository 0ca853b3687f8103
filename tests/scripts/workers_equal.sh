#!/usr/bin/env bash
# workers_equal.sh SPANWATCH PCAP... — the dispatcher and N workers must not
# change what is measured: for every capture, the exposition with -w 2 and
# -w 3 equals the one with -w 1 except the per-worker packet/byte split
# (whose sums must match), the scrape duration, and the flow table's
# occupancy at the end (spanwatch_flows_active, _flow_evictions_total): each
# worker sweeps its own table by its own packet clock, so how many finished
# flows (limits.closed_flow_timeout) are already gone when the file ends
# depends on the split.
set -u
sw=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
strip() {
    grep -v -e '^spanwatch_scrape_duration_seconds' -e '{worker="' -e '{source="ring"}' \
        -e '^spanwatch_flows_active' -e '^spanwatch_flow_evictions_total' "$1"
}
sum() { awk -v m="$2" 'index($0, m "{worker=") == 1 {s += $NF} END {print s + 0}' "$1"; }
for pcap in "$@"; do
    "$sw" -q -r "$pcap" -w 1 --metrics-out "$tmp/1.prom" || { echo "FAIL $pcap: -w 1 exit $?"; fail=$((fail + 1)); continue; }
    for n in 2 3; do
        "$sw" -q -r "$pcap" -w "$n" --metrics-out "$tmp/$n.prom" || { echo "FAIL $pcap: -w $n exit $?"; fail=$((fail + 1)); continue; }
        if diff <(strip "$tmp/1.prom") <(strip "$tmp/$n.prom") > "$tmp/diff"; then
            :
        else
            echo "FAIL $pcap: -w $n differs from -w 1:"; head -5 "$tmp/diff"; fail=$((fail + 1)); continue
        fi
        for m in spanwatch_packets_total spanwatch_bytes_total; do
            a=$(sum "$tmp/1.prom" $m) b=$(sum "$tmp/$n.prom" $m)
            [ "$a" = "$b" ] || { echo "FAIL $pcap: $m -w 1 $a, -w $n $b"; fail=$((fail + 1)); continue 2; }
        done
        w=$(grep -c '^spanwatch_packets_total{worker=' "$tmp/$n.prom")
        [ "$w" = "$n" ] || { echo "FAIL $pcap: $w worker series with -w $n"; fail=$((fail + 1)); continue; }
        pass=$((pass + 1))
    done
    echo "ok   $pcap: -w 2 and -w 3 equal -w 1"
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
