/*
 * privdrop.h — after everything that needs root is open, run as an
 * unprivileged user (--user; live capture as root: nobody by default).
 */
#ifndef SPANWATCH_PRIVDROP_H
#define SPANWATCH_PRIVDROP_H

#include <stdint.h>

/* Become name with no supplementary groups and, as a non-root uid, no
 * capabilities but those in keep (a bit per CAP_* below 32). 0, or -1
 * after a message. */
int privdrop(const char *name, uint32_t keep, int quiet);
/* The user a live capture started as root runs as when --user is not
 * given: "nobody" (NULL, with a warning, if there is none). */
const char *privdrop_default_user(int quiet);

#endif
