/*
 * yaml_util.h — what the YAML file loaders (config.c, web.c) share: a
 * parse context and "file:line:column: message" errors pointing at a node.
 */
#ifndef SPANWATCH_YAML_UTIL_H
#define SPANWATCH_YAML_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

struct yaml_ctx {
    const char *path;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
};

/* Format "path:line:column: message" for node n (0:0 if NULL) into cx->err;
 * returns -1 so callers can `return yaml_error(...)`. */
int yaml_error(struct yaml_ctx *cx, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The text of a scalar node, NULL for anything else. */
static inline const char *yaml_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Typed scalars: a message naming `what`/`key` and the node's place on
 * error (return -1). */
int yaml_get_uint(struct yaml_ctx *cx, const yaml_node_t *n, const char *key, uint32_t lo,
                  uint32_t hi, uint32_t *out);
int yaml_get_duration(struct yaml_ctx *cx, const yaml_node_t *n, const char *key,
                      uint64_t *out);
int yaml_get_double(struct yaml_ctx *cx, const yaml_node_t *n, const char *what, double lo,
                    double hi, double *out);
int yaml_get_string(struct yaml_ctx *cx, const yaml_node_t *v, const char *what, char *out,
                    size_t outlen);
int yaml_list_of_maps(struct yaml_ctx *cx, yaml_node_t *n, const char *what,
                      unsigned *count);

#endif
