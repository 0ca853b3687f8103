#!/usr/bin/env bash
# package_test.sh SRCDIR — scripts/package-deb builds a .deb that installs:
# dpkg installs it into an empty root of its own (dpkg --root, so the test
# machine's /usr is not touched), and the installed binary runs
# (--version matches the package version), the man page renders, the
# example config is a registered conffile and passes --check-config, and
# every package in Depends is one the host has installed (scripts/setup).
set -u
src=$(readlink -f "$1")
. "$(dirname "$0")/check_lib.sh"
command -v dpkg-deb >/dev/null || { echo "SKIP: no dpkg-deb"; exit 77; }

deb=$("$src/scripts/package-deb" "$tmp/out" 2> "$tmp/err") || { bad "package-deb: $(tail -3 "$tmp/err")"; finish; exit 1; }
[ -f "$deb" ] && ok "built $(basename "$deb") ($(stat -c %s "$deb") bytes)" || bad "no .deb"
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: > "$root/var/lib/dpkg/status"
: > "$root/var/lib/dpkg/available"
# the empty root has none of the libraries: dependencies are checked below
# against the host instead
if dpkg --root="$root" --force-depends --force-not-root -i "$deb" > "$tmp/dpkg.log" 2>&1; then
    ok "dpkg -i into an empty root"
else
    bad "dpkg -i: $(tail -5 "$tmp/dpkg.log")"
fi
st=$(dpkg --root="$root" -s spanwatch 2>/dev/null | awk '/^Status:/ {print $2, $3, $4}')
[ "$st" = "install ok installed" ] && ok "dpkg reports spanwatch installed" || bad "dpkg status: '$st'"
for f in usr/bin/spanwatch usr/share/man/man1/spanwatch.1.gz usr/lib/systemd/system/spanwatch.service \
         etc/spanwatch/spanwatch.yaml usr/share/doc/spanwatch/examples/grafana-dashboard.json; do
    [ -f "$root/$f" ] && ok "installed /$f" || bad "missing /$f"
done
moddir=$(ls -d "$root"/usr/lib/*/spanwatch 2>/dev/null | head -1)
for m in bpf dpdk alertmanager; do
    [ -f "$moddir/spanwatch-$m.so" ] && ok "installed module ${moddir#$root}/spanwatch-$m.so" ||
        bad "missing module spanwatch-$m.so in /usr/lib/<arch>/spanwatch"
done
# the installed binary loads its module from the package (not from a build tree)
printf 'alertmanager:\n  url: http://127.0.0.1:9/\n' > "$tmp/am.yaml"
out=$(SPANWATCH_MODULE_DIR=$moddir "$root/usr/bin/spanwatch" -q -r "$src/tests/data/demo.pcap" \
          -c "$tmp/am.yaml" --metrics-out - 2>&1)
grep -q '^spanwatch_alertmanager_posts_total' <<<"$out" && ! grep -q 'module' <<<"$out" &&
    ok "installed binary loads the installed Alertmanager module" ||
    bad "installed Alertmanager module: $(grep -m3 -E 'module|error' <<<"$out")"
pv=$(dpkg-deb -f "$deb" Version)
v=$("$root/usr/bin/spanwatch" --version 2>&1)
grep -q "^spanwatch $pv " <<<"$v" && ok "installed binary runs: $v" || bad "installed binary: '$v' (package $pv)"
"$root/usr/bin/spanwatch" --check-config "$root/etc/spanwatch/spanwatch.yaml" >/dev/null 2>&1 &&
    ok "installed /etc/spanwatch/spanwatch.yaml is valid" || bad "installed config rejected"
dpkg --root="$root" -s spanwatch | grep -q '^Conffiles:' && ok "the config is a conffile" || bad "no conffiles"
if command -v man >/dev/null; then
    LC_ALL=C.UTF-8 man -l "$root/usr/share/man/man1/spanwatch.1.gz" 2>/dev/null | grep -q '^SYNOPSIS' &&
        ok "installed man page renders" || bad "installed man page does not render"
fi
missing=""
for d in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | awk '{print $1}'); do
    dpkg -s "$d" >/dev/null 2>&1 || missing="$missing $d"
done
[ -z "$missing" ] && ok "every dependency ($(dpkg-deb -f "$deb" Depends | tr ',' '\n' | wc -l)) is a package the host has" ||
    bad "dependencies not installed on the host:$missing"
finish
