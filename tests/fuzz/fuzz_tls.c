/*
 * fuzz_tls.c — libFuzzer target for the TLS parsers (decode/tls.c). The
 * input is read as a stream of records, and each record's fragment as
 * handshake messages handed to the parser of their type. Checks, beyond
 * memory safety: a record header's length is within the protocol's limit,
 * views the parsers return (SNI, ALPN, the leaf certificate) lie inside
 * the input, and the version index is a valid label.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(struct bytes v, const uint8_t *buf, size_t n)
{
    if (v.len && (v.p < buf || v.p + v.len > buf + n))
        abort();
}

static void messages(struct bytes body, const uint8_t *buf, size_t n)
{
    size_t off = 0;
    while (off + TLS_HS_HEADER <= body.len) {
        uint32_t len = (uint32_t)body.p[off + 1] << 16 | (uint32_t)body.p[off + 2] << 8 |
                       body.p[off + 3];
        struct bytes msg = bytes_make(body.p + off + TLS_HS_HEADER, body.len - off - TLS_HS_HEADER);
        if (len < msg.len)
            msg.len = len;
        enum decode_error err = DECODE_OK;
        struct tls_client_hello ch;
        struct tls_server_hello sh;
        struct bytes der;
        if (tls_parse_client_hello(msg, &ch, &err) == TLS_COMPLETE) {
            inside(ch.sni, buf, n);
            inside(ch.alpn, buf, n);
            if (tls_version_of(ch.max_version) >= TLSV_COUNT)
                abort();
        } else if (err < DERR_TLS_BAD_RECORD || err > DERR_TLS_BAD_ALERT) {
            abort();
        }
        if (tls_parse_server_hello(msg, &sh, &err) == TLS_COMPLETE &&
            tls_version_of(sh.version) >= TLSV_COUNT)
            abort();
        if (tls_leaf_certificate(msg, &der, &err) == TLS_COMPLETE)
            inside(der, buf, n);
        if (len >= body.len - off - TLS_HS_HEADER)
            break;
        off += TLS_HS_HEADER + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct bytes v = bytes_make(buf, size);
    (void)tls_looks_like_client_hello(v);
    size_t off = 0;
    while (off < size) {
        struct tls_record r;
        enum decode_error err = DECODE_OK;
        enum tls_result res = tls_parse_record_header(bytes_make(buf + off, size - off), &r, &err);
        if (res != TLS_COMPLETE)
            break;
        if (r.len > TLS_RECORD_MAX)
            abort();
        size_t have = size - off - TLS_RECORD_HEADER;
        struct bytes frag = bytes_make(buf + off + TLS_RECORD_HEADER, r.len < have ? r.len : have);
        if (r.type == TLS_CT_HANDSHAKE)
            messages(frag, buf, size);
        else if (r.type == TLS_CT_ALERT && frag.len == 2)
            (void)tls_alert_name[tls_alert_kind_of(frag.p[1])];
        off += TLS_RECORD_HEADER + frag.len;
    }
    free(buf);
    return 0;
}
