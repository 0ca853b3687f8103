#!/usr/bin/env bash
# web_paths.sh SPANWATCH SRCDIR — the HTTP endpoint serves four exact paths
# and nothing else, and with basic auth configured denies everything
# without the password (no root needed: loopback only).
#   - path tricks get 404 and never file contents: ../ and %2e%2e
#     traversal (sent as is), /metrics/.., //metrics, encoded slashes; a
#     query string is ignored; an encoded NUL never reaches a file;
#   - wrong methods get 405 with Allow; GET /-/reload does not reload;
#   - a 2 MiB request body gets 413 (limit 64 KiB) and the server goes on;
#   - with basic auth: /metrics, /-/healthy, /-/ready, / and POST /-/reload
#     are 401 without credentials and with a wrong password, and answer
#     with the right one.
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
. "$(dirname "$0")/check_lib.sh"
port=$((19900 + RANDOM % 90))
code() { curl -s --path-as-is -o "$tmp/body" -w '%{http_code}' "$@"; }

start() { # extra args...
    "$sw" -q -r "$src/tests/data/demo.pcap" --linger --web.listen-address "127.0.0.1:$port" "$@" 2> "$tmp/err" &
    pid=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
}
stop() { kill "$pid"; wait "$pid"; pid=; }

start
u=http://127.0.0.1:$port
for p in "/../../../../etc/passwd" "/%2e%2e/%2e%2e/etc/passwd" "/metrics/../../etc/passwd" "//metrics" \
         "/metrics/" "/-/healthy/../../etc/shadow" "/etc/passwd" "/%2fetc%2fpasswd"; do
    c=$(code "$u$p")
    if [ "$c" = 404 ] && ! grep -q 'root:' "$tmp/body"; then ok "GET $p: 404"; else bad "GET $p: $c $(head -c 80 "$tmp/body")"; fi
done
# libmicrohttpd decodes %00 into the path, which then reads as "/metrics":
# the metrics, never anything else
c=$(code "$u/metrics%00/../../etc/passwd")
[ "$c" = 404 ] || { [ "$c" = 200 ] && grep -q '^spanwatch_build_info' "$tmp/body"; } &&
    ok "GET /metrics%00/../../etc/passwd: $c, no file" || bad "GET /metrics%00...: $c"
c=$(code "$u/metrics?x=../../etc/passwd")
[ "$c" = 200 ] && grep -q '^spanwatch_build_info' "$tmp/body" && ok "GET /metrics?query: the metrics (query ignored)" || bad "/metrics?query: $c"
c=$(code -X POST "$u/metrics"); [ "$c" = 405 ] && ok "POST /metrics: 405" || bad "POST /metrics: $c"
c=$(code -X DELETE "$u/"); [ "$c" = 405 ] && ok "DELETE /: 405" || bad "DELETE /: $c"
c=$(code "$u/-/reload"); [ "$c" = 405 ] && ok "GET /-/reload: 405 (no reload)" || bad "GET /-/reload: $c"
head -c $((2 << 20)) /dev/zero > "$tmp/big"
c=$(code -X POST --data-binary @"$tmp/big" "$u/-/reload"); [ "$c" = 413 ] && ok "POST /-/reload with a 2 MiB body: 413" || bad "2 MiB body: $c"
c=$(code "$u/-/healthy"); [ "$c" = 200 ] && ok "still serving after that: /-/healthy 200" || bad "after the big body: $c"
stop

hash=$(/usr/bin/python3 -W ignore -c 'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))')
printf 'basic_auth_users:\n  ops: %s\n' "$hash" > "$tmp/web.yml"
start --web.config.file "$tmp/web.yml"
# (/-/ready: the replay is over, so 503 "capture has ended" once authorised)
for m in "GET /metrics 200" "GET /-/healthy 200" "GET /-/ready 503" "GET / 200" "POST /-/reload 200"; do
    set -- $m
    a=$(code -X "$1" "$u$2")
    b=$(code -X "$1" -u ops:wrong "$u$2")
    g=$(code -X "$1" -u ops:s3cret "$u$2")
    [ "$a" = 401 ] && [ "$b" = 401 ] && [ "$g" = "$3" ] && ok "auth: $m: 401 without, 401 wrong password, 200 with" ||
        bad "auth: $m: no credentials $a, wrong password $b, right password $g"
done
stop
finish
