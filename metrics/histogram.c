/*
 * histogram.c — see histogram.h.
 */
#include "metrics/histogram.h"

const double hist_le_seconds[HIST_LE_COUNT] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

const double hist_le_bytes[HIST_LE_COUNT] = {
    128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288,
    1048576, 4194304, 16777216, 67108864, 268435456,
};

uint64_t hist_bucket_lower(uint32_t i)
{
    if (i < HIST_SUB)
        return i;
    uint32_t shift = i / HIST_SUB - 1;
    uint64_t mant = HIST_SUB + (i % HIST_SUB);
    return mant << shift;
}

void hist_merge(struct histogram *dst, const struct histogram *src)
{
    if (!src->count)
        return;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
}

uint64_t hist_quantile(const struct histogram *h, double q)
{
    if (!h->count)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)(q * (double)(h->count - 1)) + 1, seen = 0;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t lo = hist_bucket_lower(i);
            uint64_t hi = i + 1 < HIST_BUCKETS ? hist_bucket_lower(i + 1) : lo;
            return lo + (hi - lo) / 2;
        }
    }
    return hist_bucket_lower(HIST_BUCKETS - 1);
}

void hist_le_counts(const struct histogram *h, int bytes, uint64_t out[HIST_LE_COUNT])
{
    uint64_t cum = 0;
    uint32_t i = 0;
    for (int k = 0; k < HIST_LE_COUNT; k++) {
        if (cum == h->count) { /* every sample counted: the rest are all of them */
            out[k] = cum;
            continue;
        }
        uint64_t le_ns = bytes ? (uint64_t)hist_le_bytes[k]
                               : (uint64_t)(hist_le_seconds[k] * 1e9 + 0.5);
        while (i < HIST_BUCKETS && hist_bucket_lower(i) <= le_ns)
            cum += h->b[i++];
        out[k] = cum;
    }
}
