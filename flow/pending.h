/*
 * pending.h — bounded table of things waiting for an answer: DNS queries
 * waiting for their response, SYNs waiting for a SYN-ACK.
 *
 * Entries live in a ring in arrival (packet time) order, so expiring the
 * ones older than a timeout is popping from the head. A chained hash over
 * (flow, id, question hash) finds the entry a response answers; the bucket
 * depends only on the flow's hash and the id, so the packet path can
 * prefetch it before the flow is looked up (pending_bucket_prefetch). Capacity is
 * fixed at creation; adding to a full ring first drops the oldest entry
 * (reported to the caller so it can be counted). No allocation after
 * creation. The ring in use starts at PENDING_MIN entries and doubles when
 * full, up to the capacity: a few thousand waiting queries then cycle
 * through a few hundred KiB that stay in cache, not through the whole
 * table (48 MB for a million entries, each page touched once per lap).
 */
#ifndef SPANWATCH_PENDING_H
#define SPANWATCH_PENDING_H

#include <stdbool.h>
#include <stdint.h>

#include "flow/flow_table.h"

#define PENDING_MIN 4096

struct pending_entry {
    uint64_t qhash;
    uint64_t ts_ns;
    struct flow_ref flow;
    uint32_t server;
    uint32_t next;       /* hash chain (ring index + 1, 0 = end) */
    uint32_t fhash;      /* the flow's hash (struct flow.hash): picks the bucket */
    uint16_t id;
    uint8_t live;        /* still waiting */
    uint8_t pad;
};

struct pending_table {
    struct pending_entry *ring;
    uint32_t cap;        /* allocated */
    uint32_t acap;       /* in use: the ring wraps here (grows to cap) */
    uint32_t head;       /* oldest */
    uint32_t used;       /* entries in the ring (live or answered) */
    uint32_t live;       /* entries still waiting */
    uint32_t *buckets;   /* ring index + 1 */
    uint32_t bmask;
};

static inline uint32_t pending_bucket(const struct pending_table *pt, uint32_t fhash, uint16_t id)
{
    uint64_t h = ((uint64_t)fhash << 16 | id) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & pt->bmask;
}

static inline void pending_bucket_prefetch(const struct pending_table *pt, uint32_t fhash,
                                           uint16_t id)
{
    __builtin_prefetch(&pt->buckets[pending_bucket(pt, fhash, id)]);
}

int pending_init(struct pending_table *pt, uint32_t capacity);
void pending_free(struct pending_table *pt);

/* Add an entry. If the ring is full the oldest live entry is dropped and
 * copied to *dropped (returns true then). */
bool pending_add(struct pending_table *pt, struct flow_ref flow, uint32_t fhash, uint16_t id,
                 uint64_t qhash,
                 uint64_t ts_ns, uint32_t server, struct pending_entry *dropped);

/* Find the waiting entry for (flow, id, qhash) — with any_question, qhash is
 * ignored — and take it (it stops waiting). NULL if none. The pointer is
 * valid until the next pending_add/pending_expire. */
struct pending_entry *pending_take(struct pending_table *pt, struct flow_ref flow,
                                   uint32_t fhash, uint16_t id, uint64_t qhash,
                                   bool any_question);

/* True if such an entry is waiting (without taking it). */
bool pending_has(struct pending_table *pt, struct flow_ref flow, uint32_t fhash, uint16_t id,
                 uint64_t qhash);

/* Pop entries older than timeout_ns at now_ns; each still-waiting one is
 * passed to fn. Returns how many timed out. */
uint32_t pending_expire(struct pending_table *pt, uint64_t now_ns, uint64_t timeout_ns,
                        void (*fn)(void *ctx, const struct pending_entry *e), void *ctx);

#endif
