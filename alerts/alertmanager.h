/*
 * alertmanager.h — delivery of alert transitions to Prometheus Alertmanager
 * (POST /api/v2/alerts, libcurl) from a thread of its own.
 *
 * The worker (producer) hands each transition to a single-producer,
 * single-consumer ring and never waits: a full ring drops the message and
 * counts it. The sender thread keeps the current state of every alert it
 * knows (firing ones are re-sent every resend_interval with endsAt ahead,
 * as Alertmanager expects from a client; resolved ones are sent with
 * endsAt = resolution time until Alertmanager accepts them). When a POST
 * fails the same state is retried with exponential back-off (1 s .. 30 s),
 * so an Alertmanager that was down gets the current picture once it is back.
 */
#ifndef SPANWATCH_ALERTMANAGER_H
#define SPANWATCH_ALERTMANAGER_H

#include <stddef.h>
#include <stdint.h>

struct am_msg {
    char rule[64];
    char server[64];
    char severity[32];
    char summary[256];
    char description[512];
    char pattern[72];
    /* label: the server's fault domain when the alert fired (kept for its
     * resolution, so the label set, which is the alert's identity in
     * Alertmanager, does not change); annotation: the evidence */
    char fault_domain[16];
    char fault_evidence[200];
    int firing;
    uint64_t at_ns;   /* wall-clock time of the transition */
};

struct am_stats {
    uint64_t posts_ok, posts_failed, dropped, pending;
};

struct am_sender;

/* The sender (alertmanager.c, libcurl) is the module spanwatch-alertmanager.so
 * (util/module.h): am_start loads it, and fails with the loader's message
 * if it cannot. Its table: */
struct spanwatch_alertmanager_api {
    struct am_sender *(*start)(const char *url, uint64_t resend_ns, uint64_t timeout_ns,
                               const char *probe, char *err, size_t errlen);
    int (*enqueue)(struct am_sender *s, const struct am_msg *m);
    void (*get_stats)(struct am_sender *s, struct am_stats *out);
    void (*stop)(struct am_sender *s, unsigned flush_ms);
};

/* url: http(s)://host:port (path /api/v2/alerts is appended). */
struct am_sender *am_start(const char *url, uint64_t resend_ns, uint64_t timeout_ns,
                           const char *probe, char *err, size_t errlen);
/* Producer side, never blocks: 0 queued, -1 ring full (dropped, counted). */
int am_enqueue(struct am_sender *s, const struct am_msg *m);
void am_get_stats(struct am_sender *s, struct am_stats *out);
/* Stop the thread after trying for up to flush_ms to deliver what is pending. */
void am_stop(struct am_sender *s, unsigned flush_ms);

#endif
