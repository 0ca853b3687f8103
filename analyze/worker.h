/*
 * worker.h — one packet-processing worker: it owns a decoder, a fragment
 * table and a flow table, and every counter it updates. Nothing in here is
 * shared with another worker, so the packet path takes no locks.
 */
#ifndef SPANWATCH_WORKER_H
#define SPANWATCH_WORKER_H

#include <stdint.h>

#include "analyze/cert.h"
#include "capture/source.h"
#include "decode/decode.h"
#include "flow/dedup.h"
#include "flow/flow_table.h"
#include "flow/pending.h"
#include "flow/tcp_stream.h"
#include "config/config.h"
#include "metrics/servers.h"

struct worker {
    unsigned id;
    const struct config *cfg;
    struct server_registry servers;
    struct pending_table dns_pending;
    struct pending_table syn_pending;
    struct pending_table tls_pending; /* ClientHellos without an outcome yet */
    struct cert_cache certs;
    struct stream_pool streams;
    struct decoder dec;
    struct frag_table *frags;
    struct dedup dedup;
    struct flow_table flows;
    uint64_t packets;
    uint64_t bytes;
    uint64_t not_ip;          /* valid frames that carry no IP (ARP, LLDP, ...) */
    uint64_t duplicates;      /* frames dropped as SPAN copies (limits.dedup_window) */
    uint64_t first_ns;        /* earliest packet time seen */
    uint64_t now_ns;          /* latest packet time seen: the worker's clock */
    uint64_t pkt_ns;          /* the current packet's own timestamp (may be < now_ns) */
    uint32_t pkt_tenant;      /* the current packet's VXLAN/Geneve VNI + 1, 0: none */
    uint16_t pkt_vlan;        /* its innermost VLAN ID, 0: none */
    uint64_t clock_ns;        /* the decode stage's clock (runs PIPE_DEPTH packets ahead
                                 of now_ns within a burst; equal between bursts) */
    uint64_t closed_ns;       /* alert windows before this time are closed (set by the
                                 run loop): a packet stamped earlier arrived late
                                 (counted, still analysed) */
    uint64_t next_housekeeping_ns;
    uint32_t sweep_pkts;      /* packets since the last idle-flow sweep */
    uint64_t next_frag_ns;
};

/* A latency sample is the difference of two packets' own capture
 * timestamps (never the worker clock, which an idle live link advances by
 * the wall clock); 0 when a badly merged capture has them the wrong way
 * round. */
static inline uint64_t ts_since(uint64_t later_ns, uint64_t earlier_ns)
{
    return later_ns > earlier_ns ? later_ns - earlier_ns : 0;
}

int worker_init(struct worker *w, unsigned id, const struct config *cfg, int linktype);
void worker_handle_burst(struct worker *w, const struct sw_packet *pkts, unsigned n);
/* No packets for a while on a live source: let the clock follow wall time
 * less LIVE_GRACE_NS (timeouts, idle expiry and alert windows do not wait
 * for the next packet). Samples are never taken from this clock. */
void worker_tick(struct worker *w, uint64_t now_ns);
/* End of input: expire what the clock allows (fragments). */
void worker_finish(struct worker *w);
/* The run loop closes alert windows between two bursts, cut where a
 * packet's clock reaches a window end: first the timers due at that clock
 * run, as that packet would run them, so a timeout lands in its own window. */
void worker_timers(struct worker *w, uint64_t now_ns);
void worker_free(struct worker *w);

#endif
