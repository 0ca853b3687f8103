/*
 * dpdk.h — DPDK back end (see dpdk.c).
 */
#ifndef SPANWATCH_DPDK_H
#define SPANWATCH_DPDK_H

#include <stddef.h>

#include "capture/source.h"

/* EAL init from eal_args, first port with one RX queue per worker (RSS,
 * symmetric key), or all of a net_af_packet port's queues; started.
 * 0 or -1 and a message. */
int dpdk_setup(const char *eal_args, unsigned nworkers, char *err, size_t errlen);
/* RX queues configured on the port (>= the workers). */
unsigned dpdk_queue_count(void);
/* The source of worker `worker` of nworkers: it polls queues worker,
 * worker + nworkers, ... (used from its worker thread). */
struct source *dpdk_open_worker(unsigned worker, unsigned nworkers, char *err, size_t errlen);
const char *dpdk_port_name(void);
void dpdk_teardown(void);

#endif
