/*
 * flow_app.h — analyzer state kept inside each flow record (struct flow's
 * `app` area): the server the flow belongs to, the TCP connection state per
 * direction, and HTTP stream state. Must fit in sizeof(((struct flow*)0)->app).
 */
#ifndef SPANWATCH_FLOW_APP_H
#define SPANWATCH_FLOW_APP_H

#include <stdint.h>

#include "flow/flow_table.h"
#include "flow/tcp_stream.h"

enum tcp_conn_state {
    TCPS_NONE,        /* nothing TCP seen yet (or not TCP) */
    TCPS_SYN_SENT,    /* client SYN seen */
    TCPS_SYNACK,      /* SYN-ACK seen, waiting for the client's ACK */
    TCPS_ESTABLISHED,
    TCPS_MIDSTREAM,   /* picked up without the handshake */
    TCPS_CLOSED,      /* reset, failed, or finished */
};

enum app_proto { APP_UNKNOWN, APP_HTTP, APP_DNS, APP_NONE, APP_TLS };

/* Message parser state of one direction (HTTP or DNS over TCP). */
enum msg_state {
    MS_START,        /* expecting a message head / DNS length prefix */
    MS_BODY_LEN,     /* `remaining` body bytes to skip */
    MS_CHUNK_SIZE,
    MS_CHUNK_DATA,
    MS_CHUNK_CRLF,
    MS_TRAILERS,
    MS_BODY_CLOSE,   /* body runs to the end of the connection */
    MS_RESYNC,       /* after a gap or garbage: wait for a message start */
    MS_TUNNEL,       /* CONNECT / 101 upgrade: no longer HTTP */
    MS_DNS_MSG,      /* DNS over TCP: message of `remaining` bytes */
    MS_DNS_SKIP,     /* rest of a long DNS message */
    MS_LOST,         /* framing lost for good (DNS after a gap) */
};

struct msg_dir {
    uint8_t state;
    uint8_t sizing;          /* server direction: msg_bytes counts a matched response */
    uint8_t pad[2];
    union {
        /* client direction: server index + 1 chosen by the Host header of
         * the latest request (a servers: group with http_host); 0 = the
         * flow's server. Responses and latencies go to the same server. */
        uint32_t http_server;
        /* server direction: bytes of the response being read (head + body,
         * saturating), recorded in spanwatch_http_response_bytes at its end */
        uint32_t msg_bytes;
    };
    uint64_t remaining;
    uint64_t first_byte_ns;  /* time of the first byte of the message being read */
};

#define FA_RESET_COUNTED 0x01 /* a reset of this connection was counted */
#define FA_HS_DONE 0x02       /* the handshake completed: irtt_t is valid */

/* TLS record reader of one direction (analyze/tls.c) */
struct tls_dir {
    uint16_t skip;           /* bytes of the current record still to pass over */
    uint8_t rec_type;        /* the current record's content type */
    uint8_t lost;            /* the record framing was lost: read nothing more */
    uint8_t ccs;             /* sent ChangeCipherSpec: its records are encrypted */
    uint8_t pad[3];
};

#define TLS_F_HELLO 0x01      /* a ClientHello was seen: a handshake is under way */
#define TLS_F_SERVER_HELLO 0x02
#define TLS_F_DECIDED 0x04    /* the handshake's result was counted */
#define TLS_F_CLIENT_FIN 0x08 /* TLS 1.3: the client's Finished went by */
#define TLS_F_BURST 0x10      /* a client burst of application data waits for the server */
#define TLS_F_TICKETS 0x20    /* TLS 1.3: the server's next records may be session tickets */
#define TLS_F_PENDING 0x40    /* a timeout entry is in tls_pending */

/* TLS state of a connection (APP_TLS), in place of the HTTP state. */
struct tls_conn {
    struct tls_dir d[2];
    uint64_t hello_ns;       /* the latest ClientHello was complete */
    uint64_t burst_ns;       /* the client's latest application-data record ended */
    uint32_t server;         /* server index + 1 chosen by SNI; 0 = the flow's */
    uint8_t flags;           /* TLS_F_* */
    uint8_t version;         /* enum tls_version the server chose */
    uint16_t ticket_len;     /* record length of the first TLS 1.3 ticket */
    uint8_t tickets;         /* records taken as tickets */
};

#define HTTP_QUEUE 4         /* pipelined requests awaiting responses */
#define REQ_HEAD 0x01        /* the request was HEAD: its response has no body */
#define REQ_CONNECT 0x02

struct flow_app {
    uint32_t server;        /* server index + 1; 0 = not decided yet */
    uint8_t client_dir;     /* direction (0: lo->hi, 1: hi->lo) of client->server packets */
    uint8_t tcp_state;
    uint8_t flags;          /* FA_* */
    uint8_t seq_valid[2];
    uint8_t fin_seen[2];
    uint8_t app;             /* enum app_proto */
    /* data RTT: the server->client segment being timed ends at rtt_seq; the
     * first client ACK at or beyond it gives a sample */
    uint32_t rtt_seq;
    union {
        uint64_t syn_ns;    /* during the handshake: time of the first SYN */
        /* once it completed (FA_HS_DONE): the initial RTT, most recent SYN
         * -> the ACK completing the handshake, 1.024 us units; the
         * out-of-order threshold, as in Wireshark's tcp.analysis */
        uint32_t irtt_t;
    };
    uint32_t isn[2];
    uint32_t next_seq[2];   /* highest sequence number seen + 1, per direction */
    struct stream_dir stream[2];
    union {
        struct {                 /* HTTP, DNS over TCP */
            struct msg_dir msg[2];
            uint64_t req_ts[HTTP_QUEUE];
            uint8_t req_flags[HTTP_QUEUE];
            uint8_t q_head, q_len;
            uint8_t rejected;    /* request heads the parser rejected, not answered yet */
        };
        struct tls_conn tls;     /* APP_TLS */
    };
    uint16_t dns_waiting;    /* DNS queries of this flow not answered yet */
    /* the server leg: SYN -> SYN-ACK at the tap (from the last SYN when it was
     * retransmitted), in 1.024 us units (0 = unknown) */
    uint32_t first_rtt_t;
    uint32_t next_seq_t[2];  /* when next_seq last advanced, 1.024 us units (wraps) */
    /* when the timed segment (rtt_seq) was seen, 1.024 us units, 0 = none;
     * during the handshake: when the latest retransmitted SYN was seen */
    uint32_t rtt_t;
    /* the latest acknowledgment number each direction sent, 0 = none yet (as
     * in Wireshark): data at or below the peer's is a (spurious)
     * retransmission */
    uint32_t lastack[2];
    /* where the flow was seen (its first packet): VXLAN/Geneve VNI + 1
     * (0: none) and innermost VLAN; servers: groups may match on them */
    uint32_t tenant;
    uint16_t vlan;
};

_Static_assert(sizeof(struct flow_app) <= sizeof(((struct flow *)0)->app),
               "flow_app must fit in the flow record");

static inline struct flow_app *flow_app(struct flow *f)
{
    return (struct flow_app *)(void *)f->app;
}

#endif
