/*
 * web_guard.c — see web_guard.h.
 */
#include "app/web_guard.h"
#include "util/signals.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util/clock.h"

struct guard_slot {
    struct web_guard *g;
    struct MHD_Connection *conn; /* whose slot it is */
    int fd;
    uint8_t used, head, cut;
    uint64_t since_ns;       /* opened, or its last response completed */
    struct sockaddr_storage peer; /* to tell its descriptor from a reused one */
    socklen_t peer_len;
};

/* Still the socket the slot was made for? (A descriptor number is reused as
 * soon as the library closes it: never shut down someone else's.) */
static int same_socket(const struct guard_slot *s)
{
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    return getpeername(s->fd, (struct sockaddr *)&a, &len) == 0 && len == s->peer_len &&
           memcmp(&a, &s->peer, len) == 0;
}

struct web_guard {
    pthread_mutex_t lock;
    pthread_t thread;
    atomic_int stop;
    uint64_t timeout_ns;
    unsigned n;
    struct guard_slot *slots;
    atomic_ulong cut;
};

static void *watchdog(void *arg)
{
    struct web_guard *g = arg;
    struct timespec nap = { 0, 250000000 };
    while (!atomic_load(&g->stop)) {
        nanosleep(&nap, NULL);
        pthread_mutex_lock(&g->lock);
        /* the clock is read under the lock: read before it, a connection
         * that started while this thread waited for the lock had a
         * since_ns after `now`, and the unsigned age wrapped to ~584 years
         * — a fresh scrape was shut down (web_load caught it: about one
         * in 5,000 scrapes under load, "closed without response") */
        uint64_t now = clock_mono_ns();
        for (unsigned i = 0; i < g->n; i++) {
            struct guard_slot *s = &g->slots[i];
            if (s->used && !s->head && !s->cut && now > s->since_ns &&
                now - s->since_ns > g->timeout_ns) {
                s->cut = 1;
                if (!same_socket(s))
                    continue;
                shutdown(s->fd, SHUT_RDWR); /* the library sees EOF and closes it */
                atomic_fetch_add(&g->cut, 1);
            }
        }
        pthread_mutex_unlock(&g->lock);
    }
    return NULL;
}

struct web_guard *web_guard_start(unsigned max_connections, unsigned head_timeout_s)
{
    struct web_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->n = max_connections;
    g->timeout_ns = (uint64_t)head_timeout_s * 1000000000ull;
    g->slots = calloc(g->n, sizeof *g->slots);
    pthread_mutex_init(&g->lock, NULL);
    sigset_t old;
    signals_block_stop(&old); /* util/signals.h */
    int started = g->slots && pthread_create(&g->thread, NULL, watchdog, g) == 0;
    signals_restore(&old);
    if (!started) {
        free(g->slots);
        free(g);
        return NULL;
    }
    return g;
}

void web_guard_stop(struct web_guard *g)
{
    if (!g)
        return;
    atomic_store(&g->stop, 1);
    pthread_join(g->thread, NULL);
    pthread_mutex_destroy(&g->lock);
    free(g->slots);
    free(g);
}

void web_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    struct web_guard *g = cls;
    pthread_mutex_lock(&g->lock);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = NULL;
        for (unsigned i = 0; ci && i < g->n; i++) {
            struct guard_slot *s = &g->slots[i];
            if (s->used)
                continue;
            *s = (struct guard_slot){ .g = g, .conn = c, .fd = ci->connect_fd, .used = 1,
                                      .since_ns = clock_mono_ns() };
            s->peer_len = sizeof s->peer;
            if (getpeername(s->fd, (struct sockaddr *)&s->peer, &s->peer_len) != 0)
                s->peer_len = 0;
            *socket_context = s;
            break;
        }
    } else if (*socket_context) {
        struct guard_slot *s = *socket_context;
        if (s->conn == c)
            s->used = 0;
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&g->lock);
}

static void mark(struct MHD_Connection *c, uint8_t head)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct guard_slot *s = ci ? ci->socket_context : NULL;
    if (!s)
        return;
    pthread_mutex_lock(&s->g->lock);
    if (s->used && s->conn == c) {
        s->head = head;
        s->since_ns = clock_mono_ns();
    }
    pthread_mutex_unlock(&s->g->lock);
}

void web_guard_head(struct MHD_Connection *c)
{
    mark(c, 1);
}

void web_guard_idle(struct MHD_Connection *c)
{
    mark(c, 0);
}

unsigned long web_guard_cut(const struct web_guard *g)
{
    return g ? atomic_load(&((struct web_guard *)g)->cut) : 0;
}
