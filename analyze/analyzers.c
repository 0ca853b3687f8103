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
 * already seen in its direction is a retransmission — unless it is a
 * keep-alive probe (one byte at next-1) or out of order: it arrives within
 * the connection's first RTT (SYN -> SYN-ACK; 3 ms if unknown) of the
 * segment that advanced the sequence and does not end exactly there (the
 * rule tshark uses, so both count the same).
 *
 * TCP payload of HTTP and DNS flows is reassembled per direction
 * (decode/tcp_stream.c) and read by a small message state machine per
 * direction. HTTP: requests are queued (pipelining, up to HTTP_QUEUE) when
 * their head is complete; a response takes the oldest request; latency is
 * the request's head-complete packet -> the first packet of the response.
 * Bodies are framed by HEAD, 1xx/204/304, Transfer-Encoding: chunked,
 * Content-Length, else the end of the connection. 1xx interim responses
 * (100-continue) are counted with their code but do not answer the request.
 * After a gap (bytes lost before the tap) both directions resynchronise on
 * the next message start and queued requests are dropped, so no latency
 * sample spans a gap. DNS over TCP: 2-byte length prefix, several messages
 * per segment or one message over several, matched like UDP.
 */
#include "analyze/analyzers.h"

#include <string.h>

#include "decode/dns.h"
#include "decode/http.h"
#include "analyze/flow_app.h"

#define DNS_PORT 53

static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

/* Timestamps kept per flow are in 1.024 us units (ns >> 10): 32 bits wrap
 * after 73 minutes, far beyond any time compared with them. */
static inline uint32_t time_t10(uint64_t ns)
{
    return (uint32_t)(ns >> 10);
}

/* later - earlier in those units, 0 if the packets are stamped the other
 * way round (as ts_since) */
static inline uint32_t t10_since(uint32_t later, uint32_t earlier)
{
    int32_t d = (int32_t)(later - earlier);
    return d > 0 ? (uint32_t)d : 0;
}

/* The connection's server leg (SYN -> SYN-ACK at the tap) in ns; 0 when the
 * handshake was not seen. */
static inline uint64_t server_leg_ns(const struct flow_app *fa)
{
    return (uint64_t)fa->first_rtt_t << 10;
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
    uint32_t srv = flow_server(w, f, dir ^ 1, NULL);
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

/* --------------------------------------------------- HTTP / DNS over TCP */

struct deliver_ctx {
    struct worker *w;
    struct flow *f;
    uint8_t dir;
};

static void http_drop_queue(struct flow_app *fa)
{
    fa->q_head = 0;
    fa->q_len = 0;
}

/* The server an HTTP sample belongs to: a Host-matched group, else the flow's. */
static uint32_t http_server_of(struct flow_app *fa)
{
    uint32_t hs = fa->msg[fa->client_dir].http_server;
    return hs ? hs - 1 : fa->server - 1;
}

static void http_request(struct worker *w, struct flow *f, const struct http_msg *m)
{
    struct flow_app *fa = flow_app(f);
    if (server_registry_has_host_groups(&w->servers)) {
        /* packets towards the server carry the server's endpoint as dst */
        const struct ip_addr *a = fa->client_dir == 0 ? &f->key.hi : &f->key.lo;
        uint16_t port = fa->client_dir == 0 ? f->key.hi_port : f->key.lo_port;
        uint32_t hs = server_registry_http(&w->servers, a, port, m->host.p, m->host.len,
                                           fa->server - 1);
        fa->msg[fa->client_dir].http_server = hs + 1;
    }
    struct server_stats *s = server_for_sample(&w->servers, http_server_of(fa));
    s->seen_http = 1;
    s->http_requests++;
    if (fa->q_len == HTTP_QUEUE) {
        w->dec.errors[DERR_HTTP_PIPELINE_FULL]++;
        return;
    }
    unsigned slot = (fa->q_head + fa->q_len) % HTTP_QUEUE;
    fa->req_ts[slot] = w->pkt_ns;
    fa->req_flags[slot] = (uint8_t)((m->method == HTTP_M_HEAD ? REQ_HEAD : 0) |
                                    (m->method == HTTP_M_CONNECT ? REQ_CONNECT : 0));
    fa->q_len++;
}

/* A response head: returns the flags of the request it answers (or 0). */
static uint8_t http_response(struct worker *w, struct flow *f, struct msg_dir *md,
                             const struct http_msg *m)
{
    struct flow_app *fa = flow_app(f);
    uint32_t srv = http_server_of(fa);
    struct server_stats *s = server_for_sample(&w->servers, srv);
    s->seen_http = 1;
    if (!fa->q_len)
        return 0; /* answers nothing we saw: not counted */
    s->http_codes[m->status - HTTP_CODE_MIN]++;
    if (m->status < 200 && m->status != 101)
        return 0xff; /* interim: the request still waits for its final answer */
    unsigned slot = fa->q_head;
    uint8_t flags = fa->req_flags[slot];
    uint64_t lat = ts_since(md->first_byte_ns, fa->req_ts[slot]);
    hist_record(server_hist(&w->servers, srv, HIST_HTTP), lat);
    /* server think time: the request's last byte and the response's first
     * byte both passed the tap, so the only network time in `lat` is the
     * path tap -> server -> tap, which the handshake measured (SYN ->
     * SYN-ACK); unknown (picked up mid-stream): nothing is taken off */
    uint64_t leg = server_leg_ns(fa);
    hist_record(server_hist(&w->servers, srv, HIST_HTTP_SERVER_TIME), lat > leg ? lat - leg : 0);
    fa->q_head = (uint8_t)((fa->q_head + 1) % HTTP_QUEUE);
    fa->q_len--;
    return flags | 0x80;
}

/* Response size: bytes are added while a matched response is read and
 * recorded when it ends (or when the connection does, for a body delimited
 * by the close or cut short). Only a response head sets `sizing`, so these
 * do nothing in the client direction, whose msg_bytes is http_server. */
static void resp_bytes_add(struct msg_dir *md, uint64_t n)
{
    if (md->sizing)
        md->msg_bytes = n > UINT32_MAX - md->msg_bytes ? UINT32_MAX : md->msg_bytes + (uint32_t)n;
}

static void resp_bytes_done(struct worker *w, struct flow *f, struct msg_dir *md)
{
    if (!md->sizing)
        return;
    md->sizing = 0;
    hist_record(server_hist(&w->servers, http_server_of(flow_app(f)), HIST_HTTP_RESP_BYTES),
                md->msg_bytes);
}

/* One step of the HTTP reader on v; returns bytes used, 0 = needs more. */
static size_t http_step(struct deliver_ctx *c, struct bytes v)
{
    struct worker *w = c->w;
    struct flow_app *fa = flow_app(c->f);
    struct msg_dir *md = &fa->msg[c->dir];
    int request = c->dir == fa->client_dir;
    enum decode_error err;
    struct http_msg m;
    uint64_t n;
    size_t used;

    switch (md->state) {
    case MS_START:
        if (!md->first_byte_ns)
            md->first_byte_ns = w->pkt_ns;
        switch (http_parse_head(v, request, &m, &err)) {
        case HTTP_NEED_MORE:
            return 0;
        case HTTP_ERROR:
            w->dec.errors[err]++;
            md->state = MS_RESYNC;
            md->first_byte_ns = 0;
            return v.len;
        case HTTP_COMPLETE:
            break;
        }
        md->state = MS_START;
        if (request) {
            md->first_byte_ns = 0;
            http_request(w, c->f, &m);
            if (m.chunked)
                md->state = MS_CHUNK_SIZE;
            else if (m.content_length > 0) {
                md->state = MS_BODY_LEN;
                md->remaining = (uint64_t)m.content_length;
            }
        } else {
            uint8_t rf = http_response(w, c->f, md, &m);
            md->first_byte_ns = 0;
            md->sizing = 0;
            if (rf == 0xff || (m.status >= 100 && m.status < 200 && m.status != 101)) {
                md->state = MS_START; /* interim: a final response follows */
                return m.head_len;
            }
            /* a final response that answered a request: size it */
            md->sizing = (rf & 0x80) != 0;
            md->msg_bytes = (uint32_t)m.head_len;
            if (m.status == 101 || ((rf & REQ_CONNECT) && m.status / 100 == 2)) {
                md->state = MS_TUNNEL;
                md->sizing = 0;
                fa->msg[c->dir ^ 1].state = MS_TUNNEL;
            } else if ((rf & REQ_HEAD) || m.status == 204 || m.status == 304) {
                md->state = MS_START;
            } else if (m.chunked) {
                md->state = MS_CHUNK_SIZE;
            } else if (m.content_length >= 0) {
                md->state = m.content_length ? MS_BODY_LEN : MS_START;
                md->remaining = (uint64_t)m.content_length;
            } else {
                md->state = MS_BODY_CLOSE;
            }
            if (md->state == MS_START)
                resp_bytes_done(w, c->f, md);
        }
        return m.head_len;
    case MS_BODY_LEN:
    case MS_CHUNK_DATA:
        n = md->remaining < v.len ? md->remaining : v.len;
        md->remaining -= n;
        resp_bytes_add(md, n);
        if (!md->remaining) {
            md->state = md->state == MS_BODY_LEN ? MS_START : MS_CHUNK_CRLF;
            if (md->state == MS_START)
                resp_bytes_done(w, c->f, md);
        }
        return (size_t)n;
    case MS_CHUNK_SIZE:
        switch (http_parse_chunk_line(v, &n, &used, &err)) {
        case HTTP_NEED_MORE:
            return 0;
        case HTTP_ERROR:
            w->dec.errors[err]++;
            md->state = MS_RESYNC;
            return v.len;
        case HTTP_COMPLETE:
            break;
        }
        md->remaining = n;
        md->state = n ? MS_CHUNK_DATA : MS_TRAILERS;
        return used;
    case MS_CHUNK_CRLF:
    case MS_TRAILERS: {
        const uint8_t *nl = memchr(v.p, '\n', v.len);
        if (!nl)
            return v.len > 1024 ? (md->state = MS_RESYNC, v.len) : 0;
        used = (size_t)(nl - v.p) + 1;
        size_t line = used - 1 - (used >= 2 && v.p[used - 2] == '\r');
        if (md->state == MS_CHUNK_CRLF) {
            if (line != 0) {
                w->dec.errors[DERR_HTTP_BAD_CHUNK]++;
                md->state = MS_RESYNC;
                return v.len;
            }
            md->state = MS_CHUNK_SIZE;
        } else if (line == 0) {
            md->state = MS_START;
            resp_bytes_done(w, c->f, md);
        }
        return used;
    }
    case MS_RESYNC:
        if (request ? http_looks_like_request(v) : http_looks_like_response(v)) {
            md->state = MS_START;
            return 0; /* the caller re-runs this data as a message head */
        }
        return v.len;
    default: /* MS_BODY_CLOSE, MS_TUNNEL (never sized) */
        resp_bytes_add(md, v.len);
        return v.len;
    }
}

/* One step of the DNS-over-TCP reader. */
static size_t dns_tcp_step(struct deliver_ctx *c, struct bytes v)
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

static void on_gap(struct worker *w, struct flow *f, uint8_t dir)
{
    struct flow_app *fa = flow_app(f);
    stream_carry_drop(&w->streams, &fa->stream[dir]);
    if (fa->app == APP_DNS) {
        fa->msg[dir].state = MS_LOST;
        return;
    }
    fa->msg[dir].state = MS_RESYNC;
    fa->msg[dir].first_byte_ns = 0;
    fa->msg[dir].sizing = 0; /* bytes missing: the size is unknown */
    http_drop_queue(fa);
}

static void deliver(void *ctx, struct bytes data, bool after_gap)
{
    struct deliver_ctx *c = ctx;
    struct flow_app *fa = flow_app(c->f);
    struct stream_dir *sd = &fa->stream[c->dir];
    struct bytes v;

    if (after_gap)
        on_gap(c->w, c->f, c->dir);
    if (!stream_carry_join(&c->w->streams, sd, data, &v)) {
        /* the carried head grew past a block: it cannot be a sane head */
        c->w->dec.errors[fa->app == APP_DNS ? DERR_DNS_TCP_BAD_LENGTH
                                            : DERR_HTTP_HEADER_TOO_LARGE]++;
        on_gap(c->w, c->f, c->dir);
        v = data;
    }
    size_t off = 0;
    while (off < v.len) {
        struct bytes rest = bytes_make(v.p + off, v.len - off);
        uint8_t before = fa->msg[c->dir].state;
        size_t used = fa->app == APP_DNS ? dns_tcp_step(c, rest) : http_step(c, rest);
        if (used == 0) {
            if (before == MS_RESYNC && fa->msg[c->dir].state == MS_START)
                continue; /* resynchronised: read the head now */
            break;
        }
        off += used;
    }
    if (off < v.len) {
        if (!stream_carry_keep(&c->w->streams, sd, bytes_make(v.p + off, v.len - off)))
            c->w->dec.errors[DERR_STREAM_NO_MEMORY]++;
    } else if (sd->carry) {
        stream_carry_drop(&c->w->streams, sd);
    }
}

static void app_detect(struct flow *f, uint8_t dir, const struct tcp_result *t)
{
    struct flow_app *fa = flow_app(f);
    if (t->sport == DNS_PORT || t->dport == DNS_PORT) {
        fa->app = APP_DNS;
    } else if (dir == fa->client_dir ? http_looks_like_request(t->payload)
                                     : http_looks_like_response(t->payload)) {
        fa->app = APP_HTTP;
    } else {
        fa->app = APP_NONE;
        return;
    }
    for (int d = 0; d < 2; d++) {
        /* picked up mid-stream: start where we are */
        if (!fa->stream[d].synced && d == dir)
            stream_sync(&fa->stream[d], t->seq);
        fa->msg[d].state = MS_START;
    }
}

static void tcp_payload(struct worker *w, struct flow *f, uint8_t dir, const struct tcp_result *t)
{
    struct flow_app *fa = flow_app(f);
    if (fa->app == APP_UNKNOWN)
        app_detect(f, dir, t);
    if (fa->app == APP_NONE)
        return;
    if (t->payload.len < t->payload_len) {
        /* cut by the snap length: the rest of the segment is a gap */
        struct deliver_ctx c = { w, f, dir };
        uint64_t gap = 0;
        stream_segment(&w->streams, &fa->stream[dir], t->seq, t->payload, deliver, &c, &gap);
        fa->stream[dir].next = t->seq + t->payload_len;
        server_for_sample(&w->servers, fa->server - 1)->tcp_stream_gaps +=
            gap + (t->payload_len - t->payload.len);
        on_gap(w, f, dir);
        return;
    }
    struct deliver_ctx c = { w, f, dir };
    uint64_t gap = 0;
    stream_segment(&w->streams, &fa->stream[dir], t->seq, t->payload, deliver, &c, &gap);
    if (gap)
        server_for_sample(&w->servers, fa->server - 1)->tcp_stream_gaps += gap;
}

void analyzers_flow_end(void *ctx, struct flow *f, enum flow_evict_reason why)
{
    struct worker *w = ctx;
    struct flow_app *fa = flow_app(f);
    if (f->key.proto != 6 || fa->app == APP_UNKNOWN || fa->app == APP_NONE)
        return;
    for (uint8_t d = 0; d < 2; d++) {
        struct deliver_ctx c = { w, f, d };
        uint64_t gap = 0;
        stream_flush(&w->streams, &fa->stream[d], deliver, &c, &gap);
        if (gap && fa->server)
            server_for_sample(&w->servers, fa->server - 1)->tcp_stream_gaps += gap;
        stream_release(&w->streams, &fa->stream[d]);
    }
    /* a response still being read when the connection ended: delimited by
     * the close, or cut short (what the client got is what is recorded).
     * Not when the table pushed the flow out: it may still be running. */
    struct msg_dir *md = &fa->msg[fa->client_dir ^ 1];
    if (fa->app == APP_HTTP && md->sizing && why != FLOW_EVICT_FULL)
        resp_bytes_done(w, f, md);
    md->sizing = 0;
}

/* ------------------------------------------------------------------ TCP */

static void tcp_new_connection(struct worker *w, struct flow *f, uint8_t dir,
                               const struct tcp_result *t)
{
    struct flow_app *fa = flow_app(f);
    /* a new SYN on a finished 4-tuple is a new connection */
    analyzers_flow_end(w, f, FLOW_EVICT_COUNT);
    memset(fa, 0, sizeof *fa);
    uint32_t srv = flow_server(w, f, dir, NULL);
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
    bool old = len > 0 && fa->seq_valid[dir] && seq_lt(t->seq, fa->next_seq[dir]);
    if (old && !(len == 1 && t->seq == fa->next_seq[dir] - 1)) {
        /* as Wireshark: data the peer has already acknowledged is a
         * (spurious) retransmission; else a segment within one initial RTT
         * of the highest one that does not end where it ends is out of
         * order; else a retransmission */
        uint8_t peer = dir ^ 1;
        bool acked = fa->lastack[peer] && !seq_lt(fa->lastack[peer], t->seq + len);
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
        } else if (fa->rtt_t && (t->flags & TCP_ACK) && !seq_lt(t->ack, fa->rtt_seq)) {
            uint64_t client_leg = (uint64_t)t10_since(pkt_t, fa->rtt_t) << 10;
            hist_record(server_hist(&w->servers, fa->server - 1, HIST_TCP_DATA_RTT),
                        client_leg + server_leg_ns(fa));
            fa->rtt_t = 0;
        }
    }
    if (!fa->seq_valid[dir] || seq_lt(fa->next_seq[dir], end)) {
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
    if ((fl & TCP_ACK) && (fa->app == APP_HTTP || fa->app == APP_DNS)) {
        struct stream_dir *peer = &fa->stream[dir ^ 1];
        /* the peer's FIN takes a sequence number but no byte: acknowledging
         * it is not evidence of a lost byte (covers a FIN seen out of order) */
        bool fin_ack = fa->fin_seen[dir ^ 1] && t->ack == peer->next + 1;
        if (!fin_ack) {
            struct deliver_ctx c = { w, f, (uint8_t)(dir ^ 1) };
            uint64_t gap = 0;
            stream_ack(&w->streams, peer, t->ack, deliver, &c, &gap);
            if (gap)
                server_for_sample(&w->servers, srv)->tcp_stream_gaps += gap;
        }
    }
    if (t->payload_len)
        tcp_payload(w, f, dir, t);
    if (fl & TCP_FIN) {
        fa->fin_seen[dir] = 1;
        if (fa->fin_seen[dir ^ 1])
            f->done = 1;
        /* in order: the FIN's sequence number follows the data */
        struct stream_dir *sd = &fa->stream[dir];
        if (sd->synced && sd->next == t->seq + t->payload_len)
            sd->next++;
    }
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
