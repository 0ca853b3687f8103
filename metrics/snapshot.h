/*
 * snapshot.h — a copy of one worker's metrics, made by the worker itself
 * and read by the exposition, so a scrape never reads state the packet
 * path is writing.
 *
 * Histograms are reduced to what the exposition needs (count, sum, the
 * cumulative `le` counts), so a snapshot costs O(servers), not O(buckets):
 * about 4.5 KB per server in use.
 *
 * The hand-over between a worker and the HTTP thread (struct publisher):
 * the scraper bumps `req`; the worker, between bursts, sees req != the last
 * request it served, fills the buffer it is not publishing
 * (buf[(pub + 1) & 1]) and then release-stores pub + 1. The scraper reads
 * buf[pub & 1] after an acquire load of pub. Scrapes are serialised by the
 * HTTP side (one request in flight per publisher), so the worker never
 * writes the buffer being read: it writes only on a new request, and a new
 * request only comes after the previous render is done. If the worker does
 * not answer in time (stalled, or finished), the last published buffer is
 * used. No locks, no waiting in the packet path: one relaxed load per burst.
 */
#ifndef SPANWATCH_SNAPSHOT_H
#define SPANWATCH_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

#include "decode/decode.h"
#include "decode/decode_errors.h"
#include "flow/flow_table.h"
#include "metrics/histogram.h"
#include "metrics/servers.h"

struct hist_snap {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t le[HIST_LE_COUNT];
};

struct server_snap {
    struct server_stats st;
    struct hist_snap h[SERVER_HIST_COUNT];
};

struct worker_snap {
    uint64_t packets;
    uint64_t bytes;
    uint64_t decode_errors[DERR_COUNT];
    uint64_t encap[ENCAP_COUNT];
    uint64_t duplicates;
    uint64_t flows_active[FLOW_PROTO_COUNT];
    uint64_t flow_evictions[FLOW_EVICT_COUNT];
    uint64_t overflow_samples;
    uint64_t source_drops;   /* capture drops reported by the source */
    uint32_t nservers;       /* servers[] in use, sorted by label */
    uint32_t cap;
    struct server_snap *servers;
};

int worker_snap_init(struct worker_snap *s, uint32_t max_servers);
void worker_snap_free(struct worker_snap *s);
/* Copy the servers that have seen any protocol (overflow included), sorted by label. */
void worker_snap_servers(struct worker_snap *s, const struct server_registry *r);
void hist_snap_from(struct hist_snap *out, const struct histogram *h, int bytes);

/* The servers of several workers' snapshots merged by label into out (room
 * for the sum of their nservers); returns the count, sorted by label. */
uint32_t worker_snap_merge_servers(const struct worker_snap *const *snaps, unsigned nw,
                                   struct server_snap *out);

struct publisher {
    _Atomic uint64_t req;    /* written by the scraper */
    _Atomic uint64_t pub;    /* written by the worker */
    uint64_t served;         /* worker-private: last req answered */
    struct worker_snap buf[2];
};

int publisher_init(struct publisher *p, uint32_t max_servers);
void publisher_free(struct publisher *p);

/* Worker side: is a snapshot wanted? (one relaxed load) */
static inline int publisher_wanted(struct publisher *p)
{
    return atomic_load_explicit(&p->req, memory_order_relaxed) != p->served;
}
/* Worker side: the buffer to fill, then publisher_publish(). */
struct worker_snap *publisher_back(struct publisher *p);
void publisher_publish(struct publisher *p);

/* Scraper side: ask for a fresh snapshot and wait up to timeout_ms for it;
 * returns the freshest published one (possibly older on timeout, or the
 * empty initial one). *fresh says whether the worker answered. */
const struct worker_snap *publisher_request(struct publisher *p, unsigned timeout_ms, int *fresh);
/* Scraper side: the last published snapshot, without asking. */
const struct worker_snap *publisher_latest(struct publisher *p);

#endif
