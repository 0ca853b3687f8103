/*
 * am_client.c — am_* (alertmanager.h) in the binary: they forward to
 * spanwatch-alertmanager.so, loaded by the first am_start(), so a run
 * without alertmanager.url never loads libcurl and the dozen libraries it
 * pulls in (util/module.h).
 */
#include <stdio.h>

#include "alerts/alertmanager.h"
#include "util/module.h"

static const struct spanwatch_alertmanager_api *api;

struct am_sender *am_start(const char *url, uint64_t resend_ns, uint64_t timeout_ns,
                           const char *probe, char *err, size_t errlen)
{
    if (!api && !(api = module_api("alertmanager", err, errlen)))
        return NULL;
    return api->start(url, resend_ns, timeout_ns, probe, err, errlen);
}

int am_enqueue(struct am_sender *s, const struct am_msg *m)
{
    return s ? api->enqueue(s, m) : -1;
}

void am_get_stats(struct am_sender *s, struct am_stats *out)
{
    if (s)
        api->get_stats(s, out);
}

void am_stop(struct am_sender *s, unsigned flush_ms)
{
    if (s)
        api->stop(s, flush_ms);
}
