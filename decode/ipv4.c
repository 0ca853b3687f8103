/*
 * ipv4.c — IPv4 header parser: version, header length, total length,
 * options (walked for well-formedness, not interpreted) and fragment fields.
 * Header checksums are not verified: captures taken on a sending host carry
 * offloaded (blank) checksums, and tshark does not verify them by default.
 */
#include "decode/decode.h"

#include <string.h>

#define IPV4_MIN_HLEN 20
#define IPV4_MF 0x2000
#define IPV4_OFFMASK 0x1fff

static enum decode_error ipv4_check_options(struct bytes opts)
{
    size_t off = 0;
    while (off < opts.len) {
        uint8_t type, len;
        rd_u8(&opts, off, &type);
        if (type == 0) /* end of option list */
            return DECODE_OK;
        if (type == 1) { /* no-op */
            off++;
            continue;
        }
        if (!rd_u8(&opts, off + 1, &len) || len < 2 || !bytes_has(&opts, off, len))
            return DERR_IPV4_BAD_OPTION;
        off += len;
    }
    return DECODE_OK;
}

enum decode_error ipv4_parse(struct bytes b, bool wire_truncated, struct ip_result *out)
{
    uint8_t vihl, ttl, proto;
    uint16_t totlen, id, frag;

    if (!rd_u8(&b, 0, &vihl))
        return DERR_IPV4_TRUNCATED;
    if ((vihl >> 4) != 4)
        return DERR_IPV4_BAD_VERSION;
    size_t hlen = (size_t)(vihl & 0x0f) * 4;
    if (hlen < IPV4_MIN_HLEN)
        return DERR_IPV4_BAD_HLEN;
    if (!bytes_has(&b, 0, hlen))
        return DERR_IPV4_TRUNCATED;
    /* the fixed header is within the checked hlen >= 20 bytes */
    totlen = load_be16(b.p + 2);
    id = load_be16(b.p + 4);
    frag = load_be16(b.p + 6);
    ttl = b.p[8];
    proto = b.p[9];
    if (totlen < hlen)
        return DERR_IPV4_BAD_TOTLEN;

    out->truncated = false;
    size_t avail = totlen;
    if (totlen > b.len) {
        if (!wire_truncated)
            return DERR_IPV4_BAD_TOTLEN;
        out->truncated = true;
        avail = b.len;
    }
    if (hlen > IPV4_MIN_HLEN) {
        struct bytes opts;
        bytes_sub(&b, IPV4_MIN_HLEN, hlen - IPV4_MIN_HLEN, &opts);
        enum decode_error e = ipv4_check_options(opts);
        if (e != DECODE_OK)
            return e;
    }

    out->version = 4;
    out->proto = proto;
    out->ttl = ttl;
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    memcpy(out->src.b, mapped, 12);
    memcpy(out->dst.b, mapped, 12);
    memcpy(out->src.b + 12, b.p + 12, 4); /* hlen >= 20 was checked */
    memcpy(out->dst.b + 12, b.p + 16, 4);
    out->more_fragments = (frag & IPV4_MF) != 0;
    out->frag_offset = (uint32_t)(frag & IPV4_OFFMASK) * 8;
    out->fragment = out->more_fragments || out->frag_offset != 0;
    out->frag_id = id;
    bytes_sub(&b, hlen, avail - hlen, &out->payload);
    out->payload_len = (uint32_t)(totlen - hlen);
    return DECODE_OK;
}
