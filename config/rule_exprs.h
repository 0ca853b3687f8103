/*
 * rule_exprs.h — every rule expression (README "Alerting"), in one table:
 * the config loader takes its names and kinds, the alert engine its
 * histogram, quantile and protocol. Adding an expression is one line here
 * (and, for a counter expression, its formula in alerts_expr_value()).
 *
 * X(id, name, kind, hist, quantile, proto)
 *   kind      RATIO (0..1), TIME (seconds; a duration is accepted), BYTES,
 *             RATE (per second), DAYS
 *   hist      the per-server histogram a quantile reads (HIST_<hist> in
 *             metrics/servers.h), NONE for counter expressions
 *   quantile  of that histogram (0 for counter expressions; for a histogram
 *             the minimum)
 *   proto     what a server must have seen for a `server: "*"` rule to
 *             cover it (seen_<proto>), any = one of them
 */
#ifndef SPANWATCH_RULE_EXPRS_H
#define SPANWATCH_RULE_EXPRS_H

#define RULE_EXPR_LIST(X)                                                                  \
    X(DNS_ERROR_RATIO, "dns_error_ratio", RATIO, NONE, 0, dns)                            \
    X(DNS_NXDOMAIN_RATIO, "dns_nxdomain_ratio", RATIO, NONE, 0, dns)                      \
    X(DNS_LATENCY_P50, "dns_latency_p50", TIME, DNS, 0.50, dns)                           \
    X(DNS_LATENCY_P90, "dns_latency_p90", TIME, DNS, 0.90, dns)                           \
    X(DNS_LATENCY_P99, "dns_latency_p99", TIME, DNS, 0.99, dns)                           \
    X(TCP_HANDSHAKE_FAILURE_RATIO, "tcp_handshake_failure_ratio", RATIO, NONE, 0, tcp)    \
    X(TCP_RESET_RATIO, "tcp_reset_ratio", RATIO, NONE, 0, tcp)                            \
    X(TCP_RETRANSMIT_RATIO, "tcp_retransmit_ratio", RATIO, NONE, 0, tcp)                  \
    X(TCP_RTT_P50, "tcp_rtt_p50", TIME, TCP_RTT, 0.50, tcp)                               \
    X(TCP_RTT_P90, "tcp_rtt_p90", TIME, TCP_RTT, 0.90, tcp)                               \
    X(TCP_RTT_P99, "tcp_rtt_p99", TIME, TCP_RTT, 0.99, tcp)                               \
    X(HTTP_5XX_RATIO, "http_5xx_ratio", RATIO, NONE, 0, http)                             \
    X(HTTP_4XX_RATIO, "http_4xx_ratio", RATIO, NONE, 0, http)                             \
    X(HTTP_LATENCY_P50, "http_latency_p50", TIME, HTTP, 0.50, http)                       \
    X(HTTP_LATENCY_P90, "http_latency_p90", TIME, HTTP, 0.90, http)                       \
    X(HTTP_LATENCY_P99, "http_latency_p99", TIME, HTTP, 0.99, http)                       \
    X(REQUEST_RATE, "request_rate", RATE, NONE, 0, any)                                   \
    X(TCP_DATA_RTT_P50, "tcp_data_rtt_p50", TIME, TCP_DATA_RTT, 0.50, tcp)                \
    X(TCP_DATA_RTT_P90, "tcp_data_rtt_p90", TIME, TCP_DATA_RTT, 0.90, tcp)                \
    X(TCP_DATA_RTT_P99, "tcp_data_rtt_p99", TIME, TCP_DATA_RTT, 0.99, tcp)                \
    X(HTTP_SERVER_TIME_P50, "http_server_time_p50", TIME, HTTP_SERVER_TIME, 0.50, http)   \
    X(HTTP_SERVER_TIME_P90, "http_server_time_p90", TIME, HTTP_SERVER_TIME, 0.90, http)   \
    X(HTTP_SERVER_TIME_P99, "http_server_time_p99", TIME, HTTP_SERVER_TIME, 0.99, http)   \
    X(HTTP_RESPONSE_BYTES_P50, "http_response_bytes_p50", BYTES, HTTP_RESP_BYTES, 0.50, http) \
    X(HTTP_RESPONSE_BYTES_P90, "http_response_bytes_p90", BYTES, HTTP_RESP_BYTES, 0.90, http) \
    X(TLS_HANDSHAKE_FAILURE_RATIO, "tls_handshake_failure_ratio", RATIO, NONE, 0, tls)    \
    X(TLS_HANDSHAKE_P50, "tls_handshake_p50", TIME, TLS_HANDSHAKE, 0.50, tls)             \
    X(TLS_HANDSHAKE_P90, "tls_handshake_p90", TIME, TLS_HANDSHAKE, 0.90, tls)             \
    X(TLS_HANDSHAKE_P99, "tls_handshake_p99", TIME, TLS_HANDSHAKE, 0.99, tls)             \
    X(TLS_RESPONSE_P50, "tls_response_p50", TIME, TLS_RESPONSE, 0.50, tls)                \
    X(TLS_RESPONSE_P90, "tls_response_p90", TIME, TLS_RESPONSE, 0.90, tls)                \
    X(TLS_RESPONSE_P99, "tls_response_p99", TIME, TLS_RESPONSE, 0.99, tls)                \
    X(TLS_CERTIFICATE_DAYS_LEFT, "tls_certificate_days_left", DAYS, TLS_CERT_LEFT, 0, tls)

enum rule_expr {
#define X(id, name, kind, hist, q, proto) EXPR_##id,
    RULE_EXPR_LIST(X)
#undef X
    EXPR_COUNT
};

enum rule_expr_kind { EXPR_KIND_RATIO, EXPR_KIND_TIME, EXPR_KIND_BYTES, EXPR_KIND_RATE,
                      EXPR_KIND_DAYS };

extern const char *const rule_expr_name[EXPR_COUNT];
extern const enum rule_expr_kind rule_expr_kind[EXPR_COUNT];

#endif
