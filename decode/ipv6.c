/*
 * ipv6.c — IPv6 header and extension-header chain (hop-by-hop, routing,
 * destination options, mobility, HIP, shim6, AH, fragment). ESP and "no next
 * header" end the walk. The chain is bounded: at most IPV6_MAX_EXT headers.
 */
#include "decode/decode.h"

#define IPV6_HLEN 40
#define IPV6_MAX_EXT 10

enum {
    NH_HOPOPTS = 0,
    NH_ROUTING = 43,
    NH_FRAGMENT = 44,
    NH_ESP = 50,
    NH_AH = 51,
    NH_NONE = 59,
    NH_DSTOPTS = 60,
    NH_MOBILITY = 135,
    NH_HIP = 139,
    NH_SHIM6 = 140,
};

enum decode_error ipv6_parse(struct bytes b, bool wire_truncated, struct ip_result *out)
{
    uint8_t v, nh, hlim;
    uint16_t plen;

    if (!rd_u8(&b, 0, &v))
        return DERR_IPV6_TRUNCATED;
    if ((v >> 4) != 6)
        return DERR_IPV6_BAD_VERSION;
    if (!bytes_has(&b, 0, IPV6_HLEN))
        return DERR_IPV6_TRUNCATED;
    rd_u16be(&b, 4, &plen);
    rd_u8(&b, 6, &nh);
    rd_u8(&b, 7, &hlim);

    out->truncated = false;
    size_t avail = plen;
    if ((size_t)plen > b.len - IPV6_HLEN) {
        if (!wire_truncated)
            return DERR_IPV6_BAD_PLEN;
        out->truncated = true;
        avail = b.len - IPV6_HLEN;
    }
    out->version = 6;
    out->ttl = hlim;
    for (int i = 0; i < 16; i++) {
        out->src.b[i] = b.p[8 + i];
        out->dst.b[i] = b.p[24 + i];
    }
    out->fragment = false;
    out->more_fragments = false;
    out->frag_offset = 0;
    out->frag_id = 0;

    /* view over the bytes we have of the payload; plen bounds the chain */
    struct bytes pl;
    bytes_sub(&b, IPV6_HLEN, avail, &pl);
    size_t off = 0;
    for (int n = 0;; n++) {
        size_t elen;
        uint8_t next, l;
        if (nh != NH_HOPOPTS && nh != NH_ROUTING && nh != NH_FRAGMENT && nh != NH_AH &&
            nh != NH_DSTOPTS && nh != NH_MOBILITY && nh != NH_HIP && nh != NH_SHIM6)
            break; /* upper layer, ESP or no-next-header */
        if (n >= IPV6_MAX_EXT)
            return DERR_IPV6_TOO_MANY_EXT;
        if (off + 2 > plen)
            return DERR_IPV6_BAD_EXTHDR;
        if (!rd_u8(&pl, off, &next) || !rd_u8(&pl, off + 1, &l))
            return DERR_IPV6_TRUNCATED;
        if (nh == NH_FRAGMENT)
            elen = 8;
        else if (nh == NH_AH)
            elen = ((size_t)l + 2) * 4;
        else
            elen = ((size_t)l + 1) * 8;
        if (off + elen > plen)
            return DERR_IPV6_BAD_EXTHDR;
        if (!bytes_has(&pl, off, elen))
            return DERR_IPV6_TRUNCATED;
        if (nh == NH_FRAGMENT) {
            uint16_t offflags;
            uint32_t id;
            rd_u16be(&pl, off + 2, &offflags);
            rd_u32be(&pl, off + 4, &id);
            out->frag_offset = (uint32_t)(offflags & 0xfff8);
            out->more_fragments = (offflags & 1) != 0;
            out->frag_id = id;
            /* an "atomic fragment" (offset 0, M=0) is a whole datagram */
            out->fragment = out->more_fragments || out->frag_offset != 0;
        }
        off += elen;
        nh = next;
        if (out->fragment)
            break; /* the rest is fragment data */
    }
    out->proto = nh;
    bytes_tail(&pl, off, &out->payload);
    out->payload_len = (uint32_t)(plen - off);
    return DECODE_OK;
}
