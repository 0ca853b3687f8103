/*
 * test_dns.c — DNS header and question parsing: compression, loops,
 * over-long names, truncation, case-insensitive question hashing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "decode/dns.h"

/* Build a message: header + raw question bytes. */
static size_t msg(uint8_t *out, uint16_t id, uint16_t flags, uint16_t qd, const uint8_t *q,
                  size_t qlen)
{
    memset(out, 0, 12);
    out[0] = (uint8_t)(id >> 8);
    out[1] = (uint8_t)id;
    out[2] = (uint8_t)(flags >> 8);
    out[3] = (uint8_t)flags;
    out[5] = (uint8_t)qd;
    memcpy(out + 12, q, qlen);
    return 12 + qlen;
}

static const uint8_t q_example[] = { 3, 'W', 'w', 'W', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
                                     3, 'c', 'o', 'm', 0, 0, 1, 0, 1 };

static void parses_header_and_question(void **state)
{
    (void)state;
    uint8_t b[600];
    struct dns_msg m;
    size_t n = msg(b, 0xbeef, 0x8183, 1, q_example, sizeof q_example); /* QR, RD, RA, NXDOMAIN */
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DECODE_OK);
    assert_int_equal(m.id, 0xbeef);
    assert_int_equal(m.qr, 1);
    assert_int_equal(m.rcode, 3);
    assert_int_equal(m.opcode, 0);
    assert_true(m.has_question);
    assert_string_equal(m.qname, "www.example.com");
    assert_int_equal(m.qtype, 1);
    assert_int_equal(m.qclass, 1);
}

static void question_hash_ignores_case_but_not_type(void **state)
{
    (void)state;
    uint8_t b[600], q[sizeof q_example];
    struct dns_msg a, c;
    size_t n = msg(b, 1, 0, 1, q_example, sizeof q_example);
    assert_int_equal(dns_parse(bytes_make(b, n), &a), DECODE_OK);
    memcpy(q, q_example, sizeof q);
    q[1] = 'w';
    q[3] = 'w';
    n = msg(b, 1, 0, 1, q, sizeof q);
    assert_int_equal(dns_parse(bytes_make(b, n), &c), DECODE_OK);
    assert_true(a.qhash == c.qhash);
    q[sizeof q - 3] = 28; /* AAAA */
    n = msg(b, 1, 0, 1, q, sizeof q);
    assert_int_equal(dns_parse(bytes_make(b, n), &c), DECODE_OK);
    assert_true(a.qhash != c.qhash);
}

static void every_truncation_is_an_error_not_a_read_past_the_end(void **state)
{
    (void)state;
    uint8_t b[600];
    struct dns_msg m;
    size_t n = msg(b, 1, 0, 1, q_example, sizeof q_example);
    for (size_t cut = 0; cut < n; cut++) {
        enum decode_error e = dns_parse(bytes_make(b, cut), &m);
        assert_int_equal(e, DERR_DNS_TRUNCATED);
    }
}

static void no_question_is_fine(void **state)
{
    (void)state;
    uint8_t b[12];
    struct dns_msg m;
    size_t n = msg(b, 9, 0x8000, 0, NULL, 0);
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DECODE_OK);
    assert_false(m.has_question);
    assert_true(m.qhash == 0);
}

static void forward_and_self_pointers_are_rejected(void **state)
{
    (void)state;
    /* header, then at 12 the name "a.b" (bytes 12..16), then the question
     * name "x" + pointer to 12. The question here starts at 12 in the wire,
     * so put a first name in the question and test a pointer inside a
     * second label sequence by parsing a response-shaped message. */
    uint8_t b[64];
    const uint8_t q[] = { 1, 'x', 0xc0, 12 + 2 + 2 + 4, 0, 1, 0, 1, 1, 'a', 1, 'b', 0 };
    size_t n = msg(b, 1, 0, 1, q, sizeof q);
    struct dns_msg m;
    /* pointer points forwards (to offset 20): rejected as a possible loop */
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DERR_DNS_NAME_LOOP);
    /* a real backwards pointer: name at 12 is "x" + ptr to 12 -> loop */
    const uint8_t loop[] = { 1, 'x', 0xc0, 12, 0, 1, 0, 1 };
    n = msg(b, 1, 0, 1, loop, sizeof loop);
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DERR_DNS_NAME_LOOP);
    /* a pointer to itself */
    const uint8_t self[] = { 0xc0, 12, 0, 1, 0, 1 };
    n = msg(b, 1, 0, 1, self, sizeof self);
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DERR_DNS_NAME_LOOP);
}

static void valid_backwards_pointer(void **state)
{
    (void)state;
    /* The only bytes before the question are the header, so point into it:
     * ID 0x0161 is the label "a", and a flags high byte of 0 ends the name. */
    uint8_t b[64];
    const uint8_t q[] = { 0xc0, 0, 0, 1, 0, 1 };
    size_t n = msg(b, 0x0161, 0x0000, 1, q, sizeof q);
    struct dns_msg m;
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DECODE_OK);
    assert_string_equal(m.qname, "a");
    assert_int_equal(m.qtype, 1); /* read after the pointer, not after the target */
    /* "c" + pointer to "a" in the header: "c.a" */
    const uint8_t q2[] = { 1, 'c', 0xc0, 0, 0, 28, 0, 1 };
    n = msg(b, 0x0161, 0x0000, 1, q2, sizeof q2);
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DECODE_OK);
    assert_string_equal(m.qname, "c.a");
    assert_int_equal(m.qtype, 28);
    /* "c" "d" then a pointer back to "d": reaches itself again -> loop */
    const uint8_t q3[] = { 1, 'c', 1, 'd', 0xc0, 14, 0, 1, 0, 1 };
    n = msg(b, 1, 0, 1, q3, sizeof q3);
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DERR_DNS_NAME_LOOP);
}

static void name_limits(void **state)
{
    (void)state;
    uint8_t q[400], b[600];
    struct dns_msg m;
    size_t o = 0;
    /* 4 labels of 63 = 256 wire bytes + root > 255 */
    for (int l = 0; l < 4; l++) {
        q[o++] = 63;
        memset(q + o, 'a', 63);
        o += 63;
    }
    q[o++] = 0;
    q[o++] = 0; q[o++] = 1; q[o++] = 0; q[o++] = 1;
    size_t n = msg(b, 1, 0, 1, q, o);
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DERR_DNS_NAME_TOO_LONG);
    /* 3 x 63 + 61 + root = 255: the longest legal name */
    o = 0;
    for (int l = 0; l < 3; l++) {
        q[o++] = 63;
        memset(q + o, 'a', 63);
        o += 63;
    }
    q[o++] = 61;
    memset(q + o, 'b', 61);
    o += 61;
    q[o++] = 0;
    q[o++] = 0; q[o++] = 1; q[o++] = 0; q[o++] = 1;
    n = msg(b, 1, 0, 1, q, o);
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DECODE_OK);
    assert_int_equal(m.qname_len, 253);
    assert_int_equal(strlen(m.qname), 253);
    /* label types 01 and 10 are rejected */
    const uint8_t ext[] = { 0x41, 'x', 0, 0, 1, 0, 1 };
    n = msg(b, 1, 0, 1, ext, sizeof ext);
    assert_int_equal(dns_parse(bytes_make(b, n), &m), DERR_DNS_BAD_NAME);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_header_and_question),
        cmocka_unit_test(question_hash_ignores_case_but_not_type),
        cmocka_unit_test(every_truncation_is_an_error_not_a_read_past_the_end),
        cmocka_unit_test(no_question_is_fine),
        cmocka_unit_test(forward_and_self_pointers_are_rejected),
        cmocka_unit_test(valid_backwards_pointer),
        cmocka_unit_test(name_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
