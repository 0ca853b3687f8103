/*
 * yaml_util.h — what the YAML file loaders (config.c, web.c) share: a
 * parse context and "file:line:column: message" errors pointing at a node.
 */
#ifndef SPANWATCH_YAML_UTIL_H
#define SPANWATCH_YAML_UTIL_H

#include <stddef.h>
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

#endif
