/*
 * test_decode.c — per-layer parsers on hand-built packets: each accepts the
 * well-formed case, rejects each defect with its own (layer, reason), and
 * never reads past the view (ASan build: views are exact-size heap copies).
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

/* An exact-size heap copy so that any over-read trips AddressSanitizer. */
static struct bytes heap_view(const uint8_t *p, size_t n, uint8_t **keep)
{
    *keep = malloc(n ? n : 1);
    memcpy(*keep, p, n);
    return bytes_make(*keep, n);
}

static const uint8_t ipv4_udp[] = {
    0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, /* len 36, UDP */
    10, 0, 0, 1, 10, 0, 0, 53,
    0x9c, 0x40, 0x00, 0x35, 0x00, 0x10, 0x00, 0x00,                         /* 40000 -> 53, len 16 */
    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
};

static void ipv4_parses_addresses_ports_and_payload(void **state)
{
    (void)state;
    uint8_t *k;
    struct ip_result ip;
    struct udp_result u;
    struct bytes b = heap_view(ipv4_udp, sizeof ipv4_udp, &k);
    assert_int_equal(ipv4_parse(b, false, &ip), DECODE_OK);
    assert_int_equal(ip.version, 4);
    assert_int_equal(ip.proto, 17);
    assert_int_equal(ip.src.b[10], 0xff);
    assert_int_equal(ip.src.b[15], 1);
    assert_int_equal(ip.dst.b[15], 53);
    assert_false(ip.fragment);
    assert_int_equal(ip.payload_len, 16);
    assert_int_equal(udp_parse(ip.payload, ip.payload_len, &u), DECODE_OK);
    assert_int_equal(u.sport, 40000);
    assert_int_equal(u.dport, 53);
    assert_int_equal(u.payload.len, 8);
    assert_memory_equal(u.payload.p, "abcdefgh", 8);
    free(k);
}

static enum decode_error ipv4_with(size_t off, uint8_t val, size_t len, bool wire_trunc)
{
    uint8_t pkt[sizeof ipv4_udp], *k;
    struct ip_result ip;
    memcpy(pkt, ipv4_udp, sizeof pkt);
    if (off < sizeof pkt)
        pkt[off] = val;
    struct bytes b = heap_view(pkt, len, &k);
    enum decode_error e = ipv4_parse(b, wire_trunc, &ip);
    free(k);
    return e;
}

static void ipv4_rejects_each_defect(void **state)
{
    (void)state;
    assert_int_equal(ipv4_with(0, 0x55, sizeof ipv4_udp, false), DERR_IPV4_BAD_VERSION);
    assert_int_equal(ipv4_with(0, 0x44, sizeof ipv4_udp, false), DERR_IPV4_BAD_HLEN);
    assert_int_equal(ipv4_with(99, 0, 19, false), DERR_IPV4_TRUNCATED);
    assert_int_equal(ipv4_with(99, 0, 0, false), DERR_IPV4_TRUNCATED);
    assert_int_equal(ipv4_with(3, 0x30, sizeof ipv4_udp, false), DERR_IPV4_BAD_TOTLEN); /* 48 > 36 */
    assert_int_equal(ipv4_with(3, 0x10, sizeof ipv4_udp, false), DERR_IPV4_BAD_TOTLEN); /* 16 < 20 */
    /* header says 24 bytes but the options byte claims a 9-byte option */
    uint8_t opt[] = { 0x46, 0, 0, 24, 0, 0, 0, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                      0x07, 0x09, 0, 0 };
    uint8_t *k;
    struct ip_result ip;
    assert_int_equal(ipv4_parse(heap_view(opt, sizeof opt, &k), false, &ip), DERR_IPV4_BAD_OPTION);
    free(k);
    opt[20] = 1; opt[21] = 1; opt[22] = 1; opt[23] = 0; /* NOP NOP NOP EOL */
    assert_int_equal(ipv4_parse(heap_view(opt, sizeof opt, &k), false, &ip), DECODE_OK);
    free(k);
}

static void ipv4_snaplen_cut_is_not_an_error(void **state)
{
    (void)state;
    uint8_t *k;
    struct ip_result ip;
    struct bytes b = heap_view(ipv4_udp, 30, &k);
    assert_int_equal(ipv4_parse(b, true, &ip), DECODE_OK);
    assert_true(ip.truncated);
    assert_int_equal(ip.payload.len, 10);
    assert_int_equal(ip.payload_len, 16);
    free(k);
    /* the same bytes without the wire telling us more existed: malformed */
    assert_int_equal(ipv4_with(99, 0, 30, false), DERR_IPV4_BAD_TOTLEN);
}

static void ipv4_fragment_fields(void **state)
{
    (void)state;
    uint8_t pkt[sizeof ipv4_udp], *k;
    struct ip_result ip;
    memcpy(pkt, ipv4_udp, sizeof pkt);
    pkt[6] = 0x20 | 0x00; pkt[7] = 0x03; /* MF, offset 3*8 */
    assert_int_equal(ipv4_parse(heap_view(pkt, sizeof pkt, &k), false, &ip), DECODE_OK);
    assert_true(ip.fragment);
    assert_true(ip.more_fragments);
    assert_int_equal(ip.frag_offset, 24);
    assert_int_equal(ip.frag_id, 0x1234);
    free(k);
}

static size_t build_ipv6(uint8_t *buf, uint8_t nh, const uint8_t *pl, size_t plen)
{
    memset(buf, 0, 40);
    buf[0] = 0x60;
    buf[4] = (uint8_t)(plen >> 8);
    buf[5] = (uint8_t)plen;
    buf[6] = nh;
    buf[7] = 64;
    buf[8] = 0x20; buf[9] = 0x01; buf[23] = 1;
    buf[24] = 0x20; buf[25] = 0x01; buf[39] = 2;
    memcpy(buf + 40, pl, plen);
    return 40 + plen;
}

static void ipv6_walks_extension_headers(void **state)
{
    (void)state;
    uint8_t buf[200], *k;
    struct ip_result ip;
    /* hop-by-hop (8) -> dest opts (16) -> UDP header (8) */
    uint8_t pl[8 + 16 + 8] = { 60, 0, 1, 4, 0, 0, 0, 0, 17, 1, 1, 12 };
    pl[24] = 0x30; pl[25] = 0x39; pl[26] = 0; pl[27] = 53; pl[29] = 8;
    size_t n = build_ipv6(buf, 0, pl, sizeof pl);
    assert_int_equal(ipv6_parse(heap_view(buf, n, &k), false, &ip), DECODE_OK);
    assert_int_equal(ip.proto, 17);
    assert_int_equal(ip.payload_len, 8);
    assert_int_equal(ip.payload.len, 8);
    assert_int_equal(ip.src.b[15], 1);
    free(k);
    /* an extension header longer than the payload */
    pl[1] = 5;
    n = build_ipv6(buf, 0, pl, sizeof pl);
    assert_int_equal(ipv6_parse(heap_view(buf, n, &k), false, &ip), DERR_IPV6_BAD_EXTHDR);
    free(k);
}

static void ipv6_limits_the_chain(void **state)
{
    (void)state;
    uint8_t buf[40 + 8 * 12], pl[8 * 12], *k;
    struct ip_result ip;
    memset(pl, 0, sizeof pl);
    for (int i = 0; i < 12; i++)
        pl[i * 8] = i < 11 ? 60 : 59; /* 12 destination-options headers */
    size_t n = build_ipv6(buf, 60, pl, sizeof pl);
    assert_int_equal(ipv6_parse(heap_view(buf, n, &k), false, &ip), DERR_IPV6_TOO_MANY_EXT);
    free(k);
}

static void ipv6_fragment_header(void **state)
{
    (void)state;
    uint8_t buf[100], *k;
    struct ip_result ip;
    uint8_t pl[8 + 16] = { 17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef }; /* offset 0, M=1 */
    size_t n = build_ipv6(buf, 44, pl, sizeof pl);
    assert_int_equal(ipv6_parse(heap_view(buf, n, &k), false, &ip), DECODE_OK);
    assert_true(ip.fragment);
    assert_int_equal(ip.frag_id, 0xdeadbeef);
    assert_int_equal(ip.proto, 17);
    assert_int_equal(ip.payload.len, 16);
    free(k);
    pl[3] = 0; /* atomic fragment: a whole datagram */
    n = build_ipv6(buf, 44, pl, sizeof pl);
    assert_int_equal(ipv6_parse(heap_view(buf, n, &k), false, &ip), DECODE_OK);
    assert_false(ip.fragment);
    free(k);
    /* payload length beyond the frame */
    n = build_ipv6(buf, 44, pl, sizeof pl);
    buf[5] = 200;
    assert_int_equal(ipv6_parse(heap_view(buf, n, &k), false, &ip), DERR_IPV6_BAD_PLEN);
    free(k);
    assert_int_equal(ipv6_parse(heap_view(buf, 39, &k), false, &ip), DERR_IPV6_TRUNCATED);
    free(k);
}

static const uint8_t tcp_syn[] = {
    0x30, 0x39, 0x00, 0x50, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x80, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    2, 4, 0x05, 0xb4,        /* MSS 1460 */
    1, 3, 3, 7,              /* NOP, WS 7 */
    4, 2, 8, 10,             /* SACK-permitted, TS ... */
    0, 0, 0, 1, 0, 0, 0, 0,
    1, 1, 1, 0,              /* NOP NOP NOP EOL */
};

static void tcp_parses_options(void **state)
{
    (void)state;
    uint8_t *k;
    struct tcp_result t;
    assert_int_equal(sizeof tcp_syn, 44);
    uint8_t pkt[44];
    memcpy(pkt, tcp_syn, sizeof pkt);
    pkt[12] = 0xb0; /* 44-byte header */
    assert_int_equal(tcp_parse(heap_view(pkt, sizeof pkt, &k), 44, &t), DECODE_OK);
    assert_int_equal(t.sport, 12345);
    assert_int_equal(t.dport, 80);
    assert_int_equal(t.seq, 1000);
    assert_int_equal(t.flags, TCP_SYN);
    assert_int_equal(t.mss, 1460);
    assert_int_equal(t.wscale, 7);
    assert_true(t.sack_ok);
    assert_true(t.has_ts);
    assert_int_equal(t.tsval, 1);
    assert_int_equal(t.payload_len, 0);
    free(k);
}

static void tcp_rejects_each_defect(void **state)
{
    (void)state;
    uint8_t pkt[44], *k;
    struct tcp_result t;
    memcpy(pkt, tcp_syn, sizeof pkt);
    pkt[12] = 0x40; /* 16-byte header */
    assert_int_equal(tcp_parse(heap_view(pkt, 44, &k), 44, &t), DERR_TCP_BAD_OFFSET);
    free(k);
    pkt[12] = 0xf0; /* 60 > segment */
    assert_int_equal(tcp_parse(heap_view(pkt, 44, &k), 44, &t), DERR_TCP_BAD_OFFSET);
    free(k);
    assert_int_equal(tcp_parse(heap_view(pkt, 12, &k), 12, &t), DERR_TCP_TRUNCATED);
    free(k);
    pkt[12] = 0xb0;
    pkt[21] = 9; /* MSS option claims 9 bytes */
    assert_int_equal(tcp_parse(heap_view(pkt, 44, &k), 44, &t), DERR_TCP_BAD_OPTION);
    free(k);
    pkt[21] = 1; /* length below 2 */
    assert_int_equal(tcp_parse(heap_view(pkt, 44, &k), 44, &t), DERR_TCP_BAD_OPTION);
    free(k);
}

static void udp_rejects_bad_lengths(void **state)
{
    (void)state;
    uint8_t u[16] = { 0, 1, 0, 2, 0, 16 }, *k;
    struct udp_result r;
    assert_int_equal(udp_parse(heap_view(u, 16, &k), 16, &r), DECODE_OK);
    free(k);
    u[5] = 4;
    assert_int_equal(udp_parse(heap_view(u, 16, &k), 16, &r), DERR_UDP_BAD_LENGTH);
    free(k);
    u[5] = 17;
    assert_int_equal(udp_parse(heap_view(u, 16, &k), 16, &r), DERR_UDP_BAD_LENGTH);
    free(k);
    assert_int_equal(udp_parse(heap_view(u, 7, &k), 16, &r), DERR_UDP_TRUNCATED);
    free(k);
}

static void l2_handles_vlan_stacks_and_cooked_headers(void **state)
{
    (void)state;
    uint8_t f[64] = { 0 }, *k;
    struct l2_result r;
    /* 802.1ad outer (vlan 10) + 802.1Q inner (vlan 20) + IPv4 */
    f[12] = 0x88; f[13] = 0xa8; f[14] = 0x00; f[15] = 10;
    f[16] = 0x81; f[17] = 0x00; f[18] = 0x00; f[19] = 20;
    f[20] = 0x08; f[21] = 0x00;
    assert_int_equal(l2_parse(DLT_EN10MB, heap_view(f, 64, &k), &r), DECODE_OK);
    assert_int_equal(r.ethertype, 0x0800);
    assert_int_equal(r.nvlan, 2);
    assert_int_equal(r.vlan[0], 10);
    assert_int_equal(r.vlan[1], 20);
    assert_int_equal(r.payload.len, 64 - 22);
    free(k);
    assert_int_equal(l2_parse(DLT_EN10MB, heap_view(f, 18, &k), &r), DERR_VLAN_TRUNCATED);
    free(k);
    assert_int_equal(l2_parse(DLT_EN10MB, heap_view(f, 13, &k), &r), DERR_ETH_TRUNCATED);
    free(k);
    /* five stacked tags */
    for (int i = 0; i < 5; i++) {
        f[12 + 4 * i] = 0x81;
        f[13 + 4 * i] = 0x00;
    }
    assert_int_equal(l2_parse(DLT_EN10MB, heap_view(f, 64, &k), &r), DERR_VLAN_TOO_DEEP);
    free(k);
    /* Linux cooked v2: protocol first */
    uint8_t s2[24] = { 0x86, 0xdd };
    assert_int_equal(l2_parse(276, heap_view(s2, 24, &k), &r), DECODE_OK);
    assert_int_equal(r.ethertype, 0x86dd);
    assert_int_equal(r.payload.len, 4);
    free(k);
    assert_int_equal(l2_parse(276, heap_view(s2, 19, &k), &r), DERR_LINK_TRUNCATED);
    free(k);
    /* BSD loopback, either byte order; unknown family */
    uint8_t lo[8] = { 2, 0, 0, 0 };
    assert_int_equal(l2_parse(DLT_NULL, heap_view(lo, 8, &k), &r), DECODE_OK);
    assert_int_equal(r.ethertype, 0x0800);
    free(k);
    uint8_t lo6[8] = { 0, 0, 0, 30 };
    assert_int_equal(l2_parse(DLT_NULL, heap_view(lo6, 8, &k), &r), DECODE_OK);
    assert_int_equal(r.ethertype, 0x86dd);
    free(k);
    uint8_t lox[8] = { 0, 0, 0, 99 };
    assert_int_equal(l2_parse(DLT_LOOP, heap_view(lox, 8, &k), &r), DERR_LINK_BAD_FAMILY);
    free(k);
    assert_int_equal(l2_parse(DLT_IEEE802_11, heap_view(lox, 8, &k), &r), DERR_LINK_UNSUPPORTED);
    free(k);
}

static void decode_packet_counts_rejections_by_layer(void **state)
{
    (void)state;
    struct decoder d;
    struct decoded out;
    uint8_t f[14 + sizeof ipv4_udp] = { 0 };
    memset(&d, 0, sizeof d);
    d.linktype = DLT_EN10MB;
    f[12] = 0x08;
    memcpy(f + 14, ipv4_udp, sizeof ipv4_udp);
    assert_int_equal(decode_packet(&d, f, sizeof f, sizeof f, &out), DECODE_STATUS_L4);
    assert_int_equal(out.l4, 17);
    assert_int_equal(out.udp.dport, 53);
    f[14 + 25] = 99; /* UDP length 99 */
    assert_int_equal(decode_packet(&d, f, sizeof f, sizeof f, &out), DECODE_STATUS_ERROR);
    assert_int_equal(d.errors[DERR_UDP_BAD_LENGTH], 1);
    f[12] = 0x08; f[13] = 0x06; /* ARP: not IP, not an error */
    assert_int_equal(decode_packet(&d, f, sizeof f, sizeof f, &out), DECODE_STATUS_NOT_IP);
    uint64_t total = 0;
    for (int e = 0; e < DERR_COUNT; e++)
        total += d.errors[e];
    assert_int_equal(total, 1);
}

static void every_error_has_layer_and_reason_strings(void **state)
{
    (void)state;
    for (int e = 0; e < DERR_COUNT; e++) {
        assert_non_null(decode_error_layer[e]);
        assert_non_null(decode_error_reason[e]);
        for (int f = 0; f < e; f++)
            assert_false(strcmp(decode_error_layer[e], decode_error_layer[f]) == 0 &&
                         strcmp(decode_error_reason[e], decode_error_reason[f]) == 0);
    }
}

/* SPAN copies share an identity; a retransmission does not (IPv6 has no
 * ID: the TCP timestamp tells them apart), and a router's TTL is ignored */
static void identity_of_copies_and_retransmissions(void **state)
{
    (void)state;
    struct decoded a;
    memset(&a, 0, sizeof a);
    a.ip.version = 6;
    a.ip.proto = 6;
    a.ip.src.b[0] = 0x20;
    a.ip.dst.b[0] = 0x20;
    a.ip.dst.b[15] = 1;
    a.ip.ttl = 64;
    a.ip.payload_len = 32 + 100;
    a.l4 = 6;
    a.tcp.sport = 443;
    a.tcp.dport = 40000;
    a.tcp.seq = 1000;
    a.tcp.ack = 2000;
    a.tcp.flags = TCP_ACK | TCP_PSH;
    a.tcp.window = 512;
    a.tcp.tsval = 77;
    a.tcp.tsecr = 66;
    struct decoded b = a;
    b.ip.ttl = 63; /* one router later */
    assert_true(decode_identity(&a, 42) == decode_identity(&b, 42));
    b.tcp.tsval = 78; /* sent again */
    assert_true(decode_identity(&a, 42) != decode_identity(&b, 42));
    b = a;
    b.tcp.ack = 2001;
    assert_true(decode_identity(&a, 42) != decode_identity(&b, 42));
    /* duplicate ACKs of one burst (seen on a veth, vxlan_mirror): IPv4 IDs
     * 0x2f04 and 0x2f07, TSval one tick apart, nothing else differs — once
     * equal for some flow hashes, when the fields were summed */
    a.ip.version = b.ip.version = 4;
    a.ip.payload_len = b.ip.payload_len = 44;
    a.tcp.flags = b.tcp.flags = TCP_ACK;
    b = a;
    a.ip.frag_id = 0x2f04;
    a.tcp.tsval = 2426137333u;
    b.ip.frag_id = 0x2f07;
    b.tcp.tsval = 2426137334u;
    b.tcp.ack = a.tcp.ack;
    for (uint32_t fh = 0; fh < 100000; fh++)
        assert_true(decode_identity(&a, fh * 2654435761u) != decode_identity(&b, fh * 2654435761u));
    b = a;
    /* UDP: the payload stands for the missing sequence number */
    uint8_t p1[80] = { 1, 2, 3 }, p2[80] = { 1, 2, 4 };
    a.l4 = b.l4 = 17;
    a.udp.payload = bytes_make(p1, sizeof p1);
    b.udp = a.udp;
    assert_true(decode_identity(&a, 42) == decode_identity(&b, 42));
    b.udp.payload = bytes_make(p2, sizeof p2);
    assert_true(decode_identity(&a, 42) != decode_identity(&b, 42));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_parses_addresses_ports_and_payload),
        cmocka_unit_test(ipv4_rejects_each_defect),
        cmocka_unit_test(ipv4_snaplen_cut_is_not_an_error),
        cmocka_unit_test(ipv4_fragment_fields),
        cmocka_unit_test(ipv6_walks_extension_headers),
        cmocka_unit_test(ipv6_limits_the_chain),
        cmocka_unit_test(ipv6_fragment_header),
        cmocka_unit_test(tcp_parses_options),
        cmocka_unit_test(tcp_rejects_each_defect),
        cmocka_unit_test(udp_rejects_bad_lengths),
        cmocka_unit_test(l2_handles_vlan_stacks_and_cooked_headers),
        cmocka_unit_test(decode_packet_counts_rejections_by_layer),
        cmocka_unit_test(identity_of_copies_and_retransmissions),
        cmocka_unit_test(every_error_has_layer_and_reason_strings),
    };
    return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
