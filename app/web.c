/*
 * web.c — see web.h.
 */
#include "app/web.h"
#include "util/signals.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <yaml.h>
#include <zlib.h>

#include "app/web_guard.h"
#include "config/yaml_util.h"

/* ------------------------------------------------------------ web config */

/* Read a whole PEM file (at most 1 MiB), relative paths from the config's directory. */
static char *read_pem(struct yaml_ctx *cx, const yaml_node_t *n, const char *file)
{
    char full[4096];
    if (file[0] != '/' && strrchr(cx->path, '/'))
        snprintf(full, sizeof full, "%.*s/%s", (int)(strrchr(cx->path, '/') - cx->path), cx->path,
                 file);
    else
        snprintf(full, sizeof full, "%s", file);
    FILE *f = fopen(full, "r");
    if (!f) {
        yaml_error(cx, n, "cannot open %s: %s", full, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1);
    if (buf)
        len = fread(buf, 1, cap, f);
    int too_big = buf && len == cap && fgetc(f) != EOF;
    fclose(f);
    if (!buf || too_big || len == 0) {
        free(buf);
        yaml_error(cx, n, "%s: %s", full, !buf ? "out of memory" : too_big ? "larger than 1 MiB"
                                                                           : "empty");
        return NULL;
    }
    buf[len] = 0;
    if (!strstr(buf, "-----BEGIN ")) {
        free(buf);
        yaml_error(cx, n, "%s: not a PEM file", full);
        return NULL;
    }
    return buf;
}

static int load_tls(struct yaml_ctx *cx, yaml_document_t *doc, yaml_node_t *m, struct web_config *wc)
{
    if (m->type != YAML_MAPPING_NODE)
        return yaml_error(cx, m, "tls_server_config: expected a mapping");
    const yaml_node_t *cert_n = NULL, *key_n = NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        const char *key = yaml_scalar(k), *val = yaml_scalar(v);
        if (!key)
            return yaml_error(cx, k, "tls_server_config: keys must be plain names");
        if (!strcmp(key, "cert_file") || !strcmp(key, "key_file")) {
            if (!val || !*val)
                return yaml_error(cx, v, "tls_server_config.%s: expected a file name", key);
            char *pem = read_pem(cx, v, val);
            if (!pem)
                return -1;
            if (!strcmp(key, "cert_file")) {
                free(wc->cert_pem);
                wc->cert_pem = pem;
                cert_n = v;
            } else {
                free(wc->key_pem);
                wc->key_pem = pem;
                key_n = v;
            }
        } else if (!strcmp(key, "client_auth_type") || !strcmp(key, "client_ca_file") ||
                   !strcmp(key, "min_version") || !strcmp(key, "max_version") ||
                   !strcmp(key, "cipher_suites") || !strcmp(key, "curve_preferences") ||
                   !strcmp(key, "prefer_server_cipher_suites") || !strcmp(key, "cert") ||
                   !strcmp(key, "key") || !strcmp(key, "client_allowed_sans")) {
            return yaml_error(cx, k, "tls_server_config.%s: not supported by spanwatch (supported: "
                                   "cert_file, key_file)", key);
        } else {
            return yaml_error(cx, k, "tls_server_config: unknown key '%s' (known: cert_file, "
                                   "key_file)", key);
        }
    }
    if (!cert_n || !key_n)
        return yaml_error(cx, m, "tls_server_config: both cert_file and key_file are required");
    return 0;
}

static int load_users(struct yaml_ctx *cx, yaml_document_t *doc, yaml_node_t *m,
                      struct web_config *wc)
{
    if (m->type != YAML_MAPPING_NODE)
        return yaml_error(cx, m, "basic_auth_users: expected a mapping of user: bcrypt-hash");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        const char *user = yaml_scalar(k), *hash = yaml_scalar(v);
        if (!user || !*user || strlen(user) >= sizeof wc->users[0].name || strchr(user, ':'))
            return yaml_error(cx, k, "basic_auth_users: bad user name");
        if (!hash || strlen(hash) >= sizeof wc->users[0].hash ||
            (strncmp(hash, "$2a$", 4) && strncmp(hash, "$2b$", 4) && strncmp(hash, "$2y$", 4)))
            return yaml_error(cx, v, "basic_auth_users.%s: expected a bcrypt hash ($2y$..., e.g. "
                                   "from 'htpasswd -nBC 10 %s')", user, user);
        for (unsigned i = 0; i < wc->nusers; i++)
            if (!strcmp(wc->users[i].name, user))
                return yaml_error(cx, k, "basic_auth_users: user '%s' given twice", user);
        if (wc->nusers == WEB_MAX_USERS)
            return yaml_error(cx, k, "basic_auth_users: at most %d users", WEB_MAX_USERS);
        snprintf(wc->users[wc->nusers].name, sizeof wc->users[0].name, "%s", user);
        snprintf(wc->users[wc->nusers].hash, sizeof wc->users[0].hash, "%s", hash);
        wc->nusers++;
    }
    return 0;
}

int web_config_load(const char *path, struct web_config *wc, char *err, size_t errlen)
{
    struct yaml_ctx cx = { .path = path, .err = err, .errlen = errlen };
    memset(wc, 0, sizeof *wc);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = -1;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%lu:%lu: %s", path, (unsigned long)parser.problem_mark.line + 1,
                 (unsigned long)parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = 0; /* empty file: no TLS, no auth */
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        yaml_error(&cx, root, "expected a mapping with tls_server_config and/or basic_auth_users");
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *key = yaml_scalar(k);
        if (key && !strcmp(key, "tls_server_config")) {
            if (load_tls(&cx, &doc, v, wc))
                goto out;
        } else if (key && !strcmp(key, "basic_auth_users")) {
            if (load_users(&cx, &doc, v, wc))
                goto out;
        } else if (key && !strcmp(key, "http_server_config")) {
            yaml_error(&cx, k, "http_server_config: not supported by spanwatch");
            goto out;
        } else {
            yaml_error(&cx, k, "unknown key '%s' (known: tls_server_config, basic_auth_users)",
                     key ? key : "?");
            goto out;
        }
    }
    rc = 0;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc)
        web_config_free(wc);
    return rc;
}

void web_config_free(struct web_config *wc)
{
    free(wc->cert_pem);
    free(wc->key_pem);
    wc->cert_pem = wc->key_pem = NULL;
}

/* ------------------------------------------------------------ the server */

struct web {
    struct MHD_Daemon *d;
    struct web_guard *guard;      /* request-head deadlines */
    struct web_handlers h;
    struct web_limits lim;
    struct web_config wc;        /* copy (PEM strings owned by the caller's config) */
    char *cache_pass[WEB_MAX_USERS];  /* last password that verified, per user */
};

struct req_state {
    size_t body;
    int too_big;
};

static int ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    size_t n = la < lb ? la : lb;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static int authorised(struct web *w, struct MHD_Connection *c)
{
    if (w->wc.nusers == 0)
        return 1;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    int ok = 0;
    if (user && pass) {
        for (unsigned i = 0; i < w->wc.nusers; i++) {
            if (strcmp(w->wc.users[i].name, user) != 0)
                continue;
            if (w->cache_pass[i] && ct_equal(w->cache_pass[i], pass)) {
                ok = 1;
                break;
            }
            struct crypt_data *cd = calloc(1, sizeof *cd);
            if (!cd)
                break;
            /* crypt_rn, not crypt_r: same function, but not intercepted by the
             * sanitizer runtimes (whose crypt_r hook crashes with libxcrypt) */
            const char *r = crypt_rn(pass, w->wc.users[i].hash, cd, (int)sizeof *cd);
            ok = r && r[0] != '*' && ct_equal(r, w->wc.users[i].hash);
            free(cd);
            if (ok) {
                free(w->cache_pass[i]);
                w->cache_pass[i] = strdup(pass);
            }
            break;
        }
    }
    if (user)
        MHD_free(user);
    if (pass)
        MHD_free(pass);
    return ok;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result method_not_allowed(struct MHD_Connection *c, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen("Method Not Allowed\n"), (void *)"Method Not Allowed\n", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    MHD_destroy_response(r);
    return ret;
}

/* Does Accept-Encoding allow gzip? (a token "gzip" without q=0) */
static int wants_gzip(const char *ae)
{
    if (!ae)
        return 0;
    const char *p = ae;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ')
            p++;
        size_t tl = (size_t)(p - tok);
        int is_gzip = (tl == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
                      (tl == 6 && strncasecmp(tok, "x-gzip", 6) == 0);
        double q = 1.0;
        while (*p && *p != ',') {
            if (*p == ';') {
                const char *qs = strstr(p, "q=");
                const char *comma = strchr(p, ',');
                if (qs && (!comma || qs < comma))
                    q = strtod(qs + 2, NULL);
            }
            p++;
        }
        if (is_gzip)
            return q > 0;
    }
    return 0;
}

static enum MHD_Result serve_metrics(struct web *w, struct MHD_Connection *c, int head)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n");
    int rc = w->h.render_metrics(w->h.ctx, out);
    if (fclose(out) != 0 || rc != 0) {
        free(buf);
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "render failed\n");
    }
    int gz = wants_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_ACCEPT_ENCODING));
    if (gz) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK) {
            uLong cap = deflateBound(&zs, (uLong)len);
            unsigned char *zb = malloc(cap);
            zs.next_in = (unsigned char *)buf;
            zs.avail_in = (uInt)len;
            zs.next_out = zb;
            zs.avail_out = (uInt)cap;
            if (zb && deflate(&zs, Z_FINISH) == Z_STREAM_END) {
                free(buf);
                buf = (char *)zb;
                len = zs.total_out;
            } else {
                free(zb);
                gz = 0;
            }
            deflateEnd(&zs);
        } else {
            gz = 0;
        }
    }
    struct MHD_Response *r;
    if (head) {
        free(buf);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    }
    if (!r) {
        if (!head)
            free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (gz)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static const char landing[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>spanwatch</title></head>\n"
    "<body><h1>spanwatch</h1><p>Passive DNS/TCP/HTTP monitor.</p><ul>\n"
    "<li><a href=\"metrics\">metrics</a> (Prometheus text format)</li>\n"
    "<li><a href=\"-/healthy\">-/healthy</a></li>\n"
    "<li><a href=\"-/ready\">-/ready</a></li>\n"
    "<li>POST -/reload: reload the configuration</li>\n"
    "</ul></body></html>\n";

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct web *w = cls;
    struct req_state *st = *con_cls;
    (void)version;
    (void)upload;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        web_guard_head(c); /* a request head arrived: no deadline while it is served */
        return MHD_YES;
    }
    if (*upload_size) {
        st->body += *upload_size;
        if (st->body > w->lim.max_body)
            st->too_big = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    if (!authorised(w, c)) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            strlen("Unauthorized\n"), (void *)"Unauthorized\n", MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        enum MHD_Result ret = MHD_queue_basic_auth_fail_response(c, "spanwatch", r);
        MHD_destroy_response(r);
        return ret;
    }
    if (st->too_big)
        return reply(c, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", "request body too large\n");
    int get = !strcmp(method, "GET"), head = !strcmp(method, "HEAD");
    if (!strcmp(url, "/metrics")) {
        if (!get && !head)
            return method_not_allowed(c, "GET, HEAD");
        return serve_metrics(w, c, head);
    }
    if (!strcmp(url, "/-/healthy")) {
        if (!get && !head)
            return method_not_allowed(c, "GET, HEAD");
        return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "spanwatch is healthy.\n");
    }
    if (!strcmp(url, "/-/ready")) {
        if (!get && !head)
            return method_not_allowed(c, "GET, HEAD");
        int r = w->h.ready(w->h.ctx);
        if (r > 0)
            return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "spanwatch is ready.\n");
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                     r < 0 ? "spanwatch is not ready: capture has ended (serving the final metrics).\n"
                           : "spanwatch is not ready: capture has not started.\n");
    }
    if (!strcmp(url, "/-/reload")) {
        if (strcmp(method, "POST") && strcmp(method, "PUT"))
            return method_not_allowed(c, "POST, PUT");
        char msg[1200], body[1300];
        if (w->h.reload(w->h.ctx, msg, sizeof msg) == 0)
            return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "configuration reloaded\n");
        snprintf(body, sizeof body, "failed to reload config: %s\n", msg);
        return reply(c, MHD_HTTP_BAD_REQUEST, "text/plain; charset=utf-8", body);
    }
    if (!strcmp(url, "/")) {
        if (!get && !head)
            return method_not_allowed(c, "GET, HEAD");
        return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", landing);
    }
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", "404 page not found\n");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
    web_guard_idle(c); /* the next request head has a deadline again */
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* libmicrohttpd's own diagnostics (bad requests, TLS handshake errors) are
     * about clients, not about spanwatch: keep them out of the log unless asked */
    if (getenv("SPANWATCH_DEBUG_HTTP")) {
        fputs("spanwatch: http: ", stderr);
        vfprintf(stderr, fmt, ap);
    }
}

/* Connections need descriptors: raise the soft RLIMIT_NOFILE toward the
 * hard one, and fit the limit under it (keeping 256 for everything else). */
static unsigned fit_fd_limit(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want < 512 ? want : 512;
    rlim_t need = (rlim_t)want + 256;
    if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < need)
        return rl.rlim_cur > 320 ? (unsigned)(rl.rlim_cur - 256) : 64;
    return want;
}

struct web *web_start(const char *addr, const struct web_config *wc,
                      const struct web_limits *limits, const struct web_handlers *h, char *err,
                      size_t errlen)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || !colon[1]) {
        snprintf(err, errlen, "--web.listen-address %s: expected [HOST]:PORT", addr);
        return NULL;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        snprintf(err, errlen, "--web.listen-address %s: bad port", addr);
        return NULL;
    }
    char host[128];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host) {
        snprintf(err, errlen, "--web.listen-address %s: host too long", addr);
        return NULL;
    }
    memcpy(host, addr, hl);
    host[hl] = 0;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }

    struct web *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->h = *h;
    w->lim.max_connections = limits && limits->max_connections ? limits->max_connections : 4096;
    w->lim.max_per_ip = limits && limits->max_per_ip ? limits->max_per_ip : 16;
    w->lim.idle_timeout_s = limits && limits->idle_timeout_s ? limits->idle_timeout_s : 10;
    w->lim.head_timeout_s = limits && limits->head_timeout_s ? limits->head_timeout_s : 5;
    w->lim.max_connections = fit_fd_limit(w->lim.max_connections);
    w->lim.max_body = limits && limits->max_body ? limits->max_body : 65536;
    if (wc)
        w->wc = *wc;

    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa = NULL;
    if (host[0] == 0) {
        flags |= MHD_USE_DUAL_STACK;
    } else if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
        memset(&sin, 0, sizeof sin);
        inet_pton(AF_INET, host, &sin.sin_addr);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
        memset(&sin6, 0, sizeof sin6);
        inet_pton(AF_INET6, host, &sin6.sin6_addr);
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "--web.listen-address %s: '%s' is not an IP address", addr, host);
        free(w);
        return NULL;
    }
    if (w->wc.cert_pem) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, "TLS requested but this libmicrohttpd has no TLS support");
            free(w);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    w->guard = web_guard_start(w->lim.max_connections, w->lim.head_timeout_s);
    if (!w->guard) {
        snprintf(err, errlen, "out of memory");
        free(w);
        return NULL;
    }
    struct MHD_OptionItem opts[] = {
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)w->lim.max_connections, NULL },
        { MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)w->lim.max_per_ip, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)w->lim.idle_timeout_s, NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)(32 * 1024), NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)web_guard_notify, w->guard },
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL },
        { sa ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, 0, sa },
        { MHD_OPTION_END, 0, NULL },
        { MHD_OPTION_END, 0, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    if (w->wc.cert_pem) {
        unsigned i = sa ? 8 : 7;
        opts[i] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, w->wc.cert_pem };
        opts[i + 1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, w->wc.key_pem };
    }
    sigset_t old;
    signals_block_stop(&old); /* libmicrohttpd's threads inherit it (util/signals.h) */
    w->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, w, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    signals_restore(&old);
    if (!w->d) {
        snprintf(err, errlen, "cannot listen on %s%s (address in use, no permission, or a "
                              "bad TLS certificate/key)", addr, w->wc.cert_pem ? " with TLS" : "");
        web_guard_stop(w->guard);
        free(w);
        return NULL;
    }
    return w;
}

void web_stop(struct web *w)
{
    if (!w)
        return;
    MHD_stop_daemon(w->d);
    web_guard_stop(w->guard);
    for (unsigned i = 0; i < WEB_MAX_USERS; i++)
        free(w->cache_pass[i]);
    free(w);
}
