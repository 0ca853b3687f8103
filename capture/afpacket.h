/*
 * afpacket.h — what --backend afpacket needs beyond source.h: the fanout
 * program that spreads tunnelled traffic over the workers.
 */
#ifndef SPANWATCH_AFPACKET_H
#define SPANWATCH_AFPACKET_H

#include <stddef.h>
#include <stdint.h>

/* A PACKET_FANOUT_EBPF program (capture/bpf/fanout_hash.bpf.c): the fd,
 * to pass to source_afpacket_open() and close after; -1 with a message in
 * err where it cannot be loaded. vxlan_ports: the UDP ports VXLAN arrives
 * on (n of them, 1 to 4; 0: 4789), as the decoder's (built without libbpf, no permission):
 * then the kernel's PACKET_FANOUT_HASH is used. */
int afpacket_fanout_prog(const uint16_t *vxlan_ports, unsigned n, char *err, size_t errlen);

#endif
