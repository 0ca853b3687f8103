/*
 * fuzz_pcap.c — libFuzzer target for whole capture files through `-r`:
 * the input is a file (pcap or pcapng, damaged or not) opened with the
 * same source as the command line (libpcap's checks, spanwatch's direct
 * record reader, the hand-over between them) and replayed through a
 * worker (decode, flows, DNS/TCP/HTTP analyzers) to the end-of-input
 * flush. The file lives in a memfd, opened through /proc/self/fd.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/source.h"
#include "analyze/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static struct config cfg;
    if (fd < 0) {
        if ((fd = memfd_create("fuzz-pcap", 0)) < 0)
            return 0;
        config_defaults(&cfg);
        cfg.max_flows = 1024;
        cfg.max_servers = 64;
        cfg.max_frag_datagrams = 8;
        cfg.max_stream_buffers = 64;
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    char path[64], err[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct source *src = source_pcap_open_file(path, NULL, err, sizeof err);
    if (!src)
        return 0;
    static struct worker w;
    if (worker_init(&w, 0, &cfg, src->linktype) == 0) {
        struct sw_packet burst[SOURCE_BURST_MAX];
        int n;
        while ((n = source_next_burst(src, burst, SOURCE_BURST_MAX)) > 0)
            worker_handle_burst(&w, burst, (unsigned)n);
        worker_finish(&w);
        worker_free(&w);
    }
    source_close(src);
    return 0;
}
