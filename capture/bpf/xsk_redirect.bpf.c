// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * xsk_redirect.bpf.c — spanwatch's XDP program for --backend afxdp.
 *
 * Every frame that arrives on a queue with an AF_XDP socket in `xsks` is
 * redirected to that socket (zero-copy where the driver allows); frames on
 * a queue without a socket are passed to the kernel. On a SPAN port the
 * frames are copies nobody else needs. Per-CPU counters of what was
 * redirected and passed are read by spanwatch and exported as metrics.
 *
 * AF_XDP descriptors carry no timestamp, so the program stamps each frame
 * it redirects: it grows the metadata area in front of the frame by
 * struct xsk_stamp (bpf_xdp_adjust_meta; the kernel copies it into the
 * socket's UMEM with the frame) and writes bpf_ktime_get_ns(), the
 * monotonic clock at the driver's receive, behind a magic word that says
 * the stamp is there. spanwatch converts it to real time.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "capture/bpf/xsk_stamp.h"

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u32);
} xsks SEC(".maps");

/* 0: redirected to a socket, 1: passed to the kernel (no socket) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

SEC("xdp")
int xsk_redirect(struct xdp_md *ctx)
{
    __u32 q = ctx->rx_queue_index;
    __u32 slot = 1;
    if (bpf_map_lookup_elem(&xsks, &q) &&
        bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct xsk_stamp)) == 0) {
        struct xsk_stamp *m = (void *)(long)ctx->data_meta;
        if ((void *)(m + 1) <= (void *)(long)ctx->data) {
            m->mono_ns = bpf_ktime_get_ns();
            m->magic = XSK_STAMP_MAGIC;
        }
    }
    int act = bpf_redirect_map(&xsks, q, XDP_PASS);
    if (act == XDP_REDIRECT)
        slot = 0;
    __u64 *n = bpf_map_lookup_elem(&counters, &slot);
    if (n)
        (*n)++;
    return act;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
