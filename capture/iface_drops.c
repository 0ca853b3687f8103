/*
 * iface_drops.c — an interface's own drop counters from sysfs (see
 * source.h). A file of its own: the bpf module (AF_XDP) links it too.
 */
#include <stdio.h>

#include "capture/source.h"

uint64_t source_iface_rx_drops(const char *iface)
{
    static const char *const files[] = { "rx_dropped", "rx_missed_errors" };
    uint64_t sum = 0;
    for (int i = 0; i < 2; i++) {
        char path[160];
        snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", iface, files[i]);
        FILE *f = fopen(path, "r");
        unsigned long long v = 0;
        if (f) {
            if (fscanf(f, "%llu", &v) != 1)
                v = 0;
            fclose(f);
        }
        sum += v;
    }
    return sum;
}
