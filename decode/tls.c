/*
 * tls.c — see tls.h. Every vector (<..> in the RFCs' notation) is read as
 * a sub-view of exactly its declared length, which must fit inside its
 * parent: a lying length is an error, never a read past the end.
 */
#include "decode/tls.h"

const char *const tls_version_name[TLSV_COUNT] = {
    "unknown", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3",
};

const char *const tls_alert_name[TLS_ALERT_COUNT] = {
#define X(code, name) #name,
    TLS_ALERT_LIST(X)
#undef X
    "other",
};

enum tls_version tls_version_of(uint16_t wire)
{
    if (wire >= 0x0300 && wire <= 0x0304)
        return (enum tls_version)(TLSV_SSL3 + (wire - 0x0300));
    return TLSV_UNKNOWN;
}

enum tls_alert_kind tls_alert_kind_of(uint8_t description)
{
    switch (description) {
#define X(code, name) \
    case code:        \
        return TLS_ALERT_##name;
        TLS_ALERT_LIST(X)
#undef X
    default:
        return TLS_ALERT_OTHER;
    }
}

static enum tls_result fail(enum decode_error *err, enum decode_error e)
{
    *err = e;
    return TLS_ERROR;
}

enum tls_result tls_parse_record_header(struct bytes b, struct tls_record *r,
                                        enum decode_error *err)
{
    if (b.len < TLS_RECORD_HEADER)
        return TLS_NEED_MORE;
    r->type = b.p[0];
    r->version = load_be16(b.p + 1);
    r->len = load_be16(b.p + 3);
    if (r->type < TLS_CT_CCS || r->type > TLS_CT_HEARTBEAT || (r->version >> 8) != 3)
        return fail(err, DERR_TLS_BAD_RECORD);
    if (r->len > TLS_RECORD_MAX)
        return fail(err, DERR_TLS_RECORD_TOO_LONG);
    return TLS_COMPLETE;
}

int tls_looks_like_client_hello(struct bytes b)
{
    return b.len >= 6 && b.p[0] == TLS_CT_HANDSHAKE && b.p[1] == 3 && b.p[2] <= 4 &&
           load_be16(b.p + 3) >= TLS_HS_HEADER && b.p[5] == TLS_HS_CLIENT_HELLO;
}

/* A vector with a 1- or 2-byte length at *off: its view, *off moved past it. */
static bool vec(const struct bytes *b, size_t *off, unsigned lenbytes, struct bytes *out)
{
    uint16_t n16 = 0;
    uint8_t n8 = 0;
    size_t n;
    if (lenbytes == 1) {
        if (!rd_u8(b, *off, &n8))
            return false;
        n = n8;
    } else {
        if (!rd_u16be(b, *off, &n16))
            return false;
        n = n16;
    }
    if (!bytes_sub(b, *off + lenbytes, n, out))
        return false;
    *off += lenbytes + n;
    return true;
}

/* server_name (RFC 6066 3): the first host_name entry */
static bool ext_sni(struct bytes e, struct bytes *sni)
{
    size_t off = 0;
    struct bytes list;
    if (!vec(&e, &off, 2, &list) || off != e.len)
        return false;
    size_t lo = 0;
    while (lo < list.len) {
        uint8_t type;
        struct bytes name;
        if (!rd_u8(&list, lo, &type))
            return false;
        lo++;
        if (!vec(&list, &lo, 2, &name))
            return false;
        if (type == 0 && !sni->len) {
            if (!name.len)
                return false;
            *sni = name;
        }
    }
    return true;
}

/* application_layer_protocol_negotiation (RFC 7301 3.1) */
static bool ext_alpn(struct bytes e, struct tls_client_hello *ch)
{
    size_t off = 0;
    struct bytes list;
    if (!vec(&e, &off, 2, &list) || off != e.len)
        return false;
    size_t lo = 0;
    while (lo < list.len) {
        struct bytes proto;
        if (!vec(&list, &lo, 1, &proto) || !proto.len)
            return false;
        if (!ch->alpn_count++)
            ch->alpn = proto;
    }
    return true;
}

/* supported_versions in a ClientHello (RFC 8446 4.2.1): the highest,
 * GREASE values (0x?a?a) left out */
static bool ext_versions_client(struct bytes e, uint16_t *max)
{
    size_t off = 0;
    struct bytes list;
    if (!vec(&e, &off, 1, &list) || off != e.len || list.len % 2)
        return false;
    for (size_t i = 0; i < list.len; i += 2) {
        uint16_t v = load_be16(list.p + i);
        if ((v & 0x0f0f) == 0x0a0a)
            continue;
        if (v > *max && v <= 0x0304)
            *max = v;
    }
    return true;
}

enum tls_result tls_parse_client_hello(struct bytes body, struct tls_client_hello *ch,
                                       enum decode_error *err)
{
    struct tls_client_hello z = { 0 };
    *ch = z;
    size_t off = 0;
    struct bytes skip;
    /* legacy_version, random[32], session_id<0..32>, cipher_suites<2..>,
     * compression_methods<1..> */
    if (!rd_u16be(&body, 0, &ch->legacy_version) || !bytes_has(&body, 2, 32))
        return fail(err, DERR_TLS_BAD_CLIENT_HELLO);
    off = 34;
    if (!vec(&body, &off, 1, &skip) || skip.len > 32 || !vec(&body, &off, 2, &skip) ||
        skip.len < 2 || skip.len % 2 || !vec(&body, &off, 1, &skip) || !skip.len)
        return fail(err, DERR_TLS_BAD_CLIENT_HELLO);
    ch->max_version = ch->legacy_version;
    if (off == body.len)
        return TLS_COMPLETE; /* no extensions (SSL 3.0 style) */
    struct bytes exts;
    if (!vec(&body, &off, 2, &exts) || off != body.len)
        return fail(err, DERR_TLS_BAD_CLIENT_HELLO);
    size_t eo = 0;
    uint16_t max = 0;
    int have_versions = 0;
    while (eo < exts.len) {
        uint16_t type;
        struct bytes e;
        if (!rd_u16be(&exts, eo, &type))
            return fail(err, DERR_TLS_BAD_EXTENSION);
        eo += 2;
        if (!vec(&exts, &eo, 2, &e))
            return fail(err, DERR_TLS_BAD_EXTENSION);
        bool good = true;
        if (type == 0)
            good = ext_sni(e, &ch->sni);
        else if (type == 16)
            good = ext_alpn(e, ch);
        else if (type == 43) {
            good = ext_versions_client(e, &max);
            have_versions = 1;
        }
        if (!good)
            return fail(err, DERR_TLS_BAD_EXTENSION);
    }
    if (have_versions && max)
        ch->max_version = max;
    return TLS_COMPLETE;
}

/* The random of a HelloRetryRequest: SHA-256("HelloRetryRequest") */
static const uint8_t hrr_random[32] = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
};

enum tls_result tls_parse_server_hello(struct bytes body, struct tls_server_hello *sh,
                                       enum decode_error *err)
{
    struct tls_server_hello z = { 0 };
    *sh = z;
    struct bytes sid;
    uint8_t comp;
    if (!rd_u16be(&body, 0, &sh->version) || !bytes_has(&body, 2, 32))
        return fail(err, DERR_TLS_BAD_SERVER_HELLO);
    sh->hrr = memcmp(body.p + 2, hrr_random, 32) == 0;
    size_t off = 34;
    if (!vec(&body, &off, 1, &sid) || sid.len > 32 || !rd_u16be(&body, off, &sh->cipher) ||
        !rd_u8(&body, off + 2, &comp))
        return fail(err, DERR_TLS_BAD_SERVER_HELLO);
    off += 3;
    if (off == body.len)
        return TLS_COMPLETE;
    struct bytes exts;
    if (!vec(&body, &off, 2, &exts) || off != body.len)
        return fail(err, DERR_TLS_BAD_SERVER_HELLO);
    size_t eo = 0;
    while (eo < exts.len) {
        uint16_t type;
        struct bytes e;
        if (!rd_u16be(&exts, eo, &type))
            return fail(err, DERR_TLS_BAD_EXTENSION);
        eo += 2;
        if (!vec(&exts, &eo, 2, &e))
            return fail(err, DERR_TLS_BAD_EXTENSION);
        if (type == 43) { /* supported_versions: the selected one */
            if (e.len != 2)
                return fail(err, DERR_TLS_BAD_EXTENSION);
            sh->version = load_be16(e.p);
        }
    }
    return TLS_COMPLETE;
}

enum tls_result tls_leaf_certificate(struct bytes body, struct bytes *der, enum decode_error *err)
{
    /* certificate_list<0..2^24-1>, each ASN.1Cert<1..2^24-1> */
    if (body.len < 6)
        return fail(err, DERR_TLS_BAD_CERTIFICATE);
    uint32_t list = (uint32_t)body.p[0] << 16 | (uint32_t)body.p[1] << 8 | body.p[2];
    uint32_t n = (uint32_t)body.p[3] << 16 | (uint32_t)body.p[4] << 8 | body.p[5];
    if (list < 3 + (uint64_t)n || n == 0 || !bytes_sub(&body, 6, n, der))
        return fail(err, DERR_TLS_BAD_CERTIFICATE);
    return TLS_COMPLETE;
}
