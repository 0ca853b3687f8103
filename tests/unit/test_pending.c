/*
 * test_pending.c — the pending-answer table: matching by flow + ID +
 * question, oldest-first answering, flow generations, expiry in time
 * order, and the capacity cap dropping the oldest waiting entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "flow/pending.h"

#define S 1000000000ull

static struct flow_ref F(uint32_t idx, uint32_t gen)
{
    struct flow_ref r = { idx, gen };
    return r;
}

/* the flow's hash (struct flow.hash) for record idx; a reused record
 * (new generation) may hold a flow with the same hash */
static uint32_t FH(uint32_t idx)
{
    return idx * 2654435761u;
}

static unsigned expired;
static uint32_t expired_servers[16];

static void on_expire(void *ctx, const struct pending_entry *e)
{
    (void)ctx;
    if (expired < 16)
        expired_servers[expired] = e->server;
    expired++;
}

static void matches_flow_id_and_question(void **state)
{
    (void)state;
    struct pending_table pt;
    struct pending_entry dropped;
    assert_int_equal(pending_init(&pt, 64), 0);
    assert_false(pending_add(&pt, F(1, 1), FH(1), 77, 0xaaa, 1 * S, 10, &dropped));
    assert_false(pending_add(&pt, F(2, 1), FH(2), 77, 0xaaa, 1 * S, 20, &dropped)); /* same ID, other flow */
    assert_false(pending_add(&pt, F(1, 2), FH(1), 77, 0xaaa, 1 * S, 30, &dropped)); /* reused slot */
    assert_null(pending_take(&pt, F(1, 1), FH(1), 77, 0xbbb, false));  /* other question */
    assert_null(pending_take(&pt, F(1, 1), FH(1), 78, 0xaaa, false));  /* other ID */
    assert_null(pending_take(&pt, F(3, 1), FH(3), 77, 0xaaa, false));  /* other flow */
    struct pending_entry *e = pending_take(&pt, F(2, 1), FH(2), 77, 0xaaa, false);
    assert_non_null(e);
    assert_int_equal(e->server, 20);
    assert_null(pending_take(&pt, F(2, 1), FH(2), 77, 0xaaa, false));  /* taken once only */
    assert_true(pending_has(&pt, F(1, 2), FH(1), 77, 0xaaa));
    e = pending_take(&pt, F(1, 2), FH(1), 77, 0x123, true);              /* any question */
    assert_non_null(e);
    assert_int_equal(e->server, 30);
    assert_int_equal(pt.live, 1);
    pending_free(&pt);
}

static void oldest_duplicate_is_answered_first(void **state)
{
    (void)state;
    struct pending_table pt;
    struct pending_entry dropped;
    assert_int_equal(pending_init(&pt, 8), 0);
    for (uint32_t i = 0; i < 3; i++)
        pending_add(&pt, F(5, 1), FH(5), 9, 0x55, (1 + i) * S, 100 + i, &dropped);
    for (uint32_t i = 0; i < 3; i++) {
        struct pending_entry *e = pending_take(&pt, F(5, 1), FH(5), 9, 0x55, false);
        assert_non_null(e);
        assert_int_equal(e->server, 100 + i);
    }
    pending_free(&pt);
}

static void expiry_in_time_order(void **state)
{
    (void)state;
    struct pending_table pt;
    struct pending_entry dropped;
    assert_int_equal(pending_init(&pt, 16), 0);
    for (uint32_t i = 0; i < 10; i++)
        pending_add(&pt, F(i, 1), FH(i), (uint16_t)i, 1, (uint64_t)i * S, i, &dropped);
    assert_non_null(pending_take(&pt, F(1, 1), FH(1), 1, 1, false)); /* answered: never expires */
    expired = 0;
    /* timeout 5 s at t=7.5 s: entries from 0, 1 (answered), 2 are older */
    assert_int_equal(pending_expire(&pt, 7 * S + S / 2, 5 * S, on_expire, NULL), 2);
    assert_int_equal(expired, 2);
    assert_int_equal(expired_servers[0], 0);
    assert_int_equal(expired_servers[1], 2);
    /* exactly at the timeout is not yet a timeout */
    assert_int_equal(pending_expire(&pt, 8 * S, 5 * S, on_expire, NULL), 0);
    /* time going backwards expires nothing */
    assert_int_equal(pending_expire(&pt, 1 * S, 5 * S, on_expire, NULL), 0);
    assert_int_equal(pt.live, 7);
    /* an expired entry cannot be answered any more */
    assert_null(pending_take(&pt, F(0, 1), FH(0), 0, 1, false));
    pending_free(&pt);
}

static void full_table_drops_the_oldest(void **state)
{
    (void)state;
    struct pending_table pt;
    struct pending_entry dropped;
    assert_int_equal(pending_init(&pt, 4), 0);
    for (uint32_t i = 0; i < 4; i++)
        assert_false(pending_add(&pt, F(i, 1), FH(i), 1, 1, i * S, i, &dropped));
    assert_true(pending_add(&pt, F(9, 1), FH(9), 1, 1, 9 * S, 9, &dropped));
    assert_int_equal(dropped.server, 0);
    assert_null(pending_take(&pt, F(0, 1), FH(0), 1, 1, false));
    assert_non_null(pending_take(&pt, F(9, 1), FH(9), 1, 1, false));
    /* answered entries make room without dropping anything */
    assert_non_null(pending_take(&pt, F(1, 1), FH(1), 1, 1, false));
    assert_false(pending_add(&pt, F(10, 1), FH(10), 1, 1, 10 * S, 10, &dropped));
    /* many cycles around the ring keep the hash chains consistent */
    for (uint32_t i = 0; i < 1000; i++) {
        pending_add(&pt, F(100 + i, 1), FH(100 + i), (uint16_t)i, 7, (20 + i) * S, i, &dropped);
        if (i % 3 == 0)
            assert_non_null(pending_take(&pt, F(100 + i, 1), FH(100 + i), (uint16_t)i, 7, false));
    }
    assert_true(pt.live <= 4);
    assert_true(pt.used <= 4);
    pending_free(&pt);
}

static uint64_t last_expired_ts;
static int expired_in_order = 1;

static void check_order(void *ctx, const struct pending_entry *e)
{
    (void)ctx;
    if (e->ts_ns < last_expired_ts)
        expired_in_order = 0;
    last_expired_ts = e->ts_ns;
    expired++;
}

/* The ring in use grows from PENDING_MIN while entries wrap around it and
 * some are answered: every waiting entry is still found, answered ones are
 * not, expiry still runs in time order, and it drops only at capacity. */
static void grows_while_wrapped(void **state)
{
    (void)state;
    struct pending_table pt;
    struct pending_entry dropped;
    const uint32_t n = 5 * PENDING_MIN + 123;
    assert_int_equal(pending_init(&pt, n + 10), 0);
    static uint8_t taken[5 * PENDING_MIN + 123];
    memset(taken, 0, sizeof taken);
    for (uint32_t i = 0; i < n; i++) {
        assert_false(pending_add(&pt, F(i, 1), FH(i), (uint16_t)i, i, i, 0, &dropped));
        if (i % 3 == 2) { /* answer one two steps back: holes, so the head moves */
            assert_non_null(pending_take(&pt, F(i - 2, 1), FH(i - 2), (uint16_t)(i - 2), i - 2, false));
            taken[i - 2] = 1;
        }
        if (i == PENDING_MIN / 2) /* expire the oldest waiting ones: the ring wraps */
            pending_expire(&pt, 100, 0, on_expire, NULL); /* ts 0..99 */
    }
    assert_true(pt.acap > PENDING_MIN);
    for (uint32_t i = 0; i < n; i++) {
        bool has = pending_has(&pt, F(i, 1), FH(i), (uint16_t)i, i);
        assert_int_equal(has, !taken[i] && i >= 100); /* 0..99 expired */
    }
    expired = 0;
    last_expired_ts = 0;
    pending_expire(&pt, UINT64_MAX, 0, check_order, NULL);
    assert_true(expired_in_order);
    assert_int_equal(pt.live, 0);
    pending_free(&pt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_flow_id_and_question),
        cmocka_unit_test(oldest_duplicate_is_answered_first),
        cmocka_unit_test(expiry_in_time_order),
        cmocka_unit_test(full_table_drops_the_oldest),
        cmocka_unit_test(grows_while_wrapped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
