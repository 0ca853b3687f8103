/*
 * tcp.c — TCP connection tracking.
 *
 * The first SYN decides the client and the server (the SYN's
 * destination) and counts one connection attempt; SYN retransmissions do
 * not count again. Handshake RTT is first SYN -> the client's ACK that
 * completes the handshake. A RST from the server answering the SYN is a
 * handshake failure (reset); no SYN-ACK within limits.tcp_handshake_timeout
 * is one (timeout). A RST on an established connection counts once per
 * connection. A data segment that starts before the highest sequence number
 * already seen in its direction is a retransmission — unless it is a
 * keep-alive probe (one byte at next-1) or out of order: it arrives within
 * the connection's first RTT (SYN -> SYN-ACK; 3 ms if unknown) of the
 * segment that advanced the sequence and does not end exactly there (the
 * rule tshark uses, so both count the same).
 */
#include <string.h>

#include "analyze/internal.h"

static void tcp_new_connection(struct worker *w, struct flow *f, uint8_t dir,
                               const struct tcp_result *t)
{
    struct flow_app *fa = flow_app(f);
    /* a new SYN on a finished 4-tuple is a new connection */
    analyzers_flow_end(w, f, FLOW_EVICT_COUNT);
    memset(fa, 0, sizeof *fa);
    uint32_t srv = flow_server(w, f, dir);
    fa->tcp_state = TCPS_SYN_SENT;
    fa->syn_ns = w->pkt_ns;
    fa->isn[dir] = t->seq;
    fa->next_seq[dir] = t->seq + 1;
    fa->seq_valid[dir] = 1;
    stream_sync(&fa->stream[dir], t->seq + 1);
    struct server_stats *s = server_for_sample(&w->servers, srv);
    s->seen_tcp = 1;
    s->tcp_connections++;
    struct pending_entry dropped;
    if (pending_add(&w->syn_pending, flow_table_ref(&w->flows, f), f->hash, 0, 0, w->pkt_ns, srv,
                    &dropped)) {
        /* cannot time this handshake any more: count it as timed out */
        server_for_sample(&w->servers, dropped.server)->tcp_hs_failures[HS_FAIL_TIMEOUT]++;
    }
}

/* TCP Fast Open (RFC 7413): data on a SYN (or SYN-ACK) is stream data; it
 * starts after the SYN's own sequence number: *syn_t is t moved past it,
 * for the payload step of analyze_tcp() (one call site keeps the stream
 * code inlined there). A SYN retransmitted with its data delivers nothing
 * twice (the stream has it). */
static const struct tcp_result *syn_data(struct flow_app *fa, uint8_t dir,
                                         const struct tcp_result *t, struct tcp_result *syn_t)
{
    *syn_t = *t;
    syn_t->seq = t->seq + 1;
    uint32_t end = syn_t->seq + t->payload_len;
    if (tcp_seq_lt(fa->next_seq[dir], end))
        fa->next_seq[dir] = end;
    return syn_t;
}

#define OOO_DEFAULT_T (3000000u >> 10) /* 3 ms */

/* Time from the latest SYN of this connection (the first, or the latest
 * retransmitted one in rtt_t) to now, in 1.024 us units: at the SYN-ACK
 * the server leg, at the handshake's ACK the initial RTT. */
static uint32_t since_latest_syn_t(const struct worker *w, const struct flow_app *fa)
{
    return fa->rtt_t ? t10_since(time_t10(w->pkt_ns), fa->rtt_t)
                     : time_t10(ts_since(w->pkt_ns, fa->syn_ns));
}

static void tcp_track_seq(struct worker *w, struct flow_app *fa, uint8_t dir,
                          const struct tcp_result *t)
{
    uint32_t len = t->payload_len;
    uint32_t end = t->seq + len + ((t->flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
    /* the retransmission / out-of-order split runs on the packets' own
     * timestamps, as Wireshark's does: a segment stamped before the one
     * that advanced next_seq (captures merged from several CPUs do that)
     * has a "negative" distance, which as an unsigned number is never
     * below the threshold, so it counts as a retransmission there too */
    uint32_t pkt_t = time_t10(w->pkt_ns);
    if (len > 0)
        w->servers.s[fa->server - 1].tcp_data_segments++;
    bool old = len > 0 && fa->seq_valid[dir] && tcp_seq_lt(t->seq, fa->next_seq[dir]);
    if (old && !(len == 1 && t->seq == fa->next_seq[dir] - 1)) {
        /* as Wireshark: data the peer has already acknowledged is a
         * (spurious) retransmission; else a segment within one initial RTT
         * of the highest one that does not end where it ends is out of
         * order; else a retransmission */
        uint8_t peer = dir ^ 1;
        bool acked = fa->lastack[peer] && !tcp_seq_lt(fa->lastack[peer], t->seq + len);
        uint32_t thres = (fa->flags & FA_HS_DONE) && fa->irtt_t ? fa->irtt_t : OOO_DEFAULT_T;
        bool out_of_order = !acked && pkt_t - fa->next_seq_t[dir] < thres &&
                            t->seq + len != fa->next_seq[dir];
        if (!out_of_order)
            server_for_sample(&w->servers, fa->server - 1)->tcp_retransmits++;
    }
    if (t->flags & TCP_ACK)
        fa->lastack[dir] = t->ack;
    /* data RTT: one server->client segment timed at a time, to the client's
     * ACK that covers it; never across a retransmission (Karn) */
    if (fa->tcp_state == TCPS_ESTABLISHED || fa->tcp_state == TCPS_MIDSTREAM) {
        if (dir != fa->client_dir) {
            if (old)
                fa->rtt_t = 0;
            else if (len > 0 && !fa->rtt_t) {
                fa->rtt_seq = t->seq + len;
                fa->rtt_t = pkt_t | 1;
            }
        } else if (fa->rtt_t && (t->flags & TCP_ACK) && !tcp_seq_lt(t->ack, fa->rtt_seq)) {
            uint64_t client_leg = (uint64_t)t10_since(pkt_t, fa->rtt_t) << 10;
            hist_record(server_hist(&w->servers, fa->server - 1, HIST_TCP_DATA_RTT),
                        client_leg + server_leg_ns(fa));
            fa->rtt_t = 0;
        }
    }
    if (!fa->seq_valid[dir] || tcp_seq_lt(fa->next_seq[dir], end)) {
        fa->next_seq[dir] = end;
        fa->seq_valid[dir] = 1;
        fa->next_seq_t[dir] = pkt_t;
    }
}

void analyze_tcp(struct worker *w, struct flow *f, uint8_t dir, const struct decoded *d)
{
    const struct tcp_result *t = &d->tcp;
    struct flow_app *fa = flow_app(f);
    uint8_t fl = t->flags;
    struct tcp_result syn_t;

    if ((fl & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
        bool same_attempt = fa->tcp_state != TCPS_NONE && dir == fa->client_dir &&
                            fa->isn[dir] == t->seq;
        /* a SYN with a new ISN starts a new connection on this 4-tuple;
         * a retransmitted SYN (same ISN) is counted once, and the server
         * leg is timed from it */
        if (!same_attempt && (fa->tcp_state == TCPS_NONE || dir == fa->client_dir ||
                              fa->tcp_state == TCPS_CLOSED))
            tcp_new_connection(w, f, dir, t);
        else if (same_attempt && fa->tcp_state == TCPS_SYN_SENT)
            fa->rtt_t = time_t10(w->pkt_ns) | 1;
        if (!t->payload_len || !fa->server)
            return;
        t = syn_data(fa, dir, t, &syn_t);
        goto payload;
    }
    if (!fa->server) {
        /* picked up mid-connection: the SYN-ACK sender, else the lower port,
         * is the server */
        uint8_t to_server;
        if ((fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
            to_server = dir ^ 1;
        else
            to_server = t->dport <= t->sport ? dir : dir ^ 1;
        flow_server(w, f, to_server);
        fa->tcp_state = TCPS_MIDSTREAM;
        server_for_sample(&w->servers, fa->server - 1)->seen_tcp = 1;
    }
    uint32_t srv = fa->server - 1;

    if (fl & TCP_RST) {
        if (fa->app == APP_TLS)
            tls_on_close(w, f);
        if (fa->tcp_state == TCPS_SYN_SENT && dir != fa->client_dir) {
            if (pending_take(&w->syn_pending, flow_table_ref(&w->flows, f), f->hash, 0, 0, false))
                server_for_sample(&w->servers, srv)->tcp_hs_failures[HS_FAIL_RESET]++;
            fa->tcp_state = TCPS_CLOSED;
        } else if ((fa->tcp_state == TCPS_ESTABLISHED || fa->tcp_state == TCPS_MIDSTREAM ||
                    fa->tcp_state == TCPS_SYNACK) && !(fa->flags & FA_RESET_COUNTED)) {
            server_for_sample(&w->servers, srv)->tcp_resets++;
            fa->flags |= FA_RESET_COUNTED;
            fa->tcp_state = TCPS_CLOSED;
        }
        f->done = 1;
        return;
    }
    if ((fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
        if (fa->tcp_state == TCPS_SYN_SENT && dir != fa->client_dir) {
            pending_take(&w->syn_pending, flow_table_ref(&w->flows, f), f->hash, 0, 0, false);
            fa->tcp_state = TCPS_SYNACK;
            fa->first_rtt_t = since_latest_syn_t(w, fa);
            fa->isn[dir] = t->seq;
            fa->next_seq[dir] = t->seq + 1;
            fa->seq_valid[dir] = 1;
            stream_sync(&fa->stream[dir], t->seq + 1);
            if (t->payload_len) {
                t = syn_data(fa, dir, t, &syn_t);
                goto payload;
            }
        }
        return;
    }
    if (fa->tcp_state == TCPS_SYNACK && dir == fa->client_dir && (fl & TCP_ACK) &&
        t->ack == fa->isn[dir ^ 1] + 1) {
        hist_record(server_hist(&w->servers, srv, HIST_TCP_RTT), ts_since(w->pkt_ns, fa->syn_ns));
        fa->irtt_t = since_latest_syn_t(w, fa); /* syn_ns is not needed any more */
        fa->flags |= FA_HS_DONE;
        fa->rtt_t = 0;
        fa->tcp_state = TCPS_ESTABLISHED;
    }
    tcp_track_seq(w, fa, dir, t);
    if ((fl & TCP_ACK) && (fa->app == APP_HTTP || fa->app == APP_DNS || fa->app == APP_TLS))
        stream_peer_ack(w, f, dir, t->ack);
payload:
    if (t->payload_len)
        stream_payload(w, f, dir, t);
    if (fl & TCP_FIN) {
        if (fa->app == APP_TLS)
            tls_on_close(w, f);
        fa->fin_seen[dir] = 1;
        if (fa->fin_seen[dir ^ 1])
            f->done = 1;
        /* in order: the FIN's sequence number follows the data */
        struct stream_dir *sd = &fa->stream[dir];
        if (sd->synced && sd->next == t->seq + t->payload_len)
            sd->next++;
    }
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
    dns_expire(w);
    tls_expire(w);
    pending_expire(&w->syn_pending, w->now_ns, w->cfg->tcp_handshake_timeout_ns, syn_timed_out, w);
}
