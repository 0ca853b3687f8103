/*
 * frag.h — IPv4/IPv6 fragment reassembly with bounded memory.
 *
 * A fixed pool of datagram slots (limits.max_frag_datagrams, 64 KiB each) is
 * allocated once. Fragments are keyed by (version, src, dst, id[, proto]).
 * A datagram not completed within the timeout of packet time is dropped and
 * counted (ipfrag/timeout); when the pool is full the oldest datagram is
 * dropped (ipfrag/memory_cap). Duplicate and overlapping fragments are
 * accepted, later bytes overwriting earlier ones.
 */
#ifndef SPANWATCH_FRAG_H
#define SPANWATCH_FRAG_H

#include <stdint.h>

#include "decode/decode.h"

struct frag_table;

struct frag_table *frag_table_create(uint32_t max_datagrams, uint64_t timeout_ns);
void frag_table_destroy(struct frag_table *ft);

enum frag_result {
    FRAG_HELD,       /* stored; datagram incomplete */
    FRAG_COMPLETE,   /* *out is the whole transport payload (valid until next call) */
    FRAG_DROPPED,    /* bad fragment: counted in errors[], its datagram dropped */
};

/* Add one fragment. Every rejection, and a datagram evicted to make room,
 * is counted in errors[] (indexed by enum decode_error). */
enum frag_result frag_add(struct frag_table *ft, const struct ip_result *ip, uint64_t now_ns,
                          struct bytes *out, uint64_t *errors);

/* Drop datagrams older than the timeout; counts each in errors[FRAG_TIMEOUT].
 * Returns how many were dropped. */
unsigned frag_expire(struct frag_table *ft, uint64_t now_ns, uint64_t *errors);

/* Datagrams currently held. */
unsigned frag_pending(const struct frag_table *ft);

#endif
