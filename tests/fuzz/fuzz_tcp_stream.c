/*
 * fuzz_tcp_stream.c — libFuzzer target for TCP stream reassembly.
 *
 * The input is a script of operations on two stream directions sharing a
 * small block pool: segments (any sequence offset and length, so
 * retransmissions, overlaps, holes and wrap-around all occur), ACKs,
 * flushes, releases and carry operations. Payload byte at sequence number
 * s is always (s & 0xff), so a delivery can be checked without knowing
 * where it belongs: its bytes must be consecutive, and a delivery not
 * flagged after_gap must continue exactly where the previous one ended.
 * At the end every block must be back in the pool.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/tcp_stream.h"

#define POOL_BLOCKS 6
static uint8_t payload[2 * STREAM_BLOCK + 512];

struct check {
    int have_last;
    uint8_t last;
    uint64_t total;
};

static void deliver(void *ctx, struct bytes d, bool after_gap)
{
    struct check *c = ctx;
    if (d.len == 0) {
        if (!after_gap)
            abort(); /* only a gap signal may be empty */
        c->have_last = 0;
        return;
    }
    if (!after_gap && c->have_last && d.p[0] != (uint8_t)(c->last + 1))
        abort();
    for (size_t i = 1; i < d.len; i++)
        if (d.p[i] != (uint8_t)(d.p[i - 1] + 1))
            abort();
    c->last = d.p[d.len - 1];
    c->have_last = 1;
    c->total += d.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct stream_pool pool;
    static int ready;
    if (!ready) {
        if (stream_pool_init(&pool, POOL_BLOCKS) != 0)
            return 0;
        ready = 1;
    }
    struct stream_dir dir[2];
    struct check chk[2];
    memset(dir, 0, sizeof dir);
    memset(chk, 0, sizeof chk);
    uint64_t gaps = 0;
    uint32_t isn = 0;
    if (size >= 4) {
        isn = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
        data += 4;
        size -= 4;
    }
    stream_sync(&dir[0], isn);
    for (size_t i = 0; i + 4 <= size; i += 4) {
        uint8_t op = data[i];
        int d = op & 1;
        struct stream_dir *sd = &dir[d];
        uint32_t off = (uint32_t)data[i + 1] << 8 | data[i + 2];
        uint32_t seq = isn + off * 3u;
        switch ((op >> 1) % 8) {
        case 0: case 1: case 2: { /* segment */
            size_t len = (size_t)data[i + 3] * ((op & 0x80) ? 64 : 1);
            if (len > sizeof payload - 256)
                len = sizeof payload - 256;
            /* payload[k] = k & 0xff, so start at the offset that makes
             * byte j of the segment equal (seq + j) & 0xff */
            stream_segment(&pool, sd, seq, bytes_make(payload + (seq & 0xff), len), deliver,
                           &chk[d], &gaps);
            break;
        }
        case 3:
            stream_ack(&pool, sd, seq, deliver, &chk[d], &gaps);
            break;
        case 4:
            stream_flush(&pool, sd, deliver, &chk[d], &gaps);
            break;
        case 5: { /* consumer keeps a tail of carried bytes */
            struct bytes out;
            size_t len = data[i + 3];
            if (stream_carry_join(&pool, sd, bytes_make(payload, len), &out)) {
                size_t keep = out.len ? data[i + 2] % (out.len + 1) : 0;
                stream_carry_keep(&pool, sd, bytes_make(out.p + out.len - keep, keep));
            }
            break;
        }
        case 6:
            stream_carry_drop(&pool, sd);
            break;
        case 7:
            stream_release(&pool, sd);
            stream_sync(sd, seq);
            chk[d].have_last = 0;
            break;
        }
        if (pool.nfree > pool.n)
            abort();
    }
    stream_release(&pool, &dir[0]);
    stream_release(&pool, &dir[1]);
    if (pool.nfree != pool.n)
        abort(); /* a block leaked */
    return 0;
}

__attribute__((constructor)) static void init_payload(void)
{
    for (size_t k = 0; k < sizeof payload; k++)
        payload[k] = (uint8_t)k;
}
