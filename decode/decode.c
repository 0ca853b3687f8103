/*
 * decode.c — runs the per-layer parsers over one frame and counts each
 * rejection in the decoder's errors[] (spanwatch_decode_errors_total).
 */
#include "decode/decode.h"

#include <netinet/in.h>
#include <string.h>

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
    uint16_t p = u->dport;
    /* decoder_set_vxlan_ports() repeats the first port in unused entries */
    if (p == (d->vxlan_ports[0] ? d->vxlan_ports[0] : UDP_PORT_VXLAN) ||
        (d->vxlan_ports[1] &&
         (p == d->vxlan_ports[1] || p == d->vxlan_ports[2] || p == d->vxlan_ports[3])))
        *e = vxlan_parse(u->payload, er);
    else if (u->dport == UDP_PORT_GENEVE)
        *e = geneve_parse(u->payload, er);
    else if (u->dport == UDP_PORT_GTPU || u->sport == UDP_PORT_GTPU)
        *e = gtpu_parse(u->payload, er);
    else
        return 0;
    return 1;
}

/* decode_layer()'s answer when it found an encapsulation (the parser's
 * result is in *er, *e) */
#define LAYER_ENCAP ((enum decode_status)0x7f)

/* One network layer at next, announced by ethertype `type`: IP (with the
 * caller's reassembly, once per frame) and TCP or UDP — or an
 * encapsulation met on the way (LAYER_ENCAP). Inlined into both callers:
 * decode_packet()'s plain path stays straight, decode_inner() loops. */
static inline __attribute__((always_inline)) enum decode_status
decode_layer(struct decoder *d, struct decoded *out, uint16_t type, struct bytes next,
             bool wire_truncated, enum decode_error *e, struct encap_result *er)
{
    switch (type) {
    case 0x0800:
        *e = ipv4_parse(next, wire_truncated, &out->ip);
        break;
    case 0x86dd:
        *e = ipv6_parse(next, wire_truncated, &out->ip);
        break;
    case 0x8847:
    case 0x8848:
        *e = mpls_parse(next, er);
        return LAYER_ENCAP;
    case 0x8864:
        *e = pppoe_parse(next, er);
        return LAYER_ENCAP;
    default:
        return DECODE_STATUS_NOT_IP;
    }
    if (*e != DECODE_OK)
        return fail(d, *e);

    struct bytes l4 = out->ip.payload;
    uint32_t l4_len = out->ip.payload_len;
    if (out->ip.fragment) {
        /* the caller's reassembly (state lives there, not here); once per
         * frame: its bytes may be reused by the next reassembly */
        if (!d->reassemble)
            return DECODE_STATUS_FRAG_HELD;
        if (out->reassembled)
            return fail(d, DERR_ENCAP_FRAGMENTED_TWICE);
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
        *e = tcp_parse(l4, l4_len, &out->tcp);
        break;
    case IPPROTO_UDP:
        *e = udp_parse(l4, l4_len, &out->udp);
        if (*e == DECODE_OK && udp_tunnel(d, &out->udp, er, e))
            return LAYER_ENCAP;
        break;
    case IPPROTO_IPIP:
    case IPPROTO_IPV6:
        *er = (struct encap_result){ .type = ENCAP_IPIP, .payload = l4,
                                     .inner = out->ip.proto == IPPROTO_IPIP ? INNER_IPV4
                                                                             : INNER_IPV6 };
        *e = DECODE_OK;
        return LAYER_ENCAP;
    case IPPROTO_GRE:
        *e = gre_parse(l4, er);
        return LAYER_ENCAP;
    default:
        return DECODE_STATUS_L4;
    }
    return *e != DECODE_OK ? fail(d, *e) : DECODE_STATUS_L4;
}

/* The rare frames: an encapsulation was found (e, er: its parser's
 * result); unwrap it and decode on, up to ENCAP_MAX_DEPTH deep. Kept out
 * of decode_packet() so the plain path stays straight. */
static __attribute__((noinline)) enum decode_status
decode_inner(struct decoder *d, struct decoded *out, bool wire_truncated, enum decode_error e,
             struct encap_result er)
{
    for (;;) {
        uint16_t type;
        struct bytes next;
        enum decode_status st = unwrapped(d, out, e, &er, &type, &next);
        if (st != DECODE_STATUS_L4)
            return st;
        st = decode_layer(d, out, type, next, wire_truncated, &e, &er);
        if (st != LAYER_ENCAP)
            return st;
    }
}

/* flatten: the parsers of the plain path are inlined here, though
 * decode_inner() calls them too */
__attribute__((flatten)) enum decode_status decode_packet(struct decoder *d, const uint8_t *data,
                                                          uint32_t caplen, uint32_t wirelen,
                                                          struct decoded *out)
{
    struct bytes frame = bytes_make(data, caplen);
    bool wire_truncated = wirelen > caplen;
    enum decode_error e = l2_parse(d->linktype, frame, &out->l2);
    if (e != DECODE_OK)
        return fail(d, e);
    out->reassembled = false;
    out->depth = 0;
    out->has_vni = false;
    out->vni = 0;
    out->vlan = out->l2.nvlan ? out->l2.vlan[0] : 0;
    struct encap_result er;
    enum decode_status st =
        decode_layer(d, out, out->l2.ethertype, out->l2.payload, wire_truncated, &e, &er);
    return st == LAYER_ENCAP ? decode_inner(d, out, wire_truncated, e, er) : st;
}

/* one step of the identity: a bijection of h ^ field (an odd multiply and
 * an xorshift), so that a difference in a field is scrambled before the
 * next is mixed in and two fields' differences cannot cancel */
static inline uint64_t ident_step(uint64_t h, uint64_t field)
{
    h = (h ^ field) * 0xbf58476d1ce4e5b9ull;
    return h ^ h >> 31;
}

uint64_t decode_identity(const struct decoded *d, uint32_t flow_hash)
{
    /* what a copy shares with its original, beyond its flow (addresses,
     * ports, protocol, VNI: flow_hash), mixed in one field at a time. (The
     * fields were once summed: an IPv4 ID one apart and a TSval one tick
     * apart cancelled, and a burst of duplicate ACKs lost one as a "copy".) */
    const struct ip_result *ip = &d->ip;
    /* IPv4: the ID changes with every datagram a sender makes */
    uint64_t h = ident_step((uint64_t)flow_hash * 0x9e3779b97f4a7c15ull,
                            (uint64_t)ip->frag_id << 32 | ip->payload_len);
    if (d->l4 == 6) {
        const struct tcp_result *t = &d->tcp;
        h = ident_step(h, (uint64_t)t->seq << 32 | t->ack);
        h = ident_step(h, (uint64_t)t->tsval << 32 | t->tsecr);
        h = ident_step(h, (uint64_t)t->window << 16 | t->flags);
    } else {
        /* no sequence numbers: the payload's first and last 16 bytes stand
         * for them (a DNS header and question; an ICMP echo's identifier
         * and sequence; the packet number after a QUIC connection ID, and
         * an encrypted payload's authentication tag) */
        const struct bytes *p = d->l4 == 17 ? &d->udp.payload : &ip->payload;
        uint8_t head[32] = { 0 };
        const uint8_t *w = head;
        if (p->len >= 32) {
            memcpy(head, p->p, 16);
            memcpy(head + 16, p->p + p->len - 16, 16);
        } else {
            memcpy(head, p->p, p->len);
        }
        for (int i = 0; i < 4; i++)
            h = ident_step(h, load_u64(w + 8 * i));
    }
    h ^= h >> 29;
    return h | 1;
}
