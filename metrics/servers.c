/*
 * servers.c — see servers.h.
 */
#include "metrics/servers.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

const char *const rcode_name[RCODE_COUNT] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "OTHER",
};
const char *const hs_failure_name[HS_FAIL_COUNT] = { "reset", "timeout" };
const char *const tls_result_name[TLS_RES_COUNT] = { "ok", "alert", "reset", "timeout" };
const char *const tls_sender_name[TLS_SENDER_COUNT] = { "client", "server" };

int server_registry_init(struct server_registry *r, const struct config *cfg)
{
    memset(r, 0, sizeof *r);
    r->max = cfg->max_servers;
    r->cfg = cfg;
    for (unsigned i = 0; i < cfg->n_servers; i++)
    {
        if (cfg->servers[i].http_host[0])
            r->host_groups = 1;
        if (cfg->servers[i].sni[0])
            r->sni_groups = 1;
    }
    uint64_t n = 16;
    while (n < (uint64_t)r->max * 2)
        n <<= 1;
    r->mask = (uint32_t)(n - 1);
    r->index = calloc(n, sizeof *r->index);
    r->s = calloc((size_t)r->max + 1, sizeof *r->s);
    r->h = calloc(((size_t)r->max + 1) * SERVER_HIST_COUNT, sizeof *r->h);
    r->ep_cache = calloc(SERVER_EP_CACHE, sizeof *r->ep_cache);
    if (!r->index || !r->s || !r->h || !r->ep_cache) {
        server_registry_free(r);
        return -1;
    }
    snprintf(r->s[r->max].label, SERVER_LABEL_MAX, "%s", SERVER_OVERFLOW_LABEL);
    /* named groups first, on every worker: a flood of new endpoints can fill
     * the registry, but never push a server the operator named into
     * __overflow__ (their series still appear only once they see traffic) */
    for (unsigned i = 0; i < cfg->n_servers; i++)
        server_registry_get(r, cfg->servers[i].name);
    return 0;
}

void server_registry_free(struct server_registry *r)
{
    free(r->index);
    free(r->s);
    free(r->h);
    free(r->ep_cache);
    r->ep_cache = NULL;
    r->index = NULL;
    r->s = NULL;
    r->h = NULL;
}

static uint32_t label_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h;
}

uint32_t server_registry_get(struct server_registry *r, const char *label)
{
    uint32_t i = label_hash(label) & r->mask;
    while (r->index[i]) {
        uint32_t idx = r->index[i] - 1;
        if (strcmp(r->s[idx].label, label) == 0)
            return idx;
        i = (i + 1) & r->mask;
    }
    if (r->count >= r->max)
        return r->max;
    uint32_t idx = r->count++;
    snprintf(r->s[idx].label, SERVER_LABEL_MAX, "%s", label);
    r->index[i] = idx + 1;
    return idx;
}

void server_format_endpoint(char *out, size_t len, const struct ip_addr *a, uint16_t port)
{
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    char buf[INET6_ADDRSTRLEN];
    if (memcmp(a->b, v4mapped, 12) == 0) {
        inet_ntop(AF_INET, a->b + 12, buf, sizeof buf);
        snprintf(out, len, "%s:%u", buf, port);
    } else {
        inet_ntop(AF_INET6, a->b, buf, sizeof buf);
        snprintf(out, len, "[%s]:%u", buf, port);
    }
}

/* where the packet was seen: a tenant network (VNI + 1, 0 = none) and a VLAN */
static int place_matches(const struct server_group *g, uint32_t tenant, uint16_t vlan)
{
    return (!g->has_vni || tenant == g->vni + 1) && (!g->has_vlan || vlan == g->vlan);
}

static int endpoint_matches(const struct server_group *g, const struct ip_addr *a, uint16_t port,
                            uint32_t tenant, uint16_t vlan)
{
    if (g->has_port && g->port != port)
        return 0;
    if (g->has_cidr) {
        unsigned full = g->prefix / 8, rest = g->prefix % 8;
        if (memcmp(a->b, g->net, full) != 0)
            return 0;
        if (rest && ((a->b[full] ^ g->net[full]) & (0xffu << (8 - rest)) & 0xffu))
            return 0;
    }
    return place_matches(g, tenant, vlan);
}

/* n bytes of a equal b's first n, ASCII letters case-insensitive */
static int ascii_ieq(const uint8_t *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = a[i], d = (uint8_t)b[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (d >= 'A' && d <= 'Z')
            d = (uint8_t)(d + 32);
        if (c != d)
            return 0;
    }
    return 1;
}

/* a name of n bytes equals want (case-insensitive; a trailing dot on
 * either is ignored) */
static int name_equal(const char *want, const uint8_t *h, size_t end)
{
    if (end && h[end - 1] == '.')
        end--;
    size_t wl = strlen(want);
    if (wl && want[wl - 1] == '.')
        wl--;
    return wl == end && ascii_ieq(h, want, end);
}

static int host_equal(const char *want, const uint8_t *h, size_t n)
{
    /* drop ":port" (not inside an IPv6 literal) */
    size_t end = n;
    for (size_t i = n; i > 0; i--) {
        if (h[i - 1] == ']')
            break;
        if (h[i - 1] == ':') {
            end = i - 1;
            break;
        }
    }
    return name_equal(want, h, end);
}

/* "*.example.com" matches a.example.com and a.b.example.com, not
 * example.com; anything else must equal the name */
static int sni_matches(const char *want, const uint8_t *name, size_t n)
{
    if (want[0] != '*')
        return name_equal(want, name, n);
    const char *suffix = want + 1; /* ".example.com" */
    size_t sl = strlen(suffix);
    if (n && name[n - 1] == '.')
        n--;
    if (sl && suffix[sl - 1] == '.')
        sl--;
    return n > sl && name[0] != '.' && ascii_ieq(name + n - sl, suffix, sl);
}

/* The group a request (by_sni 0: its Host) or a ClientHello (by_sni 1: its
 * SNI) names: groups of the other kind are skipped; an endpoint group that
 * matches first means the flow's own server. */
static uint32_t named_group(struct server_registry *r, const struct ip_addr *a, uint16_t port,
                            uint32_t tenant, uint16_t vlan, int by_sni, const uint8_t *name,
                            size_t len, uint32_t endpoint)
{
    for (unsigned i = 0; i < r->cfg->n_servers; i++) {
        const struct server_group *g = &r->cfg->servers[i];
        int where = g->has_cidr || g->has_port || g->has_vni || g->has_vlan;
        const char *want = by_sni ? g->sni : g->http_host;
        if ((by_sni ? g->http_host : g->sni)[0])
            continue;
        if (want[0]) {
            int hit = by_sni ? len && sni_matches(want, name, len)
                             : name && host_equal(want, name, len);
            if (hit && endpoint_matches(g, a, port, tenant, vlan))
                return server_registry_get(r, g->name);
        } else if (where && endpoint_matches(g, a, port, tenant, vlan)) {
            return endpoint; /* an endpoint group comes first: the flow's server is it */
        }
    }
    return endpoint;
}

uint32_t server_registry_http(struct server_registry *r, const struct ip_addr *a, uint16_t port,
                              uint32_t tenant, uint16_t vlan, const uint8_t *host,
                              size_t host_len, uint32_t endpoint)
{
    return named_group(r, a, port, tenant, vlan, 0, host, host_len, endpoint);
}

uint32_t server_registry_sni(struct server_registry *r, const struct ip_addr *a, uint16_t port,
                             uint32_t tenant, uint16_t vlan, const uint8_t *sni, size_t sni_len,
                             uint32_t endpoint)
{
    return named_group(r, a, port, tenant, vlan, 1, sni, sni_len, endpoint);
}

/* The first group without a Host condition that matches, else IP:port
 * (in a tenant network: IP:port@vniN, since tenants may reuse addresses).
 * Groups with a Host condition are decided per request. */
static uint32_t endpoint_lookup(struct server_registry *r, const struct ip_addr *a,
                                uint16_t port, uint32_t tenant, uint16_t vlan)
{
    char label[SERVER_LABEL_MAX];
    for (unsigned i = 0; i < r->cfg->n_servers; i++) {
        const struct server_group *g = &r->cfg->servers[i];
        if (!g->http_host[0] && !g->sni[0] && endpoint_matches(g, a, port, tenant, vlan))
            return server_registry_get(r, g->name);
    }
    server_format_endpoint(label, sizeof label, a, port);
    if (tenant) {
        size_t n = strlen(label);
        snprintf(label + n, sizeof label - n, "@vni%u", tenant - 1);
    }
    return server_registry_get(r, label);
}

uint32_t server_registry_endpoint(struct server_registry *r, const struct ip_addr *a,
                                  uint16_t port, uint32_t tenant, uint16_t vlan)
{
    uint64_t h = load_u64(a->b) * 0x9e3779b97f4a7c15ull +
                 (load_u64(a->b + 8) ^ port ^ (uint64_t)tenant << 16 ^ (uint64_t)vlan << 40);
    h ^= h >> 32; /* the last address byte is in the top bits of hi */
    h *= 0xc2b2ae3d27d4eb4full;
    struct server_ep_cache *c = &r->ep_cache[h >> (64 - 12)];
    if (c->valid && c->port == port && c->tenant == tenant && c->vlan == vlan &&
        memcmp(&c->a, a, sizeof *a) == 0)
        return c->idx;
    uint32_t idx = endpoint_lookup(r, a, port, tenant, vlan);
    c->a = *a;
    c->port = port;
    c->tenant = tenant;
    c->vlan = vlan;
    c->valid = 1;
    c->idx = idx;
    return idx;
}

/* every counter of server_stats is a uint64_t after the label and flags */
#define STATS_OFF offsetof(struct server_stats, dns_queries)
#define STATS_N ((sizeof(struct server_stats) - STATS_OFF) / sizeof(uint64_t))
_Static_assert((sizeof(struct server_stats) - offsetof(struct server_stats, dns_queries)) %
                       sizeof(uint64_t) == 0,
               "server_stats counters must be uint64_t");

void server_stats_add(struct server_stats *d, const struct server_stats *s)
{
    d->seen_dns |= s->seen_dns;
    d->seen_tcp |= s->seen_tcp;
    d->seen_http |= s->seen_http;
    d->seen_tls |= s->seen_tls;
    if (s->tls_cert_seen_ns && s->tls_cert_seen_ns >= d->tls_cert_seen_ns) {
        d->tls_cert_seen_ns = s->tls_cert_seen_ns;
        d->tls_cert_not_after = s->tls_cert_not_after;
    }
    uint64_t *dv = (uint64_t *)((char *)d + STATS_OFF);
    const uint64_t *sv = (const uint64_t *)((const char *)s + STATS_OFF);
    for (size_t k = 0; k < STATS_N; k++)
        dv[k] += sv[k];
}

void server_stats_sub(struct server_stats *d, const struct server_stats *cur,
                      const struct server_stats *prev)
{
    uint64_t *dv = (uint64_t *)((char *)d + STATS_OFF);
    const uint64_t *cv = (const uint64_t *)((const char *)cur + STATS_OFF);
    const uint64_t *pv = (const uint64_t *)((const char *)prev + STATS_OFF);
    memcpy(d, cur, STATS_OFF);
    for (size_t k = 0; k < STATS_N; k++)
        dv[k] = cv[k] - pv[k];
}

void server_registry_clear(struct server_registry *r)
{
    SERVER_FOREACH_SLOT(r, i) {
        struct server_stats *s = &r->s[i];
        s->seen_dns = s->seen_tcp = s->seen_http = s->seen_tls = 0;
        s->tls_cert_not_after = 0;
        s->tls_cert_seen_ns = 0;
        memset((char *)s + STATS_OFF, 0, STATS_N * sizeof(uint64_t));
        for (int k = 0; k < SERVER_HIST_COUNT; k++) {
            struct histogram *h = server_hist(r, i, (enum server_hist)k);
            if (h->count)
                memset(h, 0, sizeof *h);
        }
    }
    r->overflow_samples = 0;
}

void server_registry_add(struct server_registry *dst, const struct server_registry *src)
{
    SERVER_FOREACH_SLOT(src, i) {
        const struct server_stats *s = &src->s[i];
        if (!server_seen_any(s))
            continue;
        uint32_t j = i == src->max ? dst->max : server_registry_get(dst, s->label);
        if (j == dst->max && i != src->max)
            dst->overflow_samples++;
        server_stats_add(&dst->s[j], s);
        for (int k = 0; k < SERVER_HIST_COUNT; k++) {
            const struct histogram *h = &src->h[(size_t)i * SERVER_HIST_COUNT + (size_t)k];
            if (h->count)
                hist_merge(server_hist(dst, j, (enum server_hist)k), h);
        }
    }
    dst->overflow_samples += src->overflow_samples;
}
