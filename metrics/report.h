/*
 * report.h — the end-of-run summary on stderr: what was read, decode
 * errors by reason, flows, and one line per server and protocol.
 */
#ifndef SPANWATCH_REPORT_H
#define SPANWATCH_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "decode/decode_errors.h"
#include "flow/flow_table.h"
#include "metrics/servers.h"

/* a run's totals, summed over its workers */
struct run_totals {
    const char *source_name;
    const char *linktype_name;
    uint64_t packets, bytes, not_ip;
    uint64_t first_ns, now_ns;       /* earliest and latest packet time */
    uint64_t errors[DERR_COUNT];
    uint64_t flows_created;
    uint32_t flows_active;
    uint64_t flow_evictions[FLOW_EVICT_COUNT];
    const struct server_registry *servers;
};

void report_run(const struct run_totals *t, double wall_s);
/* One line per server and protocol with its volume, the error count behind
 * the rule expressions, p50/p99 latency and the protocol's other outcomes;
 * servers sorted by label. */
void report_servers(const struct server_registry *r);
/* "-", "850us", "12.5ms", "1.25s" */
void report_format_latency(char *out, size_t len, uint64_t ns);

#endif
