/*
 * module.c — see module.h.
 */
#include "util/module.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SPANWATCH_MODULEDIR
#define SPANWATCH_MODULEDIR "/usr/lib/spanwatch"
#endif

#define MODULES_MAX 4

static struct {
    char name[32];
    const void *api;
} loaded[MODULES_MAX];

/* the directory of the running executable, "" if unknown */
static void exe_dir(char *out, size_t len)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    out[0] = 0;
    if (n <= 0)
        return;
    path[n] = 0;
    char *slash = strrchr(path, '/');
    if (slash) {
        *slash = 0;
        snprintf(out, len, "%s", path);
    }
}

const void *module_api(const char *name, char *err, size_t errlen)
{
    for (int i = 0; i < MODULES_MAX; i++)
        if (loaded[i].api && !strcmp(loaded[i].name, name))
            return loaded[i].api;
    char dirs[3][PATH_MAX];
    const char *env = getenv("SPANWATCH_MODULE_DIR");
    snprintf(dirs[0], sizeof dirs[0], "%s", env ? env : "");
    exe_dir(dirs[1], sizeof dirs[1]);
    snprintf(dirs[2], sizeof dirs[2], "%s", SPANWATCH_MODULEDIR);
    char file[PATH_MAX + 64], sym[64], tried[1024] = "";
    size_t o = 0;
    void *h = NULL;
    for (int d = 0; d < 3 && !h; d++) {
        if (!dirs[d][0])
            continue;
        int k = snprintf(file, sizeof file, "%s/spanwatch-%s.so", dirs[d], name);
        if (k < 0 || (size_t)k >= sizeof file)
            continue; /* a directory name too long to be one */
        if (access(file, F_OK) != 0) {
            if (o < sizeof tried)
                o += (size_t)snprintf(tried + o, sizeof tried - o, "%s%s", o ? ", " : "", file);
            continue;
        }
        h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(err, errlen, "cannot load %s: %s", file, dlerror());
            return NULL;
        }
    }
    if (!h) {
        snprintf(err, errlen, "module spanwatch-%s.so not found (looked for %s; install it "
                              "with spanwatch, or set SPANWATCH_MODULE_DIR)", name, tried);
        return NULL;
    }
    snprintf(sym, sizeof sym, "spanwatch_%s_api", name);
    const void *api = dlsym(h, sym);
    if (!api) {
        snprintf(err, errlen, "%s: no symbol %s", file, sym);
        dlclose(h);
        return NULL;
    }
    for (int i = 0; i < MODULES_MAX; i++)
        if (!loaded[i].api) {
            snprintf(loaded[i].name, sizeof loaded[i].name, "%s", name);
            loaded[i].api = api;
            break;
        }
    return api;
}
