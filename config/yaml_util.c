/*
 * yaml_util.c — see yaml_util.h.
 */
#include "config/yaml_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int yaml_error(struct yaml_ctx *cx, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(cx->err, cx->errlen, "%s:%lu:%lu: %s", cx->path,
             n ? (unsigned long)n->start_mark.line + 1 : 0ul,
             n ? (unsigned long)n->start_mark.column + 1 : 0ul, msg);
    return -1;
}

int yaml_get_uint(struct yaml_ctx *cx, const yaml_node_t *n, const char *key, uint32_t lo,
                  uint32_t hi, uint32_t *out)
{
    const char *s = yaml_scalar(n);
    char *end;
    if (!s || !*s)
        return yaml_error(cx, n, "%s: expected an integer", key);
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || s[0] == '-')
        return yaml_error(cx, n, "%s: expected an integer, got '%s'", key, s);
    if (v < lo || v > hi)
        return yaml_error(cx, n, "%s: %llu is out of range [%u, %u]", key, v, lo, hi);
    *out = (uint32_t)v;
    return 0;
}

int yaml_get_duration(struct yaml_ctx *cx, const yaml_node_t *n, const char *key,
                      uint64_t *out)
{
    const char *s = yaml_scalar(n);
    uint64_t v;
    if (!s)
        return yaml_error(cx, n, "%s: expected a duration such as 5s or 250ms", key);
    if (config_parse_duration(s, &v) != 0)
        return yaml_error(cx, n, "%s: '%s' is not a duration (use a unit: 250ms, 5s, 2m)",
                         key, s);
    if (v == 0)
        return yaml_error(cx, n, "%s: must be greater than zero", key);
    *out = v;
    return 0;
}

/* a number (strtod; finite) into *out, within [lo, hi] */
int yaml_get_double(struct yaml_ctx *cx, const yaml_node_t *n, const char *what, double lo,
                    double hi, double *out)
{
    const char *s = yaml_scalar(n);
    char *end = NULL;
    if (!s || !*s)
        return yaml_error(cx, n, "%s: expected a number", what);
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v))
        return yaml_error(cx, n, "%s: '%s' is not a number", what, s);
    if (v < lo || v > hi)
        return yaml_error(cx, n, "%s: must be between %g and %g, got %s", what, lo, hi, s);
    *out = v;
    return 0;
}

int yaml_get_string(struct yaml_ctx *cx, const yaml_node_t *v, const char *what, char *out,
                    size_t outlen)
{
    const char *s = yaml_scalar(v);
    if (!s || !*s)
        return yaml_error(cx, v, "%s: expected a non-empty string", what);
    if (strlen(s) >= outlen)
        return yaml_error(cx, v, "%s: longer than %zu characters", what, outlen - 1);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++)
        if (*q < 0x20 || *q == 0x7f)
            return yaml_error(cx, v, "%s: control characters are not allowed", what);
    snprintf(out, outlen, "%s", s);
    return 0;
}

int yaml_list_of_maps(struct yaml_ctx *cx, yaml_node_t *n, const char *what,
                      unsigned *count)
{
    if (n->type == YAML_SCALAR_NODE && !*yaml_scalar(n)) { /* "rules:" with nothing */
        *count = 0;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return yaml_error(cx, n, "%s: expected a list", what);
    unsigned i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *e = yaml_document_get_node(cx->doc, *it);
        if (e->type != YAML_MAPPING_NODE)
            return yaml_error(cx, e, "%s[%u]: expected a mapping", what, i);
    }
    *count = i;
    return 0;
}
