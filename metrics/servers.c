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
