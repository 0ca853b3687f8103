/*
 * test_encap.c — the encapsulation parsers (decode/encap.c): a valid
 * header of each kind and what it says is inside; every truncation of it
 * (an exact-size copy: a read past the end trips ASan) is an error of its
 * own layer; lying lengths, bad versions and flags are errors too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "decode/decode.h"

typedef enum decode_error (*parser)(struct bytes b, struct encap_result *out);

/* every cut of h[0..hlen) is rejected with an error (never DECODE_OK) */
static void every_truncation_fails(parser f, const uint8_t *h, size_t hlen)
{
    for (size_t n = 0; n < hlen; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, h, n);
        struct encap_result r;
        assert_int_not_equal(f(bytes_make(copy, n), &r), DECODE_OK);
        free(copy);
    }
}

static void mpls_label_stack(void **state)
{
    (void)state;
    /* two labels, the second bottom-of-stack, then an IPv6 header's first byte */
    static const uint8_t h[] = { 0x00, 0x06, 0x40, 0x40, 0x00, 0x0c, 0x81, 0x40, 0x60 };
    struct encap_result r;
    assert_int_equal(mpls_parse(bytes_make(h, sizeof h), &r), DECODE_OK);
    assert_int_equal(r.type, ENCAP_MPLS);
    assert_int_equal(r.inner, INNER_IPV6);
    assert_int_equal(r.payload.len, 1);
    every_truncation_fails(mpls_parse, h, sizeof h);
    static const uint8_t eth[] = { 0x00, 0x0c, 0x81, 0x40, 0x00, 0x00, 0x00, 0x00, 0xaa };
    assert_int_equal(mpls_parse(bytes_make(eth, sizeof eth), &r), DECODE_OK);
    assert_int_equal(r.inner, INNER_ETHERNET); /* pseudowire: control word, Ethernet */
    static const uint8_t junk[] = { 0x00, 0x0c, 0x81, 0x40, 0x20 };
    assert_int_equal(mpls_parse(bytes_make(junk, sizeof junk), &r), DERR_MPLS_BAD_PAYLOAD);
    uint8_t deep[40] = { 0 }; /* no bottom of stack */
    assert_int_equal(mpls_parse(bytes_make(deep, sizeof deep), &r), DERR_MPLS_TOO_MANY_LABELS);
}

static void pppoe_session(void **state)
{
    (void)state;
    static const uint8_t h[] = { 0x11, 0x00, 0x00, 0x07, 0x00, 0x03, 0x00, 0x21, 0x45, 0xff };
    struct encap_result r;
    assert_int_equal(pppoe_parse(bytes_make(h, sizeof h), &r), DECODE_OK);
    assert_int_equal(r.inner, INNER_IPV4);
    assert_int_equal(r.payload.len, 1); /* trimmed to the session length */
    every_truncation_fails(pppoe_parse, h, 8);
    static const uint8_t pfc[] = { 0x11, 0x00, 0x00, 0x07, 0x00, 0x02, 0x57, 0x60 };
    assert_int_equal(pppoe_parse(bytes_make(pfc, sizeof pfc), &r), DECODE_OK);
    assert_int_equal(r.inner, INNER_IPV6); /* a compressed protocol field */
    static const uint8_t lcp[] = { 0x11, 0x00, 0x00, 0x07, 0x00, 0x04, 0xc0, 0x21, 1, 2 };
    assert_int_equal(pppoe_parse(bytes_make(lcp, sizeof lcp), &r), DECODE_OK);
    assert_int_equal(r.inner, INNER_NONE);
    static const uint8_t disc[] = { 0x11, 0x09, 0x00, 0x00, 0x00, 0x02, 0x00, 0x21 };
    assert_int_equal(pppoe_parse(bytes_make(disc, sizeof disc), &r), DERR_PPPOE_BAD_HEADER);
}

static void gre_and_erspan(void **state)
{
    (void)state;
    struct encap_result r;
    /* checksum, key and sequence present; IPv4 */
    static const uint8_t h[] = { 0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 7, 0x45 };
    assert_int_equal(gre_parse(bytes_make(h, sizeof h), &r), DECODE_OK);
    assert_int_equal(r.type, ENCAP_GRE);
    assert_int_equal(r.inner, INNER_IPV4);
    assert_int_equal(r.payload.len, 1);
    every_truncation_fails(gre_parse, h, 16);
    static const uint8_t v2[] = { 0x00, 0x02, 0x08, 0x00 };
    assert_int_equal(gre_parse(bytes_make(v2, sizeof v2), &r), DERR_GRE_BAD_VERSION);
    static const uint8_t pptp[] = { 0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(gre_parse(bytes_make(pptp, sizeof pptp), &r), DECODE_OK);
    assert_int_equal(r.inner, INNER_NONE);
    /* ERSPAN I: no sequence, Ethernet right after GRE */
    static const uint8_t e1[] = { 0x00, 0x00, 0x88, 0xbe, 0xaa };
    assert_int_equal(gre_parse(bytes_make(e1, sizeof e1), &r), DECODE_OK);
    assert_int_equal(r.type, ENCAP_ERSPAN);
    assert_int_equal(r.inner, INNER_ETHERNET);
    assert_int_equal(r.payload.len, 1);
    /* ERSPAN II: sequence bit, an 8-byte header of version 1 */
    static const uint8_t e2[] = { 0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1,
                                  0x10, 0x0a, 0x00, 0x03, 0, 0, 0, 0, 0xaa };
    assert_int_equal(gre_parse(bytes_make(e2, sizeof e2), &r), DECODE_OK);
    assert_int_equal(r.payload.len, 1);
    every_truncation_fails(gre_parse, e2, 16);
    uint8_t e2v[sizeof e2];
    memcpy(e2v, e2, sizeof e2);
    e2v[8] = 0x20;
    assert_int_equal(gre_parse(bytes_make(e2v, sizeof e2v), &r), DERR_ERSPAN_BAD_VERSION);
    /* ERSPAN III with the platform sub-header (O flag) */
    uint8_t e3[4 + 12 + 8 + 1] = { 0x00, 0x00, 0x22, 0xeb, 0x20 };
    e3[4 + 11] = 0x01;
    assert_int_equal(gre_parse(bytes_make(e3, sizeof e3), &r), DECODE_OK);
    assert_int_equal(r.payload.len, 1);
    every_truncation_fails(gre_parse, e3, sizeof e3 - 1);
}

static void vxlan_geneve_gtpu(void **state)
{
    (void)state;
    struct encap_result r;
    static const uint8_t vx[] = { 0x08, 0, 0, 0, 0x00, 0x03, 0xe9, 0, 0xaa };
    assert_int_equal(vxlan_parse(bytes_make(vx, sizeof vx), &r), DECODE_OK);
    assert_true(r.has_vni);
    assert_int_equal(r.vni, 1001);
    assert_int_equal(r.inner, INNER_ETHERNET);
    every_truncation_fails(vxlan_parse, vx, 8);
    static const uint8_t vx0[] = { 0x00, 0, 0, 0, 0x00, 0x03, 0xe9, 0 };
    assert_int_equal(vxlan_parse(bytes_make(vx0, sizeof vx0), &r), DERR_VXLAN_BAD_FLAGS);

    /* Geneve with one 8-byte option, VNI 2002, Ethernet */
    static const uint8_t gv[] = { 0x02, 0x00, 0x65, 0x58, 0x00, 0x07, 0xd2, 0x00,
                                  1, 2, 3, 1, 0, 0, 0, 0, 0xaa };
    assert_int_equal(geneve_parse(bytes_make(gv, sizeof gv), &r), DECODE_OK);
    assert_int_equal(r.vni, 2002);
    assert_int_equal(r.payload.len, 1);
    every_truncation_fails(geneve_parse, gv, 16);
    static const uint8_t gvlie[] = { 0x3f, 0x00, 0x65, 0x58, 0, 0, 1, 0 };
    assert_int_equal(geneve_parse(bytes_make(gvlie, sizeof gvlie), &r), DERR_GENEVE_BAD_OPTIONS);
    static const uint8_t gv1[] = { 0x40, 0x00, 0x65, 0x58, 0, 0, 1, 0 };
    assert_int_equal(geneve_parse(bytes_make(gv1, sizeof gv1), &r), DERR_GENEVE_BAD_VERSION);

    /* GTP-U G-PDU with a PDU-session extension header, IPv4 inside */
    static const uint8_t gt[] = { 0x34, 0xff, 0x00, 0x0d, 0, 0, 0x12, 0x34,
                                  0, 0, 0, 0x85, 0x01, 0x10, 0x09, 0x00, 0x45 };
    assert_int_equal(gtpu_parse(bytes_make(gt, sizeof gt), &r), DECODE_OK);
    assert_int_equal(r.inner, INNER_IPV4);
    assert_int_equal(r.payload.len, 1);
    every_truncation_fails(gtpu_parse, gt, 16);
    uint8_t gtz[sizeof gt];
    memcpy(gtz, gt, sizeof gt);
    gtz[12] = 0; /* an extension header of length 0 would never end */
    assert_int_equal(gtpu_parse(bytes_make(gtz, sizeof gtz), &r), DERR_GTPU_BAD_EXTENSION);
    static const uint8_t echo[] = { 0x30, 0x01, 0x00, 0x00, 0, 0, 0, 0 };
    assert_int_equal(gtpu_parse(bytes_make(echo, sizeof echo), &r), DECODE_OK);
    assert_int_equal(r.inner, INNER_NONE);
    static const uint8_t v2[] = { 0x50, 0xff, 0x00, 0x00, 0, 0, 0, 0 };
    assert_int_equal(gtpu_parse(bytes_make(v2, sizeof v2), &r), DERR_GTPU_BAD_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mpls_label_stack),
        cmocka_unit_test(pppoe_session),
        cmocka_unit_test(gre_and_erspan),
        cmocka_unit_test(vxlan_geneve_gtpu),
    };
    return cmocka_run_group_tests_name("encap", tests, NULL, NULL);
}
