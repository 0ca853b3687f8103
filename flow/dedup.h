/*
 * dedup.h — SPAN duplicates: a session that mirrors both ports of a
 * conversation delivers every frame twice, microseconds apart. A frame
 * whose identity (decode_identity(): addresses, ports, IPv4 ID and length,
 * TCP sequence, ACK, flags, window and timestamps, a UDP payload hash; not
 * the TTL or MACs a router changes) was seen within limits.dedup_window is
 * a copy. A real retransmission differs (a new IPv4 ID, a new TCP
 * timestamp), so it is still counted as one.
 *
 * A direct-mapped table of DEDUP_SLOTS identities: fixed memory, no
 * allocation per packet; a collision only forgets an older identity (a
 * copy then goes through as a packet, it is never a false drop).
 */
#ifndef SPANWATCH_DEDUP_H
#define SPANWATCH_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

#define DEDUP_SLOTS 16384 /* 256 KiB: 500 us of 30 Mpps with room to spare */

struct dedup_slot {
    uint64_t ident;
    uint64_t ts_ns;
};

struct dedup {
    uint64_t window_ns;        /* 0: off */
    struct dedup_slot *slots;  /* DEDUP_SLOTS, NULL when off */
};

int dedup_init(struct dedup *t, uint64_t window_ns);
void dedup_free(struct dedup *t);

static inline struct dedup_slot *dedup_slot(const struct dedup *t, uint64_t ident)
{
    return &t->slots[(ident ^ (ident >> 32)) & (DEDUP_SLOTS - 1)];
}

/* true: a copy of a frame seen within the window (drop it); else it is
 * remembered. Copies may arrive stamped a little before their original. */
static inline bool dedup_copy(const struct dedup *t, uint64_t ident, uint64_t ts_ns)
{
    struct dedup_slot *s = dedup_slot(t, ident);
    if (s->ident == ident &&
        (ts_ns >= s->ts_ns ? ts_ns - s->ts_ns : s->ts_ns - ts_ns) <= t->window_ns)
        return true;
    s->ident = ident;
    s->ts_ns = ts_ns;
    return false;
}

#endif
