/*
 * backends.h — open what `--backend` names, and nothing else: libpcap (a
 * file or a live interface, read by one thread and dispatched), AF_PACKET
 * (one fanout socket per worker), AF_XDP (our XDP program and one socket
 * per RX queue) or DPDK (one RX queue set per worker). The caller hands
 * the sources to the workers and never needs to know which it got.
 */
#ifndef SPANWATCH_BACKENDS_H
#define SPANWATCH_BACKENDS_H

#include <stddef.h>
#include <stdint.h>

#include "capture/source.h"

struct afxdp_prog;
struct spanwatch_dpdk_api;

#ifdef HAVE_AFXDP
#define BACKENDS_XDP ",afxdp"
#else
#define BACKENDS_XDP ""
#endif
#ifdef HAVE_DPDK
#define BACKENDS_DPDK ",dpdk"
#else
#define BACKENDS_DPDK ""
#endif
/* the back ends compiled in, for --version and spanwatch_build_info */
#define BACKENDS "pcap,afpacket" BACKENDS_XDP BACKENDS_DPDK

#define BACKENDS_MAX_SOURCES 256

struct backend_request {
    const char *name;          /* pcap, afpacket, afxdp, dpdk */
    const char *read_file;     /* pcap: a file to replay, or NULL */
    const char *iface;         /* live: the interface (dpdk: "dpdk") */
    const char *filter;        /* BPF, or NULL */
    const char *xdp_mode;      /* afxdp: native, skb, auto or NULL */
    const char *dpdk_args;     /* dpdk: EAL arguments */
    unsigned buffer_mb;
    unsigned workers;          /* in: wanted; out: afxdp sets it to the RX queues */
    int workers_given;         /* -w was given (afxdp then refuses another count) */
    const uint16_t *vxlan_ports; /* afpacket's fanout program: tunnels.vxlan_ports */
    unsigned n_vxlan_ports;
    int quiet;
};

struct backends {
    unsigned n;                /* sources: 1 (pcap), else one per worker */
    int own;                   /* every worker reads its own source (no dispatcher) */
    struct source *src[BACKENDS_MAX_SOURCES];
    struct afxdp_prog *xdp;    /* afxdp: the attached program */
    const struct spanwatch_dpdk_api *dpdk; /* dpdk: the EAL is up (its module) */
};

/* the frames spanwatch's XDP program saw and the ones it could not analyse */
struct xdp_view {
    uint64_t redirected, passed;
    unsigned ndrops;
    const char *reason[8];
    uint64_t drops[8];
};

/* Returns 0; -1 with a message in err (a runtime failure); -2 for a
 * request the interface cannot serve (bad usage: afxdp with -w other than
 * the RX queues). Nothing stays open on failure. */
int backends_open(struct backend_request *req, struct backends *b, char *err, size_t errlen);
/* The sources themselves are closed by their owner (a worker pool closes
 * own sources; the dispatcher's one pcap source with source_close());
 * this detaches the XDP program and stops the EAL, after them. */
void backends_teardown(struct backends *b);
/* afxdp: fill x and return 1 (a frame passed to the kernel is a drop: it
 * went to a queue without a socket); else 0. */
int backends_xdp_view(const struct backends *b, struct xdp_view *x);

#endif
