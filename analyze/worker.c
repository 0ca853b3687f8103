/*
 * worker.c — the packet path: decode, find the flow, count. Housekeeping
 * (idle-flow sweep, fragment timeouts) is driven by packet time and done in
 * small slices so no packet waits behind a full-table scan.
 */
#include "analyze/worker.h"

#include <string.h>

#include "flow/frag.h"
#include "analyze/analyzers.h"

#define SWEEP_SLOTS_PER_PACKET 1
#define SWEEP_EVERY 64 /* packets: the idle sweep runs every 64th packet */
#define HOUSEKEEPING_INTERVAL_NS 100000000ull /* 100 ms of packet time */
#define TS_BACK_NS 1000000000ull                 /* 1 s */
#define TS_JUMP_NS 86400000000000ull             /* 1 day */

/* The decoder's reassembly: an IP fragment is held until its datagram is
 * complete (at the decode stage's clock). */
static enum decode_status reassemble(void *ctx, const struct ip_result *ip, struct bytes *l4)
{
    struct worker *w = ctx;
    switch (frag_add(w->frags, ip, w->clock_ns, l4, w->dec.errors)) {
    case FRAG_HELD:
        return DECODE_STATUS_FRAG_HELD;
    case FRAG_DROPPED:
        return DECODE_STATUS_ERROR;
    default:
        return DECODE_STATUS_L4;
    }
}

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
        pending_init(&w->tls_pending, pend) != 0 || cert_cache_init(&w->certs) != 0 ||
        stream_pool_init(&w->streams, cfg->max_stream_buffers) != 0) {
        worker_free(w);
        return -1;
    }
    w->dec.linktype = linktype;
    w->dec.reassemble = reassemble;
    w->dec.reassemble_ctx = w;
    decoder_set_vxlan_ports(&w->dec, cfg->vxlan_ports, cfg->n_vxlan_ports);
    w->frags = frag_table_create(cfg->max_frag_datagrams, cfg->frag_timeout_ns);
    if (!w->frags || dedup_init(&w->dedup, cfg->dedup_window_ns) != 0) {
        worker_free(w);
        return -1;
    }
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
    dedup_free(&w->dedup);
    pending_free(&w->dns_pending);
    pending_free(&w->syn_pending);
    pending_free(&w->tls_pending);
    cert_cache_free(&w->certs);
    stream_pool_free(&w->streams);
    server_registry_free(&w->servers);
}

/* The packet path is a two-stage pipeline over a burst. Stage one decodes
 * a packet, computes its flow key and hash, and prefetches the flow-index
 * slot (and for DNS over UDP the pending-query bucket) it will need; stage
 * two handles it PIPE_DEPTH packets later, when those random reads into
 * tables of megabytes (the largest single cost of the packet path) have
 * arrived. Each packet is parsed once. Stage one touches only the decoder
 * and the fragment table (and their error counters), stage two everything
 * else, in packet order, so the result does not depend on the depth. */
#define PIPE_DEPTH 4 /* a power of two */

struct stage {
    struct decoded d;
    enum decode_status st;
    uint64_t ident;           /* SPAN de-duplication: the frame's identity, 0 = not checked */
    uint8_t dir;              /* key, dir and hash valid when st is L4 */
    uint32_t hash;
    struct flow_key k;
    uint64_t now_ns;          /* the worker clock at this packet */
    uint64_t ts_ns;           /* the packet's own timestamp */
    uint32_t wirelen;
};

static void housekeeping(struct worker *w)
{
    analyzers_expire(w);
    w->next_housekeeping_ns = w->now_ns + HOUSEKEEPING_INTERVAL_NS;
}

static void frag_housekeeping(struct worker *w)
{
    frag_expire(w->frags, w->clock_ns, w->dec.errors);
    w->next_frag_ns = w->clock_ns + HOUSEKEEPING_INTERVAL_NS;
}

static void decode_stage(struct worker *w, const struct sw_packet *p, struct stage *s)
{
    /* the clock never runs backwards, even in a badly merged capture; a
     * packet stamped more than TS_BACK_NS before it, or a jump of more than
     * TS_JUMP_NS ahead, is counted (both are handled: timers work on the
     * clock, and a jump makes them fire once, not per step) */
    if (p->ts_ns > w->clock_ns) {
        if (w->clock_ns && p->ts_ns - w->clock_ns > TS_JUMP_NS)
            w->dec.errors[DERR_TS_JUMP]++;
        w->clock_ns = p->ts_ns;
    } else if (w->clock_ns - p->ts_ns > TS_BACK_NS) {
        w->dec.errors[DERR_TS_BACKWARDS]++;
    }
    s->now_ns = w->clock_ns;
    s->ts_ns = p->ts_ns;
    s->wirelen = p->wirelen;
    /* fragment timeouts in packet order, before this packet's fragment
     * could complete a datagram that should have expired */
    if (w->clock_ns >= w->next_frag_ns)
        frag_housekeeping(w);
    s->st = decode_packet(&w->dec, p->data, p->caplen, p->wirelen, &s->d);
    if (s->st != DECODE_STATUS_L4)
        return;
    const struct decoded *d = &s->d;
    uint16_t sport = 0, dport = 0; /* other IP protocols: a flow per address pair */
    if (d->l4 == 6) {
        sport = d->tcp.sport;
        dport = d->tcp.dport;
    } else if (d->l4 == 17) {
        sport = d->udp.sport;
        dport = d->udp.dport;
    }
    flow_key_make(&s->k, &d->ip.src, sport, &d->ip.dst, dport, d->l4, &s->dir);
    if (d->has_vni)
        flow_key_set_vni(&s->k, d->vni);
    s->hash = flow_key_hash(&s->k);
    s->ident = 0;
    if (w->dedup.window_ns && !d->reassembled) {
        s->ident = decode_identity(d, s->hash);
        __builtin_prefetch(dedup_slot(&w->dedup, s->ident));
    }
    __builtin_prefetch(&w->flows.index[s->hash & w->flows.mask]);
    if (d->l4 == 17 && (sport == 53 || dport == 53) && d->udp.payload.len >= 2)
        pending_bucket_prefetch(&w->dns_pending, s->hash, load_be16(d->udp.payload.p));
}

static void handle_l4(struct worker *w, const struct stage *s)
{
    const struct decoded *d = &s->d;
    bool created;
    struct flow *f = flow_table_get(&w->flows, &s->k, s->hash, w->now_ns, &created);
    if (w->now_ns > f->last_ns)
        f->last_ns = w->now_ns;
    if (d->l4 == 6)
        analyze_tcp(w, f, s->dir, d);
    else if (d->l4 == 17)
        analyze_udp(w, f, s->dir, d);
}

static void handle_stage(struct worker *w, const struct stage *s)
{
    w->packets++;
    w->bytes += s->wirelen;
    w->pkt_ns = s->ts_ns;
    w->now_ns = s->now_ns;
    if (w->first_ns == 0 || s->ts_ns < w->first_ns)
        w->first_ns = s->ts_ns;
    /* analysed all the same; its counts land in the window still open */
    if (s->ts_ns < w->closed_ns)
        w->dec.errors[DERR_TS_LATE]++;
    /* timers (DNS and handshake timeouts) every 100 ms of packet time,
     * checked per packet: a burst of a slow capture can span seconds, and a
     * timeout must land in its own alert window */
    if (w->now_ns >= w->next_housekeeping_ns)
        housekeeping(w);
    /* idle-flow sweep every SWEEP_EVERY packets at this packet's clock:
     * how far it got depends on the packets alone, not on how a ring cut
     * them into bursts (per burst, -w 3 replays of one file differed in
     * their flow counts from run to run) */
    if (++w->sweep_pkts == SWEEP_EVERY) {
        w->sweep_pkts = 0;
        flow_table_sweep(&w->flows, w->now_ns, SWEEP_EVERY * SWEEP_SLOTS_PER_PACKET);
    }
    switch (s->st) {
    case DECODE_STATUS_L4:
        if (s->ident && dedup_copy(&w->dedup, s->ident, s->ts_ns)) {
            w->duplicates++; /* a SPAN copy: counted once already */
            break;
        }
        w->pkt_tenant = s->d.has_vni ? s->d.vni + 1 : 0;
        w->pkt_vlan = s->d.vlan;
        handle_l4(w, s);
        break;
    case DECODE_STATUS_NOT_IP:
        w->not_ip++;
        break;
    case DECODE_STATUS_FRAG_HELD:
    case DECODE_STATUS_ERROR:
        break;
    }
}

void worker_handle_burst(struct worker *w, const struct sw_packet *pkts, unsigned n)
{
    struct stage pipe[PIPE_DEPTH];
    unsigned decoded = 0, done = 0; /* packets through stage one, stage two */
    unsigned hold = 0;              /* decode no further until done reaches this */

    while (done < n) {
        if (decoded < n && decoded - done < PIPE_DEPTH && done >= hold) {
            struct stage *s = &pipe[decoded % PIPE_DEPTH];
            decode_stage(w, &pkts[decoded++], s);
            /* a reassembled datagram's bytes live in a fragment slot that
             * the next fragment may reuse: it (and all before it) is
             * handled before anything more is decoded */
            if (s->st == DECODE_STATUS_L4 && s->d.reassembled)
                hold = decoded;
            continue;
        }
        handle_stage(w, &pipe[done++ % PIPE_DEPTH]);
    }
}

static void flow_end_of_input(void *ctx, struct flow *f)
{
    analyzers_flow_end(ctx, f, FLOW_EVICT_COUNT);
}

void worker_tick(struct worker *w, uint64_t now_ns)
{
    if (now_ns <= w->now_ns)
        return;
    w->now_ns = w->clock_ns = now_ns;
    flow_table_sweep(&w->flows, w->now_ns, 4096);
    frag_housekeeping(w);
    housekeeping(w);
}

void worker_timers(struct worker *w, uint64_t now_ns)
{
    if (now_ns > w->now_ns)
        w->now_ns = now_ns;
    if (w->now_ns >= w->next_housekeeping_ns)
        housekeeping(w);
}

void worker_finish(struct worker *w)
{
    frag_housekeeping(w);
    housekeeping(w);
    flow_table_foreach(&w->flows, flow_end_of_input, w);
}
