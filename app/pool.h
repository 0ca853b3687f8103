/*
 * pool.h — N workers on their own threads, fed by one dispatcher.
 *
 * The dispatcher (the capture thread) hashes each packet on its IP address
 * pair, ordered so both directions give the same hash (and IP fragments,
 * which carry no ports, go where their first fragment went), and copies it
 * into that worker's SPSC ring (capture/ring.h). Each worker owns its flow
 * table, analyzers and metrics; nothing mutable is shared in the packet
 * path. Frames without IP go to worker 0.
 *
 * A full ring: a file replay waits (nothing is lost); a live capture drops
 * the packet and counts it (spanwatch_capture_drops_total{source="ring"}).
 *
 * Barrier: at an alert-window end the dispatcher sends a barrier record
 * through every ring; each worker, on reaching it, advances its clock to
 * the barrier time (timeouts due by then are counted in the closing window)
 * and waits until released. With every worker parked at the same point of
 * the packet stream, the dispatcher reads their registries directly,
 * merges them by server label and evaluates the window — once per window,
 * never per packet.
 */
#ifndef SPANWATCH_POOL_H
#define SPANWATCH_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "app/ring.h"
#include "metrics/snapshot.h"
#include "analyze/worker.h"

struct pool_slot {
    struct worker w;
    struct pkt_ring ring;
    struct publisher pub;
    pthread_t thread;
    struct pool *pool;
    unsigned id;
    _Alignas(64) _Atomic uint32_t barrier_reached;
    uint64_t ring_full;          /* dispatcher: packets dropped (live) */
    struct source *src;          /* its own capture source (AF_PACKET fanout), or NULL */
};

#define POOL_FRAG_STEER 4096

struct pool {
    unsigned n;
    struct pool_slot *slots;
    struct decoder scratch;   /* the dispatcher's, for the worker choice */
    /* where the first fragment of a recent datagram went (direct-mapped by
     * its decode_dispatch_key().datagram): its later fragments follow */
    struct { uint32_t datagram, worker; } frag_steer[POOL_FRAG_STEER];
    int lossless;                /* file replay: wait instead of dropping */
    int live;                    /* idle workers follow the wall clock */
    _Atomic uint32_t barrier_release;
    atomic_int stop;             /* dispatcher done: drain and exit */
    uint32_t barrier_seq;
    uint64_t ring_drops;         /* total packets dropped on full rings */
    uint64_t now_ns;             /* dispatcher's clock: latest packet time */
    uint64_t closed_ns;          /* set before a barrier's release: windows closed to here */
    /* called by a worker thread when its publisher wants a snapshot */
    void (*snapshot)(struct pool_slot *s);
    /* workers with their own sources: barriers by time instead of records */
    int sourced;
    _Atomic uint64_t barrier_at;   /* park at the first packet at or after this time */
    _Atomic uint32_t barrier_want; /* sequence of the barrier asked for */
    atomic_int failed;             /* a source reported an error */
    char error[512];
};

int pool_init(struct pool *p, unsigned n, const struct config *cfg, int linktype, int lossless,
              int live);
/* Give worker i its own source (before pool_start): no dispatcher then. */
static inline void pool_set_source(struct pool *p, unsigned i, struct source *src)
{
    p->slots[i].src = src;
    p->sourced = 1;
}
/* Start the worker threads. */
int pool_start(struct pool *p);
/* Hash and enqueue a burst (dispatcher thread). */
void pool_dispatch(struct pool *p, int linktype, const struct sw_packet *pkts, unsigned n);
/* Park every worker at this point of the stream with its clock at ts_ns. */
void pool_barrier_enter(struct pool *p, uint64_t ts_ns);
/* Release them; windows before closed_ns are closed (later packets stamped
 * earlier are counted as late). */
void pool_barrier_leave(struct pool *p, uint64_t closed_ns);
/* End of input: workers drain their rings and exit; then the threads are joined. */
void pool_stop(struct pool *p);
void pool_free(struct pool *p);


#endif
