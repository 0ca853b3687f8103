/*
 * decode.h — L2–L4 decoding of one captured frame.
 *
 * Each layer has a pure parser (l2.c, ipv4.c, ipv6.c, tcp.c, udp.c) that
 * takes a bounded byte view and either fills a small result struct or
 * returns a decode_error. decode_packet() chains them and counts every
 * rejection by layer and reason. An IP fragment goes to the caller's
 * reassembly (it keeps state, so it lives above: flow/frag.c), and the
 * datagram it completes is decoded on from its transport header.
 * Nothing here allocates or reads past the captured length.
 */
#ifndef SPANWATCH_DECODE_H
#define SPANWATCH_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/bytes.h"
#include "decode/decode_errors.h"

/* Parser result: DERR_COUNT means "no error". */
#define DECODE_OK DERR_COUNT

#define VLAN_MAX_TAGS 2

/* IPv4 addresses are stored v4-mapped (::ffff:a.b.c.d) so keys are uniform. */
struct ip_addr {
    uint8_t b[16];
};

struct l2_result {
    uint16_t ethertype;   /* 0x0800, 0x86dd, or anything else (not decoded) */
    uint8_t nvlan;
    uint16_t vlan[VLAN_MAX_TAGS];
    struct bytes payload; /* the L3 bytes */
};

struct ip_result {
    uint8_t version;          /* 4 or 6 */
    uint8_t proto;            /* transport protocol (after v6 ext headers) */
    uint8_t ttl;
    struct ip_addr src, dst;
    bool fragment;            /* this packet is a fragment (needs reassembly) */
    bool more_fragments;
    uint32_t frag_offset;     /* bytes */
    uint32_t frag_id;
    bool truncated;           /* payload cut by snap length, not malformed */
    struct bytes payload;     /* transport bytes available (trimmed to IP length) */
    uint32_t payload_len;     /* transport length per the IP header */
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

struct tcp_result {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t window;
    uint8_t flags;
    uint8_t hdr_len;
    uint16_t mss;             /* 0 if absent */
    int8_t wscale;            /* -1 if absent */
    bool sack_ok;
    bool has_ts;
    uint32_t tsval, tsecr;
    struct bytes payload;
    uint32_t payload_len;     /* per IP length; > payload.len if snap-truncated */
};

/* Sequence-number order modulo 2^32 (RFC 793 3.3). */
static inline bool tcp_seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static inline bool tcp_seq_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

struct udp_result {
    uint16_t sport, dport;
    uint16_t length;
    struct bytes payload;
    uint32_t payload_len;
};

/* Pure per-layer parsers. `wire_truncated` tells a parser that bytes past the
 * view existed on the wire (snap length), so a short payload is not an error. */
enum decode_error l2_parse(int linktype, struct bytes frame, struct l2_result *out);
enum decode_error ipv4_parse(struct bytes b, bool wire_truncated, struct ip_result *out);
enum decode_error ipv6_parse(struct bytes b, bool wire_truncated, struct ip_result *out);
enum decode_error tcp_parse(struct bytes b, uint32_t l4_len, struct tcp_result *out);
enum decode_error udp_parse(struct bytes b, uint32_t l4_len, struct udp_result *out);
struct decoder;
/* The dispatcher's choice of worker (-w N): a symmetric hash of a frame's
 * innermost flow (hash) — the address pair, and for TCP the port pair
 * (UDP, which is what fragments, stays by the address pair); 0 for
 * non-IP. scratch: a decoder whose counters are not read. A fragment
 * (fragment = 1) is named by its datagram (addresses, ID, protocol: never
 * 0); the first of a TCP segment (first = 1) carries the ports and so the
 * 5-tuple hash, the others only the address pair's: the dispatcher
 * remembers where a datagram's first fragment went and sends the rest
 * there. */
struct dispatch_key {
    uint32_t hash;
    uint32_t datagram;
    uint8_t fragment, first;
};
void decode_dispatch_key(struct decoder *scratch, int linktype, const uint8_t *data,
                         uint32_t caplen, struct dispatch_key *k);
/* True if libpcap DLT value is one decode_packet handles. */
bool l2_linktype_supported(int linktype);

/* ---- encapsulations (encap.c) ---- */

enum encap_type {
    ENCAP_MPLS, ENCAP_PPPOE, ENCAP_GRE, ENCAP_ERSPAN, ENCAP_VXLAN, ENCAP_GENEVE, ENCAP_IPIP,
    ENCAP_GTPU, ENCAP_COUNT
};
extern const char *const encap_type_name[ENCAP_COUNT];

/* what an encapsulation carries: the payload's kind, for the chain to go on */
enum encap_inner { INNER_NONE, INNER_ETHERNET, INNER_IPV4, INNER_IPV6 };

struct encap_result {
    enum encap_type type;
    enum encap_inner inner;   /* INNER_NONE: a control message, nothing to analyse */
    struct bytes payload;
    bool has_vni;             /* VXLAN, Geneve */
    uint32_t vni;
};

#define ENCAP_MAX_DEPTH 4     /* encapsulations unwrapped in one frame; deeper: an error */
#define UDP_PORT_VXLAN 4789
#define UDP_PORT_GENEVE 6081
#define UDP_PORT_GTPU 2152

enum decode_error mpls_parse(struct bytes b, struct encap_result *out);
enum decode_error pppoe_parse(struct bytes b, struct encap_result *out);
enum decode_error gre_parse(struct bytes b, struct encap_result *out);
enum decode_error vxlan_parse(struct bytes b, struct encap_result *out);
enum decode_error geneve_parse(struct bytes b, struct encap_result *out);
enum decode_error gtpu_parse(struct bytes b, struct encap_result *out);

/* ---- the whole chain ---- */

struct decoded {
    struct l2_result l2;      /* of the innermost Ethernet (or link) header */
    struct ip_result ip;      /* the innermost IP header: the analysed flow's */
    uint8_t depth;            /* encapsulations unwrapped */
    bool has_vni;             /* inside VXLAN or Geneve: vni names the tenant network */
    uint32_t vni;
    uint16_t vlan;            /* innermost 802.1Q VLAN ID seen (0: none) */
    bool reassembled;         /* transport bytes come from IP reassembly */
    uint8_t l4;               /* IPPROTO_TCP, IPPROTO_UDP, or other */
    union {
        struct tcp_result tcp;
        struct udp_result udp;
    };
};

enum decode_status {
    DECODE_STATUS_L4,         /* IP + TCP/UDP decoded (or other IP proto: l4 says) */
    DECODE_STATUS_NOT_IP,     /* valid frame, not IP (ARP, LLDP, ...) */
    DECODE_STATUS_FRAG_HELD,  /* fragment stored, datagram not complete yet */
    DECODE_STATUS_ERROR,      /* rejected; counted in errors[] */
};

struct decoder {
    int linktype;
    /* IP reassembly (NULL: fragments are not reassembled): DECODE_STATUS_L4
     * with the whole datagram's transport bytes in *l4, FRAG_HELD, or ERROR
     * (counted by it) */
    enum decode_status (*reassemble)(void *ctx, const struct ip_result *ip, struct bytes *l4);
    void *reassemble_ctx;
    uint16_t vxlan_ports[4];      /* UDP ports of VXLAN; all 0: 4789 */
    uint64_t encap[ENCAP_COUNT];  /* frames unwrapped, by type */
    uint64_t errors[DERR_COUNT];
};

enum decode_status decode_packet(struct decoder *d, const uint8_t *data, uint32_t caplen,
                                 uint32_t wirelen, struct decoded *out);
/* The UDP ports VXLAN arrives on (1 to 4; none: 4789). */
static inline void decoder_set_vxlan_ports(struct decoder *d, const uint16_t *ports, unsigned n)
{
    for (unsigned i = 0; i < 4; i++)
        d->vxlan_ports[i] = n ? ports[i < n ? i : 0] : 0;
}
/* A decoded TCP/UDP packet's identity for SPAN de-duplication (see
 * flow/dedup.h): what a copy shares with its original and a retransmission
 * does not, given the hash of its flow key (addresses, ports, protocol,
 * VNI). Never 0. */
uint64_t decode_identity(const struct decoded *d, uint32_t flow_hash);

#endif
