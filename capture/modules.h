/*
 * modules.h — the capture code built as modules (util/module.h), loaded by
 * backends.c only when `--backend` needs it: the function tables that
 * spanwatch-bpf.so (AF_XDP, and AF_PACKET's fanout program: libbpf, libxdp)
 * and spanwatch-dpdk.so (DPDK) export. See afxdp.h, afpacket.h and dpdk.h
 * for what each function does.
 */
#ifndef SPANWATCH_CAPTURE_MODULES_H
#define SPANWATCH_CAPTURE_MODULES_H

#include <stddef.h>
#include <stdint.h>

#include "capture/afxdp.h"
#include "capture/source.h"

struct spanwatch_bpf_api {
    unsigned (*rx_queues)(const char *iface);
    struct afxdp_prog *(*attach)(const char *iface, const char *mode, char *err, size_t errlen);
    int (*native)(const struct afxdp_prog *p);
    void (*counters)(const struct afxdp_prog *p, uint64_t *redirected, uint64_t *passed);
    void (*detach)(struct afxdp_prog *p);
    const char *const *drop_name; /* AFXDP_DROP_COUNT names */
    void (*report_iface_drops)(struct source *s);
    void (*socket_drops)(struct source *s, uint64_t drops[AFXDP_DROP_COUNT]);
    struct source *(*open_queue)(struct afxdp_prog *p, const char *iface, unsigned queue,
                                 char *err, size_t errlen);
    int (*fanout_prog)(const uint16_t *vxlan_ports, unsigned n, char *err, size_t errlen);
};

struct spanwatch_dpdk_api {
    int (*setup)(const char *eal_args, unsigned nworkers, char *err, size_t errlen);
    unsigned (*queue_count)(void);
    struct source *(*open_worker)(unsigned worker, unsigned nworkers, char *err, size_t errlen);
    const char *(*port_name)(void);
    void (*teardown)(void);
};

#endif
