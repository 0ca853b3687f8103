/*
 * stream.c — TCP payload of HTTP, DNS and TLS flows: detected by port and
 * content, reassembled per direction (flow/tcp_stream.c) and read by the
 * message reader of its protocol (http.c, dns.c, tls.c). A gap (bytes lost
 * before the tap) makes the reader resynchronise (TLS: stop reading).
 */
#include <string.h>

#include "analyze/internal.h"
#include "decode/http.h"
#include "decode/tls.h"

static void on_gap(struct worker *w, struct flow *f, uint8_t dir)
{
    struct flow_app *fa = flow_app(f);
    stream_carry_drop(&w->streams, &fa->stream[dir]);
    if (fa->app == APP_DNS) {
        fa->msg[dir].state = MS_LOST;
        return;
    }
    if (fa->app == APP_TLS) {
        tls_on_gap(fa, dir);
        return;
    }
    http_on_gap(fa, dir);
}

/* TLS waits for up to a block of a record: joined with the carry in pieces
 * that fit one, so a large segment after a carried head is not a gap */
static void deliver_tls(struct deliver_ctx *c, struct stream_dir *sd, struct bytes data)
{
    struct stream_pool *pool = &c->w->streams;
    while (data.len) {
        size_t room = STREAM_BLOCK - (sd->carry ? sd->carry_len : 0);
        size_t take = data.len < room ? data.len : room;
        struct bytes v;
        stream_carry_join(pool, sd, bytes_make(data.p, take), &v);
        data = bytes_make(data.p + take, data.len - take);
        size_t off = 0;
        while (off < v.len) {
            size_t used = tls_step(c, bytes_make(v.p + off, v.len - off));
            if (!used)
                break;
            off += used;
        }
        if (off == v.len) {
            if (sd->carry)
                stream_carry_drop(pool, sd);
        } else if (!stream_carry_keep(pool, sd, bytes_make(v.p + off, v.len - off))) {
            c->w->dec.errors[DERR_STREAM_NO_MEMORY]++;
            on_gap(c->w, c->f, c->dir);
            return;
        }
    }
}

static void deliver(void *ctx, struct bytes data, bool after_gap)
{
    struct deliver_ctx *c = ctx;
    struct flow_app *fa = flow_app(c->f);
    struct stream_dir *sd = &fa->stream[c->dir];
    struct bytes v;

    if (after_gap)
        on_gap(c->w, c->f, c->dir);
    if (fa->app == APP_TLS) {
        deliver_tls(c, sd, data);
        return;
    }
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
    } else if (dir == fa->client_dir && tls_looks_like_client_hello(t->payload)) {
        fa->app = APP_TLS;
        memset(&fa->tls, 0, sizeof fa->tls);
        if (!fa->stream[dir].synced)
            stream_sync(&fa->stream[dir], t->seq);
        return;
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

void stream_payload(struct worker *w, struct flow *f, uint8_t dir, const struct tcp_result *t)
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

void stream_peer_ack(struct worker *w, struct flow *f, uint8_t dir, uint32_t ack)
{
    struct flow_app *fa = flow_app(f);
    struct stream_dir *peer = &fa->stream[dir ^ 1];
    /* the peer's FIN takes a sequence number but no byte: acknowledging
     * it is not evidence of a lost byte (covers a FIN seen out of order) */
    if (fa->fin_seen[dir ^ 1] && ack == peer->next + 1)
        return;
    struct deliver_ctx c = { w, f, (uint8_t)(dir ^ 1) };
    uint64_t gap = 0;
    stream_ack(&w->streams, peer, ack, deliver, &c, &gap);
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
    if (fa->app == APP_TLS)
        tls_flow_end(w, f, why);
    else
        http_flow_end(w, f, why);
}
