/*
 * cert.c — see cert.h.
 */
#include "analyze/cert.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>

int cert_cache_init(struct cert_cache *c)
{
    c->parsed = 0;
    c->e = calloc(CERT_CACHE, sizeof *c->e);
    return c->e ? 0 : -1;
}

void cert_cache_free(struct cert_cache *c)
{
    free(c->e);
    c->e = NULL;
}

/* FNV-1a over the DER, folded with its length; never 0 */
static uint64_t der_hash(struct bytes der)
{
    uint64_t h = 14695981039346656037ull ^ der.len;
    for (size_t i = 0; i < der.len; i++) {
        h ^= der.p[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

static int64_t gnutls_not_after(struct bytes der)
{
    gnutls_x509_crt_t crt;
    if (der.len > UINT32_MAX || gnutls_x509_crt_init(&crt) < 0)
        return CERT_BAD;
    gnutls_datum_t d = { (unsigned char *)(uintptr_t)der.p, (unsigned)der.len };
    int64_t t = CERT_BAD;
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0) {
        time_t na = gnutls_x509_crt_get_expiration_time(crt);
        if (na != (time_t)-1)
            t = (int64_t)na;
    }
    gnutls_x509_crt_deinit(crt);
    return t;
}

int cert_not_after(struct cert_cache *c, struct bytes der, int64_t *not_after)
{
    uint64_t h = der_hash(der);
    struct cert_cache_entry *e = &c->e[(h >> 32) % CERT_CACHE];
    if (e->hash != h) {
        e->hash = h;
        e->not_after = gnutls_not_after(der);
        c->parsed++;
    }
    *not_after = e->not_after;
    return e->not_after == CERT_BAD ? -1 : 0;
}
