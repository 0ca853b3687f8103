/*
 * web_guard.h — the HTTP endpoint's defence against clients that hold
 * connections without asking anything: a connection that has not
 * completed a request head within head_timeout_s of opening (or of its
 * previous response) is shut down. libmicrohttpd's own timeout is one of
 * inactivity, which a slowloris client (a header byte every few seconds)
 * never reaches.
 *
 * libmicrohttpd's internal thread reports connections opening and closing
 * (MHD_OPTION_NOTIFY_CONNECTION) and heads arriving; a watchdog thread
 * looks every 250 ms and shuts down (shutdown(2), never close: the library
 * owns the descriptor and closes it itself) the ones past their deadline.
 */
#ifndef SPANWATCH_WEB_GUARD_H
#define SPANWATCH_WEB_GUARD_H

#include <microhttpd.h>

struct web_guard;

struct web_guard *web_guard_start(unsigned max_connections, unsigned head_timeout_s);
void web_guard_stop(struct web_guard *g);
/* the MHD_OPTION_NOTIFY_CONNECTION callback; cls: the guard */
void web_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);
/* c completed a request head / a response: its next deadline */
void web_guard_head(struct MHD_Connection *c);
void web_guard_idle(struct MHD_Connection *c);
/* connections shut down for missing their deadline, so far */
unsigned long web_guard_cut(const struct web_guard *g);

#endif
