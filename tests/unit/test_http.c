/*
 * test_http.c — HTTP/1.x head and chunk-line parsing: framing headers,
 * incremental input (every split point), limits and garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "decode/http.h"

static enum http_result head(const char *s, int request, struct http_msg *m,
                             enum decode_error *err)
{
    return http_parse_head(bytes_make((const uint8_t *)s, strlen(s)), request, m, err);
}

static void request_head_fields(void **state)
{
    (void)state;
    struct http_msg m;
    enum decode_error err = DECODE_OK;
    const char *r = "POST /up HTTP/1.1\r\nHost:  shop.example.com \r\ncontent-LENGTH: 300\r\n"
                    "Expect: 100-continue\r\nConnection: keep-alive, Upgrade\r\n\r\nBODY";
    assert_int_equal(head(r, 1, &m, &err), HTTP_COMPLETE);
    assert_int_equal(m.method, HTTP_M_POST);
    assert_int_equal(m.version_minor, 1);
    assert_int_equal(m.content_length, 300);
    assert_true(m.expect_continue);
    assert_true(m.keep_alive);
    assert_false(m.conn_close);
    assert_int_equal(m.head_len, strlen(r) - 4);
    assert_int_equal(m.host.len, strlen("shop.example.com"));
    assert_memory_equal(m.host.p, "shop.example.com", m.host.len);
}

static void response_head_fields(void **state)
{
    (void)state;
    struct http_msg m;
    enum decode_error err = DECODE_OK;
    assert_int_equal(head("HTTP/1.0 503 Service Unavailable\r\nTransfer-Encoding: gzip, chunked\r\n"
                          "Connection: close\r\n\r\n", 0, &m, &err), HTTP_COMPLETE);
    assert_int_equal(m.status, 503);
    assert_int_equal(m.version_minor, 0);
    assert_true(m.chunked);
    assert_true(m.conn_close);
    assert_int_equal(m.content_length, -1);
    /* a bare LF line ending is accepted like CRLF */
    assert_int_equal(head("HTTP/1.1 204 No Content\nServer: x\n\n", 0, &m, &err), HTTP_COMPLETE);
    assert_int_equal(m.status, 204);
}

static void every_split_point_needs_more_then_completes(void **state)
{
    (void)state;
    const char *r = "GET /a/b?c=d HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/7.88.1\r\n"
                    "Accept: */*\r\n\r\n";
    size_t n = strlen(r);
    struct http_msg m;
    enum decode_error err = DECODE_OK;
    for (size_t cut = 0; cut < n; cut++) {
        enum http_result res = http_parse_head(bytes_make((const uint8_t *)r, cut), 1, &m, &err);
        assert_int_equal(res, HTTP_NEED_MORE);
    }
    assert_int_equal(head(r, 1, &m, &err), HTTP_COMPLETE);
    assert_int_equal(m.head_len, n);
    assert_int_equal(m.method, HTTP_M_GET);
}

static void garbage_and_bad_lengths(void **state)
{
    (void)state;
    struct http_msg m;
    enum decode_error err;
    struct {
        const char *s;
        int request;
        enum decode_error want;
    } cases[] = {
        { "\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03\r\n\r\n", 1, DERR_HTTP_BAD_START_LINE },
        { "HTTP/1.1 2x0 Weird\r\n\r\n", 0, DERR_HTTP_BAD_START_LINE },
        { "HTTP/2 200 OK\r\n\r\n", 0, DERR_HTTP_BAD_START_LINE },
        { "GET /\r\n\r\n", 1, DERR_HTTP_BAD_START_LINE },
        { "GET / HTTP/1.1\r\nno colon here\r\n\r\n", 1, DERR_HTTP_BAD_HEADER },
        { "GET / HTTP/1.1\r\n: empty name\r\n\r\n", 1, DERR_HTTP_BAD_HEADER },
        { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, DERR_HTTP_BAD_LENGTH },
        { "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", 0, DERR_HTTP_BAD_LENGTH },
        { "HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n\r\n", 0,
          DERR_HTTP_BAD_LENGTH },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0,
          DERR_HTTP_BAD_LENGTH },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err = DECODE_OK;
        assert_int_equal(head(cases[i].s, cases[i].request, &m, &err), HTTP_ERROR);
        assert_int_equal(err, cases[i].want);
    }
    /* the same Content-Length twice is allowed (RFC 9110 8.6) */
    assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 0,
                          &m, &err), HTTP_COMPLETE);
    assert_int_equal(m.content_length, 5);
    /* leading zeros are digits like any other (1*DIGIT), however many */
    assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 0005\r\n\r\n", 0, &m, &err),
                     HTTP_COMPLETE);
    assert_int_equal(m.content_length, 5);
    assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 0000000000000000000000007\r\n\r\n",
                          0, &m, &err), HTTP_COMPLETE);
    assert_int_equal(m.content_length, 7);
    assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 000\r\n\r\n", 0, &m, &err),
                     HTTP_COMPLETE);
    assert_int_equal(m.content_length, 0);
}

static void oversized_head_is_an_error_at_the_limit(void **state)
{
    (void)state;
    static uint8_t big[HTTP_MAX_HEAD + 100];
    const char *start = "GET / HTTP/1.1\r\nX-Big: ";
    memcpy(big, start, strlen(start));
    memset(big + strlen(start), 'A', sizeof big - strlen(start));
    struct http_msg m;
    enum decode_error err = DECODE_OK;
    /* below the limit: still waiting for the end of the line */
    assert_int_equal(http_parse_head(bytes_make(big, HTTP_MAX_HEAD - 1), 1, &m, &err),
                     HTTP_NEED_MORE);
    assert_int_equal(http_parse_head(bytes_make(big, HTTP_MAX_HEAD), 1, &m, &err), HTTP_ERROR);
    assert_int_equal(err, DERR_HTTP_HEADER_TOO_LARGE);
    /* a complete head that ends past the limit is an error too */
    memcpy(big + HTTP_MAX_HEAD + 10, "\r\n\r\n", 4);
    err = DECODE_OK;
    assert_int_equal(http_parse_head(bytes_make(big, HTTP_MAX_HEAD + 14), 1, &m, &err),
                     HTTP_ERROR);
    assert_int_equal(err, DERR_HTTP_HEADER_TOO_LARGE);
}

static void chunk_lines(void **state)
{
    (void)state;
    uint64_t size = 0;
    size_t used = 0;
    enum decode_error err = DECODE_OK;
#define CL(s) http_parse_chunk_line(bytes_make((const uint8_t *)(s), strlen(s)), &size, &used, &err)
    assert_int_equal(CL("1a;ext=1\r\nxxxx"), HTTP_COMPLETE);
    assert_int_equal(size, 26);
    assert_int_equal(used, 10);
    assert_int_equal(CL("0\r\n"), HTTP_COMPLETE);
    assert_int_equal(size, 0);
    assert_int_equal(CL("FFFF \r\n"), HTTP_COMPLETE);
    assert_int_equal(size, 0xffff);
    assert_int_equal(CL("1a"), HTTP_NEED_MORE);
    assert_int_equal(CL("zz\r\n"), HTTP_ERROR);
    assert_int_equal(err, DERR_HTTP_BAD_CHUNK);
    assert_int_equal(CL("\r\n"), HTTP_ERROR);
    assert_int_equal(CL("1234567890abcdef0\r\n"), HTTP_ERROR); /* > 15 hex digits */
    assert_int_equal(CL("12x\r\n"), HTTP_ERROR);
#undef CL
}

static void message_start_detection(void **state)
{
    (void)state;
#define B(s) bytes_make((const uint8_t *)(s), strlen(s))
    assert_true(http_looks_like_request(B("GET / HTTP/1.1\r\n")));
    assert_true(http_looks_like_request(B("OPTIONS * HTTP/1.1\r\n")));
    assert_false(http_looks_like_request(B("GETX / HTTP/1.1")));
    assert_false(http_looks_like_request(B("ggggggggggg")));
    assert_true(http_looks_like_response(B("HTTP/1.1 200 OK\r\n")));
    assert_false(http_looks_like_response(B("HTTP/2 200")));
    assert_false(http_looks_like_response(B("xTTP/1.1 200")));
#undef B
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_head_fields),
        cmocka_unit_test(response_head_fields),
        cmocka_unit_test(every_split_point_needs_more_then_completes),
        cmocka_unit_test(garbage_and_bad_lengths),
        cmocka_unit_test(oversized_head_is_an_error_at_the_limit),
        cmocka_unit_test(chunk_lines),
        cmocka_unit_test(message_start_detection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
