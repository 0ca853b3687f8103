/*
 * afxdp.h — AF_XDP back end (see afxdp.c): one XDP program per interface,
 * one AF_XDP socket (a struct source) per RX queue and worker.
 */
#ifndef SPANWATCH_AFXDP_H
#define SPANWATCH_AFXDP_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"

struct afxdp_prog;

/* Load and attach spanwatch's XDP program; mode "native", "skb" or "auto"
 * (native, falling back to skb). NULL and a message on failure. */
/* The interface's RX queues (sysfs queues/rx-N), 0 if unknown. */
unsigned afxdp_rx_queues(const char *iface);
struct afxdp_prog *afxdp_attach(const char *iface, const char *mode, char *err, size_t errlen);
/* 1 if attached in native (driver) mode. */
int afxdp_native(const struct afxdp_prog *p);
/* The program's counters, summed over CPUs. */
void afxdp_counters(const struct afxdp_prog *p, uint64_t *redirected, uint64_t *passed);
void afxdp_detach(struct afxdp_prog *p);
/* The AF_XDP socket for RX queue `queue`, registered with the program. */
struct source *afxdp_open_queue(struct afxdp_prog *p, const char *iface, unsigned queue,
                                char *err, size_t errlen);

#endif
