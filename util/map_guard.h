/*
 * map_guard.h — a file mapping that survives the file shrinking under it.
 *
 * Shared reading (app/pool.c) maps the capture file. If the file is
 * truncated while it is read (a rotation by copy and truncate), a read of
 * a page past the new end raises SIGBUS, which would kill the process.
 * The guard's handler puts a page of 0xff bytes where the fault was (inside
 * the guarded range only; any other SIGBUS goes to the handler before it,
 * or takes the default action) and raises a flag. A record header on that
 * page is not plainly well formed (pcap_records.h), and a reader that sees
 * the flag asks for the file's new size (app/pool.c pool_walk_recheck) and
 * stops before the first record that ends past it.
 */
#ifndef SPANWATCH_MAP_GUARD_H
#define SPANWATCH_MAP_GUARD_H

#include <signal.h>
#include <stddef.h>

extern volatile sig_atomic_t map_guard_hit;

/* Guard [base, base + len) (one range per process); 0, or -1 if the
 * handler cannot be installed. */
int map_guard_install(const void *base, size_t len);
/* Stop guarding (before the range is unmapped). */
void map_guard_remove(void);

static inline int map_guard_tripped(void)
{
    return map_guard_hit != 0;
}

#endif
