/*
 * analyzers.c — DNS query/response matching and TCP connection tracking.
 *
 * DNS (UDP, port 53): a query is remembered in the worker's pending table
 * keyed by (flow, ID, question); a response takes the oldest matching query,
 * so duplicate IDs on other client ports (other flows) never cross-match,
 * and a response matching nothing is counted as unmatched, not as a
 * response. Queries still waiting after limits.dns_timeout of packet time are
 * timeouts. Latency is query packet -> response packet.
 *
 * TCP: the first SYN decides the client and the server (the SYN's
 * destination) and counts one connection attempt; SYN retransmissions do
 * not count again. Handshake RTT is first SYN -> the client's ACK that
 * completes the handshake. A RST from the server answering the SYN is a
 * handshake failure (reset); no SYN-ACK within limits.tcp_handshake_timeout
 * is one (timeout). A RST on an established connection counts once per
 * connection. A data segment that starts before the highest sequence number
 * already seen in its direction is a retransmission (keep-alive probes of
 * one byte at next-1 are not).
 */
#include "analyzers.h"

#include <string.h>

#include "../decode/dns.h"
#include "flow_app.h"

#define DNS_PORT 53

static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static uint32_t flow_server(struct worker *w, struct flow *f, uint8_t server_side_dir,
                            const struct decoded *d)
{
    /* server_side_dir: direction of packets *towards* the server */
    struct flow_app *fa = flow_app(f);
    if (!fa->server) {
        const struct ip_addr *a = server_side_dir == 0 ? &f->key.hi : &f->key.lo;
        uint16_t port = server_side_dir == 0 ? f->key.hi_port : f->key.lo_port;
        fa->server = server_registry_endpoint(&w->servers, a, port) + 1;
        fa->client_dir = server_side_dir;
    }
    (void)d;
    return fa->server - 1;
}

static enum dns_rcode_class rcode_class(uint8_t rc)
{
    return rc <= 5 ? (enum dns_rcode_class)rc : RCODE_OTHER;
}

/* ------------------------------------------------------------------ DNS */

static void dns_message(struct worker *w, struct flow *f, uint8_t dir, struct bytes payload)
{
    struct dns_msg m;
    enum decode_error e = dns_parse(payload, &m);
    if (e != DECODE_OK) {
        w->dec.errors[e]++;
        return;
    }
    struct flow_ref ref = flow_table_ref(&w->flows, f);
    if (!m.qr) {
        uint32_t srv = flow_server(w, f, dir, NULL);
        struct server_stats *s = server_for_sample(&w->servers, srv);
        s->seen_dns = 1;
        s->dns_queries++;
        /* a retransmitted query keeps the first one's time */
        if (m.has_question && pending_has(&w->dns_pending, ref, m.id, m.qhash))
            return;
        struct pending_entry dropped;
        if (pending_add(&w->dns_pending, ref, m.id, m.qhash, w->now_ns, srv, &dropped))
            w->dec.errors[DERR_DNS_PENDING_FULL]++;
        return;
    }
    uint32_t srv = flow_server(w, f, dir ^ 1, NULL);
    struct pending_entry *q = pending_take(&w->dns_pending, ref, m.id, m.qhash, !m.has_question);
    struct server_stats *s = server_for_sample(&w->servers, q ? q->server : srv);
    s->seen_dns = 1;
    if (!q) {
        s->dns_unmatched++;
        return;
    }
    s->dns_responses[rcode_class(m.rcode)]++;
    hist_record(server_hist(&w->servers, q->server, HIST_DNS), w->now_ns - q->ts_ns);
}

void analyze_udp(struct worker *w, struct flow *f, uint8_t dir, const struct decoded *d)
{
    if (d->udp.sport != DNS_PORT && d->udp.dport != DNS_PORT)
        return;
    /* both ports 53 (server to server): the query tells which way it goes */
    dns_message(w, f, dir, d->udp.payload);
}

/* ------------------------------------------------------------------ TCP */

static void tcp_new_connection(struct worker *w, struct flow *f, uint8_t dir,
                               const struct tcp_result *t)
{
    struct flow_app *fa = flow_app(f);
    /* a new SYN on a finished 4-tuple is a new connection */
    memset(fa, 0, sizeof *fa);
    uint32_t srv = flow_server(w, f, dir, NULL);
    fa->tcp_state = TCPS_SYN_SENT;
    fa->syn_ns = w->now_ns;
    fa->isn[dir] = t->seq;
    fa->next_seq[dir] = t->seq + 1;
    fa->seq_valid[dir] = 1;
    struct server_stats *s = server_for_sample(&w->servers, srv);
    s->seen_tcp = 1;
    s->tcp_connections++;
    struct pending_entry dropped;
    if (pending_add(&w->syn_pending, flow_table_ref(&w->flows, f), 0, 0, w->now_ns, srv,
                    &dropped)) {
        /* cannot time this handshake any more: count it as timed out */
        server_for_sample(&w->servers, dropped.server)->tcp_hs_failures[HS_FAIL_TIMEOUT]++;
    }
}

static void tcp_track_seq(struct worker *w, struct flow_app *fa, uint8_t dir,
                          const struct tcp_result *t)
{
    uint32_t len = t->payload_len;
    uint32_t end = t->seq + len + ((t->flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
    if (len > 0 && fa->seq_valid[dir] && seq_lt(t->seq, fa->next_seq[dir]) &&
        !(len == 1 && t->seq == fa->next_seq[dir] - 1)) {
        struct server_stats *s = server_for_sample(&w->servers, fa->server - 1);
        s->tcp_retransmits++;
    }
    if (!fa->seq_valid[dir] || seq_lt(fa->next_seq[dir], end)) {
        fa->next_seq[dir] = end;
        fa->seq_valid[dir] = 1;
    }
}

void analyze_tcp(struct worker *w, struct flow *f, uint8_t dir, const struct decoded *d)
{
    const struct tcp_result *t = &d->tcp;
    struct flow_app *fa = flow_app(f);
    uint8_t fl = t->flags;

    if ((fl & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
        bool same_attempt = fa->tcp_state != TCPS_NONE && dir == fa->client_dir &&
                            fa->isn[dir] == t->seq;
        /* a SYN with a new ISN starts a new connection on this 4-tuple;
         * a retransmitted SYN (same ISN) is counted once */
        if (!same_attempt && (fa->tcp_state == TCPS_NONE || dir == fa->client_dir ||
                              fa->tcp_state == TCPS_CLOSED))
            tcp_new_connection(w, f, dir, t);
        return;
    }
    if (!fa->server) {
        /* picked up mid-connection: the SYN-ACK sender, else the lower port,
         * is the server */
        uint8_t to_server;
        if ((fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
            to_server = dir ^ 1;
        else
            to_server = t->dport <= t->sport ? dir : dir ^ 1;
        flow_server(w, f, to_server, d);
        fa->tcp_state = TCPS_MIDSTREAM;
        server_for_sample(&w->servers, fa->server - 1)->seen_tcp = 1;
    }
    uint32_t srv = fa->server - 1;

    if (fl & TCP_RST) {
        if (fa->tcp_state == TCPS_SYN_SENT && dir != fa->client_dir) {
            if (pending_take(&w->syn_pending, flow_table_ref(&w->flows, f), 0, 0, false))
                server_for_sample(&w->servers, srv)->tcp_hs_failures[HS_FAIL_RESET]++;
            fa->tcp_state = TCPS_CLOSED;
        } else if ((fa->tcp_state == TCPS_ESTABLISHED || fa->tcp_state == TCPS_MIDSTREAM ||
                    fa->tcp_state == TCPS_SYNACK) && !fa->reset_counted) {
            server_for_sample(&w->servers, srv)->tcp_resets++;
            fa->reset_counted = 1;
            fa->tcp_state = TCPS_CLOSED;
        }
        return;
    }
    if ((fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
        if (fa->tcp_state == TCPS_SYN_SENT && dir != fa->client_dir) {
            pending_take(&w->syn_pending, flow_table_ref(&w->flows, f), 0, 0, false);
            fa->tcp_state = TCPS_SYNACK;
            fa->isn[dir] = t->seq;
            fa->next_seq[dir] = t->seq + 1;
            fa->seq_valid[dir] = 1;
        }
        return;
    }
    if (fa->tcp_state == TCPS_SYNACK && dir == fa->client_dir && (fl & TCP_ACK) &&
        t->ack == fa->isn[dir ^ 1] + 1) {
        hist_record(server_hist(&w->servers, srv, HIST_TCP_RTT), w->now_ns - fa->syn_ns);
        fa->tcp_state = TCPS_ESTABLISHED;
    }
    tcp_track_seq(w, fa, dir, t);
    if (fl & TCP_FIN)
        fa->fin_seen[dir] = 1;
}

/* --------------------------------------------------------------- timers */

static void dns_timed_out(void *ctx, const struct pending_entry *e)
{
    struct worker *w = ctx;
    server_for_sample(&w->servers, e->server)->dns_timeouts++;
}

static void syn_timed_out(void *ctx, const struct pending_entry *e)
{
    struct worker *w = ctx;
    struct flow *f = flow_table_deref(&w->flows, e->flow);
    if (f)
        flow_app(f)->tcp_state = TCPS_CLOSED;
    server_for_sample(&w->servers, e->server)->tcp_hs_failures[HS_FAIL_TIMEOUT]++;
}

void analyzers_expire(struct worker *w)
{
    pending_expire(&w->dns_pending, w->now_ns, w->cfg->dns_timeout_ns, dns_timed_out, w);
    pending_expire(&w->syn_pending, w->now_ns, w->cfg->tcp_handshake_timeout_ns, syn_timed_out, w);
}

void analyzers_finish(struct worker *w)
{
    analyzers_expire(w);
}
