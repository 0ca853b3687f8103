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

#include "config/config.h"
#include "metrics/servers.h"

enum alert_state { ALERT_INACTIVE, ALERT_PENDING, ALERT_FIRING };

/* Fault-domain attribution (README "Fault domains: network or backend?").
 * Every fault_domain.window the engine judges each server from that
 * window's counters and histograms: evidence of a network fault (handshake
 * timeouts (TCP, and TLS handshakes left unanswered), retransmissions,
 * handshake or data RTT above its baseline) and of a backend fault (5xx,
 * SERVFAIL/REFUSED/DNS timeouts, refused handshakes, TLS alerts from the
 * server, server time, TLS handshake work or DNS latency above baseline,
 * responses much smaller than baseline). Baselines are medians of the signal's p50 over
 * the trailing good (domain none) windows. */
enum fault_domain { FD_NONE, FD_NETWORK, FD_BACKEND, FD_BOTH, FD_COUNT };
extern const char *const fault_domain_name[FD_COUNT];

enum fd_signal { FDS_RTT, FDS_DATA_RTT, FDS_SERVER_TIME, FDS_RESP_BYTES, FDS_DNS_LATENCY,
                 FDS_TLS_TIME, FDS_COUNT };

/* evidence bits */
enum {
    FDE_HS_TIMEOUT = 1u << 0,  /* network */
    FDE_RETRANSMIT = 1u << 1,
    FDE_RTT = 1u << 2,
    FDE_DATA_RTT = 1u << 3,
    FDE_HTTP_5XX = 1u << 4,    /* backend */
    FDE_DNS_ERRORS = 1u << 5,
    FDE_HS_REFUSED = 1u << 6,
    FDE_SERVER_TIME = 1u << 7,
    FDE_RESP_BYTES = 1u << 8,
    FDE_DNS_LATENCY = 1u << 9,
    FDE_TLS_ALERTS = 1u << 10,  /* the server refused TLS handshakes with alerts */
    FDE_TLS_TIME = 1u << 11,    /* its TLS handshake work above baseline */
    FDE_COUNT_BITS = 12,
};
#define FDE_NETWORK (FDE_HS_TIMEOUT | FDE_RETRANSMIT | FDE_RTT | FDE_DATA_RTT)
extern const char *const fault_evidence_name[FDE_COUNT_BITS];
/* "retransmits,server_time" (names of the bits set); returns out */
char *fault_evidence_format(char *out, size_t len, unsigned evidence);

struct fd_slot {
    uint8_t judged;          /* has had a window */
    uint8_t domain;          /* of the latest window */
    uint16_t evidence;       /* of the latest window */
    uint16_t run_evidence;   /* every bit seen since the domain began */
    uint32_t run;            /* windows the current domain has held */
    uint64_t since_ns;       /* start of its first window */
    uint32_t nbase[FDS_COUNT], bhead[FDS_COUNT];
    float value[FDS_COUNT];  /* latest window's p50 (seconds; bytes); < 0: too few events */
    float baseline[FDS_COUNT]; /* used for the latest window; 0: none yet */
};

/* A finished (or, at the end, still open) non-none run of one server. */
struct fd_episode {
    uint32_t slot;
    uint8_t domain;
    uint16_t evidence;
    uint32_t windows;
    uint64_t start_ns, end_ns;
};
#define FD_MAX_EPISODES 4096

struct alert_inst {
    uint64_t bad;          /* bit 0 = latest window */
    uint64_t sparse;
    uint32_t nwin;         /* windows recorded since the instance began or resolved */
    uint32_t good_streak;
    uint8_t state;
    uint8_t ever_fired;
    double value;          /* of the latest window */
    uint64_t events;
    uint64_t fired_at_ns;  /* window end when it fired */
    /* threshold_vs_baseline: ring of good windows' values (in the engine's
     * rbase) and the baseline used for the latest window */
    uint32_t nbase, bhead;
    double baseline;
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
    double baseline;       /* threshold_vs_baseline rules: the baseline compared with */
    const char *fault_domain; /* the server's attribution at the transition ("none" if
                               * not judged yet); never NULL */
    unsigned fault_evidence;
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
    struct alert_group groups[CONFIG_MAX_RULES + 1];
    struct histogram *scratch; /* one per hist kind */
    float **rbase;             /* per rule with threshold_vs_baseline: nslots x nb values */
    /* fault-domain attribution: runs with the group of fault_domain.window */
    unsigned fd_group;
    uint32_t fd_nb;            /* baseline ring length */
    struct fd_slot *fd;        /* per slot */
    float *fd_base;            /* nslots x FDS_COUNT x fd_nb */
    uint64_t fd_windows[FD_COUNT];  /* server-windows judged, by domain */
    struct fd_episode *episodes;    /* FD_MAX_EPISODES, oldest first */
    uint32_t nepisodes;
    uint64_t episodes_dropped;
    alert_cb cb;
    void *cb_ctx;
};

/* 0 on success; the engine reads cfg's rules until alerts_free(). It
 * always closes windows: the fault-domain attribution has its own window
 * group (shared with rules of the same window length), rules or not. */
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
/* The latest start of a window still open (0 before the first close): a
 * packet stamped before it belongs to a window already evaluated. */
static inline uint64_t alerts_open_since(const struct alert_engine *e)
{
    uint64_t t = 0;
    for (unsigned g = 0; g < e->ngroups; g++)
        if (e->groups[g].start_ns > t)
            t = e->groups[g].start_ns;
    return t;
}

static inline int alerts_started(const struct alert_engine *e)
{
    return e->started;
}

/* The end of the earliest open window: the time alerts_advance() has work. */
static inline uint64_t alerts_next_close(const struct alert_engine *e)
{
    return e->next_close_ns;
}

static inline int alerts_due(const struct alert_engine *e, uint64_t now_ns)
{
    return e->started && now_ns >= e->next_close_ns;
}
/* End of a replay: close the open (partial) windows too. */
void alerts_finish(struct alert_engine *e, struct server_registry *r, uint64_t now_ns);

/* Fault-domain attribution of one window, from that window's counter and
 * histogram deltas (exposed for tests): updates s (baselines included) and
 * returns the domain. */
enum fault_domain fd_judge(const struct fault_domain_cfg *c, struct fd_slot *s, float *base,
                           uint32_t nb, const struct server_stats *d,
                           const struct histogram *const dh[SERVER_HIST_COUNT]);

/* The threshold a transition's window was compared with (k x baseline for
 * a threshold_vs_baseline rule). */
double alerts_transition_threshold(const struct alert_transition *t);
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
