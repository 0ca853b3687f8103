/*
 * alerts.c — see alerts.h.
 */
#include "alerts/alerts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts/baseline.h"

/* Bound the work after a timestamp jump (a capture that leaps years
 * ahead): beyond this many empty windows the history is full of them
 * anyway, so the rest are skipped in one step. */
#define MAX_EMPTY_WINDOWS (RULE_MAX_OF_LAST + 2)

/* the histogram a quantile expression reads (-1: a counter expression),
 * its quantile, and whether a server is covered by a "*" rule */
#define HIST_NONE (-1)
static const int expr_hist[EXPR_COUNT] = {
#define X(id, name, kind, hist, q, proto) [EXPR_##id] = HIST_##hist,
    RULE_EXPR_LIST(X)
#undef X
};

static const double expr_quantile[EXPR_COUNT] = {
#define X(id, name, kind, hist, q, proto) [EXPR_##id] = q,
    RULE_EXPR_LIST(X)
#undef X
};

enum expr_proto { PROTO_dns, PROTO_tcp, PROTO_http, PROTO_tls, PROTO_any };
static const uint8_t expr_proto[EXPR_COUNT] = {
#define X(id, name, kind, hist, q, proto) [EXPR_##id] = PROTO_##proto,
    RULE_EXPR_LIST(X)
#undef X
};

static int expr_applies(enum rule_expr x, const struct server_stats *s)
{
    switch (expr_proto[x]) {
    case PROTO_dns:
        return s->seen_dns;
    case PROTO_tcp:
        return s->seen_tcp;
    case PROTO_http:
        return s->seen_http;
    case PROTO_tls:
        return s->seen_tls;
    default:
        return server_seen_any(s);
    }
}

static double ratio(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : 0.0;
}

double alerts_expr_value(enum rule_expr x, const struct server_stats *d,
                         const struct histogram *dh[SERVER_HIST_COUNT], uint64_t window_ns,
                         uint64_t *events)
{
    uint64_t n;
    int hk = expr_hist[x];
    if (hk >= 0) {
        const struct histogram *h = dh[hk];
        *events = h ? h->count : 0;
        if (!h || !h->count)
            return 0.0;
        double v = (double)hist_quantile(h, expr_quantile[x]);
        if (hk == HIST_TLS_CERT_LEFT)
            return v / 86400.0; /* seconds -> days */
        return server_hist_is_bytes(hk) ? v : v / 1e9;
    }
    switch (x) {
    case EXPR_DNS_ERROR_RATIO:
        *events = d->dns_queries;
        return ratio(server_dns_errors(d), d->dns_queries);
    case EXPR_DNS_NXDOMAIN_RATIO:
        *events = d->dns_queries;
        return ratio(d->dns_responses[RCODE_NXDOMAIN], d->dns_queries);
    case EXPR_TCP_HANDSHAKE_FAILURE_RATIO:
        *events = d->tcp_connections;
        return ratio(d->tcp_hs_failures[HS_FAIL_RESET] + d->tcp_hs_failures[HS_FAIL_TIMEOUT],
                     d->tcp_connections);
    case EXPR_TCP_RESET_RATIO:
        *events = d->tcp_connections;
        return ratio(d->tcp_resets, d->tcp_connections);
    case EXPR_TCP_RETRANSMIT_RATIO:
        *events = d->tcp_data_segments;
        return ratio(d->tcp_retransmits, d->tcp_data_segments);
    case EXPR_HTTP_5XX_RATIO:
    case EXPR_HTTP_4XX_RATIO: {
        uint64_t cls[6];
        server_http_classes(d, cls);
        *events = cls[0];
        return ratio(cls[x == EXPR_HTTP_5XX_RATIO ? 5 : 4], cls[0]);
    }
    case EXPR_TLS_HANDSHAKE_FAILURE_RATIO: {
        uint64_t all = 0, failed = 0;
        for (int v = 0; v < TLSV_COUNT; v++)
            for (int r = 0; r < TLS_RES_COUNT; r++) {
                all += d->tls_handshakes[v][r];
                if (r != TLS_RES_OK)
                    failed += d->tls_handshakes[v][r];
            }
        *events = all;
        return ratio(failed, all);
    }
    case EXPR_REQUEST_RATE:
        n = d->dns_queries + d->http_requests;
        if (!n)
            n = d->tcp_connections;
        *events = n;
        return (double)n / ((double)window_ns / 1e9);
    default:
        *events = 0;
        return 0.0;
    }
}

int alerts_init(struct alert_engine *e, const struct config *cfg, alert_cb cb, void *ctx)
{
    memset(e, 0, sizeof *e);
    e->cfg = cfg;
    e->cb = cb;
    e->cb_ctx = ctx;
    e->nrules = cfg->n_rules;
    e->nslots = cfg->max_servers + 1;
    e->rule_group = calloc(e->nrules ? e->nrules : 1, 1);
    e->inst = calloc((size_t)e->nrules * e->nslots, sizeof *e->inst);
    e->fired_total = calloc(e->nrules, sizeof *e->fired_total);
    e->windows_total = calloc(e->nrules, sizeof *e->windows_total);
    e->bad_total = calloc(e->nrules, sizeof *e->bad_total);
    e->sparse_total = calloc(e->nrules, sizeof *e->sparse_total);
    e->scratch = calloc(SERVER_HIST_COUNT, sizeof *e->scratch);
    e->rbase = calloc(e->nrules ? e->nrules : 1, sizeof *e->rbase);
    e->fd_nb = cfg->fd.baseline_windows;
    e->fd = calloc(e->nslots, sizeof *e->fd);
    e->fd_base = calloc((size_t)e->nslots * FDS_COUNT * e->fd_nb, sizeof *e->fd_base);
    e->episodes = calloc(FD_MAX_EPISODES, sizeof *e->episodes);
    if (!e->rule_group || !e->inst || !e->fired_total || !e->scratch || !e->windows_total ||
        !e->bad_total || !e->sparse_total || !e->rbase || !e->fd || !e->fd_base || !e->episodes)
        goto fail;
    for (unsigned i = 0; i <= e->nrules; i++) {
        /* the rules' windows, then the attribution's */
        uint64_t win = i < e->nrules ? cfg->rules[i].window_ns : cfg->fd.window_ns;
        unsigned g;
        for (g = 0; g < e->ngroups; g++)
            if (e->groups[g].window_ns == win)
                break;
        if (g == e->ngroups) {
            e->groups[g].window_ns = win;
            e->ngroups++;
        }
        if (i == e->nrules) {
            e->fd_group = g;
            e->groups[g].hist_mask |= 1u << HIST_TCP_RTT | 1u << HIST_TCP_DATA_RTT |
                                      1u << HIST_HTTP_SERVER_TIME | 1u << HIST_HTTP_RESP_BYTES |
                                      1u << HIST_DNS | 1u << HIST_TLS_SERVER_TIME;
            break;
        }
        const struct rule *r = &cfg->rules[i];
        e->rule_group[i] = (uint8_t)g;
        int hk = expr_hist[r->expr];
        if (hk >= 0)
            e->groups[g].hist_mask |= 1u << hk;
        if (r->vs_baseline > 0) {
            e->rbase[i] = calloc((size_t)e->nslots * e->fd_nb, sizeof **e->rbase);
            if (!e->rbase[i])
                goto fail;
        }
    }
    for (unsigned g = 0; g < e->ngroups; g++) {
        struct alert_group *G = &e->groups[g];
        /* calloc'd: pages of server slots never used are never touched */
        G->prev = calloc(e->nslots, sizeof *G->prev);
        G->prev_valid = calloc(e->nslots, 1);
        if (G->hist_mask)
            G->prev_h = calloc((size_t)e->nslots * SERVER_HIST_COUNT, sizeof *G->prev_h);
        if (!G->prev || !G->prev_valid || (G->hist_mask && !G->prev_h))
            goto fail;
    }
    return 0;
fail:
    alerts_free(e);
    return -1;
}

void alerts_free(struct alert_engine *e)
{
    for (unsigned g = 0; g < e->ngroups; g++) {
        free(e->groups[g].prev);
        free(e->groups[g].prev_h);
        free(e->groups[g].prev_valid);
    }
    for (unsigned i = 0; e->rbase && i < e->nrules; i++)
        free(e->rbase[i]);
    free(e->rbase);
    free(e->fd);
    free(e->fd_base);
    free(e->episodes);
    free(e->rule_group);
    free(e->inst);
    free(e->fired_total);
    free(e->windows_total);
    free(e->bad_total);
    free(e->sparse_total);
    free(e->scratch);
    memset(e, 0, sizeof *e);
}

void alerts_carry_over(struct alert_engine *e, const struct alert_engine *old_c)
{
    struct alert_engine *old = (struct alert_engine *)old_c; /* its buffers are taken */
    if (!old->started)
        return;
    e->started = 1;
    e->t0 = old->t0;
    e->next_close_ns = UINT64_MAX;
    for (unsigned g = 0; g < e->ngroups; g++) {
        struct alert_group *G = &e->groups[g];
        struct alert_group *O = NULL;
        for (unsigned h = 0; h < old->ngroups; h++)
            if (old->groups[h].window_ns == G->window_ns &&
                (old->groups[h].hist_mask & G->hist_mask) == G->hist_mask)
                O = &old->groups[h];
        if (O) {
            /* same windows: continue exactly where the old group was */
            struct alert_group tmp = *G;
            G->prev = O->prev;
            G->prev_h = O->prev_h;
            G->prev_valid = O->prev_valid;
            G->start_ns = O->start_ns;
            G->windows = O->windows;
            O->prev = tmp.prev;
            O->prev_h = tmp.prev_h;
            O->prev_valid = tmp.prev_valid;
            G->hist_mask = O->hist_mask;
        } else {
            /* a new window length: its first window is warm-up only
             * (prev_valid stays 0 and is filled at the first close) */
            uint64_t now = old->next_close_ns; /* a close time of the old run: <= now */
            uint64_t k = now > e->t0 ? (now - e->t0) / G->window_ns : 0;
            G->start_ns = e->t0 + k * G->window_ns;
            G->windows = UINT64_MAX; /* marks warm-up */
        }
        if (G->start_ns + G->window_ns < e->next_close_ns)
            e->next_close_ns = G->start_ns + G->window_ns;
    }
    for (unsigned i = 0; i < e->nrules; i++)
        for (unsigned j = 0; j < old->nrules; j++)
            if (rule_equal(&e->cfg->rules[i], &old->cfg->rules[j])) {
                memcpy(&e->inst[(size_t)i * e->nslots], &old->inst[(size_t)j * old->nslots],
                       (size_t)e->nslots * sizeof *e->inst);
                e->fired_total[i] = old->fired_total[j];
                e->windows_total[i] = old->windows_total[j];
                e->bad_total[i] = old->bad_total[j];
                e->sparse_total[i] = old->sparse_total[j];
                if (e->rbase[i] && old->rbase[j] && e->fd_nb == old->fd_nb) {
                    float *t = e->rbase[i];
                    e->rbase[i] = old->rbase[j];
                    old->rbase[j] = t;
                } else {
                    for (uint32_t s = 0; s < e->nslots; s++)
                        e->inst[(size_t)i * e->nslots + s].nbase = 0;
                }
            }
    /* attribution: baselines and the current runs carry over unless the
     * baseline length changed; the episode log always does */
    struct fd_episode *ep = e->episodes;
    e->episodes = old->episodes;
    old->episodes = ep;
    e->nepisodes = old->nepisodes;
    e->episodes_dropped = old->episodes_dropped;
    memcpy(e->fd_windows, old->fd_windows, sizeof e->fd_windows);
    if (e->fd_nb == old->fd_nb) {
        struct fd_slot *fs = e->fd;
        float *fb = e->fd_base;
        e->fd = old->fd;
        e->fd_base = old->fd_base;
        old->fd = fs;
        old->fd_base = fb;
    } else {
        for (uint32_t s = 0; s < e->nslots; s++) {
            e->fd[s] = old->fd[s];
            memset(e->fd[s].nbase, 0, sizeof e->fd[s].nbase);
            memset(e->fd[s].bhead, 0, sizeof e->fd[s].bhead);
        }
    }
}

/* The server's attribution, as a transition carries it. */
static void transition_fault(struct alert_transition *t, const struct fd_slot *fs)
{
    t->fault_domain = fault_domain_name[fs->judged ? fs->domain : FD_NONE];
    t->fault_evidence = fs->judged ? fs->evidence : 0;
}

/* The order groups close in: the attribution's first, so that rules closing
 * at the same time see the server's fresh attribution. */
static unsigned group_in_order(const struct alert_engine *e, unsigned i)
{
    return i == 0 ? e->fd_group : i <= e->fd_group ? i - 1 : i;
}

static void make_pattern(const struct alert_inst *in, unsigned n, char *out)
{
    unsigned len = in->nwin < n ? in->nwin : n;
    for (unsigned i = 0; i < len; i++) {
        unsigned age = len - 1 - i; /* oldest first */
        out[i] = (in->bad >> age) & 1 ? 'X' : (in->sparse >> age) & 1 ? '-' : '.';
    }
    out[len] = 0;
}

void alerts_resolve_removed(struct alert_engine *old, const struct alert_engine *e,
                            const struct server_registry *reg, uint64_t now_ns)
{
    for (unsigned j = 0; j < old->nrules; j++) {
        const struct rule *r = &old->cfg->rules[j];
        int kept = 0;
        for (unsigned i = 0; i < e->nrules && !kept; i++)
            kept = rule_equal(&e->cfg->rules[i], r);
        if (kept)
            continue;
        for (uint32_t slot = 0; slot < old->nslots; slot++) {
            struct alert_inst *in = &old->inst[(size_t)j * old->nslots + slot];
            if (in->state != ALERT_FIRING)
                continue;
            struct alert_transition t = {
                .rule = r, .server = reg->s[slot].label, .firing = 0, .value = in->value,
                .events = in->events, .win_start_ns = now_ns, .win_end_ns = now_ns,
                .fired_at_ns = in->fired_at_ns, .removed = 1, .baseline = in->baseline,
            };
            transition_fault(&t, &old->fd[slot]);
            make_pattern(in, r->of_last, t.pattern);
            in->state = ALERT_INACTIVE;
            if (old->cb)
                old->cb(old->cb_ctx, &t);
        }
    }
}

void alerts_start(struct alert_engine *e, uint64_t t0_ns)
{
    if (e->started)
        return;
    e->started = 1;
    e->t0 = t0_ns;
    e->next_close_ns = UINT64_MAX;
    for (unsigned g = 0; g < e->ngroups; g++) {
        e->groups[g].start_ns = t0_ns;
        if (t0_ns + e->groups[g].window_ns < e->next_close_ns)
            e->next_close_ns = t0_ns + e->groups[g].window_ns;
    }
}

static int breaks(const struct rule *r, double v, double threshold)
{
    switch (r->op) {
    case OP_GT: return v > threshold;
    case OP_GE: return v >= threshold;
    case OP_LT: return v < threshold;
    default: return v <= threshold;
    }
}

static void eval_instance(struct alert_engine *e, unsigned ri, uint32_t slot, const char *label,
                          double v, uint64_t events, uint64_t ws, uint64_t we, int partial)
{
    const struct rule *r = &e->cfg->rules[ri];
    struct alert_inst *in = &e->inst[(size_t)ri * e->nslots + slot];
    int sparse = r->expr != EXPR_REQUEST_RATE && (events < r->min_events || events == 0);
    double threshold = r->threshold;
    float *ring = e->rbase[ri] ? &e->rbase[ri][(size_t)slot * e->fd_nb] : NULL;
    if (ring) {
        /* baseline-relative: until min_baseline_windows good windows are
         * known the window cannot break (it is learning: sparse) */
        in->baseline = baseline_of(ring, in->nbase, e->cfg->fd.min_baseline_windows);
        threshold = r->vs_baseline * in->baseline;
        if (in->baseline <= 0)
            sparse = 1;
    }
    int bad = !sparse && breaks(r, v, threshold);
    /* the baseline learns from windows with enough events that did not break */
    if (ring && !bad && events >= r->min_events && events)
        baseline_push(ring, e->fd_nb, &in->nbase, &in->bhead, v);
    uint64_t mask = r->of_last >= 64 ? ~0ull : (1ull << r->of_last) - 1;

    e->windows_total[ri]++;
    e->bad_total[ri] += (uint64_t)bad;
    e->sparse_total[ri] += (uint64_t)sparse;
    in->bad = (in->bad << 1) | (uint64_t)bad;
    in->sparse = (in->sparse << 1) | (uint64_t)sparse;
    if (in->nwin < UINT32_MAX)
        in->nwin++;
    in->value = v;
    in->events = events;
    if (bad)
        in->good_streak = 0;
    else if (!sparse)
        in->good_streak++;
    unsigned nbad = (unsigned)__builtin_popcountll(in->bad & mask);

    struct alert_transition t = {
        .rule = r, .server = label, .value = v, .events = events, .win_start_ns = ws,
        .win_end_ns = we, .partial = partial, .nbad = nbad, .baseline = in->baseline,
    };
    transition_fault(&t, &e->fd[slot]);
    if (in->state != ALERT_FIRING) {
        if (nbad >= r->bad_windows) {
            in->state = ALERT_FIRING;
            in->ever_fired = 1;
            in->good_streak = 0;
            in->fired_at_ns = we;
            e->fired_total[ri]++;
            t.firing = 1;
            t.fired_at_ns = we;
            make_pattern(in, r->of_last, t.pattern);
            if (e->cb)
                e->cb(e->cb_ctx, &t);
        } else {
            in->state = nbad ? ALERT_PENDING : ALERT_INACTIVE;
        }
    } else if (in->good_streak >= r->good_windows) {
        t.firing = 0;
        t.fired_at_ns = in->fired_at_ns;
        make_pattern(in, r->of_last, t.pattern);
        in->state = ALERT_INACTIVE;
        in->bad = in->sparse = 0;
        in->nwin = 0;
        in->good_streak = 0;
        if (e->cb)
            e->cb(e->cb_ctx, &t);
    }
}

/* Judge one server slot for the window starting at ws and keep its runs. */
static void fd_window(struct alert_engine *e, uint32_t slot, const struct server_stats *d,
                      const struct histogram *const dh[SERVER_HIST_COUNT], uint64_t ws)
{
    struct fd_slot *s = &e->fd[slot];
    uint8_t before = s->judged ? s->domain : FD_NONE;
    enum fault_domain dom =
        fd_judge(&e->cfg->fd, s, &e->fd_base[(size_t)slot * FDS_COUNT * e->fd_nb], e->fd_nb, d, dh);
    e->fd_windows[dom]++;
    if (!s->judged || dom != before) {
        if (s->judged && before != FD_NONE) {
            if (e->nepisodes == FD_MAX_EPISODES) {
                memmove(e->episodes, e->episodes + 1, (FD_MAX_EPISODES - 1) * sizeof *e->episodes);
                e->nepisodes--;
                e->episodes_dropped++;
            }
            e->episodes[e->nepisodes++] = (struct fd_episode){
                .slot = slot, .domain = before, .evidence = s->run_evidence,
                .windows = s->run, .start_ns = s->since_ns, .end_ns = ws,
            };
        }
        s->since_ns = ws;
        s->run = 0;
        s->run_evidence = 0;
    }
    s->judged = 1;
    s->domain = (uint8_t)dom;
    s->run++;
    s->run_evidence |= s->evidence;
}

static void sub_hist(struct histogram *d, const struct histogram *cur, const struct histogram *prev)
{
    d->count = cur->count - prev->count;
    d->sum_ns = cur->sum_ns - prev->sum_ns;
    if (!d->count) {
        memset(d->b, 0, sizeof d->b);
        return;
    }
    for (uint32_t i = 0; i < HIST_BUCKETS; i++)
        d->b[i] = cur->b[i] - prev->b[i];
}

/* Does rule ri cover server slot s? */
static int rule_covers(const struct rule *r, const struct server_stats *s, int overflow)
{
    if (!strcmp(r->server, "*"))
        return !overflow && expr_applies(r->expr, s);
    return !strcmp(r->server, s->label);
}

/* Close the open window of group g: [start, start + W). */
static void close_window(struct alert_engine *e, unsigned g, struct server_registry *reg,
                         int partial)
{
    struct alert_group *G = &e->groups[g];
    uint64_t ws = G->start_ns, we = ws + G->window_ns;
    int warmup = G->windows == UINT64_MAX;
    uint32_t used[2] = { reg->count, 0 };
    struct server_stats d;
    const struct histogram *dh[SERVER_HIST_COUNT];

    /* the slots in use: 0..count-1 and the overflow slot */
    for (int part = 0; part < 2; part++) {
        uint32_t lo = part ? reg->max : 0, hi = part ? reg->max + 1 : used[0];
        for (uint32_t slot = lo; slot < hi && slot < e->nslots; slot++) {
            const struct server_stats *cur = &reg->s[slot];
            if (!server_seen_any(cur))
                continue;
            struct server_stats *prev = &G->prev[slot];
            if (!G->prev_valid[slot]) {
                memset(prev, 0, sizeof *prev);
                if (G->prev_h)
                    memset(&G->prev_h[(size_t)slot * SERVER_HIST_COUNT], 0,
                           SERVER_HIST_COUNT * sizeof *G->prev_h);
                G->prev_valid[slot] = 1;
            }
            if (!warmup) {
                server_stats_sub(&d, cur, prev);
                for (int k = 0; k < SERVER_HIST_COUNT; k++) {
                    dh[k] = NULL;
                    if (G->hist_mask & (1u << k)) {
                        sub_hist(&e->scratch[k], server_hist(reg, slot, (enum server_hist)k),
                                 &G->prev_h[(size_t)slot * SERVER_HIST_COUNT + k]);
                        dh[k] = &e->scratch[k];
                    }
                }
                if (g == e->fd_group && slot != reg->max)
                    fd_window(e, slot, &d, dh, ws);
                for (unsigned ri = 0; ri < e->nrules; ri++) {
                    const struct rule *r = &e->cfg->rules[ri];
                    if (e->rule_group[ri] != g || !rule_covers(r, cur, slot == reg->max))
                        continue;
                    uint64_t events;
                    double v = alerts_expr_value(r->expr, &d, dh, G->window_ns, &events);
                    eval_instance(e, ri, slot, cur->label, v, events, ws, we, partial);
                }
            }
            *prev = *cur;
            for (int k = 0; k < SERVER_HIST_COUNT; k++)
                if (G->hist_mask & (1u << k))
                    G->prev_h[(size_t)slot * SERVER_HIST_COUNT + k] =
                        *server_hist(reg, slot, (enum server_hist)k);
        }
    }
    G->windows = warmup ? 0 : G->windows + 1;
    G->start_ns = we;
}

/* Servers that had a window before but no traffic since: their window is
 * sparse (or rate 0); evaluated only for rules that cover them, so their
 * history moves on. Covered by close_window: every seen slot is visited. */

void alerts_advance(struct alert_engine *e, struct server_registry *r, uint64_t now_ns)
{
    if (!alerts_due(e, now_ns))
        return;
    e->next_close_ns = UINT64_MAX;
    for (unsigned i = 0; i < e->ngroups; i++) {
        unsigned g = group_in_order(e, i);
        struct alert_group *G = &e->groups[g];
        unsigned closed = 0;
        while (G->start_ns + G->window_ns <= now_ns) {
            if (closed == MAX_EMPTY_WINDOWS) {
                /* jump: skip the remaining empty windows */
                uint64_t k = (now_ns - G->start_ns) / G->window_ns;
                G->start_ns += k * G->window_ns;
                break;
            }
            close_window(e, g, r, 0);
            closed++;
        }
        if (G->start_ns + G->window_ns < e->next_close_ns)
            e->next_close_ns = G->start_ns + G->window_ns;
    }
}

void alerts_finish(struct alert_engine *e, struct server_registry *r, uint64_t now_ns)
{
    if (!e->started)
        return;
    alerts_advance(e, r, now_ns);
    for (unsigned i = 0; i < e->ngroups; i++) {
        unsigned g = group_in_order(e, i);
        if (now_ns > e->groups[g].start_ns)
            close_window(e, g, r, 1);
    }
}

