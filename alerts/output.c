/*
 * output.c — see output.h.
 */
#include "alerts/output.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"

double alerts_transition_threshold(const struct alert_transition *t)
{
    return t->rule->vs_baseline > 0 ? t->rule->vs_baseline * t->baseline : t->rule->threshold;
}

int alerts_format_json(char *buf, size_t len, const struct alert_transition *t)
{
    char rule[3 * CONFIG_NAME_MAX * 2], server[6 * SERVER_LABEL_MAX + 1], sev[200],
        summary[6 * 192 + 1], ws[40], we[40], fa[40], evid[200], thr[128];
    alerts_json_escape(rule, sizeof rule, t->rule->name);
    alerts_json_escape(server, sizeof server, t->server);
    alerts_json_escape(sev, sizeof sev, t->rule->severity);
    alerts_json_escape(summary, sizeof summary, t->rule->summary);
    alerts_format_time(ws, sizeof ws, t->win_start_ns);
    alerts_format_time(we, sizeof we, t->win_end_ns);
    alerts_format_time(fa, sizeof fa, t->fired_at_ns);
    double v = isfinite(t->value) ? t->value : 0.0;
    fault_evidence_format(evid, sizeof evid, t->fault_evidence);
    if (t->rule->vs_baseline > 0)
        snprintf(thr, sizeof thr, "%.6g,\"threshold_vs_baseline\":%.6g,\"baseline\":%.6g",
                 alerts_transition_threshold(t), t->rule->vs_baseline, t->baseline);
    else
        snprintf(thr, sizeof thr, "%.6g", t->rule->threshold);
    return snprintf(buf, len,
                    "{\"state\":\"%s\",\"rule\":\"%s\",\"server\":\"%s\",\"expr\":\"%s\","
                    "\"op\":\"%s\",\"value\":%.6g,\"threshold\":%s,\"events\":%llu,"
                    "\"window_start\":\"%s\",\"window_end\":\"%s\",\"window_seconds\":%.6g,"
                    "\"pattern\":\"%s\",\"bad_windows\":%u,\"of_last\":%u,"
                    "\"fire_when\":{\"bad_windows\":%u,\"of_last\":%u},"
                    "\"resolve_when\":{\"good_windows\":%u},\"fired_at\":\"%s\","
                    "\"partial_window\":%s,\"removed_by_reload\":%s,\"severity\":\"%s\","
                    "\"summary\":\"%s\",\"fault_domain\":\"%s\",\"fault_evidence\":\"%s\"}",
                    t->firing ? "firing" : "resolved", rule, server, rule_expr_name[t->rule->expr],
                    rule_op_name[t->rule->op], v, thr,
                    (unsigned long long)t->events, ws, we, (double)t->rule->window_ns / 1e9,
                    t->pattern, t->nbad, (unsigned)strlen(t->pattern), t->rule->bad_windows,
                    t->rule->of_last, t->rule->good_windows, fa, t->partial ? "true" : "false",
                    t->removed ? "true" : "false", sev, summary, t->fault_domain, evid);
}


/* An alert transition (at a window end): JSON line to --alerts-out, a line
 * in the log, and Alertmanager. */
void alert_output_transition(void *ctx, const struct alert_transition *t)
{
    struct alert_output *a = ctx;
    char json[4096];
    double thr = alerts_transition_threshold(t);
    a->transitions[t->firing ? 1 : 0]++;
    if (a->ntimeline < sizeof a->timeline / sizeof a->timeline[0]) {
        snprintf(a->timeline[a->ntimeline].rule, sizeof a->timeline[0].rule, "%s", t->rule->name);
        snprintf(a->timeline[a->ntimeline].server, sizeof a->timeline[0].server, "%s", t->server);
        a->timeline[a->ntimeline].at_ns = t->win_end_ns;
        a->timeline[a->ntimeline++].firing = t->firing;
    }
    alerts_format_json(json, sizeof json, t);
    if (a->json) {
        fprintf(a->json, "%s\n", json);
        fflush(a->json);
    }
    if (a->am) {
        struct am_msg m;
        char ws[40], we[40];
        memset(&m, 0, sizeof m);
        snprintf(m.rule, sizeof m.rule, "%s", t->rule->name);
        snprintf(m.server, sizeof m.server, "%s", t->server);
        snprintf(m.severity, sizeof m.severity, "%s", t->rule->severity);
        alerts_format_time(ws, sizeof ws, t->win_start_ns);
        alerts_format_time(we, sizeof we, t->win_end_ns);
        if (t->rule->summary[0])
            snprintf(m.summary, sizeof m.summary, "%s", t->rule->summary);
        else
            snprintf(m.summary, sizeof m.summary, "%s %s %s %g in %u of the last %u windows",
                     t->server, rule_expr_name[t->rule->expr], rule_op_name[t->rule->op], thr,
                     t->rule->bad_windows, t->rule->of_last);
        snprintf(m.description, sizeof m.description,
                 "%s=%.4g (%s %g) in the window %s .. %s (%llu events); %u of the last %u "
                 "windows bad; fault domain: %s%s",
                 rule_expr_name[t->rule->expr], t->value, rule_op_name[t->rule->op], thr, ws, we,
                 (unsigned long long)t->events, t->nbad, (unsigned)strlen(t->pattern),
                 t->fault_domain,
                 t->removed ? "; rule removed or changed by a reload" : "");
        snprintf(m.pattern, sizeof m.pattern, "%s", t->pattern);
        snprintf(m.fault_domain, sizeof m.fault_domain, "%s",
                 t->fault_domain);
        fault_evidence_format(m.fault_evidence, sizeof m.fault_evidence, t->fault_evidence);
        m.firing = t->firing;
        m.at_ns = clock_wall_ns();
        am_enqueue(a->am, &m);
    }
    if (!a->quiet) {
        char ws[40], we[40];
        alerts_format_time(ws, sizeof ws, t->win_start_ns);
        alerts_format_time(we, sizeof we, t->win_end_ns);
        fprintf(stderr, "spanwatch: alert %s: %s server=%s %s=%.4g (%s %.4g) window %s .. %s%s "
                        "pattern %s (%u of %u bad) fault_domain=%s\n",
                t->firing ? "FIRING" : "RESOLVED", t->rule->name, t->server,
                rule_expr_name[t->rule->expr], t->value, rule_op_name[t->rule->op], thr, ws, we,
                t->partial ? " (partial)" : "", t->pattern, t->nbad, (unsigned)strlen(t->pattern),
                t->fault_domain);
    }
}

static void episode_line(const char *server, uint8_t domain, uint64_t from_ns, const char *to,
                         uint32_t windows, unsigned evidence)
{
    char from[40], ev[200];
    alerts_format_time(from, sizeof from, from_ns);
    fprintf(stderr, "spanwatch:   %-28s %-8s from %s to %s (%u window%s; %s)\n", server,
            fault_domain_name[domain], from, to, windows, windows == 1 ? "" : "s",
            fault_evidence_format(ev, sizeof ev, evidence));
}

/* The fault-domain runs of a replay (or live run): "backend from .. to .."
 * per server, finished runs first, then those still open at the end. */
void alert_output_fault_domains(const struct alert_engine *e, const struct server_registry *reg)
{
    if (!e->started)
        return;
    uint64_t judged = 0;
    for (int d = 0; d < FD_COUNT; d++)
        judged += e->fd_windows[d];
    if (!judged)
        return;
    unsigned open = 0;
    for (uint32_t s = 0; s + 1 < e->nslots; s++)
        open += e->fd[s].judged && e->fd[s].domain != FD_NONE;
    fprintf(stderr, "spanwatch: fault domains (windows of %gs): %" PRIu64 " server-windows "
                    "judged: %" PRIu64 " none, %" PRIu64 " network, %" PRIu64 " backend, %" PRIu64
                    " both; %u episode%s%s\n",
            (double)e->cfg->fd.window_ns / 1e9, judged, e->fd_windows[FD_NONE],
            e->fd_windows[FD_NETWORK], e->fd_windows[FD_BACKEND], e->fd_windows[FD_BOTH],
            e->nepisodes + open, e->nepisodes + open == 1 ? "" : "s",
            e->nepisodes + open ? ":" : "");
    if (e->episodes_dropped)
        fprintf(stderr, "spanwatch:   (%" PRIu64 " older episodes not kept)\n", e->episodes_dropped);
    char to[40];
    for (uint32_t i = 0; i < e->nepisodes; i++) {
        const struct fd_episode *p = &e->episodes[i];
        alerts_format_time(to, sizeof to, p->end_ns);
        episode_line(reg->s[p->slot].label, p->domain, p->start_ns, to, p->windows, p->evidence);
    }
    for (uint32_t s = 0; s + 1 < e->nslots; s++) {
        const struct fd_slot *f = &e->fd[s];
        if (f->judged && f->domain != FD_NONE)
            episode_line(reg->s[s].label, f->domain, f->since_ns, "the end", f->run,
                         f->run_evidence);
    }
}

void alert_output_summary(const struct alert_output *a, const struct alert_engine *e,
                          const struct server_registry *reg)
{
    if (!e->nrules)
        return;
    unsigned firing = 0;
    for (unsigned r = 0; r < e->nrules; r++)
        for (uint32_t s = 0; s < e->nslots; s++)
            firing += e->inst[(size_t)r * e->nslots + s].state == ALERT_FIRING;
    fprintf(stderr, "spanwatch: alerts: %u rules; %" PRIu64 " fired, %" PRIu64
                    " resolved, %u firing at the end\n",
            e->nrules, a->transitions[1], a->transitions[0], firing);
    fprintf(stderr, "spanwatch:   %-24s %-28s %8s %6s %7s %6s  %s\n", "rule", "expr", "windows",
            "bad", "sparse", "fired", "transitions (window end)");
    for (unsigned r = 0; r < e->nrules; r++) {
        const struct rule *ru = &e->cfg->rules[r];
        char when[512] = "";
        size_t wl = 0;
        for (unsigned i = 0; i < a->ntimeline && wl + 80 < sizeof when; i++) {
            if (strcmp(a->timeline[i].rule, ru->name))
                continue;
            char ts[40];
            alerts_format_time(ts, sizeof ts, a->timeline[i].at_ns);
            wl += (size_t)snprintf(when + wl, sizeof when - wl, "%s%s %s %s", wl ? ", " : "",
                                   a->timeline[i].firing ? "fired" : "resolved",
                                   a->timeline[i].server, ts + 11);
        }
        fprintf(stderr, "spanwatch:   %-24s %-28s %8" PRIu64 " %6" PRIu64 " %7" PRIu64 " %6" PRIu64
                        "  %s\n",
                ru->name, rule_expr_name[ru->expr], e->windows_total[r], e->bad_total[r],
                e->sparse_total[r], e->fired_total[r], wl ? when : "-");
    }
    for (unsigned r = 0; r < e->nrules; r++)
        for (uint32_t s = 0; s < e->nslots; s++) {
            const struct alert_inst *in = &e->inst[(size_t)r * e->nslots + s];
            if (in->state != ALERT_FIRING)
                continue;
            char since[40];
            alerts_format_time(since, sizeof since, in->fired_at_ns);
            fprintf(stderr, "spanwatch:   firing: %s server=%s since %s (last window %s=%.4g)\n",
                    e->cfg->rules[r].name, reg->s[s].label, since,
                    rule_expr_name[e->cfg->rules[r].expr], in->value);
        }
}
