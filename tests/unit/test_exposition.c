/*
 * test_exposition.c — text format details: label escaping, HELP/TYPE for
 * every family, every decode-error series present even at zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/exposition.h"

static char *render_to_string(void (*fill)(struct metrics_view *))
{
    static struct metrics_view v;
    char *buf = NULL;
    size_t len = 0;
    memset(&v, 0, sizeof v);
    v.version = "1.2.3";
    v.backends = "pcap";
    fill(&v);
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(expo_render(f, &v), 0);
    fclose(f);
    return buf;
}

static void fill_hostile(struct metrics_view *v)
{
    v->nworkers = 2;
    v->packets[1] = 42;
    v->nsources = 1;
    v->source_name[0] = "we\"ird\\name\nx";
    v->decode_errors[DERR_TCP_BAD_OPTION] = 3;
}

static void label_values_are_escaped(void **state)
{
    (void)state;
    char *s = render_to_string(fill_hostile);
    assert_non_null(strstr(s, "spanwatch_capture_drops_total{source=\"we\\\"ird\\\\name\\nx\"} 0\n"));
    assert_non_null(strstr(s, "spanwatch_packets_total{worker=\"1\"} 42\n"));
    assert_non_null(strstr(s, "spanwatch_decode_errors_total{layer=\"tcp\",reason=\"bad_option\"} 3\n"));
    free(s);
}

static void every_family_has_help_and_type(void **state)
{
    (void)state;
    char *s = render_to_string(fill_hostile);
    int help = 0, type = 0, zero_series = 0;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "# HELP ", 7))
            help++;
        else if (!strncmp(line, "# TYPE ", 7))
            type++;
        else if (!strncmp(line, "spanwatch_decode_errors_total{", 30))
            zero_series++;
    }
    assert_int_equal(help, type);
    /* no server registry given: no per-server families; the alert
     * families are the alert layer's (test_alerts) */
    assert_int_equal(help, 13);
    assert_int_equal(zero_series, DERR_COUNT);
    free(s);
    /* the DESIGN.md names this stage exports, each with its type */
    static const char *const families[][2] = {
        { "spanwatch_build_info", "gauge" },
        { "spanwatch_packets_total", "counter" },
        { "spanwatch_bytes_total", "counter" },
        { "spanwatch_capture_drops_total", "counter" },
        { "spanwatch_decode_errors_total", "counter" },
        { "spanwatch_flows_active", "gauge" },
        { "spanwatch_flow_evictions_total", "counter" },
        { "spanwatch_servers_overflow_total", "counter" },
        { "spanwatch_encap_packets_total", "counter" },
        { "spanwatch_duplicates_total", "counter" },
        { "spanwatch_config_last_reload_successful", "gauge" },
        { "spanwatch_config_hash", "gauge" },
        { "spanwatch_scrape_duration_seconds", "gauge" },
    };
    s = render_to_string(fill_hostile);
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "# TYPE %s %s\n", families[i][0], families[i][1]);
        assert_non_null(strstr(s, want));
    }
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(every_family_has_help_and_type),
    };
    return cmocka_run_group_tests_name("exposition", tests, NULL, NULL);
}
