/*
 * dpdk.h — DPDK back end (see dpdk.c).
 */
#ifndef SPANWATCH_DPDK_H
#define SPANWATCH_DPDK_H

#include <stddef.h>

#include "source.h"

/* EAL init from eal_args, first port with nqueues RX queues (RSS,
 * symmetric key), started. 0 or -1 and a message. */
int dpdk_setup(const char *eal_args, unsigned nqueues, char *err, size_t errlen);
/* The source polling RX queue `queue` (call from its worker thread). */
struct source *dpdk_open_queue(unsigned queue, char *err, size_t errlen);
const char *dpdk_port_name(void);
void dpdk_teardown(void);

#endif
