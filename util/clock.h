/*
 * clock.h — wall-clock and monotonic time in nanoseconds (control plane
 * only: the packet path uses packet timestamps).
 */
#ifndef SPANWATCH_CLOCK_H
#define SPANWATCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_wall_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

/* Live capture: timers (DNS and handshake timeouts, idle flows) and alert
 * windows treat a time as passed only once the wall clock is this far past
 * it. A packet can wait in a kernel ring (TPACKET_V3 retires a partly
 * filled block after 10 ms), a libpcap buffer, a NIC queue or a worker's
 * ring before a worker reads it; within the grace it still lands in the
 * window of its own timestamp and a reply is never taken for a timeout.
 * A packet read later than that is still analysed, and counted as
 * spanwatch_decode_errors_total{layer="capture",reason="late_for_window"}. */
#define LIVE_GRACE_NS 250000000ull

/* The time the live clock has reached: the wall clock less the grace. */
static inline uint64_t clock_live_ns(void)
{
    return clock_wall_ns() - LIVE_GRACE_NS;
}

static inline uint64_t clock_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

#endif
