/*
 * tcp.c — TCP header parser: ports, sequence numbers, flags, data offset and
 * the options spanwatch uses (MSS, window scale, SACK-permitted, timestamps).
 * Unknown options are skipped by their length; a length that is too short
 * or runs past the header is a decode error, as are known options with the
 * wrong length.
 */
#include "decode/decode.h"

#define TCP_MIN_HLEN 20

static enum decode_error tcp_options(struct bytes o, struct tcp_result *out)
{
    size_t off = 0;
    while (off < o.len) {
        uint8_t kind, len;
        rd_u8(&o, off, &kind);
        if (kind == 0)
            break;
        if (kind == 1) {
            off++;
            continue;
        }
        if (!rd_u8(&o, off + 1, &len) || len < 2 || !bytes_has(&o, off, len))
            return DERR_TCP_BAD_OPTION;
        switch (kind) {
        case 2:
            if (len != 4)
                return DERR_TCP_BAD_OPTION;
            rd_u16be(&o, off + 2, &out->mss);
            break;
        case 3: {
            uint8_t ws;
            if (len != 3)
                return DERR_TCP_BAD_OPTION;
            rd_u8(&o, off + 2, &ws);
            out->wscale = (int8_t)(ws > 14 ? 14 : ws);
            break;
        }
        case 4:
            if (len != 2)
                return DERR_TCP_BAD_OPTION;
            out->sack_ok = true;
            break;
        case 8:
            if (len != 10)
                return DERR_TCP_BAD_OPTION;
            rd_u32be(&o, off + 2, &out->tsval);
            rd_u32be(&o, off + 6, &out->tsecr);
            out->has_ts = true;
            break;
        default:
            break;
        }
        off += len;
    }
    return DECODE_OK;
}

enum decode_error tcp_parse(struct bytes b, uint32_t l4_len, struct tcp_result *out)
{
    uint8_t doff, flags;

    if (l4_len < TCP_MIN_HLEN)
        return DERR_TCP_TRUNCATED;
    if (!bytes_has(&b, 0, TCP_MIN_HLEN))
        return DERR_TCP_TRUNCATED;
    /* the fixed 20 bytes were checked just above */
    const uint8_t *h = b.p;
    out->sport = load_be16(h);
    out->dport = load_be16(h + 2);
    out->seq = load_be32(h + 4);
    out->ack = load_be32(h + 8);
    doff = h[12];
    flags = h[13];
    out->window = load_be16(h + 14);
    size_t hlen = (size_t)(doff >> 4) * 4;
    if (hlen < TCP_MIN_HLEN || hlen > l4_len)
        return DERR_TCP_BAD_OFFSET;
    if (!bytes_has(&b, 0, hlen))
        return DERR_TCP_TRUNCATED;
    out->flags = flags;
    out->hdr_len = (uint8_t)hlen;
    out->mss = 0;
    out->wscale = -1;
    out->sack_ok = false;
    out->has_ts = false;
    out->tsval = out->tsecr = 0;
    if (hlen > TCP_MIN_HLEN) {
        struct bytes o;
        bytes_sub(&b, TCP_MIN_HLEN, hlen - TCP_MIN_HLEN, &o);
        enum decode_error e = tcp_options(o, out);
        if (e != DECODE_OK)
            return e;
    }
    bytes_tail(&b, hlen, &out->payload);
    out->payload_len = l4_len - (uint32_t)hlen;
    if (out->payload.len > out->payload_len)
        out->payload.len = out->payload_len;
    return DECODE_OK;
}
