/*
 * flow_table.h — per-worker table of bidirectional flows.
 *
 * Both directions of a conversation map to one entry: the key stores the
 * two endpoints in canonical order (lower address:port first) and a packet's
 * direction is returned beside the entry.
 *
 * Storage is two arrays allocated once: a dense array of max_flows flow
 * records, whose index never changes while the flow lives (so timers and
 * pending-query tables can refer to a flow by index + generation), and a
 * power-of-two open-addressing index (load factor <= 0.5) of 8-byte slots
 * holding a 32-bit hash tag and the record index; linear probing compares
 * tags inside one cache line before touching a record. Memory is
 * max_flows * sizeof(struct flow) + 16 bytes per flow of index.
 *
 * Idle flows are removed by an incremental sweep over the records, driven by
 * packet time; when all records are in use the least recently seen of a few
 * sampled flows is evicted.
 */
#ifndef SPANWATCH_FLOW_TABLE_H
#define SPANWATCH_FLOW_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"

enum flow_proto { FLOW_PROTO_TCP, FLOW_PROTO_UDP, FLOW_PROTO_OTHER, FLOW_PROTO_COUNT };
extern const char *const flow_proto_name[FLOW_PROTO_COUNT];

enum flow_evict_reason { FLOW_EVICT_IDLE, FLOW_EVICT_FULL, FLOW_EVICT_COUNT };
extern const char *const flow_evict_reason_name[FLOW_EVICT_COUNT];

struct flow_key {
    struct ip_addr lo, hi;
    uint16_t lo_port, hi_port;
    uint8_t proto;
    uint8_t vni[3];          /* VXLAN/Geneve network (tenants may reuse addresses); 0 else */
};

/* The tenant network a flow lives in: part of its key. */
static inline void flow_key_set_vni(struct flow_key *k, uint32_t vni)
{
    k->vni[0] = (uint8_t)(vni >> 16);
    k->vni[1] = (uint8_t)(vni >> 8);
    k->vni[2] = (uint8_t)vni;
}

struct flow {
    struct flow_key key;
    uint32_t hash;
    uint32_t gen;            /* bumped each time the record is reused */
    uint8_t used;
    uint8_t done;            /* analyzers saw the conversation end (answered, FIN/RST):
                              * removed after done_idle_ns instead of the idle timeout */
    uint8_t pad2[6];
    uint64_t last_ns;        /* in the first cache line with used/done/key: all the
                              * idle sweep reads */
    /* analyzer state (analyze/flow_app.h) */
    uint8_t app[256 - 64];
};

/* A reference that stays valid, or detectably stale, across evictions. */
struct flow_ref {
    uint32_t idx;
    uint32_t gen;
};

struct flow_table_config {
    uint32_t max_flows;
    uint64_t tcp_idle_ns;
    uint64_t udp_idle_ns;    /* UDP and other IP protocols */
    uint64_t done_idle_ns;   /* flows marked done (0: no shortcut) */
};

typedef void (*flow_evict_fn)(void *ctx, struct flow *f, enum flow_evict_reason why);

#define FLOW_INDEX_MIN 32768 /* index slots in use at first: 256 KiB */

struct flow_table {
    uint64_t *index;         /* (hash << 32) | (record index + 1); 0 = empty */
    struct flow *recs;
    uint32_t *free_stack;
    uint32_t nfree;
    uint32_t mask;           /* of the index in use (grows with the flows) */
    uint32_t max_mask;       /* of the index allocated (2 x max_flows) */
    uint32_t count;
    uint32_t max_flows;
    uint32_t sweep_pos;
    uint32_t evict_pos;
    uint32_t hwm;            /* 1 + highest record index ever handed out */
    uint64_t idle_ns[FLOW_PROTO_COUNT];
    uint64_t done_idle_ns;
    uint64_t active[FLOW_PROTO_COUNT];
    uint64_t evictions[FLOW_EVICT_COUNT];
    uint64_t created;
    flow_evict_fn on_evict;
    void *evict_ctx;
};

int flow_table_init(struct flow_table *ft, const struct flow_table_config *cfg);
void flow_table_free(struct flow_table *ft);

/* Canonical key for a packet; *dir = 0 if src is the "lo" endpoint. */
void flow_key_make(struct flow_key *k, const struct ip_addr *src, uint16_t sport,
                   const struct ip_addr *dst, uint16_t dport, uint8_t proto, uint8_t *dir);
/* Symmetric by construction (hashes the canonical key). */
uint32_t flow_key_hash(const struct flow_key *k);

/* Find the flow, creating it if absent (evicting to make room when full).
 * *created tells which. Never fails once the table is initialised. */
struct flow *flow_table_get(struct flow_table *ft, const struct flow_key *k, uint32_t hash,
                            uint64_t now_ns, bool *created);

/* Look at up to `budget` slots and remove flows idle past their timeout. */
void flow_table_sweep(struct flow_table *ft, uint64_t now_ns, uint32_t budget);

/* Resolve a reference: the flow, or NULL if it has been removed since. */
static inline struct flow *flow_table_deref(struct flow_table *ft, struct flow_ref r)
{
    struct flow *f = &ft->recs[r.idx];
    return r.idx < ft->max_flows && f->used && f->gen == r.gen ? f : NULL;
}

static inline struct flow_ref flow_table_ref(const struct flow_table *ft, const struct flow *f)
{
    struct flow_ref r = { (uint32_t)(f - ft->recs), f->gen };
    return r;
}

/* Visit every flow (e.g. to flush analyzer state at the end of a replay). */
void flow_table_foreach(struct flow_table *ft, void (*fn)(void *ctx, struct flow *f), void *ctx);

static inline enum flow_proto flow_proto_of(uint8_t ipproto)
{
    return ipproto == 6 ? FLOW_PROTO_TCP : ipproto == 17 ? FLOW_PROTO_UDP : FLOW_PROTO_OTHER;
}

#endif
