/*
 * source.h — the packet-source interface every capture back end implements.
 *
 * A source hands out bursts of packet views. A view (data pointer, captured
 * length, length on the wire, timestamp) stays valid until the next call to
 * source_next_burst() on the same source; consumers that need bytes longer
 * must copy them. Back ends: pcap_file.c (files and, through libpcap, live
 * interfaces), afpacket.c (TPACKET_V3 fanout), afxdp.c (XDP + AF_XDP),
 * dpdk.c (EAL ports); backends.c opens the one --backend names.
 */
#ifndef SPANWATCH_SOURCE_H
#define SPANWATCH_SOURCE_H

#include <stdint.h>
#include <stddef.h>

#define SOURCE_BURST_MAX 64

struct sw_packet {
    const uint8_t *data;
    uint32_t caplen;   /* bytes available at data */
    uint32_t wirelen;  /* original length on the wire (>= caplen) */
    uint64_t ts_ns;    /* capture time, ns since the Unix epoch */
};

struct source_stats {
    uint64_t received;      /* packets handed out */
    uint64_t kernel_drops;  /* reported by the kernel / NIC */
    uint64_t iface_drops;
};

/* Result of source_next_burst() when it returns no packets. */
enum source_status {
    SOURCE_OK = 0,      /* n packets returned (n may be 0 on a live timeout) */
    SOURCE_EOF = -1,    /* file exhausted */
    SOURCE_ERROR = -2,  /* read error; message in the source's error[] */
};

struct source;

struct source_ops {
    const char *kind;
    /* Fill up to max views; return the count (>= 0) or an enum source_status. */
    int (*next_burst)(struct source *s, struct sw_packet *pkts, unsigned max);
    void (*stats)(struct source *s, struct source_stats *st);
    void (*close)(struct source *s);
};

struct source {
    const struct source_ops *ops;
    int linktype;            /* libpcap DLT_* value */
    const char *linktype_name;
    char name[128];          /* file or interface, for messages and labels */
    char error[512];         /* last error, "" if none */
    uint64_t file_size;      /* files: size in bytes, for progress; else 0 */
};

/* Shutdown of a live source: keep reading until everything captured before
 * the stop has been analysed. The kernel's ring (or NIC queue) is read in
 * order, so that is done at the first packet stamped after the stop, or
 * after DRAIN_QUIET_NS with at least two empty reads (a partly filled
 * TPACKET_V3 block is handed over after 10 ms), or at DRAIN_MAX_NS on a link
 * that never pauses and whose stamps are behind (a NIC clock). */
#define DRAIN_QUIET_NS 50000000ull
#define DRAIN_MAX_NS 2000000000ull

struct source_drain {
    uint64_t stop_ns;   /* wall clock at the stop: packets stamped before it are read */
    uint64_t since_ns;  /* monotonic clock at the stop */
    unsigned empty;     /* empty reads since the stop */
};

static inline void source_drain_begin(struct source_drain *d, uint64_t wall_ns, uint64_t mono_ns)
{
    d->stop_ns = wall_ns;
    d->since_ns = mono_ns;
    d->empty = 0;
}

/* After a read of n packets during the drain: 1 when it is complete. */
static inline int source_drain_done(struct source_drain *d, const struct sw_packet *pkts, int n,
                                    uint64_t mono_ns)
{
    if (n < 0)
        return 1;
    if (n > 0 && pkts[n - 1].ts_ns > d->stop_ns)
        return 1;
    if (n == 0)
        d->empty++;
    uint64_t waited = mono_ns - d->since_ns;
    return (d->empty >= 2 && waited >= DRAIN_QUIET_NS) || waited >= DRAIN_MAX_NS;
}

static inline int source_next_burst(struct source *s, struct sw_packet *pkts, unsigned max)
{
    return s->ops->next_burst(s, pkts, max);
}

static inline void source_stats(struct source *s, struct source_stats *st)
{
    s->ops->stats(s, st);
}

static inline void source_close(struct source *s)
{
    if (s)
        s->ops->close(s);
}

/* Turn on the kernel's software receive timestamps (SO_TIMESTAMPNS on a
 * socket enables them for the whole host while it is open). With them on,
 * a frame is stamped once, when the interface receives it (netif_receive)
 * or hands it to the taps on transmit, and every packet socket reads that
 * stamp from the frame; with them off (no socket asks), each packet socket
 * stamps a frame when the frame is delivered to it, so two captures of one
 * interface differ by a microsecond or so per frame and a latency depends
 * on which socket measured it. Best effort: 0, or -1 with errno. */
int source_kernel_timestamps(int fd);

/* pcap_file.c: open a pcap or pcapng file. NULL and a message in err on failure. */
struct source *source_pcap_open_file(const char *path, const char *bpf_filter,
                                     char *err, size_t errlen);
/* pcap_file.c: open a live interface through libpcap. */
struct source *source_pcap_open_live(const char *iface, const char *bpf_filter,
                                     int buffer_mb, char *err, size_t errlen);
/* afpacket.c: AF_PACKET TPACKET_V3 socket on iface with a ring of ring_mb
 * MiB, in fanout group *fanout_group: NULL none, -1 a new group (the
 * kernel's unique id is written back for the next sockets to join). The
 * group spreads frames with fanout_prog (a PACKET_FANOUT_EBPF program,
 * set by the socket that makes the group), or, at -1, the kernel's
 * symmetric flow hash (PACKET_FANOUT_HASH). */
struct source *source_afpacket_open(const char *iface, const char *bpf_filter, int *fanout_group,
                                    int fanout_prog, unsigned ring_mb, char *err, size_t errlen);
/* The interface's own receive drops, rx_dropped + rx_missed_errors from
 * sysfs (the "drop" column of /proc/net/dev, as libpcap reports them):
 * frames the NIC or driver lost before any capture socket or XDP program
 * saw them. */
uint64_t source_iface_rx_drops(const char *iface);

/* One source per interface reports those drops, counted from its start. */
struct iface_drops {
    int on;
    uint64_t base;
};

static inline void iface_drops_start(struct iface_drops *d, const char *iface)
{
    d->on = 1;
    d->base = source_iface_rx_drops(iface);
}

static inline uint64_t iface_drops_since(const struct iface_drops *d, const char *iface)
{
    if (!d->on)
        return 0;
    uint64_t now = source_iface_rx_drops(iface);
    return now > d->base ? now - d->base : 0;
}
/* Make this socket (one per fanout group) also report the interface's own
 * receive drops, counted from now. */
void source_afpacket_report_iface_drops(struct source *s);
/* The interface exists and is up; else -1 and why. */
int source_afpacket_check(const char *iface, char *err, size_t errlen);
/* Bytes consumed from a file source so far (for progress), 0 if unknown. */
uint64_t source_pcap_file_offset(struct source *s);
/* A classic pcap file that spanwatch reads directly (pcap_records.h) and
 * whose first record has not been read: its descriptor, format and first
 * record's offset (0); else -1 (pcapng, a -f filter, a pipe, live). */
struct pcap_format;
int source_pcap_direct(struct source *s, int *fd, struct pcap_format *fmt, uint64_t *first);
/* Read on from file offset off (a record boundary) with packets records
 * already taken by others (pool.c's shared reading); else -1 and why. */
int source_pcap_resume(struct source *s, uint64_t off, uint64_t packets);

#endif
