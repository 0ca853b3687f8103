/*
 * rules.c — the `rules:`, `fault_domain:` and `alertmanager:` sections of
 * the configuration (README "Alerting", "Fault domains").
 */
#include "config/load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_latency_expr(enum rule_expr e)
{
    return rule_expr_kind[e] == EXPR_KIND_TIME;
}

/* { bad_windows: k, of_last: n } or { good_windows: m } */
static int load_window_count(struct yaml_ctx *cx, yaml_node_t *m, const char *what,
                             const char *k1, uint32_t *v1, uint32_t max1, const char *k2,
                             uint32_t *v2, uint32_t max2)
{
    int seen1 = 0, seen2 = 0;
    if (m->type != YAML_MAPPING_NODE)
        return yaml_error(cx, m, "%s: expected a mapping { %s: N%s%s%s }", what, k1,
                         k2 ? ", " : "", k2 ? k2 : "", k2 ? ": N" : "");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
        const char *key = yaml_scalar(k);
        char full[96];
        if (key && !strcmp(key, k1)) {
            snprintf(full, sizeof full, "%s.%s", what, k1);
            if (yaml_get_uint(cx, v, full, 1, max1, v1))
                return -1;
            seen1 = 1;
        } else if (key && k2 && !strcmp(key, k2)) {
            snprintf(full, sizeof full, "%s.%s", what, k2);
            if (yaml_get_uint(cx, v, full, 1, max2, v2))
                return -1;
            seen2 = 1;
        } else {
            return yaml_error(cx, k, "%s: unknown key '%s' (known: %s%s%s)", what,
                             key ? key : "?", k1, k2 ? ", " : "", k2 ? k2 : "");
        }
    }
    if (!seen1)
        return yaml_error(cx, m, "%s: missing '%s'", what, k1);
    if (k2 && !seen2)
        return yaml_error(cx, m, "%s: missing '%s'", what, k2);
    return 0;
}

/* rules[i].threshold: a number (ratios 0..1), or for latencies a duration */
static int load_threshold(struct yaml_ctx *cx, yaml_node_t *thr, struct rule *r, unsigned i)
{
    char what[96];
    snprintf(what, sizeof what, "rules[%u].threshold", i);
    const char *ts = yaml_scalar(thr);
    char *end = NULL;
    uint64_t dur;
    if (!ts || !*ts)
        return yaml_error(cx, thr, "%s: expected a number", what);
    errno = 0;
    r->threshold = strtod(ts, &end);
    if (*end || errno || !isfinite(r->threshold)) {
        if (is_latency_expr(r->expr) && config_parse_duration(ts, &dur) == 0)
            r->threshold = (double)dur / 1e9;
        else
            return yaml_error(cx, thr, "%s: '%s' is not a number%s", what, ts,
                             is_latency_expr(r->expr) ? " or a duration" : "");
    }
    if (r->threshold < 0)
        return yaml_error(cx, thr, "%s: must not be negative", what);
    if (rule_expr_kind[r->expr] == EXPR_KIND_RATIO && r->threshold > 1)
        return yaml_error(cx, thr, "%s: %s is a ratio between 0 and 1, got %s", what,
                         rule_expr_name[r->expr], ts);
    return 0;
}

static int load_rule(struct yaml_ctx *cx, yaml_node_t *e, struct rule *r, unsigned i)
{
    char what[96];
    yaml_node_t *thr = NULL, *fire = NULL, *exprn = NULL, *vsb = NULL;
    int have_expr = 0;
    memset(r, 0, sizeof *r);
    snprintf(r->server, sizeof r->server, "*");
    r->op = OP_GT;
    r->window_ns = 60000000000ull;
    r->min_events = 1;
    r->bad_windows = r->of_last = 1;
    r->good_windows = 1;
    snprintf(r->severity, sizeof r->severity, "warning");
    for (yaml_node_pair_t *p = e->data.mapping.pairs.start; p < e->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
        const char *key = yaml_scalar(k), *val = yaml_scalar(v);
        if (!key)
            return yaml_error(cx, k, "rules[%u]: keys must be plain names", i);
        snprintf(what, sizeof what, "rules[%u].%s", i, key);
        if (!strcmp(key, "name")) {
            if (yaml_get_string(cx, v, what, r->name, sizeof r->name))
                return -1;
        } else if (!strcmp(key, "server")) {
            if (yaml_get_string(cx, v, what, r->server, sizeof r->server))
                return -1;
            r->server_line = (unsigned)v->start_mark.line + 1;
            r->server_col = (unsigned)v->start_mark.column + 1;
        } else if (!strcmp(key, "expr")) {
            int found = -1;
            if (!val)
                return yaml_error(cx, v, "%s: expected an expression name, got a %s", what,
                                 v->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
            for (int x = 0; val && x < EXPR_COUNT; x++)
                if (!strcmp(val, rule_expr_name[x]))
                    found = x;
            if (found < 0)
                return yaml_error(cx, v, "%s: unknown expression '%s' (known: dns_error_ratio, "
                                        "dns_nxdomain_ratio, dns_latency_p50|p90|p99, "
                                        "tcp_handshake_failure_ratio, tcp_reset_ratio, "
                                        "tcp_retransmit_ratio, tcp_rtt_p50|p90|p99, http_5xx_ratio, "
                                        "http_4xx_ratio, http_latency_p50|p90|p99, request_rate, "
                                        "tcp_data_rtt_p50|p90|p99, http_server_time_p50|p90|p99, "
                                        "http_response_bytes_p50|p90)",
                                 what, val ? val : "");
            r->expr = (enum rule_expr)found;
            have_expr = 1;
            exprn = v;
        } else if (!strcmp(key, "op")) {
            int found = -1;
            for (int x = 0; val && x < 4; x++)
                if (!strcmp(val, rule_op_name[x]))
                    found = x;
            if (found < 0)
                return yaml_error(cx, v, "%s: expected one of >, >=, <, <= (quote it in YAML: "
                                        "op: \">\")", what);
            r->op = (enum rule_op)found;
        } else if (!strcmp(key, "threshold")) {
            thr = v;
        } else if (!strcmp(key, "threshold_vs_baseline")) {
            if (yaml_get_double(cx, v, what, 0.000001, 1000000, &r->vs_baseline))
                return -1;
            vsb = v;
        } else if (!strcmp(key, "window")) {
            if (yaml_get_duration(cx, v, what, &r->window_ns))
                return -1;
            if (r->window_ns < 1000000ull || r->window_ns > 86400000000000ull)
                return yaml_error(cx, v, "%s: must be between 1ms and 24h", what);
        } else if (!strcmp(key, "min_events")) {
            if (yaml_get_uint(cx, v, what, 0, 1000000000u, &r->min_events))
                return -1;
        } else if (!strcmp(key, "fire_when")) {
            uint32_t k1 = 1, n1 = 1;
            if (load_window_count(cx, v, what, "bad_windows", &k1, RULE_MAX_OF_LAST, "of_last",
                                  &n1, RULE_MAX_OF_LAST))
                return -1;
            r->bad_windows = (uint8_t)k1;
            r->of_last = (uint8_t)n1;
            fire = v;
        } else if (!strcmp(key, "resolve_when")) {
            if (load_window_count(cx, v, what, "good_windows", &r->good_windows, 100000, NULL,
                                  NULL, 0))
                return -1;
        } else if (!strcmp(key, "severity")) {
            if (yaml_get_string(cx, v, what, r->severity, sizeof r->severity))
                return -1;
        } else if (!strcmp(key, "summary")) {
            if (yaml_get_string(cx, v, what, r->summary, sizeof r->summary))
                return -1;
        } else {
            return yaml_error(cx, k, "rules[%u]: unknown key '%s' (known: name, server, expr, op, "
                                    "threshold, threshold_vs_baseline, window, min_events, "
                                    "fire_when, resolve_when, severity, summary)", i, key);
        }
    }
    if (!r->name[0])
        return yaml_error(cx, e, "rules[%u]: missing 'name'", i);
    if (!have_expr)
        return yaml_error(cx, e, "rules[%u] (%s): missing 'expr'", i, r->name);
    (void)exprn;
    if (thr && vsb)
        return yaml_error(cx, vsb, "rules[%u] (%s): give 'threshold' or "
                                  "'threshold_vs_baseline', not both", i, r->name);
    if (vsb) {
        if (r->expr == EXPR_REQUEST_RATE)
            return yaml_error(cx, vsb, "rules[%u] (%s): threshold_vs_baseline is not supported "
                                      "for request_rate", i, r->name);
    } else if (!thr) {
        return yaml_error(cx, e, "rules[%u] (%s): missing 'threshold' (or "
                                "'threshold_vs_baseline')", i, r->name);
    } else if (load_threshold(cx, thr, r, i)) {
        return -1;
    }
    if (r->bad_windows > r->of_last)
        return yaml_error(cx, fire, "rules[%u].fire_when: bad_windows (%u) is larger than "
                                   "of_last (%u)", i, r->bad_windows, r->of_last);
    return 0;
}

/* "IP:port" or "[IPv6]:port", the form of an unnamed server label */
static int is_endpoint_label(const char *s)
{
    char addr[64];
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1])
        return 0;
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || errno || port > 65535 || colon[1] == '-' || colon[1] == '+')
        return 0;
    size_t alen = (size_t)(colon - s);
    if (s[0] == '[') {
        if (alen < 3 || s[alen - 1] != ']' || alen - 2 >= sizeof addr)
            return 0;
        memcpy(addr, s + 1, alen - 2);
        addr[alen - 2] = 0;
        struct in6_addr a6;
        return inet_pton(AF_INET6, addr, &a6) == 1;
    }
    if (alen == 0 || alen >= sizeof addr)
        return 0;
    memcpy(addr, s, alen);
    addr[alen] = 0;
    struct in_addr a4;
    return inet_pton(AF_INET, addr, &a4) == 1;
}

/* After the whole file is read: a rule's server is "*", a servers: group
 * or an IP:port label. */
int config_check_rule_servers(struct yaml_ctx *cx, const struct config *c)
{
    for (unsigned i = 0; i < c->n_rules; i++) {
        const struct rule *r = &c->rules[i];
        int ok = !strcmp(r->server, "*") || !strcmp(r->server, "__overflow__") ||
                 is_endpoint_label(r->server);
        for (unsigned g = 0; !ok && g < c->n_servers; g++)
            ok = !strcmp(c->servers[g].name, r->server);
        if (!ok) {
            snprintf(cx->err, cx->errlen, "%s:%u:%u: rules[%u].server: '%s' is not \"*\", a "
                     "servers: group name or IP:port ([IPv6]:port)", cx->path, r->server_line,
                     r->server_col, i, r->server);
            return -1;
        }
    }
    return 0;
}

int config_load_rules(struct yaml_ctx *cx, yaml_node_t *n, struct config *c)
{
    unsigned count;
    if (yaml_list_of_maps(cx, n, "rules", &count))
        return -1;
    if (count > CONFIG_MAX_RULES)
        return yaml_error(cx, n, "rules: at most %d rules", CONFIG_MAX_RULES);
    for (unsigned i = 0; i < count; i++) {
        yaml_node_t *e = yaml_document_get_node(cx->doc, n->data.sequence.items.start[i]);
        if (load_rule(cx, e, &c->rules[i], i))
            return -1;
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(c->rules[j].name, c->rules[i].name))
                return yaml_error(cx, e, "rules[%u]: duplicate rule name '%s' (also rules[%u])", i,
                                 c->rules[i].name, j);
    }
    c->n_rules = count;
    return 0;
}

int config_load_fault_domain(struct yaml_ctx *cx, yaml_node_t *m, struct config *c)
{
    struct fault_domain_cfg *f = &c->fd;
    if (m->type == YAML_SCALAR_NODE && !*yaml_scalar(m))
        return 0;
    if (m->type != YAML_MAPPING_NODE)
        return yaml_error(cx, m, "fault_domain: expected a mapping");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
        const char *key = yaml_scalar(k);
        char what[96];
        snprintf(what, sizeof what, "fault_domain.%s", key ? key : "?");
        int r;
        if (!key)
            return yaml_error(cx, k, "fault_domain: keys must be plain names");
        if (!strcmp(key, "window")) {
            r = yaml_get_duration(cx, v, what, &f->window_ns);
            if (!r && (f->window_ns < 1000000ull || f->window_ns > 86400000000000ull))
                r = yaml_error(cx, v, "%s: must be between 1ms and 24h", what);
        } else if (!strcmp(key, "baseline_windows"))
            r = yaml_get_uint(cx, v, what, 1, FD_MAX_BASELINE, &f->baseline_windows);
        else if (!strcmp(key, "min_baseline_windows"))
            r = yaml_get_uint(cx, v, what, 1, FD_MAX_BASELINE, &f->min_baseline_windows);
        else if (!strcmp(key, "min_events"))
            r = yaml_get_uint(cx, v, what, 1, 1000000000u, &f->min_events);
        else if (!strcmp(key, "handshake_timeout_ratio"))
            r = yaml_get_double(cx, v, what, 0, 1, &f->handshake_timeout_ratio);
        else if (!strcmp(key, "retransmit_ratio"))
            r = yaml_get_double(cx, v, what, 0, 1, &f->retransmit_ratio);
        else if (!strcmp(key, "error_ratio"))
            r = yaml_get_double(cx, v, what, 0, 1, &f->error_ratio);
        else if (!strcmp(key, "min_increase"))
            r = yaml_get_duration(cx, v, what, &f->min_increase_ns);
        else if (!strcmp(key, "rtt_vs_baseline"))
            r = yaml_get_double(cx, v, what, 1, 1000, &f->rtt_vs_baseline);
        else if (!strcmp(key, "server_time_vs_baseline"))
            r = yaml_get_double(cx, v, what, 1, 1000, &f->server_time_vs_baseline);
        else if (!strcmp(key, "response_bytes_vs_baseline"))
            r = yaml_get_double(cx, v, what, 0.001, 1, &f->response_bytes_vs_baseline);
        else
            r = yaml_error(cx, k, "fault_domain: unknown key '%s' (known: window, "
                                 "baseline_windows, min_baseline_windows, min_events, "
                                 "handshake_timeout_ratio, retransmit_ratio, rtt_vs_baseline, "
                                 "min_increase, error_ratio, server_time_vs_baseline, "
                                 "response_bytes_vs_baseline)", key);
        if (r)
            return -1;
    }
    if (f->min_baseline_windows > f->baseline_windows)
        return yaml_error(cx, m, "fault_domain: min_baseline_windows (%u) is larger than "
                                "baseline_windows (%u)", f->min_baseline_windows,
                          f->baseline_windows);
    return 0;
}

int config_load_alertmanager(struct yaml_ctx *cx, yaml_node_t *m, struct config *c)
{
    if (m->type == YAML_SCALAR_NODE && !*yaml_scalar(m))
        return 0;
    if (m->type != YAML_MAPPING_NODE)
        return yaml_error(cx, m, "alertmanager: expected a mapping");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
        const char *key = yaml_scalar(k), *val = yaml_scalar(v);
        if (key && !strcmp(key, "url")) {
            if (yaml_get_string(cx, v, "alertmanager.url", c->am_url, sizeof c->am_url))
                return -1;
            if (strncmp(val, "http://", 7) && strncmp(val, "https://", 8))
                return yaml_error(cx, v, "alertmanager.url: expected http://HOST:PORT or "
                                        "https://HOST:PORT, got '%s'", val);
            const char *host = strstr(val, "://") + 3;
            if (!*host || *host == '/' || *host == ':')
                return yaml_error(cx, v, "alertmanager.url: '%s' has no host", val);
        } else if (key && !strcmp(key, "resend_interval")) {
            if (yaml_get_duration(cx, v, "alertmanager.resend_interval", &c->am_resend_ns))
                return -1;
        } else if (key && !strcmp(key, "timeout")) {
            if (yaml_get_duration(cx, v, "alertmanager.timeout", &c->am_timeout_ns))
                return -1;
        } else {
            return yaml_error(cx, k, "alertmanager: unknown key '%s' (known: url, "
                                    "resend_interval, timeout)", key ? key : "?");
        }
    }
    return 0;
}

int rule_equal(const struct rule *a, const struct rule *b)
{
    return !strcmp(a->name, b->name) && !strcmp(a->server, b->server) && a->expr == b->expr &&
           a->op == b->op && a->threshold == b->threshold && a->vs_baseline == b->vs_baseline &&
           a->window_ns == b->window_ns &&
           a->min_events == b->min_events && a->bad_windows == b->bad_windows &&
           a->of_last == b->of_last && a->good_windows == b->good_windows &&
           !strcmp(a->severity, b->severity) && !strcmp(a->summary, b->summary);
}
