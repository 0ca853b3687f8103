/*
 * pool.h — N workers on their own threads, each owning its flow table,
 * analyzers and metrics; nothing mutable is shared in the packet path.
 * Packets reach them in one of three ways:
 *
 * - A dispatcher (live --backend pcap, pcapng files, -f filters): the
 *   capture thread hashes each packet's innermost flow symmetrically
 *   (decode_dispatch_key: TCP by its 5-tuple, the rest by the address pair;
 *   IP fragments go where their datagram's first fragment went) and copies
 *   it into that worker's SPSC ring (app/ring.h). Frames without IP go by
 *   their outer addresses, or to worker 0.
 * - Shared reading (-r of a classic pcap file): every worker reads every
 *   record of the mapped file in place, makes the dispatcher's choice for
 *   each (same function, same fragment table, so the same packets land on
 *   the same worker) and analyses only its own — no copy, no ring, no
 *   single reader to wait for. pool_set_walk().
 * - Own sources (AF_PACKET fanout, AF_XDP, DPDK queues): the kernel or NIC
 *   distributes; pool_set_source().
 *
 * A full ring: a file replay waits (nothing is lost); a live capture drops
 * the packet and counts it (spanwatch_capture_drops_total{source="ring"}).
 *
 * Barrier: at an alert-window end every worker advances its clock to the
 * window's end (timeouts due by then are counted in the closing window)
 * and parks before the packet whose clock reached it — a barrier record
 * through each ring, or, reading the file or its own source, the first
 * packet at or after the time. With every worker parked at the same point
 * of the packet stream, the main thread reads their registries directly,
 * merges them by server label and evaluates the window — once per window,
 * never per packet.
 */
#ifndef SPANWATCH_POOL_H
#define SPANWATCH_POOL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#include "app/ring.h"
#include "capture/pcap_records.h"
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
    /* shared reading (pool_set_walk): this worker's copy of the choice's
     * state, and how far it has read (barrier_reached / walk_done publish) */
    struct decoder *walk_dec;
    struct frag_steer *walk_steer;
    uint64_t walk_clock;         /* latest stamp read */
    _Atomic uint64_t walk_off;   /* file offset of the next record */
    _Atomic uint64_t walk_records;
    atomic_int walk_done;
};

#define POOL_FRAG_STEER 4096

/* where the first fragment of a recent datagram went (direct-mapped by its
 * decode_dispatch_key().datagram): its later fragments follow */
struct frag_steer {
    struct { uint32_t datagram, worker; } e[POOL_FRAG_STEER];
};

struct pool {
    unsigned n;
    struct pool_slot *slots;
    struct decoder scratch;   /* the dispatcher's, for the worker choice */
    struct frag_steer steer;
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
    /* shared reading of a mapped classic pcap file (-r): no dispatcher */
    struct {
        const uint8_t *base;       /* the file, mapped; NULL: not in use */
        uint64_t size, first;      /* mapped bytes; offset of the first record */
        struct pcap_format fmt;
        int linktype;
        int fd;                    /* the file (for its size) */
        _Atomic uint64_t next_close; /* park at the first record whose clock reaches it */
        _Atomic uint64_t valid;    /* the file's size as last seen (it may shrink) */
        _Atomic uint64_t stop_at;  /* a signal: stop before this record (a multiple of 1024) */
        sem_t wake;                /* posted by a worker that parks or is done */
    } walk;
};

int pool_init(struct pool *p, unsigned n, const struct config *cfg, int linktype, int lossless,
              int live);
/* Give worker i its own source (before pool_start): no dispatcher then. */
static inline void pool_set_source(struct pool *p, unsigned i, struct source *src)
{
    p->slots[i].src = src;
    p->sourced = 1;
}
/* -r: every worker reads the mapped file (a classic pcap file, records
 * from offset first on, pcap_records.h) and analyses the packets the
 * dispatcher would have given it; before pool_start. Each worker parks at
 * the record whose clock reaches walk.next_close (one barrier per alert
 * window, as with a dispatcher: same packets, same points), and stops at
 * the first record that is not plainly well formed or at the end of the
 * mapping; the reader then goes on from there with a dispatcher
 * (pool_walk_handover). Returns -1 if the per-worker state cannot be had. */
int pool_set_walk(struct pool *p, const uint8_t *base, uint64_t size, uint64_t first,
                  const struct pcap_format *fmt, int linktype, uint64_t next_close, int fd);
/* The file's size now, if it shrank (walk.valid lowered); any thread. */
uint64_t pool_walk_recheck(struct pool *p);
/* After every worker is done reading: the dispatcher's state (clock,
 * fragment steering) as the workers left it, and the offset and record
 * count where they stopped. */
void pool_walk_handover(struct pool *p, uint64_t *off, uint64_t *records);
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
