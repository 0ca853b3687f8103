#!/usr/bin/env bash
# cli_test.sh SPANWATCH SRCDIR — the command-line contract of DESIGN.md:
# exit codes (0 ok, 1 runtime failure, 2 usage/config), messages that name
# file:line:column for config errors, --help/--version, --metrics-out, and
# an exposition that `promtool check metrics` accepts.
set -u
sw=$1
src=$2
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect() { # name, expected-exit, stderr-regex (or ""), command...
    local name=$1 want=$2 re=$3
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" != "$want" ]; then
        echo "FAIL $name: exit $rc, want $want"; sed -n 1,5p "$tmp/err"; fail=$((fail + 1)); return
    fi
    if [ -n "$re" ] && ! grep -qE -- "$re" "$tmp/err" "$tmp/out"; then
        echo "FAIL $name: output does not match /$re/:"; sed -n 1,5p "$tmp/err"; fail=$((fail + 1)); return
    fi
    echo "ok $name"; pass=$((pass + 1))
}

cfg=$src/tests/configs
demo=$src/tests/data/demo.pcap
expect help 0 'usage: spanwatch' "$sw" --help
expect version 0 '^spanwatch [0-9]+\.[0-9]+' "$sw" --version
expect no_args 2 'exactly one of -r FILE or -i IFACE' "$sw"
expect unknown_option 2 "unknown option '--bogus'" "$sw" --bogus
expect missing_argument 2 "needs an argument" "$sw" -r
expect both_inputs 2 'exactly one' "$sw" -r "$demo" -i lo
expect bad_workers 2 "-w: expected a worker count" "$sw" -r "$demo" -w 0
expect bad_backend 2 "unknown back end 'foo'" "$sw" -i lo --backend foo
expect missing_file 1 "nonexistent.pcap: cannot open capture" "$sw" -r "$tmp/nonexistent.pcap"
: > "$tmp/empty.pcap"
expect empty_file 1 "empty.pcap: cannot open capture" "$sw" -r "$tmp/empty.pcap"
echo "this is not a capture file at all, just text" > "$tmp/text.pcap"
expect not_a_capture 1 "text.pcap: cannot open capture" "$sw" -r "$tmp/text.pcap"
expect bad_filter 1 "bad filter 'port nonsense'" "$sw" -r "$demo" -f 'port nonsense'
expect check_config_ok 0 'good.yaml: OK' "$sw" --check-config "$cfg/good.yaml"
expect check_config_duration 2 'bad_duration.yaml:3:16: limits.dns_timeout' "$sw" --check-config "$cfg/bad_duration.yaml"
expect check_config_int 2 'bad_int.yaml:2:14: limits.max_flows: expected an integer' "$sw" --check-config "$cfg/bad_int.yaml"
expect check_config_unknown 2 "unknown_key.yaml:3:1: unknown top-level key 'limitz'" "$sw" --check-config "$cfg/unknown_key.yaml"
expect check_config_unknown_limit 2 "unknown_limit.yaml:2:3: limits: unknown key 'max_flws'" "$sw" --check-config "$cfg/unknown_limit.yaml"
expect check_config_yaml 2 'bad_yaml.yaml:[0-9]+:[0-9]+: YAML syntax error' "$sw" --check-config "$cfg/bad_yaml.yaml"
expect check_config_missing 2 'nope.yaml: cannot open config' "$sw" --check-config "$tmp/nope.yaml"
expect run_bad_config 2 'bad_int.yaml:2:14' "$sw" -r "$demo" -c "$cfg/bad_int.yaml"
expect summary 0 'decode errors: 0' "$sw" -r "$demo"
expect metrics_out_file 0 '' "$sw" -q -r "$demo" --metrics-out "$tmp/m.prom"
if grep -q '^spanwatch_packets_total{worker="0"} [1-9]' "$tmp/m.prom"; then
    echo "ok metrics_file_has_packets"; pass=$((pass + 1))
else
    echo "FAIL metrics_file_has_packets"; fail=$((fail + 1))
fi
expect metrics_out_stdout 0 '^spanwatch_build_info\{version=' "$sw" -q -r "$demo" --metrics-out -
expect filter_applies 0 '' "$sw" -q -r "$demo" -f 'udp port 53' --metrics-out "$tmp/f.prom"
want=$(tcpdump -nr "$demo" 'udp port 53' 2>/dev/null | wc -l)
got=$(sed -n 's/^spanwatch_packets_total{worker="0"} //p' "$tmp/f.prom")
if [ "$got" = "$want" ]; then echo "ok filter_count ($got = tcpdump's $want)"; pass=$((pass + 1))
else echo "FAIL filter_count: spanwatch $got, tcpdump $want"; fail=$((fail + 1)); fi
expect metrics_out_unwritable 1 'metrics-out' "$sw" -q -r "$demo" --metrics-out /nonexistent-dir/m.prom
if command -v promtool >/dev/null; then
    expect promtool_check_metrics 0 '' sh -c "promtool check metrics < '$tmp/m.prom'"
else
    echo "FAIL promtool not installed (scripts/setup installs prometheus)"; fail=$((fail + 1))
fi
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
