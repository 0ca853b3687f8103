/*
 * alerts.h — the rule engine: tumbling windows of packet time, k-of-n
 * "sporadic" firing, m-good-windows resolving.
 *
 * Windows are aligned to t0 (the first packet of a replay, the start time
 * of a live capture): window i is [t0 + i*W, t0 + (i+1)*W). Rules with the
 * same W share a window group. The engine never touches the packet path:
 * at a window close it diffs the workers' cumulative per-server counters
 * and histograms against a copy taken at the previous close of that group,
 * so a window's numbers cost nothing per packet and histograms give exact
 * per-window quantiles (within the histogram's 0.78%).
 *
 * Per (rule, server) instance, for every closed window:
 *   events < min_events      -> sparse ('-'): not bad; for resolving it is
 *                               skipped (neither good nor breaking a streak)
 *   value op threshold       -> bad ('X'), else good ('.')
 *   not firing, >= k bad among the last n windows        -> FIRING
 *   firing, m consecutive good windows (sparse skipped)   -> RESOLVED, and
 *                               the history is cleared
 * request_rate has no sparse windows: a silent window has rate 0.
 *
 * Transitions are handed to a callback with everything an output needs.
 */
#ifndef SPANWATCH_ALERTS_H
#define SPANWATCH_ALERTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "servers.h"

enum alert_state { ALERT_INACTIVE, ALERT_PENDING, ALERT_FIRING };

struct alert_inst {
    uint64_t bad;          /* bit 0 = latest window */
    uint64_t sparse;
    uint32_t nwin;         /* windows recorded since the instance began or resolved */
    uint32_t good_streak;
    uint8_t state;
    uint8_t ever_fired;
    uint8_t seen;          /* has had a window */
    double value;          /* of the latest window */
    uint64_t events;
    uint64_t fired_at_ns;  /* window end when it fired */
};

struct alert_transition {
    const struct rule *rule;
    const char *server;
    int firing;            /* 1 firing, 0 resolved */
    double value;
    uint64_t events;
    uint64_t win_start_ns, win_end_ns;
    uint64_t fired_at_ns;  /* for resolved: when it fired */
    int partial;           /* the last, incomplete window of a replay */
    int removed;           /* resolved because a reload removed or changed the rule */
    char pattern[RULE_MAX_OF_LAST + 1];  /* oldest first: X bad, . good, - sparse */
    unsigned nbad;
};

typedef void (*alert_cb)(void *ctx, const struct alert_transition *t);

struct alert_group {
    uint64_t window_ns;
    uint64_t start_ns;         /* of the open window */
    uint64_t windows;          /* closed so far */
    unsigned hist_mask;        /* 1 << enum server_hist needed by its rules */
    struct server_stats *prev; /* per server slot, counters at the last close */
    struct histogram *prev_h;  /* per slot x SERVER_HIST_COUNT, only kinds in hist_mask */
    uint8_t *prev_valid;
};

struct alert_engine {
    const struct config *cfg;
    uint32_t nslots;           /* max_servers + 1 (the overflow slot) */
    unsigned nrules;
    unsigned ngroups;
    int started;
    uint64_t t0;
    uint64_t next_close_ns;    /* earliest window end over all groups */
    uint8_t *rule_group;       /* group of each rule */
    struct alert_inst *inst;   /* nrules x nslots */
    uint64_t *fired_total;     /* per rule */
    uint64_t *windows_total;   /* per rule: instance-windows evaluated */
    uint64_t *bad_total;       /* per rule: of those, bad */
    uint64_t *sparse_total;    /* per rule: of those, sparse */
    struct alert_group groups[CONFIG_MAX_RULES];
    struct histogram *scratch; /* one per hist kind */
    alert_cb cb;
    void *cb_ctx;
};

/* 0 on success; the engine reads cfg's rules until alerts_free(). */
int alerts_init(struct alert_engine *e, const struct config *cfg, alert_cb cb, void *ctx);
void alerts_free(struct alert_engine *e);
/* Move state of rules that are unchanged in e->cfg from old (same server
 * slots: the registry is not rebuilt on reload). */
void alerts_carry_over(struct alert_engine *e, const struct alert_engine *old);

/* Before a reload replaces old by e: resolve (through old's callback) every
 * firing instance of a rule that e does not have unchanged. */
void alerts_resolve_removed(struct alert_engine *old, const struct alert_engine *e,
                            const struct server_registry *r, uint64_t now_ns);

/* Align windows (first packet / start time). Idempotent. */
void alerts_start(struct alert_engine *e, uint64_t t0_ns);
/* Close every window that ends at or before now. */
void alerts_advance(struct alert_engine *e, struct server_registry *r, uint64_t now_ns);
static inline int alerts_due(const struct alert_engine *e, uint64_t now_ns)
{
    return e->nrules && e->started && now_ns >= e->next_close_ns;
}
/* End of a replay: close the open (partial) windows too. */
void alerts_finish(struct alert_engine *e, struct server_registry *r, uint64_t now_ns);

/* One JSON object (no newline) describing a transition. */
int alerts_format_json(char *buf, size_t len, const struct alert_transition *t);
/* JSON string body of s (quotes, backslashes, control and non-ASCII bytes
 * escaped); truncates to fit len. */
size_t alerts_json_escape(char *out, size_t len, const char *s);
/* RFC 3339 UTC with milliseconds */
void alerts_format_time(char *buf, size_t len, uint64_t ns);

/* Per-window value of expr from counter/histogram deltas; *events gets the
 * count the rule's min_events applies to. Exposed for tests. */
double alerts_expr_value(enum rule_expr x, const struct server_stats *d,
                         const struct histogram *dh[SERVER_HIST_COUNT], uint64_t window_ns,
                         uint64_t *events);

#endif
