#!/usr/bin/env bash
# afxdp_test.sh SPANWATCH SRCDIR — --backend afxdp on a veth pair (root).
#
# In a network namespace, a veth pair spA -> spB with two RX queues stands in
# for a SPAN port: spanwatch attaches its XDP program to spB (native mode,
# then once more in SKB mode) with two workers, one AF_XDP socket per queue,
# and the frames of tests/pcaps/analyzers.pcap and http.pcap are sent into
# spA with scapy, each flow's frames on one queue and flows over both.
# What spanwatch counts live must equal a replay of the same
# files for every timing-independent per-server counter (queries, responses
# by rcode, connections, resets, requests, responses by code): AF_XDP
# frames carry no timestamps, so latencies, timeouts and retransmission
# timing differ by construction and are not compared. The XDP program's
# own counters must account for every frame sent.
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
"$sw" --version | grep -q afxdp || { echo "SKIP: built without AF_XDP"; exit 77; }
ns=swxdp$$
. "$(dirname "$0")/check_lib.sh"
N() { ip netns exec "$ns" "$@"; }

ip netns add "$ns" || { echo "FAIL: netns"; exit 1; }
N ip link add spA numrxqueues 2 numtxqueues 2 type veth peer name spB numrxqueues 2 numtxqueues 2
N ip link set lo up
# no IPv6 autoconfiguration chatter of spA's own among the frames counted
N sysctl -qw net.ipv6.conf.spA.disable_ipv6=1 net.ipv6.conf.spB.disable_ipv6=1
N ip link set spA up
N ip link set spB up
N ethtool -K spA tso off gso off gro off >/dev/null 2>&1
# XPS: a frame sent on CPU c leaves spA on TX queue c % 2 and so arrives on
# spB's RX queue c % 2 (without it, the veth picks the queue by a flow hash
# that is not symmetric for every frame); send_pcaps pins each flow's
# sender to a CPU, which stands in for a NIC's symmetric RSS
m0=0; m1=0
for ((c = 0; c < $(nproc --all); c++)); do
    if ((c % 2)); then m1=$((m1 | 1 << c)); else m0=$((m0 | 1 << c)); fi
done
N sh -c "printf %x $m0 > /sys/class/net/spA/queues/tx-0/xps_cpus && printf %x $m1 > /sys/class/net/spA/queues/tx-1/xps_cpus" ||
    echo "     (could not set XPS on spA: queue choice left to the veth)"

# The generated captures are sent (or, net_pcap, read) at top speed, not
# at their recorded pace: a query retransmitted 1 s after the original
# (same IP ID, same bytes: scapy's) then arrives microseconds after it,
# which is what a SPAN duplicate is. De-duplication is not what these
# tests are about: off here, and in the replays they are compared with.
printf 'limits:\n  dedup_window: 0\n' > "$tmp/nodedup.yaml"

# timing-independent per-server counters
counters() {
    grep -E '^spanwatch_(dns_queries_total|dns_responses_total|tcp_connections_total|http_requests_total|http_responses_total)\{' "$1" | sort
}
for mode in native skb; do
    cat /dev/null > "$tmp/expect"
    ip netns exec "$ns" "$sw" --backend afxdp --xdp-mode "$mode" -w 2 -i spB -c "$tmp/nodedup.yaml" --web.listen-address none \
        --metrics-out "$tmp/live.prom" 2> "$tmp/err" &
    pid=$!
    for _ in $(seq 50); do grep -q 'XDP program attached' "$tmp/err" && break; sleep 0.1; done
    grep -q "attached in $mode mode" "$tmp/err" && ok "$mode: $(head -1 "$tmp/err" | cut -c12-)" ||
        { bad "$mode: not attached: $(cat "$tmp/err")"; kill "$pid"; wait "$pid"; pid=; continue; }
    # both directions of a flow on one queue, flows over both (see send_pcaps)
    # started as root without --user: nobody, keeping only CAP_NET_ADMIN (to detach at exit)
    for _ in $(seq 100); do grep -q 'capturing on' "$tmp/err" && break; sleep 0.1; done
    caps=$(awk '/^Uid:/ {u = $3} /^CapEff:/ {e = $2} /^CapPrm:/ {p = $2} END {print u, e, p}' "/proc/$pid/status")
    [ "$caps" = "$(id -u nobody) 0000000000001000 0000000000001000" ] &&
        ok "$mode: runs as nobody with only CAP_NET_ADMIN" || bad "$mode: uid/CapEff/CapPrm: $caps"
    sent=$(SEND_QUEUES=2 send_pcaps "$ns" spA "$src/tests/pcaps/analyzers.pcap" "$src/tests/pcaps/http.pcap")
    sleep 1
    kill "$pid"; wait "$pid"; rc=$?; pid=
    [ "$rc" = 0 ] && ok "$mode: exit 0 on SIGTERM" || bad "$mode: exit $rc: $(tail -3 "$tmp/err")"
    got=$(awk '/^spanwatch_packets_total/ {s += $NF} END {print s + 0}' "$tmp/live.prom")
    red=$(awk '/^spanwatch_xdp_packets_total\{action="redirected"\}/ {print $NF}' "$tmp/live.prom")
    pas=$(awk '/^spanwatch_xdp_packets_total\{action="passed"\}/ {print $NF}' "$tmp/live.prom")
    [ "$got" = "$sent" ] && ok "$mode: all $sent frames sent reached the workers" || bad "$mode: sent $sent, workers got $got"
    [ "$red" = "$got" ] && [ "$pas" = 0 ] && ok "$mode: XDP counters: $red redirected (= frames the workers handled), $pas passed" ||
        bad "$mode: XDP counters redirected=$red passed=$pas, workers got $got"
    # replays of the same files
    "$sw" -q -r "$src/tests/pcaps/analyzers.pcap" -c "$tmp/nodedup.yaml" --metrics-out "$tmp/r1.prom"
    "$sw" -q -r "$src/tests/pcaps/http.pcap" -c "$tmp/nodedup.yaml" --metrics-out "$tmp/r2.prom"
    /usr/bin/python3 "$src/tests/scripts/compare_counters.py" "$tmp/live.prom" "$tmp/r1.prom" "$tmp/r2.prom" > "$tmp/cmp"
    tail -1 "$tmp/cmp" | grep -q ', 0 differ' && ok "$mode: $(tail -1 "$tmp/cmp") from a replay of the same files" ||
        { bad "$mode: live differs from the replay:"; cat "$tmp/cmp"; }
    w1=$(awk '/^spanwatch_packets_total\{worker="1"\}/ {print $NF}' "$tmp/live.prom")
    w0=$(awk '/^spanwatch_packets_total\{worker="0"\}/ {print $NF}' "$tmp/live.prom")
    # generic (SKB-mode) XDP on a veth: frames need not arrive on the sender's queue
    if [ "$mode" = skb ]; then
        echo "     skb: worker 0 handled ${w0:-0}, worker 1 ${w1:-0} (not checked: generic XDP on a veth does not keep the sender's queue)"
    else
        [ "${w0:-0}" -gt 0 ] && [ "${w1:-0}" -gt 0 ] && ok "$mode: both workers received frames (worker 0: $w0, worker 1: $w1)" ||
        bad "$mode: one worker got nothing (worker 0: ${w0:-0}, worker 1: ${w1:-0}): queues not both used"
    fi
done
N ip link show spB | grep -q xdp && bad "an XDP program is still attached to spB" || ok "XDP program detached at exit"
finish
