/*
 * histogram.h — log-linear latency histogram (HdrHistogram-style).
 *
 * Values are nanoseconds. Below 128 ns each value has its own bucket; above,
 * every power of two is split into 128 equal buckets, so a bucket is at most
 * 1/128 (0.78%) of its lower bound wide. Recording is a count-leading-zeros,
 * a shift and an add; histograms merge by adding arrays. Values from 2^37 ns
 * (~137 s) up share the last bucket.
 *
 * Exposition uses the fixed Prometheus buckets of hist_le_seconds[] (50 µs to
 * 30 s): a sample falls in the first `le` bucket its internal bucket's lower
 * bound does not exceed, so it is placed within 0.78% of its true value.
 */
#ifndef SPANWATCH_HISTOGRAM_H
#define SPANWATCH_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_MSB 36
#define HIST_BUCKETS ((HIST_MAX_MSB - HIST_SUB_BITS + 1) * HIST_SUB + HIST_SUB)

struct histogram {
    uint64_t count;
    uint64_t sum_ns;
    uint32_t b[HIST_BUCKETS];
};

static inline uint32_t hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (uint32_t)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    if (msb > HIST_MAX_MSB)
        return HIST_BUCKETS - 1;
    unsigned shift = msb - HIST_SUB_BITS;
    return (shift + 1) * HIST_SUB + (uint32_t)((v >> shift) & (HIST_SUB - 1));
}

static inline void hist_record(struct histogram *h, uint64_t v_ns)
{
    h->b[hist_index(v_ns)]++;
    h->count++;
    h->sum_ns += v_ns;
}

/* Smallest value that maps to bucket i. */
uint64_t hist_bucket_lower(uint32_t i);
/* Add src into dst. */
void hist_merge(struct histogram *dst, const struct histogram *src);
/* Value at quantile q (0..1): midpoint of the bucket holding it; 0 if empty. */
uint64_t hist_quantile(const struct histogram *h, double q);

#define HIST_LE_COUNT 18
extern const double hist_le_seconds[HIST_LE_COUNT];
/* Bounds for size histograms (values are bytes, not ns): powers of two from
 * 128 B to 256 MiB, which are bucket boundaries, so these counts are exact. */
extern const double hist_le_bytes[HIST_LE_COUNT];
/* Cumulative counts for each le bound (the +Inf bucket is h->count):
 * hist_le_seconds for time histograms, hist_le_bytes when bytes is set. */
void hist_le_counts(const struct histogram *h, int bytes, uint64_t out[HIST_LE_COUNT]);

#endif
