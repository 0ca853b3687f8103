/*
 * output.h — where alert transitions go: a JSON line to --alerts-out, a
 * line in the log, and the Alertmanager sender; and the end-of-run alert
 * and fault-domain summaries. Runs on the thread that runs the engine.
 */
#ifndef SPANWATCH_ALERT_OUTPUT_H
#define SPANWATCH_ALERT_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "alerts/alertmanager.h"
#include "alerts/alerts.h"

struct alert_output {
    FILE *json;                     /* --alerts-out, or NULL */
    struct am_sender *am;           /* or NULL */
    int quiet;                      /* no log line */
    uint64_t transitions[2];        /* resolved, fired */
    struct { char rule[64]; char server[64]; uint64_t at_ns; int firing; } timeline[64];
    unsigned ntimeline;             /* first transitions, for the summary */
};

/* the engine's alert_cb; ctx: a struct alert_output */
void alert_output_transition(void *ctx, const struct alert_transition *t);
/* per rule: windows, bad, sparse, fired and its transitions; what still fires */
void alert_output_summary(const struct alert_output *a, const struct alert_engine *e,
                          const struct server_registry *reg);
/* the fault-domain runs: "backend from .. to .." per server */
void alert_output_fault_domains(const struct alert_engine *e, const struct server_registry *reg);

#endif
