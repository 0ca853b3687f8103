/*
 * decode.c — runs the per-layer parsers over one frame and counts each
 * rejection in the decoder's errors[] (spanwatch_decode_errors_total).
 */
#include "decode/decode.h"

#include <netinet/in.h>

#define DLT_EN10MB_VALUE 1 /* pcap/dlt.h DLT_EN10MB */


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

/* An encapsulation's result: count it, and say where the chain goes on
 * (*type: an ethertype; the inner Ethernet is parsed here). */
static enum decode_status unwrapped(struct decoder *d, struct decoded *out, enum decode_error e,
                                    const struct encap_result *er, uint16_t *type,
                                    struct bytes *next)
{
    if (e != DECODE_OK)
        return fail(d, e);
    if (++out->depth > ENCAP_MAX_DEPTH)
        return fail(d, DERR_ENCAP_TOO_DEEP);
    d->encap[er->type]++;
    if (er->has_vni) {
        out->has_vni = true;
        out->vni = er->vni;
    }
    switch (er->inner) {
    case INNER_IPV4:
        *type = 0x0800;
        break;
    case INNER_IPV6:
        *type = 0x86dd;
        break;
    case INNER_ETHERNET:
        e = l2_parse(DLT_EN10MB_VALUE, er->payload, &out->l2);
        if (e != DECODE_OK)
            return fail(d, e);
        if (out->l2.nvlan)
            out->vlan = out->l2.vlan[0];
        *type = out->l2.ethertype;
        *next = out->l2.payload;
        return DECODE_STATUS_L4; /* go on */
    default:
        return DECODE_STATUS_NOT_IP;
    }
    *next = er->payload;
    return DECODE_STATUS_L4;
}

/* UDP to a tunnel port: the encapsulation's parser, else 0 (not a tunnel) */
static int udp_tunnel(const struct decoder *d, const struct udp_result *u, struct encap_result *er,
                      enum decode_error *e)
{
    uint16_t vxlan = d->vxlan_port ? d->vxlan_port : UDP_PORT_VXLAN;
    if (u->dport == vxlan)
        *e = vxlan_parse(u->payload, er);
    else if (u->dport == UDP_PORT_GENEVE)
        *e = geneve_parse(u->payload, er);
    else if (u->dport == UDP_PORT_GTPU || u->sport == UDP_PORT_GTPU)
        *e = gtpu_parse(u->payload, er);
    else
        return 0;
    return 1;
}

enum decode_status decode_packet(struct decoder *d, const uint8_t *data, uint32_t caplen,
                                 uint32_t wirelen, struct decoded *out)
{
    struct bytes frame = bytes_make(data, caplen);
    bool wire_truncated = wirelen > caplen;
    enum decode_error e;
    struct encap_result er;
    enum decode_status st;

    e = l2_parse(d->linktype, frame, &out->l2);
    if (e != DECODE_OK)
        return fail(d, e);
    out->reassembled = false;
    out->depth = 0;
    out->has_vni = false;
    out->vni = 0;
    out->vlan = out->l2.nvlan ? out->l2.vlan[0] : 0;
    uint16_t type = out->l2.ethertype;
    struct bytes next = out->l2.payload;

    for (;;) {
        /* the network layer, or an encapsulation below it */
        switch (type) {
        case 0x0800:
            e = ipv4_parse(next, wire_truncated, &out->ip);
            break;
        case 0x86dd:
            e = ipv6_parse(next, wire_truncated, &out->ip);
            break;
        case 0x8847:
        case 0x8848:
            e = mpls_parse(next, &er);
            goto encap;
        case 0x8864:
            e = pppoe_parse(next, &er);
            goto encap;
        default:
            return DECODE_STATUS_NOT_IP;
        }
        if (e != DECODE_OK)
            return fail(d, e);

        struct bytes l4 = out->ip.payload;
        uint32_t l4_len = out->ip.payload_len;
        if (out->ip.fragment) {
            /* the caller's reassembly (state lives there, not here); once
             * per frame: its bytes may be reused by the next reassembly */
            if (!d->reassemble)
                return DECODE_STATUS_FRAG_HELD;
            if (out->reassembled)
                return fail(d, DERR_ENCAP_FRAGMENTED_TWICE);
            st = d->reassemble(d->reassemble_ctx, &out->ip, &l4);
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
            if (e == DECODE_OK && udp_tunnel(d, &out->udp, &er, &e))
                goto encap;
            break;
        case IPPROTO_IPIP:
        case IPPROTO_IPV6:
            er = (struct encap_result){ .type = ENCAP_IPIP, .payload = l4,
                                        .inner = out->ip.proto == IPPROTO_IPIP ? INNER_IPV4
                                                                                : INNER_IPV6 };
            e = DECODE_OK;
            goto encap;
        case IPPROTO_GRE:
            e = gre_parse(l4, &er);
            goto encap;
        default:
            return DECODE_STATUS_L4;
        }
        if (e != DECODE_OK)
            return fail(d, e);
        return DECODE_STATUS_L4;

    encap:
        st = unwrapped(d, out, e, &er, &type, &next);
        if (st != DECODE_STATUS_L4)
            return st;
    }
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v * 0x9e3779b97f4a7c15ull;
    return (h << 27 | h >> 37) * 0xbf58476d1ce4e5b9ull;
}

uint64_t decode_identity(const struct decoded *d)
{
    const struct ip_result *ip = &d->ip;
    uint64_t h = mix(load_u64(ip->src.b) ^ load_u64(ip->dst.b + 8), load_u64(ip->src.b + 8));
    h = mix(h, load_u64(ip->dst.b) ^ ((uint64_t)ip->proto << 56 | (uint64_t)d->vni << 24));
    /* IPv4: the ID changes with every datagram a sender makes */
    h = mix(h, (uint64_t)ip->frag_id << 32 | ip->payload_len);
    if (d->l4 == 6) {
        const struct tcp_result *t = &d->tcp;
        h = mix(h, (uint64_t)t->sport << 48 | (uint64_t)t->dport << 32 | t->seq);
        h = mix(h, (uint64_t)t->ack << 32 | (uint64_t)t->window << 16 | t->flags);
        h = mix(h, (uint64_t)t->tsval << 32 | t->tsecr);
    } else if (d->l4 == 17) {
        const struct udp_result *u = &d->udp;
        h = mix(h, (uint64_t)u->sport << 48 | (uint64_t)u->dport << 32 | u->length);
        /* no sequence numbers: the payload's first bytes stand for it */
        size_t n = u->payload.len < 64 ? u->payload.len : 64;
        size_t i = 0;
        for (; i + 8 <= n; i += 8)
            h = mix(h, load_u64(u->payload.p + i));
        uint64_t last = 0;
        for (; i < n; i++)
            last = last << 8 | u->payload.p[i];
        h = mix(h, last);
    }
    return h | 1;
}
