/*
 * dispatch_hash.c — which worker a frame goes to (see decode.h): a
 * symmetric hash of its innermost flow — the IP address pair, and for TCP
 * the port pair — so one busy host pair (a load balancer and a backend)
 * spreads over the workers, and both directions of a connection meet on
 * one. The fragments of a TCP segment carry no ports after the first:
 * decode_dispatch_key() says which datagram a fragment belongs to, and the
 * dispatcher sends it where that datagram's first fragment went.
 */
#include <string.h>

#include "decode/decode.h"

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t load_addr(const uint8_t *p, unsigned len)
{
    uint64_t a = 0, b = 0;
    if (len == 4) {
        memcpy(&a, p, 4);
    } else {
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        a ^= mix64(b);
    }
    return a;
}

static uint32_t pair_hash(const struct ip_addr *src, const struct ip_addr *dst)
{
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    unsigned len = memcmp(src->b, v4mapped, 12) || memcmp(dst->b, v4mapped, 12) ? 16 : 4;
    uint64_t x = load_addr(src->b + (16 - len), len), y = load_addr(dst->b + (16 - len), len);
    uint64_t lo = x < y ? x : y, hi = x < y ? y : x;
    return (uint32_t)(mix64(lo * 0x9e3779b97f4a7c15ull + hi) >> 32);
}

/* the outermost IP pair, read with the L2 parser alone */
static uint32_t outer_hash(int linktype, const uint8_t *data, uint32_t caplen)
{
    struct l2_result l2;
    struct bytes frame = { data, caplen };
    if (l2_parse(linktype, frame, &l2) != DECODE_OK)
        return 0;
    const uint8_t *ip = l2.payload.p;
    uint64_t x, y;
    if (l2.ethertype == 0x0800 && l2.payload.len >= 20) {
        x = load_addr(ip + 12, 4);
        y = load_addr(ip + 16, 4);
    } else if (l2.ethertype == 0x86dd && l2.payload.len >= 40) {
        x = load_addr(ip + 8, 16);
        y = load_addr(ip + 24, 16);
    } else {
        return 0;
    }
    uint64_t lo = x < y ? x : y, hi = x < y ? y : x;
    return (uint32_t)(mix64(lo * 0x9e3779b97f4a7c15ull + hi) >> 32);
}

static inline uint32_t with_ports(uint32_t pair, uint16_t a, uint16_t b)
{
    uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
    return (uint32_t)(mix64((uint64_t)pair << 32 | lo << 16 | hi) >> 32);
}

void decode_dispatch_key(struct decoder *scratch, int linktype, const uint8_t *data,
                         uint32_t caplen, struct dispatch_key *k)
{
    /* the innermost IP header a frame can be decoded to without
     * reassembly; frames that do not decode: the outer pair, as before */
    struct decoded d;
    scratch->linktype = linktype;
    scratch->reassemble = NULL;
    enum decode_status st = decode_packet(scratch, data, caplen, caplen, &d);
    k->fragment = 0;
    k->first = 0;
    if (st != DECODE_STATUS_L4 && st != DECODE_STATUS_FRAG_HELD) {
        k->hash = outer_hash(linktype, data, caplen);
        return;
    }
    uint32_t pair = pair_hash(&d.ip.src, &d.ip.dst);
    k->hash = pair;
    /* TCP by its 5-tuple; UDP and the rest by the address pair: UDP is
     * what fragments (large DNS answers, tunnels), and a datagram's later
     * fragments can arrive before its first, which alone has the ports */
    if (st == DECODE_STATUS_L4) {
        if (d.l4 == 6)
            k->hash = with_ports(pair, d.tcp.sport, d.tcp.dport);
        return;
    }
    /* a fragment: its datagram (addresses, ID, protocol); the first one of
     * a TCP segment (offset 0) carries the ports */
    k->fragment = 1;
    k->datagram = (uint32_t)(mix64((uint64_t)pair << 32 ^ d.ip.frag_id ^
                                   (uint64_t)d.ip.proto << 24) >> 32) | 1;
    uint16_t sp, dp;
    if (d.ip.frag_offset == 0 && d.ip.proto == 6 && rd_u16be(&d.ip.payload, 0, &sp) &&
        rd_u16be(&d.ip.payload, 2, &dp)) {
        k->first = 1;
        k->hash = with_ports(pair, sp, dp);
    }
}
