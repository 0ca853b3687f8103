#!/usr/bin/env bash
# man_check.sh SPANWATCH SRCDIR — the man page renders without groff
# warnings, and documents every option `spanwatch --help` lists (so the two
# cannot drift apart).
set -u
sw=$1
man=$2/doc/spanwatch.1
pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
command -v man >/dev/null || { echo "SKIP: man not installed"; exit 77; }
warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$man" 2>&1 >/dev/null)
[ -z "$warn" ] && ok "man -l renders without warnings" || bad "man -l warnings: $warn"
text=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$man" 2>/dev/null)
for s in NAME SYNOPSIS DESCRIPTION OPTIONS CONFIGURATION METRICS SIGNALS "EXIT STATUS" FILES EXAMPLES; do
    grep -q "^$s" <<<"$text" && ok "section $s" || bad "no section $s"
done
opts=$("$sw" --help | grep -oE -- '--[a-z][a-z.-]+' | sort -u)
[ "$(wc -l <<<"$opts")" -ge 15 ] && ok "$(wc -l <<<"$opts") long options in --help" || bad "too few options parsed from --help"
for o in $opts; do
    grep -qF -- "$o" <<<"$text" && ok "man page documents $o" || bad "man page lacks $o (listed by --help)"
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
