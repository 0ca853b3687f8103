/*
 * test_tls.c — the TLS record and handshake parsers (decode/tls.c):
 * ClientHello (SNI, ALPN, supported_versions with GREASE), ServerHello and
 * HelloRetryRequest, the leaf of a Certificate message, record headers, and
 * every lying length of a ClientHello refused without a read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "decode/tls.h"

struct buf {
    uint8_t b[1024];
    size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void u8(struct buf *b, unsigned v)
{
    b->b[b->n++] = (uint8_t)v;
}
static void u16(struct buf *b, unsigned v)
{
    u8(b, v >> 8);
    u8(b, v & 0xff);
}
/* patch a 2-byte length at off to cover everything after it */
static void len16_at(struct buf *b, size_t off)
{
    size_t n = b->n - off - 2;
    b->b[off] = (uint8_t)(n >> 8);
    b->b[off + 1] = (uint8_t)n;
}

/* a ClientHello body: SNI www.example.test, ALPN h2 + http/1.1,
 * supported_versions GREASE, 1.3, 1.2 */
static void client_hello(struct buf *b)
{
    static const uint8_t random[32] = { 1 };
    b->n = 0;
    u16(b, 0x0303);
    put(b, random, 32);
    u8(b, 32);
    for (int i = 0; i < 32; i++)
        u8(b, i);
    u16(b, 4);
    u16(b, 0x1301);
    u16(b, 0xc02b);
    u8(b, 1);
    u8(b, 0);
    size_t exts = b->n;
    u16(b, 0);
    /* server_name */
    u16(b, 0);
    size_t e = b->n;
    u16(b, 0);
    size_t list = b->n;
    u16(b, 0);
    u8(b, 0);
    u16(b, 16);
    put(b, "www.example.test", 16);
    len16_at(b, list);
    len16_at(b, e);
    /* ALPN */
    u16(b, 16);
    e = b->n;
    u16(b, 0);
    list = b->n;
    u16(b, 0);
    u8(b, 2);
    put(b, "h2", 2);
    u8(b, 8);
    put(b, "http/1.1", 8);
    len16_at(b, list);
    len16_at(b, e);
    /* supported_versions */
    u16(b, 43);
    u16(b, 7);
    u8(b, 6);
    u16(b, 0x7a7a);
    u16(b, 0x0304);
    u16(b, 0x0303);
    len16_at(b, exts);
}

static void client_hello_fields(void **state)
{
    (void)state;
    struct buf b;
    struct tls_client_hello ch;
    enum decode_error err = DECODE_OK;
    client_hello(&b);
    assert_int_equal(tls_parse_client_hello(bytes_make(b.b, b.n), &ch, &err), TLS_COMPLETE);
    assert_int_equal(ch.legacy_version, 0x0303);
    assert_int_equal(ch.max_version, 0x0304); /* GREASE 0x7a7a left out */
    assert_int_equal(ch.sni.len, 16);
    assert_memory_equal(ch.sni.p, "www.example.test", 16);
    assert_int_equal(ch.alpn_count, 2);
    assert_int_equal(ch.alpn.len, 2);
    assert_memory_equal(ch.alpn.p, "h2", 2);
}

static void client_hello_every_cut_and_lie(void **state)
{
    (void)state;
    struct buf b;
    struct tls_client_hello ch;
    enum decode_error err = DECODE_OK;
    client_hello(&b);
    /* every prefix is an error (never a read past it: ASan watches), but
     * the one that ends with the compression methods: a ClientHello
     * without extensions (SSL 3.0 style) */
    size_t no_ext = 2 + 32 + 1 + 32 + 2 + 4 + 2;
    for (size_t n = 0; n < b.n; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, b.b, n);
        enum tls_result r = tls_parse_client_hello(bytes_make(cut, n), &ch, &err);
        assert_int_equal(r, n == no_ext ? TLS_COMPLETE : TLS_ERROR);
        free(cut);
    }
    /* every byte raised to 0xff: complete or an error, never a crash */
    for (size_t i = 0; i < b.n; i++) {
        struct buf l = b;
        l.b[i] = 0xff;
        (void)tls_parse_client_hello(bytes_make(l.b, l.n), &ch, &err);
    }
    /* the extensions' length one more than there is */
    struct buf l = b;
    l.b[no_ext + 1]++;
    assert_int_equal(tls_parse_client_hello(bytes_make(l.b, l.n), &ch, &err), TLS_ERROR);
    assert_int_equal(err, DERR_TLS_BAD_CLIENT_HELLO);
}

static void server_hello_and_retry(void **state)
{
    (void)state;
    struct buf b = { .n = 0 };
    struct tls_server_hello sh;
    enum decode_error err = DECODE_OK;
    static const uint8_t random[32] = { 9 };
    u16(&b, 0x0303);
    put(&b, random, 32);
    u8(&b, 0);
    u16(&b, 0x1302);
    u8(&b, 0);
    u16(&b, 6);
    u16(&b, 43);
    u16(&b, 2);
    u16(&b, 0x0304);
    assert_int_equal(tls_parse_server_hello(bytes_make(b.b, b.n), &sh, &err), TLS_COMPLETE);
    assert_int_equal(sh.version, 0x0304);
    assert_int_equal(sh.cipher, 0x1302);
    assert_false(sh.hrr);
    assert_int_equal(tls_version_of(sh.version), TLSV_1_3);
    /* a HelloRetryRequest is a ServerHello with SHA-256("HelloRetryRequest") as random */
    static const uint8_t hrr[32] = {
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    };
    memcpy(b.b + 2, hrr, 32);
    assert_int_equal(tls_parse_server_hello(bytes_make(b.b, b.n), &sh, &err), TLS_COMPLETE);
    assert_true(sh.hrr);
    /* TLS 1.2: no extensions, the version is legacy_version */
    assert_int_equal(tls_parse_server_hello(bytes_make(b.b, 2 + 32 + 1 + 3), &sh, &err),
                     TLS_COMPLETE);
    assert_int_equal(tls_version_of(sh.version), TLSV_1_2);
    /* supported_versions of the wrong size */
    b.b[b.n - 3] = 3;
    assert_int_equal(tls_parse_server_hello(bytes_make(b.b, b.n), &sh, &err), TLS_ERROR);
}

static void leaf_certificate(void **state)
{
    (void)state;
    /* list of two: a 5-byte and a 3-byte "certificate" */
    const uint8_t m[] = { 0, 0, 14, 0, 0, 5, 'l', 'e', 'a', 'f', '!', 0, 0, 3, 'c', 'a', '!' };
    struct bytes der;
    enum decode_error err = DECODE_OK;
    assert_int_equal(tls_leaf_certificate(bytes_make(m, sizeof m), &der, &err), TLS_COMPLETE);
    assert_int_equal(der.len, 5);
    assert_memory_equal(der.p, "leaf!", 5);
    /* cut after the leaf: still fine (the rest of the chain is not needed) */
    assert_int_equal(tls_leaf_certificate(bytes_make(m, 11), &der, &err), TLS_COMPLETE);
    /* cut inside the leaf, or a leaf longer than the list */
    assert_int_equal(tls_leaf_certificate(bytes_make(m, 10), &der, &err), TLS_ERROR);
    uint8_t lie[sizeof m];
    memcpy(lie, m, sizeof m);
    lie[5] = 20;
    assert_int_equal(tls_leaf_certificate(bytes_make(lie, sizeof lie), &der, &err), TLS_ERROR);
    assert_int_equal(err, DERR_TLS_BAD_CERTIFICATE);
}

static void record_headers(void **state)
{
    (void)state;
    struct tls_record r;
    enum decode_error err = DECODE_OK;
    const uint8_t ok[] = { 23, 3, 3, 0x40, 0x00 };
    assert_int_equal(tls_parse_record_header(bytes_make(ok, 5), &r, &err), TLS_COMPLETE);
    assert_int_equal(r.type, TLS_CT_APPDATA);
    assert_int_equal(r.len, 16384);
    assert_int_equal(tls_parse_record_header(bytes_make(ok, 4), &r, &err), TLS_NEED_MORE);
    const uint8_t too_long[] = { 23, 3, 3, 0x48, 0x01 };
    assert_int_equal(tls_parse_record_header(bytes_make(too_long, 5), &r, &err), TLS_ERROR);
    assert_int_equal(err, DERR_TLS_RECORD_TOO_LONG);
    const uint8_t bad_type[] = { 25, 3, 3, 0, 1 };
    assert_int_equal(tls_parse_record_header(bytes_make(bad_type, 5), &r, &err), TLS_ERROR);
    assert_int_equal(err, DERR_TLS_BAD_RECORD);
    const uint8_t http[] = "GET / HTTP/1.1\r\n";
    assert_int_equal(tls_parse_record_header(bytes_make(http, 16), &r, &err), TLS_ERROR);
    const uint8_t hello[] = { 22, 3, 1, 0, 200, 1 };
    assert_true(tls_looks_like_client_hello(bytes_make(hello, 6)));
    assert_false(tls_looks_like_client_hello(bytes_make(hello, 5)));
    assert_false(tls_looks_like_client_hello(bytes_make(http, 16)));
}

static void alert_names(void **state)
{
    (void)state;
    assert_string_equal(tls_alert_name[tls_alert_kind_of(112)], "unrecognized_name");
    assert_string_equal(tls_alert_name[tls_alert_kind_of(40)], "handshake_failure");
    assert_string_equal(tls_alert_name[tls_alert_kind_of(0)], "close_notify");
    assert_string_equal(tls_alert_name[tls_alert_kind_of(200)], "other");
    assert_string_equal(tls_version_name[tls_version_of(0x0300)], "SSLv3");
    assert_string_equal(tls_version_name[tls_version_of(0x7f17)], "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_hello_fields),
        cmocka_unit_test(client_hello_every_cut_and_lie),
        cmocka_unit_test(server_hello_and_retry),
        cmocka_unit_test(leaf_certificate),
        cmocka_unit_test(record_headers),
        cmocka_unit_test(alert_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
