#!/usr/bin/env bash
# direct_read.sh SPANWATCH SRCDIR — spanwatch reads classic pcap files itself
# (capture/pcap_file.c) and hands anything odd to libpcap. Both paths must
# agree: for every capture below, replayed directly and with
# SPANWATCH_LIBPCAP_READ=1 (libpcap only), the exit status, the error
# message and the whole exposition (but the scrape duration) are equal.
# Captures: tests/pcaps, the tcpdump corpus in ../shared/pcaps, and damaged
# copies made here of a test capture — cut inside a record header, cut
# inside a record's data, a record whose captured length exceeds the
# snapshot length, one that exceeds libpcap's maximum — in both byte orders
# and with nanosecond timestamps; and a D-Bus capture with 2 MiB and
# 600 KiB records.
#
# With workers (-w 3) a classic pcap file is read by every worker from a
# mapping (app/pool.c's shared reading) up to the first record that is not
# plainly well formed, and the rest through the dispatcher: the same
# captures with -w 3, shared reading against SPANWATCH_DISPATCH=1 (the
# dispatcher only), must give the same exit status, message and the whole
# exposition — per-worker series included (the same packets on the same
# worker) — and the same alert transitions (tests/configs/alerts.yaml).
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
. "$(dirname "$0")/check_lib.sh"

/usr/bin/python3 - "$src/tests/pcaps/http.pcap" "$tmp" <<'PY'
import struct, sys
src, out = sys.argv[1], sys.argv[2]
b = open(src, "rb").read()
magic = struct.unpack("<I", b[:4])[0]
assert magic == 0xa1b2c3d4, "http.pcap is a little-endian microsecond pcap"
hdr, recs, off = b[:24], [], 24
while off + 16 <= len(b):
    sec, usec, cl, ln = struct.unpack("<IIII", b[off:off + 16])
    recs.append((sec, usec, b[off + 16:off + 16 + cl], ln))
    off += 16 + cl

def write(name, recs, endian="<", nano=False, snap=262144, extra=b""):
    m = 0xa1b23c4d if nano else 0xa1b2c3d4
    with open("%s/%s" % (out, name), "wb") as f:
        f.write(struct.pack(endian + "IHHiIII", m, 2, 4, 0, 0, snap, 1))
        for sec, usec, data, ln in recs:
            f.write(struct.pack(endian + "IIII", sec, usec * 1000 if nano else usec, len(data), ln) + data)
        f.write(extra)

write("le.pcap", recs)
write("be.pcap", recs, ">")
write("nano.pcap", recs, nano=True)
write("be-nano.pcap", recs, ">", nano=True)
whole = open("%s/le.pcap" % out, "rb").read()
open("%s/cut-header.pcap" % out, "wb").write(whole[:24 + 16 * 3 + sum(len(r[2]) for r in recs[:3]) + 7])
open("%s/cut-data.pcap" % out, "wb").write(whole[:24 + 16 * 4 + sum(len(r[2]) for r in recs[:3]) + 5])
write("over-snap.pcap", recs[:5] + [(recs[5][0], recs[5][1], recs[5][2] + bytes(200), recs[5][3] + 200)] + recs[6:], snap=len(max((r[2] for r in recs), key=len)) + 10)
bad = struct.pack("<IIII", recs[0][0], 0, 0x7fffffff, 0x7fffffff)
write("over-max.pcap", recs[:10], extra=bad + bytes(64))
# D-Bus (link type 231): libpcap allows 128 MiB records; one of 2 MiB
# between small ones (spanwatch's readers leave records over 512 KiB to
# libpcap, which skips those over 1 MiB)
with open("%s/dbus-big.pcap" % out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 128 << 20, 231))
    for i, n in enumerate((100, 2 << 20, 100, 600 << 10, 100)):
        f.write(struct.pack("<IIII", 1700000000 + i, 0, n, n) + bytes(n))
PY

files=("$src"/tests/pcaps/*.pcap "$src"/tests/data/demo.pcap "$tmp"/*.pcap)
if [ -d "$src/../shared/pcaps" ]; then
    while IFS= read -r f; do files+=("$f"); done < <(find "$src/../shared/pcaps" -type f \( -name '*.pcap' -o -name '*.cap' \) | sort | head -100)
fi
# both FILE NAME_A NAME_B ENV_B [ARGS...] — one replay as is, one with the
# environment setting ENV_B; exit status, messages, exposition (but the
# scrape duration) and alert transitions must be equal
both() {
    local f=$1 na=$2 nb=$3 envb=$4 ra rb
    shift 4
    "$sw" -q -r "$f" "$@" --metrics-out "$tmp/a.prom" --alerts-out "$tmp/a.alerts" \
        > /dev/null 2> "$tmp/a.err"
    ra=$?
    env "$envb" "$sw" -q -r "$f" "$@" --metrics-out "$tmp/b.prom" --alerts-out "$tmp/b.alerts" \
        > /dev/null 2> "$tmp/b.err"
    rb=$?
    grep -v '^spanwatch_scrape_duration' "$tmp/a.prom" > "$tmp/a" 2>/dev/null
    grep -v '^spanwatch_scrape_duration' "$tmp/b.prom" > "$tmp/b" 2>/dev/null
    if [ "$ra" = "$rb" ] && cmp -s "$tmp/a.err" "$tmp/b.err" && cmp -s "$tmp/a" "$tmp/b" &&
       cmp -s "$tmp/a.alerts" "$tmp/b.alerts"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL ${f#$src/} $*: $na exit $ra, $nb exit $rb"
        diff "$tmp/a.err" "$tmp/b.err" | head -4
        diff "$tmp/a" "$tmp/b" | head -6
        diff "$tmp/a.alerts" "$tmp/b.alerts" | head -4
    fi
    rm -f "$tmp"/[ab].prom "$tmp"/[ab] "$tmp"/[ab].alerts
}
for f in "${files[@]}"; do
    both "$f" direct libpcap SPANWATCH_LIBPCAP_READ=1
    both "$f" "shared reading" dispatcher SPANWATCH_DISPATCH=1 -w 3 \
        -c "$src/tests/configs/alerts.yaml"
done
finish
