/*
 * dns.c — see dns.h.
 */
#include "decode/dns.h"

#include <endian.h>
#include <string.h>

/* ASCII A-Z to a-z in all eight bytes of v; other bytes unchanged. */
static inline uint64_t lower8(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t low7 = v & ~high;
    uint64_t ge_a = low7 + (0x80 - 'A') * ones;     /* bit 7 set if byte >= 'A' */
    uint64_t gt_z = low7 + (0x7f - 'Z') * ones;     /* bit 7 set if byte > 'Z' */
    uint64_t upper = (ge_a & ~gt_z) & ~v & high;    /* ... and the byte is ASCII */
    return v | (upper >> 2);                        /* 0x80 >> 2 == 0x20 */
}

/* Read the name at *off; on success *off is just past it in the message. */
static enum decode_error dns_name(struct bytes b, size_t *off, struct dns_msg *m, uint64_t *h)
{
    size_t pos = *off, end_of_name = 0;
    unsigned hops = 0, wire_len = 0;
    size_t out = 0;
    int jumped = 0;

    for (;;) {
        uint8_t len;
        if (!rd_u8(&b, pos, &len))
            return DERR_DNS_TRUNCATED;
        if ((len & 0xc0) == 0xc0) {
            uint8_t lo;
            if (!rd_u8(&b, pos + 1, &lo))
                return DERR_DNS_TRUNCATED;
            size_t target = (size_t)(len & 0x3f) << 8 | lo;
            if (target >= pos || ++hops > DNS_MAX_HOPS)
                return DERR_DNS_NAME_LOOP;
            if (!jumped) {
                end_of_name = pos + 2;
                jumped = 1;
            }
            pos = target;
            continue;
        }
        if (len & 0xc0) /* 0x40, 0x80: extended/unused label types */
            return DERR_DNS_BAD_NAME;
        wire_len += 1u + len;
        if (wire_len > DNS_MAX_NAME)
            return DERR_DNS_NAME_TOO_LONG;
        if (len == 0) {
            pos++;
            break;
        }
        if (!bytes_has(&b, pos + 1, len))
            return DERR_DNS_TRUNCATED;
        if (out)
            m->qname[out++] = '.';
        /* eight bytes at a time, lower-cased in one go (words are
         * little-endian whatever the host). The last, partial word is
         * loaded whole when the message holds eight bytes from there
         * (masked to the label), else byte by byte: the same value either
         * way, so a query and its response hash alike. The hash only has
         * to agree between them; the label length goes in first, so "a\0"
         * and "a" differ. qname has eight bytes of slack for the stores. */
        const uint8_t *src = b.p + pos + 1;
        size_t i = 0;
        *h = (*h ^ len) * 0x100000001b3ull;
        for (; i + 8 <= len; i += 8) {
            uint64_t v = lower8(le64toh(load_u64(src + i)));
            uint64_t st = htole64(v);
            memcpy(m->qname + out, &st, 8);
            out += 8;
            *h = (*h ^ v) * 0x100000001b3ull;
            *h ^= *h >> 29;
        }
        size_t rem = len - i;
        if (rem) {
            uint64_t v = 0;
            if (b.len - (pos + 1 + i) >= 8) {
                v = le64toh(load_u64(src + i)) & (~0ull >> (8 * (8 - rem)));
            } else {
                for (size_t k = 0; k < rem; k++)
                    v |= (uint64_t)src[i + k] << (8 * k);
            }
            v = lower8(v);
            uint64_t st = htole64(v);
            memcpy(m->qname + out, &st, 8);
            out += rem;
            *h = (*h ^ v) * 0x100000001b3ull;
            *h ^= *h >> 29;
        }
        pos += 1u + len;
    }
    m->qname[out] = 0;
    m->qname_len = (uint16_t)out;
    *off = jumped ? end_of_name : pos;
    return DECODE_OK;
}

enum decode_error dns_parse(struct bytes b, struct dns_msg *m)
{
    uint16_t flags;
    if (!bytes_has(&b, 0, DNS_HEADER_LEN))
        return DERR_DNS_TRUNCATED;
    /* the 12-byte header was checked just above */
    const uint8_t *hd = b.p;
    m->id = load_be16(hd);
    flags = load_be16(hd + 2);
    m->qdcount = load_be16(hd + 4);
    m->ancount = load_be16(hd + 6);
    m->nscount = load_be16(hd + 8);
    m->arcount = load_be16(hd + 10);
    m->qr = (uint8_t)(flags >> 15);
    m->opcode = (uint8_t)((flags >> 11) & 0x0f);
    m->tc = (uint8_t)((flags >> 9) & 1);
    m->rcode = (uint8_t)(flags & 0x0f);
    m->has_question = 0;
    m->qhash = 0;
    m->qname[0] = 0;
    m->qname_len = 0;
    m->qtype = m->qclass = 0;
    if (m->qdcount == 0)
        return DECODE_OK;
    size_t off = DNS_HEADER_LEN;
    uint64_t h = 0xcbf29ce484222325ull;
    enum decode_error e = dns_name(b, &off, m, &h);
    if (e != DECODE_OK)
        return e;
    if (!rd_u16be(&b, off, &m->qtype) || !rd_u16be(&b, off + 2, &m->qclass))
        return DERR_DNS_TRUNCATED;
    h = (h ^ m->qtype) * 0x100000001b3ull;
    h = (h ^ m->qclass) * 0x100000001b3ull;
    m->qhash = h ? h : 1;
    m->has_question = 1;
    return DECODE_OK;
}
