/*
 * test_timing.c — the timing rules of live capture (README "Timestamps"):
 * a sample is the difference of two packets' own stamps whatever the worker
 * clock says; a packet stamped before the last closed alert window is
 * counted late and still analysed; a shutdown drain reads until the first
 * packet stamped after the stop, or a quiet spell, or its time limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "capture/source.h"
#include "analyze/worker.h"

#define MS 1000000ull

static void sample_is_the_later_stamp_minus_the_earlier(void **state)
{
    (void)state;
    assert_int_equal(ts_since(5 * MS, 2 * MS), 3 * MS);
    assert_int_equal(ts_since(2 * MS, 2 * MS), 0);
}

static void sample_of_packets_stamped_the_wrong_way_round_is_zero(void **state)
{
    (void)state;
    assert_int_equal(ts_since(2 * MS, 5 * MS), 0);
}

static void drain_ends_at_the_first_packet_stamped_after_the_stop(void **state)
{
    (void)state;
    struct source_drain d;
    source_drain_begin(&d, 1000 * MS, 0);
    struct sw_packet p[2] = { { .ts_ns = 999 * MS }, { .ts_ns = 1000 * MS } };
    assert_false(source_drain_done(&d, p, 2, 1 * MS)); /* all before (or at) the stop */
    p[1].ts_ns = 1000 * MS + 1;
    assert_true(source_drain_done(&d, p, 2, 2 * MS));
}

static void drain_needs_two_empty_reads_and_a_quiet_spell(void **state)
{
    (void)state;
    struct source_drain d;
    source_drain_begin(&d, 1000 * MS, 0);
    /* two empty reads at once: a partly filled kernel block may still come */
    assert_false(source_drain_done(&d, NULL, 0, 1 * MS));
    assert_false(source_drain_done(&d, NULL, 0, 2 * MS));
    /* quiet for DRAIN_QUIET_NS with two empty reads: done */
    assert_true(source_drain_done(&d, NULL, 0, DRAIN_QUIET_NS));
}

static void drain_stops_at_its_time_limit_on_a_link_that_never_pauses(void **state)
{
    (void)state;
    struct source_drain d;
    source_drain_begin(&d, 1000 * MS, 0);
    struct sw_packet p = { .ts_ns = 900 * MS };
    assert_false(source_drain_done(&d, &p, 1, DRAIN_MAX_NS - 1));
    assert_true(source_drain_done(&d, &p, 1, DRAIN_MAX_NS));
}

static void drain_ends_on_a_read_error(void **state)
{
    (void)state;
    struct source_drain d;
    source_drain_begin(&d, 1000 * MS, 0);
    assert_true(source_drain_done(&d, NULL, SOURCE_ERROR, 1));
}

/* An Ethernet + IPv4 + UDP frame from 10.0.0.2:40000 to 10.0.0.1:53 with a
 * DNS query (id 0x1234) or its response (NOERROR). */
static size_t dns_frame(uint8_t *f, int response)
{
    static const uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                 1, 'a', 0, 0, 1, 0, 1 };
    memset(f, 0, 14 + 20 + 8);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    size_t len = 20 + 8 + sizeof q;
    ip[2] = (uint8_t)(len >> 8);
    ip[3] = (uint8_t)len;
    ip[8] = 64;
    ip[9] = 17;
    uint8_t a[4] = { 10, 0, 0, 2 }, b[4] = { 10, 0, 0, 1 };
    memcpy(ip + 12, response ? b : a, 4);
    memcpy(ip + 16, response ? a : b, 4);
    uint8_t *udp = ip + 20;
    uint16_t sp = response ? 53 : 40000, dp = response ? 40000 : 53;
    udp[0] = (uint8_t)(sp >> 8);
    udp[1] = (uint8_t)sp;
    udp[2] = (uint8_t)(dp >> 8);
    udp[3] = (uint8_t)dp;
    udp[4] = (uint8_t)((8 + sizeof q) >> 8);
    udp[5] = (uint8_t)(8 + sizeof q);
    memcpy(udp + 8, q, sizeof q);
    if (response)
        udp[8 + 2] = 0x81, udp[8 + 3] = 0x80;
    return 14 + len;
}

static uint64_t dns_latency_sum(struct worker *w)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i <= w->servers.max; i++)
        sum += server_hist(&w->servers, i, HIST_DNS)->sum_ns;
    return sum;
}

static void idle_clock_does_not_shorten_a_latency(void **state)
{
    (void)state;
    static struct config cfg;
    config_defaults(&cfg);
    static struct worker w;
    assert_int_equal(worker_init(&w, 0, &cfg, 1 /* DLT_EN10MB */), 0);
    uint8_t q[128], r[128];
    size_t ql = dns_frame(q, 0), rl = dns_frame(r, 1);
    /* the query, then the link idles and the clock follows the wall clock
     * past the response's own stamp (it waited in a ring), then the response */
    struct sw_packet pq = { q, (uint32_t)ql, (uint32_t)ql, 1000 * MS };
    worker_handle_burst(&w, &pq, 1);
    worker_tick(&w, 1010 * MS);
    struct sw_packet pr = { r, (uint32_t)rl, (uint32_t)rl, 1003 * MS };
    worker_handle_burst(&w, &pr, 1);
    assert_int_equal(dns_latency_sum(&w), 3 * MS);
    worker_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sample_is_the_later_stamp_minus_the_earlier),
        cmocka_unit_test(sample_of_packets_stamped_the_wrong_way_round_is_zero),
        cmocka_unit_test(drain_ends_at_the_first_packet_stamped_after_the_stop),
        cmocka_unit_test(drain_needs_two_empty_reads_and_a_quiet_spell),
        cmocka_unit_test(drain_stops_at_its_time_limit_on_a_link_that_never_pauses),
        cmocka_unit_test(drain_ends_on_a_read_error),
        cmocka_unit_test(idle_clock_does_not_shorten_a_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
