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
check_lib_cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap check_lib_cleanup EXIT
# send_pcaps NS IFACE FILE... — send every frame of the files out of IFACE
# in namespace NS; prints the number of frames sent
send_pcaps() {
    local n=$1 ifc=$2
    shift 2
    ip netns exec "$n" /usr/bin/python3 -c '
import sys
from scapy.all import rdpcap, sendp, conf
conf.verb = 0
total = 0
for f in sys.argv[2:]:
    pk = rdpcap(f)
    sendp(pk, iface=sys.argv[1], verbose=False)
    total += len(pk)
print(total)' "$ifc" "$@"
}
