/*
 * afpacket.c — live capture through AF_PACKET TPACKET_V3 memory-mapped
 * rings: one socket per worker, all in one PACKET_FANOUT_HASH group (with
 * PACKET_FANOUT_FLAG_DEFRAG, so the fragments of a datagram reach the same
 * socket). The kernel's fanout hash is symmetric over the flow, so both
 * directions of a connection land on the same worker without a dispatcher.
 *
 * A ring is a list of blocks the kernel fills and hands over
 * (TP_STATUS_USER); the packets of a block are returned as views and the
 * block is given back (TP_STATUS_KERNEL) on the next call, honouring the
 * source contract (views valid until the next source_next_burst()).
 * The BPF filter is compiled by libpcap and attached to every socket.
 * Drops: PACKET_STATISTICS (tp_drops), which resets on read, accumulated.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/filter.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture/source.h"

#define BLOCK_SIZE (1u << 20)
#define FRAME_SIZE 2048u
#define POLL_MS 10

struct afp_source {
    struct source base;
    int fd;
    uint8_t *map;
    size_t map_len;
    unsigned nblocks;
    unsigned cur;               /* block being read */
    struct tpacket_block_desc *held; /* block whose packets were handed out */
    uint32_t left;              /* packets of the current block not yet returned */
    struct tpacket3_hdr *next;  /* next packet in the current block */
    uint64_t received, drops;
    /* one socket of the fanout group also reports the interface's own
     * drops (rx_dropped + rx_missed_errors since open, as libpcap does) */
    struct iface_drops iface;
    /* a loopback interface hands every frame to packet sockets twice, as
     * it leaves (PACKET_OUTGOING) and as it arrives: keep the arriving copy,
     * as libpcap does. Elsewhere outgoing frames are the host's own traffic
     * and are kept. */
    int skip_outgoing;
};

void source_afpacket_report_iface_drops(struct source *s)
{
    struct afp_source *a = (struct afp_source *)s;
    iface_drops_start(&a->iface, a->base.name);
}

static struct tpacket_block_desc *block(struct afp_source *a, unsigned i)
{
    return (struct tpacket_block_desc *)(a->map + (size_t)i * BLOCK_SIZE);
}

static void release_held(struct afp_source *a)
{
    if (a->held) {
        __atomic_store_n(&a->held->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        a->held = NULL;
    }
}

static int afp_next_burst(struct source *s, struct sw_packet *pkts, unsigned max)
{
    struct afp_source *a = (struct afp_source *)s;
    if (!a->left) {
        release_held(a);
        struct tpacket_block_desc *b = block(a, a->cur);
        if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
            struct pollfd pfd = { .fd = a->fd, .events = POLLIN };
            int r = poll(&pfd, 1, POLL_MS);
            if (r < 0 && errno != EINTR) {
                snprintf(s->error, sizeof s->error, "%s: poll: %s", s->name, strerror(errno));
                return SOURCE_ERROR;
            }
            if (r > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))) {
                /* the interface went down or away: say so instead of spinning */
                int e = 0;
                socklen_t el = sizeof e;
                getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &e, &el);
                snprintf(s->error, sizeof s->error, "%s: capture stopped: %s", s->name,
                         e == ENETDOWN ? "the interface went down"
                         : e          ? strerror(e)
                                      : "the interface went away");
                return SOURCE_ERROR;
            }
            if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
                return 0;
        }
        a->left = b->hdr.bh1.num_pkts;
        a->next = (struct tpacket3_hdr *)((uint8_t *)b + b->hdr.bh1.offset_to_first_pkt);
        a->held = b;
        a->cur = (a->cur + 1) % a->nblocks;
        if (!a->left)
            return 0;
    }
    unsigned n = 0;
    uint8_t *end = (uint8_t *)a->held + BLOCK_SIZE;
    while (n < max && a->left) {
        struct tpacket3_hdr *h = a->next;
        uint8_t *data = (uint8_t *)h + h->tp_mac;
        if ((uint8_t *)h < (uint8_t *)a->held || data + h->tp_snaplen > end) {
            a->left = 0; /* a corrupt block header: skip the rest of it */
            break;
        }
        a->left--;
        a->next = (struct tpacket3_hdr *)((uint8_t *)h + h->tp_next_offset);
        if (a->skip_outgoing) {
            /* the sockaddr_ll follows the header (the kernel's layout) */
            const struct sockaddr_ll *ll =
                (const struct sockaddr_ll *)((uint8_t *)h + TPACKET_ALIGN(sizeof *h));
            if ((uint8_t *)(ll + 1) <= end && ll->sll_pkttype == PACKET_OUTGOING)
                continue;
        }
        pkts[n].data = data;
        pkts[n].caplen = h->tp_snaplen;
        pkts[n].wirelen = h->tp_len;
        pkts[n].ts_ns = (uint64_t)h->tp_sec * 1000000000ull + h->tp_nsec;
        n++;
    }
    a->received += n;
    return (int)n;
}

static void afp_stats(struct source *s, struct source_stats *st)
{
    struct afp_source *a = (struct afp_source *)s;
    struct tpacket_stats_v3 ks;
    socklen_t len = sizeof ks;
    if (getsockopt(a->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0)
        a->drops += ks.tp_drops; /* the kernel resets these on every read */
    memset(st, 0, sizeof *st);
    st->received = a->received;
    st->kernel_drops = a->drops;
    st->iface_drops = iface_drops_since(&a->iface, a->base.name);
}

static void afp_close(struct source *s)
{
    struct afp_source *a = (struct afp_source *)s;
    if (a->map)
        munmap(a->map, a->map_len);
    if (a->fd >= 0)
        close(a->fd);
    free(a);
}

static const struct source_ops afp_ops = {
    .kind = "afpacket",
    .next_burst = afp_next_burst,
    .stats = afp_stats,
    .close = afp_close,
};

int source_kernel_timestamps(int fd)
{
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
}

int source_afpacket_check(const char *iface, char *err, size_t errlen)
{
    unsigned idx = if_nametoindex(iface);
    if (!idx) {
        snprintf(err, errlen, "interface %s does not exist", iface);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", iface);
    int down = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP);
    if (fd >= 0)
        close(fd);
    if (down) {
        snprintf(err, errlen, "interface %s is down (ip link set %s up)", iface, iface);
        return -1;
    }
    return 0;
}

struct source *source_afpacket_open(const char *iface, const char *bpf_filter, int *fanout_group,
                                    int fanout_prog,
                                    unsigned ring_mb, char *err, size_t errlen)
{
    if (source_afpacket_check(iface, err, errlen) != 0)
        return NULL;
    struct afp_source *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->fd = -1;
    a->base.ops = &afp_ops;
    a->base.linktype = DLT_EN10MB;
    a->base.linktype_name = "EN10MB";
    snprintf(a->base.name, sizeof a->base.name, "%s", iface);

    a->fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (a->fd < 0) {
        snprintf(err, errlen, "%s: AF_PACKET socket: %s%s", iface, strerror(errno),
                 errno == EPERM ? " (needs CAP_NET_RAW: run as root or grant the capability)"
                                : "");
        goto fail;
    }
    /* kernel timestamps for every frame, taken once when the interface
     * receives or sends it, and shared by every packet socket (tcpdump's
     * too); without it each socket stamps the frame when it is delivered
     * to that socket, microseconds apart (see source_kernel_timestamps) */
    source_kernel_timestamps(a->fd);
    int v = TPACKET_V3;
    if (setsockopt(a->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) != 0) {
        snprintf(err, errlen, "%s: TPACKET_V3: %s", iface, strerror(errno));
        goto fail;
    }
    if (bpf_filter && *bpf_filter) {
        struct bpf_program prog;
        pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
        if (!dead || pcap_compile(dead, &prog, bpf_filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(err, errlen, "filter '%s': %s", bpf_filter,
                     dead ? pcap_geterr(dead) : "out of memory");
            if (dead)
                pcap_close(dead);
            goto fail;
        }
        pcap_close(dead);
        struct sock_fprog fp = { .len = (unsigned short)prog.bf_len,
                                 .filter = (struct sock_filter *)prog.bf_insns };
        int rc = setsockopt(a->fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp);
        pcap_freecode(&prog);
        if (rc != 0) {
            snprintf(err, errlen, "%s: attaching the filter: %s", iface, strerror(errno));
            goto fail;
        }
    }
    a->nblocks = (ring_mb ? ring_mb : 64) * (1u << 20) / BLOCK_SIZE;
    if (a->nblocks < 4)
        a->nblocks = 4;
    struct tpacket_req3 req = {
        .tp_block_size = BLOCK_SIZE,
        .tp_block_nr = a->nblocks,
        .tp_frame_size = FRAME_SIZE,
        .tp_frame_nr = (BLOCK_SIZE / FRAME_SIZE) * a->nblocks,
        .tp_retire_blk_tov = POLL_MS,
        .tp_feature_req_word = 0,
    };
    if (setsockopt(a->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) {
        snprintf(err, errlen, "%s: PACKET_RX_RING (%u MiB): %s", iface, a->nblocks,
                 strerror(errno));
        goto fail;
    }
    a->map_len = (size_t)a->nblocks * BLOCK_SIZE;
    a->map = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, a->fd, 0);
    if (a->map == MAP_FAILED)
        a->map = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
    if (a->map == MAP_FAILED) {
        a->map = NULL;
        snprintf(err, errlen, "%s: mmap of the ring: %s", iface, strerror(errno));
        goto fail;
    }
    struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                              .sll_ifindex = (int)if_nametoindex(iface) };
    if (bind(a->fd, (struct sockaddr *)&ll, sizeof ll) != 0) {
        snprintf(err, errlen, "%s: bind: %s", iface, strerror(errno));
        goto fail;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", iface);
    if (ioctl(a->fd, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK)
        a->skip_outgoing = 1;
    struct packet_mreq mr = { .mr_ifindex = ll.sll_ifindex, .mr_type = PACKET_MR_PROMISC };
    setsockopt(a->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr); /* best effort */
    if (fanout_group) {
        /* the first socket asks the kernel for a group id no one else in
         * this network namespace uses (a fixed id, e.g. from the PID, can
         * meet another program's group: EINVAL), the others join it */
        int flags = (fanout_prog >= 0 ? PACKET_FANOUT_EBPF : PACKET_FANOUT_HASH) |
                    PACKET_FANOUT_FLAG_DEFRAG;
        int f = *fanout_group >= 0 ? (*fanout_group & 0xffff) | (flags << 16)
                                   : (flags | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
        if (setsockopt(a->fd, SOL_PACKET, PACKET_FANOUT, &f, sizeof f) != 0) {
            snprintf(err, errlen, "%s: PACKET_FANOUT: %s", iface, strerror(errno));
            goto fail;
        }
        socklen_t fl = sizeof f;
        if (*fanout_group < 0) { /* the kernel's ids start at 0 */
            if (getsockopt(a->fd, SOL_PACKET, PACKET_FANOUT, &f, &fl) != 0) {
                snprintf(err, errlen, "%s: PACKET_FANOUT: no group id: %s", iface, strerror(errno));
                goto fail;
            }
            *fanout_group = f & 0xffff;
            /* the group's program: the kernel keeps its own reference */
            if (fanout_prog >= 0 &&
                setsockopt(a->fd, SOL_PACKET, PACKET_FANOUT_DATA, &fanout_prog,
                           sizeof fanout_prog) != 0) {
                snprintf(err, errlen, "%s: PACKET_FANOUT_DATA: %s", iface, strerror(errno));
                goto fail;
            }
        }
    }
    return &a->base;
fail:
    afp_close(&a->base);
    return NULL;
}
