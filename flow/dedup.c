/*
 * dedup.c — see dedup.h.
 */
#include "flow/dedup.h"

#include <stdlib.h>

int dedup_init(struct dedup *t, uint64_t window_ns)
{
    t->window_ns = window_ns;
    t->slots = NULL;
    if (!window_ns)
        return 0;
    t->slots = calloc(DEDUP_SLOTS, sizeof *t->slots);
    return t->slots ? 0 : -1;
}

void dedup_free(struct dedup *t)
{
    free(t->slots);
    t->slots = NULL;
}
