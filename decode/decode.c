/*
 * decode.c — runs the per-layer parsers over one frame and counts each
 * rejection in the decoder's errors[] (spanwatch_decode_errors_total).
 */
#include "decode/decode.h"

#include <netinet/in.h>


const char *const decode_error_layer[DERR_COUNT] = {
#define X(id, layer, reason) [DERR_##id] = layer,
    DECODE_ERROR_LIST(X)
#undef X
};

const char *const decode_error_reason[DERR_COUNT] = {
#define X(id, layer, reason) [DERR_##id] = reason,
    DECODE_ERROR_LIST(X)
#undef X
};

static enum decode_status fail(struct decoder *d, enum decode_error e)
{
    d->errors[e]++;
    return DECODE_STATUS_ERROR;
}

/* TCP or UDP over out->ip's payload (a whole datagram) */
static enum decode_status decode_transport(struct decoder *d, struct decoded *out)
{
    struct bytes l4 = out->ip.payload;
    uint32_t l4_len = out->ip.payload_len;
    enum decode_error e;
    out->l4 = out->ip.proto;
    switch (out->ip.proto) {
    case IPPROTO_TCP:
        e = tcp_parse(l4, l4_len, &out->tcp);
        break;
    case IPPROTO_UDP:
        e = udp_parse(l4, l4_len, &out->udp);
        break;
    default:
        return DECODE_STATUS_L4;
    }
    if (e != DECODE_OK)
        return fail(d, e);
    return DECODE_STATUS_L4;
}

enum decode_status decode_packet(struct decoder *d, const uint8_t *data, uint32_t caplen,
                                 uint32_t wirelen, struct decoded *out)
{
    struct bytes frame = bytes_make(data, caplen);
    bool wire_truncated = wirelen > caplen;
    enum decode_error e;

    e = l2_parse(d->linktype, frame, &out->l2);
    if (e != DECODE_OK)
        return fail(d, e);

    switch (out->l2.ethertype) {
    case 0x0800:
        e = ipv4_parse(out->l2.payload, wire_truncated, &out->ip);
        break;
    case 0x86dd:
        e = ipv6_parse(out->l2.payload, wire_truncated, &out->ip);
        break;
    default:
        return DECODE_STATUS_NOT_IP;
    }
    if (e != DECODE_OK)
        return fail(d, e);

    out->reassembled = false;
    if (out->ip.fragment)
        return DECODE_STATUS_FRAGMENT;
    return decode_transport(d, out);
}

enum decode_status decode_reassembled(struct decoder *d, struct decoded *out, struct bytes l4)
{
    out->reassembled = true;
    out->ip.payload = l4;
    out->ip.payload_len = (uint32_t)l4.len;
    out->ip.fragment = false;
    return decode_transport(d, out);
}
