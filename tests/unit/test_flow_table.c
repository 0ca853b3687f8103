/*
 * test_flow_table.c — bidirectional keys, idle expiry by packet time,
 * eviction when full, and integrity after many insert/delete cycles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "flow/flow_table.h"

static struct ip_addr addr(uint32_t v)
{
    struct ip_addr a;
    memset(&a, 0, sizeof a);
    a.b[10] = a.b[11] = 0xff;
    a.b[12] = (uint8_t)(v >> 24);
    a.b[13] = (uint8_t)(v >> 16);
    a.b[14] = (uint8_t)(v >> 8);
    a.b[15] = (uint8_t)v;
    return a;
}

static struct flow *get(struct flow_table *ft, uint32_t s, uint16_t sp, uint32_t d, uint16_t dp,
                        uint64_t now, bool *created, uint8_t *dir)
{
    struct flow_key k;
    struct ip_addr a = addr(s), b = addr(d);
    flow_key_make(&k, &a, sp, &b, dp, 6, dir);
    struct flow *f = flow_table_get(ft, &k, flow_key_hash(&k), now, created);
    f->last_ns = now;
    return f;
}

static const struct flow_table_config cfg = { .max_flows = 100, .tcp_idle_ns = 1000,
                                              .udp_idle_ns = 1000 };

static void both_directions_share_one_flow(void **state)
{
    (void)state;
    struct flow_table ft;
    bool created;
    uint8_t d1, d2;
    assert_int_equal(flow_table_init(&ft, &cfg), 0);
    struct flow *f1 = get(&ft, 0x0a000001, 40000, 0x0a000002, 80, 1, &created, &d1);
    assert_true(created);
    struct flow *f2 = get(&ft, 0x0a000002, 80, 0x0a000001, 40000, 2, &created, &d2);
    assert_false(created);
    assert_ptr_equal(f1, f2);
    assert_int_not_equal(d1, d2);
    /* same addresses, other client port: another flow */
    get(&ft, 0x0a000001, 40001, 0x0a000002, 80, 3, &created, &d1);
    assert_true(created);
    assert_int_equal(ft.count, 2);
    assert_int_equal(ft.active[FLOW_PROTO_TCP], 2);
    flow_table_free(&ft);
}

static void idle_flows_expire_by_packet_time(void **state)
{
    (void)state;
    struct flow_table ft;
    bool created;
    uint8_t d;
    assert_int_equal(flow_table_init(&ft, &cfg), 0);
    for (uint32_t i = 0; i < 50; i++)
        get(&ft, 0x0a000001, (uint16_t)(1000 + i), 0x0a000002, 80, 100, &created, &d);
    get(&ft, 0x0a000009, 1, 0x0a000002, 80, 1050, &created, &d);
    flow_table_sweep(&ft, 1101, 1u << 20);
    assert_int_equal(ft.count, 1); /* only the recent one is left */
    assert_int_equal(ft.evictions[FLOW_EVICT_IDLE], 50);
    flow_table_free(&ft);
}

static void full_table_evicts_least_recent(void **state)
{
    (void)state;
    struct flow_table ft;
    bool created;
    uint8_t d;
    assert_int_equal(flow_table_init(&ft, &cfg), 0);
    for (uint32_t i = 0; i < 300; i++)
        get(&ft, 0x0a000001 + i, 1000, 0x0a000002, 80, 10 + i, &created, &d);
    assert_int_equal(ft.count, 100);
    assert_int_equal(ft.evictions[FLOW_EVICT_FULL], 200);
    assert_int_equal(ft.created, 300);
    /* the newest flow is still there */
    get(&ft, 0x0a000001 + 299, 1000, 0x0a000002, 80, 400, &created, &d);
    assert_false(created);
    flow_table_free(&ft);
}

static void survives_churn_without_losing_entries(void **state)
{
    (void)state;
    struct flow_table ft;
    bool created;
    uint8_t d;
    struct flow_table_config c = { .max_flows = 1000, .tcp_idle_ns = 50, .udp_idle_ns = 50 };
    assert_int_equal(flow_table_init(&ft, &c), 0);
    /* waves of flows; each wave's flows expire during the next wave */
    for (uint64_t t = 0; t < 200; t++) {
        for (uint32_t i = 0; i < 20; i++)
            get(&ft, (uint32_t)(t * 20 + i), 1, 0x7f000001, 53, t * 10, &created, &d);
        flow_table_sweep(&ft, t * 10, 64);
    }
    /* every flow still in the table can be found again */
    uint32_t seen = 0;
    for (uint32_t i = 0; i < ft.max_flows; i++) {
        struct flow *f = &ft.recs[i];
        if (!f->used)
            continue;
        seen++;
        bool cr;
        struct flow *g = flow_table_get(&ft, &f->key, f->hash, 0, &cr);
        assert_false(cr);
        assert_ptr_equal(f, g);
    }
    assert_int_equal(seen, ft.count);
    /* every record is in use, released (on the free stack) or never used */
    assert_int_equal(seen + ft.nfree + (ft.max_flows - ft.hwm), ft.max_flows);
    assert_true(ft.count <= 1000);
    flow_table_free(&ft);
}

static void references_detect_reuse(void **state)
{
    (void)state;
    struct flow_table ft;
    bool created;
    uint8_t d;
    struct flow_table_config c = { .max_flows = 1, .tcp_idle_ns = 10, .udp_idle_ns = 10 };
    assert_int_equal(flow_table_init(&ft, &c), 0);
    struct flow *a = get(&ft, 1, 1, 2, 2, 0, &created, &d);
    struct flow_ref ra = flow_table_ref(&ft, a);
    assert_ptr_equal(flow_table_deref(&ft, ra), a);
    struct flow *b = get(&ft, 3, 3, 4, 4, 1, &created, &d); /* evicts a, reuses its record */
    assert_ptr_equal(a, b);
    assert_null(flow_table_deref(&ft, ra));
    assert_ptr_equal(flow_table_deref(&ft, flow_table_ref(&ft, b)), b);
    flow_table_free(&ft);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_directions_share_one_flow),
        cmocka_unit_test(idle_flows_expire_by_packet_time),
        cmocka_unit_test(full_table_evicts_least_recent),
        cmocka_unit_test(survives_churn_without_losing_entries),
        cmocka_unit_test(references_detect_reuse),
    };
    return cmocka_run_group_tests_name("flow_table", tests, NULL, NULL);
}
