/*
 * map_guard.c — see map_guard.h.
 */
#include "util/map_guard.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

volatile sig_atomic_t map_guard_hit;

static volatile uintptr_t guard_lo, guard_hi;
static uintptr_t page_size;
static struct sigaction previous;
static int installed;

/* A page of 0xff bytes moved over the faulting one in one step (mremap): a
 * record header there reads as a captured length of 0xffffffff, which no
 * reader takes (pcap_records.h), so every reader stops at it — zeros would
 * read as 16-byte empty records. (mmap, memset and mremap are plain system
 * calls and stores here; errno is kept for the interrupted code.) */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    uintptr_t a = (uintptr_t)si->si_addr;
    if (a >= guard_lo && a < guard_hi) {
        void *at = (void *)(a & ~(page_size - 1));
        void *fill = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
        if (fill != MAP_FAILED) {
            memset(fill, 0xff, page_size);
            if (mremap(fill, page_size, page_size, MREMAP_MAYMOVE | MREMAP_FIXED, at) !=
                MAP_FAILED) {
                map_guard_hit = 1;
                errno = saved;
                return; /* the read is retried */
            }
            munmap(fill, page_size);
        }
    }
    /* not ours (or no page to put there): whoever handled SIGBUS before,
     * else the default action */
    errno = saved;
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
        previous.sa_sigaction(sig, si, uc);
        return;
    }
    if (!(previous.sa_flags & SA_SIGINFO) && previous.sa_handler != SIG_DFL &&
        previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

int map_guard_install(const void *base, size_t len)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    guard_lo = (uintptr_t)base;
    guard_hi = (uintptr_t)base + len;
    map_guard_hit = 0;
    if (sigaction(SIGBUS, &sa, &previous) != 0)
        return -1;
    installed = 1;
    return 0;
}

void map_guard_remove(void)
{
    if (!installed)
        return;
    sigaction(SIGBUS, &previous, NULL);
    guard_lo = guard_hi = 0;
    installed = 0;
}
