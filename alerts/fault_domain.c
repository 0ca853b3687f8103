/*
 * fault_domain.c — judging one server's window: evidence of a network
 * fault (TCP and TLS handshake timeouts, retransmissions, handshake or data
 * RTT above its baseline) and of a backend fault (5xx, SERVFAIL/REFUSED/DNS
 * timeouts, refused handshakes, TLS alerts from the server, server time,
 * TLS handshake work or DNS latency above baseline, responses much smaller
 * than baseline). See alerts.h, README "Fault
 * domains".
 */
#include "alerts/alerts.h"

#include <stdio.h>

#include "alerts/baseline.h"

static double ratio(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : 0.0;
}

const char *const fault_domain_name[FD_COUNT] = { "none", "network", "backend", "both" };
const char *const fault_evidence_name[FDE_COUNT_BITS] = {
    "handshake_timeouts", "retransmits", "rtt", "data_rtt", "http_5xx",
    "dns_errors", "handshakes_refused", "server_time", "response_bytes", "dns_latency",
    "tls_alerts", "tls_server_time",
};

/* TLS handshakes counted in the window, and those that timed out */
static uint64_t tls_handshakes(const struct server_stats *d, uint64_t *timeouts)
{
    uint64_t n = 0;
    *timeouts = 0;
    for (int v = 0; v < TLSV_COUNT; v++) {
        for (int r = 0; r < TLS_RES_COUNT; r++)
            n += d->tls_handshakes[v][r];
        *timeouts += d->tls_handshakes[v][TLS_RES_TIMEOUT];
    }
    return n;
}

/* alerts the server sent that end a handshake (not close_notify or
 * user_canceled, which end a connection) */
static uint64_t tls_server_refusals(const struct server_stats *d)
{
    uint64_t n = 0;
    for (int k = 0; k < TLS_ALERT_COUNT; k++)
        if (k != TLS_ALERT_close_notify && k != TLS_ALERT_user_canceled)
            n += d->tls_alerts[TLS_SENDER_SERVER][k];
    return n;
}

char *fault_evidence_format(char *out, size_t len, unsigned evidence)
{
    size_t o = 0;
    if (len)
        out[0] = 0;
    for (int b = 0; b < FDE_COUNT_BITS; b++)
        if (evidence & (1u << b) && o < len)
            o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "," : "", fault_evidence_name[b]);
    return out;
}

static const int fd_signal_hist[FDS_COUNT] = {
    [FDS_RTT] = HIST_TCP_RTT, [FDS_DATA_RTT] = HIST_TCP_DATA_RTT,
    [FDS_SERVER_TIME] = HIST_HTTP_SERVER_TIME, [FDS_RESP_BYTES] = HIST_HTTP_RESP_BYTES,
    [FDS_DNS_LATENCY] = HIST_DNS, [FDS_TLS_TIME] = HIST_TLS_SERVER_TIME,
};

enum fault_domain fd_judge(const struct fault_domain_cfg *c, struct fd_slot *s, float *base,
                           uint32_t nb, const struct server_stats *d,
                           const struct histogram *const dh[SERVER_HIST_COUNT])
{
    unsigned ev = 0;
    uint64_t conns = d->tcp_connections, cls[6];
    server_http_classes(d, cls);
    uint64_t responses = cls[0], e5 = cls[5];
    /* the signals' p50 in this window, against their baselines */
    for (int i = 0; i < FDS_COUNT; i++) {
        const struct histogram *h = dh[fd_signal_hist[i]];
        s->value[i] = -1;
        s->baseline[i] = (float)baseline_of(&base[(size_t)i * nb], s->nbase[i],
                                              c->min_baseline_windows);
        if (!h || h->count < c->min_events)
            continue;
        double v = (double)hist_quantile(h, 0.5);
        s->value[i] = (float)(server_hist_is_bytes(fd_signal_hist[i]) ? v : v / 1e9);
    }
    double floor_s = (double)c->min_increase_ns / 1e9;
#define ABOVE(i, k)                                                                         \
    (s->value[i] >= 0 && s->baseline[i] > 0 && s->value[i] > (k) * s->baseline[i] &&        \
     s->value[i] - s->baseline[i] >= floor_s)
    /* network: the transport between the clients and the server */
    if (conns >= c->min_events &&
        ratio(d->tcp_hs_failures[HS_FAIL_TIMEOUT], conns) > c->handshake_timeout_ratio)
        ev |= FDE_HS_TIMEOUT;
    if (d->tcp_data_segments >= c->min_events &&
        ratio(d->tcp_retransmits, d->tcp_data_segments) > c->retransmit_ratio)
        ev |= FDE_RETRANSMIT;
    if (ABOVE(FDS_RTT, c->rtt_vs_baseline))
        ev |= FDE_RTT;
    if (ABOVE(FDS_DATA_RTT, c->rtt_vs_baseline))
        ev |= FDE_DATA_RTT;
    /* a ClientHello never answered on an open connection: the server's
     * first flight lost on the way (a path MTU black hole drops exactly
     * these large segments) or a server that hangs — counted with the
     * handshake timeouts */
    uint64_t tls_to, tls_n = tls_handshakes(d, &tls_to);
    if (tls_n >= c->min_events && ratio(tls_to, tls_n) > c->handshake_timeout_ratio)
        ev |= FDE_HS_TIMEOUT;
    /* backend: the service's own answers */
    if (responses >= c->min_events && ratio(e5, responses) > c->error_ratio)
        ev |= FDE_HTTP_5XX;
    if (d->dns_queries >= c->min_events &&
        ratio(server_dns_errors(d), d->dns_queries) > c->error_ratio)
        ev |= FDE_DNS_ERRORS;
    if (conns >= c->min_events &&
        ratio(d->tcp_hs_failures[HS_FAIL_RESET], conns) > c->error_ratio)
        ev |= FDE_HS_REFUSED;
    if (ABOVE(FDS_SERVER_TIME, c->server_time_vs_baseline))
        ev |= FDE_SERVER_TIME;
    if (ABOVE(FDS_DNS_LATENCY, c->server_time_vs_baseline))
        ev |= FDE_DNS_LATENCY;
    if (tls_n >= c->min_events && ratio(tls_server_refusals(d), tls_n) > c->error_ratio)
        ev |= FDE_TLS_ALERTS;
    if (ABOVE(FDS_TLS_TIME, c->server_time_vs_baseline))
        ev |= FDE_TLS_TIME;
    if (s->value[FDS_RESP_BYTES] >= 0 && s->baseline[FDS_RESP_BYTES] > 0 &&
        s->value[FDS_RESP_BYTES] < c->response_bytes_vs_baseline * s->baseline[FDS_RESP_BYTES])
        ev |= FDE_RESP_BYTES;
#undef ABOVE
    int net = (ev & FDE_NETWORK) != 0, back = (ev & ~(unsigned)FDE_NETWORK) != 0;
    enum fault_domain dom = net && back ? FD_BOTH : net ? FD_NETWORK : back ? FD_BACKEND : FD_NONE;
    /* baselines learn only from good windows */
    if (dom == FD_NONE)
        for (int i = 0; i < FDS_COUNT; i++)
            if (s->value[i] >= 0)
                baseline_push(&base[(size_t)i * nb], nb, &s->nbase[i], &s->bhead[i], s->value[i]);
    s->evidence = (uint16_t)ev;
    return dom;
}

