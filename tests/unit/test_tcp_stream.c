/*
 * test_tcp_stream.c — stream reassembly: ordering, retransmissions and
 * overlaps, holes skipped (by the OOO limit, by an ACK past them, by pool
 * exhaustion, at flush), sequence wrap-around, the carry block, and that
 * every block returns to the pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flow/tcp_stream.h"

#define SRC_LEN 60000
static uint8_t src[SRC_LEN];

struct sink {
    uint8_t out[SRC_LEN * 2];
    size_t len;
    unsigned deliveries, gaps;
};

static void deliver(void *ctx, struct bytes d, bool after_gap)
{
    struct sink *s = ctx;
    assert_true(s->len + d.len <= sizeof s->out);
    if (d.len)
        memcpy(s->out + s->len, d.p, d.len);
    s->len += d.len;
    s->deliveries++;
    s->gaps += after_gap;
}

static void fill(void)
{
    for (size_t i = 0; i < SRC_LEN; i++)
        src[i] = (uint8_t)(i * 131 + (i >> 8));
}

/* Feed src[off, off+len) as the segment starting at isn+off. */
static void seg(struct stream_pool *p, struct stream_dir *d, uint32_t isn, size_t off, size_t len,
                struct sink *s, uint64_t *gap)
{
    stream_segment(p, d, isn + (uint32_t)off, bytes_make(src + off, len), deliver, s, gap);
}

static void in_order_and_swapped(void **state)
{
    (void)state;
    struct stream_pool p;
    struct stream_dir d = { 0 };
    static struct sink s;
    uint64_t gap = 0;
    memset(&s, 0, sizeof s);
    fill();
    assert_int_equal(stream_pool_init(&p, 16), 0);
    stream_sync(&d, 1000);
    seg(&p, &d, 1000, 0, 100, &s, &gap);
    seg(&p, &d, 1000, 200, 100, &s, &gap); /* arrives before [100,200) */
    assert_int_equal(s.len, 100);
    assert_int_equal(p.nfree, 15);
    seg(&p, &d, 1000, 100, 100, &s, &gap);
    assert_int_equal(s.len, 300);
    assert_memory_equal(s.out, src, 300);
    assert_int_equal(gap, 0);
    assert_int_equal(s.gaps, 0);
    assert_int_equal(p.nfree, 16);
    stream_pool_free(&p);
}

static void retransmissions_and_overlaps_deliver_each_byte_once(void **state)
{
    (void)state;
    struct stream_pool p;
    struct stream_dir d = { 0 };
    static struct sink s;
    uint64_t gap = 0;
    memset(&s, 0, sizeof s);
    fill();
    assert_int_equal(stream_pool_init(&p, 16), 0);
    stream_sync(&d, 5);
    seg(&p, &d, 5, 0, 500, &s, &gap);
    seg(&p, &d, 5, 0, 500, &s, &gap);     /* exact retransmission */
    seg(&p, &d, 5, 100, 200, &s, &gap);   /* inside what we have */
    seg(&p, &d, 5, 400, 300, &s, &gap);   /* overlaps the end */
    seg(&p, &d, 5, 900, 100, &s, &gap);   /* held */
    seg(&p, &d, 5, 900, 100, &s, &gap);   /* held again: duplicate dropped */
    seg(&p, &d, 5, 850, 100, &s, &gap);   /* overlaps the held one */
    assert_int_equal(d.ooo_count, 2);
    seg(&p, &d, 5, 650, 250, &s, &gap);   /* fills the hole */
    assert_int_equal(s.len, 1000);
    assert_memory_equal(s.out, src, 1000);
    assert_int_equal(gap, 0);
    assert_int_equal(p.nfree, 16);
    stream_pool_free(&p);
}

static void too_many_held_segments_skip_the_hole(void **state)
{
    (void)state;
    struct stream_pool p;
    struct stream_dir d = { 0 };
    static struct sink s;
    uint64_t gap = 0;
    memset(&s, 0, sizeof s);
    fill();
    assert_int_equal(stream_pool_init(&p, 64), 0);
    stream_sync(&d, 0);
    seg(&p, &d, 0, 0, 100, &s, &gap);
    /* [100,200) is lost; STREAM_OOO_MAX segments after it are held */
    for (int i = 0; i < STREAM_OOO_MAX; i++)
        seg(&p, &d, 0, 200 + 100 * (size_t)i, 100, &s, &gap);
    assert_int_equal(s.len, 100);
    assert_int_equal(d.ooo_count, STREAM_OOO_MAX);
    /* one more: cannot hold it, so give up on the hole */
    seg(&p, &d, 0, 200 + 100 * STREAM_OOO_MAX, 100, &s, &gap);
    assert_int_equal(gap, 100);
    assert_int_equal(s.gaps, 1);
    assert_int_equal(s.len, 100 + 100 * (STREAM_OOO_MAX + 1));
    assert_memory_equal(s.out + 100, src + 200, 100 * (STREAM_OOO_MAX + 1));
    assert_int_equal(d.ooo_count, 0);
    assert_int_equal(p.nfree, 64);
    stream_pool_free(&p);
}

static void ack_past_a_hole_skips_it(void **state)
{
    (void)state;
    struct stream_pool p;
    struct stream_dir d = { 0 };
    static struct sink s;
    uint64_t gap = 0;
    memset(&s, 0, sizeof s);
    fill();
    assert_int_equal(stream_pool_init(&p, 8), 0);
    stream_sync(&d, 7);
    seg(&p, &d, 7, 0, 100, &s, &gap);
    seg(&p, &d, 7, 300, 100, &s, &gap);
    /* ACK inside the hole: [100,150) was lost before the tap; [150,300)
     * may still come by, so skip only to the ACK */
    stream_ack(&p, &d, 7 + 150, deliver, &s, &gap);
    assert_int_equal(gap, 50);
    assert_int_equal(s.gaps, 1);
    assert_int_equal(s.len, 100);
    assert_int_equal(d.ooo_count, 1);
    stream_ack(&p, &d, 7 + 400, deliver, &s, &gap); /* receiver has it all */
    assert_int_equal(gap, 200);
    assert_int_equal(s.gaps, 2);
    assert_int_equal(s.len, 200);
    assert_memory_equal(s.out + 100, src + 300, 100);
    /* a hole at the end, acknowledged: an empty after_gap delivery */
    stream_ack(&p, &d, 7 + 450, deliver, &s, &gap);
    assert_int_equal(gap, 250);
    assert_int_equal(s.gaps, 3);
    assert_int_equal(s.len, 200);
    seg(&p, &d, 7, 450, 50, &s, &gap);
    assert_int_equal(s.len, 250);
    assert_memory_equal(s.out + 200, src + 450, 50);
    /* an absurd ACK is ignored */
    stream_ack(&p, &d, 7 + 500 + (1u << 31), deliver, &s, &gap);
    assert_int_equal(gap, 250);
    stream_pool_free(&p);
}

static void empty_pool_skips_ahead_and_counts(void **state)
{
    (void)state;
    struct stream_pool p;
    struct stream_dir a = { 0 }, b = { 0 };
    static struct sink s;
    uint64_t gap = 0;
    memset(&s, 0, sizeof s);
    fill();
    assert_int_equal(stream_pool_init(&p, 1), 0);
    stream_sync(&a, 0);
    stream_sync(&b, 0);
    seg(&p, &a, 0, 100, 100, &s, &gap); /* takes the only block */
    assert_int_equal(p.nfree, 0);
    seg(&p, &b, 0, 100, 100, &s, &gap); /* nothing to hold it in */
    assert_int_equal(p.exhausted, 1);
    assert_int_equal(gap, 100);
    assert_int_equal(s.gaps, 1);
    stream_release(&p, &a);
    assert_int_equal(p.nfree, 1);
    stream_pool_free(&p);
}

static void flush_delivers_held_data_across_holes(void **state)
{
    (void)state;
    struct stream_pool p;
    struct stream_dir d = { 0 };
    static struct sink s;
    uint64_t gap = 0;
    memset(&s, 0, sizeof s);
    fill();
    assert_int_equal(stream_pool_init(&p, 8), 0);
    stream_sync(&d, 0);
    seg(&p, &d, 0, 50, 50, &s, &gap);
    seg(&p, &d, 0, 150, 50, &s, &gap);
    stream_flush(&p, &d, deliver, &s, &gap);
    assert_int_equal(gap, 100);
    assert_int_equal(s.gaps, 2);
    assert_int_equal(s.len, 100);
    assert_int_equal(p.nfree, 8);
    stream_pool_free(&p);
}

static void sequence_numbers_wrap(void **state)
{
    (void)state;
    struct stream_pool p;
    struct stream_dir d = { 0 };
    static struct sink s;
    uint64_t gap = 0;
    memset(&s, 0, sizeof s);
    fill();
    assert_int_equal(stream_pool_init(&p, 8), 0);
    uint32_t isn = 0xffffff00u;
    stream_sync(&d, isn);
    seg(&p, &d, isn, 0, 200, &s, &gap);
    seg(&p, &d, isn, 400, 200, &s, &gap); /* past the wrap, held */
    seg(&p, &d, isn, 200, 200, &s, &gap); /* straddles it */
    seg(&p, &d, isn, 100, 200, &s, &gap); /* old, across the wrap */
    assert_int_equal(s.len, 600);
    assert_memory_equal(s.out, src, 600);
    assert_int_equal(gap, 0);
    stream_pool_free(&p);
}

/* Property: any permutation within windows of STREAM_OOO_MAX segments,
 * with random duplicates and overlapping retransmissions, reassembles to
 * exactly the original bytes with no gap. */
static void random_reordering_within_the_window(void **state)
{
    (void)state;
    fill();
    srand(12345);
    for (int round = 0; round < 200; round++) {
        struct stream_pool p;
        struct stream_dir d = { 0 };
        static struct sink s;
        uint64_t gap = 0;
        memset(&s, 0, sizeof s);
        assert_int_equal(stream_pool_init(&p, 32), 0);
        uint32_t isn = (uint32_t)rand() * 2654435761u;
        stream_sync(&d, isn);
        size_t offs[64], lens[64], n = 0, off = 0;
        while (off < SRC_LEN && n < 64) {
            size_t len = 1 + (size_t)rand() % 1460;
            if (off + len > SRC_LEN)
                len = SRC_LEN - off;
            offs[n] = off;
            lens[n++] = len;
            off += len;
        }
        /* shuffle inside windows of 4 (at most 3 held at once) */
        for (size_t w = 0; w < n; w += 4) {
            size_t m = n - w < 4 ? n - w : 4;
            for (size_t i = m - 1; i > 0; i--) {
                size_t j = (size_t)rand() % (i + 1);
                size_t to = offs[w + i], tl = lens[w + i];
                offs[w + i] = offs[w + j];
                lens[w + i] = lens[w + j];
                offs[w + j] = to;
                lens[w + j] = tl;
            }
        }
        for (size_t i = 0; i < n; i++) {
            seg(&p, &d, isn, offs[i], lens[i], &s, &gap);
            if (rand() % 5 == 0) /* duplicate, sometimes shifted back */
                seg(&p, &d, isn, offs[i] > 10 ? offs[i] - 10 : offs[i], lens[i], &s, &gap);
        }
        assert_int_equal(gap, 0);
        assert_int_equal(s.gaps, 0);
        assert_int_equal(s.len, off);
        assert_memory_equal(s.out, src, off);
        assert_int_equal(p.nfree, 32);
        stream_pool_free(&p);
    }
}

static void carry_block(void **state)
{
    (void)state;
    struct stream_pool p;
    struct stream_dir d = { 0 };
    struct bytes out;
    assert_int_equal(stream_pool_init(&p, 2), 0);
    /* no carry: join passes data through */
    assert_true(stream_carry_join(&p, &d, bytes_make((const uint8_t *)"GET /", 5), &out));
    assert_int_equal(out.len, 5);
    assert_true(stream_carry_keep(&p, &d, out));
    assert_int_equal(p.nfree, 1);
    assert_true(stream_carry_join(&p, &d, bytes_make((const uint8_t *)" HTTP/1.1", 9), &out));
    assert_int_equal(out.len, 14);
    assert_memory_equal(out.p, "GET / HTTP/1.1", 14);
    /* keep a tail that points into the carry itself */
    assert_true(stream_carry_keep(&p, &d, bytes_make(out.p + 6, 8)));
    assert_true(stream_carry_join(&p, &d, bytes_make((const uint8_t *)"\r\n", 2), &out));
    assert_memory_equal(out.p, "HTTP/1.1\r\n", 10);
    /* overflowing the block drops the carry */
    static uint8_t big[STREAM_BLOCK];
    assert_false(stream_carry_join(&p, &d, bytes_make(big, sizeof big), &out));
    assert_int_equal(d.carry, 0);
    assert_int_equal(p.nfree, 2);
    stream_pool_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_and_swapped),
        cmocka_unit_test(retransmissions_and_overlaps_deliver_each_byte_once),
        cmocka_unit_test(too_many_held_segments_skip_the_hole),
        cmocka_unit_test(ack_past_a_hole_skips_it),
        cmocka_unit_test(empty_pool_skips_ahead_and_counts),
        cmocka_unit_test(flush_delivers_held_data_across_holes),
        cmocka_unit_test(sequence_numbers_wrap),
        cmocka_unit_test(random_reordering_within_the_window),
        cmocka_unit_test(carry_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
