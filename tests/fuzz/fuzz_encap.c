/*
 * fuzz_encap.c — libFuzzer target for the encapsulation parsers
 * (decode/encap.c). The first input byte picks the parser (MPLS, PPPoE,
 * GRE and ERSPAN, VXLAN, Geneve, GTP-U), the rest is its bytes. Besides
 * memory safety (ASan/UBSan), checks what the decoder relies on: an
 * accepted header leaves a payload inside the input, an inner kind in
 * range, and only errors of its own layer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef enum decode_error (*parser)(struct bytes b, struct encap_result *out);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const parser parsers[] = { mpls_parse, pppoe_parse, gre_parse,
                                      vxlan_parse, geneve_parse, gtpu_parse };
    if (size < 1)
        return 0;
    parser f = parsers[data[0] % (sizeof parsers / sizeof parsers[0])];
    size--;
    /* copy so a read one byte past the input is caught exactly */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size);
    struct encap_result r;
    enum decode_error e = f(bytes_make(buf, size), &r);
    if (e == DECODE_OK) {
        if (r.payload.len && (r.payload.p < buf || r.payload.p + r.payload.len > buf + size))
            abort();
        if (r.inner > INNER_IPV6 || r.type >= ENCAP_COUNT)
            abort();
    } else {
        switch (e) {
        case DERR_MPLS_TRUNCATED: case DERR_MPLS_TOO_MANY_LABELS: case DERR_MPLS_BAD_PAYLOAD:
        case DERR_PPPOE_TRUNCATED: case DERR_PPPOE_BAD_HEADER:
        case DERR_GRE_TRUNCATED: case DERR_GRE_BAD_VERSION: case DERR_GRE_BAD_FLAGS:
        case DERR_ERSPAN_TRUNCATED: case DERR_ERSPAN_BAD_VERSION:
        case DERR_VXLAN_TRUNCATED: case DERR_VXLAN_BAD_FLAGS:
        case DERR_GENEVE_TRUNCATED: case DERR_GENEVE_BAD_VERSION: case DERR_GENEVE_BAD_OPTIONS:
        case DERR_GTPU_TRUNCATED: case DERR_GTPU_BAD_VERSION: case DERR_GTPU_BAD_EXTENSION:
            break;
        default:
            abort(); /* an error of another layer */
        }
    }
    free(buf);
    return 0;
}
