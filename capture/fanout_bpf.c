/*
 * fanout_bpf.c — loads capture/bpf/fanout_hash.bpf.c for --backend
 * afpacket (see afpacket.h): a socket-filter program the fanout group runs
 * to pick a worker by the innermost flow of a tunnelled frame.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "capture/afpacket.h"
#include "fanout_hash.skel.h"

int afpacket_fanout_prog(const uint16_t *vxlan_ports, unsigned n, char *err, size_t errlen)
{
    struct fanout_hash_bpf *skel = fanout_hash_bpf__open();
    if (!skel) {
        snprintf(err, errlen, "cannot open the fanout program: %s", strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < 4 && n; i++)
        skel->rodata->vxlan_ports[i] = vxlan_ports[i < n ? i : 0];
    if (fanout_hash_bpf__load(skel) != 0) {
        snprintf(err, errlen, "cannot load the fanout program: %s", strerror(errno));
        fanout_hash_bpf__destroy(skel);
        return -1;
    }
    /* the group keeps its own reference once attached: hand out a copy of
     * the descriptor and let the skeleton go */
    int fd = dup(bpf_program__fd(skel->progs.fanout_hash));
    if (fd < 0)
        snprintf(err, errlen, "cannot load the fanout program: %s", strerror(errno));
    fanout_hash_bpf__destroy(skel);
    return fd;
}
