/*
 * tls.c — the cleartext part of TLS over a reassembled TCP stream, without
 * keys (README "HTTPS without keys").
 *
 * A connection is TLS when the client's first bytes are a handshake record
 * holding a ClientHello (any port). Each direction is read record by
 * record: handshake records still in the clear are parsed (up to
 * STREAM_BLOCK bytes of a record: a message cut there, or fragmented over
 * records, is passed over), every other record is skipped by its length.
 *
 * - Handshake time: the packet completing the ClientHello -> the one
 *   completing the ServerHello that answers it (after a HelloRetryRequest,
 *   from the second ClientHello).
 * - Result, counted once per connection with the version the server chose:
 *   ok (TLS <= 1.2: both sides sent ChangeCipherSpec; TLS 1.3: the client's
 *   first encrypted record, its Finished, went by), alert (a fatal
 *   cleartext alert, or an encrypted one, before that), reset (RST or FIN
 *   before that), timeout (none of these within limits.tls_handshake_timeout).
 * - Response time: the end of the client's latest application-data record
 *   of a burst -> the start of the server's next application-data record.
 *   In TLS 1.3 the server's records before the client's Finished are its
 *   encrypted handshake, the client's Finished is not a request, and the
 *   server's first records after it are taken as NewSessionTicket messages,
 *   not responses, as long as they have the length of the first of them (a
 *   server sends its tickets back to back, equal in size; at most
 *   TLS_TICKETS_MAX).
 * - TLS <= 1.2: the leaf certificate's notAfter (GnuTLS, analyze/cert.c).
 */
#include "analyze/internal.h"
#include "decode/tls.h"

#define TLS_TICKETS_MAX 4

static uint32_t tls_server(const struct flow_app *fa)
{
    return fa->tls.server ? fa->tls.server - 1 : fa->server - 1;
}

static struct server_stats *tls_stats(struct worker *w, const struct flow_app *fa)
{
    struct server_stats *s = server_for_sample(&w->servers, tls_server(fa));
    s->seen_tls = 1;
    return s;
}

static enum tls_version shown_version(const struct flow_app *fa)
{
    return (fa->tls.flags & TLS_F_SERVER_HELLO) ? (enum tls_version)fa->tls.version : TLSV_UNKNOWN;
}

/* the handshake's timeout entry leaves the pending table */
static void untrack(struct worker *w, struct flow *f)
{
    struct flow_app *fa = flow_app(f);
    if (fa->tls.flags & TLS_F_PENDING) {
        pending_take(&w->tls_pending, flow_table_ref(&w->flows, f), f->hash, 0, 0, false);
        fa->tls.flags &= (uint8_t)~TLS_F_PENDING;
    }
}

static void decide(struct worker *w, struct flow *f, enum tls_hs_result res)
{
    struct flow_app *fa = flow_app(f);
    if (!(fa->tls.flags & TLS_F_HELLO) || (fa->tls.flags & TLS_F_DECIDED))
        return;
    fa->tls.flags |= TLS_F_DECIDED;
    tls_stats(w, fa)->tls_handshakes[shown_version(fa)][res]++;
    untrack(w, f);
}

static void client_hello(struct deliver_ctx *c, struct bytes body)
{
    struct worker *w = c->w;
    struct flow_app *fa = flow_app(c->f);
    struct tls_client_hello ch;
    enum decode_error err;
    if (tls_parse_client_hello(body, &ch, &err) != TLS_COMPLETE) {
        w->dec.errors[err]++;
        return;
    }
    if (fa->tls.flags & TLS_F_DECIDED)
        return;
    if (!(fa->tls.flags & TLS_F_HELLO)) {
        fa->tls.flags |= TLS_F_HELLO;
        if (server_registry_has_sni_groups(&w->servers)) {
            const struct ip_addr *a = fa->client_dir == 0 ? &c->f->key.hi : &c->f->key.lo;
            uint16_t port = fa->client_dir == 0 ? c->f->key.hi_port : c->f->key.lo_port;
            fa->tls.server = server_registry_sni(&w->servers, a, port, fa->tenant, fa->vlan,
                                                 ch.sni.p, ch.sni.len, fa->server - 1) + 1;
        }
        struct pending_entry dropped;
        if (pending_add(&w->tls_pending, flow_table_ref(&w->flows, c->f), c->f->hash, 0, 0,
                        w->pkt_ns, tls_server(fa), &dropped))
            server_for_sample(&w->servers, dropped.server)
                ->tls_handshakes[TLSV_UNKNOWN][TLS_RES_TIMEOUT]++;
        fa->tls.flags |= TLS_F_PENDING;
    }
    tls_stats(w, fa);
    fa->tls.hello_ns = w->pkt_ns;
}

static void server_hello(struct deliver_ctx *c, struct bytes body)
{
    struct worker *w = c->w;
    struct flow_app *fa = flow_app(c->f);
    struct tls_server_hello sh;
    enum decode_error err;
    if (tls_parse_server_hello(body, &sh, &err) != TLS_COMPLETE) {
        w->dec.errors[err]++;
        return;
    }
    if (!(fa->tls.flags & TLS_F_HELLO) || (fa->tls.flags & (TLS_F_SERVER_HELLO | TLS_F_DECIDED)))
        return;
    fa->tls.version = (uint8_t)tls_version_of(sh.version);
    if (sh.hrr)
        return; /* the client answers with a second ClientHello */
    fa->tls.flags |= TLS_F_SERVER_HELLO;
    uint64_t t = ts_since(w->pkt_ns, fa->tls.hello_ns);
    hist_record(server_hist(&w->servers, tls_server(fa), HIST_TLS_HANDSHAKE), t);
    uint64_t leg = server_leg_ns(fa);
    if (leg) /* the server's own TLS work, when the TCP handshake was seen */
        hist_record(server_hist(&w->servers, tls_server(fa), HIST_TLS_SERVER_TIME),
                    t > leg ? t - leg : 0);
}

static void certificate(struct deliver_ctx *c, struct bytes body, bool whole)
{
    struct worker *w = c->w;
    struct flow_app *fa = flow_app(c->f);
    struct bytes der;
    enum decode_error err;
    int64_t not_after;
    if (!(fa->tls.flags & TLS_F_SERVER_HELLO) || fa->tls.version >= TLSV_1_3)
        return;
    if (tls_leaf_certificate(body, &der, &err) != TLS_COMPLETE) {
        if (whole) /* else the leaf is only cut short by what we hold */
            w->dec.errors[err]++;
        return;
    }
    if (cert_not_after(&w->certs, der, &not_after) != 0) {
        w->dec.errors[DERR_TLS_BAD_CERTIFICATE]++;
        return;
    }
    struct server_stats *s = tls_stats(w, fa);
    s->tls_cert_not_after = not_after;
    s->tls_cert_seen_ns = w->pkt_ns;
    s->tls_certificates++;
    int64_t now = (int64_t)(w->pkt_ns / 1000000000ull);
    hist_record(server_hist(&w->servers, tls_server(fa), HIST_TLS_CERT_LEFT),
                not_after > now ? (uint64_t)(not_after - now) : 0);
}

/* The handshake messages of a cleartext record (body: what we hold of it;
 * whole: all of it) */
static void handshake_record(struct deliver_ctx *c, struct bytes body, bool whole)
{
    struct flow_app *fa = flow_app(c->f);
    bool from_client = c->dir == fa->client_dir;
    size_t off = 0;
    while (off + TLS_HS_HEADER <= body.len) {
        uint8_t type = body.p[off];
        uint32_t len = (uint32_t)body.p[off + 1] << 16 | (uint32_t)body.p[off + 2] << 8 |
                       body.p[off + 3];
        struct bytes msg;
        bool complete = bytes_sub(&body, off + TLS_HS_HEADER, len, &msg);
        if (!complete) {
            /* continued in the next record, or past what we hold */
            if (type == TLS_HS_CERTIFICATE && !from_client)
                certificate(c, bytes_make(body.p + off + TLS_HS_HEADER,
                                          body.len - off - TLS_HS_HEADER), false);
            return;
        }
        if (type == TLS_HS_CLIENT_HELLO && from_client)
            client_hello(c, msg);
        else if (type == TLS_HS_SERVER_HELLO && !from_client)
            server_hello(c, msg);
        else if (type == TLS_HS_CERTIFICATE && !from_client)
            certificate(c, msg, true);
        off += TLS_HS_HEADER + len;
    }
    (void)whole;
}

static void alert_record(struct deliver_ctx *c, struct bytes body)
{
    struct worker *w = c->w;
    struct flow_app *fa = flow_app(c->f);
    uint8_t level = body.p[0], desc = body.p[1];
    if (level != 1 && level != 2) {
        w->dec.errors[DERR_TLS_BAD_ALERT]++;
        return;
    }
    enum tls_sender who = c->dir == fa->client_dir ? TLS_SENDER_CLIENT : TLS_SENDER_SERVER;
    tls_stats(w, fa)->tls_alerts[who][tls_alert_kind_of(desc)]++;
    if (level == 2)
        decide(w, c->f, TLS_RES_ALERT);
}

/* Are this direction's handshake records still in the clear? */
static bool cleartext_handshake(const struct flow_app *fa, const struct tls_dir *d)
{
    /* TLS <= 1.2 encrypts from ChangeCipherSpec on; TLS 1.3 sends its
     * encrypted handshake as application data (its compatibility CCS
     * changes nothing) */
    return !d->ccs || !(fa->tls.flags & TLS_F_SERVER_HELLO) || fa->tls.version >= TLSV_1_3;
}

static void record_start(struct deliver_ctx *c, const struct tls_record *r)
{
    struct worker *w = c->w;
    struct flow_app *fa = flow_app(c->f);
    struct tls_conn *t = &fa->tls;
    if (r->type == TLS_CT_CCS) {
        t->d[c->dir].ccs = 1;
        if ((t->flags & TLS_F_SERVER_HELLO) && t->version < TLSV_1_3 && t->d[0].ccs && t->d[1].ccs)
            decide(w, c->f, TLS_RES_OK);
    } else if (r->type == TLS_CT_APPDATA && c->dir != fa->client_dir) {
        if (t->flags & TLS_F_TICKETS) {
            if (!t->tickets || (r->len == t->ticket_len && t->tickets < TLS_TICKETS_MAX)) {
                t->ticket_len = r->len;
                t->tickets++;
                return; /* a session ticket: no answer to anything */
            }
            t->flags &= (uint8_t)~TLS_F_TICKETS;
        }
        if (t->flags & TLS_F_BURST)
            hist_record(server_hist(&w->servers, tls_server(fa), HIST_TLS_RESPONSE),
                        ts_since(w->pkt_ns, t->burst_ns));
        t->flags &= (uint8_t)~TLS_F_BURST;
    } else if (r->type == TLS_CT_ALERT && r->len != 2) {
        decide(w, c->f, TLS_RES_ALERT); /* encrypted: only once the handshake is over */
    }
}

static void record_end(struct deliver_ctx *c, uint8_t type)
{
    struct flow_app *fa = flow_app(c->f);
    struct tls_conn *t = &fa->tls;
    if (type != TLS_CT_APPDATA || c->dir != fa->client_dir || !(t->flags & TLS_F_SERVER_HELLO))
        return; /* before the ServerHello: 0-RTT early data, not timed */
    if (t->version >= TLSV_1_3 && !(t->flags & TLS_F_CLIENT_FIN)) {
        /* the client's Finished: not a request */
        t->flags |= TLS_F_CLIENT_FIN | TLS_F_TICKETS;
        decide(c->w, c->f, TLS_RES_OK);
        return;
    }
    t->flags |= TLS_F_BURST;
    t->burst_ns = c->w->pkt_ns;
}

size_t tls_step(struct deliver_ctx *c, struct bytes v)
{
    struct flow_app *fa = flow_app(c->f);
    struct tls_dir *d = &fa->tls.d[c->dir];
    if (d->lost)
        return v.len;
    if (d->skip) {
        size_t n = v.len < d->skip ? v.len : d->skip;
        d->skip = (uint16_t)(d->skip - n);
        if (!d->skip)
            record_end(c, d->rec_type);
        return n;
    }
    struct tls_record r;
    enum decode_error err;
    enum tls_result res = tls_parse_record_header(v, &r, &err);
    if (res == TLS_NEED_MORE)
        return 0;
    if (res == TLS_ERROR) {
        c->w->dec.errors[err]++;
        d->lost = 1;
        fa->tls.flags &= (uint8_t)~TLS_F_BURST;
        return v.len;
    }
    size_t whole = TLS_RECORD_HEADER + (size_t)r.len;
    size_t used = whole;
    bool parse = (r.type == TLS_CT_HANDSHAKE && cleartext_handshake(fa, d)) ||
                 (r.type == TLS_CT_ALERT && r.len == 2);
    if (parse) {
        /* wait for the record, or as much of it as a carry block holds */
        used = whole < STREAM_BLOCK ? whole : STREAM_BLOCK;
        if (v.len < used)
            return 0;
    } else if (used > v.len) {
        used = v.len;
    }
    d->rec_type = r.type;
    record_start(c, &r);
    if (parse) {
        struct bytes body = bytes_make(v.p + TLS_RECORD_HEADER, used - TLS_RECORD_HEADER);
        if (r.type == TLS_CT_ALERT)
            alert_record(c, body);
        else
            handshake_record(c, body, used == whole);
    }
    d->skip = (uint16_t)(whole - used);
    if (!d->skip)
        record_end(c, r.type);
    return used;
}

void tls_on_gap(struct flow_app *fa, uint8_t dir)
{
    /* record boundaries are lost for good in that direction; no sample
     * spans the gap */
    fa->tls.d[dir].lost = 1;
    fa->tls.flags &= (uint8_t)~TLS_F_BURST;
}

void tls_on_close(struct worker *w, struct flow *f)
{
    decide(w, f, TLS_RES_RESET);
}

void tls_flow_end(struct worker *w, struct flow *f, enum flow_evict_reason why)
{
    /* a handshake still undecided (a decided one left the pending table
     * then). Evicted (idle, table full): its timeout entry stays and fires
     * (the record's generation tells it the flow is gone). End of input,
     * or a new SYN reusing the record: the entry leaves with the
     * connection, whose outcome stays unknown (not counted) */
    if (why == FLOW_EVICT_COUNT)
        untrack(w, f);
}

static void tls_timed_out(void *ctx, const struct pending_entry *e)
{
    struct worker *w = ctx;
    struct flow *f = flow_table_deref(&w->flows, e->flow);
    if (f && flow_app(f)->app == APP_TLS) {
        flow_app(f)->tls.flags &= (uint8_t)~TLS_F_PENDING; /* the entry is gone already */
        decide(w, f, TLS_RES_TIMEOUT);
        return;
    }
    server_for_sample(&w->servers, e->server)->tls_handshakes[TLSV_UNKNOWN][TLS_RES_TIMEOUT]++;
}

void tls_expire(struct worker *w)
{
    pending_expire(&w->tls_pending, w->now_ns, w->cfg->tls_handshake_timeout_ns, tls_timed_out, w);
}
