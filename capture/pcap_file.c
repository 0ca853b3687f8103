/*
 * pcap_file.c — libpcap packet source for capture files (pcap, pcapng) and
 * live interfaces (the "pcap" back end).
 *
 * libpcap reuses one buffer per packet, so a burst copies each packet into a
 * source-owned arena; the views handed out stay valid until the next burst.
 * A packet that no longer fits in the arena is held back and becomes the
 * first packet of the next burst (its bytes still sit in libpcap's buffer,
 * which is untouched until the next pcap_next_ex call).
 *
 * Classic pcap files (not pcapng) without a -f filter are read directly:
 * libpcap opens the file and checks its header (byte order, version, link
 * type, snapshot length, timestamp precision), then spanwatch read()s the
 * records in 512 KiB blocks into its own buffer and hands them out in place.
 * That is one copy (the kernel's) instead of libpcap's stdio path — a 4 KiB
 * read() per 4 KiB, then a copy per record into libpcap's buffer — plus
 * ours into the arena. Every record header is bounds-checked; the first
 * record that is not plainly well formed (captured length above the
 * snapshot length) and the end of the file hand the rest back to libpcap,
 * positioned at that record, so damaged, truncated or growing files get
 * exactly libpcap's behaviour and error messages.
 */
#include "capture/source.h"
#include "capture/pcap_records.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#define ARENA_BYTES (1u << 20)
/* 512 KiB blocks: the kernel's copy is still in L2 when the packets are
 * read (4 MiB blocks cost ~15% more time on the benchmark mix). A record
 * larger than the buffer (link types whose snapshot length exceeds 256 KiB)
 * goes to libpcap. */
#define RD_BUF_BYTES ((size_t)512 << 10)
_Static_assert(RD_BUF_BYTES - PCAP_RECORD_HEADER == PCAP_RECORD_MAX_CAPLEN,
               "a record pcap_record() takes fits the read buffer");
/* refill before a burst when less than this is left; what is left is moved
 * to the front, so keep it small (a record that does not fit what is left
 * ends the burst early and the next call refills) */
#define RD_REFILL_BELOW ((size_t)16 << 10)

struct pcap_source {
    struct source base;
    pcap_t *pc;
    int live;
    uint64_t received;
    int ts_nano;
    /* held-back packet from a previous burst */
    const u_char *held_data;
    struct pcap_pkthdr held_hdr;
    int held;
    uint8_t *arena;
    /* direct reading of a classic pcap file (rd_active while in use) */
    int rd_fd;
    uint8_t *rd_buf;         /* RD_BUF_BYTES */
    size_t rd_len;           /* valid bytes in rd_buf */
    size_t rd_off;           /* next record header in rd_buf */
    uint64_t rd_file_off;    /* file offset of rd_buf[0] */
    struct pcap_format rd_fmt;
    uint8_t rd_eof;
    uint8_t rd_active;
    volatile sig_atomic_t stop;
    int end;                 /* SOURCE_EOF / SOURCE_ERROR once libpcap said so */
};

/* Stop reading directly: libpcap reads on from the record at rd_off. */
static int rd_handover(struct pcap_source *ps)
{
    ps->rd_active = 0;
    uint64_t at = ps->rd_file_off + ps->rd_off;
    FILE *f = pcap_file(ps->pc);
    if (!f || fseeko(f, (off_t)at, SEEK_SET) != 0) {
        snprintf(ps->base.error, sizeof ps->base.error, "%s: cannot seek to offset %llu",
                 ps->base.name, (unsigned long long)at);
        return -1;
    }
    return 0;
}

/* Keep what is left of the buffer (a partial record) and read more after it.
 * Only between bursts: the previous burst's views die here. */
static int rd_refill(struct pcap_source *ps)
{
    size_t keep = ps->rd_len - ps->rd_off;
    memmove(ps->rd_buf, ps->rd_buf + ps->rd_off, keep);
    ps->rd_file_off += ps->rd_off;
    ps->rd_off = 0;
    ps->rd_len = keep;
    while (ps->rd_len < RD_BUF_BYTES) {
        ssize_t r = read(ps->rd_fd, ps->rd_buf + ps->rd_len, RD_BUF_BYTES - ps->rd_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(ps->base.error, sizeof ps->base.error, "%s: read error after %llu packets: %s",
                     ps->base.name, (unsigned long long)ps->received, strerror(errno));
            return -1;
        }
        if (r == 0) {
            ps->rd_eof = 1;
            break;
        }
        ps->rd_len += (size_t)r;
    }
    return 0;
}

static int rd_next_burst(struct pcap_source *ps, struct sw_packet *pkts, unsigned max)
{
    unsigned n = 0;
    if (ps->stop)
        return SOURCE_EOF;
    /* room for a whole burst of the largest records, else refill first */
    if (!ps->rd_eof && ps->rd_len - ps->rd_off < RD_REFILL_BELOW && rd_refill(ps) != 0)
        return SOURCE_ERROR;
    while (n < max) {
        size_t r = pcap_record(&ps->rd_fmt, ps->rd_buf + ps->rd_off, ps->rd_len - ps->rd_off,
                               &pkts[n]);
        if (!r)
            break;                       /* odd, or not read yet: see below */
        n++;
        ps->rd_off += r;
        ps->received++;
    }
    if (n > 0)
        return (int)n;
    /* nothing handed out: a record that does not fit what was read yet is
     * read on the next call; one over the snapshot length, or the end of
     * the file, goes to libpcap */
    if (!ps->rd_eof &&
        pcap_record_short(&ps->rd_fmt, ps->rd_buf + ps->rd_off, ps->rd_len - ps->rd_off) &&
        (ps->rd_off > 0 || ps->rd_len < RD_BUF_BYTES)) {
        if (rd_refill(ps) != 0)
            return SOURCE_ERROR;
        return rd_next_burst(ps, pkts, max);
    }
    return rd_handover(ps) != 0 ? SOURCE_ERROR : 0;
}

static uint64_t ts_to_ns(const struct pcap_source *ps, const struct pcap_pkthdr *h)
{
    uint64_t sub = (uint64_t)h->ts.tv_usec;
    if (!ps->ts_nano)
        sub *= 1000u;
    return (uint64_t)h->ts.tv_sec * 1000000000ull + sub;
}

static void put(struct pcap_source *ps, struct sw_packet *pkt, const struct pcap_pkthdr *h,
                const u_char *data, size_t *used)
{
    uint32_t cl = h->caplen;
    memcpy(ps->arena + *used, data, cl);
    pkt->data = ps->arena + *used;
    pkt->caplen = cl;
    pkt->wirelen = h->len < cl ? cl : h->len;
    pkt->ts_ns = ts_to_ns(ps, h);
    *used += (cl + 63u) & ~63u;
    ps->received++;
}

static int pcap_src_next_burst(struct source *s, struct sw_packet *pkts, unsigned max)
{
    struct pcap_source *ps = (struct pcap_source *)s;
    size_t used = 0;
    unsigned n = 0;

    if (ps->rd_active) {
        int r = rd_next_burst(ps, pkts, max);
        if (r != 0 || ps->rd_active)
            return r;
        /* handed over to libpcap: go on below */
    }
    if (ps->end)
        return ps->end;
    if (ps->held) {
        put(ps, &pkts[n++], &ps->held_hdr, ps->held_data, &used);
        ps->held = 0;
    }
    while (n < max) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = pcap_next_ex(ps->pc, &h, &data);
        if (rc == 1) {
            if (h->caplen > ARENA_BYTES) /* libpcap caps snaplen far below this */
                continue;
            if (used + h->caplen > ARENA_BYTES) {
                ps->held_hdr = *h;
                ps->held_data = data;
                ps->held = 1;
                break;
            }
            put(ps, &pkts[n++], h, data, &used);
            continue;
        }
        if (rc == 0) { /* live, non-blocking: nothing ready */
            if (n == 0) {
                /* wait at most 10 ms, so the caller's loop sees signals,
                 * snapshot requests (a scrape waits for the next turn of
                 * the loop) and reloads even on an idle link (a blocking
                 * libpcap read would wait for a block to fill or retire) */
                struct pollfd pfd = { pcap_get_selectable_fd(ps->pc), POLLIN, 0 };
                if (pfd.fd >= 0)
                    poll(&pfd, 1, 10);
            }
            break;
        }
        /* EOF or error: libpcap does not say it twice (after a truncated
         * record the next call reports a clean EOF, after an impossible
         * length it reads on into garbage), so the status is kept and
         * reported after these packets are used */
        ps->end = rc == PCAP_ERROR_BREAK ? SOURCE_EOF : SOURCE_ERROR;
        if (ps->end == SOURCE_ERROR)
            snprintf(s->error, sizeof s->error, "%s: read error after %llu packets: %s",
                     s->name, (unsigned long long)ps->received, pcap_geterr(ps->pc));
        break;
    }
    if (n == 0 && ps->end)
        return ps->end;
    return (int)n;
}

static void pcap_src_stats(struct source *s, struct source_stats *st)
{
    struct pcap_source *ps = (struct pcap_source *)s;
    memset(st, 0, sizeof *st);
    st->received = ps->received;
    if (ps->live) {
        struct pcap_stat ks;
        if (pcap_stats(ps->pc, &ks) == 0) {
            st->kernel_drops = ks.ps_drop;
            st->iface_drops = ks.ps_ifdrop;
        }
    }
}

static void pcap_src_close(struct source *s)
{
    struct pcap_source *ps = (struct pcap_source *)s;
    if (ps->pc)
        pcap_close(ps->pc);
    if (ps->rd_fd >= 0)
        close(ps->rd_fd);
    free(ps->rd_buf);
    free(ps->arena);
    free(ps);
}

static const struct source_ops pcap_ops = {
    .kind = "pcap",
    .next_burst = pcap_src_next_burst,
    .stats = pcap_src_stats,
    .close = pcap_src_close,
};

static struct pcap_source *pcap_src_alloc(const char *name)
{
    struct pcap_source *ps = calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    ps->arena = malloc(ARENA_BYTES);
    if (!ps->arena) {
        free(ps);
        return NULL;
    }
    ps->rd_fd = -1;
    ps->base.ops = &pcap_ops;
    snprintf(ps->base.name, sizeof ps->base.name, "%s", name);
    return ps;
}

static int apply_filter(struct pcap_source *ps, const char *filter, char *err, size_t errlen)
{
    struct bpf_program prog;
    if (!filter || !*filter)
        return 0;
    if (pcap_compile(ps->pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "bad filter '%s': %s", filter, pcap_geterr(ps->pc));
        return -1;
    }
    int rc = pcap_setfilter(ps->pc, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(err, errlen, "cannot set filter '%s': %s", filter, pcap_geterr(ps->pc));
        return -1;
    }
    return 0;
}

static void set_linktype(struct pcap_source *ps)
{
    ps->base.linktype = pcap_datalink(ps->pc);
    const char *nm = pcap_datalink_val_to_name(ps->base.linktype);
    ps->base.linktype_name = nm ? nm : "unknown";
}

/* Read the file directly if it is a classic pcap file (version 2.4, one of
 * the four standard magic numbers) that libpcap has opened. Any doubt:
 * leave it to libpcap. */
static void rd_open(struct pcap_source *ps, const char *path)
{
    if (pcap_major_version(ps->pc) != 2 || pcap_minor_version(ps->pc) != 4)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    uint8_t hdr[24];
    uint32_t magic;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || pread(fd, hdr, 24, 0) != 24) {
        close(fd);
        return;
    }
    memcpy(&magic, hdr, 4);
    int swapped = 0, nano;
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) {
        nano = magic == 0xa1b23c4du;
    } else if (__builtin_bswap32(magic) == 0xa1b2c3d4u || __builtin_bswap32(magic) == 0xa1b23c4du) {
        swapped = 1;
        nano = __builtin_bswap32(magic) == 0xa1b23c4du;
    } else {
        close(fd); /* a pcap variant libpcap knows and we do not */
        return;
    }
    ps->rd_buf = malloc(RD_BUF_BYTES);
    if (!ps->rd_buf || lseek(fd, PCAP_FILE_HEADER, SEEK_SET) != PCAP_FILE_HEADER) {
        free(ps->rd_buf);
        ps->rd_buf = NULL;
        close(fd);
        return;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    ps->rd_fd = fd;
    ps->rd_len = ps->rd_off = 0;
    ps->rd_file_off = PCAP_FILE_HEADER;
    ps->rd_fmt.swapped = (uint8_t)swapped;
    ps->rd_fmt.nano = (uint8_t)nano;
    ps->rd_fmt.snap = (uint32_t)pcap_snapshot(ps->pc);
    ps->rd_active = 1;
}

struct source *source_pcap_open_file(const char *path, const char *bpf_filter,
                                     char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    struct pcap_source *ps = pcap_src_alloc(path);
    if (!ps) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    ps->pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
    if (!ps->pc) {
        snprintf(err, errlen, "%s: cannot open capture: %s", path, perr);
        pcap_src_close(&ps->base);
        return NULL;
    }
    ps->ts_nano = pcap_get_tstamp_precision(ps->pc) == PCAP_TSTAMP_PRECISION_NANO;
    set_linktype(ps);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        ps->base.file_size = (uint64_t)st.st_size;
    if (apply_filter(ps, bpf_filter, err, errlen) != 0) {
        pcap_src_close(&ps->base);
        return NULL;
    }
    if (!(bpf_filter && *bpf_filter) && !getenv("SPANWATCH_LIBPCAP_READ"))
        rd_open(ps, path);
    return &ps->base;
}

struct source *source_pcap_open_live(const char *iface, const char *bpf_filter,
                                     int buffer_mb, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    struct pcap_source *ps = pcap_src_alloc(iface);
    if (!ps) {
        snprintf(err, errlen, "%s: out of memory", iface);
        return NULL;
    }
    ps->live = 1;
    ps->pc = pcap_create(iface, perr);
    if (!ps->pc) {
        snprintf(err, errlen, "%s: %s", iface, perr);
        goto fail;
    }
    pcap_set_snaplen(ps->pc, 262144);
    pcap_set_promisc(ps->pc, 1);
    /* not immediate mode: that makes libpcap use TPACKET_V2 and wake the
     * reader for every packet (1.6 us of CPU a packet against 0.12 us,
     * BENCH.md "Scaling"); TPACKET_V3 blocks are handed over when full or
     * after this timeout, as the afpacket back end's. Stamps are the
     * kernel's either way. */
    pcap_set_timeout(ps->pc, 10);
    pcap_set_buffer_size(ps->pc, (buffer_mb > 0 ? buffer_mb : 64) << 20);
    if (pcap_set_tstamp_precision(ps->pc, PCAP_TSTAMP_PRECISION_NANO) == 0)
        ps->ts_nano = 1;
    int rc = pcap_activate(ps->pc);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot start capture: %s", iface, pcap_geterr(ps->pc));
        goto fail;
    }
    ps->ts_nano = pcap_get_tstamp_precision(ps->pc) == PCAP_TSTAMP_PRECISION_NANO;
    int fd = pcap_get_selectable_fd(ps->pc);
    if (fd >= 0)
        source_kernel_timestamps(fd);
    if (pcap_setnonblock(ps->pc, 1, perr) != 0) {
        snprintf(err, errlen, "%s: cannot make capture non-blocking: %s", iface, perr);
        goto fail;
    }
    set_linktype(ps);
    if (apply_filter(ps, bpf_filter, err, errlen) != 0)
        goto fail;
    return &ps->base;
fail:
    pcap_src_close(&ps->base);
    return NULL;
}

uint64_t source_pcap_file_offset(struct source *s)
{
    struct pcap_source *ps = (struct pcap_source *)s;
    if (ps->live || !ps->pc)
        return 0;
    if (ps->rd_active)
        return ps->rd_file_off + ps->rd_off;
    FILE *f = pcap_file(ps->pc);
    long off = f ? ftell(f) : -1;
    return off > 0 ? (uint64_t)off : 0;
}

int source_pcap_direct(struct source *s, int *fd, struct pcap_format *fmt, uint64_t *first)
{
    struct pcap_source *ps = (struct pcap_source *)s;
    if (strcmp(s->ops->kind, "pcap") != 0 || ps->live || !ps->rd_active || ps->received)
        return -1;
    *fd = ps->rd_fd;
    *fmt = ps->rd_fmt;
    *first = PCAP_FILE_HEADER;
    return 0;
}

int source_pcap_resume(struct source *s, uint64_t off, uint64_t packets)
{
    struct pcap_source *ps = (struct pcap_source *)s;
    if (lseek(ps->rd_fd, (off_t)off, SEEK_SET) != (off_t)off) {
        snprintf(s->error, sizeof s->error, "%s: cannot seek to offset %llu", s->name,
                 (unsigned long long)off);
        return -1;
    }
    ps->rd_file_off = off;
    ps->rd_len = ps->rd_off = 0;
    ps->rd_eof = 0;
    ps->received = packets;
    return 0;
}
