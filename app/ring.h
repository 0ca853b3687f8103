/*
 * ring.h — single-producer single-consumer packet ring between the capture
 * dispatcher and one worker.
 *
 * A byte ring of power-of-two size holding records: a 24-byte header
 * (kind, captured length, wire length, timestamp) and the packet bytes,
 * padded to 8. The producer copies each packet in (the capture buffer is
 * reused by libpcap) and publishes with one release store per burst; the
 * consumer takes views straight into the ring and releases them after the
 * burst is processed. No locks; the only shared writes are the two
 * indices, each on its own cache line.
 */
#ifndef SPANWATCH_RING_H
#define SPANWATCH_RING_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/source.h"

enum ring_kind { RING_PACKET = 1, RING_WRAP = 2, RING_BARRIER = 3 };

struct ring_rec {
    uint32_t kind;
    uint32_t caplen;
    uint32_t wirelen;
    uint32_t arg;      /* barrier: sequence number */
    uint64_t ts_ns;
};

struct pkt_ring {
    uint8_t *buf;
    uint64_t size;     /* power of two */
    _Alignas(64) _Atomic uint64_t head;   /* bytes published by the producer */
    uint64_t head_local;                  /* producer: written, not yet published */
    uint64_t tail_cache;                  /* producer's view of tail */
    _Alignas(64) _Atomic uint64_t tail;   /* bytes released by the consumer */
    uint64_t tail_local;                  /* consumer: read, not yet released */
    uint64_t head_cache;                  /* consumer's view of head */
};

static inline int ring_init(struct pkt_ring *r, uint64_t size)
{
    memset(r, 0, sizeof *r);
    r->size = size;
    r->buf = aligned_alloc(64, size);
    return r->buf ? 0 : -1;
}

static inline void ring_free(struct pkt_ring *r)
{
    free(r->buf);
    r->buf = NULL;
}

static inline uint64_t ring_rec_size(uint32_t caplen)
{
    return (sizeof(struct ring_rec) + caplen + 7u) & ~(uint64_t)7u;
}

/* Producer: room for a record of caplen bytes (and a wrap marker)? */
static inline int ring_push(struct pkt_ring *r, uint32_t kind, const uint8_t *data,
                            uint32_t caplen, uint32_t wirelen, uint64_t ts_ns, uint32_t arg)
{
    uint64_t need = ring_rec_size(caplen);
    uint64_t pos = r->head_local & (r->size - 1);
    uint64_t to_end = r->size - pos;
    uint64_t total = need + (to_end < need ? to_end : 0);
    if (r->head_local + total - r->tail_cache > r->size) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (r->head_local + total - r->tail_cache > r->size)
            return -1;
    }
    if (to_end < need) {
        /* not enough contiguous room: mark the rest as skipped */
        if (to_end >= sizeof(struct ring_rec)) {
            struct ring_rec w = { .kind = RING_WRAP };
            memcpy(r->buf + pos, &w, sizeof w);
        }
        r->head_local += to_end;
        pos = 0;
    }
    struct ring_rec h = { .kind = kind, .caplen = caplen, .wirelen = wirelen, .arg = arg,
                          .ts_ns = ts_ns };
    memcpy(r->buf + pos, &h, sizeof h);
    if (caplen)
        memcpy(r->buf + pos + sizeof h, data, caplen);
    r->head_local += need;
    return 0;
}

/* Producer: make what was pushed visible. */
static inline void ring_publish(struct pkt_ring *r)
{
    atomic_store_explicit(&r->head, r->head_local, memory_order_release);
}

/* Consumer: next record, or NULL if none is published. Valid until ring_release(). */
static inline const struct ring_rec *ring_peek(struct pkt_ring *r)
{
    for (;;) {
        if (r->tail_local == r->head_cache) {
            r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
            if (r->tail_local == r->head_cache)
                return NULL;
        }
        uint64_t pos = r->tail_local & (r->size - 1);
        uint64_t to_end = r->size - pos;
        if (to_end < sizeof(struct ring_rec)) {
            r->tail_local += to_end; /* too small for a header: implicit wrap */
            continue;
        }
        const struct ring_rec *h = (const struct ring_rec *)(r->buf + pos);
        if (h->kind == RING_WRAP) {
            r->tail_local += to_end;
            continue;
        }
        r->tail_local += ring_rec_size(h->caplen);
        return h;
    }
}

static inline const uint8_t *ring_rec_data(const struct ring_rec *h)
{
    return (const uint8_t *)(h + 1);
}

/* Consumer: give back everything peeked so far. */
static inline void ring_release(struct pkt_ring *r)
{
    atomic_store_explicit(&r->tail, r->tail_local, memory_order_release);
}

#endif
