/*
 * flow_table.c — see flow_table.h. The index uses linear probing with
 * backward-shift deletion, so there are no tombstones and probe runs stay
 * short; records never move.
 */
#include "flow/flow_table.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define FULL_EVICT_SAMPLE 16
#define SWEEP_BATCH 16

_Static_assert(sizeof(struct flow) == 256, "a flow record is four cache lines");
_Static_assert(offsetof(struct flow, app) == 64, "analyzer area offset");
_Static_assert(offsetof(struct flow, last_ns) + sizeof(uint64_t) <= 64,
               "the sweep reads one cache line per record");

const char *const flow_proto_name[FLOW_PROTO_COUNT] = { "tcp", "udp", "other" };
const char *const flow_evict_reason_name[FLOW_EVICT_COUNT] = { "idle", "full" };

int flow_table_init(struct flow_table *ft, const struct flow_table_config *cfg)
{
    memset(ft, 0, sizeof *ft);
    uint32_t maxf = cfg->max_flows ? cfg->max_flows : 1;
    uint64_t n = 16;
    while (n < (uint64_t)maxf * 2)
        n <<= 1;
    if (n > (1ull << 31))
        return -1;
    /* allocated for max_flows (pages untouched until used), but in use
     * only as large as twice the flows present: a table of a million slots
     * for a few thousand short flows would make every lookup a cache and
     * TLB miss (flow_table_get grows it) */
    ft->index = calloc(n, sizeof *ft->index);
    ft->max_mask = (uint32_t)(n - 1);
    ft->recs = calloc(maxf, sizeof *ft->recs);
    ft->free_stack = malloc((size_t)maxf * sizeof *ft->free_stack);
    if (!ft->index || !ft->recs || !ft->free_stack) {
        flow_table_free(ft);
        return -1;
    }
    /* records are handed out lowest index first (hwm grows one by one), so
     * a lightly used table touches few pages; the free stack holds only
     * released records and is not written at start (4 MB for 1 M flows) */
    ft->nfree = 0;
    ft->mask = (uint32_t)((n < FLOW_INDEX_MIN ? n : FLOW_INDEX_MIN) - 1);
    ft->max_flows = maxf;
    ft->idle_ns[FLOW_PROTO_TCP] = cfg->tcp_idle_ns;
    ft->idle_ns[FLOW_PROTO_UDP] = cfg->udp_idle_ns;
    ft->idle_ns[FLOW_PROTO_OTHER] = cfg->udp_idle_ns;
    ft->done_idle_ns = cfg->done_idle_ns;
    return 0;
}

void flow_table_free(struct flow_table *ft)
{
    free(ft->index);
    free(ft->recs);
    free(ft->free_stack);
    ft->index = NULL;
    ft->recs = NULL;
    ft->free_stack = NULL;
}

void flow_key_make(struct flow_key *k, const struct ip_addr *src, uint16_t sport,
                   const struct ip_addr *dst, uint16_t dport, uint8_t proto, uint8_t *dir)
{
    /* memcmp order (bytes as a big-endian number), without the call */
    uint64_t s0 = __builtin_bswap64(load_u64(src->b)), s1 = __builtin_bswap64(load_u64(src->b + 8));
    uint64_t d0 = __builtin_bswap64(load_u64(dst->b)), d1 = __builtin_bswap64(load_u64(dst->b + 8));
    bool src_lo = s0 != d0 ? s0 < d0 : s1 != d1 ? s1 < d1 : sport <= dport;
    if (src_lo) {
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
    k->vni[0] = k->vni[1] = k->vni[2] = 0;
}

uint32_t flow_key_hash(const struct flow_key *k)
{
    /* the five words multiplied independently (no chain of dependent
     * multiplies), then mixed so that high bits reach the low ones the
     * table index uses */
    _Static_assert(sizeof *k == 40, "flow_key is five words");
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = load_u64(p) * 0x9e3779b97f4a7c15ull ^ load_u64(p + 8) * 0xbf58476d1ce4e5b9ull ^
                 load_u64(p + 16) * 0x94d049bb133111ebull ^ load_u64(p + 24) * 0xd6e8feb86659fd93ull ^
                 load_u64(p + 32) * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 32;
    h *= 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

static inline uint32_t slot_hash(uint64_t s)
{
    return (uint32_t)(s >> 32);
}

static inline uint32_t slot_rec(uint64_t s)
{
    return (uint32_t)s - 1;
}

/* Index slot holding record r (which must be live). */
static uint32_t find_slot(const struct flow_table *ft, uint32_t r)
{
    uint32_t i = ft->recs[r].hash & ft->mask;
    while (slot_rec(ft->index[i]) != r)
        i = (i + 1) & ft->mask;
    return i;
}

static void remove_rec(struct flow_table *ft, uint32_t r, enum flow_evict_reason why)
{
    struct flow *f = &ft->recs[r];
    if (ft->on_evict)
        ft->on_evict(ft->evict_ctx, f, why);
    ft->active[flow_proto_of(f->key.proto)]--;
    ft->count--;
    ft->evictions[why]++;
    /* backward shift: pull later members of the probe run into the hole */
    uint32_t hole = find_slot(ft, r);
    uint32_t j = (hole + 1) & ft->mask;
    while (ft->index[j]) {
        uint32_t home = slot_hash(ft->index[j]) & ft->mask;
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            ft->index[hole] = ft->index[j];
            hole = j;
        }
        j = (j + 1) & ft->mask;
    }
    ft->index[hole] = 0;
    f->used = 0;
    f->gen++;
    ft->free_stack[ft->nfree++] = r;
}

static void evict_for_room(struct flow_table *ft)
{
    uint32_t best = UINT32_MAX;
    for (uint32_t n = 0; n < FULL_EVICT_SAMPLE; n++) {
        uint32_t r = ft->evict_pos;
        ft->evict_pos = ft->evict_pos + 1 >= ft->max_flows ? 0 : ft->evict_pos + 1;
        if (ft->recs[r].used &&
            (best == UINT32_MAX || ft->recs[r].last_ns < ft->recs[best].last_ns))
            best = r;
    }
    if (best != UINT32_MAX)
        remove_rec(ft, best, FLOW_EVICT_FULL);
}

/* The first empty index slot of hash's probe run. */
static uint32_t free_slot(const struct flow_table *ft, uint32_t hash)
{
    uint32_t i = hash & ft->mask;
    while (ft->index[i])
        i = (i + 1) & ft->mask;
    return i;
}

/* Double the index in use, up to the allocated size, and place every live
 * record again. The larger prefix holds the smaller: clear it and reinsert
 * from the records (amortised O(1) a flow; 17 doublings from FLOW_INDEX_MIN
 * to a million-flow table, none once the flow count is stable). */
static void grow_index(struct flow_table *ft)
{
    uint32_t mask = ft->mask * 2 + 1;
    memset(ft->index, 0, ((size_t)mask + 1) * sizeof *ft->index);
    ft->mask = mask;
    for (uint32_t r = 0; r < ft->hwm; r++) {
        const struct flow *f = &ft->recs[r];
        if (f->used)
            ft->index[free_slot(ft, f->hash)] = (uint64_t)f->hash << 32 | (uint64_t)(r + 1);
    }
}

struct flow *flow_table_get(struct flow_table *ft, const struct flow_key *k, uint32_t hash,
                            uint64_t now_ns, bool *created)
{
    uint32_t i = hash & ft->mask;
    for (;;) {
        uint64_t s = ft->index[i];
        if (!s)
            break;
        if (slot_hash(s) == hash) {
            struct flow *f = &ft->recs[slot_rec(s)];
            if (memcmp(&f->key, k, sizeof *k) == 0) {
                *created = false;
                return f;
            }
        }
        i = (i + 1) & ft->mask;
    }
    /* making room (the shift may move slots) or growing the index (the
     * load at most one half) moves the free slot: find it again */
    if (ft->nfree == 0 && ft->hwm == ft->max_flows) {
        evict_for_room(ft);
        i = free_slot(ft, hash);
    } else if (ft->count >= (ft->mask + 1) / 2 && ft->mask < ft->max_mask) {
        grow_index(ft);
        i = free_slot(ft, hash);
    }
    /* the most recently released record, else the next never used */
    uint32_t r = ft->nfree ? ft->free_stack[--ft->nfree] : ft->hwm++;
    struct flow *f = &ft->recs[r];
    uint32_t gen = f->gen;
    memset(f, 0, sizeof *f);
    f->gen = gen;
    f->key = *k;
    f->hash = hash;
    f->used = 1;
    f->last_ns = now_ns;
    ft->index[i] = (uint64_t)hash << 32 | (uint64_t)(r + 1);
    ft->count++;
    ft->created++;
    ft->active[flow_proto_of(k->proto)]++;
    *created = true;
    return f;
}

void flow_table_sweep(struct flow_table *ft, uint64_t now_ns, uint32_t budget)
{
    /* expired records are collected first and their index slots prefetched,
     * then removed: the slot is a random read into a table of megabytes */
    uint32_t todo[SWEEP_BATCH], n = 0;
    uint32_t r = ft->sweep_pos;
    if (r >= ft->hwm)
        r = 0;
    if (budget > ft->hwm)
        budget = ft->hwm; /* each slot at most once per call (todo holds no duplicates) */
    while (budget > 0 && ft->count > 0) {
        budget--;
        struct flow *f = &ft->recs[r];
        if (f->used) {
            uint64_t idle = f->done && ft->done_idle_ns ? ft->done_idle_ns
                                                        : ft->idle_ns[flow_proto_of(f->key.proto)];
            if (now_ns > f->last_ns && now_ns - f->last_ns > idle) {
                __builtin_prefetch(&ft->index[f->hash & ft->mask]);
                todo[n++] = r;
            }
        }
        r = r + 1 >= ft->hwm ? 0 : r + 1; /* nothing is in use past hwm */
        if (n == SWEEP_BATCH) {
            for (uint32_t i = 0; i < n; i++)
                remove_rec(ft, todo[i], FLOW_EVICT_IDLE);
            n = 0;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        remove_rec(ft, todo[i], FLOW_EVICT_IDLE);
    ft->sweep_pos = r;
}

void flow_table_foreach(struct flow_table *ft, void (*fn)(void *ctx, struct flow *f), void *ctx)
{
    /* records are handed out lowest index first: none is in use past hwm */
    for (uint32_t r = 0; r < ft->hwm; r++)
        if (ft->recs[r].used)
            fn(ctx, &ft->recs[r]);
}
