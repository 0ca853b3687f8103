/*
 * state.c — see state.h.
 */
#include "alerts/state.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/exposition.h"

int alert_snapshot_init(struct alert_snapshot *s, uint32_t max_servers)
{
    memset(s, 0, sizeof *s);
    s->cap = max_servers + 1;
    s->insts = calloc(ALERT_SNAP_MAX, sizeof *s->insts);
    s->rules = calloc(CONFIG_MAX_RULES, sizeof *s->rules);
    s->fd = calloc(s->cap, sizeof *s->fd);
    return s->insts && s->rules && s->fd ? 0 : -1;
}

void alert_snapshot_free(struct alert_snapshot *s)
{
    free(s->insts);
    free(s->rules);
    free(s->fd);
    memset(s, 0, sizeof *s);
}

static int fd_snap_cmp(const void *a, const void *b)
{
    return strcmp(((const struct fd_snap *)a)->server, ((const struct fd_snap *)b)->server);
}

void alert_snapshot_fill(struct alert_snapshot *s, const struct alert_engine *e,
                         const struct server_registry *reg)
{
    s->ninsts = s->nrules = s->nfd = 0;
    for (uint32_t slot = 0; slot + 1 < e->nslots && s->nfd < s->cap; slot++) {
        if (!e->fd[slot].judged)
            continue;
        struct fd_snap *f = &s->fd[s->nfd++];
        snprintf(f->server, sizeof f->server, "%s", reg->s[slot].label);
        f->domain = e->fd[slot].domain;
    }
    qsort(s->fd, s->nfd, sizeof *s->fd, fd_snap_cmp);
    for (unsigned r = 0; r < e->nrules; r++) {
        struct alert_snap_rule *ar = &s->rules[s->nrules++];
        snprintf(ar->rule, sizeof ar->rule, "%s", e->cfg->rules[r].name);
        ar->fired = e->fired_total[r];
        for (uint32_t slot = 0; slot < e->nslots; slot++) {
            const struct alert_inst *in = &e->inst[(size_t)r * e->nslots + slot];
            if (!in->ever_fired)
                continue;
            if (s->ninsts == ALERT_SNAP_MAX)
                continue;
            struct alert_snap_inst *ai = &s->insts[s->ninsts++];
            snprintf(ai->rule, sizeof ai->rule, "%s", e->cfg->rules[r].name);
            snprintf(ai->server, sizeof ai->server, "%s", reg->s[slot].label);
            ai->active = in->state == ALERT_FIRING;
        }
    }
}

void alert_snapshot_render(FILE *out, const struct alert_snapshot *s, const struct am_stats *am)
{
    expo_family(out, "spanwatch_alert_active", "gauge",
           "1 while the alert of a rule fires for a server; 0 once resolved (instances that "
           "never fired are not listed).");
    for (uint32_t i = 0; i < s->ninsts; i++) {
        const struct alert_snap_inst *a = &s->insts[i];
        fputs("spanwatch_alert_active{rule=\"", out);
        expo_write_label_value(out, a->rule);
        fputs("\",server=\"", out);
        expo_write_label_value(out, a->server);
        fputs("\"}", out);
        expo_value_u64(out, a->active);
    }
    expo_family(out, "spanwatch_fault_domain", "gauge",
           "Fault-domain attribution of the server's latest fault_domain.window: 1 for the "
           "current domain (network, backend, both or none), 0 for the others.");
    for (uint32_t i = 0; i < s->nfd; i++) {
        const struct fd_snap *f = &s->fd[i];
        for (int d = 0; d < FD_COUNT; d++) {
            fputs("spanwatch_fault_domain{server=\"", out);
            expo_write_label_value(out, f->server);
            fprintf(out, "\",domain=\"%s\"}", fault_domain_name[d]);
            expo_value_u64(out, f->domain == d);
        }
    }
    expo_family(out, "spanwatch_alerts_fired_total", "counter",
           "Alert transitions to firing, by rule.");
    for (uint32_t i = 0; i < s->nrules; i++)
        expo_sample_u64_1(out, "spanwatch_alerts_fired_total", "rule",
                     s->rules[i].rule, s->rules[i].fired);

    if (am) {
        expo_family(out, "spanwatch_alertmanager_posts_total", "counter",
               "POSTs of the alert state to Alertmanager, by result.");
        expo_sample_u64_1(out, "spanwatch_alertmanager_posts_total", "result", "success",
                     am->posts_ok);
        expo_sample_u64_1(out, "spanwatch_alertmanager_posts_total", "result", "failure",
                     am->posts_failed);
        expo_family(out, "spanwatch_alertmanager_dropped_total", "counter",
               "Alert transitions dropped because the queue to Alertmanager was full.");
        fprintf(out, "spanwatch_alertmanager_dropped_total %" PRIu64 "\n", am->dropped);
        expo_family(out, "spanwatch_alertmanager_alerts_pending", "gauge",
               "Alerts the sender holds for Alertmanager (firing, or resolved and not yet "
               "delivered).");
        fprintf(out, "spanwatch_alertmanager_alerts_pending %" PRIu64 "\n", am->pending);
    }
}
