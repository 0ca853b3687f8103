/*
 * run.c — the main thread's loops. It reads bursts and hands them to the
 * one inline worker or to the dispatcher (pool.c); or, when every worker
 * reads its own socket or queue, it only keeps time. Either way it is the
 * one thread that closes alert windows: between bursts, cut where a
 * packet's clock reaches a window end (with a pool, at a barrier where
 * every worker has caught up to that time).
 */
#include "app/app.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/map_guard.h"

volatile sig_atomic_t app_stop_requested;
volatile sig_atomic_t app_reload_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        app_reload_requested = 1;
    else
        app_stop_requested = 1;
}

void app_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* SIGHUP seen by a loop: reload like POST /-/reload does. */
static void take_sighup(struct app *a)
{
    char msg[1024];
    app_reload_requested = 0;
    if (app_reload(a, msg, sizeof msg) == 0 && !a->o->quiet)
        fprintf(stderr, "spanwatch: SIGHUP: config %s\n", msg);
}

static int reload_pending(struct app *a)
{
    return atomic_load_explicit(&a->pending_cfg, memory_order_relaxed) != NULL;
}

/* ---- -w 1: the worker runs in this thread ---------------------------- */

/* A window ends before the packet whose clock reaches it. */
static void inline_window(struct app *a, uint64_t now_ns)
{
    struct worker *w = &a->w;
    worker_timers(w, now_ns);
    alerts_advance(&a->engine, &w->servers, now_ns);
    w->closed_ns = alerts_open_since(&a->engine);
    app_publish_alerts(a);
}

/* A burst, cut at every alert-window end on the way: before the first
 * packet whose stamp reaches the next window end (the clock is the highest
 * stamp so far, so that is where it reaches it). */
static void inline_burst(struct app *a, const struct sw_packet *pk, unsigned n)
{
    struct worker *w = &a->w;
    if (!alerts_started(&a->engine))
        alerts_start(&a->engine, w->clock_ns > pk[0].ts_ns ? w->clock_ns : pk[0].ts_ns);
    unsigned from = 0;
    for (;;) {
        uint64_t next = alerts_next_close(&a->engine);
        unsigned i = from;
        if (w->clock_ns < next) /* else the window ends before this burst */
            while (i < n && pk[i].ts_ns < next)
                i++;
        if (i == n)
            break;
        worker_handle_burst(w, pk + from, i - from);
        from = i;
        inline_window(a, w->clock_ns > pk[i].ts_ns ? w->clock_ns : pk[i].ts_ns);
    }
    worker_handle_burst(w, pk + from, n - from);
}

static void inline_step(struct app *a, const struct sw_packet *burst, int n)
{
    if (n > 0) {
        inline_burst(a, burst, (unsigned)n);
    } else if (a->o->iface) {
        uint64_t now = clock_live_ns();
        worker_tick(&a->w, now);
        if (alerts_due(&a->engine, now))
            inline_window(a, now);
    }
    if (reload_pending(a))
        app_apply_pending_rules(a, a->w.now_ns);
    if (publisher_wanted(&a->pub)) {
        app_worker_snapshot(publisher_back(&a->pub), &a->w, a->src);
        publisher_publish(&a->pub);
    }
}

/* ---- a pool: a dispatcher in this thread, or workers with own sources - */

static void merge_workers(struct app *a)
{
    server_registry_clear(&a->merged);
    for (unsigned i = 0; i < a->pool->n; i++)
        server_registry_add(&a->merged, &a->pool->slots[i].w.servers);
}

/* A window ends: park the workers at the boundary, merge, evaluate. */
static void pool_window(struct app *a, uint64_t now_ns)
{
    pool_barrier_enter(a->pool, alerts_next_close(&a->engine));
    merge_workers(a);
    alerts_advance(&a->engine, &a->merged, now_ns);
    pool_barrier_leave(a->pool, alerts_open_since(&a->engine));
    app_publish_alerts(a);
}

/* Dispatch a burst, stopping at every alert-window end on the way. */
static void pool_dispatch_windows(struct app *a, const struct sw_packet *pk, unsigned n)
{
    struct pool *p = a->pool;
    int linktype = a->src->linktype;
    unsigned from = 0;
    uint64_t clock = p->now_ns;
    for (unsigned i = 0; i < n; i++) {
        if (pk[i].ts_ns > clock)
            clock = pk[i].ts_ns;
        if (!alerts_started(&a->engine))
            alerts_start(&a->engine, clock);
        if (alerts_due(&a->engine, clock)) {
            pool_dispatch(p, linktype, pk + from, i - from);
            from = i;
            pool_window(a, clock);
        }
    }
    pool_dispatch(p, linktype, pk + from, n - from);
}

static void dispatcher_drops(struct app *a)
{
    struct source_stats st;
    source_stats(a->src, &st);
    atomic_store(&a->source_drops, st.kernel_drops + st.iface_drops);
    atomic_store(&a->ring_drops, a->pool->ring_drops);
}

static void dispatch_step(struct app *a, const struct sw_packet *burst, int n, unsigned bursts)
{
    if (n > 0)
        pool_dispatch_windows(a, burst, (unsigned)n);
    else if (a->o->iface && alerts_due(&a->engine, clock_live_ns()))
        pool_window(a, clock_live_ns());
    if (reload_pending(a))
        app_apply_pending_rules(a, a->pool->now_ns);
    if ((bursts & 63) == 0 || n <= 0)
        dispatcher_drops(a);
}

/* The workers read their own sockets; this thread closes alert windows by
 * the clock, takes reloads and watches for errors. */
static int run_own_sources(struct app *a)
{
    struct pool *p = a->pool;
    while (!app_stop_requested) {
        struct timespec nap = { 0, 10000000 };
        nanosleep(&nap, NULL);
        if (atomic_load(&p->failed)) {
            fprintf(stderr, "spanwatch: capture failed: %s\n", p->error);
            return EXIT_RUNTIME;
        }
        uint64_t now = clock_live_ns();
        if (alerts_due(&a->engine, now))
            pool_window(a, now);
        if (reload_pending(a))
            app_apply_pending_rules(a, now);
        if (app_reload_requested)
            take_sighup(a);
    }
    return 0;
}

static void progress(const struct source *src, uint64_t packets, uint64_t off, uint64_t t0)
{
    double el = (double)(clock_mono_ns() - t0) / 1e9;
    fprintf(stderr, "\r\033[Kspanwatch: %" PRIu64 " packets, %.0f packets/s", packets,
            el > 0 ? (double)packets / el : 0.0);
    if (src->file_size && off)
        fprintf(stderr, ", %.0f%% of file", 100.0 * (double)off / (double)src->file_size);
}

/* ---- -r with shared reading: the workers read the file themselves ---- */

/* A window ends: every worker is parked before the record whose clock
 * reached it (or done reading, after a signal). */
static void walk_window(struct app *a, uint64_t clock)
{
    struct pool *p = a->pool;
    merge_workers(a);
    alerts_advance(&a->engine, &a->merged, clock);
    if (reload_pending(a))
        app_apply_pending_rules(a, clock);
    atomic_store_explicit(&p->walk.next_close, alerts_next_close(&a->engine),
                          memory_order_relaxed);
    pool_barrier_leave(p, alerts_open_since(&a->engine));
    app_publish_alerts(a);
}

/* The mapping's page tables, kept ahead of the workers and dropped behind
 * them, in large steps from this thread: filling them a page fault at a
 * time in every worker cost more than the walk itself (a prefetch of an
 * unmapped page does nothing), and the process's RSS stays bounded instead
 * of growing to the file's size (the page cache keeps the pages). */
#define WALK_MAP_AHEAD ((uint64_t)64 << 20)
#define WALK_MAP_STEP ((uint64_t)16 << 20)
#define WALK_KEEP_BEHIND ((uint64_t)32 << 20) /* > a burst of the largest records */

struct walk_pages {
    uint64_t mapped, dropped;  /* page-aligned offsets */
};

static void walk_pages(struct app *a, struct walk_pages *wp)
{
    struct pool *p = a->pool;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned i = 0; i < p->n; i++) {
        if (atomic_load_explicit(&p->slots[i].walk_done, memory_order_acquire))
            continue;
        uint64_t off = atomic_load_explicit(&p->slots[i].walk_off, memory_order_relaxed);
        lo = off < lo ? off : lo;
        hi = off > hi ? off : hi;
    }
    if (lo == UINT64_MAX)
        return;
    uint8_t *base = a->walk_map;
    while (wp->mapped < a->walk_len && wp->mapped < hi + WALK_MAP_AHEAD) {
        uint64_t len = a->walk_len - wp->mapped < WALK_MAP_STEP ? a->walk_len - wp->mapped
                                                                 : WALK_MAP_STEP;
        if (madvise(base + wp->mapped, len, MADV_POPULATE_READ) != 0 && errno == EFAULT) {
            /* the file shrank: the workers read up to the cut (the guard) */
            wp->mapped = a->walk_len;
            break;
        }
        wp->mapped += len;
    }
    while (lo > WALK_KEEP_BEHIND && wp->dropped + WALK_MAP_STEP <= lo - WALK_KEEP_BEHIND) {
        madvise(base + wp->dropped, WALK_MAP_STEP, MADV_DONTNEED);
        wp->dropped += WALK_MAP_STEP;
    }
}

/* This thread closes the windows, shows progress and takes signals until
 * every worker has read what it can; the rest of the file (from the first
 * record that is not plainly well formed) is then read by run_read(). */
static int run_walk(struct app *a, uint64_t t0)
{
    struct pool *p = a->pool;
    int show_progress = !a->o->quiet && isatty(STDERR_FILENO), shown = 0;
    uint64_t last_progress = t0;
    struct walk_pages wp = { 0, 0 };
    for (;;) {
        walk_pages(a, &wp);
        unsigned reached = 0, done = 0;
        uint64_t clock = 0;
        for (unsigned i = 0; i < p->n; i++) {
            struct pool_slot *s = &p->slots[i];
            if (atomic_load_explicit(&s->walk_done, memory_order_acquire)) {
                done++;
            } else if (atomic_load_explicit(&s->barrier_reached, memory_order_acquire) ==
                       p->barrier_seq + 1) {
                reached++;
                clock = s->walk_clock;
            }
        }
        if (done == p->n)
            break;
        if (reached && reached + done == p->n) {
            p->barrier_seq++;
            walk_window(a, clock);
            continue;
        }
        if (app_stop_requested && atomic_load(&p->walk.stop_at) == UINT64_MAX) {
            /* every worker stops at one record, ahead of all of them */
            uint64_t most = 0;
            for (unsigned i = 0; i < p->n; i++) {
                uint64_t r = atomic_load(&p->slots[i].walk_records);
                most = r > most ? r : most;
            }
            atomic_store(&p->walk.stop_at, (most / 1024 + 2) * 1024);
        }
        pool_walk_recheck(p); /* a file cut short: the workers stop at the cut */
        if (app_reload_requested)
            take_sighup(a);
        if (show_progress && clock_mono_ns() - last_progress >= 500000000) {
            progress(a->src, atomic_load(&p->slots[0].walk_records),
                     atomic_load(&p->slots[0].walk_off), t0);
            last_progress = clock_mono_ns();
            shown = 1;
        }
        /* woken by a worker that parks or is done; else every 1 ms for
         * the page tables, progress and signals */
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        sem_clockwait(&p->walk.wake, CLOCK_MONOTONIC, &until);
    }
    if (shown)
        fputs("\r\033[K", stderr);
    uint64_t off, records;
    pool_walk_handover(p, &off, &records);
    int apart = 0;
    for (unsigned i = 1; i < p->n; i++)
        apart |= atomic_load(&p->slots[i].walk_off) != off;
    if (off > pool_walk_recheck(p)) /* they read past where the file now ends */
        apart = 1;
    /* the mapping is done with: the rest is read() */
    map_guard_remove();
    munmap(a->walk_map, a->walk_len);
    a->walk_map = NULL;
    if (apart) {
        /* same bytes, same stop — unless the file was cut under workers
         * that had read past the cut before it was made: reading on from
         * any one offset would count some packets twice, and what they
         * read is no longer in the file */
        fprintf(stderr, "spanwatch: warning: %s shrank while it was read (near record %" PRIu64
                        "); metrics cover the packets read before\n", a->src->name, records);
        return -1;
    }
    if (reload_pending(a))
        app_apply_pending_rules(a, p->now_ns);
    if (source_pcap_resume(a->src, off, records) != 0) {
        fprintf(stderr, "spanwatch: warning: %s; metrics cover the packets before it\n",
                a->src->error);
        return -1;
    }
    return 0;
}

/* This thread reads: until the end of the file, a read error, or a signal
 * (live: then until what the kernel already holds is analysed). */
static void run_read(struct app *a, uint64_t t0)
{
    struct sw_packet burst[SOURCE_BURST_MAX];
    struct source_drain drain = { 0, 0, 0 };
    int draining = 0;
    int show_progress = !a->o->quiet && isatty(STDERR_FILENO);
    uint64_t last_progress = t0, dispatched = 0;
    unsigned bursts = 0;
    for (;;) {
        if (app_stop_requested && !draining) {
            if (!a->o->iface)
                break;
            source_drain_begin(&drain, clock_wall_ns(), clock_mono_ns());
            draining = 1;
        }
        int n = source_next_burst(a->src, burst, SOURCE_BURST_MAX);
        int last = draining && source_drain_done(&drain, burst, n, clock_mono_ns());
        if ((last && n <= 0) || n == SOURCE_EOF)
            break;
        if (n == SOURCE_ERROR) {
            /* keep what was read: a capture cut short is still evidence */
            fprintf(stderr, "%sspanwatch: warning: %s; metrics cover the packets before it\n",
                    show_progress ? "\n" : "", a->src->error);
            break;
        }
        if (a->pool) {
            dispatch_step(a, burst, n, ++bursts);
            dispatched += n > 0 ? (unsigned)n : 0;
        } else {
            inline_step(a, burst, n);
        }
        if (app_reload_requested)
            take_sighup(a);
        if (show_progress && (++bursts & 255) == 0 && clock_mono_ns() - last_progress >= 500000000) {
            progress(a->src, a->pool ? dispatched : a->w.packets, source_pcap_file_offset(a->src),
                     t0);
            last_progress = clock_mono_ns();
        }
        if (last)
            break;
    }
    if (show_progress && bursts >= 256)
        fputs("\r\033[K", stderr);
}

static void add_totals(struct run_totals *t, const struct worker *w)
{
    t->packets += w->packets;
    t->bytes += w->bytes;
    t->not_ip += w->not_ip;
    for (int e = 0; e < DERR_COUNT; e++)
        t->errors[e] += w->dec.errors[e];
    t->flows_created += w->flows.created;
    t->flows_active += w->flows.count;
    for (int r = 0; r < FLOW_EVICT_COUNT; r++)
        t->flow_evictions[r] += w->flows.evictions[r];
    if (w->packets && (!t->first_ns || w->first_ns < t->first_ns))
        t->first_ns = w->first_ns;
    if (w->now_ns > t->now_ns)
        t->now_ns = w->now_ns;
}

/* End of input: drain, let every worker's clock reach the last packet
 * time, final housekeeping, final snapshots, last windows. */
static void finish_pool(struct app *a)
{
    struct pool *p = a->pool;
    pool_stop(p);
    for (unsigned i = 0; i < p->n; i++) /* workers with own sources: no dispatcher clock */
        if (p->slots[i].w.now_ns > p->now_ns)
            p->now_ns = p->slots[i].w.now_ns;
    for (unsigned i = 0; i < p->n; i++) {
        struct worker *w = &p->slots[i].w;
        worker_tick(w, p->now_ns);
        worker_finish(w);
        add_totals(&a->totals, w);
        app_worker_snapshot(publisher_back(&p->slots[i].pub), w, p->slots[i].src);
        publisher_publish(&p->slots[i].pub);
    }
    merge_workers(a);
    if (a->o->read_file)
        alerts_finish(&a->engine, &a->merged, p->now_ns);
    app_publish_alerts(a);
    if (!p->sourced) /* else each worker reported its own socket's drops */
        dispatcher_drops(a);
    atomic_store(&a->ring_drops, p->ring_drops);
}

static void finish_inline(struct app *a)
{
    worker_finish(&a->w);
    if (a->o->read_file)
        alerts_finish(&a->engine, &a->w.servers, a->w.now_ns);
    app_publish_alerts(a);
    add_totals(&a->totals, &a->w);
    app_worker_snapshot(publisher_back(&a->pub), &a->w, a->src);
    publisher_publish(&a->pub);
}

int app_run(struct app *a)
{
    const struct options *o = a->o;
    uint64_t t0 = clock_mono_ns();
    app_setup_walk(a);
    if (a->pool && pool_start(a->pool) != 0) {
        fprintf(stderr, "spanwatch: cannot start the worker threads\n");
        return EXIT_RUNTIME;
    }
    atomic_store(&a->ready, 1);
    if (o->iface && !o->quiet)
        fprintf(stderr, "spanwatch: capturing on %s (%s back end, %u worker%s)\n", a->src->name,
                o->backend, o->workers, o->workers == 1 ? "" : "s");
    int rc = 0;
    if (a->pool && a->pool->sourced)
        rc = run_own_sources(a);
    else if (!(a->pool && a->pool->walk.base && (run_walk(a, t0) != 0 || app_stop_requested)))
        run_read(a, t0);
    if (a->pool)
        finish_pool(a);
    else
        finish_inline(a);
    a->wall_s = (double)(clock_mono_ns() - t0) / 1e9;
    a->totals.source_name = a->src->name;
    a->totals.linktype_name = a->src->linktype_name;
    a->totals.servers = app_registry(a);
    atomic_store(&a->finished, 1);
    return rc;
}

void app_linger(struct app *a)
{
    if (!a->o->quiet)
        fprintf(stderr, "spanwatch: replay done; serving the final metrics on %s until "
                        "SIGINT/SIGTERM (--linger)\n", a->o->listen);
    struct timespec nap = { 0, 100000000 };
    while (!app_stop_requested) {
        nanosleep(&nap, NULL);
        if (app_reload_requested)
            take_sighup(a);
        if (!reload_pending(a))
            continue;
        /* reloaded rules over the final counters: resolve removed rules'
         * alerts, then show the new state */
        app_apply_pending_rules(a, a->pool ? a->pool->now_ns : a->w.now_ns);
        if (!a->pool) {
            pthread_mutex_lock(&a->scrape_lock);
            app_worker_snapshot(publisher_back(&a->pub), &a->w, a->src);
            publisher_publish(&a->pub);
            pthread_mutex_unlock(&a->scrape_lock);
        }
    }
}
