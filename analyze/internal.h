/*
 * internal.h — what the protocol analyzers (dns.c, http.c, stream.c,
 * tcp.c) share and nothing outside analyze/ needs: per-flow time units,
 * the server a flow belongs to, and the message readers the TCP stream
 * feeds.
 */
#ifndef SPANWATCH_ANALYZE_INTERNAL_H
#define SPANWATCH_ANALYZE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/analyzers.h"
#include "analyze/flow_app.h"

#define DNS_PORT 53

/* Timestamps kept per flow are in 1.024 us units (ns >> 10): 32 bits wrap
 * after 73 minutes, far beyond any time compared with them. */
static inline uint32_t time_t10(uint64_t ns)
{
    return (uint32_t)(ns >> 10);
}

/* later - earlier in those units, 0 if the packets are stamped the other
 * way round (as ts_since) */
static inline uint32_t t10_since(uint32_t later, uint32_t earlier)
{
    int32_t d = (int32_t)(later - earlier);
    return d > 0 ? (uint32_t)d : 0;
}

/* The connection's server leg (SYN -> SYN-ACK at the tap) in ns; 0 when the
 * handshake was not seen. */
static inline uint64_t server_leg_ns(const struct flow_app *fa)
{
    return (uint64_t)fa->first_rtt_t << 10;
}

/* The server (registry index) of flow f, decided by the first packet that
 * tells (w->pkt_tenant, w->pkt_vlan are that packet's): server_side_dir is
 * the direction of packets *towards* it. */
static inline uint32_t flow_server(struct worker *w, struct flow *f, uint8_t server_side_dir)
{
    struct flow_app *fa = flow_app(f);
    if (!fa->server) {
        const struct ip_addr *a = server_side_dir == 0 ? &f->key.hi : &f->key.lo;
        uint16_t port = server_side_dir == 0 ? f->key.hi_port : f->key.lo_port;
        fa->tenant = w->pkt_tenant;
        fa->vlan = w->pkt_vlan;
        fa->server = server_registry_endpoint(&w->servers, a, port, fa->tenant, fa->vlan) + 1;
        fa->client_dir = server_side_dir;
    }
    return fa->server - 1;
}

/* A message reader's view of one direction of a TCP connection. */
struct deliver_ctx {
    struct worker *w;
    struct flow *f;
    uint8_t dir;
};

/* dns.c: one DNS message (UDP datagram, or read from a TCP stream) */
void dns_message(struct worker *w, struct flow *f, uint8_t dir, struct bytes payload);
/* dns.c: queries older than limits.dns_timeout */
void dns_expire(struct worker *w);
/* dns.c, http.c: one step of a stream reader on v; returns the bytes
 * used, 0 = needs more */
size_t dns_tcp_step(struct deliver_ctx *c, struct bytes v);
size_t http_step(struct deliver_ctx *c, struct bytes v);
/* http.c: bytes were lost in direction dir: resynchronise, forget the
 * requests waiting for an answer */
void http_on_gap(struct flow_app *fa, uint8_t dir);
/* http.c: the connection ended with a response still being read */
void http_flow_end(struct worker *w, struct flow *f, enum flow_evict_reason why);
/* tls.c: one step of the TLS record reader (as http_step); a gap in
 * direction dir; the connection closed (RST, FIN); the flow leaves the
 * table; handshakes older than limits.tls_handshake_timeout */
size_t tls_step(struct deliver_ctx *c, struct bytes v);
void tls_on_gap(struct flow_app *fa, uint8_t dir);
void tls_on_close(struct worker *w, struct flow *f);
void tls_flow_end(struct worker *w, struct flow *f, enum flow_evict_reason why);
void tls_expire(struct worker *w);
/* stream.c: TCP payload into the stream reassembly and on to the reader */
void stream_payload(struct worker *w, struct flow *f, uint8_t dir, const struct tcp_result *t);
/* stream.c: dir acknowledged up to ack: the peer's bytes before it are
 * delivered (bytes the tap missed are a gap) */
void stream_peer_ack(struct worker *w, struct flow *f, uint8_t dir, uint32_t ack);

#endif
