/*
 * l2.c — link layers: Ethernet with 802.1Q / 802.1ad (QinQ) tags, Linux
 * cooked capture v1 and v2, raw IP, and BSD loopback (NULL / LOOP).
 *
 * The parser finds the L3 ethertype and the bytes after the link header. A
 * frame whose ethertype is not IP is valid (ARP, LLDP, STP ...): it is
 * returned with its ethertype and not counted as an error.
 */
#include <pcap/dlt.h>

#include "decode/decode.h"

#define ETH_HLEN 14
#define SLL_HLEN 16
#define SLL2_HLEN 20
#define VLAN_TAG_LEN 4
#define VLAN_DECODE_MAX 4      /* deeper stacks are rejected */

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

bool l2_linktype_supported(int linktype)
{
    switch (linktype) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case 14: /* DLT_RAW on OpenBSD */
    case 101: /* LINKTYPE_RAW, should libpcap hand it through unmapped */
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
        return true;
    default:
        return false;
    }
}

static bool is_vlan_tpid(uint16_t t)
{
    return t == 0x8100 || t == 0x88a8 || t == 0x9100 || t == 0x9200;
}

/* Walk VLAN tags starting at `off`, whose ethertype field was `type`. */
static enum decode_error walk_vlans(struct bytes frame, size_t off, uint16_t type,
                                    struct l2_result *out)
{
    unsigned depth = 0;
    while (is_vlan_tpid(type)) {
        uint16_t tci, inner;
        if (++depth > VLAN_DECODE_MAX)
            return DERR_VLAN_TOO_DEEP;
        if (!rd_u16be(&frame, off, &tci) || !rd_u16be(&frame, off + 2, &inner))
            return DERR_VLAN_TRUNCATED;
        if (out->nvlan < VLAN_MAX_TAGS)
            out->vlan[out->nvlan++] = tci & 0x0fff;
        off += VLAN_TAG_LEN;
        type = inner;
    }
    out->ethertype = type;
    bytes_tail(&frame, off, &out->payload); /* off <= len was checked by the reads */
    return DECODE_OK;
}

/* Raw IP: the version nibble says which. */
static enum decode_error raw_ip(struct bytes frame, struct l2_result *out)
{
    uint8_t v;
    if (!rd_u8(&frame, 0, &v))
        return DERR_LINK_TRUNCATED;
    out->ethertype = (v >> 4) == 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
    out->payload = frame;
    return DECODE_OK;
}

static enum decode_error bsd_family(uint32_t af, struct bytes frame, struct l2_result *out)
{
    switch (af) {
    case 2:
        out->ethertype = ETHERTYPE_IPV4;
        break;
    case 10: case 24: case 28: case 30: /* AF_INET6: Linux, Net/OpenBSD, FreeBSD, Darwin */
        out->ethertype = ETHERTYPE_IPV6;
        break;
    default:
        return DERR_LINK_BAD_FAMILY;
    }
    bytes_tail(&frame, 4, &out->payload);
    return DECODE_OK;
}

enum decode_error l2_parse(int linktype, struct bytes frame, struct l2_result *out)
{
    uint16_t type;
    uint32_t af;

    out->nvlan = 0;
    out->ethertype = 0;
    out->payload = bytes_make(frame.p, 0);

    switch (linktype) {
    case DLT_EN10MB:
        if (!rd_u16be(&frame, 12, &type))
            return DERR_ETH_TRUNCATED;
        if (type <= 1500) { /* 802.3 length field: LLC/SNAP, not IP here */
            out->ethertype = 0;
            return DECODE_OK;
        }
        if (type == ETHERTYPE_IPV4 || type == ETHERTYPE_IPV6) { /* the common frame: no tags */
            out->ethertype = type;
            bytes_tail(&frame, ETH_HLEN, &out->payload); /* 14 bytes were checked by the read */
            return DECODE_OK;
        }
        return walk_vlans(frame, ETH_HLEN, type, out);

    case DLT_LINUX_SLL:
        if (!rd_u16be(&frame, 14, &type) || frame.len < SLL_HLEN)
            return DERR_LINK_TRUNCATED;
        return walk_vlans(frame, SLL_HLEN, type, out);

    case DLT_LINUX_SLL2:
        if (!rd_u16be(&frame, 0, &type) || frame.len < SLL2_HLEN)
            return DERR_LINK_TRUNCATED;
        return walk_vlans(frame, SLL2_HLEN, type, out);

    case DLT_RAW:
    case 14:
    case 101:
        return raw_ip(frame, out);

    case DLT_IPV4:
        out->ethertype = ETHERTYPE_IPV4;
        out->payload = frame;
        return DECODE_OK;

    case DLT_IPV6:
        out->ethertype = ETHERTYPE_IPV6;
        out->payload = frame;
        return DECODE_OK;

    case DLT_NULL: /* host byte order of the capturing machine: accept both */
        if (!rd_u32le(&frame, 0, &af))
            return DERR_LINK_TRUNCATED;
        if (af > 0xffff)
            af = (af >> 24) | ((af >> 8) & 0xff00u);
        return bsd_family(af, frame, out);

    case DLT_LOOP: /* network byte order */
        if (!rd_u32be(&frame, 0, &af))
            return DERR_LINK_TRUNCATED;
        return bsd_family(af, frame, out);

    default:
        return DERR_LINK_UNSUPPORTED;
    }
}
