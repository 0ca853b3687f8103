/*
 * fuzz_dns.c — libFuzzer target for the DNS message parser. Besides memory
 * safety (ASan/UBSan), checks what callers rely on: a parsed name is a
 * qname_len bytes within DNS_MAX_NAME followed by a NUL (labels may hold
 * any byte, NUL included, so callers must use qname_len), and a
 * question always has a non-zero hash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dns_msg m;
    /* copy so a read one byte past the input is caught exactly */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    enum decode_error e = dns_parse(bytes_make(buf, size), &m);
    if (e == DECODE_OK && m.has_question) {
        if (m.qname_len > DNS_MAX_NAME || m.qname[m.qname_len] != 0 || m.qhash == 0)
            abort();
    }
    if (e != DECODE_OK && e != DERR_DNS_TRUNCATED && e != DERR_DNS_BAD_NAME &&
        e != DERR_DNS_NAME_LOOP && e != DERR_DNS_NAME_TOO_LONG)
        abort();
    free(buf);
    return 0;
}
