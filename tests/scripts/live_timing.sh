#!/usr/bin/env bash
# live_timing.sh SPANWATCH SRCDIR — live capture reports what the packets
# say, on every back end and worker count (root; exit 77 = skipped).
#
# 1. Real traffic: the namespaces of netns_lib.sh (real nginx and unbound on
#    the server side, curl and dig on the client side), IPv4 only. On the
#    server's interface two tcpdumps (nanosecond stamps) and spanwatch with
#    --backend pcap and afpacket at -w 2, all at once. Traffic:
#    sparse (DNS and HTTP transactions 0.1 s apart: the link idles, so the
#    worker clocks follow the wall clock), dense (bursts of parallel curl
#    and dig), and last a DNS burst with SIGTERM as soon as it is answered
#    (what the kernel still holds must be analysed). Each instance must
#    count every frame tcpdump saw, and every per-server counter and sample
#    count of a replay of tcpdump's capture. Times: the two tcpdumps (one
#    started before spanwatch, one after) must agree to the ns on every
#    frame the kernel stamps once for all sockets (all but the TCP segments
#    a local sender handed to the veth, see compare_live.py); on those the
#    kernel hands a frame to the newest socket first, stamping each as it
#    goes, so spanwatch's stamp lies between the two tcpdumps' and the time
#    sums must agree within twice their largest spread per sample.
# 2. A SPAN-like feed: tcpdump's capture of 1 sent with tcpreplay (original
#    pacing, idle gaps included) into a veth pair, as a mirror port receives
#    frames; tcpdump, spanwatch pcap/afpacket at -w 1, 2, 3 and dpdk
#    (net_af_packet, 2 queue pairs) at -w 1 on the receiving end, dpdk at
#    -w 2 on a second pair, afxdp (native, its default one worker per RX
#    queue, -w 1 refused) on a third pair with two queues, against tcpdump
#    on the sending end. pcap and afpacket: every series equal to a
#    replay of that tcpdump's capture, every bucket and sum to the ns. dpdk
#    (a burst is stamped when polled; see README "Timestamps"): counters,
#    sample counts and frames exactly; the mean error of its times is
#    reported, not bounded; afxdp: counters and frames exactly, time sums
#    within AFXDP_SAMPLE_US per sample.
# 3. Loopback: --backend afpacket and pcap on the server namespace's lo
#    while it talks to itself: one copy of each frame (tcpdump's count), no
#    retransmissions, the replay's series (time sums within twice the
#    spread two tcpdumps on lo show: every TCP segment there is local).
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
# DPDK's poll-time stamps: times not bounded, only reported (compare_live.py).
# AF_XDP's stamps are taken by the XDP program on the receiving veth, the
# reference's by tcpdump on the sending one: the veth's hand-over (a NAPI
# poll) lies between them, 12-31 us per sample on average in 5 runs here.
DPDK_SAMPLE_US=${DPDK_SAMPLE_US:-inf}
AFXDP_SAMPLE_US=${AFXDP_SAMPLE_US:-100}
tmp_prefix=spanwatch-timing
netns_tools="tcpdump tcpreplay"
. "$(dirname "$0")/netns_lib.sh"
ns_m=swmir$id
compare() { /usr/bin/python3 "$src/tests/scripts/compare_live.py" "$@"; }

# start_capture NS IFACE NAME — tcpdump into $tmp/NAME.pcap; sets td_pid, adds to td_pids
td_pids=()
start_capture() {
    ip netns exec "$1" tcpdump -Z root -i "$2" -U -s 0 -B 65536 --immediate-mode \
        --time-stamp-precision=nano -w "$tmp/$3.pcap" >/dev/null 2>"$tmp/$3.tcpdump.log" &
    td_pid=$!
    td_pids+=($td_pid)
    pids+=($td_pid)
    for _ in $(seq 50); do grep -q "listening on" "$tmp/$3.tcpdump.log" 2>/dev/null && break; sleep 0.1; done
}
# start_sw NS NAME ARGS... — spanwatch writing $tmp/NAME.prom; appends to sw_pids/sw_names
sw_pids=()
sw_names=()
start_sw() {
    local n=$1 name=$2
    shift 2
    ip netns exec "$n" "$sw" "$@" --web.listen-address none --metrics-out "$tmp/$name.prom" \
        2> "$tmp/$name.log" &
    sw_pids+=($!)
    sw_names+=("$name")
    pids+=($!)
}
wait_capturing() {
    local name
    for name in "${sw_names[@]}"; do
        for _ in $(seq 300); do grep -q 'capturing on' "$tmp/$name.log" && break; sleep 0.1; done
        grep -q 'capturing on' "$tmp/$name.log" || bad "$name did not start: $(grep -v '^EAL' "$tmp/$name.log" | tail -2)"
    done
}
stop_all() { # SIGTERM every spanwatch, wait (bounded) for each; then stop the tcpdumps
    local p
    for p in "${sw_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${sw_pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    sleep 0.5
    for p in "${td_pids[@]}"; do kill -INT "$p"; done
    for p in "${td_pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    sw_pids=()
    sw_names_done=("${sw_names[@]}")
    sw_names=()
    td_pids=()
}
# check NAME PCAP TOLERANCE_US — NAME's metrics against a replay of PCAP
check() {
    local name=$1 pcap=$2 tol=$3 f=$tmp/$1.prom
    [ -f "$pcap.prom" ] || "$sw" -q -r "$pcap" --metrics-out "$pcap.prom"
    if [ ! -s "$f" ]; then bad "$name wrote no metrics: $(grep -v '^EAL' "$tmp/$name.log" | tail -2)"; return; fi
    local out n got late
    out=$(compare --sample-tolerance-us "$tol" "$f" "$pcap.prom") &&
        ok "$name: $out from the replay of tcpdump's capture" || bad "$name: $out"
    n=$(frames "$pcap")
    got=$(total "$f" spanwatch_packets_total)
    [ "$got" = "$n" ] && ok "$name: $got frames, as tcpdump (every queue read, the last burst too)" ||
        bad "$name: $got frames, tcpdump $n (drops reported: $(total "$f" spanwatch_capture_drops_total))"
    late=$(awk '/reason="late_for_window"/ {print $NF}' "$f")
    [ "${late:-0}" = 0 ] || bad "$name: $late packets counted late"
}
td_clean() { # NAME — tcpdump's own drop count must be 0
    local d
    d=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$tmp/$1.tcpdump.log")
    [ "${d:-1}" = 0 ] || bad "tcpdump ($1) itself dropped ${d:-?} frames: no reference"
}


# --- 1. real traffic on the server's interface -------------------------------
# IPv4 only: no IPv6 router solicitations or MLD reports at random times,
# so every frame on the link is traffic this test makes while all capture
S sysctl -qw "net.ipv6.conf.$if_s.disable_ipv6=1"
C sysctl -qw "net.ipv6.conf.$if_c.disable_ipv6=1"
sleep 1 # the last IPv6 frames (leaving multicast groups) pass before any capture
# tcpdump, spanwatch, a second tcpdump, in that order: the kernel hands a
# frame to the packet sockets newest first, so where each socket stamps a
# frame itself, spanwatch's stamp lies between the two tcpdumps' stamps
start_capture "$ns_s" "$if_s" srv
for be in pcap afpacket; do start_sw "$ns_s" "$be-w2" --backend "$be" -w 2 -i "$if_s"; done
wait_capturing
start_capture "$ns_s" "$if_s" srv2

u=http://10.77.0.1
# sparse
for i in $(seq 12); do
    C dig +time=2 +tries=1 @10.77.0.1 www.example.test >/dev/null
    sleep 0.1
    C curl -s -o /dev/null --max-time 3 "$u/"
    sleep 0.1
    [ $((i % 4)) = 0 ] && C dig +tcp +time=2 +tries=1 @10.77.0.1 nosuch.example.test >/dev/null
    sleep 0.1
done
# dense
for round in 1 2 3; do
    cpids=()
    for j in 1 2 3 4 5 6; do
        C curl -s --max-time 5 -o /dev/null "$u/" -o /dev/null "$u/missing" -o /dev/null "$u/error" &
        cpids+=($!)
        C dig +time=2 +tries=1 @10.77.0.1 "www.example.test" >/dev/null &
        cpids+=($!)
        C dig +time=2 +tries=1 @10.77.0.1 "n$round$j.example.test" >/dev/null &
        cpids+=($!)
    done
    for p in "${cpids[@]}"; do wait "$p"; done
done
# last: answered, then stopped at once
cpids=()
for j in $(seq 10); do
    C dig +time=2 +tries=1 @10.77.0.1 "www.example.test" >/dev/null &
    cpids+=($!)
done
for p in "${cpids[@]}"; do wait "$p"; done
stop_all
td_clean srv
echo "tcpdump: $(frames "$tmp/srv.pcap") frames on $if_s"
[ "$(frames "$tmp/srv.pcap")" -gt 300 ] || bad "tcpdump's capture is too small"
"$sw" -q -r "$tmp/srv.pcap" --metrics-out "$tmp/srv.pcap.prom"
grep -q '^spanwatch_http_latency_seconds_count{server="10.77.0.1:80"} [1-9]' "$tmp/srv.pcap.prom" &&
    grep -q '^spanwatch_dns_latency_seconds_count{server="10.77.0.1:53"} [1-9]' "$tmp/srv.pcap.prom" ||
    bad "the replay has no DNS or HTTP latency samples"
# the two tcpdumps: same frames; the same stamp for every frame but the
# TCP segments that arrived from the local client (kernel: see compare_live.py)
out=$(/usr/bin/python3 "$src/tests/scripts/stamp_spread.py" "$tmp/srv.pcap" "$tmp/srv2.pcap" 10.77.0.2 "$tmp/tol") && ok "two tcpdumps: $out" || bad "two tcpdumps: $out"
tol=$(cat "$tmp/tol")
echo "per-sample bound for time sums in the real traffic: $tol us (twice that spread, + 2 us)"
for name in "${sw_names_done[@]}"; do check "$name" "$tmp/srv.pcap" "$tol"; done

# --- 2. a SPAN-like feed: the same frames replayed into a veth pair ------------
ip netns add "$ns_m" || { bad "cannot create namespace"; echo "$pass passed, $fail failed"; exit 1; }
M() { ip netns exec "$ns_m" "$@"; }
cleanup_m() { ip netns del "$ns_m" 2>/dev/null; cleanup; }
trap cleanup_m EXIT
M sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
M ip link add mr0 type veth peer name mr1
M ip link add mq0 type veth peer name mq1
M ip link add mx0 numrxqueues 2 numtxqueues 2 type veth peer name mx1 numrxqueues 2 numtxqueues 2
for i in lo mr0 mr1 mq0 mq1 mx0 mx1; do M ip link set "$i" up; done
for i in mr0 mr1 mq0 mq1 mx0 mx1; do M ethtool -K "$i" tso off gso off gro off >/dev/null 2>&1; done
start_capture "$ns_m" mr1 span
start_capture "$ns_m" mq1 spanq
has_dpdk=0
if "$sw" --version | grep -q dpdk; then
    # one net_af_packet port per interface (two would ask for one fanout group)
    has_dpdk=1
    start_sw "$ns_m" span-dpdk-w1 --backend dpdk -w 1 --dpdk-args \
        "--no-huge --no-pci -m 512 --file-prefix=swt$$w1 --vdev=net_af_packet0,iface=mr1,qpairs=2"
    start_sw "$ns_m" span-dpdk-w2 --backend dpdk -w 2 --dpdk-args \
        "--no-huge --no-pci -m 512 --file-prefix=swt$$w2 --vdev=net_af_packet0,iface=mq1,qpairs=2"
fi
for be in pcap afpacket; do
    for w in 1 2 3; do start_sw "$ns_m" "span-$be-w$w" --backend "$be" -w "$w" -i mr1; done
done
# AF_XDP takes the frames away before any packet socket sees them, so its
# reference is tcpdump on the sending end (mx0); it must read both queues
has_xdp=0
if "$sw" --version | grep -q afxdp; then
    has_xdp=1
    start_capture "$ns_m" mx0 spanx
    if M "$sw" --backend afxdp -w 1 -i mx1 --web.listen-address none > "$tmp/xdp-w1.log" 2>&1; then
        bad "afxdp -w 1 on a 2-queue interface started: a queue would be unread"
    else
        grep -q 'mx1 has 2 RX queues.*use -w 2' "$tmp/xdp-w1.log" &&
            ok "afxdp -w 1 on a 2-queue interface refused: $(cut -c12- "$tmp/xdp-w1.log")" ||
            bad "afxdp -w 1: $(cat "$tmp/xdp-w1.log")"
    fi
    start_sw "$ns_m" span-afxdp --backend afxdp --xdp-mode native -i mx1
fi
wait_capturing
M tcpreplay -q -i mr0 "$tmp/srv.pcap" > "$tmp/tcpreplay.log" 2>&1 &
rp=$!
[ "$has_xdp" = 1 ] && { M tcpreplay -q -i mx0 "$tmp/srv.pcap" > "$tmp/tcpreplay-x.log" 2>&1 & }
rx=$!
[ "$has_dpdk" = 1 ] && M tcpreplay -q -i mq0 "$tmp/srv.pcap" > "$tmp/tcpreplay-q.log" 2>&1
wait "$rp" "$rx"
stop_all
td_clean span
for name in "${sw_names_done[@]}"; do
    case $name in
    span-dpdk-w2) check "$name" "$tmp/spanq.pcap" "$DPDK_SAMPLE_US" ;;
    span-dpdk*) check "$name" "$tmp/span.pcap" "$DPDK_SAMPLE_US" ;;
    span-afxdp) check "$name" "$tmp/spanx.pcap" "$AFXDP_SAMPLE_US" ;;
    *) check "$name" "$tmp/span.pcap" 0 ;;
    esac
done
[ "$has_dpdk" = 1 ] && { grep -q 'started with 2 RX queues on 1 worker' "$tmp/span-dpdk-w1.log" &&
    ok "dpdk -w 1: the port's 2 queues are both polled by the one worker" ||
    bad "dpdk -w 1: $(grep 'RX queue' "$tmp/span-dpdk-w1.log")"; }

# --- 3. loopback -----------------------------------------------------------------
start_capture "$ns_s" lo lo
start_sw "$ns_s" lo-afpacket --backend afpacket -w 1 -i lo
start_sw "$ns_s" lo-pcap --backend pcap -w 1 -i lo
wait_capturing
start_capture "$ns_s" lo lo2
for i in $(seq 10); do
    S curl -s -o /dev/null --max-time 3 "$u/"
    S dig +time=2 +tries=1 @10.77.0.1 www.example.test >/dev/null
done
stop_all
out=$(/usr/bin/python3 "$src/tests/scripts/stamp_spread.py" "$tmp/lo.pcap" "$tmp/lo2.pcap" 10.77.0.1 "$tmp/tol") &&
    ok "two tcpdumps on lo: $out" || bad "two tcpdumps on lo: $out"
tol=$(cat "$tmp/tol")
for name in lo-afpacket lo-pcap; do
    check "$name" "$tmp/lo.pcap" "$tol"
    rt=$(awk '/^spanwatch_tcp_retransmits_total/ {s += $NF} END {print s + 0}' "$tmp/$name.prom")
    [ "$rt" = 0 ] && ok "$name: no retransmissions in clean traffic" || bad "$name: $rt retransmissions"
done

if [ "$fail" != 0 ]; then
    # keep the evidence (captures, metrics, logs): $tmp goes with the EXIT trap
    cp -r "$tmp" "/tmp/spanwatch-timing-failed-$$" 2>/dev/null &&
        echo "kept the captures and metrics for analysis: /tmp/spanwatch-timing-failed-$$"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
