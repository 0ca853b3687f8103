/*
 * frag.c — see frag.h. Coverage is tracked in 8-byte units (the fragment
 * offset granularity) with a bitmap per slot; a datagram is complete when
 * its last fragment has been seen and every unit below its end is covered.
 */
#include "flow/frag.h"

#include <stdlib.h>
#include <string.h>

#define FRAG_MAX_BYTES 65536u
#define FRAG_UNITS (FRAG_MAX_BYTES / 8)

struct frag_slot {
    uint8_t used;
    uint8_t version;
    uint8_t proto;
    uint32_t id;
    struct ip_addr src, dst;
    uint64_t first_ns;
    uint32_t total_len;      /* 0 until the last fragment arrives */
    uint32_t units_set;
    uint32_t max_end;        /* highest byte seen so far */
    uint8_t map[FRAG_UNITS / 8];
    uint8_t *buf;
};

struct frag_table {
    uint32_t nslots;
    uint32_t nused;
    uint64_t timeout_ns;
    struct frag_slot *slots;
    uint8_t *pool;
};

struct frag_table *frag_table_create(uint32_t max_datagrams, uint64_t timeout_ns)
{
    struct frag_table *ft = calloc(1, sizeof *ft);
    if (!ft)
        return NULL;
    if (max_datagrams == 0)
        max_datagrams = 1;
    ft->nslots = max_datagrams;
    ft->timeout_ns = timeout_ns;
    ft->slots = calloc(max_datagrams, sizeof *ft->slots);
    ft->pool = malloc((size_t)max_datagrams * FRAG_MAX_BYTES);
    if (!ft->slots || !ft->pool) {
        frag_table_destroy(ft);
        return NULL;
    }
    for (uint32_t i = 0; i < max_datagrams; i++)
        ft->slots[i].buf = ft->pool + (size_t)i * FRAG_MAX_BYTES;
    return ft;
}

void frag_table_destroy(struct frag_table *ft)
{
    if (!ft)
        return;
    free(ft->slots);
    free(ft->pool);
    free(ft);
}

unsigned frag_pending(const struct frag_table *ft)
{
    return ft->nused;
}

static void slot_free(struct frag_table *ft, struct frag_slot *s)
{
    s->used = 0;
    ft->nused--;
}

unsigned frag_expire(struct frag_table *ft, uint64_t now_ns, uint64_t *errors)
{
    unsigned n = 0;
    if (ft->nused == 0)
        return 0;
    for (uint32_t i = 0; i < ft->nslots; i++) {
        struct frag_slot *s = &ft->slots[i];
        if (s->used && now_ns >= s->first_ns && now_ns - s->first_ns > ft->timeout_ns) {
            slot_free(ft, s);
            errors[DERR_FRAG_TIMEOUT]++;
            n++;
        }
    }
    return n;
}

static bool same_datagram(const struct frag_slot *s, const struct ip_result *ip)
{
    return s->used && s->id == ip->frag_id && s->version == ip->version &&
           (ip->version == 6 || s->proto == ip->proto) &&
           memcmp(&s->src, &ip->src, sizeof s->src) == 0 &&
           memcmp(&s->dst, &ip->dst, sizeof s->dst) == 0;
}

/* A slot for this fragment: existing, free, or the oldest one evicted. */
static struct frag_slot *slot_get(struct frag_table *ft, const struct ip_result *ip,
                                  uint64_t now_ns, bool *evicted)
{
    struct frag_slot *free_slot = NULL, *oldest = NULL;
    *evicted = false;
    for (uint32_t i = 0; i < ft->nslots; i++) {
        struct frag_slot *s = &ft->slots[i];
        if (same_datagram(s, ip))
            return s;
        if (!s->used) {
            if (!free_slot)
                free_slot = s;
        } else if (!oldest || s->first_ns < oldest->first_ns) {
            oldest = s;
        }
    }
    struct frag_slot *s = free_slot;
    if (!s) {
        s = oldest;
        slot_free(ft, s);
        *evicted = true;
    }
    s->used = 1;
    ft->nused++;
    s->version = ip->version;
    s->proto = ip->proto;
    s->id = ip->frag_id;
    s->src = ip->src;
    s->dst = ip->dst;
    s->first_ns = now_ns;
    s->total_len = 0;
    s->units_set = 0;
    s->max_end = 0;
    memset(s->map, 0, sizeof s->map);
    return s;
}

static void drop_datagram(struct frag_table *ft, const struct ip_result *ip)
{
    for (uint32_t i = 0; i < ft->nslots; i++)
        if (same_datagram(&ft->slots[i], ip))
            slot_free(ft, &ft->slots[i]);
}

enum frag_result frag_add(struct frag_table *ft, const struct ip_result *ip, uint64_t now_ns,
                          struct bytes *out, uint64_t *errors)
{
    bool evicted;
    uint32_t off = ip->frag_offset;
    uint32_t len = (uint32_t)ip->payload.len;
    uint32_t end = off + len;

    if (ip->truncated || ip->payload.len != ip->payload_len ||
        (ip->more_fragments && (len % 8) != 0)) {
        /* cut by the snap length, or a non-final fragment not a multiple of
         * 8 bytes: the datagram can never be put together */
        errors[DERR_FRAG_BAD_OFFSET]++;
        drop_datagram(ft, ip);
        return FRAG_DROPPED;
    }
    if ((uint64_t)off + len > FRAG_MAX_BYTES - 1) {
        errors[DERR_FRAG_TOO_LARGE]++;
        drop_datagram(ft, ip);
        return FRAG_DROPPED;
    }
    struct frag_slot *s = slot_get(ft, ip, now_ns, &evicted);
    if (evicted)
        errors[DERR_FRAG_NO_MEMORY]++;
    if (!ip->more_fragments) {
        if ((s->total_len && s->total_len != end) || end < s->max_end) {
            errors[DERR_FRAG_BAD_OFFSET]++;
            slot_free(ft, s);
            return FRAG_DROPPED;
        }
        s->total_len = end;
    } else if (s->total_len && end > s->total_len) {
        errors[DERR_FRAG_BAD_OFFSET]++;
        slot_free(ft, s);
        return FRAG_DROPPED;
    }
    if (off == 0)
        s->proto = ip->proto;
    if (end > s->max_end)
        s->max_end = end;
    memcpy(s->buf + off, ip->payload.p, len);
    for (uint32_t u = off / 8; u < (end + 7) / 8; u++) {
        uint8_t bit = (uint8_t)(1u << (u & 7));
        if (!(s->map[u >> 3] & bit)) {
            s->map[u >> 3] |= bit;
            s->units_set++;
        }
    }
    if (s->total_len && s->units_set == (s->total_len + 7) / 8) {
        out->p = s->buf;
        out->len = s->total_len;
        slot_free(ft, s);
        return FRAG_COMPLETE;
    }
    return FRAG_HELD;
}
