/*
 * app.h — the running program: its sources, its workers (one inline, or a
 * pool), the alert engine and its outputs, and what the HTTP endpoint
 * reads. Threads: the main thread reads or dispatches packets (or, with
 * workers that read their own sockets, only keeps time), closes alert
 * windows and takes reloads; the endpoint's threads render scrapes from
 * published copies; pool workers publish their own.
 */
#ifndef SPANWATCH_APP_H
#define SPANWATCH_APP_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "alerts/alerts.h"
#include "alerts/output.h"
#include "alerts/state.h"
#include "analyze/worker.h"
#include "app/cli.h"
#include "app/pool.h"
#include "capture/backends.h"
#include "config/config.h"
#include "metrics/report.h"
#include "metrics/snapshot.h"

struct app {
    const struct options *o;
    const struct config *running;   /* limits/servers the workers were built with */
    struct config *worker_cfg;      /* running with tables sized for a replay, or NULL */
    struct backends be;
    struct source *src;             /* the dispatcher's source, or worker 0's own */
    /* the packet path: one worker in this thread, or a pool (-w N > 1,
     * and back ends whose workers read their own sockets) */
    struct worker w;
    struct pool *pool;              /* NULL: inline */
    struct pool pool_storage;
    struct server_registry merged;  /* pool: the workers' servers by label */
    void *walk_map;                 /* -r: the file mapped for the workers (pool_set_walk) */
    size_t walk_len;
    struct run_totals totals;       /* at the end, for the summary */
    double wall_s;

    /* endpoint */
    struct publisher pub;           /* inline worker's snapshots */
    pthread_mutex_t scrape_lock;    /* one render at a time (never taken by a worker) */
    pthread_mutex_t reload_lock;
    atomic_int ready;
    atomic_int finished;            /* the packet loop ended: use the last snapshot */
    atomic_int reload_ok;
    _Atomic uint64_t config_hash;
    double last_scrape_s;
    _Atomic uint64_t source_drops;  /* pool: seen by the dispatcher */
    _Atomic uint64_t ring_drops;

    /* alerts: the engine runs in the main thread, between bursts; a
     * reloaded config is handed over through pending_cfg */
    struct config *_Atomic pending_cfg;
    struct config *rules_cfg;       /* rules in force */
    struct alert_engine engine;
    struct alert_output out;
    pthread_mutex_t alert_lock;     /* the copy for scrapes, made after every window close */
    struct alert_snapshot alert_snap;
};

/* app.c: set up the workers, the engine and the outputs for a; 0, or
 * EXIT_RUNTIME after a message */
int app_init(struct app *a, const struct options *o, const struct config *cfg, FILE *alerts_out);
void app_free(struct app *a);
/* the registry the engine runs on: the inline worker's, or the merged one */
struct server_registry *app_registry(struct app *a);
/* copy the engine's state for scrapes */
void app_publish_alerts(struct app *a);
/* take a reloaded config's rules (state of unchanged rules carries over) */
void app_apply_pending_rules(struct app *a, uint64_t now_ns);

/* endpoint.c: what the HTTP endpoint calls (struct web_handlers) */
int app_render(void *ctx, FILE *out);
int app_reload(void *ctx, char *msg, size_t msglen);
int app_ready(void *ctx);
/* a worker's counters into its snapshot (O(servers); one syscall for drops) */
void app_worker_snapshot(struct worker_snap *s, struct worker *w, struct source *src);
/* --metrics-out: render into f and close it; 0, or -1 after a message */
int app_write_metrics(struct app *a, const char *path, FILE *f);

/* run.c: the loops */
extern volatile sig_atomic_t app_stop_requested, app_reload_requested;
void app_install_signals(void);
/* read (or wait for the workers) until the input ends or a signal; then
 * the last windows, the last snapshots and the totals. 0 or EXIT_RUNTIME. */
int app_run(struct app *a);
/* -r with workers: let them read the file themselves when it can be mapped
 * (app_run does it; exposed for tests). */
void app_setup_walk(struct app *a);
/* --linger: serve the final numbers (and take reloads) until a signal */
void app_linger(struct app *a);

#endif
