/*
 * report.c — see report.h.
 */
#include "metrics/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

void report_run(const struct run_totals *w, double wall)
{
    uint64_t errs = 0;
    for (int e = 0; e < DERR_COUNT; e++)
        errs += w->errors[e];
    double span = w->packets && w->now_ns > w->first_ns
                      ? (double)(w->now_ns - w->first_ns) / 1e9 : 0.0;
    fprintf(stderr,
            "spanwatch: %s: %" PRIu64 " packets, %" PRIu64 " bytes in %.3f s "
            "(%.0f packets/s); %.3f s of packet time; link type %s\n",
            w->source_name, w->packets, w->bytes, wall, wall > 0 ? (double)w->packets / wall : 0.0,
            span, w->linktype_name);
    fprintf(stderr, "spanwatch: decode errors: %" PRIu64, errs);
    const char *sep = " (";
    for (int e = 0; e < DERR_COUNT; e++) {
        if (w->errors[e]) {
            fprintf(stderr, "%s%s/%s %" PRIu64, sep, decode_error_layer[e],
                    decode_error_reason[e], w->errors[e]);
            sep = ", ";
        }
    }
    fprintf(stderr, "%s; non-IP frames: %" PRIu64 "\n", errs ? ")" : "", w->not_ip);
    fprintf(stderr,
            "spanwatch: flows: %" PRIu64 " seen, %u active at end, %" PRIu64
            " evicted idle, %" PRIu64 " evicted because the table was full\n",
            w->flows_created, w->flows_active, w->flow_evictions[FLOW_EVICT_IDLE],
            w->flow_evictions[FLOW_EVICT_FULL]);
    report_servers(w->servers);
}

void report_format_latency(char *out, size_t len, uint64_t ns)
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

/* the TLS line of a server: handshakes, failures, handshake time */
static void report_tls(const struct server_registry *r, uint32_t idx)
{
    const struct server_stats *st = &r->s[idx];
    uint64_t res[TLS_RES_COUNT] = { 0 }, all = 0;
    char p50[16], p99[16], resp[16], vers[96] = "", cert[40] = "";
    size_t o = 0;
    for (int v = 0; v < TLSV_COUNT; v++) {
        uint64_t n = 0;
        for (int k = 0; k < TLS_RES_COUNT; k++) {
            res[k] += st->tls_handshakes[v][k];
            n += st->tls_handshakes[v][k];
        }
        all += n;
        if (n && v != TLSV_UNKNOWN && o < sizeof vers)
            o += (size_t)snprintf(vers + o, sizeof vers - o, "%s %" PRIu64 ", ",
                                  tls_version_name[v], n);
    }
    const struct histogram *h = server_hist_c(r, idx, HIST_TLS_HANDSHAKE);
    report_format_latency(p50, sizeof p50, hist_quantile(h, 0.5));
    report_format_latency(p99, sizeof p99, hist_quantile(h, 0.99));
    report_format_latency(resp, sizeof resp,
                          hist_quantile(server_hist_c(r, idx, HIST_TLS_RESPONSE), 0.5));
    if (st->tls_cert_seen_ns) {
        time_t t = (time_t)st->tls_cert_not_after;
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(cert, sizeof cert, "; certificate expires %Y-%m-%d", &tm);
    }
    uint64_t err = all - res[TLS_RES_OK];
    fprintf(stderr,
            "spanwatch: %-28s %-5s %9" PRIu64 " %8" PRIu64 " %6.1f%% %9s %9s  handshake; %s"
            "alert %" PRIu64 ", reset %" PRIu64 ", timeout %" PRIu64 "; response p50 %s%s\n",
            st->label, "tls", all, err, all ? 100.0 * (double)err / (double)all : 0.0, p50, p99,
            vers, res[TLS_RES_ALERT], res[TLS_RES_RESET], res[TLS_RES_TIMEOUT], resp, cert);
}

void report_servers(const struct server_registry *r)
{
    uint32_t n = 0;
    const struct server_stats **order = calloc((size_t)r->count + 1, sizeof *order);
    if (!order)
        return;
    SERVER_FOREACH_SLOT(r, i) {
        const struct server_stats *st = &r->s[i];
        if (server_seen_any(st))
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
            uint64_t err = server_dns_errors(st);
            const struct histogram *h = server_hist_c(r, idx, HIST_DNS);
            report_format_latency(p50, sizeof p50, hist_quantile(h, 0.5));
            report_format_latency(p99, sizeof p99, hist_quantile(h, 0.99));
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
            const struct histogram *h = server_hist_c(r, idx, HIST_TCP_RTT);
            report_format_latency(p50, sizeof p50, hist_quantile(h, 0.5));
            report_format_latency(p99, sizeof p99, hist_quantile(h, 0.99));
            report_format_latency(extra, sizeof extra,
                        hist_quantile(server_hist_c(r, idx, HIST_TCP_DATA_RTT), 0.5));
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
            uint64_t cls[6];
            server_http_classes(st, cls);
            const struct histogram *h = server_hist_c(r, idx, HIST_HTTP);
            report_format_latency(p50, sizeof p50, hist_quantile(h, 0.5));
            report_format_latency(p99, sizeof p99, hist_quantile(h, 0.99));
            report_format_latency(extra, sizeof extra,
                        hist_quantile(server_hist_c(r, idx, HIST_HTTP_SERVER_TIME), 0.5));
            const struct histogram *hb = server_hist_c(r, idx, HIST_HTTP_RESP_BYTES);
            if (hb->count)
                snprintf(extra2, sizeof extra2, "%" PRIu64 " B", hist_quantile(hb, 0.5));
            else
                snprintf(extra2, sizeof extra2, "-");
            snprintf(details, sizeof details,
                     "2xx %" PRIu64 ", 3xx %" PRIu64 ", 4xx %" PRIu64 ", 5xx %" PRIu64
                     ", 1xx %" PRIu64 "; server time p50 %s, response size p50 %s",
                     cls[2], cls[3], cls[4], cls[5], cls[1], extra, extra2);
            fprintf(stderr, "spanwatch: %-28s %-5s %9" PRIu64 " %8" PRIu64 " %6.1f%% %9s %9s  %s\n",
                    st->label, "http", st->http_requests, cls[5],
                    st->http_requests ? 100.0 * (double)cls[5] / (double)st->http_requests : 0.0, p50,
                    p99, details);
        }
        if (st->seen_tls)
            report_tls(r, idx);
    }
    if (r->overflow_samples)
        fprintf(stderr, "spanwatch: %" PRIu64 " samples went to %s (limits.max_servers = %u)\n",
                r->overflow_samples, SERVER_OVERFLOW_LABEL, r->max);
    free(order);
}
