/*
 * bpf_module.c — spanwatch-bpf.so's table (capture/modules.h): AF_XDP
 * (afxdp.c) and AF_PACKET's fanout program (fanout_bpf.c).
 */
#include "capture/afpacket.h"
#include "capture/afxdp.h"
#include "capture/modules.h"
#include "util/module.h"

MODULE_EXPORT const struct spanwatch_bpf_api spanwatch_bpf_api = {
    .rx_queues = afxdp_rx_queues,
    .attach = afxdp_attach,
    .native = afxdp_native,
    .counters = afxdp_counters,
    .detach = afxdp_detach,
    .drop_name = afxdp_drop_name,
    .report_iface_drops = afxdp_report_iface_drops,
    .socket_drops = afxdp_socket_drops,
    .open_queue = afxdp_open_queue,
    .fanout_prog = afpacket_fanout_prog,
};
