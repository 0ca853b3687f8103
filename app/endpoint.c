/*
 * endpoint.c — what the HTTP endpoint and --metrics-out read: a view
 * assembled from the workers' published snapshots and the alert engine's
 * copy, never from state the packet path is writing; and reloads.
 */
#include "app/app.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "metrics/exposition.h"
#include "util/clock.h"

#ifndef SPANWATCH_VERSION
#define SPANWATCH_VERSION "0.0.0-dev"
#endif

/* Worker side: copy what the exposition shows into s (O(servers)). */
void app_worker_snapshot(struct worker_snap *s, struct worker *w, struct source *src)
{
    s->packets = w->packets;
    s->bytes = w->bytes;
    memcpy(s->decode_errors, w->dec.errors, sizeof s->decode_errors);
    memcpy(s->encap, w->dec.encap, sizeof s->encap);
    s->duplicates = w->duplicates;
    for (int p = 0; p < FLOW_PROTO_COUNT; p++)
        s->flows_active[p] = w->flows.active[p];
    for (int r = 0; r < FLOW_EVICT_COUNT; r++)
        s->flow_evictions[r] = w->flows.evictions[r];
    s->source_drops = 0;
    if (src) {
        struct source_stats st;
        source_stats(src, &st); /* a syscall per snapshot, not per packet */
        s->source_drops = st.kernel_drops + st.iface_drops;
    }
    worker_snap_servers(s, &w->servers);
}

static void fill_view(struct metrics_view *v, const struct worker_snap *const *snaps, unsigned nw,
                      const char *source_name, int reload_ok, uint64_t config_hash,
                      struct server_snap *merge_buf)
{
    memset(v, 0, sizeof *v);
    v->nworkers = nw;
    uint64_t drops = 0;
    for (unsigned i = 0; i < nw; i++) {
        const struct worker_snap *s = snaps[i];
        v->packets[i] = s->packets;
        v->bytes[i] = s->bytes;
        for (int e = 0; e < DERR_COUNT; e++)
            v->decode_errors[e] += s->decode_errors[e];
        for (int t = 0; t < ENCAP_COUNT; t++)
            v->encap[t] += s->encap[t];
        v->duplicates += s->duplicates;
        for (int p = 0; p < FLOW_PROTO_COUNT; p++)
            v->flows_active[p] += s->flows_active[p];
        for (int r = 0; r < FLOW_EVICT_COUNT; r++)
            v->flow_evictions[r] += s->flow_evictions[r];
        v->servers_overflow += s->overflow_samples;
        drops += s->source_drops;
    }
    v->nsources = 1;
    v->source_name[0] = source_name;
    v->source_drops[0] = drops;
    if (nw == 1) {
        v->servers = snaps[0]->servers;
        v->nservers = snaps[0]->nservers;
    } else {
        v->servers = merge_buf;
        v->nservers = worker_snap_merge_servers(snaps, nw, merge_buf);
    }
    v->config_reload_ok = reload_ok;
    v->config_hash = config_hash;
    v->version = SPANWATCH_VERSION;
    v->backends = BACKENDS;
}

/* the alert families, from the copy made by the engine's thread */
static void render_alerts(FILE *out, void *ctx)
{
    struct app *a = ctx;
    struct am_stats am;
    if (a->out.am)
        am_get_stats(a->out.am, &am);
    pthread_mutex_lock(&a->alert_lock);
    alert_snapshot_render(out, &a->alert_snap, a->out.am ? &am : NULL);
    pthread_mutex_unlock(&a->alert_lock);
}

int app_render(void *ctx, FILE *out)
{
    struct app *a = ctx;
    pthread_mutex_lock(&a->scrape_lock);
    uint64_t t0 = clock_mono_ns();
    int fresh = 0;
    unsigned nw = a->pool ? a->pool->n : 1;
    const struct worker_snap *snaps[METRICS_MAX_WORKERS];
    uint32_t total = 0;
    for (unsigned i = 0; i < nw; i++) {
        struct publisher *pub = a->pool ? &a->pool->slots[i].pub : &a->pub;
        snaps[i] = atomic_load(&a->finished) ? publisher_latest(pub)
                                             : publisher_request(pub, 1000, &fresh);
        total += snaps[i]->nservers;
    }
    struct metrics_view *v = malloc(sizeof *v);
    struct server_snap *buf = nw > 1 ? malloc((total + 1) * sizeof *buf) : NULL;
    int rc = -1;
    if (v && (nw == 1 || buf)) {
        fill_view(v, snaps, nw, a->src->name, atomic_load(&a->reload_ok),
                  atomic_load(&a->config_hash), buf);
        struct xdp_view x;
        if (backends_xdp_view(&a->be, &x)) {
            /* every frame the program saw is analysed or counted: a frame
             * passed to the kernel (a queue without a socket) is a drop */
            v->xdp = 1;
            v->xdp_redirected = x.redirected;
            v->xdp_passed = x.passed;
            v->nxdp_drops = x.ndrops;
            for (unsigned r = 0; r < x.ndrops; r++) {
                v->xdp_drop_reason[r] = x.reason[r];
                v->xdp_drops[r] = x.drops[r];
            }
            v->source_drops[0] += x.passed;
        }
        if (a->pool) {
            v->source_drops[0] += atomic_load(&a->source_drops);
            if (!a->pool->sourced) { /* the dispatcher's rings */
                v->nsources = 2;
                v->source_name[1] = "ring";
                v->source_drops[1] = atomic_load(&a->ring_drops);
            }
        }
        v->scrape_duration_seconds = a->last_scrape_s;
        v->render_alerts = render_alerts;
        v->render_alerts_ctx = a;
        rc = expo_render(out, v);
    }
    free(v);
    free(buf);
    a->last_scrape_s = (double)(clock_mono_ns() - t0) / 1e9;
    pthread_mutex_unlock(&a->scrape_lock);
    return rc;
}

int app_ready(void *ctx)
{
    struct app *a = ctx;
    if (atomic_load(&a->finished))
        return -1;
    return atomic_load(&a->ready) ? 1 : 0;
}

/* Reload (SIGHUP or POST /-/reload): all or nothing. A file that fails
 * validation leaves the running config in place and sets
 * spanwatch_config_last_reload_successful to 0. */
int app_reload(void *ctx, char *msg, size_t msglen)
{
    struct app *a = ctx;
    int rc = 0;
    pthread_mutex_lock(&a->reload_lock);
    if (!a->o->config) {
        snprintf(msg, msglen, "no -c file: nothing to reload");
    } else {
        struct config *c = malloc(sizeof *c);
        if (!c) {
            snprintf(msg, msglen, "out of memory");
            rc = -1;
        } else if (config_load(a->o->config, c, msg, msglen) != 0) {
            atomic_store(&a->reload_ok, 0);
            fprintf(stderr, "spanwatch: reload failed, keeping the running config: %s\n", msg);
            rc = -1;
        } else if (c->hash == atomic_load(&a->config_hash)) {
            atomic_store(&a->reload_ok, 1);
            snprintf(msg, msglen, "unchanged");
        } else {
            /* valid: the rules are handed to the main thread, which swaps
             * them in between two bursts, keeping the state of every rule
             * that did not change. limits and servers size tables the
             * workers own: they take effect at the next start. */
            atomic_store(&a->reload_ok, 1);
            atomic_store(&a->config_hash, c->hash);
            if (!config_same_capture(c, a->running))
                snprintf(msg, msglen, "%s: %u rules applied; changes to limits or servers "
                                      "take effect at the next restart", a->o->config, c->n_rules);
            else
                snprintf(msg, msglen, "%s: %u rules applied", a->o->config, c->n_rules);
            fprintf(stderr, "spanwatch: reload: %s\n", msg);
            c = atomic_exchange(&a->pending_cfg, c); /* an older one not yet taken */
        }
        free(c);
    }
    pthread_mutex_unlock(&a->reload_lock);
    return rc;
}

int app_write_metrics(struct app *a, const char *path, FILE *f)
{
    int rc = app_render(a, f);
    if (f == stdout)
        rc |= fflush(f);
    else
        rc |= fclose(f);
    if (rc != 0) {
        fprintf(stderr, "spanwatch: --metrics-out %s: write failed: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}
