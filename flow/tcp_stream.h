/*
 * tcp_stream.h — per-direction TCP stream reassembly with bounded memory.
 *
 * Bytes are handed to a consumer in sequence order. A segment that starts
 * before the next expected byte is trimmed (retransmission, overlap: first
 * copy wins); one that starts after it is held, in sequence order, in a
 * block from the worker's pool (at most STREAM_OOO_MAX per direction). When
 * a hole cannot be waited for any longer — the peer has acknowledged bytes
 * past it, the direction already holds STREAM_OOO_MAX segments, the pool is
 * empty, or the stream is flushed at FIN/eviction — the stream skips ahead: the missing bytes are added to
 * *gap_bytes and the next delivery is flagged `after_gap`, so the consumer
 * resynchronises instead of misreading.
 *
 * The same pool provides each direction one "carry" block, where a consumer
 * keeps the unconsumed tail of what it was given (a message head split
 * across segments) until more arrives.
 */
#ifndef SPANWATCH_TCP_STREAM_H
#define SPANWATCH_TCP_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"

#define STREAM_BLOCK 8192
#define STREAM_OOO_MAX 8

struct stream_block {
    uint32_t seq;
    uint16_t len;
    uint16_t next;           /* block index + 1 */
    uint8_t data[STREAM_BLOCK];
};

struct stream_pool {
    struct stream_block *blocks;
    uint16_t *free_list;
    uint32_t nfree;
    uint32_t n;
    uint64_t exhausted;      /* times a block was wanted and none was free */
};

struct stream_dir {
    uint32_t next;           /* next sequence number to deliver */
    uint16_t ooo;            /* first held segment: block index + 1 */
    uint16_t carry;          /* consumer's carry block: index + 1 */
    uint16_t carry_len;
    uint8_t ooo_count;
    uint8_t synced;          /* next is known */
};

typedef void (*stream_deliver_fn)(void *ctx, struct bytes data, bool after_gap);

int stream_pool_init(struct stream_pool *p, uint32_t blocks);
void stream_pool_free(struct stream_pool *p);

/* Start the direction at sequence number `next` (e.g. ISN + 1 from the SYN). */
void stream_sync(struct stream_dir *sd, uint32_t next);
/* Add a segment's payload. */
void stream_segment(struct stream_pool *p, struct stream_dir *sd, uint32_t seq,
                    struct bytes payload, stream_deliver_fn fn, void *ctx, uint64_t *gap_bytes);
/* The peer acknowledged up to `ack`: bytes before it that we never saw were
 * lost before the tap (the receiver has them; nobody will resend them), so
 * skip those holes now. A hole at the end is signalled to the consumer with
 * an empty after_gap delivery. */
void stream_ack(struct stream_pool *p, struct stream_dir *sd, uint32_t ack, stream_deliver_fn fn,
                void *ctx, uint64_t *gap_bytes);
/* Deliver everything held, skipping holes (FIN, or before eviction). */
void stream_flush(struct stream_pool *p, struct stream_dir *sd, stream_deliver_fn fn, void *ctx,
                  uint64_t *gap_bytes);
/* Return all of the direction's blocks to the pool. */
void stream_release(struct stream_pool *p, struct stream_dir *sd);

/* Carry: the consumer's view of carried bytes followed by `data`. Returns
 * false (and drops the carry) if the total would not fit in a block. */
bool stream_carry_join(struct stream_pool *p, struct stream_dir *sd, struct bytes data,
                       struct bytes *out);
/* Keep `rest` (may point into the carry block itself) for next time;
 * false if no block is free or rest is too long. */
bool stream_carry_keep(struct stream_pool *p, struct stream_dir *sd, struct bytes rest);
void stream_carry_drop(struct stream_pool *p, struct stream_dir *sd);

#endif
