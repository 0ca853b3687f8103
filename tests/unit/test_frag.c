/*
 * test_frag.c — IP reassembly: order independence, duplicates, timeouts,
 * the memory cap, and datagrams that would exceed 64 KiB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "flow/frag.h"

static uint8_t data[4000];

static struct ip_result frag(uint32_t id, uint32_t off, uint32_t len, bool more)
{
    struct ip_result ip;
    memset(&ip, 0, sizeof ip);
    ip.version = 4;
    ip.proto = 17;
    ip.src.b[15] = 1;
    ip.dst.b[15] = 2;
    ip.fragment = true;
    ip.frag_id = id;
    ip.frag_offset = off;
    ip.more_fragments = more;
    ip.payload = bytes_make(data + (off % 2048), len);
    ip.payload_len = len;
    return ip;
}

static void setup_data(void)
{
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
}

static void reassembles_in_any_order_with_duplicates(void **state)
{
    (void)state;
    uint64_t errors[DERR_COUNT] = { 0 };
    struct frag_table *ft = frag_table_create(4, 30000000000ull);
    struct bytes out;
    struct ip_result a = frag(7, 0, 1480, true), b = frag(7, 1480, 1480, true),
                     c = frag(7, 2960, 1000, false);
    setup_data();
    assert_int_equal(frag_add(ft, &c, 1, &out, errors), FRAG_HELD);
    assert_int_equal(frag_add(ft, &a, 2, &out, errors), FRAG_HELD);
    assert_int_equal(frag_add(ft, &a, 3, &out, errors), FRAG_HELD); /* duplicate */
    assert_int_equal(frag_pending(ft), 1);
    assert_int_equal(frag_add(ft, &b, 4, &out, errors), FRAG_COMPLETE);
    assert_int_equal(out.len, 3960);
    assert_memory_equal(out.p, data, 1480);  /* first fragment: data[0..1480) */
    assert_int_equal(frag_pending(ft), 0);
    for (int e = 0; e < DERR_COUNT; e++)
        assert_int_equal(errors[e], 0);
    frag_table_destroy(ft);
}

static void incomplete_datagram_times_out(void **state)
{
    (void)state;
    uint64_t errors[DERR_COUNT] = { 0 };
    struct frag_table *ft = frag_table_create(4, 30000000000ull);
    struct bytes out;
    struct ip_result a = frag(9, 0, 1480, true);
    assert_int_equal(frag_add(ft, &a, 1000000000ull, &out, errors), FRAG_HELD);
    assert_int_equal(frag_expire(ft, 30000000000ull, errors), 0); /* 29 s: not yet */
    assert_int_equal(frag_expire(ft, 31000000001ull, errors), 1);
    assert_int_equal(errors[DERR_FRAG_TIMEOUT], 1);
    assert_int_equal(frag_pending(ft), 0);
    frag_table_destroy(ft);
}

static void full_table_evicts_oldest(void **state)
{
    (void)state;
    uint64_t errors[DERR_COUNT] = { 0 };
    struct frag_table *ft = frag_table_create(2, 30000000000ull);
    struct bytes out;
    for (uint32_t id = 1; id <= 3; id++) {
        struct ip_result a = frag(id, 0, 8, true);
        assert_int_equal(frag_add(ft, &a, id, &out, errors), FRAG_HELD);
    }
    assert_int_equal(frag_pending(ft), 2);
    assert_int_equal(errors[DERR_FRAG_NO_MEMORY], 1);
    /* datagram 1 was evicted: its last fragment starts a new, incomplete one */
    struct ip_result last1 = frag(1, 8, 8, false);
    assert_int_equal(frag_add(ft, &last1, 5, &out, errors), FRAG_HELD);
    /* datagram 3 survives and completes */
    struct ip_result last3 = frag(3, 8, 8, false);
    assert_int_equal(frag_add(ft, &last3, 6, &out, errors), FRAG_COMPLETE);
    frag_table_destroy(ft);
}

static void rejects_oversized_and_inconsistent_fragments(void **state)
{
    (void)state;
    uint64_t errors[DERR_COUNT] = { 0 };
    struct frag_table *ft = frag_table_create(2, 30000000000ull);
    struct bytes out;
    struct ip_result big = frag(4, 65528, 100, false);
    assert_int_equal(frag_add(ft, &big, 1, &out, errors), FRAG_DROPPED);
    assert_int_equal(errors[DERR_FRAG_TOO_LARGE], 1);
    struct ip_result odd = frag(5, 0, 13, true); /* non-final, not a multiple of 8 */
    assert_int_equal(frag_add(ft, &odd, 2, &out, errors), FRAG_DROPPED);
    struct ip_result a = frag(6, 0, 16, true), end = frag(6, 8, 4, false);
    assert_int_equal(frag_add(ft, &a, 3, &out, errors), FRAG_HELD);
    assert_int_equal(frag_add(ft, &end, 4, &out, errors), FRAG_DROPPED); /* ends before data seen */
    assert_int_equal(errors[DERR_FRAG_BAD_OFFSET], 2);
    assert_int_equal(frag_pending(ft), 0);
    frag_table_destroy(ft);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reassembles_in_any_order_with_duplicates),
        cmocka_unit_test(incomplete_datagram_times_out),
        cmocka_unit_test(full_table_evicts_oldest),
        cmocka_unit_test(rejects_oversized_and_inconsistent_fragments),
    };
    return cmocka_run_group_tests_name("frag", tests, NULL, NULL);
}
