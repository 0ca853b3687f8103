/*
 * cert.h — the notAfter of X.509 certificates seen in TLS handshakes, read
 * with GnuTLS (gnutls_x509_crt_import) and cached by a hash of the DER
 * bytes: servers send the same certificate on every full handshake, so
 * GnuTLS (which allocates) runs once per certificate per worker, not per
 * handshake. A direct-mapped table of CERT_CACHE entries, allocated once.
 */
#ifndef SPANWATCH_CERT_H
#define SPANWATCH_CERT_H

#include <stdint.h>

#include "decode/bytes.h"

#define CERT_CACHE 256

struct cert_cache_entry {
    uint64_t hash;           /* 0 = empty */
    int64_t not_after;       /* Unix seconds; CERT_BAD = GnuTLS rejected it */
};

#define CERT_BAD INT64_MIN

struct cert_cache {
    struct cert_cache_entry *e;
    uint64_t parsed;         /* certificates GnuTLS read (cache misses) */
};

int cert_cache_init(struct cert_cache *c);
void cert_cache_free(struct cert_cache *c);
/* notAfter of the DER certificate der: 0 and *not_after set, -1 if it
 * does not parse. */
int cert_not_after(struct cert_cache *c, struct bytes der, int64_t *not_after);

#endif
