/*
 * tcp_stream.c — see tcp_stream.h.
 */
#include "flow/tcp_stream.h"

#include <stdlib.h>
#include <string.h>

int stream_pool_init(struct stream_pool *p, uint32_t blocks)
{
    memset(p, 0, sizeof *p);
    if (blocks > 65535)
        blocks = 65535;
    p->blocks = calloc(blocks ? blocks : 1, sizeof *p->blocks);
    p->free_list = malloc((blocks ? blocks : 1) * sizeof *p->free_list);
    if (!p->blocks || !p->free_list) {
        stream_pool_free(p);
        return -1;
    }
    for (uint32_t i = 0; i < blocks; i++)
        p->free_list[i] = (uint16_t)(blocks - 1 - i);
    p->n = p->nfree = blocks;
    return 0;
}

void stream_pool_free(struct stream_pool *p)
{
    free(p->blocks);
    free(p->free_list);
    p->blocks = NULL;
    p->free_list = NULL;
}

static uint16_t block_get(struct stream_pool *p)
{
    if (!p->nfree) {
        p->exhausted++;
        return 0;
    }
    return (uint16_t)(p->free_list[--p->nfree] + 1);
}

static void block_put(struct stream_pool *p, uint16_t b)
{
    if (b)
        p->free_list[p->nfree++] = (uint16_t)(b - 1);
}

static inline struct stream_block *blk(struct stream_pool *p, uint16_t b)
{
    return &p->blocks[b - 1];
}

void stream_sync(struct stream_dir *sd, uint32_t next)
{
    sd->next = next;
    sd->synced = 1;
}

/* Deliver held segments that now continue the stream. */
static void drain(struct stream_pool *p, struct stream_dir *sd, stream_deliver_fn fn, void *ctx)
{
    while (sd->ooo) {
        struct stream_block *b = blk(p, sd->ooo);
        if (tcp_seq_lt(sd->next, b->seq))
            break;
        uint32_t end = b->seq + b->len;
        if (tcp_seq_lt(sd->next, end)) {
            uint32_t skip = sd->next - b->seq;
            fn(ctx, bytes_make(b->data + skip, b->len - skip), false);
            sd->next = end;
        }
        uint16_t nx = b->next;
        block_put(p, sd->ooo);
        sd->ooo = nx;
        sd->ooo_count--;
    }
}

/* Give up on the hole before the first held segment. */
static void skip_hole(struct stream_pool *p, struct stream_dir *sd, stream_deliver_fn fn,
                      void *ctx, uint64_t *gap_bytes)
{
    struct stream_block *b = blk(p, sd->ooo);
    *gap_bytes += b->seq - sd->next;
    sd->next = b->seq + b->len;
    fn(ctx, bytes_make(b->data, b->len), true);
    uint16_t nx = b->next;
    block_put(p, sd->ooo);
    sd->ooo = nx;
    sd->ooo_count--;
    drain(p, sd, fn, ctx);
}

static bool hold(struct stream_pool *p, struct stream_dir *sd, uint32_t seq, struct bytes d)
{
    if (sd->ooo_count >= STREAM_OOO_MAX || d.len > STREAM_BLOCK)
        return false;
    /* find the insertion point; an exact duplicate is dropped */
    uint16_t *link = &sd->ooo;
    while (*link && tcp_seq_lt(blk(p, *link)->seq, seq))
        link = &blk(p, *link)->next;
    if (*link && blk(p, *link)->seq == seq && blk(p, *link)->len >= d.len)
        return true;
    uint16_t b = block_get(p);
    if (!b)
        return false;
    struct stream_block *nb = blk(p, b);
    nb->seq = seq;
    nb->len = (uint16_t)d.len;
    memcpy(nb->data, d.p, d.len);
    nb->next = *link;
    *link = b;
    sd->ooo_count++;
    return true;
}

void stream_segment(struct stream_pool *p, struct stream_dir *sd, uint32_t seq,
                    struct bytes d, stream_deliver_fn fn, void *ctx, uint64_t *gap_bytes)
{
    if (d.len == 0)
        return;
    if (!sd->synced)
        stream_sync(sd, seq);
    uint32_t end = seq + (uint32_t)d.len;
    if (tcp_seq_le(end, sd->next))
        return; /* all old: a retransmission */
    if (tcp_seq_lt(seq, sd->next)) {
        uint32_t skip = sd->next - seq;
        d.p += skip;
        d.len -= skip;
        seq = sd->next;
    }
    if (seq == sd->next) {
        fn(ctx, d, false);
        sd->next = end;
        drain(p, sd, fn, ctx);
        return;
    }
    if (hold(p, sd, seq, d))
        return;
    /* cannot wait any longer: skip to what we have */
    while (sd->ooo && tcp_seq_lt(blk(p, sd->ooo)->seq, seq))
        skip_hole(p, sd, fn, ctx, gap_bytes);
    if (tcp_seq_le(end, sd->next))
        return;
    if (tcp_seq_lt(seq, sd->next)) {
        uint32_t skip = sd->next - seq;
        d.p += skip;
        d.len -= skip;
        seq = sd->next;
    }
    bool gap = seq != sd->next;
    *gap_bytes += seq - sd->next;
    sd->next = end;
    fn(ctx, d, gap);
    drain(p, sd, fn, ctx);
}

void stream_ack(struct stream_pool *p, struct stream_dir *sd, uint32_t ack, stream_deliver_fn fn,
                void *ctx, uint64_t *gap_bytes)
{
    if (!sd->synced || !tcp_seq_lt(sd->next, ack))
        return;
    /* an ACK far beyond anything plausible is not evidence of loss */
    if ((uint32_t)(ack - sd->next) > (1u << 30))
        return;
    /* holes that end at or before the ACK are gone for good */
    while (sd->ooo && tcp_seq_lt(sd->next, ack) && tcp_seq_le(blk(p, sd->ooo)->seq, ack))
        skip_hole(p, sd, fn, ctx, gap_bytes);
    /* the ACK ends inside a hole (or past all we have): skip just to it;
     * the rest of the hole may still be retransmitted past the tap */
    if (tcp_seq_lt(sd->next, ack)) {
        *gap_bytes += ack - sd->next;
        sd->next = ack;
        fn(ctx, bytes_make(NULL, 0), true);
    }
}

void stream_flush(struct stream_pool *p, struct stream_dir *sd, stream_deliver_fn fn, void *ctx,
                  uint64_t *gap_bytes)
{
    while (sd->ooo)
        skip_hole(p, sd, fn, ctx, gap_bytes);
}

void stream_release(struct stream_pool *p, struct stream_dir *sd)
{
    while (sd->ooo) {
        uint16_t nx = blk(p, sd->ooo)->next;
        block_put(p, sd->ooo);
        sd->ooo = nx;
    }
    sd->ooo_count = 0;
    stream_carry_drop(p, sd);
}

bool stream_carry_join(struct stream_pool *p, struct stream_dir *sd, struct bytes data,
                       struct bytes *out)
{
    if (!sd->carry) {
        *out = data;
        return true;
    }
    struct stream_block *b = blk(p, sd->carry);
    if ((size_t)sd->carry_len + data.len > STREAM_BLOCK) {
        stream_carry_drop(p, sd);
        return false;
    }
    memcpy(b->data + sd->carry_len, data.p, data.len);
    sd->carry_len = (uint16_t)(sd->carry_len + data.len);
    *out = bytes_make(b->data, sd->carry_len);
    return true;
}

bool stream_carry_keep(struct stream_pool *p, struct stream_dir *sd, struct bytes rest)
{
    if (rest.len > STREAM_BLOCK) {
        stream_carry_drop(p, sd);
        return false;
    }
    if (!sd->carry) {
        sd->carry = block_get(p);
        if (!sd->carry)
            return false;
    }
    struct stream_block *b = blk(p, sd->carry);
    memmove(b->data, rest.p, rest.len);
    sd->carry_len = (uint16_t)rest.len;
    return true;
}

void stream_carry_drop(struct stream_pool *p, struct stream_dir *sd)
{
    block_put(p, sd->carry);
    sd->carry = 0;
    sd->carry_len = 0;
}
