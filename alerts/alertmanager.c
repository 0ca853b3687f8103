/*
 * alertmanager.c — see alertmanager.h.
 */
#include "alerts/alertmanager.h"
#include "util/signals.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts/alerts.h"
#include "util/clock.h"
#include "util/module.h"

#define RING 1024         /* transitions waiting for the sender thread */
#define MAX_KNOWN 8192    /* alerts the sender tracks (firing + unsent resolved) */
#define TICK_NS 100000000ull

struct known {
    struct am_msg m;      /* latest state */
    uint64_t starts_ns;
    int resolved_unsent;
};

struct am_sender {
    char url[600];
    char probe[128];
    uint64_t resend_ns, timeout_ns;
    struct am_msg ring[RING];
    _Atomic uint64_t head, tail;          /* head: producer, tail: consumer */
    _Atomic uint64_t posts_ok, posts_failed, dropped, pending;
    atomic_int stop;
    unsigned flush_ms;
    pthread_t thread;
    CURL *curl;
    struct known *known;
    unsigned nknown;
};

int am_enqueue(struct am_sender *s, const struct am_msg *m)
{
    uint64_t h = atomic_load_explicit(&s->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&s->tail, memory_order_acquire);
    if (h - t >= RING) {
        atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
        return -1;
    }
    s->ring[h % RING] = *m;
    atomic_store_explicit(&s->head, h + 1, memory_order_release);
    return 0;
}

void am_get_stats(struct am_sender *s, struct am_stats *o)
{
    o->posts_ok = atomic_load(&s->posts_ok);
    o->posts_failed = atomic_load(&s->posts_failed);
    o->dropped = atomic_load(&s->dropped);
    o->pending = atomic_load(&s->pending);
}

static void take(struct am_sender *s, const struct am_msg *m)
{
    unsigned i;
    for (i = 0; i < s->nknown; i++)
        if (!strcmp(s->known[i].m.rule, m->rule) && !strcmp(s->known[i].m.server, m->server))
            break;
    int fresh = i == s->nknown;
    if (fresh) {
        if (s->nknown == MAX_KNOWN) {
            atomic_fetch_add(&s->dropped, 1);
            return;
        }
        s->nknown++;
        s->known[i].starts_ns = m->at_ns;
    }
    struct known *k = &s->known[i];
    int new_episode = m->firing && (!k->m.firing || k->resolved_unsent);
    if (new_episode)
        k->starts_ns = m->at_ns; /* a new firing episode */
    char dom[sizeof k->m.fault_domain];
    memcpy(dom, k->m.fault_domain, sizeof dom);
    k->m = *m;
    if (!fresh && !new_episode) /* same episode: same labels */
        memcpy(k->m.fault_domain, dom, sizeof dom);
    k->resolved_unsent = !m->firing;
}

struct buf {
    char *p;
    size_t len, cap;
};

static int put(struct buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
        char *np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
    return 0;
}

/* The JSON body: every known alert (postableAlerts). */
static int body(struct am_sender *s, struct buf *b, uint64_t now)
{
    char tmp[8192], e1[400], e2[400], e3[200], e4[800], e5[1600], e6[200], e7[300], e8[100],
        e9[1200], t1[40], t2[40];
    int rc = put(b, "[");
    for (unsigned i = 0; i < s->nknown && rc == 0; i++) {
        const struct known *k = &s->known[i];
        /* firing: valid until 4 resend intervals from now (Alertmanager
         * resolves it by itself if spanwatch disappears) */
        uint64_t ends = k->m.firing ? now + 4 * s->resend_ns : k->m.at_ns;
        alerts_format_time(t1, sizeof t1, k->starts_ns);
        alerts_format_time(t2, sizeof t2, ends);
        alerts_json_escape(e1, sizeof e1, k->m.rule);
        alerts_json_escape(e2, sizeof e2, k->m.server);
        alerts_json_escape(e3, sizeof e3, k->m.severity);
        alerts_json_escape(e4, sizeof e4, k->m.summary);
        alerts_json_escape(e5, sizeof e5, k->m.description);
        alerts_json_escape(e6, sizeof e6, k->m.pattern);
        alerts_json_escape(e7, sizeof e7, s->probe);
        alerts_json_escape(e8, sizeof e8, k->m.fault_domain[0] ? k->m.fault_domain : "none");
        alerts_json_escape(e9, sizeof e9, k->m.fault_evidence);
        snprintf(tmp, sizeof tmp,
                 "%s{\"labels\":{\"alertname\":\"%s\",\"server\":\"%s\",\"severity\":\"%s\","
                 "\"probe\":\"%s\",\"source\":\"spanwatch\",\"fault_domain\":\"%s\"},"
                 "\"annotations\":{\"summary\":\"%s\",\"description\":\"%s\",\"pattern\":\"%s\","
                 "\"fault_evidence\":\"%s\"},"
                 "\"startsAt\":\"%s\",\"endsAt\":\"%s\"}",
                 i ? "," : "", e1, e2, e3, e7, e8, e4, e5, e6, e9, t1, t2);
        rc = put(b, tmp);
    }
    return rc ? rc : put(b, "]");
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

static int post(struct am_sender *s, const char *json)
{
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, json);
    long code = 0;
    CURLcode c = curl_easy_perform(s->curl);
    if (c == CURLE_OK)
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    return c == CURLE_OK && code >= 200 && code < 300 ? 0 : -1;
}

static void *run(void *arg)
{
    struct am_sender *s = arg;
    uint64_t last_ok = 0, next_try = 0, backoff = 1000000000ull, stop_at = 0;
    int dirty = 0, warned = 0;
    struct timespec nap = { 0, (long)TICK_NS };
    for (;;) {
        uint64_t t = atomic_load_explicit(&s->tail, memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&s->head, memory_order_acquire);
        for (; t != h; t++) {
            take(s, &s->ring[t % RING]);
            dirty = 1;
        }
        atomic_store_explicit(&s->tail, t, memory_order_release);
        atomic_store(&s->pending, (uint64_t)s->nknown);
        uint64_t now = clock_mono_ns();
        if (atomic_load(&s->stop)) {
            if (!stop_at)
                stop_at = now + (uint64_t)s->flush_ms * 1000000ull;
            if (!dirty || now >= stop_at)
                break;
        }
        int firing = 0;
        for (unsigned i = 0; i < s->nknown; i++)
            firing |= s->known[i].m.firing;
        int due = dirty || (firing && now - last_ok >= s->resend_ns);
        if (s->nknown && due && now >= next_try) {
            struct buf b = { 0 };
            if (body(s, &b, clock_wall_ns()) == 0 && post(s, b.p) == 0) {
                atomic_fetch_add(&s->posts_ok, 1);
                last_ok = now;
                dirty = 0;
                backoff = 1000000000ull;
                next_try = 0;
                if (warned)
                    fprintf(stderr, "spanwatch: alertmanager: %s reachable again; alerts "
                                    "delivered\n", s->url);
                warned = 0;
                /* delivered resolutions are done */
                unsigned j = 0;
                for (unsigned i = 0; i < s->nknown; i++)
                    if (!s->known[i].resolved_unsent)
                        s->known[j++] = s->known[i];
                s->nknown = j;
            } else {
                atomic_fetch_add(&s->posts_failed, 1);
                if (!warned)
                    fprintf(stderr, "spanwatch: alertmanager: POST to %s failed; retrying with "
                                    "back-off (alerts are kept)\n", s->url);
                warned = 1;
                next_try = now + backoff;
                backoff = backoff * 2 > 30000000000ull ? 30000000000ull : backoff * 2;
                dirty = 1;
            }
            free(b.p);
        }
        nanosleep(&nap, NULL);
    }
    return NULL;
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct am_sender *am_start(const char *url, uint64_t resend_ns, uint64_t timeout_ns,
                           const char *probe, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    struct am_sender *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "alertmanager: out of memory");
        return NULL;
    }
    size_t ul = strlen(url);
    while (ul && url[ul - 1] == '/')
        ul--;
    snprintf(s->url, sizeof s->url, "%.*s/api/v2/alerts", (int)ul, url);
    snprintf(s->probe, sizeof s->probe, "%s", probe);
    s->resend_ns = resend_ns;
    s->timeout_ns = timeout_ns;
    s->known = calloc(MAX_KNOWN, sizeof *s->known);
    s->curl = curl_easy_init();
    if (!s->known || !s->curl) {
        snprintf(err, errlen, "alertmanager: cannot initialise libcurl");
        goto fail;
    }
    static struct curl_slist *hdr;
    if (!hdr)
        hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(s->curl, CURLOPT_URL, s->url);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)(timeout_ns / 1000000ull));
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ns / 1000000ull));
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "spanwatch");
    sigset_t old;
    signals_block_stop(&old); /* util/signals.h */
    int rc = pthread_create(&s->thread, NULL, run, s);
    signals_restore(&old);
    if (rc != 0) {
        snprintf(err, errlen, "alertmanager: cannot start the sender thread");
        goto fail;
    }
    return s;
fail:
    if (s->curl)
        curl_easy_cleanup(s->curl);
    free(s->known);
    free(s);
    return NULL;
}

void am_stop(struct am_sender *s, unsigned flush_ms)
{
    if (!s)
        return;
    s->flush_ms = flush_ms;
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    curl_easy_cleanup(s->curl);
    free(s->known);
    free(s);
}

/* spanwatch-alertmanager.so's table (alertmanager.h) */
MODULE_EXPORT const struct spanwatch_alertmanager_api spanwatch_alertmanager_api = {
    .start = am_start,
    .enqueue = am_enqueue,
    .get_stats = am_get_stats,
    .stop = am_stop,
};
