/*
 * pending.c — see pending.h.
 */
#include "flow/pending.h"

#include <stdlib.h>
#include <string.h>

/* hash buckets for a ring of n entries: a power of two >= n (16 .. 2^30) */
static uint32_t buckets_for(uint32_t n)
{
    uint32_t nb = 16;
    while (nb < n && nb < (1u << 30))
        nb <<= 1;
    return nb;
}

/* put waiting entry ri at the front of its chain (chains hold newest first) */
static void link_entry(struct pending_table *pt, uint32_t ri)
{
    struct pending_entry *e = &pt->ring[ri];
    uint32_t b = pending_bucket(pt, e->fhash, e->id);
    e->next = pt->buckets[b];
    pt->buckets[b] = ri + 1;
}

int pending_init(struct pending_table *pt, uint32_t capacity)
{
    memset(pt, 0, sizeof *pt);
    if (capacity == 0)
        capacity = 1;
    uint32_t nb = buckets_for(capacity);
    pt->ring = calloc(capacity, sizeof *pt->ring);
    pt->buckets = calloc(nb, sizeof *pt->buckets);
    if (!pt->ring || !pt->buckets) {
        pending_free(pt);
        return -1;
    }
    pt->cap = capacity;
    pt->acap = capacity < PENDING_MIN ? capacity : PENDING_MIN;
    pt->bmask = buckets_for(pt->acap) - 1;
    return 0;
}

/* The ring in use is full and smaller than the one allocated: double it
 * (at most to cap). The wrapped ring [head, acap) + [0, wrapped) becomes
 * [new - (acap - head), new) + [0, wrapped), which fits because used <
 * new; the moved entries have new ring indices, so every chain is built
 * again, oldest first, so that chains stay newest first. O(used), and a
 * table grows at most log2(cap / PENDING_MIN) times. */
static void grow(struct pending_table *pt)
{
    uint32_t acap = pt->acap;
    uint32_t ncap = acap > pt->cap / 2 ? pt->cap : acap * 2;
    uint32_t head = pt->head;
    if (head + pt->used > acap) { /* wrapped: the older part moves to the end */
        uint32_t n = acap - head;
        memmove(&pt->ring[ncap - n], &pt->ring[head], (size_t)n * sizeof *pt->ring);
        head = ncap - n;
    }
    pt->head = head;
    pt->acap = ncap;
    uint32_t nb = buckets_for(ncap);
    pt->bmask = nb - 1;
    memset(pt->buckets, 0, (size_t)nb * sizeof *pt->buckets);
    for (uint32_t k = 0, ri = head; k < pt->used; k++, ri = ri + 1 == ncap ? 0 : ri + 1) {
        pt->ring[ri].next = 0;
        if (pt->ring[ri].live)
            link_entry(pt, ri);
    }
}

void pending_free(struct pending_table *pt)
{
    free(pt->ring);
    free(pt->buckets);
    pt->ring = NULL;
    pt->buckets = NULL;
}

static void unlink_entry(struct pending_table *pt, uint32_t ri)
{
    struct pending_entry *e = &pt->ring[ri];
    uint32_t *link = &pt->buckets[pending_bucket(pt, e->fhash, e->id)];
    while (*link && *link != ri + 1)
        link = &pt->ring[*link - 1].next;
    if (*link)
        *link = e->next;
    e->next = 0;
}

/* Remove the head entry from the ring (unlinking it if still waiting). */
static void pop_head(struct pending_table *pt)
{
    struct pending_entry *e = &pt->ring[pt->head];
    if (e->live) {
        unlink_entry(pt, pt->head);
        e->live = 0;
        pt->live--;
    }
    pt->head = pt->head + 1 == pt->acap ? 0 : pt->head + 1;
    pt->used--;
}

bool pending_add(struct pending_table *pt, struct flow_ref flow, uint32_t fhash, uint16_t id,
                 uint64_t qhash, uint64_t ts_ns, uint32_t server, struct pending_entry *dropped)
{
    bool drop = false;
    /* answered entries at the head need not wait for their timeout */
    while (pt->used && !pt->ring[pt->head].live)
        pop_head(pt);
    if (pt->used == pt->acap && pt->acap < pt->cap)
        grow(pt);
    if (pt->used == pt->cap) {
        *dropped = pt->ring[pt->head];
        drop = true;
        pop_head(pt);
    }
    uint32_t ri = pt->head + pt->used;
    if (ri >= pt->acap)
        ri -= pt->acap;
    struct pending_entry *e = &pt->ring[ri];
    e->flow = flow;
    e->fhash = fhash;
    e->id = id;
    e->qhash = qhash;
    e->ts_ns = ts_ns;
    e->server = server;
    e->live = 1;
    link_entry(pt, ri);
    pt->used++;
    pt->live++;
    return drop;
}

static struct pending_entry *find(struct pending_table *pt, struct flow_ref flow, uint32_t fhash,
                                  uint16_t id, uint64_t qhash, bool any_question,
                                  uint32_t *ri_out)
{
    /* chains hold newest first; the oldest matching query is the one a
     * response answers, so remember the last match */
    struct pending_entry *best = NULL;
    for (uint32_t l = pt->buckets[pending_bucket(pt, fhash, id)]; l; l = pt->ring[l - 1].next) {
        struct pending_entry *e = &pt->ring[l - 1];
        if (e->id == id && e->flow.idx == flow.idx && e->flow.gen == flow.gen &&
            (any_question || e->qhash == qhash)) {
            best = e;
            *ri_out = l - 1;
        }
    }
    return best;
}

struct pending_entry *pending_take(struct pending_table *pt, struct flow_ref flow,
                                   uint32_t fhash, uint16_t id, uint64_t qhash,
                                   bool any_question)
{
    uint32_t ri = 0;
    struct pending_entry *e = find(pt, flow, fhash, id, qhash, any_question, &ri);
    if (!e)
        return NULL;
    unlink_entry(pt, ri);
    e->live = 0;
    pt->live--;
    return e;
}

bool pending_has(struct pending_table *pt, struct flow_ref flow, uint32_t fhash, uint16_t id,
                 uint64_t qhash)
{
    uint32_t ri;
    return find(pt, flow, fhash, id, qhash, false, &ri) != NULL;
}

uint32_t pending_expire(struct pending_table *pt, uint64_t now_ns, uint64_t timeout_ns,
                        void (*fn)(void *ctx, const struct pending_entry *e), void *ctx)
{
    uint32_t n = 0;
    while (pt->used) {
        struct pending_entry *e = &pt->ring[pt->head];
        if (e->live) {
            if (now_ns < e->ts_ns || now_ns - e->ts_ns <= timeout_ns)
                break;
            struct pending_entry copy = *e;
            pop_head(pt);
            fn(ctx, &copy);
            n++;
        } else {
            pop_head(pt);
        }
    }
    return n;
}
