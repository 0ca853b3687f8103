/*
 * state.h — the alert engine's state as the outputs show it: a copy made
 * by the thread that runs the engine (after each window close and reload)
 * and read by the exposition, so a scrape never reads the engine itself.
 */
#ifndef SPANWATCH_ALERT_STATE_H
#define SPANWATCH_ALERT_STATE_H

#include <stdint.h>
#include <stdio.h>

#include "alerts/alertmanager.h"
#include "alerts/alerts.h"

/* instances that have ever fired (1 while firing, 0 after resolving); at
 * most ALERT_SNAP_MAX of them are shown */
#define ALERT_SNAP_MAX 4096
struct alert_snap_inst {
    char rule[CONFIG_NAME_MAX];
    char server[SERVER_LABEL_MAX];
    uint8_t active;
};
struct alert_snap_rule {
    char rule[CONFIG_NAME_MAX];
    uint64_t fired;
};
/* a server's fault-domain attribution (latest window) */
struct fd_snap {
    char server[SERVER_LABEL_MAX];
    uint8_t domain;            /* enum fault_domain */
};

struct alert_snapshot {
    uint32_t cap;              /* fd[] entries: max_servers + 1 */
    uint32_t ninsts, nrules, nfd;
    struct alert_snap_inst *insts;
    struct alert_snap_rule *rules;
    struct fd_snap *fd;        /* servers judged, sorted by label */
};

int alert_snapshot_init(struct alert_snapshot *s, uint32_t max_servers);
void alert_snapshot_free(struct alert_snapshot *s);
/* Copy e's state; server labels from reg, the registry e runs on. */
void alert_snapshot_fill(struct alert_snapshot *s, const struct alert_engine *e,
                         const struct server_registry *reg);
/* The exposition's alert families; am: the Alertmanager sender's counters
 * (NULL: no alertmanager configured, no families). */
void alert_snapshot_render(FILE *out, const struct alert_snapshot *s, const struct am_stats *am);

#endif
