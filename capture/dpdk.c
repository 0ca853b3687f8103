/*
 * dpdk.c — capture through DPDK (--backend dpdk, --dpdk-args "EAL args").
 *
 * The EAL is initialised from --dpdk-args (for tests here: --no-huge
 * --no-pci -m 512 --vdev=net_pcap0,rx_pcap=FILE or
 * --vdev=net_af_packet0,iface=VETH[,qpairs=N]). The first port is
 * configured with one RX queue per worker and, where the device supports
 * it, RSS with a symmetric Toeplitz key (the 0x6d5a pattern: both
 * directions of a flow hash alike). A device whose queues receive whatever
 * is configured — net_af_packet opens one kernel socket per qpair in a
 * fanout group at probe time — gets all of its queues, so no queue fills
 * unread: queue q is polled by worker q mod W. Each worker registers its
 * thread with the EAL and polls its queues with rte_eth_rx_burst; a
 * burst's mbufs are freed on the next call (views stay valid until then).
 *
 * Timestamps: none of the devices used here stamps packets (net_af_packet
 * in DPDK 22.11 drops the kernel's stamp), so a burst is stamped with
 * CLOCK_REALTIME (vDSO, no system call) when rte_eth_rx_burst returns it.
 * The stamp is late by the time the burst waited in the queue: the poll
 * interval while traffic flows (a busy loop), up to IDLE_NAP_NS plus the
 * wake-up latency after an idle spell. Drops: rte_eth_stats imissed +
 * rx_nombuf, reported by worker 0's source for the whole port.
 */
#include "capture/dpdk.h"
#include "util/signals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <pcap/dlt.h>

#include "capture/modules.h"
#include "util/clock.h"
#include "util/module.h"

#define RX_DESC 1024
#define MBUFS 8191
#define MAX_QUEUES 64
/* After traffic a worker keeps polling without a pause for BUSY_POLL_NS
 * (replies follow requests within it on a LAN), then naps IDLE_NAP_NS
 * between polls (with 1 ns timer slack, so a nap is not rounded up to the
 * default 50 us). */
#define BUSY_POLL_NS 20000000ull
#define IDLE_NAP_NS 10000

static struct rte_mempool *pool;
static uint16_t port;
static unsigned nqueues; /* RX queues configured on the port */
static int eal_up;

struct dpdk_source {
    struct source base;
    unsigned worker, nworkers;  /* polls queues worker, worker + nworkers, ... */
    unsigned next;              /* the queue polled next (round robin) */
    int registered;
    unsigned held;
    uint64_t last_traffic_ns;   /* monotonic time of the last non-empty poll */
    struct rte_mbuf *mb[SOURCE_BURST_MAX];
    uint64_t received;
};

int dpdk_setup(const char *eal_args, unsigned nworkers, char *err, size_t errlen)
{
    char *copy = strdup(eal_args ? eal_args : "");
    char *argv[64];
    int argc = 0;
    argv[argc++] = "spanwatch";
    for (char *t = strtok(copy, " \t"); t && argc < 63; t = strtok(NULL, " \t"))
        argv[argc++] = t;
    argv[argc] = NULL;
    sigset_t old;
    signals_block_stop(&old); /* the EAL's threads inherit it (util/signals.h) */
    int eal = rte_eal_init(argc, argv);
    signals_restore(&old);
    if (eal < 0) {
        snprintf(err, errlen, "DPDK EAL initialisation failed (--dpdk-args '%s'): %s",
                 eal_args ? eal_args : "", rte_strerror(rte_errno));
        return -1; /* copy stays referenced by the EAL */
    }
    eal_up = 1;
    uint16_t nports = rte_eth_dev_count_avail();
    if (!nports) {
        snprintf(err, errlen, "DPDK: no Ethernet port (give a device or --vdev in --dpdk-args)");
        return -1;
    }
    port = 0;
    RTE_ETH_FOREACH_DEV(port) break;
    struct rte_eth_dev_info info;
    if (rte_eth_dev_info_get(port, &info) != 0) {
        snprintf(err, errlen, "DPDK: port %u: no device info", port);
        return -1;
    }
    if (nworkers > info.max_rx_queues) {
        snprintf(err, errlen, "DPDK: port %u (%s) has %u RX queues; -w %u needs one per worker",
                 port, info.driver_name, info.max_rx_queues, nworkers);
        return -1;
    }
    nqueues = nworkers;
    /* net_af_packet's queues are kernel sockets in a fanout group, opened
     * for every qpair whatever is configured: each one receives a share */
    if (!strcmp(info.driver_name, "net_af_packet") && info.max_rx_queues > nqueues)
        nqueues = info.max_rx_queues;
    if (nqueues > MAX_QUEUES) {
        snprintf(err, errlen, "DPDK: port %u (%s): %u RX queues, at most %u supported", port,
                 info.driver_name, nqueues, MAX_QUEUES);
        return -1;
    }
    pool = rte_pktmbuf_pool_create("spanwatch", MBUFS * nqueues, 256, 0,
                                   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    if (!pool) {
        snprintf(err, errlen, "DPDK: mbuf pool: %s (with --no-huge, raise -m)",
                 rte_strerror(rte_errno));
        return -1;
    }
    static uint8_t key[40];
    for (unsigned i = 0; i < sizeof key; i += 2) {
        key[i] = 0x6d;
        key[i + 1] = 0x5a;
    }
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof conf);
    uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    if (nqueues > 1 && hf) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = key;
        conf.rx_adv_conf.rss_conf.rss_key_len = sizeof key;
        conf.rx_adv_conf.rss_conf.rss_hf = hf;
    }
    uint16_t ntx = info.max_tx_queues ? 1 : 0;
    int rc = rte_eth_dev_configure(port, (uint16_t)nqueues, ntx, &conf);
    if (rc < 0) {
        snprintf(err, errlen, "DPDK: configuring port %u: %s", port, rte_strerror(-rc));
        return -1;
    }
    for (unsigned q = 0; q < nqueues; q++) {
        rc = rte_eth_rx_queue_setup(port, (uint16_t)q, RX_DESC, rte_eth_dev_socket_id(port), NULL,
                                    pool);
        if (rc < 0) {
            snprintf(err, errlen, "DPDK: RX queue %u: %s", q, rte_strerror(-rc));
            return -1;
        }
    }
    if (ntx && (rc = rte_eth_tx_queue_setup(port, 0, 512, rte_eth_dev_socket_id(port), NULL)) < 0) {
        snprintf(err, errlen, "DPDK: TX queue: %s", rte_strerror(-rc));
        return -1;
    }
    if ((rc = rte_eth_dev_start(port)) < 0) {
        snprintf(err, errlen, "DPDK: starting port %u: %s", port, rte_strerror(-rc));
        return -1;
    }
    rte_eth_promiscuous_enable(port);
    return 0;
}

unsigned dpdk_queue_count(void)
{
    return nqueues;
}

const char *dpdk_port_name(void)
{
    static char name[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(port, name) != 0)
        snprintf(name, sizeof name, "dpdk%u", port);
    return name;
}

static int dpdk_next_burst(struct source *s, struct sw_packet *pkts, unsigned max)
{
    struct dpdk_source *d = (struct dpdk_source *)s;
    if (!d->registered) {
        rte_thread_register(); /* an EAL thread: per-lcore mempool caches */
        prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
        d->registered = 1;
    }
    if (d->held) {
        rte_pktmbuf_free_bulk(d->mb, d->held);
        d->held = 0;
    }
    if (max > SOURCE_BURST_MAX)
        max = SOURCE_BURST_MAX;
    /* one pass over this worker's queues, from where the last one stopped */
    uint16_t n = 0;
    for (unsigned i = d->worker; i < nqueues && !n; i += d->nworkers) {
        unsigned q = d->next;
        d->next = d->next + d->nworkers < nqueues ? d->next + d->nworkers : d->worker;
        n = rte_eth_rx_burst(port, (uint16_t)q, d->mb, (uint16_t)max);
    }
    if (!n) {
        if (clock_mono_ns() - d->last_traffic_ns > BUSY_POLL_NS) {
            struct timespec nap = { 0, IDLE_NAP_NS };
            nanosleep(&nap, NULL);
        }
        return 0;
    }
    uint64_t now = clock_wall_ns();
    d->last_traffic_ns = clock_mono_ns();
    for (uint16_t i = 0; i < n; i++) {
        struct rte_mbuf *m = d->mb[i];
        pkts[i].data = rte_pktmbuf_mtod(m, const uint8_t *);
        pkts[i].caplen = rte_pktmbuf_data_len(m); /* first segment only */
        pkts[i].wirelen = rte_pktmbuf_pkt_len(m);
        pkts[i].ts_ns = now;
    }
    d->held = n;
    d->received += n;
    return n;
}

static void dpdk_stats(struct source *s, struct source_stats *st)
{
    struct dpdk_source *d = (struct dpdk_source *)s;
    memset(st, 0, sizeof *st);
    st->received = d->received;
    struct rte_eth_stats es;
    if (d->worker == 0 && rte_eth_stats_get(port, &es) == 0)
        st->kernel_drops = es.imissed + es.rx_nombuf;
}

static void dpdk_close(struct source *s)
{
    struct dpdk_source *d = (struct dpdk_source *)s;
    if (d->held)
        rte_pktmbuf_free_bulk(d->mb, d->held);
    free(d);
}

static const struct source_ops dpdk_ops = {
    .kind = "dpdk",
    .next_burst = dpdk_next_burst,
    .stats = dpdk_stats,
    .close = dpdk_close,
};

struct source *dpdk_open_worker(unsigned worker, unsigned nworkers, char *err, size_t errlen)
{
    struct dpdk_source *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->base.ops = &dpdk_ops;
    d->base.linktype = DLT_EN10MB;
    d->base.linktype_name = "EN10MB";
    snprintf(d->base.name, sizeof d->base.name, "%s", dpdk_port_name());
    d->worker = d->next = worker;
    d->nworkers = nworkers;
    return &d->base;
}

void dpdk_teardown(void)
{
    if (!eal_up)
        return;
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
    rte_eal_cleanup();
    eal_up = 0;
}

/* spanwatch-dpdk.so's table (capture/modules.h) */
MODULE_EXPORT const struct spanwatch_dpdk_api spanwatch_dpdk_api = {
    .setup = dpdk_setup,
    .queue_count = dpdk_queue_count,
    .open_worker = dpdk_open_worker,
    .port_name = dpdk_port_name,
    .teardown = dpdk_teardown,
};
