/*
 * dispatch_hash.c — which worker a frame goes to (see decode.h): a
 * symmetric hash of its IP addresses, read with the L2 parser and no
 * further, so a dispatcher's per-packet work stays small.
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

uint32_t decode_dispatch_hash(struct decoder *scratch, int linktype, const uint8_t *data,
                              uint32_t caplen)
{
    /* the innermost IP pair a frame can be decoded to without reassembly
     * (a tunnel's conversations spread over the workers; the fragments of
     * a datagram stop at the same header, so they stay together); frames
     * that do not decode: the outer pair, as before */
    struct decoded d;
    scratch->linktype = linktype;
    scratch->reassemble = NULL;
    enum decode_status st = decode_packet(scratch, data, caplen, caplen, &d);
    if (st == DECODE_STATUS_L4 || st == DECODE_STATUS_FRAG_HELD)
        return pair_hash(&d.ip.src, &d.ip.dst);
    return outer_hash(linktype, data, caplen);
}
