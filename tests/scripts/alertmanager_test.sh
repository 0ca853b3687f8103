#!/usr/bin/env bash
# alertmanager_test.sh SPANWATCH SRCDIR — alerts reach a real Alertmanager.
#
# A real Alertmanager (Debian prometheus-alertmanager, own config and data
# directory, loopback port) and spanwatch replaying tests/pcaps/alerts.pcap
# with a rule that fires at window 15 and is still firing at the end
# (--linger keeps the process, and so its sender, alive).
#   1. Alertmanager is NOT running while spanwatch replays: the replay
#      completes anyway (every packet counted), POSTs fail and are counted.
#   2. Alertmanager starts: the alert appears in its API (GET
#      /api/v2/alerts) with the labels alertname, server, severity.
#   3. A broken config is POSTed to /-/reload: rejected (
#      HTTP 400 with file:line:column), spanwatch_config_last_reload_successful 0, the
#      alert still active in spanwatch and in Alertmanager.
#   4. A valid config without the rule is reloaded: the instance resolves
#      (its spanwatch_alert_active series goes, a "resolved" JSON line marked
#      removed_by_reload) and Alertmanager no longer lists it as active.
# Processes are stopped by PID; every wait is bounded.
set -u
sw=$(readlink -f "$1")
src=$(readlink -f "$2")
command -v prometheus-alertmanager >/dev/null 2>&1 || { echo "SKIP: prometheus-alertmanager not installed"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl not installed"; exit 77; }
tmp=$(mktemp -d /tmp/spanwatch-am.XXXXXX)
am_port=$((19000 + RANDOM % 500))
sw_port=$((19600 + RANDOM % 300))
am_pid=
sw_pid=
cleanup() {
    [ -n "$sw_pid" ] && kill "$sw_pid" 2>/dev/null && wait "$sw_pid" 2>/dev/null
    [ -n "$am_pid" ] && kill "$am_pid" 2>/dev/null && wait "$am_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
# a sample's value from /metrics; a scrape that fails says why (on stderr)
metric() {
    local body rc
    body=$(curl -sS "http://127.0.0.1:$sw_port/metrics" 2>"$tmp/curl.err"); rc=$?
    [ "$rc" = 0 ] || echo "     (scrape failed: curl exit $rc: $(head -c 200 "$tmp/curl.err"))" >&2
    printf '%s\n' "$body" | awk -v m="$1" 'index($0, m) == 1 {print $NF; exit}'
}
am_alerts() { curl -s "http://127.0.0.1:$am_port/api/v2/alerts"; }
# "active", "resolved/absent" for dns-3of12 on 10.9.0.53:53 in Alertmanager
am_state() {
    am_alerts | /usr/bin/python3 -c '
import json, sys, datetime
try:
    alerts = json.load(sys.stdin)
except Exception:
    print("unreachable"); sys.exit()
now = datetime.datetime.now(datetime.timezone.utc)
for a in alerts:
    l = a["labels"]
    if l.get("alertname") == "dns-3of12" and l.get("server") == "10.9.0.53:53":
        ends = datetime.datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00"))
        if a["status"]["state"] == "active" and ends > now:
            print("active severity=%s probe=%s fault_domain=%s" % (l.get("severity"), "probe" in l,
                                                                 l.get("fault_domain"))); sys.exit()
print("absent")'
}

cat > "$tmp/am.yml" <<CONF
route:
  receiver: "null"
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: "null"
CONF
write_cfg() { # $1 = resolve good_windows, $2 = include the rule (1/0)
    {
        echo "alertmanager:"
        echo "  url: http://127.0.0.1:$am_port"
        echo "  resend_interval: 1s"
        echo "  timeout: 2s"
        echo "rules:"
        if [ "$2" = 1 ]; then
            cat <<R
  - name: dns-3of12
    server: 10.9.0.53:53
    expr: dns_error_ratio
    op: ">"
    threshold: 0.1
    window: 10s
    min_events: 20
    fire_when: { bad_windows: 3, of_last: 12 }
    resolve_when: { good_windows: $1 }
    severity: page
R
        fi
        cat <<R
  - name: http-5xx
    server: "*"
    expr: http_5xx_ratio
    threshold: 0.1
    window: 10s
    fire_when: { bad_windows: 3, of_last: 12 }
    resolve_when: { good_windows: 3 }
R
    } > "$tmp/rules.yaml"
}
write_cfg 100 1

# 1. replay while Alertmanager is down
# shellcheck disable=SC2086 # SPANWATCH_ARGS: extra options (e.g. -w 2)
"$sw" ${SPANWATCH_ARGS:-} -r "$src/tests/pcaps/alerts.pcap" -c "$tmp/rules.yaml" --alerts-out "$tmp/alerts.json" \
    --web.listen-address "127.0.0.1:$sw_port" --linger 2> "$tmp/sw.log" &
sw_pid=$!
pk=
for _ in $(seq 100); do
    pk=$(curl -s "http://127.0.0.1:$sw_port/metrics" | awk '/^spanwatch_packets_total/ {s += $NF} END {print s + 0}')
    [ "$pk" = 7730 ] && break
    sleep 0.1
done
[ "$pk" = 7730 ] && ok "replay completed with Alertmanager down (7730 packets)" || bad "replay stalled: packets_total=$pk"
for _ in $(seq 50); do
    f=$(metric 'spanwatch_alertmanager_posts_total{result="failure"}')
    [ "${f:-0}" -ge 1 ] && break
    sleep 0.1
done
[ "${f:-0}" -ge 1 ] && ok "failed POSTs counted ($f) while Alertmanager is down" || bad "no failed POST counted"
a=$(metric 'spanwatch_alert_active{rule="dns-3of12",server="10.9.0.53:53"}')
[ "$a" = 1 ] && ok "spanwatch_alert_active{dns-3of12} = 1" || bad "alert_active = '$a'"

# 2. Alertmanager comes up: the alert is delivered
prometheus-alertmanager --config.file="$tmp/am.yml" --storage.path="$tmp/am-data" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
    > "$tmp/am.log" 2>&1 &
am_pid=$!
st=
for _ in $(seq 400); do
    st=$(am_state)
    case $st in active*) break ;; esac
    sleep 0.1
done
# the fault_domain label is the one spanwatch logged when the alert fired
fd=$(grep -m1 'alert FIRING: dns-3of12 server=10.9.0.53:53' "$tmp/sw.log" | sed -n 's/.*fault_domain=\([a-z]*\).*/\1/p')
case $st in
    "active severity=page probe=True fault_domain=${fd:-?}")
        ok "Alertmanager lists dns-3of12 on 10.9.0.53:53 as active (severity=page, probe label, fault_domain=$fd as logged)" ;;
    *) bad "Alertmanager state: '$st' (logged fault_domain '$fd')"; tail -5 "$tmp/am.log" ;;
esac
ok_posts=$(metric 'spanwatch_alertmanager_posts_total{result="success"}')
[ "${ok_posts:-0}" -ge 1 ] && ok "successful POSTs counted ($ok_posts)" || bad "posts success = '$ok_posts'"
grep -q 'reachable again' "$tmp/sw.log" && ok "log says Alertmanager is reachable again" || bad "no recovery message in the log"

# 3. a broken config is rejected and changes nothing
cp "$tmp/rules.yaml" "$tmp/good.yaml"
printf 'rules:\n  - name: x\n    expr: dns_error_ratio\n    threshold: high\n' > "$tmp/rules.yaml"
code=$(curl -s -o "$tmp/reload.out" -w '%{http_code}' -X POST "http://127.0.0.1:$sw_port/-/reload")
[ "$code" = 400 ] && grep -q 'rules.yaml:4:16: rules\[0\].threshold' "$tmp/reload.out" &&
    ok "broken reload rejected: HTTP 400, $(cat "$tmp/reload.out" | head -c 120)" || bad "broken reload: HTTP $code $(cat "$tmp/reload.out")"
r=$(metric 'spanwatch_config_last_reload_successful')
[ "$r" = 0 ] && ok "spanwatch_config_last_reload_successful 0" || bad "reload_successful = '$r'"
sleep 2
a=$(metric 'spanwatch_alert_active{rule="dns-3of12",server="10.9.0.53:53"}')
st=$(am_state)
[ "$a" = 1 ] && [ "${st%% *}" = active ] && ok "old rules still firing (spanwatch and Alertmanager)" || bad "after broken reload: active=$a am=$st"

# 4. a valid config without the rule resolves it
write_cfg 100 0
code=$(curl -s -o "$tmp/reload.out" -w '%{http_code}' -X POST "http://127.0.0.1:$sw_port/-/reload")
[ "$code" = 200 ] && ok "valid reload accepted: $(cat "$tmp/reload.out")" || bad "valid reload: HTTP $code $(cat "$tmp/reload.out")"
for _ in $(seq 50); do
    a=$(metric 'spanwatch_alert_active{rule="dns-3of12",server="10.9.0.53:53"}')
    [ "$a" = "" ] && break
    sleep 0.1
done
# the rule is gone, and with it its series
[ "$a" = "" ] && ok "spanwatch_alert_active{dns-3of12} gone with the rule" || bad "alert_active = '$a' after removal"
r=$(metric 'spanwatch_config_last_reload_successful')
[ "$r" = 1 ] && ok "spanwatch_config_last_reload_successful back to 1" || bad "reload_successful = '$r'"
grep -q '"state":"resolved","rule":"dns-3of12".*"removed_by_reload":true' "$tmp/alerts.json" &&
    ok "resolved transition written, marked removed_by_reload" || bad "no resolved line in --alerts-out"
for _ in $(seq 100); do
    st=$(am_state)
    [ "$st" = absent ] && break
    sleep 0.1
done
[ "$st" = absent ] && ok "Alertmanager no longer lists dns-3of12 as active" || bad "Alertmanager still: $st"
h=$(metric 'spanwatch_alerts_fired_total{rule="http-5xx"}')
[ "$h" = 1 ] && ok "http-5xx (unchanged by the reload) kept its count: fired_total 1" || bad "http-5xx fired_total = '$h'"

kill "$sw_pid"; wait "$sw_pid"; rc=$?
sw_pid=
[ "$rc" = 0 ] && ok "spanwatch exits 0 on SIGTERM" || bad "spanwatch exit $rc"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
