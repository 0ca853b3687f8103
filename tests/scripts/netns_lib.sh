# netns_lib.sh — sourced by the live tests. Builds two network namespaces
# joined by a veth pair (offloads off, so captures see wire-size segments):
# the server side ($ns_s, 10.77.0.1 / fd77::1 on $if_s) runs real nginx
# (200, 301 /moved, 404, 500 /error, 503 /unavailable, /big.html of 200 KB,
# keep-alive) and real unbound (www/mail.example.test, NXDOMAIN for other
# example.test names, REFUSED for refused.test, SERVFAIL for broken.lan);
# the client side ($ns_c, 10.77.0.2 / fd77::2 on $if_c) is where traffic
# comes from. S/C run a command in either namespace. Everything started is
# recorded in pids[] and stopped, with the namespaces and $tmp, by the EXIT
# trap. Needs root; the caller checks.
#
# Also set tmp_prefix (optional), and router=1 (optional) for a
# third namespace between them: server $if_s <-> $if_rs [router $ns_r]
# $if_rc <-> $if_c client, the client at 10.78.0.2 (no IPv6), so that a
# qdisc on the router's $if_rc impairs the link beyond a tap on $if_s.

# Before sourcing, set netns_tools to the commands the test needs besides
# those this file uses (ip, ethtool, nginx, unbound, curl, dig): without
# root or one of them the test is skipped (exit 77) before anything is
# created. ok/bad count checks into pass/fail.
PATH=$PATH:/usr/sbin:/sbin
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root for network namespaces"; exit 77; fi
for tool in ip ethtool nginx unbound curl dig ${netns_tools:-}; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done
pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
# frames PCAP — frames in a capture; total PROM FAMILY — a family's sum
frames() { tcpdump -r "$1" 2>/dev/null | wc -l; }
total() { awk -v m="$2" 'index($0, m) == 1 {s += $NF} END {print s + 0}' "$1"; }

id=$$
ns_s=swsrv$id
ns_c=swcli$id
ns_r=swrtr$id
if_s=sws$id
if_c=swc$id
if_rs=swrs$id
if_rc=swrc$id
router=${router:-0}
tmp=$(mktemp -d "/tmp/${tmp_prefix:-spanwatch-live}.XXXXXX")
chmod 755 "$tmp"
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    ip netns del "$ns_s" 2>/dev/null
    ip netns del "$ns_c" 2>/dev/null
    [ "$router" = 1 ] && ip netns del "$ns_r" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
S() { ip netns exec "$ns_s" "$@"; }
C() { ip netns exec "$ns_c" "$@"; }

ip netns add "$ns_s" && ip netns add "$ns_c" || { echo "FAIL: cannot create namespaces"; exit 1; }
R() { ip netns exec "$ns_r" "$@"; }
if [ "$router" = 1 ]; then
    ip netns add "$ns_r" || { echo "FAIL: cannot create namespaces"; exit 1; }
    ip link add "$if_s" type veth peer name "$if_rs" && ip link add "$if_c" type veth peer name "$if_rc" ||
        { echo "FAIL: cannot create veth"; exit 1; }
    ip link set "$if_rs" netns "$ns_r"
    ip link set "$if_rc" netns "$ns_r"
    R ip addr add 10.77.0.254/24 dev "$if_rs"
    R ip addr add 10.78.0.254/24 dev "$if_rc"
    R sysctl -qw net.ipv4.ip_forward=1
    for i in lo "$if_rs" "$if_rc"; do R ip link set "$i" up; done
    for i in "$if_rs" "$if_rc"; do R ethtool -K "$i" tso off gso off gro off >/dev/null 2>&1; done
    client_ip=10.78.0.2
else
    ip link add "$if_s" type veth peer name "$if_c" || { echo "FAIL: cannot create veth"; exit 1; }
    client_ip=10.77.0.2
fi
ip link set "$if_s" netns "$ns_s"
ip link set "$if_c" netns "$ns_c"
S ip addr add 10.77.0.1/24 dev "$if_s"
C ip addr add "$client_ip/24" dev "$if_c"
S ip addr add fd77::1/64 dev "$if_s" nodad
[ "$router" = 1 ] || C ip addr add fd77::2/64 dev "$if_c" nodad
for x in S C; do $x ip link set lo up; done
S ip link set "$if_s" up
C ip link set "$if_c" up
S ethtool -K "$if_s" tso off gso off gro off >/dev/null 2>&1
C ethtool -K "$if_c" tso off gso off gro off >/dev/null 2>&1
if [ "$router" = 1 ]; then
    S ip route add 10.78.0.0/24 via 10.77.0.254
    C ip route add 10.77.0.0/24 via 10.78.0.254
fi

# --- nginx ---------------------------------------------------------------
mkdir -p "$tmp/www"
echo "hello" > "$tmp/www/index.html"
head -c 200000 /dev/zero | tr '\0' 'x' > "$tmp/www/big.html"
cat > "$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
user nobody nogroup;
events { worker_connections 64; }
http {
    access_log $tmp/nginx-access.log;
    client_body_temp_path $tmp/cb; proxy_temp_path $tmp/pt; fastcgi_temp_path $tmp/ft;
    uwsgi_temp_path $tmp/ut; scgi_temp_path $tmp/st;
    keepalive_timeout 30;
    server {
        listen 10.77.0.1:80;
        listen [fd77::1]:80;
        root $tmp/www;
        location = /moved { return 301 /index.html; }
        location = /error { return 500; }
        location = /unavailable { return 503; }
    }
}
CONF
# started with `ip netns exec` directly (not through S) so $! is the server's PID
ip netns exec "$ns_s" nginx -c "$tmp/nginx.conf" -p "$tmp" >"$tmp/nginx.out" 2>&1 &
pids+=($!)

# --- unbound ---------------------------------------------------------------
cat > "$tmp/unbound.conf" <<CONF
server:
    interface: 10.77.0.1
    port: 53
    do-ip6: no
    access-control: 10.77.0.0/24 allow
    access-control: 10.78.0.0/24 allow
    username: ""
    chroot: ""
    directory: "$tmp"
    pidfile: "$tmp/unbound.pid"
    use-syslog: no
    logfile: "$tmp/unbound.log"
    module-config: "iterator"
    do-not-query-localhost: no
    local-zone: "example.test." static
    local-data: "www.example.test. 60 IN A 192.0.2.10"
    local-data: "mail.example.test. 60 IN A 192.0.2.25"
    local-data: "www.example.test. 60 IN AAAA 2001:db8::10"
    local-zone: "refused.test." refuse
# SERVFAIL: a zone whose only server refuses TCP connections (over UDP
# unbound would keep retrying for longer than dig waits)
stub-zone:
    name: "broken.lan."
    stub-addr: 127.0.0.1@5399
    stub-tcp-upstream: yes
remote-control:
    control-enable: no
CONF
ip netns exec "$ns_s" unbound -d -c "$tmp/unbound.conf" >"$tmp/unbound.out" 2>&1 &
pids+=($!)

# wait (bounded) for both servers
ready=0
for _ in $(seq 100); do
    if C curl -s -o /dev/null --max-time 1 http://10.77.0.1/ &&
       C dig +short +time=1 +tries=1 @10.77.0.1 www.example.test >/dev/null 2>&1; then
        ready=1; break
    fi
    sleep 0.1
done
[ $ready = 1 ] || { echo "FAIL: nginx/unbound did not come up"; cat "$tmp"/*.log; exit 1; }

# mirror_traffic — the traffic of the mirror tests: three rounds of curl
# (pages, a 404, a 500, a big body, a 503) and dig over UDP and TCP (found,
# NXDOMAIN, REFUSED) against the server namespace, then a refused port
mirror_traffic() {
    local u=http://10.77.0.1 round name
    for round in 1 2 3; do
        C curl -s --max-time 5 -o /dev/null "$u/" -o /dev/null "$u/missing" -o /dev/null "$u/error"
        C curl -s --max-time 5 -o /dev/null "$u/big.html"
        C curl -s --max-time 5 -o /dev/null "$u/unavailable"
        for name in www.example.test mail.example.test nosuch.example.test x.refused.test; do
            C dig +time=2 +tries=1 @10.77.0.1 "$name" >/dev/null
            C dig +tcp +time=2 +tries=1 @10.77.0.1 "$name" >/dev/null
        done
    done
    C curl -s -o /dev/null --max-time 2 http://10.77.0.1:81/ || true
}
