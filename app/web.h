/*
 * web.h — the HTTP endpoint (libmicrohttpd): GET /metrics (gzip when
 * asked), /-/healthy, /-/ready, POST /-/reload, a landing page at /.
 *
 * One internal polling thread (epoll) serves every client, so a slow client
 * costs a socket, not a thread. Caps: total connections, connections per
 * IP, per-connection memory (bounds the request line and headers: a 1 MB
 * request line gets an error, not 1 MB of buffer), an idle timeout, and a
 * limit on request bodies. The workers are never waited on: /metrics asks
 * each worker for a snapshot (see snapshot.h) and renders that.
 *
 * --web.config.file uses the Prometheus exporter-toolkit format:
 *
 *   tls_server_config:
 *     cert_file: /etc/spanwatch/tls.crt
 *     key_file: /etc/spanwatch/tls.key
 *   basic_auth_users:
 *     prometheus: $2y$10$...            # bcrypt, e.g. from htpasswd -nBC 10
 *
 * TLS is GnuTLS inside libmicrohttpd; passwords are checked with crypt(3)
 * from libxcrypt (bcrypt $2a$/$2b$/$2y$). When users are configured every
 * path needs them (default deny).
 */
#ifndef SPANWATCH_WEB_H
#define SPANWATCH_WEB_H

#include <stddef.h>
#include <stdio.h>

#define WEB_MAX_USERS 64

struct web_config {
    char *cert_pem;          /* NULL = plain HTTP */
    char *key_pem;
    unsigned nusers;
    struct {
        char name[128];
        char hash[128];
    } users[WEB_MAX_USERS];
};

/* Load and validate; errors are "file:line:column: message". */
int web_config_load(const char *path, struct web_config *wc, char *err, size_t errlen);
void web_config_free(struct web_config *wc);

struct web_handlers {
    /* Write the exposition to out; 0 on success. */
    int (*render_metrics)(void *ctx, FILE *out);
    /* Reload the configuration; 0 on success, else msg says why. */
    int (*reload)(void *ctx, char *msg, size_t msglen);
    /* Capture is running. */
    int (*ready)(void *ctx);   /* 1 capturing, 0 not started yet, -1 ended (replay done) */
    void *ctx;
};

struct web_limits {
    unsigned max_connections;      /* default 4096 (fitted under RLIMIT_NOFILE) */
    unsigned max_per_ip;           /* default 16 */
    unsigned idle_timeout_s;       /* default 10: no byte for this long */
    unsigned head_timeout_s;       /* default 5: no complete request head for this long */
    size_t max_body;               /* default 64 KiB */
};

struct web;

/* Listen on ADDR: ":9560" (all addresses, IPv4 and IPv6), "0.0.0.0:9560",
 * "127.0.0.1:9560", "[::1]:9560". NULL with err set on failure. */
struct web *web_start(const char *addr, const struct web_config *wc,
                      const struct web_limits *limits, const struct web_handlers *h, char *err,
                      size_t errlen);
void web_stop(struct web *w);

#endif
