#!/usr/bin/env bash
# privdrop_test.sh SPANWATCH SRCDIR — --user: after opening capture, the
# endpoint and the output files, spanwatch runs as that user with no
# capabilities, and keeps working (root; skipped otherwise).
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
tmp=$(mktemp -d)   # mode 700, owned by root: nobody could not create files here
port=$((19800 + RANDOM % 100))
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

for be in pcap afpacket; do
    "$sw" -q --backend "$be" -w 2 -i lo --user nobody --web.listen-address "127.0.0.1:$port" \
        --metrics-out "$tmp/live-$be.prom" 2> "$tmp/err" &
    pid=$!
    for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/-/healthy" && break; sleep 0.1; done
    uid=$(awk '/^Uid:/ {print $2 "/" $3 "/" $4 "/" $5}' "/proc/$pid/status")
    caps=$(awk '/^Cap(Eff|Prm|Inh|Amb):/ {printf "%s=%s ", $1, $2}' "/proc/$pid/status")
    groups=$(awk '/^Groups:/ {print NF - 1}' "/proc/$pid/status")
    nu=$(id -u nobody)
    [ "$uid" = "$nu/$nu/$nu/$nu" ] && ok "$be: real, effective, saved and fs uid are nobody ($nu)" || bad "$be: uids $uid"
    nonzero=$(awk '/^Cap(Eff|Prm|Inh|Amb):/ && $2 !~ /^0+$/' "/proc/$pid/status")
    [ -z "$nonzero" ] && ok "$be: no capabilities ($caps)" || bad "$be: capabilities left: $nonzero"
    [ "$groups" = 0 ] && ok "$be: no supplementary groups" || bad "$be: $groups supplementary groups"
    curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^spanwatch_packets_total{worker="1"}' &&
        ok "$be: /metrics still served" || bad "$be: /metrics not served"
    kill "$pid"; wait "$pid"; rc=$?; pid=
    [ "$rc" = 0 ] && ok "$be: exit 0 on SIGTERM" || bad "$be: exit $rc: $(cat "$tmp/err")"
    grep -q '^spanwatch_build_info' "$tmp/live-$be.prom" 2>/dev/null &&
        ok "$be: --metrics-out written in a root-only directory" || bad "$be: no --metrics-out"
done
# the default for live capture started as root: nobody, no capabilities
"$sw" -i lo --web.listen-address none 2> "$tmp/err" &
pid=$!
for _ in $(seq 50); do grep -q 'running as' "$tmp/err" && break; sleep 0.1; done
uid=$(awk '/^Uid:/ {print $3}' "/proc/$pid/status")
nonzero=$(awk '/^Cap(Eff|Prm|Inh|Amb):/ && $2 !~ /^0+$/' "/proc/$pid/status")
nnp=$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$pid/status")
kill "$pid"; wait "$pid"; pid=
[ "$uid" = "$(id -u nobody)" ] && [ -z "$nonzero" ] && [ "$nnp" = 1 ] &&
    ok "no --user: live capture runs as nobody, no capabilities, no_new_privs" ||
    bad "no --user: uid $uid, capabilities '$nonzero', NoNewPrivs $nnp: $(cat "$tmp/err")"
"$sw" -i lo --user root --web.listen-address none 2> "$tmp/err" &
pid=$!
for _ in $(seq 50); do grep -q 'running as' "$tmp/err" && break; sleep 0.1; done
uid=$(awk '/^Uid:/ {print $3}' "/proc/$pid/status")
kill "$pid"; wait "$pid"; pid=
[ "$uid" = 0 ] && ok "--user root: stays root" || bad "--user root: uid $uid"
"$sw" -q -r "$src/tests/data/demo.pcap" --user nosuchuser-xyz; rc=$?
[ "$rc" = 1 ] && ok "--user with an unknown user: exit 1" || bad "unknown user: exit $rc"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
