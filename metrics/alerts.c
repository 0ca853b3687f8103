/*
 * alerts.c — see alerts.h.
 */
#include "alerts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bound the work after a timestamp jump (a capture that leaps years
 * ahead): beyond this many empty windows the history is full of them
 * anyway, so the rest are skipped in one step. */
#define MAX_EMPTY_WINDOWS (RULE_MAX_OF_LAST + 2)

static int expr_hist(enum rule_expr x)
{
    switch (x) {
    case EXPR_DNS_LATENCY_P50:
    case EXPR_DNS_LATENCY_P90:
    case EXPR_DNS_LATENCY_P99:
        return HIST_DNS;
    case EXPR_TCP_RTT_P50:
    case EXPR_TCP_RTT_P90:
    case EXPR_TCP_RTT_P99:
        return HIST_TCP_RTT;
    case EXPR_HTTP_LATENCY_P50:
    case EXPR_HTTP_LATENCY_P90:
    case EXPR_HTTP_LATENCY_P99:
        return HIST_HTTP;
    default:
        return -1;
    }
}

static double quantile_of(enum rule_expr x)
{
    switch (x) {
    case EXPR_DNS_LATENCY_P50:
    case EXPR_TCP_RTT_P50:
    case EXPR_HTTP_LATENCY_P50:
        return 0.50;
    case EXPR_DNS_LATENCY_P90:
    case EXPR_TCP_RTT_P90:
    case EXPR_HTTP_LATENCY_P90:
        return 0.90;
    default:
        return 0.99;
    }
}

/* which protocol a server must have seen for a "*" rule to cover it */
static int expr_applies(enum rule_expr x, const struct server_stats *s)
{
    if (x <= EXPR_DNS_LATENCY_P99)
        return s->seen_dns;
    if (x <= EXPR_TCP_RTT_P99)
        return s->seen_tcp;
    if (x <= EXPR_HTTP_LATENCY_P99)
        return s->seen_http;
    return s->seen_dns || s->seen_tcp || s->seen_http;
}

static double ratio(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : 0.0;
}

double alerts_expr_value(enum rule_expr x, const struct server_stats *d,
                         const struct histogram *dh[SERVER_HIST_COUNT], uint64_t window_ns,
                         uint64_t *events)
{
    uint64_t n = 0, bad = 0;
    int hk = expr_hist(x);
    if (hk >= 0) {
        const struct histogram *h = dh[hk];
        *events = h ? h->count : 0;
        return h && h->count ? (double)hist_quantile(h, quantile_of(x)) / 1e9 : 0.0;
    }
    switch (x) {
    case EXPR_DNS_ERROR_RATIO:
        *events = d->dns_queries;
        return ratio(d->dns_responses[RCODE_SERVFAIL] + d->dns_responses[RCODE_REFUSED] +
                         d->dns_timeouts,
                     d->dns_queries);
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
        int lo = x == EXPR_HTTP_5XX_RATIO ? 500 : 400;
        for (int c = 0; c <= HTTP_CODE_MAX - HTTP_CODE_MIN; c++) {
            n += d->http_codes[c];
            if (c + HTTP_CODE_MIN >= lo && c + HTTP_CODE_MIN < lo + 100)
                bad += d->http_codes[c];
        }
        *events = n;
        return ratio(bad, n);
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
    if (!e->nrules)
        return 0;
    e->rule_group = calloc(e->nrules, 1);
    e->inst = calloc((size_t)e->nrules * e->nslots, sizeof *e->inst);
    e->fired_total = calloc(e->nrules, sizeof *e->fired_total);
    e->windows_total = calloc(e->nrules, sizeof *e->windows_total);
    e->bad_total = calloc(e->nrules, sizeof *e->bad_total);
    e->sparse_total = calloc(e->nrules, sizeof *e->sparse_total);
    e->scratch = calloc(SERVER_HIST_COUNT, sizeof *e->scratch);
    if (!e->rule_group || !e->inst || !e->fired_total || !e->scratch || !e->windows_total ||
        !e->bad_total || !e->sparse_total)
        goto fail;
    for (unsigned i = 0; i < e->nrules; i++) {
        const struct rule *r = &cfg->rules[i];
        unsigned g;
        for (g = 0; g < e->ngroups; g++)
            if (e->groups[g].window_ns == r->window_ns)
                break;
        if (g == e->ngroups) {
            e->groups[g].window_ns = r->window_ns;
            e->ngroups++;
        }
        e->rule_group[i] = (uint8_t)g;
        int hk = expr_hist(r->expr);
        if (hk >= 0)
            e->groups[g].hist_mask |= 1u << hk;
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
            }
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
                .fired_at_ns = in->fired_at_ns, .removed = 1,
            };
            make_pattern(in, r->of_last, t.pattern);
            in->state = ALERT_INACTIVE;
            if (old->cb)
                old->cb(old->cb_ctx, &t);
        }
    }
}

void alerts_start(struct alert_engine *e, uint64_t t0_ns)
{
    if (e->started || !e->nrules)
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

static int breaks(const struct rule *r, double v)
{
    switch (r->op) {
    case OP_GT: return v > r->threshold;
    case OP_GE: return v >= r->threshold;
    case OP_LT: return v < r->threshold;
    default: return v <= r->threshold;
    }
}

static void eval_instance(struct alert_engine *e, unsigned ri, uint32_t slot, const char *label,
                          double v, uint64_t events, uint64_t ws, uint64_t we, int partial)
{
    const struct rule *r = &e->cfg->rules[ri];
    struct alert_inst *in = &e->inst[(size_t)ri * e->nslots + slot];
    int sparse = r->expr != EXPR_REQUEST_RATE && (events < r->min_events || events == 0);
    int bad = !sparse && breaks(r, v);
    uint64_t mask = r->of_last >= 64 ? ~0ull : (1ull << r->of_last) - 1;

    in->seen = 1;
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
        .win_end_ns = we, .partial = partial, .nbad = nbad,
    };
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
            if (!cur->seen_dns && !cur->seen_tcp && !cur->seen_http)
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
    for (unsigned g = 0; g < e->ngroups; g++) {
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
    if (!e->nrules || !e->started)
        return;
    alerts_advance(e, r, now_ns);
    for (unsigned g = 0; g < e->ngroups; g++)
        if (now_ns > e->groups[g].start_ns)
            close_window(e, g, r, 1);
}

void alerts_format_time(char *buf, size_t len, uint64_t ns)
{
    time_t s = (time_t)(ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03uZ", base, (unsigned)(ns % 1000000000ull / 1000000ull));
}

/* JSON string body: quotes, backslashes and control bytes escaped; bytes
 * >= 0x80 are passed through only as valid UTF-8 would be — labels may hold
 * anything, so they are escaped as \u00XX (Latin-1 reading) instead. */
size_t alerts_json_escape(char *out, size_t len, const char *s)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[8];
        const char *piece = tmp;
        if (*p == '"')
            piece = "\\\"";
        else if (*p == '\\')
            piece = "\\\\";
        else if (*p < 0x20 || *p >= 0x7f)
            snprintf(tmp, sizeof tmp, "\\u%04x", *p);
        else {
            tmp[0] = (char)*p;
            tmp[1] = 0;
        }
        size_t pl = strlen(piece);
        if (o + pl + 1 > len)
            break;
        memcpy(out + o, piece, pl);
        o += pl;
    }
    if (len)
        out[o < len ? o : len - 1] = 0;
    return o;
}

int alerts_format_json(char *buf, size_t len, const struct alert_transition *t)
{
    char rule[3 * CONFIG_NAME_MAX * 2], server[6 * SERVER_LABEL_MAX + 1], sev[200],
        summary[6 * 192 + 1], ws[40], we[40], fa[40];
    alerts_json_escape(rule, sizeof rule, t->rule->name);
    alerts_json_escape(server, sizeof server, t->server);
    alerts_json_escape(sev, sizeof sev, t->rule->severity);
    alerts_json_escape(summary, sizeof summary, t->rule->summary);
    alerts_format_time(ws, sizeof ws, t->win_start_ns);
    alerts_format_time(we, sizeof we, t->win_end_ns);
    alerts_format_time(fa, sizeof fa, t->fired_at_ns);
    double v = isfinite(t->value) ? t->value : 0.0;
    return snprintf(buf, len,
                    "{\"state\":\"%s\",\"rule\":\"%s\",\"server\":\"%s\",\"expr\":\"%s\","
                    "\"op\":\"%s\",\"value\":%.6g,\"threshold\":%.6g,\"events\":%llu,"
                    "\"window_start\":\"%s\",\"window_end\":\"%s\",\"window_seconds\":%.6g,"
                    "\"pattern\":\"%s\",\"bad_windows\":%u,\"of_last\":%u,"
                    "\"fire_when\":{\"bad_windows\":%u,\"of_last\":%u},"
                    "\"resolve_when\":{\"good_windows\":%u},\"fired_at\":\"%s\","
                    "\"partial_window\":%s,\"removed_by_reload\":%s,\"severity\":\"%s\","
                    "\"summary\":\"%s\"}",
                    t->firing ? "firing" : "resolved", rule, server, rule_expr_name[t->rule->expr],
                    rule_op_name[t->rule->op], v, t->rule->threshold,
                    (unsigned long long)t->events, ws, we, (double)t->rule->window_ns / 1e9,
                    t->pattern, t->nbad, (unsigned)strlen(t->pattern), t->rule->bad_windows,
                    t->rule->of_last, t->rule->good_windows, fa, t->partial ? "true" : "false",
                    t->removed ? "true" : "false", sev, summary);
}
