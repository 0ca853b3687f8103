/*
 * http.h — HTTP/1.x message-head and chunk-line parsers.
 *
 * Pure functions over a byte view: they report COMPLETE (with how many bytes
 * the head used), NEED_MORE (the caller keeps the bytes and calls again with
 * more) or ERROR (with a decode_error). Only what spanwatch needs is decoded:
 * method, status, version, Content-Length, Transfer-Encoding: chunked,
 * Connection: close, Expect: 100-continue and Host (a view into the input).
 */
#ifndef SPANWATCH_HTTP_H
#define SPANWATCH_HTTP_H

#include <stdint.h>

#include "decode/decode.h"

#define HTTP_MAX_HEAD 8192   /* a longer head is an error (http/header_too_large) */

enum http_method {
    HTTP_M_OTHER, HTTP_M_GET, HTTP_M_HEAD, HTTP_M_POST, HTTP_M_PUT, HTTP_M_DELETE,
    HTTP_M_OPTIONS, HTTP_M_PATCH, HTTP_M_CONNECT, HTTP_M_TRACE,
};

struct http_msg {
    uint8_t method;          /* requests */
    uint16_t status;         /* responses */
    uint8_t version_minor;   /* 0 or 1 */
    uint8_t chunked;
    uint8_t conn_close;
    uint8_t keep_alive;      /* explicit Connection: keep-alive */
    uint8_t expect_continue;
    int64_t content_length;  /* -1 if absent */
    struct bytes host;
    size_t head_len;         /* bytes of start line + headers + blank line */
};

enum http_result { HTTP_COMPLETE, HTTP_NEED_MORE, HTTP_ERROR };

enum http_result http_parse_head(struct bytes b, int request, struct http_msg *m,
                                 enum decode_error *err);
/* Chunk-size line "1a;ext\r\n": size and bytes used. */
enum http_result http_parse_chunk_line(struct bytes b, uint64_t *size, size_t *used,
                                       enum decode_error *err);
/* Does b start like a request (known method + space) or a response ("HTTP/1.")?
 * Used to find where messages start and to resynchronise after a gap. */
int http_looks_like_request(struct bytes b);
int http_looks_like_response(struct bytes b);

#endif
