/*
 * afxdp.c — live capture through AF_XDP sockets (--backend afxdp).
 *
 * spanwatch loads its own XDP program (capture/bpf/xsk_redirect.bpf.c,
 * through a libbpf skeleton) and attaches it with bpf_xdp_attach(), in
 * native (driver) mode where the driver allows and SKB (generic) mode
 * otherwise. Worker i owns one AF_XDP socket bound to RX queue i (libxdp's
 * xsk API, with its own program loading inhibited) and registered in the
 * program's XSKMAP, so frames of queue i go straight to worker i: the NIC's
 * RSS decides the spread (use a symmetric key, see README).
 *
 * Each socket has a UMEM of 4096 frames of 4 KiB. A burst is the frames
 * peeked from the RX ring; they are returned to the fill ring on the next
 * call (views stay valid until then, as the source contract requires).
 * Timestamps: AF_XDP descriptors carry none, so our XDP program writes the
 * monotonic clock at the driver's receive into the metadata in front of
 * each frame (capture/bpf/xsk_stamp.h); a burst converts it to real time
 * with the offset between CLOCK_REALTIME and CLOCK_MONOTONIC read when the
 * burst is taken. A frame without the stamp (a driver that cannot grow
 * the metadata) is stamped with CLOCK_REALTIME when the burst is taken.
 */
#include "capture/afxdp.h"

#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pcap/dlt.h>
#include <xdp/xsk.h>

#include <linux/types.h>

#include "util/clock.h"
#include "capture/bpf/xsk_stamp.h"
#include "xsk_redirect.skel.h"

#define NUM_FRAMES 4096u
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
#define RX_SIZE XSK_RING_CONS__DEFAULT_NUM_DESCS
#define FILL_SIZE XSK_RING_PROD__DEFAULT_NUM_DESCS
#define POLL_MS 10

struct afxdp_prog {
    struct xsk_redirect_bpf *skel;
    int ifindex;
    uint32_t xdp_flags;
    int native;
};

struct xdp_source {
    struct source base;
    void *area;
    struct xsk_umem *umem;
    struct xsk_ring_prod fq;
    struct xsk_ring_cons cq;
    struct xsk_ring_cons rx;
    struct xsk_socket *xsk;
    uint32_t held;             /* descriptors peeked, released on the next call */
    uint64_t held_addr[SOURCE_BURST_MAX];
    uint64_t received;
    struct iface_drops iface;  /* one socket also reports the interface's drops */
};

void afxdp_report_iface_drops(struct source *s)
{
    struct xdp_source *x = (struct xdp_source *)s;
    iface_drops_start(&x->iface, x->base.name);
}

unsigned afxdp_rx_queues(const char *iface)
{
    char path[160];
    unsigned n = 0;
    for (; n < 4096; n++) {
        snprintf(path, sizeof path, "/sys/class/net/%s/queues/rx-%u", iface, n);
        if (access(path, F_OK) != 0)
            break;
    }
    return n;
}

struct afxdp_prog *afxdp_attach(const char *iface, const char *mode, char *err, size_t errlen)
{
    int ifindex = (int)if_nametoindex(iface);
    if (!ifindex) {
        snprintf(err, errlen, "interface %s does not exist", iface);
        return NULL;
    }
    struct afxdp_prog *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->ifindex = ifindex;
    libbpf_set_print(NULL); /* errors are reported below, in one line */
    p->skel = xsk_redirect_bpf__open_and_load();
    if (!p->skel) {
        snprintf(err, errlen, "%s: loading the XDP program failed: %s%s", iface, strerror(errno),
                 errno == EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN: run as root)" : "");
        free(p);
        return NULL;
    }
    int prog = bpf_program__fd(p->skel->progs.xsk_redirect);
    int try_native = !mode || !strcmp(mode, "auto") || !strcmp(mode, "native");
    int try_skb = !mode || !strcmp(mode, "auto") || !strcmp(mode, "skb");
    int rc = -1;
    if (try_native) {
        p->xdp_flags = XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST;
        rc = bpf_xdp_attach(ifindex, prog, p->xdp_flags, NULL);
        p->native = rc == 0;
    }
    if (rc != 0 && try_skb) {
        p->xdp_flags = XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST;
        rc = bpf_xdp_attach(ifindex, prog, p->xdp_flags, NULL);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: attaching the XDP program (%s mode) failed: %s%s", iface,
                 mode ? mode : "auto", strerror(-rc),
                 -rc == EBUSY || -rc == EEXIST ? " (another XDP program is attached)" : "");
        xsk_redirect_bpf__destroy(p->skel);
        free(p);
        return NULL;
    }
    return p;
}

int afxdp_native(const struct afxdp_prog *p)
{
    return p->native;
}

void afxdp_counters(const struct afxdp_prog *p, uint64_t *redirected, uint64_t *passed)
{
    int ncpu = libbpf_num_possible_cpus();
    *redirected = *passed = 0;
    if (ncpu <= 0 || ncpu > 4096)
        return;
    uint64_t *vals = calloc((size_t)ncpu, sizeof *vals);
    if (!vals)
        return;
    int fd = bpf_map__fd(p->skel->maps.counters);
    for (uint32_t k = 0; k < 2; k++) {
        if (bpf_map_lookup_elem(fd, &k, vals) != 0)
            continue;
        uint64_t sum = 0;
        for (int c = 0; c < ncpu; c++)
            sum += vals[c];
        *(k == 0 ? redirected : passed) = sum;
    }
    free(vals);
}

void afxdp_detach(struct afxdp_prog *p)
{
    if (!p)
        return;
    if (bpf_xdp_detach(p->ifindex, p->xdp_flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST, NULL) != 0)
        fprintf(stderr, "spanwatch: could not detach the XDP program (it stays attached; "
                        "remove it with: ip link set dev <iface> xdp off)\n");
    xsk_redirect_bpf__destroy(p->skel);
    free(p);
}

static void give_back(struct xdp_source *x)
{
    if (!x->held)
        return;
    xsk_ring_cons__release(&x->rx, x->held);
    uint32_t idx;
    /* the fill ring has room for every frame, so this cannot fall short */
    if (xsk_ring_prod__reserve(&x->fq, x->held, &idx) == x->held) {
        for (uint32_t i = 0; i < x->held; i++)
            *xsk_ring_prod__fill_addr(&x->fq, idx + i) = x->held_addr[i];
        xsk_ring_prod__submit(&x->fq, x->held);
    }
    x->held = 0;
}

static int xdp_next_burst(struct source *s, struct sw_packet *pkts, unsigned max)
{
    struct xdp_source *x = (struct xdp_source *)s;
    give_back(x);
    if (max > SOURCE_BURST_MAX)
        max = SOURCE_BURST_MAX;
    uint32_t idx;
    uint32_t n = xsk_ring_cons__peek(&x->rx, max, &idx);
    if (!n) {
        if (xsk_ring_prod__needs_wakeup(&x->fq))
            recvfrom(xsk_socket__fd(x->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
        struct pollfd pfd = { .fd = xsk_socket__fd(x->xsk), .events = POLLIN };
        int r = poll(&pfd, 1, POLL_MS);
        if (r < 0 && errno != EINTR) {
            snprintf(s->error, sizeof s->error, "%s: poll: %s", s->name, strerror(errno));
            return SOURCE_ERROR;
        }
        if (r > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))) {
            snprintf(s->error, sizeof s->error, "%s: capture stopped: the interface went "
                     "down or away", s->name);
            return SOURCE_ERROR;
        }
        n = xsk_ring_cons__peek(&x->rx, max, &idx);
        if (!n)
            return 0;
    }
    uint64_t now = clock_wall_ns();
    uint64_t mono_to_real = now - clock_mono_ns();
    for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
        uint32_t len = d->len > FRAME_SIZE ? FRAME_SIZE : d->len;
        pkts[i].data = xsk_umem__get_data(x->area, d->addr);
        pkts[i].caplen = len;
        pkts[i].wirelen = d->len;
        pkts[i].ts_ns = now;
        /* the stamp sits in the frame's headroom, inside its UMEM chunk */
        if (d->addr % FRAME_SIZE >= sizeof(struct xsk_stamp)) {
            struct xsk_stamp st;
            memcpy(&st, (const uint8_t *)pkts[i].data - sizeof st, sizeof st);
            if (st.magic == XSK_STAMP_MAGIC && st.mono_ns + mono_to_real <= now)
                pkts[i].ts_ns = st.mono_ns + mono_to_real;
        }
        x->held_addr[i] = xsk_umem__extract_addr(d->addr);
    }
    x->held = n;
    x->received += n;
    return (int)n;
}

/* XDP_STATISTICS of one socket. The kernel counts a frame it found no free
 * UMEM frame for in rx_dropped *and* in rx_fill_ring_empty_descs, so the
 * frames lost are rx_dropped + rx_ring_full, and rx_fill_ring_empty_descs
 * says how many of rx_dropped were for want of a fill-ring frame. */
static int xsk_drop_stats(struct xdp_source *x, uint64_t *fill_empty, uint64_t *ring_full,
                          uint64_t *other)
{
    struct xdp_statistics xs;
    socklen_t len = sizeof xs;
    if (getsockopt(xsk_socket__fd(x->xsk), SOL_XDP, XDP_STATISTICS, &xs, &len) != 0)
        return -1;
    uint64_t empty = xs.rx_fill_ring_empty_descs < xs.rx_dropped ? xs.rx_fill_ring_empty_descs
                                                                  : xs.rx_dropped;
    *fill_empty = empty;
    *ring_full = xs.rx_ring_full;
    *other = xs.rx_dropped - empty;
    return 0;
}

static void xdp_stats(struct source *s, struct source_stats *st)
{
    struct xdp_source *x = (struct xdp_source *)s;
    memset(st, 0, sizeof *st);
    st->received = x->received;
    uint64_t empty, full, other;
    if (xsk_drop_stats(x, &empty, &full, &other) == 0)
        st->kernel_drops = empty + full + other;
    st->iface_drops = iface_drops_since(&x->iface, x->base.name);
}

const char *const afxdp_drop_name[AFXDP_DROP_COUNT] = {
    [AFXDP_DROP_NO_SOCKET] = "no_socket",
    [AFXDP_DROP_FILL_RING_EMPTY] = "fill_ring_empty",
    [AFXDP_DROP_RX_RING_FULL] = "rx_ring_full",
    [AFXDP_DROP_OTHER] = "other",
};

void afxdp_socket_drops(struct source *s, uint64_t drops[AFXDP_DROP_COUNT])
{
    uint64_t empty, full, other;
    if (xsk_drop_stats((struct xdp_source *)s, &empty, &full, &other) != 0)
        return;
    drops[AFXDP_DROP_FILL_RING_EMPTY] += empty;
    drops[AFXDP_DROP_RX_RING_FULL] += full;
    drops[AFXDP_DROP_OTHER] += other;
}

static void xdp_close(struct source *s)
{
    struct xdp_source *x = (struct xdp_source *)s;
    if (x->xsk)
        xsk_socket__delete(x->xsk);
    if (x->umem)
        xsk_umem__delete(x->umem);
    if (x->area)
        munmap(x->area, (size_t)NUM_FRAMES * FRAME_SIZE);
    free(x);
}

static const struct source_ops xdp_ops = {
    .kind = "afxdp",
    .next_burst = xdp_next_burst,
    .stats = xdp_stats,
    .close = xdp_close,
};

struct source *afxdp_open_queue(struct afxdp_prog *p, const char *iface, unsigned queue,
                                char *err, size_t errlen)
{
    struct xdp_source *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->base.ops = &xdp_ops;
    x->base.linktype = DLT_EN10MB;
    x->base.linktype_name = "EN10MB";
    snprintf(x->base.name, sizeof x->base.name, "%s", iface);
    x->area = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (x->area == MAP_FAILED) {
        x->area = NULL;
        snprintf(err, errlen, "%s: UMEM: %s", iface, strerror(errno));
        goto fail;
    }
    struct xsk_umem_config uc = {
        .fill_size = FILL_SIZE * 2,
        .comp_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
        .frame_size = FRAME_SIZE,
        .frame_headroom = 0,
        .flags = 0,
    };
    int rc = xsk_umem__create(&x->umem, x->area, (uint64_t)NUM_FRAMES * FRAME_SIZE, &x->fq,
                              &x->cq, &uc);
    if (rc) {
        snprintf(err, errlen, "%s: AF_XDP UMEM: %s", iface, strerror(-rc));
        goto fail;
    }
    struct xsk_socket_config sc = {
        .rx_size = RX_SIZE,
        .tx_size = 0,
        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
        .xdp_flags = p->xdp_flags,
        .bind_flags = (uint16_t)(p->native ? XDP_USE_NEED_WAKEUP : XDP_COPY),
    };
    rc = xsk_socket__create(&x->xsk, iface, queue, x->umem, &x->rx, NULL, &sc);
    if (rc) {
        snprintf(err, errlen, "%s: AF_XDP socket on RX queue %u: %s%s", iface, queue,
                 strerror(-rc),
                 -rc == EINVAL ? " (does the interface have that many RX queues? one worker "
                                 "per queue: see ethtool -l)" : "");
        goto fail;
    }
    rc = xsk_socket__update_xskmap(x->xsk, bpf_map__fd(p->skel->maps.xsks));
    if (rc) {
        snprintf(err, errlen, "%s: registering queue %u in the XSKMAP: %s", iface, queue,
                 strerror(-rc));
        goto fail;
    }
    /* every frame to the fill ring */
    uint32_t idx;
    if (xsk_ring_prod__reserve(&x->fq, NUM_FRAMES, &idx) != NUM_FRAMES) {
        snprintf(err, errlen, "%s: filling the UMEM fill ring failed", iface);
        goto fail;
    }
    for (uint32_t i = 0; i < NUM_FRAMES; i++)
        *xsk_ring_prod__fill_addr(&x->fq, idx + i) = (uint64_t)i * FRAME_SIZE;
    xsk_ring_prod__submit(&x->fq, NUM_FRAMES);
    return &x->base;
fail:
    xdp_close(&x->base);
    return NULL;
}
