/*
 * pcap_file.c — libpcap packet source for capture files (pcap, pcapng) and
 * live interfaces (the "pcap" back end).
 *
 * libpcap reuses one buffer per packet, so a burst copies each packet into a
 * source-owned arena; the views handed out stay valid until the next burst.
 * A packet that no longer fits in the arena is held back and becomes the
 * first packet of the next burst (its bytes still sit in libpcap's buffer,
 * which is untouched until the next pcap_next_ex call).
 */
#include "source.h"

#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ARENA_BYTES (1u << 20)

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
};

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
                 * the loop) and reloads even on an idle link; in immediate
                 * mode libpcap itself would block with no timeout */
                struct pollfd pfd = { pcap_get_selectable_fd(ps->pc), POLLIN, 0 };
                if (pfd.fd >= 0)
                    poll(&pfd, 1, 10);
            }
            break;
        }
        if (n > 0) {
            /* Report EOF/error on the next call, after these packets are used.
             * libpcap keeps returning the same status. */
            break;
        }
        if (rc == PCAP_ERROR_BREAK)
            return SOURCE_EOF;
        snprintf(s->error, sizeof s->error, "%s: read error after %llu packets: %s",
                 s->name, (unsigned long long)ps->received, pcap_geterr(ps->pc));
        return SOURCE_ERROR;
    }
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

static void pcap_src_breakloop(struct source *s)
{
    pcap_breakloop(((struct pcap_source *)s)->pc);
}

static void pcap_src_close(struct source *s)
{
    struct pcap_source *ps = (struct pcap_source *)s;
    if (ps->pc)
        pcap_close(ps->pc);
    free(ps->arena);
    free(ps);
}

static const struct source_ops pcap_ops = {
    .kind = "pcap",
    .next_burst = pcap_src_next_burst,
    .stats = pcap_src_stats,
    .breakloop = pcap_src_breakloop,
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
    pcap_set_immediate_mode(ps->pc, 1);
    pcap_set_timeout(ps->pc, 100);
    pcap_set_buffer_size(ps->pc, (buffer_mb > 0 ? buffer_mb : 64) << 20);
    if (pcap_set_tstamp_precision(ps->pc, PCAP_TSTAMP_PRECISION_NANO) == 0)
        ps->ts_nano = 1;
    int rc = pcap_activate(ps->pc);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot start capture: %s", iface, pcap_geterr(ps->pc));
        goto fail;
    }
    ps->ts_nano = pcap_get_tstamp_precision(ps->pc) == PCAP_TSTAMP_PRECISION_NANO;
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
    FILE *f = pcap_file(ps->pc);
    long off = f ? ftell(f) : -1;
    return off > 0 ? (uint64_t)off : 0;
}
