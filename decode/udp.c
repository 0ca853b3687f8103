/*
 * udp.c — UDP header parser. The UDP length must cover the header and fit in
 * the IP payload; bytes after it (padding) are ignored.
 */
#include "decode/decode.h"

#define UDP_HLEN 8

enum decode_error udp_parse(struct bytes b, uint32_t l4_len, struct udp_result *out)
{
    uint16_t length;

    if (l4_len < UDP_HLEN || !bytes_has(&b, 0, UDP_HLEN))
        return DERR_UDP_TRUNCATED;
    /* the 8-byte header was checked just above */
    out->sport = load_be16(b.p);
    out->dport = load_be16(b.p + 2);
    length = load_be16(b.p + 4);
    if (length < UDP_HLEN || length > l4_len)
        return DERR_UDP_BAD_LENGTH;
    out->length = length;
    out->payload_len = (uint32_t)length - UDP_HLEN;
    bytes_tail(&b, UDP_HLEN, &out->payload);
    if (out->payload.len > out->payload_len)
        out->payload.len = out->payload_len;
    return DECODE_OK;
}
