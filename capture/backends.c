/*
 * backends.c — see backends.h.
 */
#include "capture/backends.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capture/afpacket.h"
#include "capture/modules.h"
#include "util/module.h"

/* the module of a back end, loaded on first use (util/module.h) */
static const struct spanwatch_bpf_api *bpf_api(char *err, size_t len)
{
    return module_api("bpf", err, len);
}

static void close_all(struct backends *b, unsigned n)
{
    for (unsigned j = 0; j < n; j++)
        source_close(b->src[j]);
}

#ifdef HAVE_AFXDP
/* Every RX queue gets a socket and a worker: the program passes a queue
 * without a socket to the kernel, and its frames would never be analysed
 * (nor counted as drops). */
static int open_afxdp(struct backend_request *r, struct backends *b, char *err, size_t len)
{
    const struct spanwatch_bpf_api *x = bpf_api(err, len);
    if (!x)
        return -1;
    unsigned nq = x->rx_queues(r->iface);
    if (nq && nq != r->workers) {
        if (r->workers_given) {
            snprintf(err, len, "%s has %u RX queue%s; --backend afxdp reads each with its own "
                               "worker: use -w %u, or change the queues to the workers "
                               "(ethtool -L %s combined %u)",
                     r->iface, nq, nq == 1 ? "" : "s", nq, r->iface, r->workers);
            return -2;
        }
        r->workers = nq > BACKENDS_MAX_SOURCES ? BACKENDS_MAX_SOURCES : nq;
    }
    b->xdp = x->attach(r->iface, r->xdp_mode, err, len);
    if (!b->xdp)
        return -1;
    for (unsigned i = 0; i < r->workers; i++) {
        b->src[i] = x->open_queue(b->xdp, r->iface, i, err, len);
        if (!b->src[i]) {
            close_all(b, i);
            x->detach(b->xdp);
            b->xdp = NULL;
            return -1;
        }
    }
    x->report_iface_drops(b->src[0]);
    if (!r->quiet)
        fprintf(stderr, "spanwatch: %s: XDP program attached in %s mode, %u AF_XDP socket%s "
                        "(RX queues 0-%u)\n", r->iface,
                x->native(b->xdp) ? "native" : "skb", r->workers,
                r->workers == 1 ? "" : "s", r->workers - 1);
    return 0;
}
#endif

#ifdef HAVE_DPDK
static int open_dpdk(struct backend_request *r, struct backends *b, char *err, size_t len)
{
    const struct spanwatch_dpdk_api *d = module_api("dpdk", err, len);
    if (!d || d->setup(r->dpdk_args, r->workers, err, len) != 0)
        return -1;
    b->dpdk = d;
    for (unsigned i = 0; i < r->workers; i++)
        if (!(b->src[i] = d->open_worker(i, r->workers, err, len))) {
            close_all(b, i);
            return -1;
        }
    if (!r->quiet)
        fprintf(stderr, "spanwatch: DPDK port %s started with %u RX queue%s on %u worker%s\n",
                d->port_name(), d->queue_count(), d->queue_count() == 1 ? "" : "s",
                r->workers, r->workers == 1 ? "" : "s");
    return 0;
}
#endif

/* the fanout program (spanwatch-bpf.so), or -1 with the reason: the
 * kernel's flow hash is used then */
static int fanout_prog(const struct backend_request *r, char *err, size_t len)
{
#ifdef HAVE_AFXDP
    const struct spanwatch_bpf_api *x = bpf_api(err, len);
    return x ? x->fanout_prog(r->vxlan_ports, r->n_vxlan_ports, err, len) : -1;
#else
    (void)r;
    snprintf(err, len, "built without libbpf");
    return -1;
#endif
}

/* one fanout socket per worker in a new group, spread by the innermost
 * flow of tunnelled frames (capture/bpf/fanout_hash.bpf.c) */
static int open_afpacket(struct backend_request *r, struct backends *b, char *err, size_t len)
{
    int group = -1; /* a new fanout group; its id comes back from the first socket */
    char why[256];
    int prog = r->workers > 1 ? fanout_prog(r, why, sizeof why) : -1;
    if (r->workers > 1 && prog < 0 && !r->quiet)
        fprintf(stderr, "spanwatch: %s: %s; workers share frames by the kernel's flow hash "
                        "(a tunnel's frames go to one worker)\n", r->iface, why);
    for (unsigned i = 0; i < r->workers; i++) {
        b->src[i] = source_afpacket_open(r->iface, r->filter, &group, prog, r->buffer_mb, err,
                                         len);
        if (!b->src[i]) {
            close_all(b, i);
            if (prog >= 0)
                close(prog);
            return -1;
        }
    }
    if (prog >= 0)
        close(prog);
    source_afpacket_report_iface_drops(b->src[0]);
    return 0;
}

int backends_open(struct backend_request *r, struct backends *b, char *err, size_t len)
{
    memset(b, 0, sizeof *b);
    if (r->workers > BACKENDS_MAX_SOURCES)
        r->workers = BACKENDS_MAX_SOURCES;
    int rc = 0;
    b->own = 1;
    if (!strcmp(r->name, "afpacket"))
        rc = open_afpacket(r, b, err, len);
#ifdef HAVE_AFXDP
    else if (!strcmp(r->name, "afxdp"))
        rc = open_afxdp(r, b, err, len);
#endif
#ifdef HAVE_DPDK
    else if (!strcmp(r->name, "dpdk"))
        rc = open_dpdk(r, b, err, len);
#endif
    else
        b->own = 0;
    if (rc != 0) {
        backends_teardown(b);
        return rc;
    }
    if (b->own) {
        b->n = r->workers;
        return 0;
    }
    b->src[0] = r->read_file
                    ? source_pcap_open_file(r->read_file, r->filter, err, len)
                    : source_pcap_open_live(r->iface, r->filter, (int)r->buffer_mb, err, len);
    b->n = b->src[0] != NULL;
    return b->src[0] ? 0 : -1;
}

void backends_teardown(struct backends *b)
{
    char err[256];
    const struct spanwatch_bpf_api *x;
    if (b->xdp && (x = bpf_api(err, sizeof err)))
        x->detach(b->xdp); /* after its sockets are closed */
    if (b->dpdk)
        b->dpdk->teardown();
    b->xdp = NULL;
    b->dpdk = NULL;
}

int backends_xdp_view(const struct backends *b, struct xdp_view *x)
{
#ifdef HAVE_AFXDP
    char err[256];
    const struct spanwatch_bpf_api *api;
    if (!b->xdp || !(api = bpf_api(err, sizeof err)))
        return 0;
    memset(x, 0, sizeof *x);
    api->counters(b->xdp, &x->redirected, &x->passed);
    _Static_assert(AFXDP_DROP_COUNT <= sizeof x->drops / sizeof x->drops[0],
                   "room for every AF_XDP drop reason");
    uint64_t d[AFXDP_DROP_COUNT] = { [AFXDP_DROP_NO_SOCKET] = x->passed };
    for (unsigned i = 0; i < b->n; i++)
        api->socket_drops(b->src[i], d);
    x->ndrops = AFXDP_DROP_COUNT;
    for (unsigned r = 0; r < AFXDP_DROP_COUNT; r++) {
        x->reason[r] = api->drop_name[r];
        x->drops[r] = d[r];
    }
    return 1;
#else
    (void)b;
    (void)x;
    return 0;
#endif
}
