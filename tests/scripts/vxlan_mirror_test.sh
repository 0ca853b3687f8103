#!/usr/bin/env bash
# vxlan_mirror_test.sh SPANWATCH SRCDIR — a cloud-style mirror (AWS VPC
# Traffic Mirroring, Azure vTAP): traffic copied into VXLAN and delivered
# to a collector (root; exit 77 = skipped).
#
# The namespaces of netns_lib.sh (real nginx and unbound, curl and dig),
# IPv4. In the server's namespace the server interface's ingress and egress
# are mirrored with tc (u32 match-all, mirred egress mirror) into a VXLAN
# device (VNI 1001) whose remote is a third, collector namespace at the end
# of a veth pair. spanwatch on the server interface, and spanwatch on the
# collector's interface (pcap -w 2: the dispatcher spreads the one tunnel
# over both workers; afpacket -w 2: its fanout program does), at the same
# time, under the same
# traffic: the collector's per-server counters (its servers labelled
# IP:port@vni1001) equal the server interface's, every frame it read was
# unwrapped (spanwatch_encap_packets_total{type="vxlan"}), and both put
# traffic on both workers.
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
tmp_prefix=spanwatch-vxlan
netns_tools="tc tcpdump"
. "$(dirname "$0")/netns_lib.sh"
ns_m=swcol$id
trap 'ip netns del "$ns_m" 2>/dev/null; cleanup' EXIT
M() { ip netns exec "$ns_m" "$@"; }
ip netns add "$ns_m" || { echo "FAIL: cannot create the collector namespace"; exit 1; }

S sysctl -qw "net.ipv6.conf.$if_s.disable_ipv6=1"
C sysctl -qw "net.ipv6.conf.$if_c.disable_ipv6=1"
S ip link add U0 mtu 9000 type veth peer name U1 mtu 9000
S ip link set U1 netns "$ns_m"
S sysctl -qw net.ipv6.conf.U0.disable_ipv6=1
M sysctl -qw net.ipv6.conf.U1.disable_ipv6=1
S ip addr add 10.99.0.1/24 dev U0
M ip addr add 10.99.0.2/24 dev U1
S ip link set U0 up
M ip link set lo up
M ip link set U1 up
S ethtool -K U0 tso off gso off gro off >/dev/null 2>&1
M ethtool -K U1 tso off gso off gro off >/dev/null 2>&1
# the tunnel's two ends: the mirror's VTEP, and the collector's (so the
# kernel there takes the datagrams instead of answering port unreachable)
S ip link add vx0 type vxlan id 1001 local 10.99.0.1 remote 10.99.0.2 dstport 4789 dev U0
M ip link add vx1 type vxlan id 1001 local 10.99.0.2 remote 10.99.0.1 dstport 4789 dev U1
S sysctl -qw net.ipv6.conf.vx0.disable_ipv6=1
M sysctl -qw net.ipv6.conf.vx1.disable_ipv6=1
S ip link set vx0 up
M ip link set vx1 up
# one receive backlog for U1, so frames mirrored on two CPUs keep their
# order (see mirror_test.sh)
M sh -c 'echo 1 > /sys/class/net/U1/queues/rx-0/rps_cpus' ||
    echo "     (could not set RPS on U1: frames may be reordered between CPUs)"
S tc qdisc add dev "$if_s" clsact
for dir in ingress egress; do
    S tc filter add dev "$if_s" "$dir" protocol all u32 match u32 0 0 \
        action mirred egress mirror dev vx0
done
sleep 1


start() { # NAME NS ARGS...
    local name=$1 ns=$2
    shift 2
    ip netns exec "$ns" "$sw" "$@" --web.listen-address none --metrics-out "$tmp/$name.prom" \
        2> "$tmp/$name.log" &
    pids+=($!)
    eval "pid_$name=$!"
}
ip netns exec "$ns_m" tcpdump -Z root -i U1 -U -s 0 -w "$tmp/u1.pcap" >/dev/null 2>"$tmp/td.log" &
td=$!
pids+=($td)
ip netns exec "$ns_s" tcpdump -Z root -i "$if_s" -U -s 0 -w "$tmp/srv.pcap" >/dev/null 2>"$tmp/td2.log" &
td2=$!
pids+=($td2)
for f in td td2; do
    for _ in $(seq 50); do grep -q "listening on" "$tmp/$f.log" 2>/dev/null && break; sleep 0.1; done
done
start orig "$ns_s" --backend pcap -w 1 -i "$if_s"
start colpcap "$ns_m" --backend pcap -w 2 -i U1
start colafp "$ns_m" --backend afpacket -w 2 -i U1
for name in orig colpcap colafp; do
    for _ in $(seq 300); do grep -q 'capturing on' "$tmp/$name.log" && break; sleep 0.1; done
done
mirror_traffic
sleep 0.5
for name in orig colpcap colafp; do eval "kill -TERM \$pid_$name"; done
for name in orig colpcap colafp; do
    eval "p=\$pid_$name"
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done

sleep 0.3
kill -INT "$td" "$td2"
for p in "$td" "$td2"; do for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
n=$(total "$tmp/orig.prom" spanwatch_packets_total)
[ "$n" -gt 100 ] && ok "server interface: $n frames" || bad "server interface: only $n frames"
for name in colpcap colafp; do
    if [ ! -s "$tmp/$name.prom" ]; then
        bad "$name wrote no metrics: $(tail -2 "$tmp/$name.log")"
        continue
    fi
    got=$(total "$tmp/$name.prom" spanwatch_packets_total)
    vx=$(total "$tmp/$name.prom" 'spanwatch_encap_packets_total{type="vxlan"}')
    dups=$(total "$tmp/$name.prom" spanwatch_duplicates_total)
    [ "$vx" = "$n" ] && ok "$name: $vx frames unwrapped from VXLAN = the server interface's $n ($got read)" ||
        bad "$name: $vx unwrapped from VXLAN, $got read, the server interface saw $n"
    [ "$dups" = 0 ] && ok "$name: no duplicates" || bad "$name: $dups duplicates"
    grep -q 'server="[^"]*@vni1001"' "$tmp/$name.prom" && ! grep -q 'server="[0-9.]*:[0-9]*"' "$tmp/$name.prom" &&
        ok "$name: every server labelled with its network (@vni1001)" ||
        bad "$name: servers not labelled @vni1001"
    sed 's/@vni1001"/"/' "$tmp/$name.prom" > "$tmp/$name.plain.prom"
    # counts, not times: the mirror copies and stamps frames after the
    # server interface's tap did (see mirror_test.sh); the data-RTT
    # histogram's samples depend on the order of frames going opposite ways
    out=$(/usr/bin/python3 "$src/tests/scripts/compare_live.py" --sample-tolerance-us inf \
          --exclude '^spanwatch_tcp_data_rtt_seconds' "$tmp/$name.plain.prom" "$tmp/orig.prom") &&
        ok "$name: $out from the server interface" || bad "$name: $out"
done
# afpacket's fanout program hashes the innermost addresses and ports: one
# client's connections spread; the pcap dispatcher hashes the innermost
# address pair (one client here: one worker; README "Where packets come from")
workers=$(grep -c '^spanwatch_packets_total{worker="[0-9]*"} [1-9]' "$tmp/colafp.prom")
[ "$workers" = 2 ] && ok "colafp: one tunnel spread over both workers: $(grep '^spanwatch_packets_total{' "$tmp/colafp.prom" | awk '{print $2}' | paste -sd/)" ||
    bad "colafp: $workers worker(s) carried the tunnel"

if [ "$fail" != 0 ]; then
    cp -r "$tmp" "/tmp/spanwatch-vxlan-failed-$$" 2>/dev/null &&
        echo "kept the metrics for analysis: /tmp/spanwatch-vxlan-failed-$$"
fi
echo "vxlan mirror: $pass ok, $fail bad"
[ "$fail" = 0 ]
