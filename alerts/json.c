/*
 * json.c — the alert JSON's time and string formatting (alerts.h), in a
 * file of its own: the alertmanager module links it too.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alerts/alerts.h"

void alerts_format_time(char *buf, size_t len, uint64_t ns)
{
    time_t s = (time_t)(ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03uZ", base, (unsigned)(ns % 1000000000ull / 1000000ull));
}

/* JSON string body: quotes, backslashes and control bytes escaped; bytes
 * >= 0x80 are passed through only as valid UTF-8 would be — labels may hold
 * anything, so they are escaped as \u00XX (Latin-1 reading) instead. */
size_t alerts_json_escape(char *out, size_t len, const char *s)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[8];
        const char *piece = tmp;
        if (*p == '"')
            piece = "\\\"";
        else if (*p == '\\')
            piece = "\\\\";
        else if (*p < 0x20 || *p >= 0x7f)
            snprintf(tmp, sizeof tmp, "\\u%04x", *p);
        else {
            tmp[0] = (char)*p;
            tmp[1] = 0;
        }
        size_t pl = strlen(piece);
        if (o + pl + 1 > len)
            break;
        memcpy(out + o, piece, pl);
        o += pl;
    }
    if (len)
        out[o < len ? o : len - 1] = 0;
    return o;
}
