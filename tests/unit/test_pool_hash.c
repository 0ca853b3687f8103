/*
 * test_pool_hash.c — the dispatcher's worker choice (decode_dispatch_key) is
 * symmetric: for many random IPv4 and IPv6 5-tuples, over Ethernet, VLAN
 * and raw IP, both directions hash alike; every IP fragment of a datagram
 * (no ports) hashes like its first fragment; and flows spread over workers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pcap/dlt.h>

#include "decode/decode.h"

static struct decoder scratch;

/* the worker choice of decode_dispatch_key() */
static uint32_t dispatch_hash(int linktype, const uint8_t *data, uint32_t caplen)
{
    struct dispatch_key k;
    decode_dispatch_key(&scratch, linktype, data, caplen, &k);
    return k.hash;
}

static uint32_t rnd(void)
{
    static uint64_t s = 0x9e3779b97f4a7c15ull;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (uint32_t)s;
}

/* Ethernet (optionally 802.1Q) + IPv4/IPv6 + UDP/TCP ports; frag: IPv4
 * fragment with offset > 0 and no L4 header. Returns the frame length. */
static size_t frame(uint8_t *f, int v6, int vlan, const uint8_t *src, const uint8_t *dst,
                    uint16_t sp, uint16_t dp, int frag)
{
    size_t o = 12;
    memset(f, 0, 128);
    if (vlan) {
        f[o++] = 0x81;
        f[o++] = 0x00;
        f[o++] = 0x00;
        f[o++] = 0x07;
    }
    f[o++] = v6 ? 0x86 : 0x08;
    f[o++] = v6 ? 0xdd : 0x00;
    uint8_t *ip = f + o;
    size_t iplen;
    if (v6) {
        ip[0] = 0x60;
        ip[4] = 0;
        ip[5] = 16;
        ip[6] = 17;
        ip[7] = 64;
        memcpy(ip + 8, src, 16);
        memcpy(ip + 24, dst, 16);
        iplen = 40;
    } else {
        ip[0] = 0x45;
        ip[3] = 36;
        ip[6] = frag ? 0x00 : 0x00;
        ip[7] = frag ? 0x10 : 0x00; /* fragment offset 16 * 8 */
        ip[8] = 64;
        ip[9] = 17;
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        iplen = 20;
    }
    uint8_t *l4 = ip + iplen;
    if (!frag) {
        l4[0] = (uint8_t)(sp >> 8);
        l4[1] = (uint8_t)sp;
        l4[2] = (uint8_t)(dp >> 8);
        l4[3] = (uint8_t)dp;
        l4[5] = 16;
    }
    return o + iplen + 16;
}

static void both_directions_same_worker(void **state)
{
    (void)state;
    uint8_t f[128], g[128], a[16], b[16];
    unsigned hist[4] = { 0 };
    for (int i = 0; i < 20000; i++) {
        int v6 = i & 1, vlan = (i >> 1) & 1;
        for (int k = 0; k < 16; k++) {
            a[k] = (uint8_t)rnd();
            b[k] = (uint8_t)rnd();
        }
        uint16_t sp = (uint16_t)rnd(), dp = (uint16_t)rnd();
        size_t n1 = frame(f, v6, vlan, a, b, sp, dp, 0);
        size_t n2 = frame(g, v6, vlan, b, a, dp, sp, 0);
        uint32_t h1 = dispatch_hash(DLT_EN10MB, f, (uint32_t)n1);
        uint32_t h2 = dispatch_hash(DLT_EN10MB, g, (uint32_t)n2);
        assert_int_equal(h1, h2);
        /* raw IP link type: same hash as over Ethernet */
        size_t off = vlan ? 18 : 14;
        assert_int_equal(dispatch_hash(DLT_RAW, f + off, (uint32_t)(n1 - off)), h1);
        if (!v6) {
            size_t n3 = frame(g, 0, vlan, a, b, 0, 0, 1);
            assert_int_equal(dispatch_hash(DLT_EN10MB, g, (uint32_t)n3), h1);
        }
        hist[(uint64_t)h1 * 4 >> 32]++;
    }
    for (int w = 0; w < 4; w++) /* 20000 flows over 4 workers: each near 5000 */
        assert_true(hist[w] > 4500 && hist[w] < 5500);
}

static void truncated_and_non_ip(void **state)
{
    (void)state;
    uint8_t f[128], a[16] = { 10, 0, 0, 1 }, b[16] = { 10, 0, 0, 2 };
    size_t n = frame(f, 0, 0, a, b, 1, 2, 0);
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exact size: an over-read trips ASan */
        memcpy(copy, f, len);
        (void)dispatch_hash(DLT_EN10MB, copy, (uint32_t)len);
        free(copy);
    }
    f[12] = 0x08;
    f[13] = 0x06; /* ARP */
    assert_int_equal(dispatch_hash(DLT_EN10MB, f, (uint32_t)n), 0);
}

/* Ethernet + IPv4 + TCP (a 20-byte header) from a:sp to b:dp; id, mf and
 * off (in 8-byte units) make it a fragment (off > 0: no TCP header) */
static size_t tcp_frame(uint8_t *f, const uint8_t *a, const uint8_t *b, uint16_t sp, uint16_t dp,
                        uint16_t id, int mf, uint16_t off)
{
    memset(f, 0, 128);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[3] = 40;
    ip[4] = (uint8_t)(id >> 8);
    ip[5] = (uint8_t)id;
    ip[6] = (uint8_t)((mf ? 0x20 : 0) | (off >> 8));
    ip[7] = (uint8_t)off;
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, a, 4);
    memcpy(ip + 16, b, 4);
    uint8_t *t = ip + 20;
    t[0] = (uint8_t)(sp >> 8);
    t[1] = (uint8_t)sp;
    t[2] = (uint8_t)(dp >> 8);
    t[3] = (uint8_t)dp;
    t[12] = 0x50;
    return 14 + 40;
}

/* the 5-tuple key (TCP): both directions agree; one host pair's
 * connections spread; a segment's first fragment hashes like its
 * unfragmented packets, and every fragment names the same datagram */
static void five_tuple_key(void **state)
{
    (void)state;
    uint8_t f[128], g[128], a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
    struct dispatch_key k1, k2;
    unsigned hist[4] = { 0 };
    for (uint16_t port = 30000; port < 34000; port++) {
        size_t n1 = tcp_frame(f, a, b, port, 80, 1, 0, 0);
        size_t n2 = tcp_frame(g, b, a, 80, port, 2, 0, 0);
        decode_dispatch_key(&scratch, DLT_EN10MB, f, (uint32_t)n1, &k1);
        decode_dispatch_key(&scratch, DLT_EN10MB, g, (uint32_t)n2, &k2);
        assert_int_equal(k1.hash, k2.hash);
        assert_false(k1.fragment);
        hist[(uint64_t)k1.hash * 4 >> 32]++;
    }
    for (int w = 0; w < 4; w++) /* one host pair, 4000 connections: each near 1000 */
        assert_true(hist[w] > 850 && hist[w] < 1150);
    size_t n = tcp_frame(f, a, b, 5353, 443, 7, 0, 0);
    decode_dispatch_key(&scratch, DLT_EN10MB, f, (uint32_t)n, &k1);
    uint32_t flow = k1.hash;
    n = tcp_frame(f, a, b, 5353, 443, 0x1234, 1, 0); /* first fragment */
    decode_dispatch_key(&scratch, DLT_EN10MB, f, (uint32_t)n, &k1);
    assert_true(k1.fragment && k1.first);
    assert_int_equal(k1.hash, flow);
    n = tcp_frame(g, a, b, 0, 0, 0x1234, 0, 3); /* the last, same ID */
    decode_dispatch_key(&scratch, DLT_EN10MB, g, (uint32_t)n, &k2);
    assert_true(k2.fragment && !k2.first);
    assert_int_equal(k2.datagram, k1.datagram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_directions_same_worker),
        cmocka_unit_test(truncated_and_non_ip),
        cmocka_unit_test(five_tuple_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
