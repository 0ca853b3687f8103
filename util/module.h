/*
 * module.h — the optional parts of spanwatch, built as shared modules
 * (spanwatch-<name>.so) and loaded only when a run needs them:
 *
 *   dpdk          --backend dpdk (DPDK's EAL, ethdev and mbuf libraries)
 *   bpf           --backend afxdp, and afpacket's fanout program (libbpf, libxdp)
 *   alertmanager  alertmanager.url (libcurl, and with it Kerberos, LDAP, SSH, ...)
 *
 * Linking them into the binary cost every run their libraries' loading and
 * constructors — about 6 ms of a `spanwatch --version` (BENCH.md "Start-up").
 * A module is looked for in $SPANWATCH_MODULE_DIR, then beside the
 * executable (a build tree), then in SPANWATCH_MODULEDIR (the installed
 * path); it exports one symbol, `spanwatch_<name>_api`, a table of
 * functions. Called from the main thread during set-up, never per packet.
 */
#ifndef SPANWATCH_MODULE_H
#define SPANWATCH_MODULE_H

#include <stddef.h>

/* The API table of module `name`, loading it on first use; NULL with a
 * message in err (which file was tried, dlerror's reason). */
const void *module_api(const char *name, char *err, size_t errlen);

/* what a module exports (the only symbol it makes visible) */
#define MODULE_EXPORT __attribute__((visibility("default")))

#endif
