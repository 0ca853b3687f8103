#!/usr/bin/env bash
# live_netns.sh SPANWATCH SRCDIR [KEEP_PCAP] — real traffic, checked against tshark.
#
# Two network namespaces joined by a veth pair (offloads off, so the capture
# sees wire-size segments). The server namespace runs real nginx (200, 301,
# 404, 500, 503, a 200 KB page, keep-alive) and real unbound (NOERROR,
# NXDOMAIN, REFUSED, and SERVFAIL from a stub zone whose server refuses
# the connection); the client namespace drives curl (keep-alive, IPv4 and
# IPv6, one connection to a closed port) and dig (UDP and +tcp) while tcpdump
# captures the client's veth. Then tshark_analyzers.py compares every
# per-server DNS/TCP/HTTP series spanwatch reports for that capture with
# tshark's per-transaction fields.
#
# Every loop is bounded; namespaces and processes are removed by name/PID
# on exit. Needs root (exit 77 = skipped otherwise).
set -u
sw=$1
src=$2
keep=${3:-}

# namespaces, nginx, unbound (see netns_lib.sh)
netns_tools="tcpdump tshark"
. "$(dirname "$0")/netns_lib.sh"

# --- capture and traffic --------------------------------------------------------
ip netns exec "$ns_c" tcpdump -Z root -i "$if_c" -U -s 0 -B 65536 --immediate-mode --time-stamp-precision=nano -w "$tmp/live.pcap" \
    >/dev/null 2>"$tmp/tcpdump.log" &
tcpdump_pid=$!
pids+=($tcpdump_pid)
for _ in $(seq 50); do grep -q "listening on" "$tmp/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
# spanwatch itself captures the same interface live, once per back end,
# with two workers each: AF_PACKET fanout sockets, and libpcap with the
# dispatcher; what they report must equal a replay of tcpdump's capture
live_pids=()
for be in afpacket pcap; do
    ip netns exec "$ns_c" "$sw" --backend "$be" -w 2 -i "$if_c" --web.listen-address none \
        --metrics-out "$tmp/live-$be.prom" 2> "$tmp/live-$be.log" &
    live_pids+=($!)
    pids+=($!)
done
# traffic starts once both capture (set-up can take seconds on a loaded machine)
for be in afpacket pcap; do
    for _ in $(seq 150); do grep -q 'capturing on' "$tmp/live-$be.log" && break; sleep 0.1; done
done

# a second tcpdump, started after spanwatch: where the kernel leaves the
# stamping to each socket, it hands a frame to the newest socket first, so
# spanwatch's stamp lies between the two tcpdumps' (see stamp_spread.py).
# Frames before it started (an IPv6 announcement before spanwatch turned
# the kernel's shared stamps on) are in the first capture only.
ip netns exec "$ns_c" tcpdump -Z root -i "$if_c" -U -s 0 -B 65536 --immediate-mode --time-stamp-precision=nano -w "$tmp/live2.pcap" \
    >/dev/null 2>"$tmp/tcpdump2.log" &
tcpdump2_pid=$!
pids+=($tcpdump2_pid)
for _ in $(seq 50); do grep -q "listening on" "$tmp/tcpdump2.log" 2>/dev/null && break; sleep 0.1; done

u=http://10.77.0.1
for round in 1 2 3; do
    # one keep-alive connection, several requests
    args=()
    for path in / /moved /missing /error /unavailable /big.html /; do args+=(-o /dev/null "$u$path"); done
    C curl -s --max-time 5 -w '%{http_code} ' "${args[@]}"
    C curl -s --max-time 5 -w '%{http_code} ' -g -o /dev/null "http://[fd77::1]/" \
        -o /dev/null "http://[fd77::1]/nope"
    C curl -s -o /dev/null --max-time 5 -I "$u/index.html"
    # virtual host traffic, grouped by the Host header in the second check
    args=()
    for path in / /missing /error /; do args+=(-o /dev/null "$u$path"); done
    C curl -s --max-time 5 -w '%{http_code} ' -H "Host: API.example.test:80" "${args[@]}"
    for name in www.example.test mail.example.test nosuch.example.test x.refused.test; do
        C dig +time=2 +tries=1 @10.77.0.1 "$name" >/dev/null
        C dig +tcp +time=2 +tries=1 @10.77.0.1 "$name" AAAA >/dev/null
    done
    C dig +time=3 +tries=1 @10.77.0.1 "a$round.broken.lan" >/dev/null
done
echo
# a closed port: SYN answered by RST
C curl -s -o /dev/null --max-time 2 http://10.77.0.1:81/ || true
sleep 1.5 # every capturer has read everything before it is stopped
kill -INT "$tcpdump_pid" "$tcpdump2_pid"
for p in "${live_pids[@]}"; do kill -TERM "$p"; done
for p in "$tcpdump_pid" "$tcpdump2_pid" "${live_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done

frames=$(tcpdump -r "$tmp/live.pcap" 2>/dev/null | wc -l)
echo "captured $frames frames"
[ "$frames" -gt 100 ] || { echo "FAIL: capture too small"; exit 1; }
[ -n "$keep" ] && cp "$tmp/live.pcap" "$keep"
/usr/bin/python3 "$src/tests/scripts/tshark_analyzers.py" "$sw" "$tmp/live.pcap"
rc=$?
# the same capture with a servers: group chosen by the HTTP Host header
cat > "$tmp/hosts.yaml" <<CONF
servers:
  - name: api
    match: { port: 80, http_host: api.example.test }
CONF
/usr/bin/python3 "$src/tests/scripts/tshark_analyzers.py" --config "$tmp/hosts.yaml" \
    --host-group api=api.example.test "$sw" "$tmp/live.pcap" || rc=1
grep -q 'server="api"' < <("$sw" -q -r "$tmp/live.pcap" -c "$tmp/hosts.yaml" --metrics-out -) ||
    { echo "FAIL: no series for the Host group"; rc=1; }
# the capture must hold every outcome this test is about, or it proves little
# live capture == replay of the same packets (per-server series): every
# counter (retransmissions too), every histogram count, and the times
# within what the kernel's stamps allow (compare_live.py): the frames the
# server's TCP sends arrive on this veth still carrying TCP's delivery
# time, so each packet socket stamps them as it is handed them; the two
# tcpdumps measure how far apart that is here.
# Left out: the data-RTT histogram, whose samples (one server segment timed
# at a time, to the ACK that covers it) depend on the order in which a
# socket was handed the two directions' frames, which two sockets may see
# differently when the frames arrive on two CPUs at once. And
# spanwatch_fault_domain (compare_live.py says why).
"$sw" -q -r "$tmp/live.pcap" --metrics-out "$tmp/replay.prom"
spread=$(/usr/bin/python3 "$src/tests/scripts/stamp_spread.py" "$tmp/live.pcap" "$tmp/live2.pcap" 10.77.0.1,fd77::1 "$tmp/tol") &&
    echo "ok   two tcpdumps: $spread" || { echo "FAIL two tcpdumps: $spread"; rc=1; }
tol=$(cat "$tmp/tol" 2>/dev/null || echo 2)
cat "$tmp/tcpdump.log"
td_drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$tmp/tcpdump.log")
for be in afpacket pcap; do
    if [ ! -s "$tmp/live-$be.prom" ]; then
        echo "FAIL: live --backend $be wrote no metrics: $(cat "$tmp/live-$be.log")"; rc=1; continue
    fi
    if [ "${td_drops:-0}" != 0 ]; then
        echo "SKIPPED comparison for $be: tcpdump itself dropped $td_drops packets"
    elif out=$(/usr/bin/python3 "$src/tests/scripts/compare_live.py" --sample-tolerance-us "$tol" \
                   --exclude '^spanwatch_tcp_data_rtt_seconds' "$tmp/live-$be.prom" "$tmp/replay.prom"); then
        echo "ok   live --backend $be -w 2: $out from the replay of tcpdump's capture"
    else
        echo "FAIL: live --backend $be differs from the replay: $out"; rc=1
    fi
    busy=$(grep -c '^spanwatch_packets_total{worker="[01]"} [1-9]' "$tmp/live-$be.prom")
    [ "$busy" = 2 ] && echo "ok   live --backend $be: both workers saw packets" ||
        { echo "FAIL: live --backend $be: $busy of 2 workers saw packets"; grep packets_total "$tmp/live-$be.prom"; rc=1; }
    drops=$(awk '/^spanwatch_capture_drops_total/ {s += $NF} END {print s + 0}' "$tmp/live-$be.prom")
    [ "$drops" = 0 ] && echo "ok   live --backend $be: no capture drops" || { echo "FAIL: $be drops $drops"; rc=1; }
done
for rcode in 0 2 3 5; do
    n=$(tshark -r "$tmp/live.pcap" -Y "dns.flags.response == 1 && dns.flags.rcode == $rcode" 2>/dev/null | wc -l)
    [ "$n" -gt 0 ] || { echo "FAIL: no DNS responses with rcode $rcode in the capture"; rc=1; }
done
for code in 200 301 404 500 503; do
    n=$(tshark -r "$tmp/live.pcap" -Y "http.response.code == $code" 2>/dev/null | wc -l)
    [ "$n" -gt 0 ] || { echo "FAIL: no HTTP $code in the capture"; rc=1; }
done
if [ "$rc" != 0 ]; then
    # keep the evidence: the namespaces and $tmp go with the EXIT trap
    cp "$tmp/live.pcap" "/tmp/spanwatch-live-failed-$$.pcap" &&
        echo "kept the capture for analysis: /tmp/spanwatch-live-failed-$$.pcap"
fi
exit $rc
