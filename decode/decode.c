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
    struct bytes l4 = out->ip.payload;
    uint32_t l4_len = out->ip.payload_len;
    if (out->ip.fragment) {
        /* the caller's reassembly (state lives there, not here) */
        if (!d->reassemble)
            return DECODE_STATUS_FRAG_HELD;
        enum decode_status st = d->reassemble(d->reassemble_ctx, &out->ip, &l4);
        if (st != DECODE_STATUS_L4)
            return st;
        out->reassembled = true;
        l4_len = (uint32_t)l4.len;
        out->ip.payload = l4;
        out->ip.payload_len = l4_len;
        out->ip.fragment = false;
    }

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
