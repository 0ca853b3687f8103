/*
 * signals.h — SIGINT, SIGTERM and SIGHUP reach the main thread only.
 *
 * Their handler (app/run.c) sets flags the main thread polls. A process-
 * directed signal goes to any thread that does not block it; handled on a
 * worker, the flag would be written on one thread and read on another
 * (a data race ThreadSanitizer reported). Every thread spanwatch or a
 * library starts for it is created with them blocked: the pattern is
 *
 *     sigset_t old;
 *     signals_block_stop(&old);
 *     pthread_create(...);          // or a library call that starts threads
 *     signals_restore(&old);
 */
#ifndef SPANWATCH_SIGNALS_H
#define SPANWATCH_SIGNALS_H

#include <pthread.h>
#include <signal.h>

static inline void signals_block_stop(sigset_t *old)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, old);
}

static inline void signals_restore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

#endif
