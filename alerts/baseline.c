/*
 * baseline.c — see baseline.h.
 */
#include "alerts/baseline.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"

/* Median of a ring's n values (n <= FD_MAX_BASELINE). */
static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double ring_median(const float *ring, uint32_t n)
{
    float tmp[FD_MAX_BASELINE];
    memcpy(tmp, ring, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_float);
    return n % 2 ? (double)tmp[n / 2] : ((double)tmp[n / 2 - 1] + (double)tmp[n / 2]) / 2;
}

double baseline_of(const float *ring, uint32_t n, uint32_t min)
{
    return n >= min ? ring_median(ring, n) : 0.0;
}

void baseline_push(float *ring, uint32_t cap, uint32_t *n, uint32_t *head, double v)
{
    ring[*head] = (float)v;
    *head = (*head + 1) % cap;
    if (*n < cap)
        (*n)++;
}
