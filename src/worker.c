/*
 * worker.c — the packet path: decode, find the flow, count. Housekeeping
 * (idle-flow sweep, fragment timeouts) is driven by packet time and done in
 * small slices so no packet waits behind a full-table scan.
 */
#include "worker.h"

#include <string.h>

#include "../decode/frag.h"
#include "analyzers.h"

#define SWEEP_SLOTS_PER_PACKET 1
#define HOUSEKEEPING_INTERVAL_NS 100000000ull /* 100 ms of packet time */
#define TS_BACK_NS 1000000000ull                 /* 1 s */
#define TS_JUMP_NS 86400000000000ull             /* 1 day */

int worker_init(struct worker *w, unsigned id, const struct config *cfg, int linktype)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    w->cfg = cfg;
    if (server_registry_init(&w->servers, cfg) != 0)
        return -1;
    /* pending tables: sized for the flow table; they drop (and count) the
     * oldest entry rather than grow */
    uint32_t pend = cfg->max_flows < 65536 ? 65536 : cfg->max_flows;
    if (pending_init(&w->dns_pending, pend) != 0 || pending_init(&w->syn_pending, pend) != 0 ||
        stream_pool_init(&w->streams, cfg->max_stream_buffers) != 0) {
        worker_free(w);
        return -1;
    }
    w->dec.linktype = linktype;
    w->frags = frag_table_create(cfg->max_frag_datagrams, cfg->frag_timeout_ns);
    if (!w->frags) {
        worker_free(w);
        return -1;
    }
    w->dec.frags = w->frags;
    struct flow_table_config fc = {
        .max_flows = cfg->max_flows,
        .tcp_idle_ns = cfg->tcp_idle_timeout_ns,
        .udp_idle_ns = cfg->udp_idle_timeout_ns,
        .done_idle_ns = cfg->closed_flow_timeout_ns,
    };
    if (flow_table_init(&w->flows, &fc) != 0) {
        worker_free(w);
        return -1;
    }
    w->flows.on_evict = analyzers_flow_end;
    w->flows.evict_ctx = w;
    return 0;
}

void worker_free(struct worker *w)
{
    flow_table_free(&w->flows);
    frag_table_destroy(w->frags);
    w->frags = NULL;
    pending_free(&w->dns_pending);
    pending_free(&w->syn_pending);
    stream_pool_free(&w->streams);
    server_registry_free(&w->servers);
}

/* What prefetch_packet() worked out for a packet, reused by handle_l4()
 * when the decoder agrees (the common case): the key and hash are then
 * computed once per packet, not twice. */
struct peek {
    struct flow_key k;
    uint32_t hash;
    uint8_t dir;
    uint8_t ok;
};

static inline bool peek_matches(const struct peek *pk, const struct ip_addr *src, uint16_t sport,
                                const struct ip_addr *dst, uint16_t dport, uint8_t proto)
{
    if (!pk->ok || pk->k.proto != proto)
        return false;
    const struct ip_addr *a = pk->dir ? &pk->k.hi : &pk->k.lo, *b = pk->dir ? &pk->k.lo : &pk->k.hi;
    uint16_t ap = pk->dir ? pk->k.hi_port : pk->k.lo_port, bp = pk->dir ? pk->k.lo_port : pk->k.hi_port;
    return ap == sport && bp == dport && memcmp(a, src, sizeof *a) == 0 && memcmp(b, dst, sizeof *b) == 0;
}

static void handle_l4(struct worker *w, const struct decoded *d, const struct peek *pk)
{
    uint16_t sport = 0, dport = 0;
    uint8_t dir;
    bool created;
    struct flow_key k;
    const struct flow_key *key = &k;
    uint32_t hash;

    if (d->l4 == 6) {
        sport = d->tcp.sport;
        dport = d->tcp.dport;
    } else if (d->l4 == 17) {
        sport = d->udp.sport;
        dport = d->udp.dport;
    }
    if (peek_matches(pk, &d->ip.src, sport, &d->ip.dst, dport, d->l4)) {
        key = &pk->k; /* used in place: the peek ring slot outlives this packet */
        dir = pk->dir;
        hash = pk->hash;
    } else {
        flow_key_make(&k, &d->ip.src, sport, &d->ip.dst, dport, d->l4, &dir);
        hash = flow_key_hash(&k);
    }
    struct flow *f = flow_table_get(&w->flows, key, hash, w->now_ns, &created);
    if (created) {
        f->initiator = dir;
        f->vlan = d->l2.nvlan ? d->l2.vlan[0] : 0;
    }
    if (w->now_ns > f->last_ns)
        f->last_ns = w->now_ns;
    if (d->l4 == 6)
        analyze_tcp(w, f, dir, d);
    else if (d->l4 == 17)
        analyze_udp(w, f, dir, d);
}

/* Prefetch the flow-index slot, and for DNS over UDP the pending-query
 * bucket, that a packet will need, PREFETCH_AHEAD packets before it is
 * handled: both are random reads into tables of megabytes, and the wait for
 * them was the largest single cost of the packet path. Only the common case
 * is recognised (Ethernet, up to two VLAN tags, unfragmented IPv4 or IPv6
 * without extension headers, TCP or UDP); anything else is not prefetched.
 * Nothing is written, so a wrong guess costs only the prefetch. */
#define PREFETCH_AHEAD 4

static void prefetch_packet(struct worker *w, const struct sw_packet *p, struct peek *pk)
{
    const uint8_t *d = p->data;
    uint32_t n = p->caplen, off = 14;
    pk->ok = 0;
    if (w->dec.linktype != 1 /* DLT_EN10MB */ || n < 14)
        return;
    unsigned et = load_be16(d + 12);
    for (int i = 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++) {
        if (n < off + 4)
            return;
        et = load_be16(d + off + 2);
        off += 4;
    }
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    struct ip_addr src, dst;
    uint8_t proto;
    uint32_t l4;
    if (et == 0x0800) {
        const uint8_t *ip = d + off;
        if (n < off + 20 || (ip[0] >> 4) != 4 || (ip[6] & 0x3f) || ip[7])
            return;
        memcpy(src.b, v4mapped, 12);
        memcpy(dst.b, v4mapped, 12);
        memcpy(src.b + 12, ip + 12, 4);
        memcpy(dst.b + 12, ip + 16, 4);
        proto = ip[9];
        l4 = off + (uint32_t)(ip[0] & 0x0f) * 4;
    } else if (et == 0x86dd) {
        if (n < off + 40)
            return;
        proto = d[off + 6];
        memcpy(src.b, d + off + 8, 16);
        memcpy(dst.b, d + off + 24, 16);
        l4 = off + 40;
    } else {
        return;
    }
    if ((proto != 6 && proto != 17) || n < l4 + 4)
        return;
    uint16_t sport = load_be16(d + l4), dport = load_be16(d + l4 + 2);
    flow_key_make(&pk->k, &src, sport, &dst, dport, proto, &pk->dir);
    uint32_t h = flow_key_hash(&pk->k);
    pk->hash = h;
    pk->ok = 1;
    __builtin_prefetch(&w->flows.index[h & w->flows.mask]);
    if (proto == 17 && (sport == 53 || dport == 53) && n >= l4 + 10)
        pending_bucket_prefetch(&w->dns_pending, h, load_be16(d + l4 + 8));
}

static void housekeeping(struct worker *w)
{
    frag_expire(w->frags, w->now_ns, w->dec.errors);
    analyzers_expire(w);
    w->next_housekeeping_ns = w->now_ns + HOUSEKEEPING_INTERVAL_NS;
}

void worker_handle_burst(struct worker *w, const struct sw_packet *pkts, unsigned n)
{
    struct decoded d;
    /* ring of twice the distance: packet i's peek is pk[i % PEEK_RING], and
     * the prefetch for packet i + PREFETCH_AHEAD writes another slot, so the
     * current one is used in place, not copied */
#define PEEK_RING (2 * PREFETCH_AHEAD)
    struct peek pk[PEEK_RING];

    for (unsigned i = 0; i < n && i < PREFETCH_AHEAD; i++)
        prefetch_packet(w, &pkts[i], &pk[i]);
    for (unsigned i = 0; i < n; i++) {
        const struct sw_packet *p = &pkts[i];
        const struct peek *cur = &pk[i % PEEK_RING];
        if (i + PREFETCH_AHEAD < n)
            prefetch_packet(w, &pkts[i + PREFETCH_AHEAD], &pk[(i + PREFETCH_AHEAD) % PEEK_RING]);
        w->packets++;
        w->bytes += p->wirelen;
        w->pkt_ns = p->ts_ns;
        /* the clock never runs backwards, even in a badly merged capture;
         * a packet stamped more than TS_BACK_NS before it, or a jump of more
         * than TS_JUMP_NS ahead, is counted (both are handled: timers work
         * on the clock, and a jump makes them fire once, not per step) */
        if (p->ts_ns > w->now_ns) {
            if (w->now_ns && p->ts_ns - w->now_ns > TS_JUMP_NS)
                w->dec.errors[DERR_TS_JUMP]++;
            w->now_ns = p->ts_ns;
        } else if (w->now_ns - p->ts_ns > TS_BACK_NS) {
            w->dec.errors[DERR_TS_BACKWARDS]++;
        }
        if (w->first_ns == 0 || p->ts_ns < w->first_ns)
            w->first_ns = p->ts_ns;
        /* timers (DNS and handshake timeouts, fragments) every 100 ms of
         * packet time, checked per packet: a burst of a slow capture can
         * span seconds, and a timeout must land in its own alert window */
        if (w->now_ns >= w->next_housekeeping_ns)
            housekeeping(w);
        /* a window ends: evaluate it before this packet counts (once per
         * window, not per packet) */
        if (w->alerts) {
            if (!w->alerts->started)
                alerts_start(w->alerts, w->now_ns);
            if (alerts_due(w->alerts, w->now_ns))
                alerts_advance(w->alerts, &w->servers, w->now_ns);
        }
        switch (decode_packet(&w->dec, p->data, p->caplen, p->wirelen, w->now_ns, &d)) {
        case DECODE_STATUS_L4:
            handle_l4(w, &d, cur);
            break;
        case DECODE_STATUS_NOT_IP:
            w->not_ip++;
            break;
        case DECODE_STATUS_FRAG_HELD:
        case DECODE_STATUS_ERROR:
            break;
        }
    }
    flow_table_sweep(&w->flows, w->now_ns, n * SWEEP_SLOTS_PER_PACKET);
}

static void flow_end_of_input(void *ctx, struct flow *f)
{
    analyzers_flow_end(ctx, f, FLOW_EVICT_COUNT);
}

void worker_tick(struct worker *w, uint64_t now_ns)
{
    if (now_ns <= w->now_ns)
        return;
    w->now_ns = now_ns;
    flow_table_sweep(&w->flows, w->now_ns, 4096);
    housekeeping(w);
    if (w->alerts && alerts_due(w->alerts, w->now_ns))
        alerts_advance(w->alerts, &w->servers, w->now_ns);
}

void worker_finish(struct worker *w)
{
    housekeeping(w);
    flow_table_foreach(&w->flows, flow_end_of_input, w);
}

void worker_finish_alerts(struct worker *w)
{
    if (w->alerts)
        alerts_finish(w->alerts, &w->servers, w->now_ns);
}
