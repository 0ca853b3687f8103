/*
 * fuzz_http.c — libFuzzer target for the HTTP/1.x head and chunk-line
 * parsers. Byte 0 chooses request or response. Checks, beyond memory
 * safety: a complete head's length is within the input and the limit, the
 * parser gives the same answer on exactly that prefix (it never looked
 * past the head), a shorter prefix never completes, Host points inside
 * the input, and the chunk parser's `used` is within its input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int request = data[0] & 1;
    size_t n = size - 1;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, n);
    struct http_msg m, m2;
    enum decode_error err = DECODE_OK;
    enum http_result r = http_parse_head(bytes_make(buf, n), request, &m, &err);
    if (r == HTTP_COMPLETE) {
        if (m.head_len == 0 || m.head_len > n || m.head_len > HTTP_MAX_HEAD)
            abort();
        if (http_parse_head(bytes_make(buf, m.head_len), request, &m2, &err) != HTTP_COMPLETE ||
            m2.head_len != m.head_len || m2.status != m.status || m2.chunked != m.chunked ||
            m2.content_length != m.content_length)
            abort();
        if (http_parse_head(bytes_make(buf, m.head_len - 1), request, &m2, &err) == HTTP_COMPLETE)
            abort();
        if (m.host.len && (m.host.p < buf || m.host.p + m.host.len > buf + n))
            abort();
        if (!request && (m.status < 100 || m.status > 599))
            abort();
    }
    uint64_t csize;
    size_t used;
    if (http_parse_chunk_line(bytes_make(buf, n), &csize, &used, &err) == HTTP_COMPLETE &&
        (used == 0 || used > n))
        abort();
    (void)http_looks_like_request(bytes_make(buf, n));
    (void)http_looks_like_response(bytes_make(buf, n));
    free(buf);
    return 0;
}
