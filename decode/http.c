/*
 * http.c — see http.h. Lines may end in CRLF or a bare LF (as real servers
 * accept); header names are matched case-insensitively.
 */
#include "decode/http.h"

#include <string.h>

static const struct {
    const char *name;
    uint8_t len;
    uint8_t id;
} methods[] = {
    { "GET ", 4, HTTP_M_GET }, { "HEAD ", 5, HTTP_M_HEAD }, { "POST ", 5, HTTP_M_POST },
    { "PUT ", 4, HTTP_M_PUT }, { "DELETE ", 7, HTTP_M_DELETE },
    { "OPTIONS ", 8, HTTP_M_OPTIONS }, { "PATCH ", 6, HTTP_M_PATCH },
    { "CONNECT ", 8, HTTP_M_CONNECT }, { "TRACE ", 6, HTTP_M_TRACE },
};

static int method_of(struct bytes b)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (b.len >= methods[i].len && memcmp(b.p, methods[i].name, methods[i].len) == 0)
            return methods[i].id;
    return -1;
}

int http_looks_like_request(struct bytes b)
{
    return method_of(b) >= 0;
}

int http_looks_like_response(struct bytes b)
{
    return b.len >= 7 && memcmp(b.p, "HTTP/1.", 7) == 0;
}

/* Length of the line at off (excluding its terminator) and where the next
 * one starts; 0 if no terminator in the view. */
static int next_line(struct bytes b, size_t off, size_t *line_len, size_t *next)
{
    const uint8_t *nl = off < b.len ? memchr(b.p + off, '\n', b.len - off) : NULL;
    if (!nl)
        return 0;
    size_t end = (size_t)(nl - b.p);
    *next = end + 1;
    if (end > off && b.p[end - 1] == '\r')
        end--;
    *line_len = end - off;
    return 1;
}

static int ieq(const uint8_t *p, size_t n, const char *s)
{
    size_t l = strlen(s);
    if (n != l)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (c != (uint8_t)s[i])
            return 0;
    }
    return 1;
}

/* Which of tokens s[0..ns) does the comma-separated value contain
 * (case-insensitive)? Bit k for s[k]; one pass over the value. */
static unsigned find_tokens(const uint8_t *p, size_t n, const char *const *s, unsigned ns)
{
    unsigned found = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
            i++;
        size_t start = i;
        while (i < n && p[i] != ',' && p[i] != ';')
            i++;
        size_t end = i;
        while (end > start && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        for (unsigned k = 0; k < ns; k++)
            if (ieq(p + start, end - start, s[k]))
                found |= 1u << k;
        while (i < n && p[i] != ',')
            i++;
    }
    return found;
}

static int has_token(const uint8_t *p, size_t n, const char *s)
{
    return find_tokens(p, n, &s, 1) != 0;
}

static enum http_result fail(enum decode_error *err, enum decode_error e)
{
    *err = e;
    return HTTP_ERROR;
}

static int parse_status_line(const uint8_t *p, size_t n, struct http_msg *m)
{
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return 0;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    if (n > 12 && p[12] != ' ')
        return 0;
    m->version_minor = (uint8_t)(p[7] - '0');
    m->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
    return m->status >= 100 && m->status <= 599;
}

static int parse_request_line(const uint8_t *p, size_t n, struct http_msg *m)
{
    struct bytes b = bytes_make(p, n);
    int meth = method_of(b);
    if (meth < 0 || n < 14)
        return 0;
    /* ends with " HTTP/1.x" */
    const uint8_t *v = p + n - 9;
    if (memcmp(v, " HTTP/1.", 8) != 0 || (v[8] != '0' && v[8] != '1'))
        return 0;
    m->method = (uint8_t)meth;
    m->version_minor = (uint8_t)(v[8] - '0');
    return 1;
}

enum http_result http_parse_head(struct bytes b, int request, struct http_msg *m,
                                 enum decode_error *err)
{
    size_t len, next, off = 0;

    memset(m, 0, sizeof *m);
    m->content_length = -1;
    if (!next_line(b, 0, &len, &next))
        return b.len >= HTTP_MAX_HEAD ? fail(err, DERR_HTTP_HEADER_TOO_LARGE) : HTTP_NEED_MORE;
    if (request ? !parse_request_line(b.p, len, m) : !parse_status_line(b.p, len, m))
        return fail(err, DERR_HTTP_BAD_START_LINE);
    off = next;
    for (;;) {
        if (!next_line(b, off, &len, &next))
            return b.len >= HTTP_MAX_HEAD ? fail(err, DERR_HTTP_HEADER_TOO_LARGE)
                                          : HTTP_NEED_MORE;
        if (next > HTTP_MAX_HEAD)
            return fail(err, DERR_HTTP_HEADER_TOO_LARGE);
        if (len == 0)
            break; /* blank line: end of head */
        const uint8_t *line = b.p + off;
        const uint8_t *colon = memchr(line, ':', len);
        if (!colon || colon == line || line[0] == ' ' || line[0] == '\t') {
            /* obsolete line folding (leading space) is tolerated and ignored */
            if (line[0] == ' ' || line[0] == '\t') {
                off = next;
                continue;
            }
            return fail(err, DERR_HTTP_BAD_HEADER);
        }
        size_t nlen = (size_t)(colon - line);
        const uint8_t *val = colon + 1;
        size_t vlen = len - nlen - 1;
        while (vlen && (*val == ' ' || *val == '\t')) {
            val++;
            vlen--;
        }
        while (vlen && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
            vlen--;
        if (ieq(line, nlen, "content-length")) {
            /* 1*DIGIT (RFC 9110 8.6): leading zeros are valid and do not
             * count towards the 18 digits an int64 holds */
            while (vlen > 1 && val[0] == '0') {
                val++;
                vlen--;
            }
            if (vlen == 0 || vlen > 18)
                return fail(err, DERR_HTTP_BAD_LENGTH);
            int64_t v = 0;
            for (size_t i = 0; i < vlen; i++) {
                if (val[i] < '0' || val[i] > '9')
                    return fail(err, DERR_HTTP_BAD_LENGTH);
                v = v * 10 + (val[i] - '0');
            }
            if (m->content_length >= 0 && m->content_length != v)
                return fail(err, DERR_HTTP_BAD_LENGTH);
            m->content_length = v;
        } else if (ieq(line, nlen, "transfer-encoding")) {
            m->chunked = (uint8_t)has_token(val, vlen, "chunked");
        } else if (ieq(line, nlen, "connection")) {
            static const char *const conn[] = { "close", "keep-alive" };
            unsigned t = find_tokens(val, vlen, conn, 2);
            if (t & 1)
                m->conn_close = 1;
            if (t & 2)
                m->keep_alive = 1;
        } else if (ieq(line, nlen, "expect")) {
            m->expect_continue = (uint8_t)has_token(val, vlen, "100-continue");
        } else if (ieq(line, nlen, "host")) {
            m->host = bytes_make(val, vlen);
        }
        off = next;
    }
    m->head_len = next;
    return HTTP_COMPLETE;
}

enum http_result http_parse_chunk_line(struct bytes b, uint64_t *size, size_t *used,
                                       enum decode_error *err)
{
    size_t len, next;
    if (!next_line(b, 0, &len, &next))
        return b.len > 1024 ? fail(err, DERR_HTTP_BAD_CHUNK) : HTTP_NEED_MORE;
    uint64_t v = 0;
    size_t i = 0, digits = 0;
    for (; i < len; i++) {
        uint8_t c = b.p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            break;
        if (++digits > 15)
            return fail(err, DERR_HTTP_BAD_CHUNK);
        v = v * 16 + (uint64_t)d;
    }
    if (digits == 0 || (i < len && b.p[i] != ';' && b.p[i] != ' ' && b.p[i] != '\t'))
        return fail(err, DERR_HTTP_BAD_CHUNK);
    *size = v;
    *used = next;
    return HTTP_COMPLETE;
}
