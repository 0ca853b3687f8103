/*
 * analyzers.h — the per-packet protocol analyzers that turn decoded
 * packets into per-server samples: dns.c, tcp.c (connections), stream.c
 * (TCP payload to the message readers), http.c. Called by worker.c.
 */
#ifndef SPANWATCH_ANALYZERS_H
#define SPANWATCH_ANALYZERS_H

#include "analyze/worker.h"

void analyze_udp(struct worker *w, struct flow *f, uint8_t dir, const struct decoded *d);
void analyze_tcp(struct worker *w, struct flow *f, uint8_t dir, const struct decoded *d);
/* Timers: DNS queries and SYNs older than their timeout. */
void analyzers_expire(struct worker *w);
/* A flow leaves the table (why = FLOW_EVICT_COUNT: end of input): flush
 * its streams and return their buffers. */
void analyzers_flow_end(void *worker, struct flow *f, enum flow_evict_reason why);

#endif
