/*
 * bytes.h — a bounded, read-only view of packet bytes.
 *
 * Every parser in decode/ reads input only through these helpers. Each
 * reader takes an offset, checks it against the view's length and returns
 * false on short input (zeroing the output) instead of reading past the end, so a parser's
 * "truncated" exit is one `if (!rd_...) return ...;` away and no raw pointer
 * arithmetic on packet data happens outside this file.
 */
#ifndef SPANWATCH_BYTES_H
#define SPANWATCH_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct bytes {
    const uint8_t *p;
    size_t len;
};

static inline struct bytes bytes_make(const uint8_t *p, size_t len)
{
    struct bytes b = { p, len };
    return b;
}

/* True if [off, off+n) lies inside the view (overflow-safe). */
static inline bool bytes_has(const struct bytes *b, size_t off, size_t n)
{
    return off <= b->len && n <= b->len - off;
}

/* Unchecked loads, for a range the caller has just checked with bytes_has
 * (a fixed header read field by field after one check) and for the
 * readers below. */
static inline uint16_t load_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* eight bytes in host order (hashing, word-at-a-time scanning) */
static inline uint64_t load_u64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline bool rd_u8(const struct bytes *b, size_t off, uint8_t *out)
{
    if (!bytes_has(b, off, 1)) {
        *out = 0;
        return false;
    }
    *out = b->p[off];
    return true;
}

static inline bool rd_u16be(const struct bytes *b, size_t off, uint16_t *out)
{
    if (!bytes_has(b, off, 2)) {
        *out = 0;
        return false;
    }
    *out = load_be16(b->p + off);
    return true;
}

static inline bool rd_u16le(const struct bytes *b, size_t off, uint16_t *out)
{
    if (!bytes_has(b, off, 2)) {
        *out = 0;
        return false;
    }
    *out = (uint16_t)((uint16_t)b->p[off + 1] << 8 | b->p[off]);
    return true;
}

static inline bool rd_u32be(const struct bytes *b, size_t off, uint32_t *out)
{
    if (!bytes_has(b, off, 4)) {
        *out = 0;
        return false;
    }
    *out = load_be32(b->p + off);
    return true;
}

static inline bool rd_u32le(const struct bytes *b, size_t off, uint32_t *out)
{
    if (!bytes_has(b, off, 4)) {
        *out = 0;
        return false;
    }
    *out = (uint32_t)b->p[off + 3] << 24 | (uint32_t)b->p[off + 2] << 16 |
           (uint32_t)b->p[off + 1] << 8 | (uint32_t)b->p[off];
    return true;
}

/* Sub-view [off, off+n); false if it does not fit. */
static inline bool bytes_sub(const struct bytes *b, size_t off, size_t n, struct bytes *out)
{
    if (!bytes_has(b, off, n)) {
        out->p = b->p;
        out->len = 0;
        return false;
    }
    out->p = b->p + off;
    out->len = n;
    return true;
}

/* Everything from off to the end; false if off is past the end. */
static inline bool bytes_tail(const struct bytes *b, size_t off, struct bytes *out)
{
    if (off > b->len) {
        out->p = b->p;
        out->len = 0;
        return false;
    }
    out->p = b->p + off;
    out->len = b->len - off;
    return true;
}

#endif
