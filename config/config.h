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

#include "config/rule_exprs.h"

#define CONFIG_MAX_SERVER_GROUPS 256
#define CONFIG_NAME_MAX 64
#define CONFIG_MAX_VXLAN_PORTS 4

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
    char sni[256];          /* "" = any; else the TLS server name, or "*.domain" */
    int has_vni;            /* inside VXLAN/Geneve with this VNI (a tenant network) */
    uint32_t vni;
    int has_vlan;           /* innermost 802.1Q VLAN ID */
    uint16_t vlan;
};

/* rules: expressions (README "Alerting") */

enum rule_op { OP_GT, OP_GE, OP_LT, OP_LE };
extern const char *const rule_op_name[4];

#define CONFIG_MAX_RULES 256
#define FD_MAX_BASELINE 1440 /* windows in a baseline (a day of minutes) */
#define RULE_MAX_OF_LAST 64

struct rule {
    char name[CONFIG_NAME_MAX];
    char server[CONFIG_NAME_MAX];  /* "*" = every server */
    enum rule_expr expr;
    enum rule_op op;
    double threshold;              /* ratios 0..1, latencies in seconds, rates per second */
    /* threshold_vs_baseline: > 0 means the window's value is compared with
     * this many times the server's trailing baseline of the same expr
     * (threshold is then unused) */
    double vs_baseline;
    uint64_t window_ns;
    uint32_t min_events;
    uint8_t bad_windows, of_last;  /* fire_when */
    uint32_t good_windows;         /* resolve_when */
    char severity[32];
    char summary[192];
    unsigned server_line, server_col;  /* for messages about `server` */
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
    uint64_t tls_handshake_timeout_ns; /* ClientHello without a decided outcome -> timeout */
    uint64_t tcp_idle_timeout_ns;
    uint64_t udp_idle_timeout_ns;
    uint64_t closed_flow_timeout_ns; /* flows whose conversation ended (0: idle timeouts only) */
    uint64_t frag_timeout_ns;
    uint64_t dedup_window_ns;        /* SPAN duplicates dropped within it; 0 = off */
    /* tunnels: UDP ports VXLAN arrives on (4789, IANA's, by default; Linux's
     * old 8472 is common) */
    unsigned n_vxlan_ports;
    uint16_t vxlan_ports[CONFIG_MAX_VXLAN_PORTS];
    unsigned n_servers;
    struct server_group servers[CONFIG_MAX_SERVER_GROUPS];
    unsigned n_rules;
    struct rule rules[CONFIG_MAX_RULES];
    /* fault_domain: attribution per server and window (README "Fault
     * domains") and the baselines of threshold_vs_baseline rules */
    struct fault_domain_cfg {
        uint64_t window_ns;
        uint32_t baseline_windows;     /* trailing good windows a baseline is the median of */
        uint32_t min_baseline_windows; /* fewer: no baseline yet (learning) */
        uint32_t min_events;           /* a signal with fewer events in a window is not judged */
        double handshake_timeout_ratio;
        double retransmit_ratio;
        double rtt_vs_baseline;
        /* a time signal is evidence only if also this much above its
         * baseline: microsecond jitter on a LAN is not an incident */
        uint64_t min_increase_ns;
        double error_ratio;
        double server_time_vs_baseline;
        double response_bytes_vs_baseline; /* below this fraction of the baseline */
    } fd;
    /* alertmanager: */
    char am_url[512];                /* "" = not configured */
    uint64_t am_resend_ns;           /* re-send firing alerts this often */
    uint64_t am_timeout_ns;          /* per POST */
};

/* Same limits and servers: (what the packet path is built from). */
int config_same_capture(const struct config *a, const struct config *b);
/* Two rules with the same definition (state carries over a reload). */
int rule_equal(const struct rule *a, const struct rule *b);

void config_defaults(struct config *c);
int config_load(const char *path, struct config *c, char *err, size_t errlen);
/* Parse a duration such as "250us", "5s", "1m30s" into ns; -1 if invalid. */
int config_parse_duration(const char *s, uint64_t *ns);

#endif
