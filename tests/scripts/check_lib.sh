# check_lib.sh — sourced by the shell tests: pass/fail counting, one
# spanwatch process ($pid) and one network namespace ($ns, if set) stopped
# and removed on exit with the temp dir $tmp, and frame sending with scapy.
tmp=$(mktemp -d)
pid=
ns=${ns:-}
pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; }
# veth_ns A B — create namespace $ns holding a veth pair A <-> B, both up,
# IPv6 off (no autoconfiguration frames among those counted), offloads off
# (wire-size segments); fails if the namespace cannot be made
veth_ns() {
    ip netns add "$ns" || return 1
    ip netns exec "$ns" ip link add "$1" type veth peer name "$2" || return 1
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    local i
    for i in lo "$1" "$2"; do ip netns exec "$ns" ip link set "$i" up; done
    for i in "$1" "$2"; do ip netns exec "$ns" ethtool -K "$i" tso off gso off gro off >/dev/null 2>&1; done
    return 0
}
# metric_value FILE 'family{labels}' — the sample's value, 0 if absent
metric_value() { awk -v k="$2" 'index($0, k " ") == 1 {print $NF; f = 1} END {if (!f) print 0}' "$1"; }
check_lib_cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap check_lib_cleanup EXIT
# send_pcaps NS IFACE FILE... — send every frame of the files out of IFACE
# in namespace NS; prints the number of frames sent.
# With SEND_QUEUES=N (N > 1) the frames are split by a symmetric hash of
# their IP pair into N groups, and group k is sent from a process pinned to
# a CPU c with c % N == k: a packet socket records its sender's CPU as the
# skb's queue, so on a veth with N queues group k arrives on RX queue k.
# That stands in for a NIC's symmetric RSS (both directions of a flow on
# one queue, flows spread over all queues); without the pinning, which
# queue a frame takes depends on where the scheduler runs the sender.
send_pcaps() {
    local n=$1 ifc=$2
    shift 2
    ip netns exec "$n" env SEND_QUEUES="${SEND_QUEUES:-1}" /usr/bin/python3 -c '
import os, sys, zlib
from scapy.all import rdpcap, sendp, conf, IP, IPv6
conf.verb = 0
q = max(1, int(os.environ["SEND_QUEUES"]))
pk = []
for f in sys.argv[2:]:
    pk += list(rdpcap(f))
groups = [[] for _ in range(q)]
for p in pk:
    l = p[IP] if IP in p else p[IPv6] if IPv6 in p else None
    k = zlib.crc32("|".join(sorted((l.src, l.dst))).encode()) % q if l is not None else 0
    groups[k].append(p)
cpus = sorted(os.sched_getaffinity(0))
for k, g in enumerate(groups):
    cpu = next((c for c in cpus if c % q == k), cpus[0])
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {cpu})
        sendp(g, iface=sys.argv[1], verbose=False)
        os._exit(0)
    os.waitpid(pid, 0)
print(len(pk))' "$ifc" "$@"
}
