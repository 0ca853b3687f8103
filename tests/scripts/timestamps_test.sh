#!/usr/bin/env bash
# timestamps_test.sh SPANWATCH SRCDIR — hostile capture files, made here
# from tests/pcaps/alerts.pcap (with its alert rules on):
#   jump.pcap  one packet 10 years ahead in the middle, the next an hour
#              back: the replay ends quickly (no timer stepping through 10
#              years of windows), exit 0, 1 capture/timestamp_jump, and
#              every later packet (stamped before the clock) counted as
#              capture/timestamp_backwards and, its alert window being
#              closed already, capture/late_for_window — numbers from the
#              construction;
#   cut.pcap   every 100th record zero-length, every 100th (offset 20) cut
#              to 20 bytes, the file ending inside a record: exit 0 with a
#              warning naming the truncation, packets = what capinfos reads,
#              ethernet/truncated and ipv4/truncated = the records cut so.
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
. "$(dirname "$0")/check_lib.sh"

read -r n mid zero cut < <(/usr/bin/python3 - "$src/tests/pcaps/alerts.pcap" "$tmp" <<'PY'
import struct, sys
src, out = sys.argv[1], sys.argv[2]
b = open(src, "rb").read()
hdr, off, recs = b[:24], 24, []
while off + 16 <= len(b):
    sec, us, cl, ln = struct.unpack("<IIII", b[off:off + 16])
    recs.append((sec, us, b[off + 16:off + 16 + cl], ln))
    off += 16 + cl
mid = len(recs) // 2
j = bytearray(hdr)
for i, (sec, us, d, ln) in enumerate(recs):
    s = sec + 10 * 365 * 86400 if i == mid else sec - 3600 if i == mid + 1 else sec
    j += struct.pack("<IIII", s, us, len(d), ln) + d
open(out + "/jump.pcap", "wb").write(j)
c, zero, cut = bytearray(hdr), 0, 0
for i, (sec, us, d, ln) in enumerate(recs):
    if i % 100 == 10:
        d, zero = b"", zero + 1
    elif i % 100 == 20:
        d, cut = d[:20], cut + 1
    c += struct.pack("<IIII", sec, us, len(d), ln) + d
open(out + "/cut.pcap", "wb").write(bytes(c[:-7]))  # the last record loses 7 bytes
print(len(recs), mid, zero, cut)
PY
)

start=$(date +%s%N)
timeout 30 "$sw" -q -r "$tmp/jump.pcap" -c "$src/tests/configs/alerts.yaml" --alerts-out /dev/null \
    --metrics-out "$tmp/jump.prom" 2> "$tmp/jump.err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" = 0 ] && [ "$ms" -lt 10000 ] && ok "jump.pcap: exit 0 in $ms ms (no stall)" || bad "jump.pcap: exit $rc after $ms ms: $(tail -2 "$tmp/jump.err")"
j=$(metric_value "$tmp/jump.prom" 'spanwatch_decode_errors_total{layer="capture",reason="timestamp_jump"}')
b=$(metric_value "$tmp/jump.prom" 'spanwatch_decode_errors_total{layer="capture",reason="timestamp_backwards"}')
p=$(awk '/^spanwatch_packets_total\{/ {s += $NF} END {print s + 0}' "$tmp/jump.prom")
[ "$j" = 1 ] && ok "jump.pcap: 1 timestamp_jump counted" || bad "jump.pcap: timestamp_jump $j, built with 1"
[ "$b" = $((n - mid - 1)) ] && ok "jump.pcap: $b packets behind the clock counted as timestamp_backwards" ||
    bad "jump.pcap: timestamp_backwards $b, built with $((n - mid - 1))"
[ "$p" = "$n" ] && ok "jump.pcap: all $n packets handled" || bad "jump.pcap: $p of $n packets handled"
# the jump closed every alert window up to ten years ahead: each later
# packet arrived after its window was evaluated (analysed, and counted late)
l=$(metric_value "$tmp/jump.prom" 'spanwatch_decode_errors_total{layer="capture",reason="late_for_window"}')
[ "$l" = $((n - mid - 1)) ] && ok "jump.pcap: $l packets after their window closed counted as late_for_window" ||
    bad "jump.pcap: late_for_window $l, built with $((n - mid - 1))"

"$sw" -q -r "$tmp/cut.pcap" --metrics-out "$tmp/cut.prom" 2> "$tmp/cut.err"
rc=$?
[ "$rc" = 0 ] && grep -q 'truncated dump file' "$tmp/cut.err" &&
    ok "cut.pcap: exit 0, warns: $(grep -o 'read error after [0-9]* packets: truncated dump file' "$tmp/cut.err")" ||
    bad "cut.pcap: exit $rc: $(cat "$tmp/cut.err")"
want=$(capinfos -M -c "$tmp/cut.pcap" 2>/dev/null | awk '/Number of packets/ {print $NF}')
p=$(awk '/^spanwatch_packets_total\{/ {s += $NF} END {print s + 0}' "$tmp/cut.prom")
[ -n "$want" ] && [ "$p" = "$want" ] && ok "cut.pcap: $p packets, as capinfos reads" || bad "cut.pcap: $p packets, capinfos $want"
e=$(metric_value "$tmp/cut.prom" 'spanwatch_decode_errors_total{layer="ethernet",reason="truncated"}')
i=$(metric_value "$tmp/cut.prom" 'spanwatch_decode_errors_total{layer="ipv4",reason="truncated"}')
[ "$e" = "$zero" ] && ok "cut.pcap: $e zero-length records counted as ethernet/truncated" || bad "cut.pcap: ethernet/truncated $e, built $zero"
[ "$i" = "$cut" ] && ok "cut.pcap: $i 20-byte records counted as ipv4/truncated" || bad "cut.pcap: ipv4/truncated $i, built $cut"
finish
