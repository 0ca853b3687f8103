/*
 * flow_table.c — see flow_table.h. Deletion uses backward shifting, so
 * there are no tombstones and probe sequences stay short.
 */
#include "flow_table.h"

#include <stdlib.h>
#include <string.h>

#define FULL_EVICT_SAMPLE 16

const char *const flow_proto_name[FLOW_PROTO_COUNT] = { "tcp", "udp", "other" };
const char *const flow_evict_reason_name[FLOW_EVICT_COUNT] = { "idle", "full" };

int flow_table_init(struct flow_table *ft, const struct flow_table_config *cfg)
{
    memset(ft, 0, sizeof *ft);
    uint64_t want = (uint64_t)(cfg->max_flows ? cfg->max_flows : 1) * 5 / 4 + 1;
    uint64_t n = 16;
    while (n < want)
        n <<= 1;
    if (n > (1ull << 31))
        return -1;
    ft->slots = calloc(n, sizeof *ft->slots);
    if (!ft->slots)
        return -1;
    ft->mask = (uint32_t)(n - 1);
    ft->max_flows = cfg->max_flows ? cfg->max_flows : 1;
    ft->idle_ns[FLOW_PROTO_TCP] = cfg->tcp_idle_ns;
    ft->idle_ns[FLOW_PROTO_UDP] = cfg->udp_idle_ns;
    ft->idle_ns[FLOW_PROTO_OTHER] = cfg->udp_idle_ns;
    return 0;
}

void flow_table_free(struct flow_table *ft)
{
    free(ft->slots);
    ft->slots = NULL;
}

void flow_key_make(struct flow_key *k, const struct ip_addr *src, uint16_t sport,
                   const struct ip_addr *dst, uint16_t dport, uint8_t proto, uint8_t *dir)
{
    int c = memcmp(src, dst, sizeof *src);
    if (c < 0 || (c == 0 && sport <= dport)) {
        k->lo = *src;
        k->hi = *dst;
        k->lo_port = sport;
        k->hi_port = dport;
        *dir = 0;
    } else {
        k->lo = *dst;
        k->hi = *src;
        k->lo_port = dport;
        k->hi_port = sport;
        *dir = 1;
    }
    k->proto = proto;
    k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

uint32_t flow_key_hash(const struct flow_key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof *k; i += 8) {
        h ^= load64(p + i);
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    h *= 0x94d049bb133111ebull;
    h ^= h >> 29;
    return (uint32_t)h;
}

static inline bool key_eq(const struct flow_key *a, const struct flow_key *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

static void remove_at(struct flow_table *ft, uint32_t i, enum flow_evict_reason why, bool count)
{
    struct flow *f = &ft->slots[i];
    if (ft->on_evict)
        ft->on_evict(ft->evict_ctx, f, why);
    ft->active[flow_proto_of(f->key.proto)]--;
    ft->count--;
    if (count)
        ft->evictions[why]++;
    /* backward shift: pull later members of the probe run into the hole */
    uint32_t hole = i;
    uint32_t j = (i + 1) & ft->mask;
    while (ft->slots[j].used) {
        uint32_t home = ft->slots[j].hash & ft->mask;
        /* move j into hole unless home lies cyclically in (hole, j] */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            ft->slots[hole] = ft->slots[j];
            hole = j;
        }
        j = (j + 1) & ft->mask;
    }
    ft->slots[hole].used = 0;
}

static void evict_for_room(struct flow_table *ft, uint32_t start)
{
    uint32_t best = UINT32_MAX, seen = 0;
    for (uint32_t i = start, n = 0; n <= ft->mask && seen < FULL_EVICT_SAMPLE; n++,
                  i = (i + 1) & ft->mask) {
        if (!ft->slots[i].used)
            continue;
        seen++;
        if (best == UINT32_MAX || ft->slots[i].last_ns < ft->slots[best].last_ns)
            best = i;
    }
    if (best != UINT32_MAX)
        remove_at(ft, best, FLOW_EVICT_FULL, true);
}

struct flow *flow_table_get(struct flow_table *ft, const struct flow_key *k, uint32_t hash,
                            uint64_t now_ns, bool *created)
{
    uint32_t i = hash & ft->mask;
    for (;;) {
        struct flow *f = &ft->slots[i];
        if (!f->used)
            break;
        if (f->hash == hash && key_eq(&f->key, k)) {
            *created = false;
            return f;
        }
        i = (i + 1) & ft->mask;
    }
    if (ft->count >= ft->max_flows) {
        evict_for_room(ft, hash & ft->mask);
        /* the shift may have moved entries: find the first free slot again */
        i = hash & ft->mask;
        while (ft->slots[i].used)
            i = (i + 1) & ft->mask;
    }
    struct flow *f = &ft->slots[i];
    memset(f, 0, sizeof *f);
    f->key = *k;
    f->hash = hash;
    f->used = 1;
    f->first_ns = f->last_ns = now_ns;
    ft->count++;
    ft->created++;
    ft->active[flow_proto_of(k->proto)]++;
    *created = true;
    return f;
}

void flow_table_sweep(struct flow_table *ft, uint64_t now_ns, uint32_t budget)
{
    uint32_t i = ft->sweep_pos;
    while (budget-- > 0 && ft->count > 0) {
        struct flow *f = &ft->slots[i];
        if (f->used) {
            uint64_t idle = ft->idle_ns[flow_proto_of(f->key.proto)];
            if (now_ns > f->last_ns && now_ns - f->last_ns > idle) {
                remove_at(ft, i, FLOW_EVICT_IDLE, true);
                continue; /* a shifted entry may now sit at i */
            }
        }
        i = (i + 1) & ft->mask;
    }
    ft->sweep_pos = i;
}

void flow_table_foreach(struct flow_table *ft, void (*fn)(void *ctx, struct flow *f), void *ctx)
{
    for (uint32_t i = 0; i <= ft->mask; i++)
        if (ft->slots[i].used)
            fn(ctx, &ft->slots[i]);
}
