// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * fanout_hash.bpf.c — which AF_PACKET socket (worker) a frame goes to, for
 * --backend afpacket (PACKET_FANOUT_EBPF; the kernel takes the value
 * returned modulo the sockets in the group).
 *
 * PACKET_FANOUT_HASH hashes the outer headers: every frame of an ERSPAN or
 * VXLAN mirror shares the tunnel's outer flow (and a VXLAN sender picks its
 * UDP source port per direction), so one tunnel lands on one worker, or its
 * two directions on two. This program walks the encapsulations spanwatch
 * unwraps (VLAN, MPLS, PPPoE, IP-in-IP, GRE and ERSPAN, VXLAN, Geneve,
 * GTP-U; four deep at most) to the innermost IP header and hashes its
 * address pair and, for TCP that is not a fragment, its port pair,
 * symmetrically: both directions of a conversation reach the same worker,
 * and a tunnel's conversations spread over all of them. UDP stays by its
 * addresses, as the pcap dispatcher's (app/pool.c): it is what fragments,
 * and a datagram's fragments must meet its other packets on one worker
 * (PACKET_FANOUT_FLAG_DEFRAG reassembles only outer IPv4 before this runs). Reads go through
 * bpf_skb_load_bytes_relative() from the MAC header: bounds-checked by the
 * kernel, for received and sent frames alike.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_ENCAP 4

/* the UDP ports VXLAN arrives on (tunnels.vxlan_ports), set before load */
const volatile __u16 vxlan_ports[4] = { 4789, 4789, 4789, 4789 };

static __always_inline int ld(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
    return bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_MAC);
}

static __always_inline __u32 mix(__u32 h)
{
    h ^= h >> 16;
    h *= 0x7feb352d;
    h ^= h >> 15;
    h *= 0x846ca68b;
    h ^= h >> 16;
    return h;
}

/* an Ethernet header (and in-band VLAN tags) at *off: its ethertype */
static __always_inline int ether(struct __sk_buff *skb, __u32 *off, __u16 *type)
{
    __be16 t;
    if (ld(skb, *off + 12, &t, 2))
        return -1;
    *off += 14;
    for (int i = 0; i < 2; i++) {
        __u16 h = bpf_ntohs(t);
        if (h != 0x8100 && h != 0x88a8 && h != 0x9100)
            break;
        if (ld(skb, *off + 2, &t, 2))
            return -1;
        *off += 4;
    }
    *type = bpf_ntohs(t);
    return 0;
}

/* GRE at l4 (maybe ERSPAN): 1 and the next header at *off, *type; 0 not a
 * payload to follow; -1 cut short */
static __always_inline int gre(struct __sk_buff *skb, __u32 l4, __u32 *off, __u16 *type)
{
    __u8 g[4];
    if (ld(skb, l4, g, 4))
        return -1;
    __u16 pt = ((__u16)g[2] << 8) | g[3];
    *off = l4 + 4 + ((g[0] & 0x80) ? 4 : 0) + ((g[0] & 0x20) ? 4 : 0) + ((g[0] & 0x10) ? 4 : 0);
    if (pt == 0x0800 || pt == 0x86dd) {
        *type = pt;
        return 1;
    }
    if (pt == 0x88be && (g[0] & 0x10)) {
        *off += 8; /* ERSPAN II */
    } else if (pt == 0x22eb) {
        __u8 o;
        if (ld(skb, *off + 11, &o, 1))
            return -1;
        *off += 12 + ((o & 1) ? 8 : 0); /* ERSPAN III */
    } else if (pt != 0x6558 && pt != 0x88be) {
        return 0;
    }
    return ether(skb, off, type) ? -1 : 1;
}

/* GTP-U at l4 (the UDP header): a G-PDU's inner IP, past up to two
 * extension headers */
static __always_inline int gtpu(struct __sk_buff *skb, __u32 l4, __u32 *off, __u16 *type)
{
    __u8 g[2];
    if (ld(skb, l4 + 8, g, 2) || g[1] != 0xff)
        return 0;
    *off = l4 + 16 + ((g[0] & 0x07) ? 4 : 0);
    if (g[0] & 0x04) {
        __u8 next;
        if (ld(skb, *off - 1, &next, 1))
            return -1;
        for (int i = 0; i < 2 && next; i++) {
            __u8 units;
            if (ld(skb, *off, &units, 1) || !units)
                return -1;
            *off += units * 4;
            if (ld(skb, *off - 1, &next, 1))
                return -1;
        }
    }
    __u8 nib;
    if (ld(skb, *off, &nib, 1))
        return -1;
    *type = (nib >> 4) == 6 ? 0x86dd : 0x0800;
    return 1;
}

/* UDP to a tunnel port: as gre() */
static __always_inline int udp_tunnel(struct __sk_buff *skb, __u32 l4, __u16 sp, __u16 dp,
                                      __u32 *off, __u16 *type)
{
    if (dp == vxlan_ports[0] || dp == vxlan_ports[1] || dp == vxlan_ports[2] ||
        dp == vxlan_ports[3]) { /* VXLAN */
        *off = l4 + 16;
        return ether(skb, off, type) ? -1 : 1;
    }
    if (dp == 6081) { /* Geneve */
        __u8 g[4];
        if (ld(skb, l4 + 8, g, 4))
            return -1;
        __u16 pt = ((__u16)g[2] << 8) | g[3];
        *off = l4 + 16 + (g[0] & 0x3f) * 4;
        if (pt == 0x6558)
            return ether(skb, off, type) ? -1 : 1;
        if (pt != 0x0800 && pt != 0x86dd)
            return 0;
        *type = pt;
        return 1;
    }
    if (dp == 2152 || sp == 2152)
        return gtpu(skb, l4, off, type);
    return 0;
}

SEC("socket")
int fanout_hash(struct __sk_buff *skb)
{
    __u32 off = 0, a = 0, b = 0, ports = 0;
    __u16 type;
    __u8 proto = 0;
    if (ether(skb, &off, &type))
        return 0;
    for (int depth = 0; depth <= MAX_ENCAP; depth++) {
        __u8 frag = 0;
        __u32 l4;
        if (type == 0x8847 || type == 0x8848) { /* MPLS: to the bottom label */
            __be32 e = 0;
            for (int i = 0; i < 8; i++) {
                if (ld(skb, off, &e, 4))
                    return 0;
                off += 4;
                if (bpf_ntohl(e) & 0x100)
                    break;
            }
            __u8 nib;
            if (ld(skb, off, &nib, 1))
                return 0;
            type = (nib >> 4) == 6 ? 0x86dd : 0x0800;
            continue;
        }
        if (type == 0x8864) { /* PPPoE session, PPP protocol */
            __u8 p[2];
            if (ld(skb, off + 6, p, 2))
                return 0;
            if (p[0] & 1) {
                type = p[0] == 0x57 ? 0x86dd : 0x0800;
                off += 7;
            } else {
                type = p[1] == 0x57 ? 0x86dd : 0x0800;
                off += 8;
            }
            continue;
        }
        if (type == 0x0800) {
            __u8 h[20];
            if (ld(skb, off, h, 20))
                return 0;
            __u32 ihl = (h[0] & 0xf) * 4;
            if (ihl < 20)
                return 0;
            frag = (h[6] & 0x3f) || h[7];
            proto = h[9];
            a = ((__u32)h[12] << 24) | ((__u32)h[13] << 16) | ((__u32)h[14] << 8) | h[15];
            b = ((__u32)h[16] << 24) | ((__u32)h[17] << 16) | ((__u32)h[18] << 8) | h[19];
            a = mix(a);
            b = mix(b);
            l4 = off + ihl;
        } else if (type == 0x86dd) {
            __u32 h[10];
            if (ld(skb, off, h, 40))
                return 0;
            proto = ((__u8 *)h)[6];
            frag = proto == 44;
            a = mix(h[2] ^ mix(h[3] ^ mix(h[4] ^ mix(h[5]))));
            b = mix(h[6] ^ mix(h[7] ^ mix(h[8] ^ mix(h[9]))));
            l4 = off + 40;
        } else {
            break;
        }
        ports = 0;
        if (frag)
            break;
        if (proto == 4 || proto == 41) { /* IP in IP */
            off = l4;
            type = proto == 4 ? 0x0800 : 0x86dd;
            continue;
        }
        if (proto == 47) { /* GRE, maybe ERSPAN */
            int r = gre(skb, l4, &off, &type);
            if (r < 0)
                return 0;
            if (r == 0)
                break;
            continue;
        }
        if (proto != 6 && proto != 17)
            break;
        __u16 pp[2];
        if (ld(skb, l4, pp, 4))
            break;
        __u16 sp = bpf_ntohs(pp[0]), dp = bpf_ntohs(pp[1]);
        if (proto != 17) {
            ports = (__u32)sp ^ dp; /* TCP: the 5-tuple */
            break;
        }
        int r = udp_tunnel(skb, l4, sp, dp, &off, &type);
        if (r < 0)
            return 0;
        if (r == 0)
            break;
    }
    return mix((a + b) ^ mix(ports ^ ((__u32)proto << 16)));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
