/*
 * flow_app.h — analyzer state kept inside each flow record (struct flow's
 * `app` area): the server the flow belongs to, the TCP connection state per
 * direction, and HTTP stream state. Must fit in sizeof(((struct flow*)0)->app).
 */
#ifndef SPANWATCH_FLOW_APP_H
#define SPANWATCH_FLOW_APP_H

#include <stdint.h>

#include "../decode/flow_table.h"

enum tcp_conn_state {
    TCPS_NONE,        /* nothing TCP seen yet (or not TCP) */
    TCPS_SYN_SENT,    /* client SYN seen */
    TCPS_SYNACK,      /* SYN-ACK seen, waiting for the client's ACK */
    TCPS_ESTABLISHED,
    TCPS_MIDSTREAM,   /* picked up without the handshake */
    TCPS_CLOSED,      /* reset, failed, or finished */
};

struct flow_app {
    uint32_t server;        /* server index + 1; 0 = not decided yet */
    uint8_t client_dir;     /* direction (0: lo->hi, 1: hi->lo) of client->server packets */
    uint8_t tcp_state;
    uint8_t reset_counted;
    uint8_t seq_valid[2];
    uint8_t fin_seen[2];
    uint8_t pad;
    uint64_t syn_ns;        /* first SYN */
    uint32_t isn[2];
    uint32_t next_seq[2];   /* highest sequence number seen + 1, per direction */
};

_Static_assert(sizeof(struct flow_app) <= sizeof(((struct flow *)0)->app),
               "flow_app must fit in the flow record");

static inline struct flow_app *flow_app(struct flow *f)
{
    return (struct flow_app *)(void *)f->app;
}

#endif
