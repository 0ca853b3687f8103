/*
 * xsk_stamp.h — the metadata spanwatch's XDP program puts in front of each
 * frame it redirects to an AF_XDP socket (shared by the BPF program and
 * capture/afxdp.c).
 */
#ifndef SPANWATCH_XSK_STAMP_H
#define SPANWATCH_XSK_STAMP_H

#define XSK_STAMP_MAGIC 0x5357747354616d70ull /* "SWtsTamp" */

struct xsk_stamp {
    __u64 mono_ns; /* bpf_ktime_get_ns() when the program ran: CLOCK_MONOTONIC */
    __u64 magic;   /* XSK_STAMP_MAGIC: the stamp is there (right before the frame) */
};

#endif
