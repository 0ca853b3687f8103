/*
 * worker.c — the packet path: decode, find the flow, count. Housekeeping
 * (idle-flow sweep, fragment timeouts) is driven by packet time and done in
 * small slices so no packet waits behind a full-table scan.
 */
#include "worker.h"

#include <string.h>

#include "../decode/frag.h"
#include "analyzers.h"

#define SWEEP_SLOTS_PER_PACKET 4
#define HOUSEKEEPING_INTERVAL_NS 100000000ull /* 100 ms of packet time */

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

static void handle_l4(struct worker *w, const struct decoded *d)
{
    uint16_t sport = 0, dport = 0;
    uint8_t dir;
    bool created;
    struct flow_key k;

    if (d->l4 == 6) {
        sport = d->tcp.sport;
        dport = d->tcp.dport;
    } else if (d->l4 == 17) {
        sport = d->udp.sport;
        dport = d->udp.dport;
    }
    flow_key_make(&k, &d->ip.src, sport, &d->ip.dst, dport, d->l4, &dir);
    struct flow *f = flow_table_get(&w->flows, &k, flow_key_hash(&k), w->now_ns, &created);
    if (created) {
        f->initiator = dir;
        f->vlan = d->l2.nvlan ? d->l2.vlan[0] : 0;
    }
    if (w->now_ns > f->last_ns)
        f->last_ns = w->now_ns;
    f->packets[dir]++;
    if (d->l4 == 6)
        analyze_tcp(w, f, dir, d);
    else if (d->l4 == 17)
        analyze_udp(w, f, dir, d);
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

    for (unsigned i = 0; i < n; i++) {
        const struct sw_packet *p = &pkts[i];
        w->packets++;
        w->bytes += p->wirelen;
        /* the clock never runs backwards, even in a badly merged capture */
        if (p->ts_ns > w->now_ns)
            w->now_ns = p->ts_ns;
        if (w->first_ns == 0 || p->ts_ns < w->first_ns)
            w->first_ns = p->ts_ns;
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
            handle_l4(w, &d);
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
    if (w->now_ns >= w->next_housekeeping_ns)
        housekeeping(w);
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
