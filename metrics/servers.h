/*
 * servers.h — per-worker registry of watched servers and their counters.
 *
 * A server is identified by its label: "IP:port" ("[v6]:port"), or the name
 * of the first config `servers:` group it matches. The registry holds at
 * most limits.max_servers labels; every sample for a server beyond that is
 * recorded under "__overflow__" and counted, so a scan or random-name flood
 * cannot grow memory or Prometheus cardinality. All storage (counters and
 * the SERVER_HIST_COUNT histograms per server) is allocated once at start; the
 * pages of unused servers are never touched.
 *
 * Lookups by label happen when a flow's server is first decided, not per
 * packet: the flow keeps the index.
 */
#ifndef SPANWATCH_SERVERS_H
#define SPANWATCH_SERVERS_H

#include <stdint.h>

#include "decode/decode.h"
#include "config/config.h"
#include "decode/tls.h"
#include "metrics/histogram.h"

#define SERVER_LABEL_MAX 64
#define SERVER_OVERFLOW_LABEL "__overflow__"

enum dns_rcode_class {
    RCODE_NOERROR, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_NOTIMP, RCODE_REFUSED,
    RCODE_OTHER, RCODE_COUNT
};
extern const char *const rcode_name[RCODE_COUNT];

enum hs_failure { HS_FAIL_RESET, HS_FAIL_TIMEOUT, HS_FAIL_COUNT };
extern const char *const hs_failure_name[HS_FAIL_COUNT];

/* How a TLS handshake ended (spanwatch_tls_handshakes_total's result). */
enum tls_hs_result { TLS_RES_OK, TLS_RES_ALERT, TLS_RES_RESET, TLS_RES_TIMEOUT, TLS_RES_COUNT };
extern const char *const tls_result_name[TLS_RES_COUNT];
/* Who sent a TLS alert. */
enum tls_sender { TLS_SENDER_CLIENT, TLS_SENDER_SERVER, TLS_SENDER_COUNT };
extern const char *const tls_sender_name[TLS_SENDER_COUNT];

/* Per-server histograms. All hold nanoseconds except HIST_HTTP_RESP_BYTES
 * (bytes). */
enum server_hist {
    HIST_DNS,              /* query -> response */
    HIST_TCP_RTT,          /* SYN -> handshake-completing ACK */
    HIST_HTTP,             /* request complete -> first response byte */
    HIST_TCP_DATA_RTT,     /* server data -> client ACK, plus the server leg */
    HIST_HTTP_SERVER_TIME, /* HTTP latency minus the connection's server leg */
    HIST_HTTP_RESP_BYTES,  /* response head + body bytes */
    HIST_TLS_HANDSHAKE,    /* ClientHello -> the ServerHello answering it */
    HIST_TLS_RESPONSE,     /* end of a client burst of records -> the server's next record */
    /* TLS handshake time minus the connection's server leg (SYN -> SYN-ACK
     * at the tap): the server's TLS work; not exported, a fault-domain signal */
    HIST_TLS_SERVER_TIME,
    /* seconds (not ns) a leaf certificate had left when it was seen, 0 if
     * expired: not exported; tls_certificate_days_left reads its minimum */
    HIST_TLS_CERT_LEFT,
    SERVER_HIST_COUNT
};
static inline int server_hist_is_bytes(int k)
{
    return k == HIST_HTTP_RESP_BYTES;
}

#define HTTP_CODE_MIN 100
#define HTTP_CODE_MAX 599

struct server_stats {
    char label[SERVER_LABEL_MAX];
    uint8_t seen_dns, seen_tcp, seen_http, seen_tls;
    /* a gauge, not a counter: notAfter (Unix seconds) of the latest leaf
     * certificate seen, and when (packet time, ns) — merging keeps the later */
    int64_t tls_cert_not_after;
    uint64_t tls_cert_seen_ns;
    uint64_t dns_queries;
    uint64_t dns_responses[RCODE_COUNT];
    uint64_t dns_timeouts;
    uint64_t dns_unmatched;
    uint64_t tcp_connections;
    uint64_t tcp_hs_failures[HS_FAIL_COUNT];
    uint64_t tcp_resets;
    uint64_t tcp_retransmits;
    uint64_t tcp_data_segments;   /* segments with payload (retransmit ratio) */
    uint64_t tcp_stream_gaps;
    uint64_t http_requests;
    uint64_t http_codes[HTTP_CODE_MAX - HTTP_CODE_MIN + 1];
    uint64_t tls_handshakes[TLSV_COUNT][TLS_RES_COUNT];
    uint64_t tls_alerts[TLS_SENDER_COUNT][TLS_ALERT_COUNT];
    uint64_t tls_certificates;     /* leaf certificates read */
};

/* has the server seen any protocol at all (is it worth a series)? */
static inline int server_seen_any(const struct server_stats *s)
{
    return s->seen_dns || s->seen_tcp || s->seen_http || s->seen_tls;
}

/* Last server index looked up for an endpoint (address, port): a
 * direct-mapped cache in front of group matching and label formatting,
 * which cost ~600 instructions per new flow. Entries never go stale: an
 * endpoint's server index does not change while the registry lives. */
#define SERVER_EP_CACHE 4096 /* 1 << 12, see server_registry_endpoint */
struct server_ep_cache {
    struct ip_addr a;
    uint16_t port;
    uint16_t valid;
    uint32_t idx;
    uint32_t tenant;
    uint16_t vlan;
};

struct server_registry {
    uint32_t max;              /* limits.max_servers; index max is __overflow__ */
    uint32_t count;            /* named servers in use (excluding overflow) */
    uint32_t mask;
    uint32_t *index;           /* label hash table: server index + 1, 0 = empty */
    struct server_stats *s;    /* max + 1 entries */
    struct histogram *h;       /* (max + 1) * SERVER_HIST_COUNT */
    uint64_t overflow_samples; /* spanwatch_servers_overflow_total */
    const struct config *cfg;  /* server groups */
    int host_groups;           /* some group has match.http_host */
    int sni_groups;            /* some group has match.sni */
    struct server_ep_cache *ep_cache; /* SERVER_EP_CACHE entries */
};

int server_registry_init(struct server_registry *r, const struct config *cfg);
void server_registry_free(struct server_registry *r);

/* Index for a server endpoint seen in tenant network `tenant` (VXLAN/Geneve
 * VNI + 1; 0: none) and VLAN `vlan` (0: none): the first servers: group
 * without http_host that matches, else "IP:port" ("IP:port@vniN" in a
 * tenant network). */
uint32_t server_registry_endpoint(struct server_registry *r, const struct ip_addr *a,
                                  uint16_t port, uint32_t tenant, uint16_t vlan);
/* Server for an HTTP request to endpoint (a, port) with Host `host`: the
 * first servers: group in config order that matches — a group with
 * http_host matches when the Host (case-insensitive, without its :port and
 * trailing dot) equals it and its cidr/port/vni/vlan, if any, match; a
 * group without http_host matches on those alone — else `endpoint` (the
 * flow's server). Called once per request head, never per packet. */
uint32_t server_registry_http(struct server_registry *r, const struct ip_addr *a, uint16_t port,
                              uint32_t tenant, uint16_t vlan, const uint8_t *host,
                              size_t host_len, uint32_t endpoint);
static inline int server_registry_has_host_groups(const struct server_registry *r)
{
    return r->host_groups;
}
/* Server for a TLS ClientHello to endpoint (a, port) with SNI `sni` (may be
 * empty): as server_registry_http, for groups with match.sni — exact
 * (case-insensitive, no trailing dot) or "*.example.com" (one or more
 * labels before example.com). Called once per ClientHello. */
uint32_t server_registry_sni(struct server_registry *r, const struct ip_addr *a, uint16_t port,
                             uint32_t tenant, uint16_t vlan, const uint8_t *sni, size_t sni_len,
                             uint32_t endpoint);
static inline int server_registry_has_sni_groups(const struct server_registry *r)
{
    return r->sni_groups;
}

/* Counter arithmetic over every counter of a server_stats (the label is
 * left alone): d += s (seen flags or-ed); d = cur - prev (label and flags
 * from cur). */
void server_stats_add(struct server_stats *d, const struct server_stats *s);
void server_stats_sub(struct server_stats *d, const struct server_stats *cur,
                      const struct server_stats *prev);

/* Merging workers' registries (by label) into one: zero every counter and
 * histogram (labels and slots stay), then add a worker's in. */
void server_registry_clear(struct server_registry *r);
void server_registry_add(struct server_registry *dst, const struct server_registry *src);

/* Index for a label (creating it; __overflow__ when full). */
uint32_t server_registry_get(struct server_registry *r, const char *label);

static inline int server_is_overflow(const struct server_registry *r, uint32_t idx)
{
    return idx == r->max;
}

/* Every recording goes through here so overflow samples are counted. */
static inline struct server_stats *server_for_sample(struct server_registry *r, uint32_t idx)
{
    if (idx == r->max)
        r->overflow_samples++;
    return &r->s[idx];
}

/* The slots in use, in index order: the named servers 0..count-1, then the
 * overflow slot (max); the empty ones between are never walked. */
static inline uint32_t server_slot_first(const struct server_registry *r)
{
    return r->count ? 0 : r->max;
}

static inline uint32_t server_slot_next(const struct server_registry *r, uint32_t i)
{
    return i + 1 < r->count ? i + 1 : i < r->max ? r->max : r->max + 1;
}

#define SERVER_FOREACH_SLOT(r, i) \
    for (uint32_t i = server_slot_first(r); i <= (r)->max; i = server_slot_next(r, i))

/* The errors behind dns_error_ratio: SERVFAIL + REFUSED + timeouts. */
static inline uint64_t server_dns_errors(const struct server_stats *s)
{
    return s->dns_responses[RCODE_SERVFAIL] + s->dns_responses[RCODE_REFUSED] + s->dns_timeouts;
}

/* HTTP responses by status class: cls[k] for k00..k99 (k = 1..5), cls[0] all. */
static inline void server_http_classes(const struct server_stats *s, uint64_t cls[6])
{
    for (int k = 0; k < 6; k++)
        cls[k] = 0;
    for (int c = 0; c <= HTTP_CODE_MAX - HTTP_CODE_MIN; c++) {
        cls[(c + HTTP_CODE_MIN) / 100] += s->http_codes[c];
        cls[0] += s->http_codes[c];
    }
}

static inline struct histogram *server_hist(struct server_registry *r, uint32_t idx,
                                            enum server_hist which)
{
    return &r->h[(size_t)idx * SERVER_HIST_COUNT + which];
}

static inline const struct histogram *server_hist_c(const struct server_registry *r,
                                                    uint32_t idx, enum server_hist which)
{
    return &r->h[(size_t)idx * SERVER_HIST_COUNT + which];
}

/* Format an endpoint as a label: 10.0.0.1:53 or [2001:db8::1]:53. */
void server_format_endpoint(char *out, size_t len, const struct ip_addr *a, uint16_t port);

#endif
