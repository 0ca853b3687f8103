#!/usr/bin/env bash
# drops_test.sh SPANWATCH SRCDIR — capture overload is counted, not hidden
# (root; skipped otherwise).
#
# A veth pair dA -> dB in a namespace; spanwatch captures dB with a small
# buffer (--buffer-size 1: 1 MiB for libpcap, the 4 MiB minimum ring for
# AF_PACKET) while tcpreplay --topspeed sends a 200,000-packet mix into dA.
# spanwatch is stopped (SIGSTOP) for the burst and continued after it, so
# the buffer must overflow — deterministically, whatever the machine's
# speed. Then, per back end (afpacket, pcap) with 1 and 2 workers:
#   packets spanwatch counted + drops it reported + frames the veth itself
#   dropped before dB (dA's tx_dropped, which no capture on dB can see)
#   == packets tcpreplay sent,
# and the drops reported are > 0 (the overload really happened).
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
ns=swdrop$$
. "$(dirname "$0")/check_lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v tcpreplay >/dev/null || { echo "SKIP: tcpreplay not installed (scripts/setup installs it)"; exit 77; }
N() { ip netns exec "$ns" "$@"; }

"$src/scripts/gen-bench-pcap" mix "$tmp/burst.pcap" 200000 || { echo "FAIL: generate"; exit 1; }
veth_ns dA dB || { echo "FAIL: netns"; exit 1; }
stat() { N cat "/sys/class/net/$1/statistics/$2"; }

for run in afpacket:1 pcap:1 afpacket:2 pcap:2; do
    be=${run%:*} w=${run#*:}
    txd0=$(stat dA tx_dropped)
    ip netns exec "$ns" "$sw" -i dB --backend "$be" -w "$w" --buffer-size 1 \
        --web.listen-address none --metrics-out "$tmp/$be.prom" 2> "$tmp/$be.err" &
    pid=$!
    for _ in $(seq 100); do grep -q 'capturing on' "$tmp/$be.err" && break; sleep 0.1; done
    sleep 0.3
    kill -STOP "$pid"
    N timeout 120 tcpreplay --topspeed -i dA "$tmp/burst.pcap" > "$tmp/replay.out" 2>&1
    kill -CONT "$pid"
    # frames over the veth's MTU are not sent: tcpreplay counts what was
    sent=$(awk '/Successful packets:/ {print $3}' "$tmp/replay.out")
    # let spanwatch drain what is in its buffer, then stop it
    sleep 2
    kill "$pid"; wait "$pid"; rc=$?; pid=
    [ "$rc" = 0 ] || bad "$be -w $w: exit $rc: $(tail -2 "$tmp/$be.err")"
    txd=$(( $(stat dA tx_dropped) - txd0 ))
    got=$(awk '/^spanwatch_packets_total\{/ {s += $NF} END {print s + 0}' "$tmp/$be.prom")
    drops=$(awk '/^spanwatch_capture_drops_total\{/ {s += $NF} END {print s + 0}' "$tmp/$be.prom")
    [ -n "$sent" ] || { bad "$be -w $w: tcpreplay: $(tail -3 "$tmp/replay.out")"; continue; }
    if [ $((got + drops + txd)) = "$sent" ]; then
        ok "$be -w $w: sent $sent = counted $got + reported drops $drops + veth drops $txd"
    else
        bad "$be -w $w: sent $sent != counted $got + reported drops $drops + veth drops $txd (off by $((sent - got - drops - txd)))"
    fi
    [ "$drops" -gt 0 ] && ok "$be -w $w: the overload was reported ($drops drops, $(awk -v d="$drops" -v s="$sent" 'BEGIN {printf "%.1f", 100 * d / s}')% of the burst)" ||
        bad "$be -w $w: no drops reported although the buffer was overrun? (sent $sent, counted $got)"
done
finish
