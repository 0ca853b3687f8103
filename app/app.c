/*
 * app.c — see app.h: set-up and tear-down of a run, and the alert engine's
 * reloads.
 */
#include "app/app.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/map_guard.h"

static void pool_snapshot_hook(struct pool_slot *s)
{
    app_worker_snapshot(publisher_back(&s->pub), &s->w, s->src);
    publisher_publish(&s->pub);
}

/* one worker in this thread, or a pool with a dispatcher or own sources */
static int init_workers(struct app *a, const struct config *cfg)
{
    const struct options *o = a->o;
    int linktype = a->src->linktype;
    if (o->workers > 1 || a->be.own) {
        a->pool = &a->pool_storage;
        if (pool_init(a->pool, o->workers, cfg, linktype, o->read_file != NULL,
                      o->iface != NULL) != 0 ||
            server_registry_init(&a->merged, cfg) != 0) {
            fprintf(stderr, "spanwatch: cannot allocate %u workers (limits.max_flows=%u each)\n",
                    o->workers, cfg->max_flows);
            return EXIT_RUNTIME;
        }
        a->pool->snapshot = pool_snapshot_hook;
        if (a->be.own)
            for (unsigned i = 0; i < o->workers; i++)
                pool_set_source(a->pool, i, a->be.src[i]);
        return 0;
    }
    if (worker_init(&a->w, 0, cfg, linktype) != 0) {
        fprintf(stderr, "spanwatch: cannot allocate flow table for limits.max_flows=%u\n",
                cfg->max_flows);
        return EXIT_RUNTIME;
    }
    return 0;
}

/* -r with workers: they read the file themselves if spanwatch reads it
 * directly (a classic pcap file, no -f filter) and it can be mapped; else
 * (or with SPANWATCH_DISPATCH=1, for comparisons) this thread dispatches.
 * Before pool_start; the windows start at the first record. */
void app_setup_walk(struct app *a)
{
    int fd;
    uint64_t first;
    struct pcap_format fmt;
    struct stat st;
    const char *force = getenv("SPANWATCH_DISPATCH");
    if (!a->pool || a->pool->sourced || !a->o->read_file || (force && *force == '1') ||
        source_pcap_direct(a->src, &fd, &fmt, &first) != 0 || fstat(fd, &st) != 0 ||
        (uint64_t)st.st_size <= first)
        return;
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return;
    map_guard_install(m, (size_t)st.st_size); /* a file cut short under us: no SIGBUS */
    struct sw_packet pk;
    if (pcap_record(&fmt, (const uint8_t *)m + first, (size_t)st.st_size - first, &pk))
        alerts_start(&a->engine, pk.ts_ns);
    uint64_t next = alerts_started(&a->engine) ? alerts_next_close(&a->engine) : UINT64_MAX;
    if (pool_set_walk(a->pool, m, (uint64_t)st.st_size, first, &fmt, a->src->linktype, next,
                      fd) != 0) {
        map_guard_remove();
        munmap(m, (size_t)st.st_size);
        return;
    }
    a->walk_map = m;
    a->walk_len = (size_t)st.st_size;
}

/* the rules of cfg (a copy: a reload replaces it), Alertmanager if configured */
static int init_alerts(struct app *a, const struct config *cfg, FILE *alerts_out)
{
    char err[1024];
    a->out.json = alerts_out;
    a->out.quiet = a->o->quiet;
    a->rules_cfg = malloc(sizeof *a->rules_cfg);
    if (!a->rules_cfg || (*a->rules_cfg = *cfg, alerts_init(&a->engine, a->rules_cfg,
                                                            alert_output_transition, &a->out)) != 0) {
        fprintf(stderr, "spanwatch: cannot allocate the alert engine\n");
        return EXIT_RUNTIME;
    }
    if (cfg->am_url[0]) {
        char host[128] = "";
        gethostname(host, sizeof host - 1);
        a->out.am = am_start(cfg->am_url, cfg->am_resend_ns, cfg->am_timeout_ns, host, err,
                             sizeof err);
        if (!a->out.am) {
            fprintf(stderr, "spanwatch: %s\n", err);
            return EXIT_RUNTIME;
        }
    }
    /* live: windows start now; a replay aligns them to its first packet */
    if (a->o->iface)
        alerts_start(&a->engine, clock_wall_ns());
    return 0;
}

/* A replay cannot hold more flows at once than its file has packets, and a
 * packet takes at least 44 bytes of a file (a 16-byte record header, a
 * 28-byte IPv4 + UDP header): the workers' tables are sized to that when it
 * is below limits.max_flows, so replaying a small capture neither sets up
 * nor touches tables for a million flows (the outcome is the same: the
 * table can never fill). NULL: use cfg as it is. */
static struct config *replay_config(const struct options *o, const struct config *cfg)
{
    struct stat st;
    if (!o->read_file || !strcmp(o->read_file, "-") || stat(o->read_file, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return NULL;
    uint64_t bound = (uint64_t)st.st_size / 44 + 64;
    if (bound >= cfg->max_flows)
        return NULL;
    struct config *c = malloc(sizeof *c);
    if (c) {
        *c = *cfg;
        c->max_flows = (unsigned)bound;
    }
    return c;
}

int app_init(struct app *a, const struct options *o, const struct config *cfg, FILE *alerts_out)
{
    a->o = o;
    a->running = cfg;
    a->src = a->be.src[0];
    a->worker_cfg = replay_config(o, cfg);
    int rc = init_workers(a, a->worker_cfg ? a->worker_cfg : cfg);
    if (rc != 0)
        return rc;
    if (publisher_init(&a->pub, cfg->max_servers) != 0 ||
        alert_snapshot_init(&a->alert_snap, cfg->max_servers) != 0) {
        fprintf(stderr, "spanwatch: cannot allocate metric snapshots for limits.max_servers=%u\n",
                cfg->max_servers);
        return EXIT_RUNTIME;
    }
    pthread_mutex_init(&a->scrape_lock, NULL);
    pthread_mutex_init(&a->reload_lock, NULL);
    pthread_mutex_init(&a->alert_lock, NULL);
    atomic_store(&a->reload_ok, 1);
    atomic_store(&a->config_hash, cfg->hash);
    return init_alerts(a, cfg, alerts_out);
}

void app_free(struct app *a)
{
    am_stop(a->out.am, 3000); /* a last try to deliver what is pending */
    a->out.am = NULL;
    if (a->out.json && a->out.json != stdout)
        fclose(a->out.json);
    publisher_free(&a->pub);
    if (a->pool) {
        pool_free(a->pool); /* closes the workers' own sources */
        server_registry_free(&a->merged);
    }
    if (a->walk_map) {
        map_guard_remove();
        munmap(a->walk_map, a->walk_len);
    }
    if (!a->be.own && a->src)
        source_close(a->src);
    a->src = NULL;
    backends_teardown(&a->be);
    alert_snapshot_free(&a->alert_snap);
    alerts_free(&a->engine);
    free(a->rules_cfg);
    free(atomic_exchange(&a->pending_cfg, NULL));
    worker_free(&a->w);
    free(a->worker_cfg); /* after the workers, which point to it */
    a->worker_cfg = NULL;
}

struct server_registry *app_registry(struct app *a)
{
    return a->pool ? &a->merged : &a->w.servers;
}

void app_publish_alerts(struct app *a)
{
    pthread_mutex_lock(&a->alert_lock);
    alert_snapshot_fill(&a->alert_snap, &a->engine, app_registry(a));
    pthread_mutex_unlock(&a->alert_lock);
}

void app_apply_pending_rules(struct app *a, uint64_t now_ns)
{
    struct config *c = atomic_exchange(&a->pending_cfg, NULL);
    if (!c)
        return;
    struct alert_engine fresh;
    if (alerts_init(&fresh, c, alert_output_transition, &a->out) != 0) {
        fprintf(stderr, "spanwatch: reload: out of memory for the rules; keeping the old ones\n");
        free(c);
        return;
    }
    alerts_carry_over(&fresh, &a->engine);
    alerts_resolve_removed(&a->engine, &fresh, app_registry(a), now_ns);
    alerts_free(&a->engine);
    free(a->rules_cfg);
    a->engine = fresh;
    a->rules_cfg = c;
    app_publish_alerts(a);
}
