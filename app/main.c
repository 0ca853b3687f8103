/*
 * main.c — command line, wiring and the replay/live loop. No packet logic
 * lives here: capture/ produces bursts, src/worker.c handles them, metrics/
 * renders what the workers counted.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sched.h>
#include <stdatomic.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture/source.h"
#include "decode/decode.h"
#include "alerts/alertmanager.h"
#include "alerts/state.h"
#include "util/clock.h"
#include "config/config.h"
#include "metrics/exposition.h"
#include "metrics/snapshot.h"
#include "app/web.h"
#include "capture/afxdp.h"
#include "capture/dpdk.h"
#ifdef HAVE_AFXDP
#define BACKENDS_XDP ",afxdp"
#else
#define BACKENDS_XDP ""
#endif
#ifdef HAVE_DPDK
#define BACKENDS_DPDK ",dpdk"
#else
#define BACKENDS_DPDK ""
#endif
#define BACKENDS "pcap,afpacket" BACKENDS_XDP BACKENDS_DPDK
#include "app/pool.h"
#include "analyze/worker.h"

#ifndef SPANWATCH_VERSION
#define SPANWATCH_VERSION "0.0.0-dev"
#endif

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: spanwatch -i IFACE [--backend pcap|afpacket|afxdp|dpdk] [-w N] [-c FILE]\n"
    "                          [--web.listen-address ADDR] [--web.config.file FILE]\n"
    "                          [-f 'BPF filter']\n"
    "       spanwatch -r FILE.pcap [-c FILE] [-f 'BPF filter'] [--metrics-out FILE]\n"
    "                          [--alerts-out FILE] [--web.listen-address ADDR]\n"
    "       spanwatch --check-config FILE\n"
    "       spanwatch --version | --help\n";

static const char help_text[] =
    "\n"
    "Passive DNS/TCP/HTTP monitor for a SPAN port, TAP or capture file.\n"
    "\n"
    "Input (one of):\n"
    "  -r, --read FILE            replay a pcap or pcapng file as fast as possible;\n"
    "                             all timing follows packet timestamps\n"
    "  -i, --interface IFACE      capture live from IFACE\n"
    "\n"
    "Capture:\n"
    "      --backend NAME         live capture back end: pcap (default, libpcap),\n"
    "                             afpacket (TPACKET_V3 fanout), afxdp (XDP +\n"
    "                             AF_XDP, one worker per RX queue), dpdk (EAL\n"
    "                             ports from --dpdk-args; -i not needed)\n"
    "  -w, --workers N            worker threads; with N > 1 a dispatcher hashes\n"
    "                             flows to N workers over lock-free rings (default:\n"
    "                             the CPUs available for -i, 1 for -r)\n"
    "  -f, --filter EXPR          BPF capture filter, tcpdump syntax\n"
    "      --buffer-size MIB      pcap: kernel buffer; afpacket: ring per worker\n"
    "                             (default 64)\n"
    "      --xdp-mode MODE        afxdp: native, skb or auto (native, else skb)\n"
    "      --dpdk-args 'ARGS'     dpdk: EAL arguments, e.g. '--no-huge --no-pci -m 512\n"
    "                             --vdev=net_af_packet0,iface=eth1' (one RX queue\n"
    "                             per worker on the first port)\n"
    "\n"
    "Configuration and output:\n"
    "  -c, --config FILE          YAML configuration (default: built-in limits)\n"
    "      --check-config FILE    validate FILE and exit (0 valid, 2 invalid)\n"
    "      --metrics-out FILE     write the final Prometheus exposition to FILE\n"
    "                             when the run ends ('-' = stdout)\n"
    "      --alerts-out FILE      write alert transitions as JSON lines to FILE\n"
    "  -q, --quiet                no progress line and no end-of-run summary\n"
    "\n"
    "HTTP endpoint (/metrics, /-/healthy, /-/ready, POST /-/reload):\n"
    "      --web.listen-address A [HOST]:PORT to serve on (default :9560, all\n"
    "                             addresses); with -r only when given; 'none'\n"
    "                             disables it\n"
    "      --web.config.file FILE TLS certificate/key and basic-auth users\n"
    "                             (Prometheus exporter-toolkit format)\n"
    "      --linger               with -r: keep serving the final metrics after\n"
    "                             the replay, until SIGINT/SIGTERM\n"
    "\n"
    "Privileges:\n"
    "      --user NAME            after opening capture, the endpoint and output\n"
    "                             files, run as NAME with no capabilities (live\n"
    "                             capture started as root: default nobody, except\n"
    "                             dpdk; afxdp keeps CAP_NET_ADMIN; 'root' = stay)\n"
    "\n"
    "  -V, --version              print version and compiled-in back ends, exit\n"
    "  -h, --help                 this text\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure, 2 bad usage or invalid config.\n"
    "See spanwatch(1) and README.md for the configuration format and metrics.\n";

enum long_only {
    OPT_BACKEND = 256,
    OPT_METRICS_OUT,
    OPT_ALERTS_OUT,
    OPT_LISTEN,
    OPT_CHECK_CONFIG,
    OPT_WEB_CONFIG,
    OPT_LINGER,
    OPT_USER,
    OPT_XDP_MODE,
    OPT_DPDK_ARGS,
    OPT_BUFFER_SIZE,
};

struct options {
    const char *read_file;
    const char *iface;
    const char *config;
    const char *filter;
    const char *backend;
    const char *metrics_out;
    const char *alerts_out;
    const char *listen;
    int listen_given;
    const char *web_config;
    int linger;
    const char *user;
    const char *xdp_mode;
    const char *dpdk_args;
    const char *check_config;
    unsigned workers;
    int workers_given;        /* -w was on the command line (else a default) */
    unsigned buffer_mb;
    int quiet;
};

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stop_requested = 1;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("spanwatch: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n", stderr);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "read", required_argument, NULL, 'r' },
        { "interface", required_argument, NULL, 'i' },
        { "config", required_argument, NULL, 'c' },
        { "filter", required_argument, NULL, 'f' },
        { "workers", required_argument, NULL, 'w' },
        { "quiet", no_argument, NULL, 'q' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { "backend", required_argument, NULL, OPT_BACKEND },
        { "metrics-out", required_argument, NULL, OPT_METRICS_OUT },
        { "alerts-out", required_argument, NULL, OPT_ALERTS_OUT },
        { "web.listen-address", required_argument, NULL, OPT_LISTEN },
        { "check-config", required_argument, NULL, OPT_CHECK_CONFIG },
        { "web.config.file", required_argument, NULL, OPT_WEB_CONFIG },
        { "linger", no_argument, NULL, OPT_LINGER },
        { "user", required_argument, NULL, OPT_USER },
        { "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
        { "dpdk-args", required_argument, NULL, OPT_DPDK_ARGS },
        { "buffer-size", required_argument, NULL, OPT_BUFFER_SIZE },
        { NULL, 0, NULL, 0 },
    };
    int c;
    char *end;

    memset(o, 0, sizeof *o);
    o->backend = "pcap";
    o->buffer_mb = 64;
    o->listen = ":9560";
    o->workers = 0; /* auto: the CPUs we may run on for live capture, 1 for a replay */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:i:c:f:w:qVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': o->read_file = optarg; break;
        case 'i': o->iface = optarg; break;
        case 'c': o->config = optarg; break;
        case 'f': o->filter = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'w': {
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (*end || errno || n < 1 || n > METRICS_MAX_WORKERS || optarg[0] == '-')
                return usage_error("-w: expected a worker count from 1 to 256, got '%s'", optarg);
            o->workers = (unsigned)n;
            o->workers_given = 1;
            break;
        }
        case 'V':
            printf("spanwatch %s (backends: %s)\n", SPANWATCH_VERSION, BACKENDS);
            exit(0);
        case 'h':
            fputs(usage_text, stdout);
            fputs(help_text, stdout);
            exit(0);
        case OPT_BACKEND: o->backend = optarg; break;
        case OPT_METRICS_OUT: o->metrics_out = optarg; break;
        case OPT_ALERTS_OUT: o->alerts_out = optarg; break;
        case OPT_LISTEN: o->listen = optarg; o->listen_given = 1; break;
        case OPT_WEB_CONFIG: o->web_config = optarg; break;
        case OPT_LINGER: o->linger = 1; break;
        case OPT_USER: o->user = optarg; break;
        case OPT_DPDK_ARGS: o->dpdk_args = optarg; break;
        case OPT_BUFFER_SIZE: {
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (*end || errno || n < 1 || n > 4096 || optarg[0] == '-')
                return usage_error("--buffer-size: expected MiB from 1 to 4096, got '%s'", optarg);
            o->buffer_mb = (unsigned)n;
            break;
        }
        case OPT_XDP_MODE:
            if (strcmp(optarg, "auto") && strcmp(optarg, "native") && strcmp(optarg, "skb"))
                return usage_error("--xdp-mode: expected auto, native or skb, got '%s'", optarg);
            o->xdp_mode = optarg;
            break;
        case OPT_CHECK_CONFIG: o->check_config = optarg; break;
        case ':':
            return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (o->check_config)
        return 0;
#ifdef HAVE_DPDK
    /* DPDK takes its ports from --dpdk-args (a PCI device or a --vdev) */
    if (!strcmp(o->backend, "dpdk") && !o->iface && !o->read_file)
        o->iface = "dpdk";
#endif
    if (!!o->read_file + !!o->iface != 1)
        return usage_error("%s", "give exactly one of -r FILE or -i IFACE");
    if (!o->workers) {
        cpu_set_t set;
        long n = 1;
        if (o->iface && sched_getaffinity(0, sizeof set, &set) == 0)
            n = CPU_COUNT(&set);
        o->workers = n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
    }
    if (o->linger && (!o->read_file || !o->listen_given || !strcmp(o->listen, "none")))
        return usage_error("%s", "--linger needs -r FILE and --web.listen-address");
    if (strcmp(o->backend, "pcap") != 0) {
        if (strcmp(o->backend, "afpacket") && strcmp(o->backend, "afxdp") &&
            strcmp(o->backend, "dpdk"))
            return usage_error("--backend: unknown back end '%s' (pcap, afpacket, afxdp, dpdk)",
                               o->backend);
        if (!strcmp(o->backend, "afpacket")) {
            if (!o->iface)
                return usage_error("%s", "--backend afpacket captures live: use it with -i IFACE");
            return 0;
        }
#ifdef HAVE_DPDK
        if (!strcmp(o->backend, "dpdk")) {
            if (o->read_file)
                return usage_error("%s", "--backend dpdk: give the ports in --dpdk-args "
                                         "(e.g. --vdev=net_pcap0,rx_pcap=FILE), not -r");
            if (!o->dpdk_args)
                return usage_error("%s", "--backend dpdk needs --dpdk-args 'EAL arguments'");
            return 0;
        }
#endif
#ifdef HAVE_AFXDP
        if (!strcmp(o->backend, "afxdp")) {
            if (!o->iface)
                return usage_error("%s", "--backend afxdp captures live: use it with -i IFACE");
            return 0;
        }
#endif
        fprintf(stderr, "spanwatch: --backend %s is not available in this version; "
                        "use --backend pcap\n", o->backend);
        return EXIT_USAGE;
    }
    return 0;
}

/* Worker side: copy what the exposition shows into s (O(servers)). */
static void worker_snapshot(struct worker_snap *s, struct worker *w, struct source *src)
{
    s->packets = w->packets;
    s->bytes = w->bytes;
    memcpy(s->decode_errors, w->dec.errors, sizeof s->decode_errors);
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

/* State shared between the packet loop and the HTTP thread. */
struct app {
    struct publisher pub;
    pthread_mutex_t scrape_lock;   /* one render at a time (never taken by the worker) */
    pthread_mutex_t reload_lock;
    const char *source_name;
    const char *config_path;
    atomic_int ready;
    atomic_int finished;           /* the packet loop ended: use the last snapshot */
    atomic_int reload_ok;
    _Atomic uint64_t config_hash;
    double last_scrape_s;
    /* alerts: the engine runs in this (the main) thread, between bursts; a
     * reloaded config is handed over through pending_cfg */
    struct config *_Atomic pending_cfg;
    const struct config *running;   /* limits/servers the worker was built with */
    struct config *rules_cfg;       /* rules in force (worker thread) */
    struct alert_engine engine;
    FILE *alerts_out;
    struct am_sender *am;
    int quiet;
    uint64_t transitions[2];        /* resolved, fired */
    struct { char rule[64]; char server[64]; uint64_t at_ns; int firing; } timeline[64];
    unsigned ntimeline;             /* first transitions, for the summary */
    /* the alert state for the exposition, copied after every window close */
    pthread_mutex_t alert_lock;
    struct alert_snapshot alert_snap;
    /* -w N > 1: the workers' publishers, drops seen by the dispatcher */
    struct pool *pool;
    struct afxdp_prog *xdp;         /* --backend afxdp */
    _Atomic uint64_t source_drops;
    _Atomic uint64_t ring_drops;
};

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
    if (a->am)
        am_get_stats(a->am, &am);
    pthread_mutex_lock(&a->alert_lock);
    alert_snapshot_render(out, &a->alert_snap, a->am ? &am : NULL);
    pthread_mutex_unlock(&a->alert_lock);
}

static int web_render(void *ctx, FILE *out)
{
    struct app *a = ctx;
    pthread_mutex_lock(&a->scrape_lock);
    double t0 = mono_now();
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
        fill_view(v, snaps, nw, a->source_name, atomic_load(&a->reload_ok),
                  atomic_load(&a->config_hash), buf);
#ifdef HAVE_AFXDP
        if (a->xdp) {
            /* every frame the program saw is analysed or counted: a frame
             * passed to the kernel (a queue without a socket) is a drop */
            v->xdp = 1;
            afxdp_counters(a->xdp, &v->xdp_redirected, &v->xdp_passed);
            _Static_assert(AFXDP_DROP_COUNT <= sizeof v->xdp_drops / sizeof v->xdp_drops[0],
                           "room for every AF_XDP drop reason");
            uint64_t d[AFXDP_DROP_COUNT] = { [AFXDP_DROP_NO_SOCKET] = v->xdp_passed };
            for (unsigned i = 0; a->pool && i < a->pool->n; i++)
                if (a->pool->slots[i].src)
                    afxdp_socket_drops(a->pool->slots[i].src, d);
            v->nxdp_drops = AFXDP_DROP_COUNT;
            for (unsigned r = 0; r < AFXDP_DROP_COUNT; r++) {
                v->xdp_drop_reason[r] = afxdp_drop_name[r];
                v->xdp_drops[r] = d[r];
            }
            v->source_drops[0] += v->xdp_passed;
        }
#endif
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
    a->last_scrape_s = mono_now() - t0;
    pthread_mutex_unlock(&a->scrape_lock);
    return rc;
}

static int web_ready(void *ctx)
{
    struct app *a = ctx;
    if (atomic_load(&a->finished))
        return -1;
    return atomic_load(&a->ready) ? 1 : 0;
}

/* Reload (SIGHUP or POST /-/reload): all or nothing. A file that fails
 * validation leaves the running config in place and sets
 * spanwatch_config_last_reload_successful to 0. */
static int app_reload(void *ctx, char *msg, size_t msglen)
{
    struct app *a = ctx;
    int rc = 0;
    pthread_mutex_lock(&a->reload_lock);
    if (!a->config_path) {
        snprintf(msg, msglen, "no -c file: nothing to reload");
    } else {
        struct config *c = malloc(sizeof *c);
        if (!c) {
            snprintf(msg, msglen, "out of memory");
            rc = -1;
        } else if (config_load(a->config_path, c, msg, msglen) != 0) {
            atomic_store(&a->reload_ok, 0);
            fprintf(stderr, "spanwatch: reload failed, keeping the running config: %s\n", msg);
            rc = -1;
        } else if (c->hash == atomic_load(&a->config_hash)) {
            atomic_store(&a->reload_ok, 1);
            snprintf(msg, msglen, "unchanged");
        } else {
            /* valid: rules and alertmanager are handed to the worker, which
             * swaps them in between two bursts, keeping the state of every
             * rule that did not change. limits and servers size tables the
             * worker owns: they take effect at the next start. */
            atomic_store(&a->reload_ok, 1);
            atomic_store(&a->config_hash, c->hash);
            if (!config_same_capture(c, a->running))
                snprintf(msg, msglen, "%s: %u rules applied; changes to limits or servers "
                                      "take effect at the next restart", a->config_path, c->n_rules);
            else
                snprintf(msg, msglen, "%s: %u rules applied", a->config_path, c->n_rules);
            fprintf(stderr, "spanwatch: reload: %s\n", msg);
            c = atomic_exchange(&a->pending_cfg, c); /* an older one not yet taken */
        }
        free(c);
    }
    pthread_mutex_unlock(&a->reload_lock);
    return rc;
}

/* An alert transition (worker thread, at a window end): JSON line to
 * --alerts-out, a line in the log, and Alertmanager. */
static void on_alert(void *ctx, const struct alert_transition *t)
{
    struct app *a = ctx;
    char json[4096];
    double thr = alerts_transition_threshold(t);
    a->transitions[t->firing ? 1 : 0]++;
    if (a->ntimeline < sizeof a->timeline / sizeof a->timeline[0]) {
        snprintf(a->timeline[a->ntimeline].rule, sizeof a->timeline[0].rule, "%s", t->rule->name);
        snprintf(a->timeline[a->ntimeline].server, sizeof a->timeline[0].server, "%s", t->server);
        a->timeline[a->ntimeline].at_ns = t->win_end_ns;
        a->timeline[a->ntimeline++].firing = t->firing;
    }
    alerts_format_json(json, sizeof json, t);
    if (a->alerts_out) {
        fprintf(a->alerts_out, "%s\n", json);
        fflush(a->alerts_out);
    }
    if (a->am) {
        struct am_msg m;
        char ws[40], we[40];
        memset(&m, 0, sizeof m);
        snprintf(m.rule, sizeof m.rule, "%s", t->rule->name);
        snprintf(m.server, sizeof m.server, "%s", t->server);
        snprintf(m.severity, sizeof m.severity, "%s", t->rule->severity);
        alerts_format_time(ws, sizeof ws, t->win_start_ns);
        alerts_format_time(we, sizeof we, t->win_end_ns);
        if (t->rule->summary[0])
            snprintf(m.summary, sizeof m.summary, "%s", t->rule->summary);
        else
            snprintf(m.summary, sizeof m.summary, "%s %s %s %g in %u of the last %u windows",
                     t->server, rule_expr_name[t->rule->expr], rule_op_name[t->rule->op], thr,
                     t->rule->bad_windows, t->rule->of_last);
        snprintf(m.description, sizeof m.description,
                 "%s=%.4g (%s %g) in the window %s .. %s (%llu events); %u of the last %u "
                 "windows bad; fault domain: %s%s",
                 rule_expr_name[t->rule->expr], t->value, rule_op_name[t->rule->op], thr, ws, we,
                 (unsigned long long)t->events, t->nbad, (unsigned)strlen(t->pattern),
                 t->fault_domain,
                 t->removed ? "; rule removed or changed by a reload" : "");
        snprintf(m.pattern, sizeof m.pattern, "%s", t->pattern);
        snprintf(m.fault_domain, sizeof m.fault_domain, "%s",
                 t->fault_domain);
        fault_evidence_format(m.fault_evidence, sizeof m.fault_evidence, t->fault_evidence);
        m.firing = t->firing;
        m.at_ns = clock_wall_ns();
        am_enqueue(a->am, &m);
    }
    if (!a->quiet) {
        char ws[40], we[40];
        alerts_format_time(ws, sizeof ws, t->win_start_ns);
        alerts_format_time(we, sizeof we, t->win_end_ns);
        fprintf(stderr, "spanwatch: alert %s: %s server=%s %s=%.4g (%s %.4g) window %s .. %s%s "
                        "pattern %s (%u of %u bad) fault_domain=%s\n",
                t->firing ? "FIRING" : "RESOLVED", t->rule->name, t->server,
                rule_expr_name[t->rule->expr], t->value, rule_op_name[t->rule->op], thr, ws, we,
                t->partial ? " (partial)" : "", t->pattern, t->nbad, (unsigned)strlen(t->pattern),
                t->fault_domain);
    }
}

/* Worker thread, between bursts: take a reloaded config's rules. */
static void publish_alert_snap(struct app *a, const struct server_registry *merged);

/* Take a reloaded config's rules; reg: the registry the engine runs on. */
static void apply_pending_rules(struct app *a, struct server_registry *reg, uint64_t now_ns)
{
    struct config *c = atomic_exchange(&a->pending_cfg, NULL);
    if (!c)
        return;
    struct alert_engine fresh;
    if (alerts_init(&fresh, c, on_alert, a) != 0) {
        fprintf(stderr, "spanwatch: reload: out of memory for the rules; keeping the old ones\n");
        free(c);
        return;
    }
    alerts_carry_over(&fresh, &a->engine);
    alerts_resolve_removed(&a->engine, &fresh, reg, now_ns);
    alerts_free(&a->engine);
    free(a->rules_cfg);
    a->engine = fresh;
    a->rules_cfg = c;
    publish_alert_snap(a, reg);
}

static void episode_line(const char *server, uint8_t domain, uint64_t from_ns, const char *to,
                         uint32_t windows, unsigned evidence)
{
    char from[40], ev[200];
    alerts_format_time(from, sizeof from, from_ns);
    fprintf(stderr, "spanwatch:   %-28s %-8s from %s to %s (%u window%s; %s)\n", server,
            fault_domain_name[domain], from, to, windows, windows == 1 ? "" : "s",
            fault_evidence_format(ev, sizeof ev, evidence));
}

/* The fault-domain runs of a replay (or live run): "backend from .. to .."
 * per server, finished runs first, then those still open at the end. */
static void fault_domain_summary(const struct app *a, const struct server_registry *reg)
{
    const struct alert_engine *e = &a->engine;
    if (!e->started)
        return;
    uint64_t judged = 0;
    for (int d = 0; d < FD_COUNT; d++)
        judged += e->fd_windows[d];
    if (!judged)
        return;
    unsigned open = 0;
    for (uint32_t s = 0; s + 1 < e->nslots; s++)
        open += e->fd[s].judged && e->fd[s].domain != FD_NONE;
    fprintf(stderr, "spanwatch: fault domains (windows of %gs): %" PRIu64 " server-windows "
                    "judged: %" PRIu64 " none, %" PRIu64 " network, %" PRIu64 " backend, %" PRIu64
                    " both; %u episode%s%s\n",
            (double)e->cfg->fd.window_ns / 1e9, judged, e->fd_windows[FD_NONE],
            e->fd_windows[FD_NETWORK], e->fd_windows[FD_BACKEND], e->fd_windows[FD_BOTH],
            e->nepisodes + open, e->nepisodes + open == 1 ? "" : "s",
            e->nepisodes + open ? ":" : "");
    if (e->episodes_dropped)
        fprintf(stderr, "spanwatch:   (%" PRIu64 " older episodes not kept)\n", e->episodes_dropped);
    char to[40];
    for (uint32_t i = 0; i < e->nepisodes; i++) {
        const struct fd_episode *p = &e->episodes[i];
        alerts_format_time(to, sizeof to, p->end_ns);
        episode_line(reg->s[p->slot].label, p->domain, p->start_ns, to, p->windows, p->evidence);
    }
    for (uint32_t s = 0; s + 1 < e->nslots; s++) {
        const struct fd_slot *f = &e->fd[s];
        if (f->judged && f->domain != FD_NONE)
            episode_line(reg->s[s].label, f->domain, f->since_ns, "the end", f->run,
                         f->run_evidence);
    }
}

static void alert_summary(const struct app *a, const struct server_registry *reg)
{
    const struct alert_engine *e = &a->engine;
    if (!e->nrules)
        return;
    unsigned firing = 0;
    for (unsigned r = 0; r < e->nrules; r++)
        for (uint32_t s = 0; s < e->nslots; s++)
            firing += e->inst[(size_t)r * e->nslots + s].state == ALERT_FIRING;
    fprintf(stderr, "spanwatch: alerts: %u rules; %" PRIu64 " fired, %" PRIu64
                    " resolved, %u firing at the end\n",
            e->nrules, a->transitions[1], a->transitions[0], firing);
    fprintf(stderr, "spanwatch:   %-24s %-28s %8s %6s %7s %6s  %s\n", "rule", "expr", "windows",
            "bad", "sparse", "fired", "transitions (window end)");
    for (unsigned r = 0; r < e->nrules; r++) {
        const struct rule *ru = &e->cfg->rules[r];
        char when[512] = "";
        size_t wl = 0;
        for (unsigned i = 0; i < a->ntimeline && wl + 80 < sizeof when; i++) {
            if (strcmp(a->timeline[i].rule, ru->name))
                continue;
            char ts[40];
            alerts_format_time(ts, sizeof ts, a->timeline[i].at_ns);
            wl += (size_t)snprintf(when + wl, sizeof when - wl, "%s%s %s %s", wl ? ", " : "",
                                   a->timeline[i].firing ? "fired" : "resolved",
                                   a->timeline[i].server, ts + 11);
        }
        fprintf(stderr, "spanwatch:   %-24s %-28s %8" PRIu64 " %6" PRIu64 " %7" PRIu64 " %6" PRIu64
                        "  %s\n",
                ru->name, rule_expr_name[ru->expr], e->windows_total[r], e->bad_total[r],
                e->sparse_total[r], e->fired_total[r], wl ? when : "-");
    }
    for (unsigned r = 0; r < e->nrules; r++)
        for (uint32_t s = 0; s < e->nslots; s++) {
            const struct alert_inst *in = &e->inst[(size_t)r * e->nslots + s];
            if (in->state != ALERT_FIRING)
                continue;
            char since[40];
            alerts_format_time(since, sizeof since, in->fired_at_ns);
            fprintf(stderr, "spanwatch:   firing: %s server=%s since %s (last window %s=%.4g)\n",
                    e->cfg->rules[r].name, reg->s[s].label, since,
                    rule_expr_name[e->cfg->rules[r].expr], in->value);
        }
}

static int web_render(void *ctx, FILE *out);

/* SIGHUP seen by a loop: reload like POST /-/reload does. */
static void take_sighup(struct app *a, int quiet)
{
    char msg[1024];
    reload_requested = 0;
    if (app_reload(a, msg, sizeof msg) == 0 && !quiet)
        fprintf(stderr, "spanwatch: SIGHUP: config %s\n", msg);
}

static int write_metrics(const char *path, FILE *f, struct app *a)
{
    int rc = web_render(a, f);
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

static void progress(struct source *src, uint64_t packets, double t0)
{
    double el = mono_now() - t0;
    uint64_t off = source_pcap_file_offset(src);
    fprintf(stderr, "\r\033[Kspanwatch: %" PRIu64 " packets, %.0f packets/s", packets,
            el > 0 ? (double)packets / el : 0.0);
    if (src->file_size && off)
        fprintf(stderr, ", %.0f%% of file", 100.0 * (double)off / (double)src->file_size);
}

static void server_table(struct server_registry *r);

static void summary(const struct source *src, const struct worker *w, double wall)
{
    uint64_t errs = 0;
    for (int e = 0; e < DERR_COUNT; e++)
        errs += w->dec.errors[e];
    double span = w->packets && w->now_ns > w->first_ns
                      ? (double)(w->now_ns - w->first_ns) / 1e9 : 0.0;
    fprintf(stderr,
            "spanwatch: %s: %" PRIu64 " packets, %" PRIu64 " bytes in %.3f s "
            "(%.0f packets/s); %.3f s of packet time; link type %s\n",
            src->name, w->packets, w->bytes, wall, wall > 0 ? (double)w->packets / wall : 0.0,
            span, src->linktype_name);
    fprintf(stderr, "spanwatch: decode errors: %" PRIu64, errs);
    const char *sep = " (";
    for (int e = 0; e < DERR_COUNT; e++) {
        if (w->dec.errors[e]) {
            fprintf(stderr, "%s%s/%s %" PRIu64, sep, decode_error_layer[e],
                    decode_error_reason[e], w->dec.errors[e]);
            sep = ", ";
        }
    }
    fprintf(stderr, "%s; non-IP frames: %" PRIu64 "\n", errs ? ")" : "", w->not_ip);
    fprintf(stderr,
            "spanwatch: flows: %" PRIu64 " seen, %u active at end, %" PRIu64
            " evicted idle, %" PRIu64 " evicted because the table was full\n",
            w->flows.created, w->flows.count, w->flows.evictions[FLOW_EVICT_IDLE],
            w->flows.evictions[FLOW_EVICT_FULL]);
    server_table((struct server_registry *)&w->servers);
}

static void fmt_latency(char *out, size_t len, uint64_t ns)
{
    if (ns == 0)
        snprintf(out, len, "-");
    else if (ns < 1000000)
        snprintf(out, len, "%.0fus", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(out, len, "%.1fms", (double)ns / 1e6);
    else
        snprintf(out, len, "%.2fs", (double)ns / 1e9);
}

/* End-of-run table: one line per server and protocol with its volume, the
 * error count behind the rule expressions (DNS: SERVFAIL + REFUSED +
 * timeouts; HTTP: 5xx; TCP: handshake failures), p50/p99 latency, and the
 * protocol's other outcomes. Servers sorted by label. */
static int label_cmp(const void *a, const void *b)
{
    const struct server_stats *x = *(const struct server_stats *const *)a;
    const struct server_stats *y = *(const struct server_stats *const *)b;
    return strcmp(x->label, y->label);
}

static void server_table(struct server_registry *r)
{
    uint32_t n = 0;
    const struct server_stats **order = calloc((size_t)r->count + 1, sizeof *order);
    if (!order)
        return;
    for (uint32_t i = 0; i <= r->max; i++) {
        if (i < r->max && i >= r->count)
            continue;
        const struct server_stats *st = &r->s[i];
        if (st->seen_dns || st->seen_tcp || st->seen_http)
            order[n++] = st;
    }
    if (n == 0) {
        free(order);
        return;
    }
    qsort(order, n, sizeof *order, label_cmp);
    fprintf(stderr, "spanwatch: %-28s %-5s %9s %8s %7s %9s %9s  %s\n", "server", "proto",
            "requests", "errors", "error%", "p50", "p99", "details");
    for (uint32_t k = 0; k < n; k++) {
        const struct server_stats *st = order[k];
        uint32_t idx = (uint32_t)(st - r->s);
        char p50[16], p99[16], details[256], extra[16], extra2[16];
        if (st->seen_dns) {
            uint64_t answered = 0;
            for (int c = 0; c < RCODE_COUNT; c++)
                answered += st->dns_responses[c];
            uint64_t err = st->dns_responses[RCODE_SERVFAIL] + st->dns_responses[RCODE_REFUSED] +
                           st->dns_timeouts;
            const struct histogram *h = server_hist(r, idx, HIST_DNS);
            fmt_latency(p50, sizeof p50, hist_quantile(h, 0.5));
            fmt_latency(p99, sizeof p99, hist_quantile(h, 0.99));
            snprintf(details, sizeof details,
                     "answered %" PRIu64 ", NXDOMAIN %" PRIu64 ", SERVFAIL %" PRIu64
                     ", REFUSED %" PRIu64 ", timeouts %" PRIu64 ", unmatched %" PRIu64,
                     answered, st->dns_responses[RCODE_NXDOMAIN],
                     st->dns_responses[RCODE_SERVFAIL], st->dns_responses[RCODE_REFUSED],
                     st->dns_timeouts, st->dns_unmatched);
            fprintf(stderr, "spanwatch: %-28s %-5s %9" PRIu64 " %8" PRIu64 " %6.1f%% %9s %9s  %s\n",
                    st->label, "dns", st->dns_queries, err,
                    st->dns_queries ? 100.0 * (double)err / (double)st->dns_queries : 0.0, p50,
                    p99, details);
        }
        if (st->seen_tcp) {
            uint64_t err = st->tcp_hs_failures[HS_FAIL_RESET] + st->tcp_hs_failures[HS_FAIL_TIMEOUT];
            const struct histogram *h = server_hist(r, idx, HIST_TCP_RTT);
            fmt_latency(p50, sizeof p50, hist_quantile(h, 0.5));
            fmt_latency(p99, sizeof p99, hist_quantile(h, 0.99));
            fmt_latency(extra, sizeof extra,
                        hist_quantile(server_hist(r, idx, HIST_TCP_DATA_RTT), 0.5));
            snprintf(details, sizeof details,
                     "handshake rtt; data rtt p50 %s; refused %" PRIu64 ", timed out %" PRIu64
                     ", resets %" PRIu64 ", retransmits %" PRIu64 ", stream gaps %" PRIu64 " B",
                     extra, st->tcp_hs_failures[HS_FAIL_RESET],
                     st->tcp_hs_failures[HS_FAIL_TIMEOUT], st->tcp_resets, st->tcp_retransmits,
                     st->tcp_stream_gaps);
            fprintf(stderr, "spanwatch: %-28s %-5s %9" PRIu64 " %8" PRIu64 " %6.1f%% %9s %9s  %s\n",
                    st->label, "tcp", st->tcp_connections, err,
                    st->tcp_connections ? 100.0 * (double)err / (double)st->tcp_connections : 0.0,
                    p50, p99, details);
        }
        if (st->seen_http) {
            uint64_t c2 = 0, c3 = 0, c4 = 0, c5 = 0, other = 0;
            for (int c = HTTP_CODE_MIN; c <= HTTP_CODE_MAX; c++) {
                uint64_t v = st->http_codes[c - HTTP_CODE_MIN];
                if (c >= 200 && c < 300) c2 += v;
                else if (c >= 300 && c < 400) c3 += v;
                else if (c >= 400 && c < 500) c4 += v;
                else if (c >= 500) c5 += v;
                else other += v;
            }
            const struct histogram *h = server_hist(r, idx, HIST_HTTP);
            fmt_latency(p50, sizeof p50, hist_quantile(h, 0.5));
            fmt_latency(p99, sizeof p99, hist_quantile(h, 0.99));
            fmt_latency(extra, sizeof extra,
                        hist_quantile(server_hist(r, idx, HIST_HTTP_SERVER_TIME), 0.5));
            const struct histogram *hb = server_hist(r, idx, HIST_HTTP_RESP_BYTES);
            if (hb->count)
                snprintf(extra2, sizeof extra2, "%" PRIu64 " B", hist_quantile(hb, 0.5));
            else
                snprintf(extra2, sizeof extra2, "-");
            snprintf(details, sizeof details,
                     "2xx %" PRIu64 ", 3xx %" PRIu64 ", 4xx %" PRIu64 ", 5xx %" PRIu64
                     ", 1xx %" PRIu64 "; server time p50 %s, response size p50 %s",
                     c2, c3, c4, c5, other, extra, extra2);
            fprintf(stderr, "spanwatch: %-28s %-5s %9" PRIu64 " %8" PRIu64 " %6.1f%% %9s %9s  %s\n",
                    st->label, "http", st->http_requests, c5,
                    st->http_requests ? 100.0 * (double)c5 / (double)st->http_requests : 0.0, p50,
                    p99, details);
        }
    }
    if (r->overflow_samples)
        fprintf(stderr, "spanwatch: %" PRIu64 " samples went to %s (limits.max_servers = %u)\n",
                r->overflow_samples, SERVER_OVERFLOW_LABEL, r->max);
    free(order);
}

static int check_config(const char *path)
{
    struct config cfg;
    char err[1024];
    if (config_load(path, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "spanwatch: %s\n", err);
        return EXIT_USAGE;
    }
    printf("%s: OK (%u servers, %u rules)\n", path, cfg.n_servers, cfg.n_rules);
    return 0;
}

/* --user: everything that needs root is open (capture sockets, the
 * listening socket, output files); become NAME, with no supplementary
 * groups and, as a non-root uid, no capabilities left but those in `keep`
 * (a bit per CAP_*, below 32: the AF_XDP back end keeps CAP_NET_ADMIN to
 * detach its XDP program at exit). */
static int drop_privileges(const char *name, uint32_t keep, int quiet)
{
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        fprintf(stderr, "spanwatch: --user %s: no such user\n", name);
        return -1;
    }
    if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
        keep = 0;
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "spanwatch: --user %s: %s (start as root to switch user)\n", name,
                strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) { /* must be impossible now */
        fprintf(stderr, "spanwatch: --user %s: could regain root; refusing to run\n", name);
        return -1;
    }
    if (pw->pw_uid != 0) {
        /* KEEPCAPS kept the permitted set across setuid: cut it to `keep`
         * (and clear the rest, inheritable included); never more than that */
        struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof d);
        d[0].permitted = d[0].effective = keep;
        if (syscall(SYS_capset, &h, d) != 0) {
            fprintf(stderr, "spanwatch: --user %s: cannot set capabilities: %s\n", name,
                    strerror(errno));
            return -1;
        }
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); /* nothing executed could gain any back */
    if (!quiet)
        fprintf(stderr, "spanwatch: running as %s (uid %u, gid %u), %s\n", name,
                (unsigned)pw->pw_uid, (unsigned)pw->pw_gid,
                pw->pw_uid == 0 ? "as started"
                : keep == (1u << CAP_NET_ADMIN) ? "keeping only CAP_NET_ADMIN (to detach XDP at exit)"
                                                : "no capabilities");
    return 0;
}

/* ---- -w N > 1 ---------------------------------------------------------- */

static void pool_snapshot_hook(struct pool_slot *s)
{
    worker_snapshot(publisher_back(&s->pub), &s->w, s->src);
    publisher_publish(&s->pub);
}

static void publish_alert_snap(struct app *a, const struct server_registry *reg)
{
    pthread_mutex_lock(&a->alert_lock);
    alert_snapshot_fill(&a->alert_snap, &a->engine, reg);
    pthread_mutex_unlock(&a->alert_lock);
}

/* -w 1: a window ends before the packet whose clock reaches it. */
static void inline_window(struct app *a, struct worker *w, uint64_t now_ns)
{
    worker_timers(w, now_ns);
    alerts_advance(&a->engine, &w->servers, now_ns);
    w->closed_ns = alerts_open_since(&a->engine);
    publish_alert_snap(a, &w->servers);
}

/* -w 1: a burst, cut at every alert-window end on the way. */
static void inline_burst(struct app *a, struct worker *w, const struct sw_packet *pk, unsigned n)
{
    unsigned from = 0;
    uint64_t clock = w->clock_ns;
    for (unsigned i = 0; i < n; i++) {
        if (pk[i].ts_ns > clock)
            clock = pk[i].ts_ns;
        if (!a->engine.started)
            alerts_start(&a->engine, clock);
        if (alerts_due(&a->engine, clock)) {
            worker_handle_burst(w, pk + from, i - from);
            from = i;
            inline_window(a, w, clock);
        }
    }
    worker_handle_burst(w, pk + from, n - from);
}

static void merge_workers(struct app *a, struct server_registry *merged)
{
    server_registry_clear(merged);
    for (unsigned i = 0; i < a->pool->n; i++)
        server_registry_add(merged, &a->pool->slots[i].w.servers);
}

/* A window ends: park the workers at the boundary, merge, evaluate. */
static void pool_window(struct app *a, struct server_registry *merged, uint64_t now_ns)
{
    pool_barrier_enter(a->pool, a->engine.next_close_ns);
    merge_workers(a, merged);
    alerts_advance(&a->engine, merged, now_ns);
    pool_barrier_leave(a->pool, alerts_open_since(&a->engine));
    publish_alert_snap(a, merged);
}

/* Dispatch a burst, stopping at every alert-window end on the way. */
static void pool_dispatch_windows(struct app *a, struct server_registry *merged, int linktype,
                                  const struct sw_packet *pk, unsigned n)
{
    struct pool *p = a->pool;
    unsigned from = 0;
    uint64_t clock = p->now_ns;
    for (unsigned i = 0; i < n; i++) {
        if (pk[i].ts_ns > clock)
            clock = pk[i].ts_ns;
        if (!a->engine.started)
            alerts_start(&a->engine, clock);
        if (alerts_due(&a->engine, clock)) {
            pool_dispatch(p, linktype, pk + from, i - from);
            from = i;
            pool_window(a, merged, clock);
        }
    }
    pool_dispatch(p, linktype, pk + from, n - from);
}

/* End of input: drain, let every worker's clock reach the last packet time,
 * final housekeeping, final snapshots, last windows; totals into agg. */
static void pool_finish(struct app *a, struct server_registry *merged, int replay,
                        struct worker *agg)
{
    struct pool *p = a->pool;
    pool_stop(p);
    memset(agg, 0, sizeof *agg);
    for (unsigned i = 0; i < p->n; i++) /* workers with own sources: no dispatcher clock */
        if (p->slots[i].w.now_ns > p->now_ns)
            p->now_ns = p->slots[i].w.now_ns;
    for (unsigned i = 0; i < p->n; i++) {
        struct worker *w = &p->slots[i].w;
        worker_tick(w, p->now_ns);
        worker_finish(w);
        agg->packets += w->packets;
        agg->bytes += w->bytes;
        agg->not_ip += w->not_ip;
        for (int e = 0; e < DERR_COUNT; e++)
            agg->dec.errors[e] += w->dec.errors[e];
        agg->flows.created += w->flows.created;
        agg->flows.count += w->flows.count;
        for (int r = 0; r < FLOW_EVICT_COUNT; r++)
            agg->flows.evictions[r] += w->flows.evictions[r];
        if (w->packets && (!agg->first_ns || w->first_ns < agg->first_ns))
            agg->first_ns = w->first_ns;
        if (w->now_ns > agg->now_ns)
            agg->now_ns = w->now_ns;
        worker_snapshot(publisher_back(&p->slots[i].pub), w, p->slots[i].src);
        publisher_publish(&p->slots[i].pub);
    }
    merge_workers(a, merged);
    if (replay)
        alerts_finish(&a->engine, merged, p->now_ns);
    publish_alert_snap(a, merged);
    agg->servers = *merged; /* a shallow copy, read by the summary */
}

int main(int argc, char **argv)
{
    struct options o;
    static struct config cfg;
    char err[1024];
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc;
    if (o.check_config)
        return check_config(o.check_config);

    if (o.config) {
        if (config_load(o.config, &cfg, err, sizeof err) != 0) {
            fprintf(stderr, "spanwatch: %s\n", err);
            return EXIT_USAGE;
        }
    } else {
        config_defaults(&cfg);
    }

    /* the endpoint: always for live capture, for -r only when asked */
    int serve = strcmp(o.listen, "none") != 0 && (o.iface || o.listen_given);
    static struct web_config wc;
    if (o.web_config) {
        if (web_config_load(o.web_config, &wc, err, sizeof err) != 0) {
            fprintf(stderr, "spanwatch: --web.config.file %s\n", err);
            return EXIT_USAGE;
        }
    }

    static struct app app;
    /* AF_PACKET: one fanout socket per worker, opened here (as root);
     * AF_XDP: our XDP program, then one socket per RX queue and worker */
    int afxdp = !strcmp(o.backend, "afxdp");
    int dpdk = !strcmp(o.backend, "dpdk");
    /* back ends whose workers read their own sockets/queues (no dispatcher) */
    int own_sources = !strcmp(o.backend, "afpacket") || afxdp || dpdk;
    /* live capture started as root runs as nobody once capture is open,
     * unless --user says otherwise (--user root: stay root). Not for DPDK,
     * whose EAL keeps using root-only resources (hugepages, /var/run/dpdk)
     * after start-up, and not for replays, which need no privilege. */
    if (!o.user && o.iface && !dpdk && geteuid() == 0) {
        if (getpwnam("nobody"))
            o.user = "nobody";
        else if (!o.quiet)
            fprintf(stderr, "spanwatch: warning: no user 'nobody': staying root (use --user)\n");
    }
    /* before the capture is opened: a SIGTERM during set-up (DPDK's EAL, the
     * allocation of large tables) then ends the run cleanly instead of
     * killing it without final metrics */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct source *own_src[METRICS_MAX_WORKERS] = { 0 };
#ifdef HAVE_AFXDP
    if (afxdp) {
        /* every RX queue gets a socket and a worker: the program passes a
         * queue without a socket to the kernel, and its frames would never
         * be analysed (nor counted as drops) */
        unsigned nq = afxdp_rx_queues(o.iface);
        if (nq && nq != o.workers) {
            if (o.workers_given) {
                fprintf(stderr, "spanwatch: %s has %u RX queue%s; --backend afxdp reads each "
                                "with its own worker: use -w %u, or change the queues to the "
                                "workers (ethtool -L %s combined %u)\n",
                        o.iface, nq, nq == 1 ? "" : "s", nq, o.iface, o.workers);
                return EXIT_USAGE;
            }
            o.workers = nq > METRICS_MAX_WORKERS ? METRICS_MAX_WORKERS : nq;
        }
        app.xdp = afxdp_attach(o.iface, o.xdp_mode, err, sizeof err);
        if (!app.xdp) {
            fprintf(stderr, "spanwatch: %s\n", err);
            return EXIT_RUNTIME;
        }
        for (unsigned i = 0; i < o.workers; i++) {
            own_src[i] = afxdp_open_queue(app.xdp, o.iface, i, err, sizeof err);
            if (!own_src[i]) {
                fprintf(stderr, "spanwatch: %s\n", err);
                for (unsigned j = 0; j < i; j++)
                    source_close(own_src[j]);
                afxdp_detach(app.xdp);
                return EXIT_RUNTIME;
            }
        }
        afxdp_report_iface_drops(own_src[0]);
        if (!o.quiet)
            fprintf(stderr, "spanwatch: %s: XDP program attached in %s mode, %u AF_XDP socket%s "
                            "(RX queues 0-%u)\n", o.iface,
                    afxdp_native(app.xdp) ? "native" : "skb", o.workers,
                    o.workers == 1 ? "" : "s", o.workers - 1);
    }
#endif
#ifdef HAVE_DPDK
    if (dpdk) {
        if (dpdk_setup(o.dpdk_args, o.workers, err, sizeof err) != 0) {
            fprintf(stderr, "spanwatch: %s\n", err);
            return EXIT_RUNTIME;
        }
        for (unsigned i = 0; i < o.workers; i++)
            if (!(own_src[i] = dpdk_open_worker(i, o.workers, err, sizeof err))) {
                fprintf(stderr, "spanwatch: %s\n", err);
                return EXIT_RUNTIME;
            }
        if (!o.quiet)
            fprintf(stderr, "spanwatch: DPDK port %s started with %u RX queue%s on %u worker%s\n",
                    dpdk_port_name(), dpdk_queue_count(), dpdk_queue_count() == 1 ? "" : "s",
                    o.workers, o.workers == 1 ? "" : "s");
    }
#endif
    if (own_sources && !afxdp && !dpdk) { /* AF_PACKET */
        int group = -1; /* a new fanout group; its id comes back from the first socket */
        for (unsigned i = 0; i < o.workers; i++) {
            own_src[i] = source_afpacket_open(o.iface, o.filter, &group, o.buffer_mb, err, sizeof err);
            if (!own_src[i]) {
                fprintf(stderr, "spanwatch: %s\n", err);
                for (unsigned j = 0; j < i; j++)
                    source_close(own_src[j]);
                return EXIT_RUNTIME;
            }
        }
        source_afpacket_report_iface_drops(own_src[0]);
    }
    struct source *src = own_sources   ? own_src[0]
                         : o.read_file ? source_pcap_open_file(o.read_file, o.filter, err, sizeof err)
                                       : source_pcap_open_live(o.iface, o.filter, (int)o.buffer_mb, err,
                                                               sizeof err);
    if (!src) {
        fprintf(stderr, "spanwatch: %s\n", err);
        return EXIT_RUNTIME;
    }
    if (!l2_linktype_supported(src->linktype))
        fprintf(stderr, "spanwatch: %s: link type %d (%s) is not supported; its packets are "
                        "counted in spanwatch_decode_errors_total{layer=\"link\","
                        "reason=\"unsupported_linktype\"} and skipped\n",
                src->name, src->linktype, src->linktype_name);

    FILE *alerts = NULL;
    if (o.alerts_out) {
        alerts = strcmp(o.alerts_out, "-") == 0 ? stdout : fopen(o.alerts_out, "w");
        if (!alerts) {
            fprintf(stderr, "spanwatch: --alerts-out %s: %s\n", o.alerts_out, strerror(errno));
            source_close(src);
            return EXIT_RUNTIME;
        }
    }

    static struct worker w;
    static struct pool pool;
    static struct server_registry merged; /* -w > 1: the workers' servers by label */
    if (o.workers > 1 || own_sources) {
        if (pool_init(&pool, o.workers, &cfg, src->linktype, o.read_file != NULL,
                      o.iface != NULL) != 0 ||
            server_registry_init(&merged, &cfg) != 0) {
            fprintf(stderr, "spanwatch: cannot allocate %u workers (limits.max_flows=%u each)\n",
                    o.workers, cfg.max_flows);
            source_close(src);
            return EXIT_RUNTIME;
        }
        app.pool = &pool;
        pool.snapshot = pool_snapshot_hook;
        if (own_sources)
            for (unsigned i = 0; i < o.workers; i++)
                pool_set_source(&pool, i, own_src[i]);
    } else if (worker_init(&w, 0, &cfg, src->linktype) != 0) {
        fprintf(stderr, "spanwatch: cannot allocate flow table for limits.max_flows=%u\n",
                cfg.max_flows);
        source_close(src);
        return EXIT_RUNTIME;
    }

    if (publisher_init(&app.pub, cfg.max_servers) != 0 ||
        alert_snapshot_init(&app.alert_snap, cfg.max_servers) != 0) {
        fprintf(stderr, "spanwatch: cannot allocate metric snapshots for limits.max_servers=%u\n",
                cfg.max_servers);
        source_close(src);
        return EXIT_RUNTIME;
    }
    pthread_mutex_init(&app.scrape_lock, NULL);
    pthread_mutex_init(&app.reload_lock, NULL);
    pthread_mutex_init(&app.alert_lock, NULL);
    app.source_name = src->name;
    app.config_path = o.config;
    atomic_store(&app.reload_ok, 1);
    atomic_store(&app.config_hash, cfg.hash);
    app.running = &cfg;
    app.alerts_out = alerts;
    app.quiet = o.quiet;
    app.rules_cfg = malloc(sizeof *app.rules_cfg);
    if (!app.rules_cfg || (*app.rules_cfg = cfg, alerts_init(&app.engine, app.rules_cfg, on_alert,
                                                             &app)) != 0) {
        fprintf(stderr, "spanwatch: cannot allocate the alert engine\n");
        source_close(src);
        return EXIT_RUNTIME;
    }
    if (cfg.am_url[0]) {
        char host[128] = "";
        gethostname(host, sizeof host - 1);
        app.am = am_start(cfg.am_url, cfg.am_resend_ns, cfg.am_timeout_ns, host, err, sizeof err);
        if (!app.am) {
            fprintf(stderr, "spanwatch: %s\n", err);
            source_close(src);
            return EXIT_RUNTIME;
        }
    }
    /* live: windows start now; a replay aligns them to its first packet */
    if (o.iface)
        alerts_start(&app.engine, clock_wall_ns());

    struct web *web = NULL;
    if (serve) {
        struct web_handlers h = { web_render, app_reload, web_ready, &app };
        web = web_start(o.listen, &wc, NULL, &h, err, sizeof err);
        if (!web) {
            fprintf(stderr, "spanwatch: %s\n", err);
            worker_free(&w);
            source_close(src);
            return EXIT_RUNTIME;
        }
        if (!o.quiet)
            fprintf(stderr, "spanwatch: serving /metrics on %s%s%s\n", o.listen,
                    wc.cert_pem ? " (TLS)" : "", wc.nusers ? " (basic auth)" : "");
    }

    /* --metrics-out is opened now (it is written at the end), so that it
     * can still be written after --user has taken root away */
    FILE *metrics_out = NULL;
    if (o.metrics_out) {
        metrics_out = strcmp(o.metrics_out, "-") == 0 ? stdout : fopen(o.metrics_out, "w");
        if (!metrics_out) {
            fprintf(stderr, "spanwatch: --metrics-out %s: %s\n", o.metrics_out, strerror(errno));
            return EXIT_RUNTIME;
        }
    }
    if (o.user && drop_privileges(o.user, afxdp && strcmp(o.user, "root") ? 1u << CAP_NET_ADMIN : 0,
                                  o.quiet) != 0)
        return EXIT_RUNTIME;

    int show_progress = !o.quiet && isatty(STDERR_FILENO);
    double t0 = mono_now(), last_progress = t0;
    unsigned bursts = 0;
    struct sw_packet burst[SOURCE_BURST_MAX];
    rc = 0;
    uint64_t dispatched = 0;
    if (app.pool && pool_start(&pool) != 0) {
        fprintf(stderr, "spanwatch: cannot start the worker threads\n");
        return EXIT_RUNTIME;
    }
    atomic_store(&app.ready, 1);
    if (o.iface && !o.quiet)
        fprintf(stderr, "spanwatch: capturing on %s (%s back end, %u worker%s)\n", app.source_name,
                o.backend, o.workers, o.workers == 1 ? "" : "s");
    while (app.pool && pool.sourced && !stop_requested) {
        /* the workers read their own sockets; this thread closes alert
         * windows by the clock, takes reloads and watches for errors */
        struct timespec nap = { 0, 10000000 };
        nanosleep(&nap, NULL);
        if (atomic_load(&pool.failed)) {
            fprintf(stderr, "spanwatch: capture failed: %s\n", pool.error);
            rc = EXIT_RUNTIME;
            break;
        }
        uint64_t now = clock_live_ns();
        if (alerts_due(&app.engine, now))
            pool_window(&app, &merged, now);
        if (atomic_load_explicit(&app.pending_cfg, memory_order_relaxed)) {
            apply_pending_rules(&app, &merged, now);
        }
        if (reload_requested)
            take_sighup(&app, o.quiet);
    }
    struct source_drain drain;
    int draining = 0;
    while (!(app.pool && pool.sourced)) {
        if (stop_requested && !draining) {
            if (!o.iface)
                break;
            /* live: what the kernel already holds is analysed first */
            source_drain_begin(&drain, clock_wall_ns(), clock_mono_ns());
            draining = 1;
        }
        int n = source_next_burst(src, burst, SOURCE_BURST_MAX);
        int last = draining && source_drain_done(&drain, burst, n, clock_mono_ns());
        if (last && n <= 0)
            break;
        if (n == SOURCE_EOF)
            break;
        if (n == SOURCE_ERROR) {
            /* keep what was read: a capture cut short is still evidence */
            fprintf(stderr, "%sspanwatch: warning: %s; metrics cover the packets before it\n",
                    show_progress ? "\n" : "", src->error);
            break;
        }
        if (app.pool) {
            if (n > 0) {
                pool_dispatch_windows(&app, &merged, src->linktype, burst, (unsigned)n);
                dispatched += (unsigned)n;
            } else if (o.iface && alerts_due(&app.engine, clock_live_ns())) {
                pool_window(&app, &merged, clock_live_ns());
            }
            if (atomic_load_explicit(&app.pending_cfg, memory_order_relaxed)) {
                apply_pending_rules(&app, &merged, pool.now_ns);
            }
            if ((++bursts & 63) == 0 || n <= 0) {
                struct source_stats st;
                source_stats(src, &st);
                atomic_store(&app.source_drops, st.kernel_drops + st.iface_drops);
                atomic_store(&app.ring_drops, pool.ring_drops);
            }
        } else if (n > 0) {
            inline_burst(&app, &w, burst, (unsigned)n);
        } else if (o.iface) {
            uint64_t now = clock_live_ns();
            worker_tick(&w, now);
            if (alerts_due(&app.engine, now))
                inline_window(&app, &w, now);
        }
        if (!app.pool && atomic_load_explicit(&app.pending_cfg, memory_order_relaxed))
            apply_pending_rules(&app, &w.servers, w.now_ns);
        if (!app.pool && publisher_wanted(&app.pub)) {
            worker_snapshot(publisher_back(&app.pub), &w, src);
            publisher_publish(&app.pub);
        }
        if (reload_requested)
            take_sighup(&app, o.quiet);
        if (show_progress && (++bursts & 255) == 0) {
            double now = mono_now();
            if (now - last_progress >= 0.5) {
                progress(src, app.pool ? dispatched : w.packets, t0);
                last_progress = now;
            }
        }
        if (last)
            break;
    }
    static struct worker agg; /* -w > 1: totals for the summary */
    if (app.pool) {
        pool_finish(&app, &merged, o.read_file != NULL, &agg);
        struct source_stats st;
        if (!pool.sourced) { /* else each worker reported its own socket's drops */
            source_stats(src, &st);
            atomic_store(&app.source_drops, st.kernel_drops + st.iface_drops);
        }
        atomic_store(&app.ring_drops, pool.ring_drops);
    } else {
        worker_finish(&w);
        if (o.read_file)
            alerts_finish(&app.engine, &w.servers, w.now_ns);
        publish_alert_snap(&app, &w.servers);
    }
    double wall = mono_now() - t0;
    if (show_progress && bursts >= 256)
        fputs("\r\033[K", stderr);

    /* final numbers: one last snapshot, for the endpoint and --metrics-out */
    if (!app.pool) {
        worker_snapshot(publisher_back(&app.pub), &w, src);
        publisher_publish(&app.pub);
    }
    atomic_store(&app.finished, 1);
    if (metrics_out && write_metrics(o.metrics_out, metrics_out, &app) != 0)
        rc = EXIT_RUNTIME;
    if (!o.quiet) {
        summary(src, app.pool ? &agg : &w, wall);
        alert_summary(&app, app.pool ? &merged : &w.servers);
        fault_domain_summary(&app, app.pool ? &merged : &w.servers);
    }
    if (web && o.linger && o.read_file) {
        if (!o.quiet)
            fprintf(stderr, "spanwatch: replay done; serving the final metrics on %s until "
                            "SIGINT/SIGTERM (--linger)\n", o.listen);
        struct timespec nap = { 0, 100000000 };
        while (!stop_requested) {
            nanosleep(&nap, NULL);
            if (reload_requested)
                take_sighup(&app, o.quiet);
            if (atomic_load(&app.pending_cfg)) {
                /* reloaded rules over the final counters: resolve removed
                 * rules' alerts, then show the new state */
                if (app.pool) {
                    apply_pending_rules(&app, &merged, pool.now_ns);
                } else {
                    apply_pending_rules(&app, &w.servers, w.now_ns);
                    pthread_mutex_lock(&app.scrape_lock);
                    worker_snapshot(publisher_back(&app.pub), &w, src);
                    publisher_publish(&app.pub);
                    pthread_mutex_unlock(&app.scrape_lock);
                }
            }
        }
    }
    web_stop(web);
    am_stop(app.am, 3000); /* a last try to deliver what is pending */
    web_config_free(&wc);
    if (alerts && alerts != stdout)
        fclose(alerts);
    publisher_free(&app.pub);
    if (app.pool) {
        pool_free(&pool);
#ifdef HAVE_AFXDP
        if (app.xdp)
            afxdp_detach(app.xdp); /* after its sockets are closed */
#endif
#ifdef HAVE_DPDK
        if (dpdk)
            dpdk_teardown();
#endif
        server_registry_free(&merged);
    }
    alert_snapshot_free(&app.alert_snap);
    alerts_free(&app.engine);
    free(app.rules_cfg);
    free(atomic_exchange(&app.pending_cfg, NULL));
    worker_free(&w);
    if (!own_sources)
        source_close(src); /* else closed with the pool */
    return rc;
}
