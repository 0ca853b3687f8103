/*
 * exposition.c — see exposition.h. Families are written in a fixed order
 * with stable label order, each with # HELP and # TYPE.
 */
#include "metrics/exposition.h"

#include <inttypes.h>
#include <string.h>

void expo_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void expo_write_label_value(FILE *out, const char *s)
{
    /* runs of ordinary bytes go out in one fwrite */
    while (*s) {
        size_t n = strcspn(s, "\\\"\n");
        if (n) {
            fwrite(s, 1, n, out);
            s += n;
        }
        switch (*s) {
        case '\\':
            fputs("\\\\", out);
            break;
        case '"':
            fputs("\\\"", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        default:
            return;
        }
        s++;
    }
}

/* " <n>\n" without printf's format interpretation (hot in large scrapes) */
void expo_value_u64(FILE *out, uint64_t n)
{
    char buf[24];
    char *p = buf + sizeof buf;
    *--p = '\n';
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    *--p = ' ';
    fwrite(p, 1, (size_t)(buf + sizeof buf - p), out);
}

void expo_sample_u64_1(FILE *out, const char *name, const char *label, const char *value,
                       uint64_t n)
{
    fprintf(out, "%s{%s=\"", name, label);
    expo_write_label_value(out, value);
    fprintf(out, "\"} %" PRIu64 "\n", n);
}

static void server_open(FILE *out, const char *name, const char *suffix,
                        const struct server_stats *s)
{
    fputs(name, out);
    fputs(suffix, out);
    fputs("{server=\"", out);
    expo_write_label_value(out, s->label);
    fputc('"', out);
}

/* one sample (or series) per server that has seen this protocol */
#define PER_SERVER(v, flag, body)                                       \
    for (uint32_t _i = 0; _i < (v)->nservers; _i++) {                   \
        const struct server_snap *sv = &(v)->servers[_i];               \
        const struct server_stats *s = &sv->st;                         \
        if (!s->flag)                                                   \
            continue;                                                   \
        body                                                            \
    }

static void counter1(FILE *out, const char *name, const struct server_stats *s, uint64_t n)
{
    server_open(out, name, "", s);
    fputc('}', out);
    expo_value_u64(out, n);
}

/* the le="..." label values (seconds, or bytes), formatted once per thread */
static const char *le_label(int k, int bytes)
{
    static _Thread_local char text[2][HIST_LE_COUNT][24];
    static _Thread_local int ready;
    if (!ready) {
        for (int i = 0; i < HIST_LE_COUNT; i++) {
            snprintf(text[0][i], sizeof text[0][i], ",le=\"%g\"}", hist_le_seconds[i]);
            snprintf(text[1][i], sizeof text[1][i], ",le=\"%.0f\"}", hist_le_bytes[i]);
        }
        ready = 1;
    }
    return text[bytes != 0][k];
}

static void histogram_series_as(FILE *out, const char *name, const struct server_stats *s,
                                const struct hist_snap *h, int bytes)
{
    for (int k = 0; k < HIST_LE_COUNT; k++) {
        server_open(out, name, "_bucket", s);
        fputs(le_label(k, bytes), out);
        expo_value_u64(out, h->le[k]);
    }
    server_open(out, name, "_bucket", s);
    fputs(",le=\"+Inf\"}", out);
    expo_value_u64(out, h->count);
    server_open(out, name, "_sum", s);
    if (bytes) {
        fputc('}', out);
        expo_value_u64(out, h->sum_ns);
    } else {
        fprintf(out, "} %.9f\n", (double)h->sum_ns / 1e9);
    }
    server_open(out, name, "_count", s);
    fputc('}', out);
    expo_value_u64(out, h->count);
}

enum seen_proto { SEEN_DNS, SEEN_TCP, SEEN_HTTP, SEEN_TLS };

static int seen(const struct server_stats *s, enum seen_proto proto)
{
    switch (proto) {
    case SEEN_DNS:
        return s->seen_dns;
    case SEEN_TCP:
        return s->seen_tcp;
    case SEEN_HTTP:
        return s->seen_http;
    default:
        return s->seen_tls;
    }
}

/* A per-server histogram family: every server that has seen the protocol. */
static void histogram_family(FILE *out, const struct metrics_view *r, enum seen_proto proto,
                             const char *name, const char *help, enum server_hist k)
{
    expo_family(out, name, "histogram", help);
    for (uint32_t i = 0; i < r->nservers; i++) {
        const struct server_snap *sv = &r->servers[i];
        const struct server_stats *s = &sv->st;
        if (seen(s, proto))
            histogram_series_as(out, name, s, &sv->h[k], server_hist_is_bytes(k));
    }
}

static void render_tls(FILE *out, const struct metrics_view *r)
{
    expo_family(out, "spanwatch_tls_handshakes_total", "counter",
           "TLS handshakes (ClientHellos) by the version the server chose (unknown without a "
           "ServerHello) and result: ok, alert, reset (RST or FIN first), timeout (no outcome "
           "within limits.tls_handshake_timeout).");
    PER_SERVER(r, seen_tls, for (int v = 0; v < TLSV_COUNT; v++) {
        for (int k = 0; k < TLS_RES_COUNT; k++) {
            if (!s->tls_handshakes[v][k])
                continue;
            server_open(out, "spanwatch_tls_handshakes_total", "", s);
            fprintf(out, ",version=\"%s\",result=\"%s\"}", tls_version_name[v], tls_result_name[k]);
            expo_value_u64(out, s->tls_handshakes[v][k]);
        }
    })
    histogram_family(out, r, SEEN_TLS, "spanwatch_tls_handshake_seconds",
           "TLS ClientHello to the ServerHello that answers it (one round trip at the tap plus "
           "the server's TLS work).", HIST_TLS_HANDSHAKE);
    expo_family(out, "spanwatch_tls_alerts_total", "counter",
           "Cleartext TLS alerts by sender and RFC 8446 description.");
    PER_SERVER(r, seen_tls, for (int who = 0; who < TLS_SENDER_COUNT; who++) {
        for (int k = 0; k < TLS_ALERT_COUNT; k++) {
            if (!s->tls_alerts[who][k])
                continue;
            server_open(out, "spanwatch_tls_alerts_total", "", s);
            fprintf(out, ",sender=\"%s\",description=\"%s\"}", tls_sender_name[who],
                    tls_alert_name[k]);
            expo_value_u64(out, s->tls_alerts[who][k]);
        }
    })
    expo_family(out, "spanwatch_tls_certificate_expiry_timestamp_seconds", "gauge",
           "notAfter of the latest leaf certificate seen (TLS 1.2 and older), Unix time.");
    PER_SERVER(r, seen_tls, if (s->tls_cert_seen_ns) {
        server_open(out, "spanwatch_tls_certificate_expiry_timestamp_seconds", "", s);
        fprintf(out, "} %" PRId64 "\n", s->tls_cert_not_after);
    })
    histogram_family(out, r, SEEN_TLS, "spanwatch_tls_response_seconds",
           "TLS response time estimate: the end of a client burst of application-data records "
           "to the server's next application-data record.", HIST_TLS_RESPONSE);
}

static void render_servers(FILE *out, const struct metrics_view *r)
{
    expo_family(out, "spanwatch_dns_queries_total", "counter", "DNS queries seen (UDP and TCP).");
    PER_SERVER(r, seen_dns, counter1(out, "spanwatch_dns_queries_total", s, s->dns_queries);)
    expo_family(out, "spanwatch_dns_responses_total", "counter",
           "DNS responses matched to a query, by rcode.");
    PER_SERVER(r, seen_dns, for (int c = 0; c < RCODE_COUNT; c++) {
        server_open(out, "spanwatch_dns_responses_total", "", s);
        fprintf(out, ",rcode=\"%s\"}", rcode_name[c]);
        expo_value_u64(out, s->dns_responses[c]);
    })
    expo_family(out, "spanwatch_dns_timeouts_total", "counter",
           "DNS queries with no response within limits.dns_timeout.");
    PER_SERVER(r, seen_dns, counter1(out, "spanwatch_dns_timeouts_total", s, s->dns_timeouts);)
    expo_family(out, "spanwatch_dns_unmatched_responses_total", "counter",
           "DNS responses that matched no pending query (late, duplicate or unsolicited).");
    PER_SERVER(r, seen_dns,
               counter1(out, "spanwatch_dns_unmatched_responses_total", s, s->dns_unmatched);)
    histogram_family(out, r, SEEN_DNS, "spanwatch_dns_latency_seconds",
           "DNS query to matching response.", HIST_DNS);

    expo_family(out, "spanwatch_tcp_connections_total", "counter",
           "TCP connection attempts (first SYN).");
    PER_SERVER(r, seen_tcp, counter1(out, "spanwatch_tcp_connections_total", s, s->tcp_connections);)
    expo_family(out, "spanwatch_tcp_handshake_failures_total", "counter",
           "TCP handshakes that failed: reset (RST answered the SYN) or timeout (no SYN-ACK "
           "within limits.tcp_handshake_timeout).");
    PER_SERVER(r, seen_tcp, for (int c = 0; c < HS_FAIL_COUNT; c++) {
        server_open(out, "spanwatch_tcp_handshake_failures_total", "", s);
        fprintf(out, ",reason=\"%s\"}", hs_failure_name[c]);
        expo_value_u64(out, s->tcp_hs_failures[c]);
    })
    histogram_family(out, r, SEEN_TCP, "spanwatch_tcp_handshake_rtt_seconds",
           "TCP first SYN to the ACK that completes the handshake.", HIST_TCP_RTT);
    histogram_family(out, r, SEEN_TCP, "spanwatch_tcp_data_rtt_seconds",
           "TCP data RTT: server data segment to the client ACK that covers it (Karn: never "
           "for retransmitted data), plus the server leg of the connection's handshake.", HIST_TCP_DATA_RTT);
    expo_family(out, "spanwatch_tcp_resets_total", "counter",
           "TCP connections reset after the handshake (counted once per connection).");
    PER_SERVER(r, seen_tcp, counter1(out, "spanwatch_tcp_resets_total", s, s->tcp_resets);)
    expo_family(out, "spanwatch_tcp_retransmits_total", "counter", "Retransmitted TCP data segments.");
    PER_SERVER(r, seen_tcp, counter1(out, "spanwatch_tcp_retransmits_total", s, s->tcp_retransmits);)
    expo_family(out, "spanwatch_tcp_stream_gaps_total", "counter",
           "Bytes missing from reassembled TCP streams (lost before the tap).");
    PER_SERVER(r, seen_tcp, counter1(out, "spanwatch_tcp_stream_gaps_total", s, s->tcp_stream_gaps);)

    expo_family(out, "spanwatch_http_requests_total", "counter", "HTTP/1.x requests.");
    PER_SERVER(r, seen_http, counter1(out, "spanwatch_http_requests_total", s, s->http_requests);)
    expo_family(out, "spanwatch_http_responses_total", "counter",
           "HTTP/1.x responses matched to a request, by status code.");
    PER_SERVER(r, seen_http, for (int c = 0; c <= HTTP_CODE_MAX - HTTP_CODE_MIN; c++) {
        if (!s->http_codes[c])
            continue;
        server_open(out, "spanwatch_http_responses_total", "", s);
        fprintf(out, ",code=\"%d\"}", c + HTTP_CODE_MIN);
        expo_value_u64(out, s->http_codes[c]);
    })
    histogram_family(out, r, SEEN_HTTP, "spanwatch_http_latency_seconds",
           "HTTP request fully sent (headers complete) to the first byte of its response.", HIST_HTTP);
    histogram_family(out, r, SEEN_HTTP, "spanwatch_http_server_time_seconds",
           "HTTP server think time: request complete to first response byte, minus the "
           "connection's server-side network leg (SYN to SYN-ACK at the tap).", HIST_HTTP_SERVER_TIME);
    histogram_family(out, r, SEEN_HTTP, "spanwatch_http_response_bytes",
           "HTTP response size: head plus body bytes seen (chunk framing excluded).", HIST_HTTP_RESP_BYTES);
    render_tls(out, r);
}

int expo_render(FILE *out, const struct metrics_view *v)
{
    char idx[16];

    expo_family(out, "spanwatch_build_info", "gauge",
           "Build information; always 1.");
    fputs("spanwatch_build_info{version=\"", out);
    expo_write_label_value(out, v->version);
    fputs("\",backends=\"", out);
    expo_write_label_value(out, v->backends);
    fputs("\"} 1\n", out);

    expo_family(out, "spanwatch_packets_total", "counter", "Packets handled, by worker.");
    for (unsigned i = 0; i < v->nworkers; i++) {
        snprintf(idx, sizeof idx, "%u", i);
        expo_sample_u64_1(out, "spanwatch_packets_total", "worker", idx, v->packets[i]);
    }
    expo_family(out, "spanwatch_bytes_total", "counter",
           "Bytes handled (length on the wire), by worker.");
    for (unsigned i = 0; i < v->nworkers; i++) {
        snprintf(idx, sizeof idx, "%u", i);
        expo_sample_u64_1(out, "spanwatch_bytes_total", "worker", idx, v->bytes[i]);
    }

    expo_family(out, "spanwatch_capture_drops_total", "counter",
           "Packets dropped before spanwatch saw them, as reported by the kernel, NIC or "
           "internal rings.");
    for (unsigned i = 0; i < v->nsources; i++)
        expo_sample_u64_1(out, "spanwatch_capture_drops_total", "source", v->source_name[i],
                     v->source_drops[i]);

    expo_family(out, "spanwatch_decode_errors_total", "counter",
           "Malformed or truncated packets, by the layer that rejected them and why.");
    for (int e = 0; e < DERR_COUNT; e++)
        fprintf(out, "spanwatch_decode_errors_total{layer=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                decode_error_layer[e], decode_error_reason[e], v->decode_errors[e]);

    expo_family(out, "spanwatch_encap_packets_total", "counter",
           "Frames unwrapped from an encapsulation, by type (a frame in two counts twice).");
    for (int t = 0; t < ENCAP_COUNT; t++)
        expo_sample_u64_1(out, "spanwatch_encap_packets_total", "type", encap_type_name[t],
                          v->encap[t]);
    expo_family(out, "spanwatch_duplicates_total", "counter",
           "Frames dropped as copies of one seen within limits.dedup_window (SPAN duplicates).");
    fprintf(out, "spanwatch_duplicates_total %" PRIu64 "\n", v->duplicates);

    expo_family(out, "spanwatch_flows_active", "gauge", "Flows currently tracked, by protocol.");
    for (int p = 0; p < FLOW_PROTO_COUNT; p++)
        expo_sample_u64_1(out, "spanwatch_flows_active", "proto", flow_proto_name[p],
                     v->flows_active[p]);

    expo_family(out, "spanwatch_flow_evictions_total", "counter",
           "Flows removed from the flow table: idle (timed out) or full (table at "
           "limits.max_flows).");
    for (int r = 0; r < FLOW_EVICT_COUNT; r++)
        expo_sample_u64_1(out, "spanwatch_flow_evictions_total", "reason", flow_evict_reason_name[r],
                     v->flow_evictions[r]);

    expo_family(out, "spanwatch_servers_overflow_total", "counter",
           "Samples folded into server=\"__overflow__\" because limits.max_servers was reached.");
    fprintf(out, "spanwatch_servers_overflow_total %" PRIu64 "\n", v->servers_overflow);
    if (v->servers)
        render_servers(out, v);

    if (v->xdp) {
        expo_family(out, "spanwatch_xdp_packets_total", "counter",
               "Frames seen by spanwatch's XDP program: redirected to an AF_XDP socket, or "
               "passed to the kernel (a queue without a socket).");
        expo_sample_u64_1(out, "spanwatch_xdp_packets_total", "action", "redirected",
                     v->xdp_redirected);
        expo_sample_u64_1(out, "spanwatch_xdp_packets_total", "action", "passed", v->xdp_passed);
        expo_family(out, "spanwatch_xdp_drops_total", "counter",
               "Frames that reached the XDP program and were not analysed, by reason "
               "(their sum is in spanwatch_capture_drops_total).");
        for (unsigned i = 0; i < v->nxdp_drops; i++)
            expo_sample_u64_1(out, "spanwatch_xdp_drops_total", "reason", v->xdp_drop_reason[i],
                         v->xdp_drops[i]);
    }
    if (v->render_alerts)
        v->render_alerts(out, v->render_alerts_ctx);

    expo_family(out, "spanwatch_config_last_reload_successful", "gauge",
           "1 if the last configuration (re)load succeeded.");
    fprintf(out, "spanwatch_config_last_reload_successful %d\n", v->config_reload_ok ? 1 : 0);

    expo_family(out, "spanwatch_config_hash", "gauge",
           "Hash of the loaded configuration file (0 for built-in defaults).");
    fprintf(out, "spanwatch_config_hash %" PRIu64 "\n", v->config_hash);

    expo_family(out, "spanwatch_scrape_duration_seconds", "gauge",
           "Time the previous metrics render took.");
    fprintf(out, "spanwatch_scrape_duration_seconds %.9f\n", v->scrape_duration_seconds);

    return ferror(out) ? -1 : 0;
}
