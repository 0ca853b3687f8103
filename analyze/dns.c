/*
 * dns.c — DNS query/response matching, over UDP and over TCP.
 *
 * DNS (UDP, port 53): a query is remembered in the worker's pending table
 * keyed by (flow, ID, question); a response takes the oldest matching query,
 * so duplicate IDs on other client ports (other flows) never cross-match,
 * and a response matching nothing is counted as unmatched, not as a
 * response. Queries still waiting after limits.dns_timeout of packet time are
 * timeouts. Latency is query packet -> response packet.
 *
 * DNS over TCP: 2-byte length prefix, several messages per segment or one
 * message over several, matched like UDP.
 */
#include <string.h>

#include "analyze/internal.h"
#include "decode/dns.h"

static enum dns_rcode_class rcode_class(uint8_t rc)
{
    return rc <= 5 ? (enum dns_rcode_class)rc : RCODE_OTHER;
}

void dns_message(struct worker *w, struct flow *f, uint8_t dir, struct bytes payload)
{
    struct dns_msg m;
    enum decode_error e = dns_parse(payload, &m);
    if (e != DECODE_OK) {
        w->dec.errors[e]++;
        return;
    }
    struct flow_ref ref = flow_table_ref(&w->flows, f);
    if (!m.qr) {
        uint32_t srv = flow_server(w, f, dir);
        struct server_stats *s = server_for_sample(&w->servers, srv);
        s->seen_dns = 1;
        s->dns_queries++;
        /* a retransmitted query keeps the first one's time */
        if (m.has_question && pending_has(&w->dns_pending, ref, f->hash, m.id, m.qhash))
            return;
        struct flow_app *fa = flow_app(f);
        if (fa->dns_waiting < UINT16_MAX)
            fa->dns_waiting++;
        f->done = 0;
        struct pending_entry dropped;
        if (pending_add(&w->dns_pending, ref, f->hash, m.id, m.qhash, w->pkt_ns, srv, &dropped))
            w->dec.errors[DERR_DNS_PENDING_FULL]++;
        return;
    }
    uint32_t srv = flow_server(w, f, dir ^ 1);
    struct pending_entry *q = pending_take(&w->dns_pending, ref, f->hash, m.id, m.qhash, !m.has_question);
    struct server_stats *s = server_for_sample(&w->servers, q ? q->server : srv);
    s->seen_dns = 1;
    if (!q) {
        s->dns_unmatched++;
        return;
    }
    s->dns_responses[rcode_class(m.rcode)]++;
    hist_record(server_hist(&w->servers, q->server, HIST_DNS), ts_since(w->pkt_ns, q->ts_ns));
    /* every query of this flow answered: it may go after closed_flow_timeout */
    struct flow_app *fa = flow_app(f);
    if (fa->dns_waiting && --fa->dns_waiting == 0 && f->key.proto == 17)
        f->done = 1;
}

void analyze_udp(struct worker *w, struct flow *f, uint8_t dir, const struct decoded *d)
{
    if (d->udp.sport != DNS_PORT && d->udp.dport != DNS_PORT)
        return;
    /* both ports 53 (server to server): the query tells which way it goes */
    dns_message(w, f, dir, d->udp.payload);
}

/* One step of the DNS-over-TCP reader. */
size_t dns_tcp_step(struct deliver_ctx *c, struct bytes v)
{
    struct flow_app *fa = flow_app(c->f);
    struct msg_dir *md = &fa->msg[c->dir];
    uint16_t len;
    size_t want, n;

    switch (md->state) {
    case MS_START:
        if (!rd_u16be(&v, 0, &len))
            return 0;
        if (len < DNS_HEADER_LEN) {
            c->w->dec.errors[DERR_DNS_TCP_BAD_LENGTH]++;
            md->state = MS_LOST;
            return v.len;
        }
        md->remaining = len;
        md->state = MS_DNS_MSG;
        return 2;
    case MS_DNS_MSG:
        /* header and question sit in the first 512 bytes */
        want = md->remaining < 512 ? (size_t)md->remaining : 512;
        if (v.len < want)
            return 0;
        dns_message(c->w, c->f, c->dir, bytes_make(v.p, want));
        n = v.len < md->remaining ? v.len : (size_t)md->remaining;
        md->remaining -= n;
        md->state = md->remaining ? MS_DNS_SKIP : MS_START;
        return n;
    case MS_DNS_SKIP:
        n = v.len < md->remaining ? v.len : (size_t)md->remaining;
        md->remaining -= n;
        if (!md->remaining)
            md->state = MS_START;
        return n;
    default: /* MS_LOST */
        return v.len;
    }
}

static void dns_timed_out(void *ctx, const struct pending_entry *e)
{
    struct worker *w = ctx;
    server_for_sample(&w->servers, e->server)->dns_timeouts++;
}

void dns_expire(struct worker *w)
{
    pending_expire(&w->dns_pending, w->now_ns, w->cfg->dns_timeout_ns, dns_timed_out, w);
}
