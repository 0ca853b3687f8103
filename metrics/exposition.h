/*
 * exposition.h — Prometheus text exposition (format 0.0.4) of spanwatch's
 * metrics. The renderer reads a metrics_view, a plain snapshot that the
 * caller fills from the workers' counters, so rendering never touches the
 * packet path's state directly.
 */
#ifndef SPANWATCH_EXPOSITION_H
#define SPANWATCH_EXPOSITION_H

#include <stdint.h>
#include <stdio.h>

#include "decode/decode.h"
#include "decode/decode_errors.h"
#include "flow/flow_table.h"
#include "metrics/servers.h"
#include "metrics/snapshot.h"

#define METRICS_MAX_WORKERS 256
#define METRICS_MAX_SOURCES 8

struct metrics_view {
    unsigned nworkers;
    uint64_t packets[METRICS_MAX_WORKERS];
    uint64_t bytes[METRICS_MAX_WORKERS];
    unsigned nsources;
    const char *source_name[METRICS_MAX_SOURCES];
    uint64_t source_drops[METRICS_MAX_SOURCES];
    uint64_t decode_errors[DERR_COUNT];
    uint64_t encap[ENCAP_COUNT];
    uint64_t duplicates;
    uint64_t flows_active[FLOW_PROTO_COUNT];
    uint64_t flow_evictions[FLOW_EVICT_COUNT];
    const struct server_snap *servers;     /* sorted by label; merged across workers */
    uint32_t nservers;
    uint64_t servers_overflow;
    /* the alert engine's families (alerts/state.c), written after the
     * capture's and before the configuration's; NULL: none */
    void (*render_alerts)(FILE *out, void *ctx);
    void *render_alerts_ctx;
    int xdp;                               /* --backend afxdp: its program's counters */
    uint64_t xdp_redirected, xdp_passed;
    unsigned nxdp_drops;                   /* afxdp: frames not analysed, by reason */
    const char *xdp_drop_reason[8];
    uint64_t xdp_drops[8];
    int config_reload_ok;
    uint64_t config_hash;
    double scrape_duration_seconds;
    const char *version;
    const char *backends;
};

/* Write every metric family. Returns 0, or -1 if the stream reported an error. */
int expo_render(FILE *out, const struct metrics_view *v);

/* Write s as a label value, escaping backslash, double quote and newline. */
void expo_write_label_value(FILE *out, const char *s);
/* The pieces other layers' families are written with: "# HELP" and
 * "# TYPE" lines; " N\n"; "name{label=\"value\"} N\n". */
void expo_family(FILE *out, const char *name, const char *type, const char *help);
void expo_value_u64(FILE *out, uint64_t n);
void expo_sample_u64_1(FILE *out, const char *name, const char *label, const char *value,
                       uint64_t n);

#endif
