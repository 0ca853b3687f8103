/*
 * http.c — HTTP/1.x over a reassembled TCP stream: a small message state
 * machine per direction. Requests are queued (pipelining, up to
 * HTTP_QUEUE) when their head is complete; a response takes the oldest
 * request; latency is the request's head-complete packet -> the first
 * packet of the response. Bodies are framed by HEAD, 1xx/204/304,
 * Transfer-Encoding: chunked, Content-Length, else the end of the
 * connection. 1xx interim responses (100-continue) are counted with their
 * code but do not answer the request. After a gap (bytes lost before the
 * tap) both directions resynchronise on the next message start and queued
 * requests are dropped, so no latency sample spans a gap.
 */
#include <string.h>

#include "analyze/internal.h"
#include "decode/http.h"

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
        uint32_t hs = server_registry_http(&w->servers, a, port, fa->tenant, fa->vlan,
                                           m->host.p, m->host.len,
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
    if (!fa->q_len) {
        /* answers a request line that was rejected: its code counts; else
         * it answers nothing we saw and is not counted */
        if (fa->rejected && m->status >= 200) {
            fa->rejected--;
            s->http_codes[m->status - HTTP_CODE_MIN]++;
        }
        return 0;
    }
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

/* A response head m: what follows it (body framing, a tunnel, nothing). */
static void http_response_head(struct worker *w, struct flow *f, uint8_t dir, struct msg_dir *md,
                               const struct http_msg *m)
{
    struct flow_app *fa = flow_app(f);
    uint8_t rf = http_response(w, f, md, m);
    md->first_byte_ns = 0;
    md->sizing = 0;
    if (rf == 0xff || (m->status >= 100 && m->status < 200 && m->status != 101)) {
        md->state = MS_START; /* interim: a final response follows */
        return;
    }
    /* a final response that answered a request: size it */
    md->sizing = (rf & 0x80) != 0;
    md->msg_bytes = (uint32_t)m->head_len;
    if (m->status == 101 || ((rf & REQ_CONNECT) && m->status / 100 == 2)) {
        md->state = MS_TUNNEL;
        md->sizing = 0;
        fa->msg[dir ^ 1].state = MS_TUNNEL;
    } else if ((rf & REQ_HEAD) || m->status == 204 || m->status == 304) {
        md->state = MS_START;
    } else if (m->chunked) {
        md->state = MS_CHUNK_SIZE;
    } else if (m->content_length >= 0) {
        md->state = m->content_length ? MS_BODY_LEN : MS_START;
        md->remaining = (uint64_t)m->content_length;
    } else {
        md->state = MS_BODY_CLOSE;
    }
    if (md->state == MS_START)
        resp_bytes_done(w, f, md);
}

/* A message head (MS_START) on v: returns the bytes used, 0 = needs more. */
static size_t http_head(struct deliver_ctx *c, struct bytes v)
{
    struct worker *w = c->w;
    struct flow_app *fa = flow_app(c->f);
    struct msg_dir *md = &fa->msg[c->dir];
    int request = c->dir == fa->client_dir;
    enum decode_error err;
    struct http_msg m;

    if (!md->first_byte_ns)
        md->first_byte_ns = w->pkt_ns;
    switch (http_parse_head(v, request, &m, &err)) {
    case HTTP_NEED_MORE:
        return 0;
    case HTTP_ERROR:
        w->dec.errors[err]++;
        md->state = MS_RESYNC;
        md->first_byte_ns = 0;
        /* a request the parser rejected (it began like one) is still a
         * request, and its response is counted under its status code when
         * it comes (no latency sample: the head was never complete) */
        if (request && http_looks_like_request(v)) {
            struct server_stats *s = server_for_sample(&w->servers, http_server_of(fa));
            s->seen_http = 1;
            s->http_requests++;
            if (fa->rejected < UINT8_MAX)
                fa->rejected++;
        }
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
        http_response_head(w, c->f, c->dir, md, &m);
    }
    return m.head_len;
}

/* One step of the HTTP reader on v; returns bytes used, 0 = needs more. */
size_t http_step(struct deliver_ctx *c, struct bytes v)
{
    struct worker *w = c->w;
    struct flow_app *fa = flow_app(c->f);
    struct msg_dir *md = &fa->msg[c->dir];
    int request = c->dir == fa->client_dir;
    enum decode_error err;
    uint64_t n;
    size_t used;

    switch (md->state) {
    case MS_START:
        return http_head(c, v);
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

void http_on_gap(struct flow_app *fa, uint8_t dir)
{
    fa->msg[dir].state = MS_RESYNC;
    fa->msg[dir].first_byte_ns = 0;
    fa->msg[dir].sizing = 0; /* bytes missing: the size is unknown */
    http_drop_queue(fa);
}

/* A response still being read when the connection ended: delimited by the
 * close, or cut short (what the client got is what is recorded). Not when
 * the table pushed the flow out: it may still be running. */
void http_flow_end(struct worker *w, struct flow *f, enum flow_evict_reason why)
{
    struct flow_app *fa = flow_app(f);
    struct msg_dir *md = &fa->msg[fa->client_dir ^ 1];
    if (fa->app == APP_HTTP && md->sizing && why != FLOW_EVICT_FULL)
        resp_bytes_done(w, f, md);
    md->sizing = 0;
}
