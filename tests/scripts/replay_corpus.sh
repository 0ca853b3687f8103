#!/usr/bin/env bash
# replay_corpus.sh SPANWATCH DIR — replay every capture in DIR (the tcpdump
# project's regression captures, many fuzzer-made and malformed).
#
# Passes when, for every file: spanwatch exits 0 (or 1 with a message naming
# the file, for a file libpcap cannot open — then tcpdump must refuse it too),
# finishes within 20 s, and prints no AddressSanitizer/UBSan report. Run it
# with the sanitizer build to make the last check meaningful.
set -u
sw=$1
dir=$2
if [ ! -d "$dir" ]; then
    echo "corpus directory $dir not found: skipping"
    exit 77
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

one() {
    f=$1
    log=$out/$(basename "$f").log
    timeout 20 "$sw" -q -r "$f" --metrics-out /dev/null >"$log" 2>&1
    rc=$?
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$log"; then
        echo "FAIL $f: sanitizer report"; sed -n 1,30p "$log"; return
    fi
    case $rc in
        0) echo "ok $f" ;;
        1) if ! grep -qF "$f" "$log"; then echo "FAIL $f: exit 1 without naming the file"
           elif timeout 20 tcpdump -nr "$f" >/dev/null 2>&1; then
               echo "FAIL $f: exit 1 but tcpdump reads it: $(head -1 "$log")"
           else echo "ok $f (unreadable, refused cleanly)"; fi ;;
        124) echo "FAIL $f: timed out" ;;
        *) echo "FAIL $f: exit $rc"; sed -n 1,30p "$log" ;;
    esac
}
export -f one
export sw out
find "$dir" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 \
    | sort -z | xargs -0 -n 1 -P "$(nproc)" bash -c 'one "$0"' > "$out/results"
n=$(wc -l < "$out/results")
bad=$(grep -c '^FAIL' "$out/results")
grep '^FAIL' -A30 "$out/results" | head -100
echo "corpus: $n files replayed, $((n - bad)) clean, $bad failed"
[ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
