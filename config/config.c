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

#include "config/load.h"

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    c->max_flows = 1000000;
    c->max_servers = 1000;
    c->max_frag_datagrams = 256;
    c->max_stream_buffers = 4096;
    c->dns_timeout_ns = 5000000000ull;
    c->dedup_window_ns = 500000ull;
    c->n_vxlan_ports = 1;
    c->vxlan_ports[0] = 4789;
    c->tcp_handshake_timeout_ns = 3000000000ull;
    c->tls_handshake_timeout_ns = 10000000000ull;
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
           a->tls_handshake_timeout_ns == b->tls_handshake_timeout_ns &&
           a->tcp_idle_timeout_ns == b->tcp_idle_timeout_ns &&
           a->udp_idle_timeout_ns == b->udp_idle_timeout_ns &&
           a->closed_flow_timeout_ns == b->closed_flow_timeout_ns &&
           a->frag_timeout_ns == b->frag_timeout_ns && a->dedup_window_ns == b->dedup_window_ns &&
           a->n_vxlan_ports == b->n_vxlan_ports &&
           !memcmp(a->vxlan_ports, b->vxlan_ports, sizeof a->vxlan_ports) &&
           a->n_servers == b->n_servers &&
           !memcmp(a->servers, b->servers, a->n_servers * sizeof a->servers[0]);
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

/* limits.dedup_window: a duration up to 1 s, or 0 (off) */
static int load_dedup_window(struct yaml_ctx *cx, const yaml_node_t *v, uint64_t *out)
{
    const char *t = yaml_scalar(v);
    if (t && (!strcmp(t, "0") || !strcmp(t, "0s") || !strcmp(t, "off"))) {
        *out = 0;
        return 0;
    }
    if (yaml_get_duration(cx, v, "limits.dedup_window", out) != 0)
        return -1;
    if (*out > 1000000000ull)
        return yaml_error(cx, v, "limits.dedup_window: at most 1s (copies from a SPAN session "
                                 "arrive microseconds apart)");
    return 0;
}

/* tunnels: { vxlan_ports: [4789, 8472] } */
static int load_tunnels(struct yaml_ctx *cx, yaml_node_t *m, struct config *c)
{
    if (m->type != YAML_MAPPING_NODE)
        return yaml_error(cx, m, "tunnels: expected a mapping");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
        const char *key = yaml_scalar(k);
        if (!key || strcmp(key, "vxlan_ports"))
            return yaml_error(cx, k, "tunnels: unknown key '%s' (known: vxlan_ports)",
                              key ? key : "");
        if (v->type != YAML_SEQUENCE_NODE)
            return yaml_error(cx, v, "tunnels.vxlan_ports: expected a list of ports");
        unsigned n = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *e = yaml_document_get_node(cx->doc, *it);
            uint32_t port;
            if (n == CONFIG_MAX_VXLAN_PORTS)
                return yaml_error(cx, e, "tunnels.vxlan_ports: at most %d ports",
                                  CONFIG_MAX_VXLAN_PORTS);
            if (yaml_get_uint(cx, e, "tunnels.vxlan_ports", 1, 65535, &port))
                return -1;
            c->vxlan_ports[n++] = (uint16_t)port;
        }
        if (!n)
            return yaml_error(cx, v, "tunnels.vxlan_ports: give at least one port");
        c->n_vxlan_ports = n;
    }
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
            rc = yaml_get_uint(cx, v, "limits.max_flows", 1, 100000000, &c->max_flows);
        else if (!strcmp(key, "max_servers"))
            rc = yaml_get_uint(cx, v, "limits.max_servers", 1, 1000000, &c->max_servers);
        else if (!strcmp(key, "max_frag_datagrams"))
            rc = yaml_get_uint(cx, v, "limits.max_frag_datagrams", 1, 65536, &c->max_frag_datagrams);
        else if (!strcmp(key, "max_stream_buffers"))
            rc = yaml_get_uint(cx, v, "limits.max_stream_buffers", 1, 65535, &c->max_stream_buffers);
        else if (!strcmp(key, "dns_timeout"))
            rc = yaml_get_duration(cx, v, "limits.dns_timeout", &c->dns_timeout_ns);
        else if (!strcmp(key, "tcp_handshake_timeout"))
            rc = yaml_get_duration(cx, v, "limits.tcp_handshake_timeout", &c->tcp_handshake_timeout_ns);
        else if (!strcmp(key, "tls_handshake_timeout"))
            rc = yaml_get_duration(cx, v, "limits.tls_handshake_timeout", &c->tls_handshake_timeout_ns);
        else if (!strcmp(key, "tcp_idle_timeout"))
            rc = yaml_get_duration(cx, v, "limits.tcp_idle_timeout", &c->tcp_idle_timeout_ns);
        else if (!strcmp(key, "udp_idle_timeout"))
            rc = yaml_get_duration(cx, v, "limits.udp_idle_timeout", &c->udp_idle_timeout_ns);
        else if (!strcmp(key, "closed_flow_timeout"))
            rc = yaml_get_duration(cx, v, "limits.closed_flow_timeout", &c->closed_flow_timeout_ns);
        else if (!strcmp(key, "dedup_window"))
            rc = load_dedup_window(cx, v, &c->dedup_window_ns);
        else if (!strcmp(key, "frag_timeout"))
            rc = yaml_get_duration(cx, v, "limits.frag_timeout", &c->frag_timeout_ns);
        else
            rc = yaml_error(cx, k,
                           "limits: unknown key '%s' (known: max_flows, max_servers, "
                           "max_frag_datagrams, max_stream_buffers, dns_timeout, tcp_handshake_timeout, "
                           "tls_handshake_timeout, "
                           "tcp_idle_timeout, udp_idle_timeout, closed_flow_timeout, frag_timeout, dedup_window)", key);
        if (rc)
            return rc;
    }
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
            if (yaml_get_uint(cx, v, what, 1, 65535, &port))
                return -1;
            g->port = (uint16_t)port;
            g->has_port = 1;
        } else if (!strcmp(key, "http_host")) {
            if (!val || !*val || strlen(val) >= sizeof g->http_host)
                return yaml_error(cx, v, "servers[%u].match.http_host: expected a host name", i);
            snprintf(g->http_host, sizeof g->http_host, "%s", val);
        } else if (!strcmp(key, "sni")) {
            if (!val || !*val || strlen(val) >= sizeof g->sni || strchr(val, '*') != strrchr(val, '*') ||
                (strchr(val, '*') && (val[0] != '*' || val[1] != '.' || !val[2])))
                return yaml_error(cx, v, "servers[%u].match.sni: expected a server name, or "
                                         "*.domain for any name under domain", i);
            snprintf(g->sni, sizeof g->sni, "%s", val);
        } else if (!strcmp(key, "vni") || !strcmp(key, "vlan")) {
            int vni = key[1] == 'n';
            uint32_t n;
            char what[64];
            snprintf(what, sizeof what, "servers[%u].match.%s", i, key);
            if (yaml_get_uint(cx, v, what, vni ? 0 : 1, vni ? 16777215 : 4094, &n))
                return -1;
            if (vni) {
                g->vni = n;
                g->has_vni = 1;
            } else {
                g->vlan = (uint16_t)n;
                g->has_vlan = 1;
            }
        } else {
            return yaml_error(cx, k, "servers[%u].match: unknown key '%s' (known: cidr, port, "
                                    "http_host, sni, vni, vlan)", i, key);
        }
    }
    if (!g->has_cidr && !g->has_port && !g->http_host[0] && !g->sni[0] && !g->has_vni &&
        !g->has_vlan)
        return yaml_error(cx, m, "servers[%u].match: give at least one of cidr, port, http_host, "
                                 "sni, vni, vlan", i);
    if (g->http_host[0] && g->sni[0])
        return yaml_error(cx, m, "servers[%u].match: http_host and sni name different protocols' "
                                 "servers: give one of them", i);
    return 0;
}

static int load_servers(struct yaml_ctx *cx, yaml_node_t *n, struct config *c)
{
    unsigned count;
    if (yaml_list_of_maps(cx, n, "servers", &count))
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
            r = config_load_rules(&cx, v, c);
        else if (!strcmp(key, "alertmanager"))
            r = config_load_alertmanager(&cx, v, c);
        else if (!strcmp(key, "fault_domain"))
            r = config_load_fault_domain(&cx, v, c);
        else if (!strcmp(key, "tunnels"))
            r = load_tunnels(&cx, v, c);
        else
            r = yaml_error(&cx, k,
                          "unknown top-level key '%s' (known: limits, servers, rules, "
                          "fault_domain, alertmanager, tunnels)", key);
        if (r)
            goto done;
    }
    rc = config_check_rule_servers(&cx, c);
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    if (rc == 0)
        *out = *c;
    free(c);
    return rc;
}
