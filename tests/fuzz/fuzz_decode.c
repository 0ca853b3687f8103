/*
 * fuzz_decode.c — libFuzzer target for the packet path: link layer through
 * TCP/UDP, IP reassembly and the flow table, via worker_handle_burst().
 *
 * Input: byte 0 picks the link type, byte 1 how much of the frame is
 * "captured" (snap length cut, 255 = all), the rest is the frame. Worker
 * state persists across inputs, so fragments and flows from earlier inputs
 * meet later ones, as they would in a capture.
 */
#include <pcap/dlt.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "analyze/worker.h"

static const int linktypes[] = { DLT_EN10MB, DLT_LINUX_SLL, 276, DLT_RAW, DLT_NULL, DLT_LOOP,
                                 228, 229 };
#define NLINK (sizeof linktypes / sizeof linktypes[0])

static struct worker workers[NLINK];
static int ready;
static uint64_t clock_ns = 1000000000ull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        static struct config cfg;
        config_defaults(&cfg);
        cfg.max_flows = 512;
        cfg.max_frag_datagrams = 8;
        cfg.frag_timeout_ns = 2000000000ull;
        cfg.udp_idle_timeout_ns = cfg.tcp_idle_timeout_ns = 5000000000ull;
        for (size_t i = 0; i < NLINK; i++)
            if (worker_init(&workers[i], (unsigned)i, &cfg, linktypes[i]) != 0)
                return 0;
        ready = 1;
    }
    if (size < 2)
        return 0;
    struct worker *w = &workers[data[0] % NLINK];
    size_t frame_len = size - 2;
    size_t cap = data[1] == 255 ? frame_len : (frame_len * data[1]) / 255;
    struct sw_packet p = {
        .data = data + 2,
        .caplen = (uint32_t)cap,
        .wirelen = (uint32_t)frame_len,
        .ts_ns = clock_ns,
    };
    clock_ns += 100000000ull; /* 100 ms per input: timeouts do happen */
    worker_handle_burst(w, &p, 1);
    return 0;
}
