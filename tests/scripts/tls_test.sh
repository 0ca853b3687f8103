#!/bin/bash
# tls_test.sh SPANWATCH SRCDIR — HTTPS without keys, on real traffic (root;
# skipped otherwise). The namespaces of netns_lib.sh, plus a second nginx
# with TLS in the server namespace (a certificate made here with a known
# notAfter):
#   443  www.example.test, TLS 1.2 and 1.3, session tickets on; any other
#        SNI is refused (ssl_reject_handshake: alert unrecognized_name)
#   8443 the same site, session tickets and the session cache off
#   9443 TLS 1.2 with one ECDHE-ECDSA cipher only (a client offering others
#        gets alert handshake_failure)
#   7443 a listener that accepts and never answers (handshake timeout)
# curl (--tls-max 1.2, --tlsv1.3; one and several requests per connection,
# its TLS secrets in SSLKEYLOGFILE) and tls_client.py (a ClientHello then RST;
# a ClientHello then silence) make the traffic. tcpdump and spanwatch
# (AF_PACKET, 2 workers) capture it live on the client side; then
# tls_check.py compares a replay of tcpdump's capture with tshark's dissection
# of it (the response times with tshark decrypting it with the key log), and
# compare_live.py the live run with the replay.
sw=$1
src=$2
netns_tools="tcpdump tshark openssl"
tmp_prefix=spanwatch-tls
. "$src/tests/scripts/netns_lib.sh"

# --- certificate: EC P-256, 30 days ---------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -keyout "$tmp/tls.key" -out "$tmp/tls.crt" -subj /CN=www.example.test \
    -addext subjectAltName=DNS:www.example.test 2>"$tmp/openssl.log" ||
    { echo "FAIL: openssl req: $(cat "$tmp/openssl.log")"; exit 1; }
not_after=$(date -u -d "$(openssl x509 -in "$tmp/tls.crt" -noout -enddate | cut -d= -f2)" +%s)
cat > "$tmp/nginx-tls.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx-tls.pid;
error_log $tmp/nginx-tls-error.log;
user nobody nogroup;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/cb2; proxy_temp_path $tmp/pt2; fastcgi_temp_path $tmp/ft2;
    uwsgi_temp_path $tmp/ut2; scgi_temp_path $tmp/st2;
    keepalive_timeout 30;
    ssl_certificate $tmp/tls.crt;
    ssl_certificate_key $tmp/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3; # what the default server accepts is what port 443 accepts
    server { listen 10.77.0.1:443 ssl default_server; ssl_reject_handshake on; }
    server {
        listen 10.77.0.1:443 ssl; server_name www.example.test; root $tmp/www;
        ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets on;
    }
    server {
        listen 10.77.0.1:8443 ssl; server_name www.example.test; root $tmp/www;
        ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets off; ssl_session_cache off;
    }
    server {
        listen 10.77.0.1:9443 ssl; server_name _; root $tmp/www;
        ssl_protocols TLSv1.2; ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256;
    }
}
CONF
ip netns exec "$ns_s" nginx -c "$tmp/nginx-tls.conf" -p "$tmp" >"$tmp/nginx-tls.out" 2>&1 &
pids+=($!)
ip netns exec "$ns_s" /usr/bin/python3 "$src/tests/scripts/tls_hold_server.py" 10.77.0.1 7443 &
pids+=($!)
for _ in $(seq 100); do
    C curl -sk -o /dev/null --max-time 1 --resolve www.example.test:443:10.77.0.1 \
        https://www.example.test/ && break
    sleep 0.1
done

cat > "$tmp/tls.yaml" <<CONF
limits:
  tls_handshake_timeout: 1s
servers:
  - name: www
    match: { sni: www.example.test }
CONF

ip netns exec "$ns_c" tcpdump -Z root -i "$if_c" -U -s 0 -B 65536 --immediate-mode \
    --time-stamp-precision=nano -w "$tmp/tls.pcap" >/dev/null 2>"$tmp/tcpdump.log" &
tcpdump_pid=$!
pids+=($tcpdump_pid)
for _ in $(seq 50); do grep -q "listening on" "$tmp/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
ip netns exec "$ns_c" "$sw" --backend afpacket -w 2 -i "$if_c" -c "$tmp/tls.yaml" \
    --web.listen-address none --metrics-out "$tmp/live.prom" 2> "$tmp/live.log" &
live_pid=$!
pids+=($live_pid)
for _ in $(seq 150); do grep -q 'capturing on' "$tmp/live.log" && break; sleep 0.1; done
# a second tcpdump after spanwatch: the spread of the two tells how far apart
# two sockets' stamps of a locally sent TCP segment may be (stamp_spread.py;
# as in live_netns.sh), which bounds the live-vs-replay comparison
ip netns exec "$ns_c" tcpdump -Z root -i "$if_c" -U -s 0 -B 65536 --immediate-mode \
    --time-stamp-precision=nano -w "$tmp/tls2.pcap" >/dev/null 2>"$tmp/tcpdump2.log" &
tcpdump2_pid=$!
pids+=($tcpdump2_pid)
for _ in $(seq 50); do grep -q "listening on" "$tmp/tcpdump2.log" 2>/dev/null && break; sleep 0.1; done

# --- traffic ----------------------------------------------------------------
export SSLKEYLOGFILE=$tmp/keys.log
www=https://www.example.test
for port in 443 8443; do
    for v in "--tls-max 1.2" "--tlsv1.3 --tls-max 1.3"; do
        for _ in 1 2 3; do
            C curl -sk $v --max-time 5 --resolve "www.example.test:$port:10.77.0.1" \
                -o /dev/null "$www:$port/"
        done
        # one connection, four sequential requests
        C curl -sk $v --max-time 5 --resolve "www.example.test:$port:10.77.0.1" \
            -o /dev/null "$www:$port/" -o /dev/null "$www:$port/index.html" \
            -o /dev/null "$www:$port/missing" -o /dev/null "$www:$port/"
    done
done
# unknown names: refused in the handshake (unrecognized_name)
for v in "--tls-max 1.2" "--tlsv1.3"; do
    C curl -sk $v --max-time 5 --resolve nosuch.example.test:443:10.77.0.1 \
        -o /dev/null https://nosuch.example.test/ && echo "note: curl succeeded on an unknown name"
done
# no cipher in common (handshake_failure)
C curl -sk --tls-max 1.2 --ciphers AES256-SHA --max-time 5 -o /dev/null https://10.77.0.1:9443/ &&
    echo "note: curl succeeded without a common cipher"
# a ClientHello answered by RST from the client; one never answered
C /usr/bin/python3 "$src/tests/scripts/tls_client.py" rst 10.77.0.1 443 www.example.test
C /usr/bin/python3 "$src/tests/scripts/tls_client.py" hold 10.77.0.1 7443 hold.example.test 2
unset SSLKEYLOGFILE
sleep 1.5
kill -INT "$tcpdump_pid" "$tcpdump2_pid"
kill -INT "$live_pid"
for _ in $(seq 100); do kill -0 "$live_pid" 2>/dev/null || break; sleep 0.1; done

rc=0
/usr/bin/python3 "$src/tests/scripts/tls_check.py" "$sw" "$tmp/tls.pcap" "$tmp/tls.yaml" \
    "$tmp/keys.log" "$not_after" || rc=1
"$sw" -q -r "$tmp/tls.pcap" -c "$tmp/tls.yaml" --metrics-out "$tmp/replay.prom"
spread=$(/usr/bin/python3 "$src/tests/scripts/stamp_spread.py" "$tmp/tls.pcap" "$tmp/tls2.pcap" \
             10.77.0.1,fd77::1 "$tmp/tol") && echo "ok   two tcpdumps: $spread" ||
    { echo "FAIL two tcpdumps: $spread"; rc=1; }
tol=$(cat "$tmp/tol" 2>/dev/null || echo 2)
if [ ! -s "$tmp/live.prom" ]; then
    echo "FAIL: live spanwatch wrote no metrics: $(cat "$tmp/live.log")"; rc=1
elif out=$(/usr/bin/python3 "$src/tests/scripts/compare_live.py" --sample-tolerance-us "$tol" \
               --exclude '^spanwatch_tcp_data_rtt_seconds' "$tmp/live.prom" "$tmp/replay.prom"); then
    echo "ok   live AF_PACKET -w 2: $out from the replay of tcpdump's capture"
else
    echo "FAIL: live differs from the replay: $out"; rc=1
fi
if [ $rc != 0 ]; then
    cp "$tmp/tls.pcap" "/tmp/spanwatch-tls-failed-$$.pcap" && cp "$tmp/keys.log" "/tmp/spanwatch-tls-failed-$$.keys" &&
        echo "kept the capture and key log: /tmp/spanwatch-tls-failed-$$.{pcap,keys}"
fi
exit $rc
