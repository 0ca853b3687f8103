/*
 * config.c — YAML config loading and validation with libyaml's document
 * API: every node carries its line and column, so each message points at the
 * exact place in the file.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <math.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/yaml_util.h"

int yaml_error(struct yaml_ctx *cx, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(cx->err, cx->errlen, "%s:%lu:%lu: %s", cx->path,
             n ? (unsigned long)n->start_mark.line + 1 : 0ul,
             n ? (unsigned long)n->start_mark.column + 1 : 0ul, msg);
    return -1;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    c->max_flows = 1000000;
    c->max_servers = 1000;
    c->max_frag_datagrams = 256;
    c->max_stream_buffers = 4096;
    c->dns_timeout_ns = 5000000000ull;
    c->tcp_handshake_timeout_ns = 3000000000ull;
    c->tcp_idle_timeout_ns = 300000000000ull;
    c->udp_idle_timeout_ns = 60000000000ull;
    c->closed_flow_timeout_ns = 2000000000ull;
    c->frag_timeout_ns = 30000000000ull;
    c->am_resend_ns = 60000000000ull;
    c->am_timeout_ns = 5000000000ull;
    c->fd.window_ns = 60000000000ull;
    c->fd.baseline_windows = 60;
    c->fd.min_baseline_windows = 5;
    c->fd.min_events = 10;
    c->fd.handshake_timeout_ratio = 0.05;
    c->fd.retransmit_ratio = 0.03;
    c->fd.rtt_vs_baseline = 2.0;
    c->fd.min_increase_ns = 1000000ull;
    c->fd.error_ratio = 0.05;
    c->fd.server_time_vs_baseline = 3.0;
    c->fd.response_bytes_vs_baseline = 0.5;
}

const char *const rule_expr_name[EXPR_COUNT] = {
#define X(id, name, kind, hist, q, proto) [EXPR_##id] = name,
    RULE_EXPR_LIST(X)
#undef X
};
const enum rule_expr_kind rule_expr_kind[EXPR_COUNT] = {
#define X(id, name, kind, hist, q, proto) [EXPR_##id] = EXPR_KIND_##kind,
    RULE_EXPR_LIST(X)
#undef X
};
const char *const rule_op_name[4] = { ">", ">=", "<", "<=" };

int config_same_capture(const struct config *a, const struct config *b)
{
    return a->max_flows == b->max_flows && a->max_servers == b->max_servers &&
           a->max_frag_datagrams == b->max_frag_datagrams &&
           a->max_stream_buffers == b->max_stream_buffers && a->dns_timeout_ns == b->dns_timeout_ns &&
           a->tcp_handshake_timeout_ns == b->tcp_handshake_timeout_ns &&
           a->tcp_idle_timeout_ns == b->tcp_idle_timeout_ns &&
           a->udp_idle_timeout_ns == b->udp_idle_timeout_ns &&
           a->closed_flow_timeout_ns == b->closed_flow_timeout_ns &&
           a->frag_timeout_ns == b->frag_timeout_ns && a->n_servers == b->n_servers &&
           !memcmp(a->servers, b->servers, a->n_servers * sizeof a->servers[0]);
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

int config_parse_duration(const char *s, uint64_t *ns)
{
    static const struct { const char *unit; uint64_t mult; } units[] = {
        { "ms", 1000000ull }, { "us", 1000ull }, { "ns", 1ull },
        { "s", 1000000000ull }, { "m", 60000000000ull }, { "h", 3600000000000ull },
    };
    uint64_t total = 0;
    const char *p = s;
    if (!*p)
        return -1;
    while (*p) {
        if (*p < '0' || *p > '9')
            return -1;
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            if (v > UINT64_MAX / 10 - 1)
                return -1;
            v = v * 10 + (uint64_t)(*p++ - '0');
        }
        size_t i;
        for (i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, l) == 0) { /* "ms" is tried before "m" */
                if (v > UINT64_MAX / units[i].mult)
                    return -1;
                total += v * units[i].mult;
                p += l;
                break;
            }
        }
        if (i == sizeof units / sizeof units[0])
            return -1; /* a number without a unit */
    }
    *ns = total;
    return 0;
}

static int get_uint(struct yaml_ctx *cx, const yaml_node_t *n, const char *key, uint32_t lo,
                    uint32_t hi, uint32_t *out)
{
    const char *s = yaml_scalar(n);
    char *end;
    if (!s || !*s)
        return yaml_error(cx, n, "%s: expected an integer", key);
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || s[0] == '-')
        return yaml_error(cx, n, "%s: expected an integer, got '%s'", key, s);
    if (v < lo || v > hi)
        return yaml_error(cx, n, "%s: %llu is out of range [%u, %u]", key, v, lo, hi);
    *out = (uint32_t)v;
    return 0;
}

static int get_duration(struct yaml_ctx *cx, const yaml_node_t *n, const char *key,
                        uint64_t *out)
{
    const char *s = yaml_scalar(n);
    uint64_t v;
    if (!s)
        return yaml_error(cx, n, "%s: expected a duration such as 5s or 250ms", key);
    if (config_parse_duration(s, &v) != 0)
        return yaml_error(cx, n, "%s: '%s' is not a duration (use a unit: 250ms, 5s, 2m)",
                         key, s);
    if (v == 0)
        return yaml_error(cx, n, "%s: must be greater than zero", key);
    *out = v;
    return 0;
}

static int load_limits(struct yaml_ctx *cx, yaml_node_t *m, struct config *c)
{
    if (m->type != YAML_MAPPING_NODE)
        return yaml_error(cx, m, "limits: expected a mapping");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
        const char *key = yaml_scalar(k);
        int rc;
        if (!key)
            return yaml_error(cx, k, "limits: keys must be plain names");
        if (!strcmp(key, "max_flows"))
            rc = get_uint(cx, v, "limits.max_flows", 1, 100000000, &c->max_flows);
        else if (!strcmp(key, "max_servers"))
            rc = get_uint(cx, v, "limits.max_servers", 1, 1000000, &c->max_servers);
        else if (!strcmp(key, "max_frag_datagrams"))
            rc = get_uint(cx, v, "limits.max_frag_datagrams", 1, 65536, &c->max_frag_datagrams);
        else if (!strcmp(key, "max_stream_buffers"))
            rc = get_uint(cx, v, "limits.max_stream_buffers", 1, 65535, &c->max_stream_buffers);
        else if (!strcmp(key, "dns_timeout"))
            rc = get_duration(cx, v, "limits.dns_timeout", &c->dns_timeout_ns);
        else if (!strcmp(key, "tcp_handshake_timeout"))
            rc = get_duration(cx, v, "limits.tcp_handshake_timeout", &c->tcp_handshake_timeout_ns);
        else if (!strcmp(key, "tcp_idle_timeout"))
            rc = get_duration(cx, v, "limits.tcp_idle_timeout", &c->tcp_idle_timeout_ns);
        else if (!strcmp(key, "udp_idle_timeout"))
            rc = get_duration(cx, v, "limits.udp_idle_timeout", &c->udp_idle_timeout_ns);
        else if (!strcmp(key, "closed_flow_timeout"))
            rc = get_duration(cx, v, "limits.closed_flow_timeout", &c->closed_flow_timeout_ns);
        else if (!strcmp(key, "frag_timeout"))
            rc = get_duration(cx, v, "limits.frag_timeout", &c->frag_timeout_ns);
        else
            rc = yaml_error(cx, k,
                           "limits: unknown key '%s' (known: max_flows, max_servers, "
                           "max_frag_datagrams, max_stream_buffers, dns_timeout, tcp_handshake_timeout, "
                           "tcp_idle_timeout, udp_idle_timeout, closed_flow_timeout, frag_timeout)", key);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_list_of_maps(struct yaml_ctx *cx, yaml_node_t *n, const char *what,
                             unsigned *count)
{
    if (n->type == YAML_SCALAR_NODE && !*yaml_scalar(n)) { /* "rules:" with nothing */
        *count = 0;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return yaml_error(cx, n, "%s: expected a list", what);
    unsigned i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *e = yaml_document_get_node(cx->doc, *it);
        if (e->type != YAML_MAPPING_NODE)
            return yaml_error(cx, e, "%s[%u]: expected a mapping", what, i);
    }
    *count = i;
    return 0;
}

static int parse_cidr(const char *s, uint8_t net[16], unsigned *prefix)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof buf)
        return -1;
    memcpy(buf, s, alen);
    buf[alen] = 0;
    unsigned long bits;
    struct in_addr a4;
    struct in6_addr a6;
    unsigned maxbits;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        memset(net, 0, 16);
        net[10] = net[11] = 0xff;
        memcpy(net + 12, &a4, 4);
        maxbits = 32;
    } else if (inet_pton(AF_INET6, buf, &a6) == 1) {
        memcpy(net, &a6, 16);
        maxbits = 128;
    } else {
        return -1;
    }
    if (slash) {
        char *end;
        errno = 0;
        if (!slash[1] || slash[1] == '-' || slash[1] == '+')
            return -1;
        bits = strtoul(slash + 1, &end, 10);
        if (*end || errno || bits > maxbits)
            return -1;
    } else {
        bits = maxbits;
    }
    *prefix = (unsigned)bits + (maxbits == 32 ? 96 : 0);
    /* host bits must be zero: 10.0.0.1/8 is almost always a typo */
    for (unsigned i = *prefix; i < 128; i++)
        if (net[i / 8] & (0x80u >> (i % 8)))
            return -2;
    return 0;
}

static int load_server_match(struct yaml_ctx *cx, yaml_node_t *m, struct server_group *g,
                             unsigned i)
{
    if (m->type != YAML_MAPPING_NODE)
        return yaml_error(cx, m, "servers[%u].match: expected a mapping", i);
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
        const char *key = yaml_scalar(k), *val = yaml_scalar(v);
        if (!key)
            return yaml_error(cx, k, "servers[%u].match: keys must be plain names", i);
        if (!strcmp(key, "cidr")) {
            int rc = val ? parse_cidr(val, g->net, &g->prefix) : -1;
            if (rc == -2)
                return yaml_error(cx, v, "servers[%u].match.cidr: '%s' has host bits set", i, val);
            if (rc)
                return yaml_error(cx, v, "servers[%u].match.cidr: '%s' is not an address or "
                                        "CIDR (10.0.0.0/8, 2001:db8::/32)", i, val ? val : "");
            g->has_cidr = 1;
        } else if (!strcmp(key, "port")) {
            uint32_t port;
            char what[64];
            snprintf(what, sizeof what, "servers[%u].match.port", i);
            if (get_uint(cx, v, what, 1, 65535, &port))
                return -1;
            g->port = (uint16_t)port;
            g->has_port = 1;
        } else if (!strcmp(key, "http_host")) {
            if (!val || !*val || strlen(val) >= sizeof g->http_host)
                return yaml_error(cx, v, "servers[%u].match.http_host: expected a host name", i);
            snprintf(g->http_host, sizeof g->http_host, "%s", val);
        } else {
            return yaml_error(cx, k, "servers[%u].match: unknown key '%s' (known: cidr, port, "
                                    "http_host)", i, key);
        }
    }
    if (!g->has_cidr && !g->has_port && !g->http_host[0])
        return yaml_error(cx, m, "servers[%u].match: give at least one of cidr, port, http_host", i);
    return 0;
}

static int load_servers(struct yaml_ctx *cx, yaml_node_t *n, struct config *c)
{
    unsigned count;
    if (load_list_of_maps(cx, n, "servers", &count))
        return -1;
    if (count > CONFIG_MAX_SERVER_GROUPS)
        return yaml_error(cx, n, "servers: at most %d entries", CONFIG_MAX_SERVER_GROUPS);
    for (unsigned i = 0; i < count; i++) {
        yaml_node_t *e = yaml_document_get_node(cx->doc, n->data.sequence.items.start[i]);
        struct server_group *g = &c->servers[i];
        yaml_node_t *match = NULL;
        memset(g, 0, sizeof *g);
        for (yaml_node_pair_t *p = e->data.mapping.pairs.start; p < e->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
            const char *key = yaml_scalar(k), *val = yaml_scalar(v);
            if (key && !strcmp(key, "name")) {
                if (!val || !*val || strlen(val) >= CONFIG_NAME_MAX)
                    return yaml_error(cx, v, "servers[%u].name: expected a name of 1 to %d "
                                            "characters", i, CONFIG_NAME_MAX - 1);
                if (!strcmp(val, "__overflow__"))
                    return yaml_error(cx, v, "servers[%u].name: '__overflow__' is reserved", i);
                snprintf(g->name, sizeof g->name, "%s", val);
            } else if (key && !strcmp(key, "match")) {
                match = v;
            } else {
                return yaml_error(cx, k, "servers[%u]: unknown key '%s' (known: name, match)", i,
                                 key ? key : "?");
            }
        }
        if (!g->name[0])
            return yaml_error(cx, e, "servers[%u]: missing 'name'", i);
        if (!match)
            return yaml_error(cx, e, "servers[%u] (%s): missing 'match'", i, g->name);
        if (load_server_match(cx, match, g, i))
            return -1;
    }
    c->n_servers = count;
    return 0;
}

static int is_latency_expr(enum rule_expr e)
{
    return rule_expr_kind[e] == EXPR_KIND_TIME;
}

/* a number (strtod; finite) into *out, within [lo, hi] */
static int get_double(struct yaml_ctx *cx, const yaml_node_t *n, const char *what, double lo,
                      double hi, double *out)
{
    const char *s = yaml_scalar(n);
    char *end = NULL;
    if (!s || !*s)
        return yaml_error(cx, n, "%s: expected a number", what);
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v))
        return yaml_error(cx, n, "%s: '%s' is not a number", what, s);
    if (v < lo || v > hi)
        return yaml_error(cx, n, "%s: must be between %g and %g, got %s", what, lo, hi, s);
    *out = v;
    return 0;
}

static int get_string(struct yaml_ctx *cx, const yaml_node_t *v, const char *what, char *out,
                      size_t outlen)
{
    const char *s = yaml_scalar(v);
    if (!s || !*s)
        return yaml_error(cx, v, "%s: expected a non-empty string", what);
    if (strlen(s) >= outlen)
        return yaml_error(cx, v, "%s: longer than %zu characters", what, outlen - 1);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++)
        if (*q < 0x20 || *q == 0x7f)
            return yaml_error(cx, v, "%s: control characters are not allowed", what);
    snprintf(out, outlen, "%s", s);
    return 0;
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
            if (get_uint(cx, v, full, 1, max1, v1))
                return -1;
            seen1 = 1;
        } else if (key && k2 && !strcmp(key, k2)) {
            snprintf(full, sizeof full, "%s.%s", what, k2);
            if (get_uint(cx, v, full, 1, max2, v2))
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
            if (get_string(cx, v, what, r->name, sizeof r->name))
                return -1;
        } else if (!strcmp(key, "server")) {
            if (get_string(cx, v, what, r->server, sizeof r->server))
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
            if (get_double(cx, v, what, 0.000001, 1000000, &r->vs_baseline))
                return -1;
            vsb = v;
        } else if (!strcmp(key, "window")) {
            if (get_duration(cx, v, what, &r->window_ns))
                return -1;
            if (r->window_ns < 1000000ull || r->window_ns > 86400000000000ull)
                return yaml_error(cx, v, "%s: must be between 1ms and 24h", what);
        } else if (!strcmp(key, "min_events")) {
            if (get_uint(cx, v, what, 0, 1000000000u, &r->min_events))
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
            if (get_string(cx, v, what, r->severity, sizeof r->severity))
                return -1;
        } else if (!strcmp(key, "summary")) {
            if (get_string(cx, v, what, r->summary, sizeof r->summary))
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
static int check_rule_servers(struct yaml_ctx *cx, const struct config *c)
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

static int load_rules(struct yaml_ctx *cx, yaml_node_t *n, struct config *c)
{
    unsigned count;
    if (load_list_of_maps(cx, n, "rules", &count))
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

static int load_fault_domain(struct yaml_ctx *cx, yaml_node_t *m, struct config *c)
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
            r = get_duration(cx, v, what, &f->window_ns);
            if (!r && (f->window_ns < 1000000ull || f->window_ns > 86400000000000ull))
                r = yaml_error(cx, v, "%s: must be between 1ms and 24h", what);
        } else if (!strcmp(key, "baseline_windows"))
            r = get_uint(cx, v, what, 1, FD_MAX_BASELINE, &f->baseline_windows);
        else if (!strcmp(key, "min_baseline_windows"))
            r = get_uint(cx, v, what, 1, FD_MAX_BASELINE, &f->min_baseline_windows);
        else if (!strcmp(key, "min_events"))
            r = get_uint(cx, v, what, 1, 1000000000u, &f->min_events);
        else if (!strcmp(key, "handshake_timeout_ratio"))
            r = get_double(cx, v, what, 0, 1, &f->handshake_timeout_ratio);
        else if (!strcmp(key, "retransmit_ratio"))
            r = get_double(cx, v, what, 0, 1, &f->retransmit_ratio);
        else if (!strcmp(key, "error_ratio"))
            r = get_double(cx, v, what, 0, 1, &f->error_ratio);
        else if (!strcmp(key, "min_increase"))
            r = get_duration(cx, v, what, &f->min_increase_ns);
        else if (!strcmp(key, "rtt_vs_baseline"))
            r = get_double(cx, v, what, 1, 1000, &f->rtt_vs_baseline);
        else if (!strcmp(key, "server_time_vs_baseline"))
            r = get_double(cx, v, what, 1, 1000, &f->server_time_vs_baseline);
        else if (!strcmp(key, "response_bytes_vs_baseline"))
            r = get_double(cx, v, what, 0.001, 1, &f->response_bytes_vs_baseline);
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

static int load_alertmanager(struct yaml_ctx *cx, yaml_node_t *m, struct config *c)
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
            if (get_string(cx, v, "alertmanager.url", c->am_url, sizeof c->am_url))
                return -1;
            if (strncmp(val, "http://", 7) && strncmp(val, "https://", 8))
                return yaml_error(cx, v, "alertmanager.url: expected http://HOST:PORT or "
                                        "https://HOST:PORT, got '%s'", val);
            const char *host = strstr(val, "://") + 3;
            if (!*host || *host == '/' || *host == ':')
                return yaml_error(cx, v, "alertmanager.url: '%s' has no host", val);
        } else if (key && !strcmp(key, "resend_interval")) {
            if (get_duration(cx, v, "alertmanager.resend_interval", &c->am_resend_ns))
                return -1;
        } else if (key && !strcmp(key, "timeout")) {
            if (get_duration(cx, v, "alertmanager.timeout", &c->am_timeout_ns))
                return -1;
        } else {
            return yaml_error(cx, k, "alertmanager: unknown key '%s' (known: url, "
                                    "resend_interval, timeout)", key ? key : "?");
        }
    }
    return 0;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int config_load(const char *path, struct config *out, char *err, size_t errlen)
{
    struct config *c = malloc(sizeof *c);
    struct yaml_ctx cx = { .path = path, .err = err, .errlen = errlen };
    yaml_parser_t parser;
    yaml_document_t doc;
    unsigned char *text = NULL;
    size_t len = 0;
    int rc = -1;

    if (!c) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    config_defaults(c);
    snprintf(c->path, sizeof c->path, "%s", path);

    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open config: %s", path, strerror(errno));
        free(c);
        return -1;
    }
    size_t cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (16u << 20)) {
                snprintf(err, errlen, "%s: config larger than 16 MiB", path);
                fclose(f);
                free(text);
                free(c);
                return -1;
            }
            cap = cap ? cap * 2 : 4096;
            unsigned char *nt = realloc(text, cap);
            if (!nt) {
                fclose(f);
                free(text);
                free(c);
                snprintf(err, errlen, "%s: out of memory", path);
                return -1;
            }
            text = nt;
        }
        size_t r = fread(text + len, 1, cap - len, f);
        if (r == 0)
            break;
        len += r;
    }
    fclose(f);
    c->hash = fnv1a(text, len) & ((1ull << 52) - 1); /* exact as a float64 gauge */

    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%lu:%lu: YAML syntax error: %s%s%s", path,
                 (unsigned long)parser.problem_mark.line + 1,
                 (unsigned long)parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "unknown",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        free(text);
        free(c);
        return -1;
    }
    cx.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = 0; /* empty file: all defaults */
        goto done;
    }
    if (root->type != YAML_MAPPING_NODE) {
        yaml_error(&cx, root, "top level: expected a mapping with limits, servers, rules, "
                             "fault_domain, alertmanager");
        goto done;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *key = yaml_scalar(k);
        int r;
        if (!key)
            r = yaml_error(&cx, k, "top level: keys must be plain names");
        else if (!strcmp(key, "limits"))
            r = load_limits(&cx, v, c);
        else if (!strcmp(key, "servers"))
            r = load_servers(&cx, v, c);
        else if (!strcmp(key, "rules"))
            r = load_rules(&cx, v, c);
        else if (!strcmp(key, "alertmanager"))
            r = load_alertmanager(&cx, v, c);
        else if (!strcmp(key, "fault_domain"))
            r = load_fault_domain(&cx, v, c);
        else
            r = yaml_error(&cx, k,
                          "unknown top-level key '%s' (known: limits, servers, rules, "
                          "fault_domain, alertmanager)", key);
        if (r)
            goto done;
    }
    rc = check_rule_servers(&cx, c);
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    if (rc == 0)
        *out = *c;
    free(c);
    return rc;
}
