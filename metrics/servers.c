/*
 * servers.c — see servers.h.
 */
#include "servers.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const rcode_name[RCODE_COUNT] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "OTHER",
};
const char *const hs_failure_name[HS_FAIL_COUNT] = { "reset", "timeout" };

int server_registry_init(struct server_registry *r, const struct config *cfg)
{
    memset(r, 0, sizeof *r);
    r->max = cfg->max_servers;
    r->cfg = cfg;
    for (unsigned i = 0; i < cfg->n_servers; i++)
        if (cfg->servers[i].http_host[0])
            r->host_groups = 1;
    uint64_t n = 16;
    while (n < (uint64_t)r->max * 2)
        n <<= 1;
    r->mask = (uint32_t)(n - 1);
    r->index = calloc(n, sizeof *r->index);
    r->s = calloc((size_t)r->max + 1, sizeof *r->s);
    r->h = calloc(((size_t)r->max + 1) * SERVER_HIST_COUNT, sizeof *r->h);
    if (!r->index || !r->s || !r->h) {
        server_registry_free(r);
        return -1;
    }
    snprintf(r->s[r->max].label, SERVER_LABEL_MAX, "%s", SERVER_OVERFLOW_LABEL);
    return 0;
}

void server_registry_free(struct server_registry *r)
{
    free(r->index);
    free(r->s);
    free(r->h);
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

static int group_matches(const struct server_group *g, const struct ip_addr *a, uint16_t port)
{
    if (g->http_host[0] && !g->has_cidr && !g->has_port)
        return 0; /* Host-only groups apply to HTTP requests, not endpoints */
    if (g->has_port && g->port != port)
        return 0;
    if (g->has_cidr) {
        unsigned full = g->prefix / 8, rest = g->prefix % 8;
        if (memcmp(a->b, g->net, full) != 0)
            return 0;
        if (rest && ((a->b[full] ^ g->net[full]) & (0xffu << (8 - rest)) & 0xffu))
            return 0;
    }
    return 1;
}

static int endpoint_matches(const struct server_group *g, const struct ip_addr *a, uint16_t port)
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
    return 1;
}

static int host_equal(const char *want, const uint8_t *h, size_t n)
{
    /* drop ":port" (not inside an IPv6 literal) and a trailing dot */
    size_t end = n;
    for (size_t i = n; i > 0; i--) {
        if (h[i - 1] == ']')
            break;
        if (h[i - 1] == ':') {
            end = i - 1;
            break;
        }
    }
    if (end && h[end - 1] == '.')
        end--;
    size_t wl = strlen(want);
    if (wl && want[wl - 1] == '.')
        wl--;
    if (wl != end)
        return 0;
    for (size_t i = 0; i < end; i++) {
        uint8_t c = h[i], d = (uint8_t)want[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (d >= 'A' && d <= 'Z')
            d = (uint8_t)(d + 32);
        if (c != d)
            return 0;
    }
    return 1;
}

uint32_t server_registry_http(struct server_registry *r, const struct ip_addr *a, uint16_t port,
                              const uint8_t *host, size_t host_len, uint32_t endpoint)
{
    for (unsigned i = 0; i < r->cfg->n_servers; i++) {
        const struct server_group *g = &r->cfg->servers[i];
        if (g->http_host[0]) {
            if (host && host_equal(g->http_host, host, host_len) && endpoint_matches(g, a, port))
                return server_registry_get(r, g->name);
        } else if ((g->has_cidr || g->has_port) && endpoint_matches(g, a, port)) {
            return endpoint; /* an endpoint group comes first: the flow's server is it */
        }
    }
    return endpoint;
}

uint32_t server_registry_endpoint(struct server_registry *r, const struct ip_addr *a,
                                  uint16_t port)
{
    char label[SERVER_LABEL_MAX];
    for (unsigned i = 0; i < r->cfg->n_servers; i++) {
        const struct server_group *g = &r->cfg->servers[i];
        if (!g->http_host[0] && group_matches(g, a, port))
            return server_registry_get(r, g->name);
        if (g->http_host[0] && (g->has_cidr || g->has_port) && group_matches(g, a, port))
            continue; /* needs the Host header too: decided per request */
    }
    server_format_endpoint(label, sizeof label, a, port);
    return server_registry_get(r, label);
}
