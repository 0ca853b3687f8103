/*
 * exposition.c — see exposition.h. Families are written in a fixed order
 * with stable label order, each with # HELP and # TYPE.
 */
#include "exposition.h"

#include <inttypes.h>

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void expo_write_label_value(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\':
            fputs("\\\\", out);
            break;
        case '"':
            fputs("\\\"", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static void sample_u64_1(FILE *out, const char *name, const char *label, const char *value,
                         uint64_t n)
{
    fprintf(out, "%s{%s=\"", name, label);
    expo_write_label_value(out, value);
    fprintf(out, "\"} %" PRIu64 "\n", n);
}

int expo_render(FILE *out, const struct metrics_view *v)
{
    char idx[16];

    family(out, "spanwatch_build_info", "gauge",
           "Build information; always 1.");
    fputs("spanwatch_build_info{version=\"", out);
    expo_write_label_value(out, v->version);
    fputs("\",backends=\"", out);
    expo_write_label_value(out, v->backends);
    fputs("\"} 1\n", out);

    family(out, "spanwatch_packets_total", "counter", "Packets handled, by worker.");
    for (unsigned i = 0; i < v->nworkers; i++) {
        snprintf(idx, sizeof idx, "%u", i);
        sample_u64_1(out, "spanwatch_packets_total", "worker", idx, v->packets[i]);
    }
    family(out, "spanwatch_bytes_total", "counter",
           "Bytes handled (length on the wire), by worker.");
    for (unsigned i = 0; i < v->nworkers; i++) {
        snprintf(idx, sizeof idx, "%u", i);
        sample_u64_1(out, "spanwatch_bytes_total", "worker", idx, v->bytes[i]);
    }

    family(out, "spanwatch_capture_drops_total", "counter",
           "Packets dropped before spanwatch saw them, as reported by the kernel, NIC or "
           "internal rings.");
    for (unsigned i = 0; i < v->nsources; i++)
        sample_u64_1(out, "spanwatch_capture_drops_total", "source", v->source_name[i],
                     v->source_drops[i]);

    family(out, "spanwatch_decode_errors_total", "counter",
           "Malformed or truncated packets, by the layer that rejected them and why.");
    for (int e = 0; e < DERR_COUNT; e++)
        fprintf(out, "spanwatch_decode_errors_total{layer=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                decode_error_layer[e], decode_error_reason[e], v->decode_errors[e]);

    family(out, "spanwatch_flows_active", "gauge", "Flows currently tracked, by protocol.");
    for (int p = 0; p < FLOW_PROTO_COUNT; p++)
        sample_u64_1(out, "spanwatch_flows_active", "proto", flow_proto_name[p],
                     v->flows_active[p]);

    family(out, "spanwatch_flow_evictions_total", "counter",
           "Flows removed from the flow table: idle (timed out) or full (table at "
           "limits.max_flows).");
    for (int r = 0; r < FLOW_EVICT_COUNT; r++)
        sample_u64_1(out, "spanwatch_flow_evictions_total", "reason", flow_evict_reason_name[r],
                     v->flow_evictions[r]);

    family(out, "spanwatch_servers_overflow_total", "counter",
           "Samples folded into server=\"__overflow__\" because limits.max_servers was reached.");
    fprintf(out, "spanwatch_servers_overflow_total %" PRIu64 "\n", v->servers_overflow);

    family(out, "spanwatch_config_last_reload_successful", "gauge",
           "1 if the last configuration (re)load succeeded.");
    fprintf(out, "spanwatch_config_last_reload_successful %d\n", v->config_reload_ok ? 1 : 0);

    family(out, "spanwatch_config_hash", "gauge",
           "Hash of the loaded configuration file (0 for built-in defaults).");
    fprintf(out, "spanwatch_config_hash %" PRIu64 "\n", v->config_hash);

    family(out, "spanwatch_scrape_duration_seconds", "gauge",
           "Time the previous metrics render took.");
    fprintf(out, "spanwatch_scrape_duration_seconds %.9f\n", v->scrape_duration_seconds);

    return ferror(out) ? -1 : 0;
}
