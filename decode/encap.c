/*
 * encap.c — the encapsulations mirrored traffic arrives in, one pure,
 * bounds-checked parser each (README "Where packets come from"). Each
 * takes the bytes after the outer header that announced it (an ethertype,
 * an IP protocol, a UDP port) and says what is inside: Ethernet, IPv4,
 * IPv6, or nothing to analyse (a PPP control frame, a GTP echo, a GRE
 * keep-alive). Lengths in headers are checked against the bytes there are;
 * a header that lies is a decode error, never a read past the end.
 *
 *   MPLS      RFC 3032 label stack; IP by the first nibble, 0: a pseudowire
 *             control word (RFC 4385) and Ethernet
 *   PPPoE     RFC 2516 session stage; PPP protocol 0x0021 / 0x0057 (or
 *             compressed to one byte)
 *   GRE       RFC 2784 / 2890 (checksum, key, sequence); IPv4, IPv6,
 *             Ethernet (0x6558), ERSPAN type I and II (0x88BE, II when the
 *             sequence bit is set: an 8-byte header) and III (0x22EB: a
 *             12-byte header, 8 more when its O flag says a platform
 *             sub-header follows)
 *   VXLAN     RFC 7348: 8 bytes, the I flag, a 24-bit VNI; Ethernet
 *   Geneve    RFC 8926: 8 bytes + options (length in 4-byte words); VNI
 *   GTP-U     3GPP TS 29.281 version 1: G-PDU (type 255) with the optional
 *             sequence / N-PDU / extension-header fields; IP inside
 */
#include "decode/decode.h"

const char *const encap_type_name[ENCAP_COUNT] = {
    [ENCAP_MPLS] = "mpls",     [ENCAP_PPPOE] = "pppoe", [ENCAP_GRE] = "gre",
    [ENCAP_ERSPAN] = "erspan", [ENCAP_VXLAN] = "vxlan", [ENCAP_GENEVE] = "geneve",
    [ENCAP_IPIP] = "ipip",     [ENCAP_GTPU] = "gtpu",
};

#define MPLS_MAX_LABELS 8
#define GTPU_MAX_EXT 8

static void inner_ip_by_nibble(uint8_t first, struct encap_result *out)
{
    out->inner = (first >> 4) == 4 ? INNER_IPV4 : (first >> 4) == 6 ? INNER_IPV6 : INNER_NONE;
}

enum decode_error mpls_parse(struct bytes b, struct encap_result *out)
{
    size_t off = 0;
    uint32_t entry;
    *out = (struct encap_result){ .type = ENCAP_MPLS };
    for (unsigned n = 0;; n++) {
        if (n == MPLS_MAX_LABELS)
            return DERR_MPLS_TOO_MANY_LABELS;
        if (!rd_u32be(&b, off, &entry))
            return DERR_MPLS_TRUNCATED;
        off += 4;
        if (entry & 0x100) /* bottom of stack */
            break;
    }
    uint8_t first;
    if (!rd_u8(&b, off, &first))
        return DERR_MPLS_TRUNCATED;
    if ((first >> 4) == 0) { /* pseudowire control word, then an Ethernet frame */
        if (!bytes_tail(&b, off + 4, &out->payload))
            return DERR_MPLS_TRUNCATED;
        out->inner = INNER_ETHERNET;
        return DECODE_OK;
    }
    inner_ip_by_nibble(first, out);
    if (out->inner == INNER_NONE)
        return DERR_MPLS_BAD_PAYLOAD;
    bytes_tail(&b, off, &out->payload);
    return DECODE_OK;
}

enum decode_error pppoe_parse(struct bytes b, struct encap_result *out)
{
    uint8_t vt, code;
    uint16_t len, proto;
    *out = (struct encap_result){ .type = ENCAP_PPPOE };
    if (!rd_u8(&b, 0, &vt) || !rd_u8(&b, 1, &code) || !rd_u16be(&b, 4, &len))
        return DERR_PPPOE_TRUNCATED;
    if (vt != 0x11 || code != 0)
        return DERR_PPPOE_BAD_HEADER;
    if (len < 2)
        return DERR_PPPOE_BAD_HEADER;
    /* the PPP protocol: two bytes, or one when protocol-field compression
     * was negotiated (RFC 1661 6.5: an odd first byte) */
    uint8_t first;
    size_t plen = 2;
    if (!rd_u8(&b, 6, &first))
        return DERR_PPPOE_TRUNCATED;
    if (first & 1) {
        proto = first;
        plen = 1;
    } else if (!rd_u16be(&b, 6, &proto)) {
        return DERR_PPPOE_TRUNCATED;
    }
    out->inner = proto == 0x0021 ? INNER_IPV4 : proto == 0x0057 ? INNER_IPV6 : INNER_NONE;
    bytes_tail(&b, 6 + plen, &out->payload);
    /* the session length covers the PPP protocol field and the payload */
    if (out->payload.len > (size_t)len - plen)
        out->payload.len = (size_t)len - plen;
    return DECODE_OK;
}

/* ERSPAN type II / III headers after GRE; Ethernet follows */
static enum decode_error erspan_parse(struct bytes b, uint16_t proto, bool seq,
                                      struct encap_result *out)
{
    size_t off = 0;
    uint8_t v;
    *out = (struct encap_result){ .type = ENCAP_ERSPAN };
    if (proto == 0x88be && seq) { /* type II */
        if (!rd_u8(&b, 0, &v))
            return DERR_ERSPAN_TRUNCATED;
        if ((v >> 4) != 1)
            return DERR_ERSPAN_BAD_VERSION;
        off = 8;
    } else if (proto == 0x22eb) { /* type III */
        uint8_t flags;
        if (!rd_u8(&b, 0, &v) || !rd_u8(&b, 11, &flags))
            return DERR_ERSPAN_TRUNCATED;
        if ((v >> 4) != 2)
            return DERR_ERSPAN_BAD_VERSION;
        off = 12 + ((flags & 0x01) ? 8 : 0);
    } /* else type I: no header */
    if (!bytes_tail(&b, off, &out->payload))
        return DERR_ERSPAN_TRUNCATED;
    out->inner = INNER_ETHERNET;
    return DECODE_OK;
}

enum decode_error gre_parse(struct bytes b, struct encap_result *out)
{
    uint16_t flags, proto;
    *out = (struct encap_result){ .type = ENCAP_GRE };
    if (!rd_u16be(&b, 0, &flags) || !rd_u16be(&b, 2, &proto))
        return DERR_GRE_TRUNCATED;
    if ((flags & 0x7) == 1) { /* PPTP's enhanced GRE (RFC 2637): PPP, not a mirror */
        out->inner = INNER_NONE;
        out->payload = bytes_make(b.p, 0);
        return DECODE_OK;
    }
    if ((flags & 0x7) != 0)
        return DERR_GRE_BAD_VERSION;
    if (flags & 0x4000)
        return DERR_GRE_BAD_FLAGS; /* source routing (RFC 1701): deprecated */
    size_t off = 4;
    if (flags & 0x8000) /* checksum + reserved */
        off += 4;
    if (flags & 0x2000) /* key */
        off += 4;
    bool seq = (flags & 0x1000) != 0;
    if (seq)
        off += 4;
    struct bytes rest;
    if (!bytes_tail(&b, off, &rest))
        return DERR_GRE_TRUNCATED;
    switch (proto) {
    case 0x0800:
        out->inner = INNER_IPV4;
        break;
    case 0x86dd:
        out->inner = INNER_IPV6;
        break;
    case 0x6558:
        out->inner = INNER_ETHERNET;
        break;
    case 0x88be:
    case 0x22eb:
        return erspan_parse(rest, proto, seq, out);
    default:
        out->inner = INNER_NONE; /* keep-alives, other payloads: nothing to analyse */
        break;
    }
    out->payload = rest;
    return DECODE_OK;
}

enum decode_error vxlan_parse(struct bytes b, struct encap_result *out)
{
    uint8_t flags;
    uint32_t w;
    *out = (struct encap_result){ .type = ENCAP_VXLAN };
    if (!rd_u8(&b, 0, &flags) || !rd_u32be(&b, 4, &w))
        return DERR_VXLAN_TRUNCATED;
    if (!(flags & 0x08))
        return DERR_VXLAN_BAD_FLAGS; /* no valid VNI */
    out->vni = w >> 8;
    out->has_vni = true;
    out->inner = INNER_ETHERNET;
    bytes_tail(&b, 8, &out->payload);
    return DECODE_OK;
}

enum decode_error geneve_parse(struct bytes b, struct encap_result *out)
{
    uint8_t vo;
    uint16_t proto;
    uint32_t w;
    *out = (struct encap_result){ .type = ENCAP_GENEVE };
    if (!rd_u8(&b, 0, &vo) || !rd_u16be(&b, 2, &proto) || !rd_u32be(&b, 4, &w))
        return DERR_GENEVE_TRUNCATED;
    if ((vo >> 6) != 0)
        return DERR_GENEVE_BAD_VERSION;
    size_t off = 8 + (size_t)(vo & 0x3f) * 4; /* options skipped by their length */
    if (!bytes_tail(&b, off, &out->payload))
        return DERR_GENEVE_BAD_OPTIONS;
    out->vni = w >> 8;
    out->has_vni = true;
    out->inner = proto == 0x6558   ? INNER_ETHERNET
                 : proto == 0x0800 ? INNER_IPV4
                 : proto == 0x86dd ? INNER_IPV6
                                   : INNER_NONE;
    return DECODE_OK;
}

enum decode_error gtpu_parse(struct bytes b, struct encap_result *out)
{
    uint8_t flags, type;
    uint16_t len;
    *out = (struct encap_result){ .type = ENCAP_GTPU };
    if (!rd_u8(&b, 0, &flags) || !rd_u8(&b, 1, &type) || !rd_u16be(&b, 2, &len) ||
        !bytes_has(&b, 0, 8))
        return DERR_GTPU_TRUNCATED;
    if ((flags >> 5) != 1 || !(flags & 0x10))
        return DERR_GTPU_BAD_VERSION; /* GTPv1, protocol type GTP (not GTP') */
    /* the length counts what follows the mandatory 8 bytes */
    struct bytes body;
    bytes_tail(&b, 8, &body);
    if (body.len > len)
        body.len = len;
    size_t off = 0;
    if (flags & 0x07) { /* sequence, N-PDU, next extension type */
        uint8_t next;
        if (!rd_u8(&body, 3, &next))
            return DERR_GTPU_TRUNCATED;
        off = 4;
        for (unsigned n = 0; (flags & 0x04) && next; n++) {
            uint8_t units;
            if (n == GTPU_MAX_EXT)
                return DERR_GTPU_BAD_EXTENSION;
            if (!rd_u8(&body, off, &units))
                return DERR_GTPU_TRUNCATED;
            if (units == 0)
                return DERR_GTPU_BAD_EXTENSION;
            off += (size_t)units * 4;
            if (!rd_u8(&body, off - 1, &next))
                return DERR_GTPU_TRUNCATED;
        }
    }
    if (!bytes_tail(&body, off, &out->payload))
        return DERR_GTPU_TRUNCATED;
    uint8_t first;
    if (type != 0xff || !rd_u8(&out->payload, 0, &first)) {
        out->inner = INNER_NONE; /* echo, error indication, end marker; empty G-PDU */
        return DECODE_OK;
    }
    inner_ip_by_nibble(first, out);
    return DECODE_OK;
}
