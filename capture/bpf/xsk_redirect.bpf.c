// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * xsk_redirect.bpf.c — spanwatch's XDP program for --backend afxdp.
 *
 * Every frame that arrives on a queue with an AF_XDP socket in `xsks` is
 * redirected to that socket (zero-copy where the driver allows); frames on
 * a queue without a socket are passed to the kernel. On a SPAN port the
 * frames are copies nobody else needs. Per-CPU counters of what was
 * redirected and passed are read by spanwatch and exported as metrics.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

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
    int act = bpf_redirect_map(&xsks, q, XDP_PASS);
    if (act == XDP_REDIRECT)
        slot = 0;
    __u64 *n = bpf_map_lookup_elem(&counters, &slot);
    if (n)
        (*n)++;
    return act;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
