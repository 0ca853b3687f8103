/*
 * test_analyzers.c — the protocol analyzers (analyze/) driven through a
 * worker with frames built here, one rule of README "What is measured" per
 * test: DNS matching, retransmitted queries, unmatched responses and
 * timeouts; the TCP handshake RTT, refused and timed-out handshakes,
 * retransmissions; HTTP latency, server time, status codes, pipelining and
 * interim responses. The cross-checks against tshark cover the same rules
 * on captures; these pin each one down on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "analyze/worker.h"

#define MS 1000000ull
#define T0 (1700000000000ull * MS) /* a plausible epoch time */

static const uint8_t CLIENT[4] = { 10, 0, 0, 2 }, SERVER[4] = { 10, 0, 0, 1 };
static uint16_t ip_id; /* the IPv4 ID of the next frame built */

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10 };

/* Ethernet + IPv4 + UDP (proto 17) or TCP (6, a 20-byte header) */
static size_t frame(uint8_t *f, const uint8_t *src, uint16_t sp, const uint8_t *dst, uint16_t dp,
                    uint8_t proto, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
                    size_t dlen)
{
    size_t l4 = proto == 6 ? 20 : 8;
    size_t iplen = 20 + l4 + dlen;
    memset(f, 0, 14 + 20 + l4);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(iplen >> 8);
    ip[3] = (uint8_t)iplen;
    ip[4] = (uint8_t)(ip_id >> 8);
    ip[5] = (uint8_t)ip_id;
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    uint8_t *h = ip + 20;
    h[0] = (uint8_t)(sp >> 8);
    h[1] = (uint8_t)sp;
    h[2] = (uint8_t)(dp >> 8);
    h[3] = (uint8_t)dp;
    if (proto == 6) {
        for (int i = 0; i < 4; i++) {
            h[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
            h[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
        }
        h[12] = 5 << 4;
        h[13] = flags;
        h[14] = 0xff;
        h[15] = 0xff;
    } else {
        h[4] = (uint8_t)((8 + dlen) >> 8);
        h[5] = (uint8_t)(8 + dlen);
    }
    memcpy(h + l4, data, dlen);
    return 14 + iplen;
}

struct fixture {
    struct config cfg;
    struct worker w;
    uint8_t buf[2048];
};

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    config_defaults(&fx.cfg);
    fx.cfg.max_flows = 1024;
    fx.cfg.max_servers = 64;
    if (worker_init(&fx.w, 0, &fx.cfg, 1 /* DLT_EN10MB */) != 0)
        return -1;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    worker_free(&fx->w);
    return 0;
}

static void send_at_ns(struct fixture *fx, uint64_t t_ns, int to_server, uint8_t proto,
                       uint32_t seq, uint32_t ack, uint8_t flags, const void *data, size_t dlen)
{
    uint16_t port = proto == 17 ? 53 : 80;
    size_t n = to_server
                   ? frame(fx->buf, CLIENT, 40000, SERVER, port, proto, seq, ack, flags, data, dlen)
                   : frame(fx->buf, SERVER, port, CLIENT, 40000, proto, seq, ack, flags, data, dlen);
    struct sw_packet p = { fx->buf, (uint32_t)n, (uint32_t)n, T0 + t_ns };
    worker_handle_burst(&fx->w, &p, 1);
}

static void send_at(struct fixture *fx, uint64_t t_ms, int to_server, uint8_t proto,
                    uint32_t seq, uint32_t ack, uint8_t flags, const void *data, size_t dlen)
{
    ip_id++; /* every datagram a sender makes has its own ID */
    send_at_ns(fx, t_ms * MS, to_server, proto, seq, ack, flags, data, dlen);
}

static const struct server_stats *server(struct fixture *fx, const char *label)
{
    uint32_t i = server_registry_get(&fx->w.servers, label);
    assert_true(i < fx->w.servers.max);
    return &fx->w.servers.s[i];
}

static const struct histogram *hist(struct fixture *fx, const char *label, enum server_hist k)
{
    return server_hist(&fx->w.servers, server_registry_get(&fx->w.servers, label), k);
}

/* ---- DNS --------------------------------------------------------------- */

/* a query for "a." (id), or its response with rcode */
static size_t dns_msg(uint8_t *m, uint16_t id, int response, uint8_t rcode)
{
    static const uint8_t q[] = { 0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1 };
    memcpy(m, q, sizeof q);
    m[0] = (uint8_t)(id >> 8);
    m[1] = (uint8_t)id;
    if (response) {
        m[2] = 0x81;
        m[3] = (uint8_t)(0x80 | rcode);
    }
    return sizeof q;
}

static void dns_send(struct fixture *fx, uint64_t t_ms, uint16_t id, int response, uint8_t rcode)
{
    uint8_t m[64];
    size_t n = dns_msg(m, id, response, rcode);
    send_at(fx, t_ms, !response, 17, 0, 0, 0, m, n);
}

static void dns_response_matches_its_query(void **state)
{
    struct fixture *fx = *state;
    dns_send(fx, 1000, 0x1234, 0, 0);
    dns_send(fx, 1005, 0x1234, 1, 0);
    const struct server_stats *s = server(fx, "10.0.0.1:53");
    assert_int_equal(s->dns_queries, 1);
    assert_int_equal(s->dns_responses[RCODE_NOERROR], 1);
    assert_int_equal(s->dns_unmatched, 0);
    const struct histogram *h = hist(fx, "10.0.0.1:53", HIST_DNS);
    assert_int_equal(h->count, 1);
    assert_int_equal(h->sum_ns, 5 * MS);
}

static void dns_retransmitted_query_keeps_the_first_time(void **state)
{
    struct fixture *fx = *state;
    dns_send(fx, 1000, 7, 0, 0);
    dns_send(fx, 1002, 7, 0, 0);
    dns_send(fx, 1010, 7, 1, 2 /* SERVFAIL */);
    const struct server_stats *s = server(fx, "10.0.0.1:53");
    assert_int_equal(s->dns_queries, 2);
    assert_int_equal(s->dns_responses[RCODE_SERVFAIL], 1);
    assert_int_equal(server_dns_errors(s), 1);
    assert_int_equal(hist(fx, "10.0.0.1:53", HIST_DNS)->sum_ns, 10 * MS);
}

static void dns_response_to_nothing_is_unmatched(void **state)
{
    struct fixture *fx = *state;
    dns_send(fx, 1000, 1, 0, 0);
    dns_send(fx, 1001, 2, 1, 0); /* another id */
    const struct server_stats *s = server(fx, "10.0.0.1:53");
    assert_int_equal(s->dns_unmatched, 1);
    assert_int_equal(s->dns_responses[RCODE_NOERROR], 0);
    assert_int_equal(hist(fx, "10.0.0.1:53", HIST_DNS)->count, 0);
}

static void dns_query_without_answer_times_out(void **state)
{
    struct fixture *fx = *state;
    dns_send(fx, 1000, 9, 0, 0);
    worker_tick(&fx->w, T0 + 1000 * MS + fx->cfg.dns_timeout_ns - MS);
    assert_int_equal(server(fx, "10.0.0.1:53")->dns_timeouts, 0);
    worker_tick(&fx->w, T0 + 1000 * MS + fx->cfg.dns_timeout_ns + 200 * MS);
    assert_int_equal(server(fx, "10.0.0.1:53")->dns_timeouts, 1);
    /* the late answer matches nothing */
    dns_send(fx, 7000, 9, 1, 0);
    assert_int_equal(server(fx, "10.0.0.1:53")->dns_unmatched, 1);
}

/* ---- TCP --------------------------------------------------------------- */

#define CISN 1000u
#define SISN 5000u

/* SYN at t, SYN-ACK at t + 1 ms, ACK at t + 3 ms */
static void handshake(struct fixture *fx, uint64_t t)
{
    send_at(fx, t, 1, 6, CISN, 0, SYN, NULL, 0);
    send_at(fx, t + 1, 0, 6, SISN, CISN + 1, SYN | ACK, NULL, 0);
    send_at(fx, t + 3, 1, 6, CISN + 1, SISN + 1, ACK, NULL, 0);
}

static void tcp_handshake_rtt_is_syn_to_ack(void **state)
{
    struct fixture *fx = *state;
    handshake(fx, 100);
    const struct server_stats *s = server(fx, "10.0.0.1:80");
    assert_int_equal(s->tcp_connections, 1);
    const struct histogram *h = hist(fx, "10.0.0.1:80", HIST_TCP_RTT);
    assert_int_equal(h->count, 1);
    assert_int_equal(h->sum_ns, 3 * MS);
    /* a retransmitted SYN (same ISN) is not a second connection */
    send_at(fx, 200, 1, 6, CISN, 0, SYN, NULL, 0);
    assert_int_equal(s->tcp_connections, 1);
}

static void tcp_reset_answering_the_syn_is_a_refused_handshake(void **state)
{
    struct fixture *fx = *state;
    send_at(fx, 100, 1, 6, CISN, 0, SYN, NULL, 0);
    send_at(fx, 101, 0, 6, 0, CISN + 1, RST | ACK, NULL, 0);
    const struct server_stats *s = server(fx, "10.0.0.1:80");
    assert_int_equal(s->tcp_hs_failures[HS_FAIL_RESET], 1);
    assert_int_equal(s->tcp_resets, 0);
}

static void tcp_syn_without_answer_times_out(void **state)
{
    struct fixture *fx = *state;
    send_at(fx, 100, 1, 6, CISN, 0, SYN, NULL, 0);
    worker_tick(&fx->w, T0 + 100 * MS + fx->cfg.tcp_handshake_timeout_ns + 200 * MS);
    assert_int_equal(server(fx, "10.0.0.1:80")->tcp_hs_failures[HS_FAIL_TIMEOUT], 1);
}

static void tcp_data_sent_again_later_is_a_retransmission(void **state)
{
    struct fixture *fx = *state;
    handshake(fx, 100);
    static const char d[10] = "0123456789";
    send_at(fx, 110, 0, 6, SISN + 1, CISN + 1, ACK | PSH, d, sizeof d);
    send_at(fx, 400, 0, 6, SISN + 1, CISN + 1, ACK | PSH, d, sizeof d);
    const struct server_stats *s = server(fx, "10.0.0.1:80");
    assert_int_equal(s->tcp_data_segments, 2);
    assert_int_equal(s->tcp_retransmits, 1);
    /* a reset on the established connection counts once */
    send_at(fx, 500, 1, 6, CISN + 1, 0, RST, NULL, 0);
    send_at(fx, 501, 1, 6, CISN + 1, 0, RST, NULL, 0);
    assert_int_equal(s->tcp_resets, 1);
}

/* A SPAN session that mirrors both ports delivers every frame twice: the
 * copy is dropped (counted), a retransmission 100 us later (a new IPv4 ID)
 * is still one. */
static void span_copy_dropped_fast_retransmission_kept(void **state)
{
    struct fixture *fx = *state;
    handshake(fx, 100);
    static const char d[10] = "0123456789";
    ip_id = 500;
    send_at_ns(fx, 110 * MS, 0, 6, SISN + 1, CISN + 1, ACK | PSH, d, sizeof d);
    send_at_ns(fx, 110 * MS + 20000, 0, 6, SISN + 1, CISN + 1, ACK | PSH, d, sizeof d);
    const struct server_stats *s = server(fx, "10.0.0.1:80");
    assert_int_equal(fx->w.duplicates, 1);
    assert_int_equal(s->tcp_data_segments, 1);
    assert_int_equal(s->tcp_retransmits, 0);
    ip_id = 501;
    send_at_ns(fx, 110 * MS + 100000, 0, 6, SISN + 1, CISN + 1, ACK | PSH, d, sizeof d);
    assert_int_equal(fx->w.duplicates, 1);
    assert_int_equal(s->tcp_retransmits, 1);
    /* the same frame again after the window: not a copy any more */
    send_at_ns(fx, 110 * MS + 700000, 0, 6, SISN + 1, CISN + 1, ACK | PSH, d, sizeof d);
    assert_int_equal(fx->w.duplicates, 1);
    assert_int_equal(s->tcp_retransmits, 2);
}

/* ---- HTTP -------------------------------------------------------------- */

static void http_send(struct fixture *fx, uint64_t t, int to_server, uint32_t *seq, uint32_t ack,
                      const char *text)
{
    size_t n = strlen(text);
    send_at(fx, t, to_server, 6, *seq, ack, ACK | PSH, text, n);
    *seq += (uint32_t)n;
}

static void http_latency_and_server_time(void **state)
{
    struct fixture *fx = *state;
    handshake(fx, 100);
    uint32_t cseq = CISN + 1, sseq = SISN + 1;
    http_send(fx, 110, 1, &cseq, sseq, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    http_send(fx, 125, 0, &sseq, cseq, "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy");
    const struct server_stats *s = server(fx, "10.0.0.1:80");
    assert_int_equal(s->http_requests, 1);
    assert_int_equal(s->http_codes[503 - HTTP_CODE_MIN], 1);
    assert_int_equal(hist(fx, "10.0.0.1:80", HIST_HTTP)->sum_ns, 15 * MS);
    /* server time: latency less the server leg (SYN -> SYN-ACK, 1 ms, kept
     * per flow in 1.024 us units) */
    assert_int_equal(hist(fx, "10.0.0.1:80", HIST_HTTP_SERVER_TIME)->sum_ns,
                     15 * MS - ((1 * MS) >> 10 << 10));
    /* the response's size: head + body, recorded when the body ends */
    const struct histogram *b = hist(fx, "10.0.0.1:80", HIST_HTTP_RESP_BYTES);
    assert_int_equal(b->count, 1);
    assert_int_equal(b->sum_ns, strlen("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"));
}

static void http_pipelined_requests_are_answered_in_order(void **state)
{
    struct fixture *fx = *state;
    handshake(fx, 100);
    uint32_t cseq = CISN + 1, sseq = SISN + 1;
    http_send(fx, 110, 1, &cseq, sseq,
              "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    http_send(fx, 120, 0, &sseq, cseq, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    http_send(fx, 130, 0, &sseq, cseq, "HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n");
    const struct server_stats *s = server(fx, "10.0.0.1:80");
    assert_int_equal(s->http_requests, 2);
    uint64_t cls[6];
    server_http_classes(s, cls);
    assert_int_equal(cls[0], 2);
    assert_int_equal(cls[2], 1);
    assert_int_equal(cls[4], 1);
    /* both timed from the segment that completed both heads */
    assert_int_equal(hist(fx, "10.0.0.1:80", HIST_HTTP)->sum_ns, (10 + 20) * MS);
}

static void http_interim_response_does_not_answer_the_request(void **state)
{
    struct fixture *fx = *state;
    handshake(fx, 100);
    uint32_t cseq = CISN + 1, sseq = SISN + 1;
    http_send(fx, 110, 1, &cseq, sseq,
              "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    http_send(fx, 111, 0, &sseq, cseq, "HTTP/1.1 100 Continue\r\n\r\n");
    http_send(fx, 112, 1, &cseq, sseq, "hi");
    http_send(fx, 140, 0, &sseq, cseq, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    const struct server_stats *s = server(fx, "10.0.0.1:80");
    assert_int_equal(s->http_codes[100 - HTTP_CODE_MIN], 1);
    assert_int_equal(s->http_codes[201 - HTTP_CODE_MIN], 1);
    const struct histogram *h = hist(fx, "10.0.0.1:80", HIST_HTTP);
    assert_int_equal(h->count, 1);
    assert_int_equal(h->sum_ns, 30 * MS);
}

static void http_response_to_no_request_is_not_counted(void **state)
{
    struct fixture *fx = *state;
    handshake(fx, 100);
    uint32_t cseq = CISN + 1, sseq = SISN + 1;
    http_send(fx, 120, 0, &sseq, cseq, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    uint64_t cls[6];
    server_http_classes(server(fx, "10.0.0.1:80"), cls);
    assert_int_equal(cls[0], 0);
}

/* TCP Fast Open: the request rides on the SYN */
static void http_request_in_the_syn(void **state)
{
    struct fixture *fx = *state;
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    send_at(fx, 100, 1, 6, CISN, 0, SYN, req, strlen(req));
    send_at(fx, 101, 0, 6, SISN, CISN + 1 + (uint32_t)strlen(req), SYN | ACK, NULL, 0);
    send_at(fx, 103, 1, 6, CISN + 1 + (uint32_t)strlen(req), SISN + 1, ACK, NULL, 0);
    uint32_t cseq = CISN + 1 + (uint32_t)strlen(req), sseq = SISN + 1;
    http_send(fx, 120, 0, &sseq, cseq, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    const struct server_stats *s = server(fx, "10.0.0.1:80");
    assert_int_equal(s->tcp_connections, 1);
    assert_int_equal(s->http_requests, 1);
    assert_int_equal(s->http_codes[200 - HTTP_CODE_MIN], 1);
    assert_int_equal(hist(fx, "10.0.0.1:80", HIST_HTTP)->sum_ns, 20 * MS);
    assert_int_equal(s->tcp_retransmits, 0);
}

/* a request head the parser rejects still gets its 400 counted */
static void response_to_a_rejected_request_is_counted(void **state)
{
    struct fixture *fx = *state;
    handshake(fx, 100);
    uint32_t cseq = CISN + 1, sseq = SISN + 1;
    http_send(fx, 110, 1, &cseq, sseq, "GET / HTTP/1.1\r\nno colon here\r\n\r\n");
    http_send(fx, 115, 0, &sseq, cseq, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    const struct server_stats *s = server(fx, "10.0.0.1:80");
    assert_int_equal(s->http_requests, 1);
    assert_int_equal(s->http_codes[400 - HTTP_CODE_MIN], 1);
    assert_int_equal(hist(fx, "10.0.0.1:80", HIST_HTTP)->count, 0); /* no latency sample */
    assert_int_equal(fx->w.dec.errors[DERR_HTTP_BAD_HEADER], 1);
}

/* CONNECT: the request and its 200 are counted, then the tunnel's bytes
 * are not HTTP */
static void connect_and_its_response_are_counted(void **state)
{
    struct fixture *fx = *state;
    handshake(fx, 100);
    uint32_t cseq = CISN + 1, sseq = SISN + 1;
    http_send(fx, 110, 1, &cseq, sseq, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n");
    http_send(fx, 112, 0, &sseq, cseq, "HTTP/1.1 200 Connection established\r\n\r\n");
    http_send(fx, 113, 1, &cseq, sseq, "\x16\x03\x01 not http at all\r\n\r\n");
    http_send(fx, 114, 0, &sseq, cseq, "HTTP/1.1 500 lookalike inside the tunnel\r\n\r\n");
    const struct server_stats *s = server(fx, "10.0.0.1:80");
    assert_int_equal(s->http_requests, 1);
    assert_int_equal(s->http_codes[200 - HTTP_CODE_MIN], 1);
    assert_int_equal(s->http_codes[500 - HTTP_CODE_MIN], 0);
    assert_int_equal(hist(fx, "10.0.0.1:80", HIST_HTTP)->sum_ns, 2 * MS);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(dns_response_matches_its_query),
        T(dns_retransmitted_query_keeps_the_first_time),
        T(dns_response_to_nothing_is_unmatched),
        T(dns_query_without_answer_times_out),
        T(tcp_handshake_rtt_is_syn_to_ack),
        T(tcp_reset_answering_the_syn_is_a_refused_handshake),
        T(tcp_syn_without_answer_times_out),
        T(tcp_data_sent_again_later_is_a_retransmission),
        T(span_copy_dropped_fast_retransmission_kept),
        T(http_latency_and_server_time),
        T(http_pipelined_requests_are_answered_in_order),
        T(http_interim_response_does_not_answer_the_request),
        T(http_response_to_no_request_is_not_counted),
        T(http_request_in_the_syn),
        T(response_to_a_rejected_request_is_counted),
        T(connect_and_its_response_are_counted),
    };
#undef T
    return cmocka_run_group_tests_name("analyzers", tests, NULL, NULL);
}
