/*
 * main.c — command line, wiring and the replay/live loop. No packet logic
 * lives here: capture/ produces bursts, src/worker.c handles them, metrics/
 * renders what the workers counted.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../capture/source.h"
#include "../decode/decode.h"
#include "../metrics/config.h"
#include "../metrics/exposition.h"
#include "worker.h"

#ifndef SPANWATCH_VERSION
#define SPANWATCH_VERSION "0.0.0-dev"
#endif

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: spanwatch -i IFACE [--backend pcap|afpacket|afxdp|dpdk] [-w N] [-c FILE]\n"
    "                          [--web.listen-address ADDR] [-f 'BPF filter']\n"
    "       spanwatch -r FILE.pcap [-c FILE] [-f 'BPF filter'] [--metrics-out FILE]\n"
    "                          [--alerts-out FILE]\n"
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
    "Options:\n"
    "  -c, --config FILE          YAML configuration (default: built-in limits)\n"
    "  -f, --filter EXPR          BPF capture filter, tcpdump syntax\n"
    "      --backend NAME         live capture back end: pcap (default); afpacket,\n"
    "                             afxdp and dpdk are not built yet\n"
    "  -w, --workers N            worker threads (this version runs 1)\n"
    "      --metrics-out FILE     write the final Prometheus exposition to FILE\n"
    "                             when the run ends ('-' = stdout)\n"
    "      --alerts-out FILE      write alert transitions as JSON lines to FILE\n"
    "      --web.listen-address A address for /metrics (default :9560; not served\n"
    "                             by this version)\n"
    "  -q, --quiet                no progress line and no end-of-run summary\n"
    "      --check-config FILE    validate FILE and exit (0 valid, 2 invalid)\n"
    "  -V, --version              print version and exit\n"
    "  -h, --help                 this text\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure, 2 bad usage or invalid config.\n"
    "See README.md for the configuration format and metric names.\n";

enum long_only {
    OPT_BACKEND = 256,
    OPT_METRICS_OUT,
    OPT_ALERTS_OUT,
    OPT_LISTEN,
    OPT_CHECK_CONFIG,
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
    const char *check_config;
    unsigned workers;
    int quiet;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
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
        { NULL, 0, NULL, 0 },
    };
    int c;
    char *end;

    memset(o, 0, sizeof *o);
    o->backend = "pcap";
    o->listen = ":9560";
    o->workers = 1;
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
            break;
        }
        case 'V':
            printf("spanwatch %s (backends: pcap)\n", SPANWATCH_VERSION);
            exit(0);
        case 'h':
            fputs(usage_text, stdout);
            fputs(help_text, stdout);
            exit(0);
        case OPT_BACKEND: o->backend = optarg; break;
        case OPT_METRICS_OUT: o->metrics_out = optarg; break;
        case OPT_ALERTS_OUT: o->alerts_out = optarg; break;
        case OPT_LISTEN: o->listen = optarg; break;
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
    if (!!o->read_file + !!o->iface != 1)
        return usage_error("%s", "give exactly one of -r FILE or -i IFACE");
    if (strcmp(o->backend, "pcap") != 0) {
        if (strcmp(o->backend, "afpacket") && strcmp(o->backend, "afxdp") &&
            strcmp(o->backend, "dpdk"))
            return usage_error("--backend: unknown back end '%s' (pcap, afpacket, afxdp, dpdk)",
                               o->backend);
        fprintf(stderr, "spanwatch: --backend %s is not available in this version; "
                        "use --backend pcap\n", o->backend);
        return EXIT_USAGE;
    }
    return 0;
}

static void fill_view(struct metrics_view *v, const struct worker *w, unsigned nw,
                      struct source *src, const struct config *cfg)
{
    memset(v, 0, sizeof *v);
    v->nworkers = nw;
    for (unsigned i = 0; i < nw; i++) {
        v->packets[i] = w[i].packets;
        v->bytes[i] = w[i].bytes;
        for (int e = 0; e < DERR_COUNT; e++)
            v->decode_errors[e] += w[i].dec.errors[e];
        for (int p = 0; p < FLOW_PROTO_COUNT; p++)
            v->flows_active[p] += w[i].flows.active[p];
        for (int r = 0; r < FLOW_EVICT_COUNT; r++)
            v->flow_evictions[r] += w[i].flows.evictions[r];
    }
    struct source_stats st;
    source_stats(src, &st);
    v->nsources = 1;
    v->source_name[0] = src->name;
    v->source_drops[0] = st.kernel_drops + st.iface_drops;
    v->servers = &w[0].servers; /* one worker in this version */
    v->config_reload_ok = 1;
    v->config_hash = cfg->hash;
    v->version = SPANWATCH_VERSION;
    v->backends = "pcap";
}

static int write_metrics(const char *path, const struct metrics_view *v)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) {
        fprintf(stderr, "spanwatch: --metrics-out %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = expo_render(f, v);
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

static void progress(struct source *src, const struct worker *w, double t0)
{
    double el = mono_now() - t0;
    uint64_t off = source_pcap_file_offset(src);
    fprintf(stderr, "\r\033[Kspanwatch: %" PRIu64 " packets, %.0f packets/s", w->packets,
            el > 0 ? (double)w->packets / el : 0.0);
    if (src->file_size && off)
        fprintf(stderr, ", %.0f%% of file", 100.0 * (double)off / (double)src->file_size);
}

static void server_table(struct server_registry *r);

static void summary(const struct source *src, const struct worker *w, double wall)
{
    uint64_t errs = 0;
    for (int e = 0; e < DERR_COUNT; e++)
        errs += w->dec.errors[e];
    double span = w->now_ns > w->first_ns ? (double)(w->now_ns - w->first_ns) / 1e9 : 0.0;
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
        char p50[16], p99[16], details[160];
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
            snprintf(details, sizeof details,
                     "handshake rtt; refused %" PRIu64 ", timed out %" PRIu64 ", resets %" PRIu64
                     ", retransmits %" PRIu64 ", stream gaps %" PRIu64 " B",
                     st->tcp_hs_failures[HS_FAIL_RESET], st->tcp_hs_failures[HS_FAIL_TIMEOUT],
                     st->tcp_resets, st->tcp_retransmits, st->tcp_stream_gaps);
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
            snprintf(details, sizeof details,
                     "2xx %" PRIu64 ", 3xx %" PRIu64 ", 4xx %" PRIu64 ", 5xx %" PRIu64
                     ", 1xx %" PRIu64, c2, c3, c4, c5, other);
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

int main(int argc, char **argv)
{
    struct options o;
    struct config cfg;
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
        if (!o.quiet && (cfg.n_servers || cfg.n_rules || cfg.has_alertmanager))
            fprintf(stderr, "spanwatch: %s: note: servers, rules and alertmanager sections "
                            "are accepted but not acted on by this version\n", o.config);
    } else {
        config_defaults(&cfg);
    }
    if (o.workers > 1 && !o.quiet)
        fprintf(stderr, "spanwatch: note: this version runs one worker; -w %u ignored\n",
                o.workers);
    if (o.iface && !o.quiet)
        fprintf(stderr, "spanwatch: note: the HTTP endpoint (%s) is not served by this "
                        "version; use --metrics-out and stop with Ctrl-C\n", o.listen);

    struct source *src = o.read_file
                             ? source_pcap_open_file(o.read_file, o.filter, err, sizeof err)
                             : source_pcap_open_live(o.iface, o.filter, 64, err, sizeof err);
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
    if (worker_init(&w, 0, &cfg, src->linktype) != 0) {
        fprintf(stderr, "spanwatch: cannot allocate flow table for limits.max_flows=%u\n",
                cfg.max_flows);
        source_close(src);
        return EXIT_RUNTIME;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int show_progress = !o.quiet && isatty(STDERR_FILENO);
    double t0 = mono_now(), last_progress = t0;
    unsigned bursts = 0;
    struct sw_packet burst[SOURCE_BURST_MAX];
    rc = 0;
    while (!stop_requested) {
        int n = source_next_burst(src, burst, SOURCE_BURST_MAX);
        if (n == SOURCE_EOF)
            break;
        if (n == SOURCE_ERROR) {
            /* keep what was read: a capture cut short is still evidence */
            fprintf(stderr, "%sspanwatch: warning: %s; metrics cover the packets before it\n",
                    show_progress ? "\n" : "", src->error);
            break;
        }
        worker_handle_burst(&w, burst, (unsigned)n);
        if (show_progress && (++bursts & 255) == 0) {
            double now = mono_now();
            if (now - last_progress >= 0.5) {
                progress(src, &w, t0);
                last_progress = now;
            }
        }
    }
    worker_finish(&w);
    double wall = mono_now() - t0;
    if (show_progress && bursts >= 256)
        fputs("\r\033[K", stderr);

    struct metrics_view view;
    fill_view(&view, &w, 1, src, &cfg);
    if (o.metrics_out) {
        view.scrape_duration_seconds = 0;
        if (write_metrics(o.metrics_out, &view) != 0)
            rc = EXIT_RUNTIME;
    }
    if (!o.quiet)
        summary(src, &w, wall);
    if (alerts && alerts != stdout)
        fclose(alerts);
    worker_free(&w);
    source_close(src);
    return rc;
}
