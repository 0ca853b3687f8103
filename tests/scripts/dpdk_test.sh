#!/usr/bin/env bash
# dpdk_test.sh SPANWATCH SRCDIR — --backend dpdk with virtual devices and no
# hugepages (root).
#   1. net_pcap: the EAL port replays tests/pcaps/analyzers.pcap; spanwatch
#      (-w 1) must count every frame tshark counts in the file.
#   2. net_af_packet on a veth in a network namespace with two queue pairs
#      and -w 2 (one RX queue per worker): the frames of analyzers.pcap and
#      http.pcap are sent into the peer with scapy.
# In both, the timing-independent per-server counters must equal a replay
# of the same files (compare_counters.py; DPDK here gives no timestamps, so
# bursts are stamped on arrival and latencies are not compared).
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
"$sw" --version | grep -q dpdk || { echo "SKIP: built without DPDK"; exit 77; }
ns=swdpdk$$
. "$(dirname "$0")/check_lib.sh"
pcaps=$src/tests/pcaps
eal="--no-huge --no-pci -m 512 --file-prefix=sw$$"
packets() { awk '/^spanwatch_packets_total/ {s += $NF} END {print s + 0}'; }

# The generated captures are sent (or, net_pcap, read) at top speed, not
# at their recorded pace: a query retransmitted 1 s after the original
# (same IP ID, same bytes: scapy's) then arrives microseconds after it,
# which is what a SPAN duplicate is. De-duplication is not what these
# tests are about: off here, and in the replays they are compared with.
printf 'limits:\n  dedup_window: 0\n' > "$tmp/nodedup.yaml"

# 1. net_pcap
port=$((19900 + RANDOM % 90))
want=$(tshark -r "$pcaps/analyzers.pcap" 2>/dev/null | wc -l)
"$sw" --backend dpdk -w 1 -c "$tmp/nodedup.yaml" --dpdk-args "$eal --vdev=net_pcap0,rx_pcap=$pcaps/analyzers.pcap" \
    --web.listen-address "127.0.0.1:$port" --metrics-out "$tmp/pcap.prom" 2> "$tmp/err1" &
pid=$!
n=0
for _ in $(seq 150); do
    n=$(curl -s "http://127.0.0.1:$port/metrics" | packets)
    [ "$n" = "$want" ] && break
    sleep 0.1
done
kill "$pid"; wait "$pid"; rc=$?; pid=
[ "$rc" = 0 ] && ok "net_pcap: exit 0 on SIGTERM" || bad "net_pcap: exit $rc: $(grep -v '^EAL' "$tmp/err1" | tail -3)"
[ "$(packets < "$tmp/pcap.prom")" = "$want" ] && ok "net_pcap: $want frames, as tshark counts in the file" ||
    bad "net_pcap: $(packets < "$tmp/pcap.prom") frames, tshark $want"
"$sw" -q -r "$pcaps/analyzers.pcap" -c "$tmp/nodedup.yaml" --metrics-out "$tmp/r1.prom"
"$sw" -q -r "$pcaps/http.pcap" -c "$tmp/nodedup.yaml" --metrics-out "$tmp/r2.prom"
out=$(/usr/bin/python3 "$src/tests/scripts/compare_counters.py" "$tmp/pcap.prom" "$tmp/r1.prom") &&
    ok "net_pcap: $out from a replay" || bad "net_pcap: $out"

# 2. net_af_packet on a veth, two queues, two workers
N() { ip netns exec "$ns" "$@"; }
ip netns add "$ns" || { echo "FAIL: netns"; exit 1; }
N ip link add spA type veth peer name spB
N sysctl -qw net.ipv6.conf.spA.disable_ipv6=1 net.ipv6.conf.spB.disable_ipv6=1
N ip link set lo up
N ip link set spA up
N ip link set spB up
N ethtool -K spA tso off gso off gro off >/dev/null 2>&1
ip netns exec "$ns" "$sw" --backend dpdk -w 2 -c "$tmp/nodedup.yaml" \
    --dpdk-args "$eal --vdev=net_af_packet0,iface=spB,qpairs=2" \
    --web.listen-address none --metrics-out "$tmp/afp.prom" 2> "$tmp/err2" &
pid=$!
for _ in $(seq 200); do grep -q 'capturing on' "$tmp/err2" && break; sleep 0.1; done
grep -q 'started with 2 RX queues' "$tmp/err2" && ok "net_af_packet: port started with 2 RX queues" ||
    bad "net_af_packet: $(grep -v '^EAL' "$tmp/err2" | tail -3)"
sent=$(send_pcaps "$ns" spA "$pcaps/analyzers.pcap" "$pcaps/http.pcap")
sleep 1
kill "$pid"; wait "$pid"; rc=$?; pid=
[ "$rc" = 0 ] && ok "net_af_packet: exit 0 on SIGTERM" || bad "net_af_packet: exit $rc"
got=$(packets < "$tmp/afp.prom")
[ "$got" = "$sent" ] && ok "net_af_packet: all $sent frames reached the workers" || bad "net_af_packet: sent $sent, got $got"
busy=$(grep -c '^spanwatch_packets_total{worker="[01]"} [1-9]' "$tmp/afp.prom")
[ "$busy" = 2 ] && ok "net_af_packet: both workers (queues) carried traffic" || bad "net_af_packet: $busy busy workers"
out=$(/usr/bin/python3 "$src/tests/scripts/compare_counters.py" "$tmp/afp.prom" "$tmp/r1.prom" "$tmp/r2.prom") &&
    ok "net_af_packet -w 2: $out from a replay" || bad "net_af_packet: $out"
finish
