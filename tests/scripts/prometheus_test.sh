#!/usr/bin/env bash
# prometheus_test.sh SPANWATCH SRCDIR — the endpoint as Prometheus sees it.
#
# Topology from netns_lib.sh (real nginx + unbound in one namespace). In the
# client namespace two spanwatch processes capture the client veth live:
# one plain on 127.0.0.1:9560, one with --web.config.file (TLS + bcrypt basic
# auth) on 127.0.0.1:9561. A real Prometheus in the same namespace scrapes
# both every second. After bounded dig/curl traffic the test asks
# Prometheus's HTTP API for spanwatch_dns_queries_total (must equal the
# number of queries dig sent), for
#   histogram_quantile(0.99, sum by (le) (rate(spanwatch_http_latency_seconds_bucket[1m])))
# (a finite latency), and up == 1 for both jobs (the TLS one proves the
# scrape over TLS with auth). curl checks 401 without / with wrong
# credentials, 200 with them, and that plain HTTP to the TLS port fails.
# web_abuse.py then attacks the plain endpoint (idle connections,
# slowloris, 1 MB request line and body) and checks scrapes still work.
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
tmp_prefix=spanwatch-prom
netns_tools="prometheus openssl"
. "$(dirname "$0")/netns_lib.sh"

# --- TLS material and a bcrypt user ------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null ||
    { echo "FAIL: openssl"; exit 1; }
hash=$(/usr/bin/python3 -W ignore -c 'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))')
cat > "$tmp/web.yml" <<CONF
tls_server_config:
  cert_file: tls.crt
  key_file: tls.key
basic_auth_users:
  prom: '$hash'
CONF

# --- spanwatch x2, live on the client veth ------------------------------------
ip netns exec "$ns_c" "$sw" -q -i "$if_c" --web.listen-address 127.0.0.1:9560 \
    >"$tmp/sw1.log" 2>&1 &
sw1=$!
pids+=($sw1)
ip netns exec "$ns_c" "$sw" -q -i "$if_c" --web.listen-address 127.0.0.1:9561 \
    --web.config.file "$tmp/web.yml" >"$tmp/sw2.log" 2>&1 &
pids+=($!)

# --- Prometheus ------------------------------------------------------------------
echo -n s3cret > "$tmp/password"
cat > "$tmp/prometheus.yml" <<CONF
global: { scrape_interval: 1s, scrape_timeout: 900ms }
scrape_configs:
  - job_name: spanwatch
    static_configs: [ { targets: ['127.0.0.1:9560'] } ]
  - job_name: spanwatch-tls
    scheme: https
    tls_config: { ca_file: $tmp/tls.crt }
    basic_auth: { username: prom, password_file: $tmp/password }
    static_configs: [ { targets: ['127.0.0.1:9561'] } ]
CONF
promtool check config "$tmp/prometheus.yml" >/dev/null 2>&1 && ok "promtool check config" ||
    bad "promtool check config"
ip netns exec "$ns_c" prometheus --config.file "$tmp/prometheus.yml" \
    --storage.tsdb.path "$tmp/tsdb" --web.listen-address 127.0.0.1:9090 \
    >"$tmp/prometheus.log" 2>&1 &
pids+=($!)

q() { # PromQL -> the first result's value, or "none"
    C curl -s --max-time 3 --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query |
        /usr/bin/python3 -c 'import json,sys
r=json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")' 2>/dev/null || echo none
}
for _ in $(seq 100); do
    [ "$(q 'up{job="spanwatch"}')" = 1 ] && [ "$(q 'up{job="spanwatch-tls"}')" = 1 ] && break
    sleep 0.2
done

# --- curl against the TLS + auth endpoint ------------------------------------
code() { C curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
[ "$(code --cacert "$tmp/tls.crt" https://127.0.0.1:9561/metrics)" = 401 ] &&
    ok "TLS endpoint without credentials: 401" || bad "TLS endpoint without credentials"
[ "$(code --cacert "$tmp/tls.crt" -u prom:wrong https://127.0.0.1:9561/metrics)" = 401 ] &&
    ok "TLS endpoint with a wrong password: 401" || bad "TLS endpoint with a wrong password"
[ "$(code --cacert "$tmp/tls.crt" -u prom:s3cret https://127.0.0.1:9561/metrics)" = 200 ] &&
    ok "TLS endpoint with credentials: 200" || bad "TLS endpoint with credentials"
[ "$(code --cacert "$tmp/tls.crt" -u prom:s3cret https://127.0.0.1:9561/-/healthy)" = 200 ] &&
    ok "TLS /-/healthy with credentials: 200" || bad "TLS /-/healthy"
[ "$(code http://127.0.0.1:9561/metrics)" != 200 ] && ok "plain HTTP to the TLS port refused" ||
    bad "plain HTTP to the TLS port answered"
[ "$(code http://127.0.0.1:9560/-/ready)" = 200 ] && ok "/-/ready: 200" || bad "/-/ready"
[ "$(code http://127.0.0.1:9560/nope)" = 404 ] && ok "unknown path: 404" || bad "unknown path"
[ "$(code -X POST http://127.0.0.1:9560/metrics)" = 405 ] && ok "POST /metrics: 405" || bad "POST /metrics"
[ "$(code -X POST http://127.0.0.1:9560/-/reload)" = 200 ] && ok "POST /-/reload: 200" || bad "/-/reload"
gz=$(C curl -s --max-time 3 -H 'Accept-Encoding: gzip' -D - -o "$tmp/m.gz" http://127.0.0.1:9560/metrics)
if echo "$gz" | grep -qi '^content-encoding: gzip' && gunzip -c "$tmp/m.gz" | grep -q '^spanwatch_build_info'; then
    ok "gzip exposition"
else
    bad "gzip exposition"
fi
C curl -s --max-time 3 http://127.0.0.1:9560/metrics > "$tmp/m.txt"
promtool check metrics < "$tmp/m.txt" >/dev/null 2>"$tmp/promtool.err" && ok "promtool check metrics (live endpoint)" ||
    { bad "promtool check metrics"; head -5 "$tmp/promtool.err"; }

# --- traffic: known number of DNS queries, some HTTP -----------------------------
queries=0
end=$((SECONDS + 6))
while [ $SECONDS -lt $end ] && [ $queries -lt 200 ]; do
    for name in www.example.test nosuch.example.test; do
        C dig +time=1 +tries=1 @10.77.0.1 "$name" >/dev/null && true
        queries=$((queries + 1))
    done
    C curl -s --max-time 2 -o /dev/null http://10.77.0.1/ -o /dev/null http://10.77.0.1/missing
done
sleep 2.5   # two more scrapes
got=$(q 'sum(spanwatch_dns_queries_total{job="spanwatch",server="10.77.0.1:53"})')
[ "$got" = "$queries" ] && ok "Prometheus: spanwatch_dns_queries_total = $got (dig sent $queries)" ||
    bad "Prometheus: spanwatch_dns_queries_total = $got, dig sent $queries"
got=$(q 'sum(spanwatch_dns_queries_total{job="spanwatch-tls",server="10.77.0.1:53"})')
[ "$got" = "$queries" ] && ok "Prometheus over TLS + auth: spanwatch_dns_queries_total = $got" ||
    bad "Prometheus over TLS + auth: spanwatch_dns_queries_total = $got, dig sent $queries"
p99=$(q 'histogram_quantile(0.99, sum by (le) (rate(spanwatch_http_latency_seconds_bucket{job="spanwatch"}[1m])))')
if /usr/bin/python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if 0 < v < 1 else 1)" "$p99" 2>/dev/null; then
    ok "Prometheus: HTTP p99 over 1m = ${p99}s"
else
    bad "Prometheus: HTTP p99 = $p99"
fi

# --- abuse ---------------------------------------------------------------------------
C /usr/bin/python3 "$src/tests/scripts/web_abuse.py" 127.0.0.1 9560 127.0.0.2 && ok "abuse: endpoint kept serving" ||
    bad "abuse"
kill -0 "$sw1" 2>/dev/null && ok "spanwatch still running" || bad "spanwatch died"
[ "$(q 'up{job="spanwatch"}')" = 1 ] && ok "Prometheus still scraping (up == 1)" || bad "up != 1 after abuse"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
