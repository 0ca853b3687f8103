/*
 * afxdp.h — AF_XDP back end (see afxdp.c): one XDP program per interface,
 * one AF_XDP socket (a struct source) per RX queue and worker.
 */
#ifndef SPANWATCH_AFXDP_H
#define SPANWATCH_AFXDP_H

#include <stddef.h>
#include <stdint.h>

#include "capture/source.h"

struct afxdp_prog;

/* The interface's RX queues (sysfs queues/rx-N), 0 if unknown. */
unsigned afxdp_rx_queues(const char *iface);
/* Load and attach spanwatch's XDP program; mode "native", "skb" or "auto"
 * (native, falling back to skb). NULL and a message on failure. */
struct afxdp_prog *afxdp_attach(const char *iface, const char *mode, char *err, size_t errlen);
/* 1 if attached in native (driver) mode. */
int afxdp_native(const struct afxdp_prog *p);
/* The program's counters, summed over CPUs. */
void afxdp_counters(const struct afxdp_prog *p, uint64_t *redirected, uint64_t *passed);
void afxdp_detach(struct afxdp_prog *p);

/* Why frames that reached the XDP program were not analysed. */
enum afxdp_drop {
    AFXDP_DROP_NO_SOCKET,       /* passed to the kernel: its queue has no socket */
    AFXDP_DROP_FILL_RING_EMPTY, /* no free UMEM frame: the worker gave none back in time */
    AFXDP_DROP_RX_RING_FULL,    /* the socket's RX ring was full: the worker fell behind */
    AFXDP_DROP_OTHER,           /* other kernel drops (a frame larger than a UMEM frame) */
    AFXDP_DROP_COUNT
};
extern const char *const afxdp_drop_name[AFXDP_DROP_COUNT];
/* Make this socket (one per interface) also report the interface's own
 * receive drops (frames lost before the XDP program ran), counted from now. */
void afxdp_report_iface_drops(struct source *s);
/* Add one socket's XDP_STATISTICS, by reason, to drops (all but no_socket). */
void afxdp_socket_drops(struct source *s, uint64_t drops[AFXDP_DROP_COUNT]);
/* The AF_XDP socket for RX queue `queue`, registered with the program. */
struct source *afxdp_open_queue(struct afxdp_prog *p, const char *iface, unsigned queue,
                                char *err, size_t errlen);

#endif
