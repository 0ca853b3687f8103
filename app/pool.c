/*
 * pool.c — see pool.h.
 */
#include "app/pool.h"
#include "util/signals.h"

#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "decode/decode.h"
#include "util/clock.h"
#include "util/map_guard.h"

#define RING_BYTES (16u << 20)  /* per worker: > 60 maximum-size packets, ~10k typical */

/* Park at a barrier: clock to the barrier time (timeouts due by then
 * count in the closing window), report, wait for the release. */
static void park(struct pool_slot *s, uint32_t seq, uint64_t at)
{
    struct pool *p = s->pool;
    worker_tick(&s->w, at);
    atomic_store_explicit(&s->barrier_reached, seq, memory_order_release);
    if (p->walk.base && !atomic_load_explicit(&s->walk_done, memory_order_relaxed))
        sem_post(&p->walk.wake); /* the main thread waits on it (run_walk) */
    while (atomic_load_explicit(&p->barrier_release, memory_order_acquire) != seq &&
           !atomic_load_explicit(&p->stop, memory_order_relaxed))
        sched_yield();
    s->w.closed_ns = p->closed_ns; /* written before the release */
}

static void walk_file(struct pool_slot *s);

static void *worker_main(void *arg)
{
    struct pool_slot *s = arg;
    struct pool *p = s->pool;
    struct sw_packet burst[SOURCE_BURST_MAX];
    /* an empty ring: sleep 50 us, after 64 empty rounds (3.2 ms) 1 ms — a
     * live dispatcher hands over bursts (libpcap's blocks retire every
     * 10 ms on a quiet link), and 20,000 wake-ups a second per idle worker
     * cost more CPU than the packets did (BENCH.md "Scaling", live) */
    struct timespec nap = { 0, 50000 }, doze = { 0, 1000000 };
    unsigned idle_rounds = 0;
    if (p->walk.base)
        walk_file(s);
    for (;;) {
        unsigned n = 0;
        const struct ring_rec *barrier = NULL;
        const struct ring_rec *h;
        while (n < SOURCE_BURST_MAX && (h = ring_peek(&s->ring))) {
            if (h->kind == RING_BARRIER) {
                barrier = h;
                break;
            }
            burst[n].data = ring_rec_data(h);
            burst[n].caplen = h->caplen;
            burst[n].wirelen = h->wirelen;
            burst[n].ts_ns = h->ts_ns;
            n++;
        }
        if (n)
            worker_handle_burst(&s->w, burst, n);
        if (barrier) {
            uint32_t seq = barrier->arg;
            uint64_t ts = barrier->ts_ns;
            ring_release(&s->ring);
            park(s, seq, ts);
        } else {
            ring_release(&s->ring);
        }
        if (publisher_wanted(&s->pub) && p->snapshot)
            p->snapshot(s);
        if (n || barrier) {
            idle_rounds = 0;
            continue;
        }
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) {
            /* the dispatcher published everything before setting stop */
            if (!ring_peek(&s->ring))
                break;
            s->ring.tail_local = atomic_load(&s->ring.tail); /* un-peek */
            continue;
        }
        ++idle_rounds;
        if (p->live && (idle_rounds & 63) == 0)
            worker_tick(&s->w, clock_live_ns());
        nanosleep(idle_rounds < 64 ? &nap : &doze, NULL);
    }
    return NULL;
}

/* A worker with its own source (AF_PACKET fanout member). */
static void *worker_src_main(void *arg)
{
    struct pool_slot *s = arg;
    struct pool *p = s->pool;
    struct sw_packet burst[SOURCE_BURST_MAX];
    struct source_drain drain = { 0, 0, 0 };
    int draining = 0;
    for (;;) {
        if (!draining && atomic_load_explicit(&p->stop, memory_order_acquire)) {
            source_drain_begin(&drain, clock_wall_ns(), clock_mono_ns());
            draining = 1;
        }
        int n = source_next_burst(s->src, burst, SOURCE_BURST_MAX);
        if (n < 0) {
            snprintf(p->error, sizeof p->error, "%s", s->src->error);
            atomic_store(&p->failed, 1);
            break;
        }
        uint32_t want = atomic_load_explicit(&p->barrier_want, memory_order_acquire);
        if (want != atomic_load_explicit(&s->barrier_reached, memory_order_relaxed)) {
            uint64_t at = atomic_load_explicit(&p->barrier_at, memory_order_relaxed);
            unsigned k = 0;
            while (k < (unsigned)n && burst[k].ts_ns < at)
                k++;
            if (k)
                worker_handle_burst(&s->w, burst, k);
            if (k < (unsigned)n || clock_live_ns() >= at)
                park(s, want, at);
            if (k < (unsigned)n)
                worker_handle_burst(&s->w, burst + k, (unsigned)n - k);
        } else if (n > 0) {
            worker_handle_burst(&s->w, burst, (unsigned)n);
        }
        if (n == 0 && !draining)
            worker_tick(&s->w, clock_live_ns());
        if (draining && source_drain_done(&drain, burst, n, clock_mono_ns()))
            break;
        if (publisher_wanted(&s->pub) && p->snapshot)
            p->snapshot(s);
    }
    return NULL;
}

/* The worker of a frame: a symmetric 5-tuple hash; the fragments of a
 * datagram follow its first fragment (one that arrives before it, or
 * whose entry was overwritten, goes by the address pair). */
static unsigned choose_worker(struct decoder *scratch, struct frag_steer *steer, unsigned n,
                              int linktype, const struct sw_packet *pk)
{
    struct dispatch_key k;
    decode_dispatch_key(scratch, linktype, pk->data, pk->caplen, &k);
    unsigned w = (unsigned)((uint64_t)k.hash * n >> 32);
    if (!k.fragment)
        return w;
    unsigned slot = k.datagram & (POOL_FRAG_STEER - 1);
    if (k.first) {
        steer->e[slot].datagram = k.datagram;
        steer->e[slot].worker = w;
    } else if (steer->e[slot].datagram == k.datagram) {
        w = steer->e[slot].worker;
    }
    return w;
}

static unsigned dispatch_worker(struct pool *p, int linktype, const struct sw_packet *pk)
{
    return choose_worker(&p->scratch, &p->steer, p->n, linktype, pk);
}

/* ---- shared reading: every worker reads the mapped file --------------- */

#ifndef WALK_AHEAD
#define WALK_AHEAD 4096
#endif

static void walk_flush(struct pool_slot *s, struct sw_packet *burst, unsigned *n)
{
    if (*n)
        worker_handle_burst(&s->w, burst, *n);
    *n = 0;
    if (publisher_wanted(&s->pub) && s->pool->snapshot)
        s->pool->snapshot(s);
}

/* Every record's clock and choice (all workers make the same ones), this
 * worker's packets analysed in place: no copy, no ring. */
static void walk_file(struct pool_slot *s)
{
    struct pool *p = s->pool;
    const uint8_t *base = p->walk.base;
    const uint64_t size = p->walk.size;
    struct sw_packet burst[SOURCE_BURST_MAX];
    unsigned n = 0;
    uint64_t off = p->walk.first, records = 0, clock = 0, ahead = off;
    uint64_t next_close = atomic_load_explicit(&p->walk.next_close, memory_order_acquire);
    uint64_t valid = atomic_load_explicit(&p->walk.valid, memory_order_relaxed);
    uint32_t seq = p->barrier_seq;
    int cut_seen = 0;
    for (;; records++) {
        if ((records & 1023) == 0) {
            atomic_store_explicit(&s->walk_off, off, memory_order_relaxed);
            atomic_store_explicit(&s->walk_records, records, memory_order_relaxed);
            /* a signal: every worker stops at the same record (a multiple
             * of 1024 ahead of all of them, set by run_walk) */
            if (records >= atomic_load_explicit(&p->walk.stop_at, memory_order_relaxed))
                break;
            valid = atomic_load_explicit(&p->walk.valid, memory_order_relaxed);
        }
        /* the stream is read ahead by lines: a record header's line is
         * otherwise a cache miss, the walk's main cost */
        for (; ahead < off + WALK_AHEAD && ahead < size; ahead += 64)
            __builtin_prefetch(base + ahead);
        struct sw_packet *pk = &burst[n];
        size_t r = pcap_record(&p->walk.fmt, base + off, size - off, pk);
        if (!r)
            break;
        /* the file was cut under the mapping (map_guard.h): where, now */
        if (!cut_seen && map_guard_tripped()) {
            cut_seen = 1;
            valid = pool_walk_recheck(p);
        }
        if (off + r > valid) /* past the file's end as last seen: libpcap's "truncated" */
            break;
        off += r;
        if (pk->ts_ns > clock)
            clock = pk->ts_ns;
        if (clock >= next_close) {
            /* a window ends before this record: as the dispatcher's barrier */
            struct sw_packet held = *pk;
            walk_flush(s, burst, &n);
            s->walk_clock = clock;
            park(s, ++seq, next_close);
            next_close = atomic_load_explicit(&p->walk.next_close, memory_order_relaxed);
            burst[0] = held;
            pk = &burst[0];
        }
        if (choose_worker(s->walk_dec, s->walk_steer, p->n, p->walk.linktype, pk) != s->id)
            continue;
        if (++n == SOURCE_BURST_MAX)
            walk_flush(s, burst, &n);
    }
    walk_flush(s, burst, &n);
    s->walk_clock = clock;
    atomic_store_explicit(&s->walk_off, off, memory_order_relaxed);
    atomic_store_explicit(&s->walk_records, records, memory_order_relaxed);
    atomic_store_explicit(&s->walk_done, 1, memory_order_release);
    sem_post(&p->walk.wake);
}

uint64_t pool_walk_recheck(struct pool *p)
{
    struct stat st;
    uint64_t v = atomic_load(&p->walk.valid);
    if (fstat(p->walk.fd, &st) == 0 && (uint64_t)st.st_size < v) {
        v = (uint64_t)st.st_size;
        atomic_store(&p->walk.valid, v); /* only ever lowered: any writer's value is right */
    }
    return v;
}

int pool_set_walk(struct pool *p, const uint8_t *base, uint64_t size, uint64_t first,
                  const struct pcap_format *fmt, int linktype, uint64_t next_close, int fd)
{
    for (unsigned i = 0; i < p->n; i++) {
        struct pool_slot *s = &p->slots[i];
        s->walk_dec = malloc(sizeof *s->walk_dec);
        s->walk_steer = calloc(1, sizeof *s->walk_steer);
        if (!s->walk_dec || !s->walk_steer)
            return -1;
        *s->walk_dec = p->scratch;
    }
    if (sem_init(&p->walk.wake, 0, 0) != 0)
        return -1;
    p->walk.base = base;
    p->walk.size = size;
    p->walk.first = first;
    p->walk.fmt = *fmt;
    p->walk.linktype = linktype;
    p->walk.fd = fd;
    atomic_store(&p->walk.next_close, next_close);
    atomic_store(&p->walk.valid, size);
    atomic_store(&p->walk.stop_at, UINT64_MAX);
    return 0;
}

void pool_walk_handover(struct pool *p, uint64_t *off, uint64_t *records)
{
    struct pool_slot *s = &p->slots[0];
    if (s->walk_clock > p->now_ns)
        p->now_ns = s->walk_clock;
    p->steer = *s->walk_steer;
    *off = atomic_load(&s->walk_off);
    *records = atomic_load(&s->walk_records);
}

int pool_init(struct pool *p, unsigned n, const struct config *cfg, int linktype, int lossless,
              int live)
{
    memset(p, 0, sizeof *p);
    decoder_set_vxlan_ports(&p->scratch, cfg->vxlan_ports, cfg->n_vxlan_ports);
    p->n = n;
    p->lossless = lossless;
    p->live = live;
    p->slots = aligned_alloc(64, ((n * sizeof *p->slots) + 63) & ~(size_t)63);
    if (!p->slots)
        return -1;
    memset(p->slots, 0, n * sizeof *p->slots);
    for (unsigned i = 0; i < n; i++) {
        struct pool_slot *s = &p->slots[i];
        s->pool = p;
        s->id = i;
        if (worker_init(&s->w, i, cfg, linktype) != 0 || ring_init(&s->ring, RING_BYTES) != 0 ||
            publisher_init(&s->pub, cfg->max_servers) != 0) {
            p->n = i + 1;
            pool_free(p);
            return -1;
        }
    }
    return 0;
}

int pool_start(struct pool *p)
{
    cpu_set_t allowed;
    int ncpu = 0, cpus[CPU_SETSIZE];
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &allowed))
                cpus[ncpu++] = c;
    sigset_t old;
    signals_block_stop(&old); /* the workers inherit it (util/signals.h) */
    for (unsigned i = 0; i < p->n; i++) {
        if (pthread_create(&p->slots[i].thread, NULL, p->sourced ? worker_src_main : worker_main,
                           &p->slots[i]) != 0) {
            signals_restore(&old);
            /* the ones started stop and are joined: nothing may run on
             * while the caller frees the slots and the mapping */
            atomic_store(&p->walk.stop_at, 0);
            atomic_store(&p->stop, 1);
            for (unsigned j = 0; j < i; j++)
                pthread_join(p->slots[j].thread, NULL);
            return -1;
        }
        /* worker i on the i-th CPU we may use (wrapping when there are
         * more workers than CPUs); best effort */
        if (ncpu) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpus[i % (unsigned)ncpu], &one);
            pthread_setaffinity_np(p->slots[i].thread, sizeof one, &one);
        }
    }
    signals_restore(&old);
    return 0;
}

void pool_dispatch(struct pool *p, int linktype, const struct sw_packet *pkts, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const struct sw_packet *k = &pkts[i];
        if (k->ts_ns > p->now_ns)
            p->now_ns = k->ts_ns;
        struct pool_slot *s = &p->slots[dispatch_worker(p, linktype, k)];
        while (ring_push(&s->ring, RING_PACKET, k->data, k->caplen, k->wirelen, k->ts_ns, 0) != 0) {
            if (!p->lossless) {
                s->ring_full++;
                p->ring_drops++;
                break;
            }
            ring_publish(&s->ring);
            sched_yield();
        }
    }
    for (unsigned i = 0; i < p->n; i++)
        ring_publish(&p->slots[i].ring);
}

void pool_barrier_enter(struct pool *p, uint64_t ts_ns)
{
    uint32_t seq = ++p->barrier_seq;
    if (p->sourced) {
        atomic_store_explicit(&p->barrier_at, ts_ns, memory_order_relaxed);
        atomic_store_explicit(&p->barrier_want, seq, memory_order_release);
        for (unsigned i = 0; i < p->n; i++)
            while (atomic_load_explicit(&p->slots[i].barrier_reached, memory_order_acquire) != seq &&
                   !atomic_load(&p->failed))
                sched_yield();
        return;
    }
    for (unsigned i = 0; i < p->n; i++) {
        struct pool_slot *s = &p->slots[i];
        while (ring_push(&s->ring, RING_BARRIER, NULL, 0, 0, ts_ns, seq) != 0) {
            ring_publish(&s->ring);
            sched_yield();
        }
        ring_publish(&s->ring);
    }
    for (unsigned i = 0; i < p->n; i++)
        while (atomic_load_explicit(&p->slots[i].barrier_reached, memory_order_acquire) != seq)
            sched_yield();
}

void pool_barrier_leave(struct pool *p, uint64_t closed_ns)
{
    p->closed_ns = closed_ns;
    atomic_store_explicit(&p->barrier_release, p->barrier_seq, memory_order_release);
}

void pool_stop(struct pool *p)
{
    for (unsigned i = 0; i < p->n; i++)
        ring_publish(&p->slots[i].ring);
    atomic_store_explicit(&p->stop, 1, memory_order_release);
    for (unsigned i = 0; i < p->n; i++)
        pthread_join(p->slots[i].thread, NULL);
}

void pool_free(struct pool *p)
{
    if (!p->slots)
        return;
    for (unsigned i = 0; i < p->n; i++) {
        source_close(p->slots[i].src);
        free(p->slots[i].walk_dec);
        free(p->slots[i].walk_steer);
        worker_free(&p->slots[i].w);
        ring_free(&p->slots[i].ring);
        publisher_free(&p->slots[i].pub);
    }
    free(p->slots);
    p->slots = NULL;
    if (p->walk.base)
        sem_destroy(&p->walk.wake);
}
