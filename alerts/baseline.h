/*
 * baseline.h — a trailing baseline: the last `cap` values of a signal in
 * a ring, and their median (threshold_vs_baseline rules, fault domains).
 */
#ifndef SPANWATCH_BASELINE_H
#define SPANWATCH_BASELINE_H

#include <stdint.h>

/* The median of the ring's n values once there are at least min of them
 * (min >= 1, the config checks), else 0 (none yet). */
double baseline_of(const float *ring, uint32_t n, uint32_t min);
void baseline_push(float *ring, uint32_t cap, uint32_t *n, uint32_t *head, double v);

#endif
