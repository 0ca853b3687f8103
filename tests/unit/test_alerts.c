/*
 * test_alerts.c — the alert engine (alerts/) on a registry whose counters
 * the test sets window by window: k-of-n firing, sparse windows, m good
 * windows to resolve, "*" rules covering only servers of their protocol,
 * the expressions' values, fault-domain judging, the JSON of a transition
 * and the alert families of the exposition (README "Alerting", "Fault
 * domains").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "alerts/alerts.h"
#include "alerts/state.h"

#define S 1000000000ull
#define T0 (1700000000ull * S)

struct seen {
    unsigned n;
    struct { char rule[64], server[64]; int firing; uint64_t end_ns; char pattern[80]; } t[16];
};

static void on_transition(void *ctx, const struct alert_transition *t)
{
    struct seen *s = ctx;
    if (s->n == 16)
        return;
    snprintf(s->t[s->n].rule, sizeof s->t[0].rule, "%s", t->rule->name);
    snprintf(s->t[s->n].server, sizeof s->t[0].server, "%s", t->server);
    snprintf(s->t[s->n].pattern, sizeof s->t[0].pattern, "%s", t->pattern);
    s->t[s->n].firing = t->firing;
    s->t[s->n++].end_ns = t->win_end_ns;
}

struct fixture {
    struct config cfg;
    struct server_registry reg;
    struct alert_engine e;
    struct seen seen;
};

static const char rules_yaml[] =
    "rules:\n"
    "  - name: dns-2of3\n"
    "    server: 10.0.0.1:53\n"
    "    expr: dns_error_ratio\n"
    "    op: \">\"\n"
    "    threshold: 0.1\n"
    "    window: 10s\n"
    "    min_events: 10\n"
    "    fire_when: { bad_windows: 2, of_last: 3 }\n"
    "    resolve_when: { good_windows: 2 }\n"
    "  - name: http-any\n"
    "    server: \"*\"\n"
    "    expr: http_5xx_ratio\n"
    "    op: \">\"\n"
    "    threshold: 0.5\n"
    "    window: 10s\n"
    "    min_events: 1\n"
    "    fire_when: { bad_windows: 1, of_last: 1 }\n";

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    char path[] = "/tmp/test_alerts_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    fputs(rules_yaml, f);
    fclose(f);
    char err[256];
    int rc = config_load(path, &fx.cfg, err, sizeof err);
    unlink(path);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    fx.cfg.max_servers = 16;
    if (server_registry_init(&fx.reg, &fx.cfg) != 0 ||
        alerts_init(&fx.e, &fx.cfg, on_transition, &fx.seen) != 0)
        return -1;
    alerts_start(&fx.e, T0);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    alerts_free(&fx->e);
    server_registry_free(&fx->reg);
    return 0;
}

static struct server_stats *srv(struct fixture *fx, const char *label)
{
    return &fx->reg.s[server_registry_get(&fx->reg, label)];
}

/* one 10 s window of DNS traffic to 10.0.0.1:53: queries and SERVFAILs
 * (counters are cumulative, as the workers keep them) */
static void dns_window(struct fixture *fx, unsigned i, uint64_t queries, uint64_t servfail)
{
    struct server_stats *s = srv(fx, "10.0.0.1:53");
    s->seen_dns = 1;
    s->dns_queries += queries;
    s->dns_responses[RCODE_SERVFAIL] += servfail;
    s->dns_responses[RCODE_NOERROR] += queries - servfail;
    alerts_advance(&fx->e, &fx->reg, T0 + (i + 1) * 10 * S);
}

static void fires_at_k_bad_of_n_and_resolves_after_m_good(void **state)
{
    struct fixture *fx = *state;
    dns_window(fx, 0, 100, 50); /* bad */
    dns_window(fx, 1, 100, 0);  /* good */
    assert_int_equal(fx->seen.n, 0);
    dns_window(fx, 2, 100, 20); /* bad: 2 of the last 3 */
    assert_int_equal(fx->seen.n, 1);
    assert_string_equal(fx->seen.t[0].rule, "dns-2of3");
    assert_string_equal(fx->seen.t[0].server, "10.0.0.1:53");
    assert_true(fx->seen.t[0].firing);
    assert_int_equal(fx->seen.t[0].end_ns, T0 + 30 * S);
    assert_string_equal(fx->seen.t[0].pattern, "X.X");
    dns_window(fx, 3, 100, 0);
    assert_int_equal(fx->seen.n, 1); /* one good window is not enough */
    dns_window(fx, 4, 100, 0);
    assert_int_equal(fx->seen.n, 2);
    assert_false(fx->seen.t[1].firing);
}

static void sparse_windows_are_neither_bad_nor_good(void **state)
{
    struct fixture *fx = *state;
    dns_window(fx, 0, 5, 5);    /* 100% errors but under min_events: sparse */
    dns_window(fx, 1, 5, 5);
    dns_window(fx, 2, 5, 5);
    assert_int_equal(fx->seen.n, 0);
    dns_window(fx, 3, 100, 50);
    dns_window(fx, 4, 100, 50);
    assert_int_equal(fx->seen.n, 1); /* firing */
    dns_window(fx, 5, 100, 0);      /* good */
    dns_window(fx, 6, 1, 0);        /* sparse: skipped, the streak holds */
    assert_int_equal(fx->seen.n, 1);
    dns_window(fx, 7, 100, 0);      /* second good */
    assert_int_equal(fx->seen.n, 2);
    assert_false(fx->seen.t[1].firing);
}

static void star_rule_covers_servers_of_its_protocol(void **state)
{
    struct fixture *fx = *state;
    struct server_stats *web = srv(fx, "10.0.0.9:80");
    web->seen_http = 1;
    web->http_requests = 4;
    web->http_codes[503 - HTTP_CODE_MIN] = 3;
    web->http_codes[200 - HTTP_CODE_MIN] = 1;
    dns_window(fx, 0, 100, 0); /* also a DNS server, which http-any ignores */
    assert_int_equal(fx->seen.n, 1);
    assert_string_equal(fx->seen.t[0].rule, "http-any");
    assert_string_equal(fx->seen.t[0].server, "10.0.0.9:80");
}

static void expression_values(void **state)
{
    (void)state;
    struct server_stats d;
    memset(&d, 0, sizeof d);
    const struct histogram *dh[SERVER_HIST_COUNT] = { 0 };
    uint64_t ev;
    d.http_codes[200 - HTTP_CODE_MIN] = 6;
    d.http_codes[404 - HTTP_CODE_MIN] = 3;
    d.http_codes[500 - HTTP_CODE_MIN] = 1;
    assert_float_equal(alerts_expr_value(EXPR_HTTP_5XX_RATIO, &d, dh, 10 * S, &ev), 0.1, 1e-12);
    assert_int_equal(ev, 10);
    assert_float_equal(alerts_expr_value(EXPR_HTTP_4XX_RATIO, &d, dh, 10 * S, &ev), 0.3, 1e-12);
    d.dns_queries = 20;
    d.http_requests = 10;
    assert_float_equal(alerts_expr_value(EXPR_REQUEST_RATE, &d, dh, 10 * S, &ev), 3.0, 1e-12);
    d.dns_responses[RCODE_REFUSED] = 1;
    d.dns_timeouts = 1;
    assert_float_equal(alerts_expr_value(EXPR_DNS_ERROR_RATIO, &d, dh, 10 * S, &ev), 0.1, 1e-12);
    /* a latency quantile is read from the window's histogram, in seconds */
    static struct histogram h;
    memset(&h, 0, sizeof h);
    for (int i = 0; i < 100; i++)
        hist_record(&h, 20000000); /* 20 ms */
    dh[HIST_DNS] = &h;
    double p99 = alerts_expr_value(EXPR_DNS_LATENCY_P99, &d, dh, 10 * S, &ev);
    assert_int_equal(ev, 100);
    assert_true(p99 > 0.0199 && p99 < 0.0201);
    assert_float_equal(alerts_expr_value(EXPR_TCP_RTT_P50, &d, dh, 10 * S, &ev), 0.0, 0.0);
    assert_int_equal(ev, 0); /* no samples: no events */
}

static void fault_domain_network_backend_both(void **state)
{
    struct fixture *fx = *state;
    struct fault_domain_cfg c = fx->cfg.fd;
    struct fd_slot s;
    static float base[FDS_COUNT * 8];
    const struct histogram *dh[SERVER_HIST_COUNT] = { 0 };
    static struct histogram empty;
    for (int k = 0; k < SERVER_HIST_COUNT; k++)
        dh[k] = &empty;
    struct server_stats d;
    memset(&d, 0, sizeof d);
    d.tcp_data_segments = 1000;
    d.tcp_retransmits = 300;
    memset(&s, 0, sizeof s);
    assert_int_equal(fd_judge(&c, &s, base, 8, &d, dh), FD_NETWORK);
    assert_true(s.evidence & FDE_RETRANSMIT);
    d.http_codes[500 - HTTP_CODE_MIN] = 50;
    d.http_codes[200 - HTTP_CODE_MIN] = 50;
    assert_int_equal(fd_judge(&c, &s, base, 8, &d, dh), FD_BOTH);
    d.tcp_retransmits = 0;
    assert_int_equal(fd_judge(&c, &s, base, 8, &d, dh), FD_BACKEND);
    assert_true(s.evidence & FDE_HTTP_5XX);
    char ev[128];
    assert_string_equal(fault_evidence_format(ev, sizeof ev, FDE_RETRANSMIT | FDE_HTTP_5XX),
                        "retransmits,http_5xx");
}

static void transition_json_and_exposition(void **state)
{
    struct fixture *fx = *state;
    dns_window(fx, 0, 100, 50);
    dns_window(fx, 1, 100, 50);
    assert_int_equal(fx->seen.n, 1);
    /* the snapshot the exposition renders */
    struct alert_snapshot snap;
    assert_int_equal(alert_snapshot_init(&snap, fx->cfg.max_servers), 0);
    alert_snapshot_fill(&snap, &fx->e, &fx->reg);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    alert_snapshot_render(out, &snap, NULL);
    fclose(out);
    assert_non_null(strstr(text, "# TYPE spanwatch_alert_active gauge\n"));
    assert_non_null(strstr(text,
                           "spanwatch_alert_active{rule=\"dns-2of3\",server=\"10.0.0.1:53\"} 1\n"));
    assert_non_null(strstr(text, "spanwatch_alerts_fired_total{rule=\"dns-2of3\"} 1\n"));
    assert_non_null(strstr(text, "# TYPE spanwatch_fault_domain gauge\n"));
    assert_null(strstr(text, "alertmanager")); /* not configured */
    free(text);
    alert_snapshot_free(&snap);
    /* a transition as one JSON object */
    struct alert_transition t;
    memset(&t, 0, sizeof t);
    t.rule = &fx->cfg.rules[0];
    t.server = "10.0.0.1:53";
    t.firing = 1;
    t.value = 0.5;
    t.events = 100;
    t.win_start_ns = T0;
    t.win_end_ns = T0 + 10 * S;
    t.fault_domain = "backend";
    snprintf(t.pattern, sizeof t.pattern, "XX");
    char json[4096];
    assert_true(alerts_format_json(json, sizeof json, &t) > 0);
    assert_non_null(strstr(json, "\"rule\":\"dns-2of3\""));
    assert_non_null(strstr(json, "\"server\":\"10.0.0.1:53\""));
    assert_non_null(strstr(json, "\"state\":\"firing\""));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(fires_at_k_bad_of_n_and_resolves_after_m_good),
        T(sparse_windows_are_neither_bad_nor_good),
        T(star_rule_covers_servers_of_its_protocol),
        cmocka_unit_test(expression_values),
        T(fault_domain_network_backend_both),
        T(transition_json_and_exposition),
    };
#undef T
    return cmocka_run_group_tests_name("alerts", tests, NULL, NULL);
}
