/*
 * snapshot.c — see snapshot.h.
 */
#include "metrics/snapshot.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int worker_snap_init(struct worker_snap *s, uint32_t max_servers)
{
    memset(s, 0, sizeof *s);
    s->cap = max_servers + 1;
    s->servers = calloc(s->cap, sizeof *s->servers);
    return s->servers ? 0 : -1;
}

void worker_snap_free(struct worker_snap *s)
{
    free(s->servers);
    s->servers = NULL;
}

void hist_snap_from(struct hist_snap *out, const struct histogram *h, int bytes)
{
    out->count = h->count;
    out->sum_ns = h->sum_ns;
    hist_le_counts(h, bytes, out->le);
}

static int snap_cmp(const void *a, const void *b)
{
    return strcmp(((const struct server_snap *)a)->st.label,
                  ((const struct server_snap *)b)->st.label);
}

void worker_snap_servers(struct worker_snap *s, const struct server_registry *r)
{
    uint32_t n = 0;
    SERVER_FOREACH_SLOT(r, i) {
        if (!(n < s->cap))
            break;
        const struct server_stats *st = &r->s[i];
        if (!server_seen_any(st))
            continue;
        struct server_snap *d = &s->servers[n++];
        d->st = *st;
        for (int k = 0; k < SERVER_HIST_COUNT; k++)
            hist_snap_from(&d->h[k], &r->h[(size_t)i * SERVER_HIST_COUNT + (size_t)k],
                           server_hist_is_bytes(k));
    }
    s->nservers = n;
    s->overflow_samples = r->overflow_samples;
    /* stable order for the exposition; labels are unique within a worker */
    qsort(s->servers, n, sizeof *s->servers, snap_cmp);
}

uint32_t worker_snap_merge_servers(const struct worker_snap *const *snaps, unsigned nw,
                                   struct server_snap *out)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < nw; i++) {
        memcpy(out + n, snaps[i]->servers, snaps[i]->nservers * sizeof *out);
        n += snaps[i]->nservers;
    }
    qsort(out, n, sizeof *out, snap_cmp);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (k && !strcmp(out[k - 1].st.label, out[i].st.label)) {
            struct server_snap *d = &out[k - 1];
            const struct server_snap *s = &out[i];
            server_stats_add(&d->st, &s->st);
            for (int h = 0; h < SERVER_HIST_COUNT; h++) {
                d->h[h].count += s->h[h].count;
                d->h[h].sum_ns += s->h[h].sum_ns;
                for (int b = 0; b < HIST_LE_COUNT; b++)
                    d->h[h].le[b] += s->h[h].le[b];
            }
        } else {
            if (k != i)
                out[k] = out[i];
            k++;
        }
    }
    return k;
}

int publisher_init(struct publisher *p, uint32_t max_servers)
{
    atomic_init(&p->req, 0);
    atomic_init(&p->pub, 0);
    p->served = 0;
    if (worker_snap_init(&p->buf[0], max_servers) || worker_snap_init(&p->buf[1], max_servers)) {
        publisher_free(p);
        return -1;
    }
    return 0;
}

void publisher_free(struct publisher *p)
{
    worker_snap_free(&p->buf[0]);
    worker_snap_free(&p->buf[1]);
}

struct worker_snap *publisher_back(struct publisher *p)
{
    uint64_t pub = atomic_load_explicit(&p->pub, memory_order_relaxed);
    return &p->buf[(pub + 1) & 1];
}

void publisher_publish(struct publisher *p)
{
    p->served = atomic_load_explicit(&p->req, memory_order_acquire);
    uint64_t pub = atomic_load_explicit(&p->pub, memory_order_relaxed);
    atomic_store_explicit(&p->pub, pub + 1, memory_order_release);
}

const struct worker_snap *publisher_latest(struct publisher *p)
{
    uint64_t pub = atomic_load_explicit(&p->pub, memory_order_acquire);
    return &p->buf[pub & 1];
}

const struct worker_snap *publisher_request(struct publisher *p, unsigned timeout_ms, int *fresh)
{
    uint64_t before = atomic_load_explicit(&p->pub, memory_order_acquire);
    atomic_fetch_add_explicit(&p->req, 1, memory_order_release);
    struct timespec nap = { 0, 200000 }; /* 0.2 ms */
    *fresh = 0;
    for (unsigned waited_us = 0; waited_us < timeout_ms * 1000u; waited_us += 200) {
        if (atomic_load_explicit(&p->pub, memory_order_acquire) != before) {
            *fresh = 1;
            break;
        }
        nanosleep(&nap, NULL);
    }
    return publisher_latest(p);
}
