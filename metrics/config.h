/*
 * config.h — the YAML configuration (see README "Configuration").
 *
 * config_load() parses and validates a whole file into a fresh struct
 * config; on any error it returns -1 with "file:line:column: message" in
 * err and leaves nothing half-applied, so a caller can keep running its old
 * config. config_defaults() gives the values used without -c.
 */
#ifndef SPANWATCH_CONFIG_H
#define SPANWATCH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_SERVER_GROUPS 256
#define CONFIG_NAME_MAX 64

/* One `servers:` entry: traffic to a matching server gets this name as its
 * server label. All given match fields must match. */
struct server_group {
    char name[CONFIG_NAME_MAX];
    int has_cidr;
    uint8_t net[16];        /* IPv4 as ::ffff:a.b.c.d */
    unsigned prefix;        /* over the 128-bit form (IPv4 /24 -> 120) */
    int has_port;
    uint16_t port;
    char http_host[256];    /* "" = any (matching by Host: analyzers issue) */
};

struct config {
    char path[512];              /* "" for built-in defaults */
    uint64_t hash;               /* of the file bytes; 0 for defaults */
    /* limits: */
    uint32_t max_flows;
    uint32_t max_servers;
    uint32_t max_frag_datagrams;
    uint32_t max_stream_buffers;     /* 8 KiB TCP reassembly blocks per worker */
    uint64_t dns_timeout_ns;
    uint64_t tcp_handshake_timeout_ns;
    uint64_t tcp_idle_timeout_ns;
    uint64_t udp_idle_timeout_ns;
    uint64_t frag_timeout_ns;
    unsigned n_servers;
    struct server_group servers[CONFIG_MAX_SERVER_GROUPS];
    /* sections parsed for shape only in this version */
    unsigned n_rules;
    int has_alertmanager;
};

void config_defaults(struct config *c);
int config_load(const char *path, struct config *c, char *err, size_t errlen);
/* Parse a duration such as "250us", "5s", "1m30s" into ns; -1 if invalid. */
int config_parse_duration(const char *s, uint64_t *ns);

#endif
