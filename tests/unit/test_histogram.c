/*
 * test_histogram.c — bucket geometry (≤ 1% wide, contiguous, monotonic),
 * quantiles within 1%, merge by addition, cumulative le export.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/histogram.h"

static void buckets_are_contiguous_and_narrow(void **state)
{
    (void)state;
    for (uint32_t i = 1; i < HIST_BUCKETS; i++) {
        uint64_t lo = hist_bucket_lower(i), prev = hist_bucket_lower(i - 1);
        assert_true(lo > prev);
        assert_int_equal(hist_index(lo), i);
        assert_int_equal(hist_index(lo - 1), i - 1);
        if (prev >= HIST_SUB)
            assert_true((double)(lo - prev) / (double)prev <= 1.0 / 128 + 1e-12);
    }
    assert_int_equal(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

static void quantiles_within_one_percent(void **state)
{
    (void)state;
    struct histogram *h = calloc(1, sizeof *h);
    /* 1..10000 µs uniformly: p50 ≈ 5 ms, p99 ≈ 9.9 ms */
    for (uint64_t us = 1; us <= 10000; us++)
        hist_record(h, us * 1000);
    double p50 = (double)hist_quantile(h, 0.5), p99 = (double)hist_quantile(h, 0.99);
    assert_true(p50 > 5000000 * 0.99 && p50 < 5000000 * 1.01);
    assert_true(p99 > 9900000 * 0.99 && p99 < 9900000 * 1.01);
    assert_int_equal(h->count, 10000);
    assert_int_equal(h->sum_ns, 10000ull * 10001 / 2 * 1000);
    free(h);
}

static void merge_adds_and_le_is_cumulative(void **state)
{
    (void)state;
    struct histogram *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    hist_record(a, 40000);        /* 40 µs  -> le 50µs */
    hist_record(a, 700000);       /* 0.7 ms -> le 1ms */
    hist_record(b, 3000000000ull);/* 3 s    -> le 5s */
    hist_record(b, 60000000000ull); /* 60 s -> +Inf only */
    hist_merge(a, b);
    uint64_t le[HIST_LE_COUNT];
    hist_le_counts(a, 0, le);
    assert_int_equal(le[0], 1);   /* 50 µs */
    assert_int_equal(le[3], 1);   /* 500 µs */
    assert_int_equal(le[4], 2);   /* 1 ms */
    assert_int_equal(le[14], 2);  /* 2.5 s */
    assert_int_equal(le[15], 3);  /* 5 s */
    assert_int_equal(le[17], 3);  /* 30 s */
    assert_int_equal(a->count, 4);
    for (int k = 1; k < HIST_LE_COUNT; k++)
        assert_true(le[k] >= le[k - 1]);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_are_contiguous_and_narrow),
        cmocka_unit_test(quantiles_within_one_percent),
        cmocka_unit_test(merge_adds_and_le_is_cumulative),
    };
    return cmocka_run_group_tests_name("histogram", tests, NULL, NULL);
}
