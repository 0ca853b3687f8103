/*
 * fuzz_config.c — libFuzzer target for the configuration loader
 * (metrics/config.c over libyaml): any byte string as a config file must be
 * accepted or rejected with a message, never crash, leak or hang. The input
 * is written to a memfd and loaded through its /proc/self/fd path, the way
 * a file on disk is.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz-config", 0)) < 0)
        return 0;
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    char path[64], err[512] = "";
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    static struct config c;
    config_defaults(&c);
    if (config_load(path, &c, err, sizeof err) != 0 && err[0] == 0)
        __builtin_trap(); /* a rejection must say why */
    return 0;
}
