/*
 * test_config.c — durations, defaults, and errors that point at file:line:col.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"

static void durations_parse_with_units(void **state)
{
    (void)state;
    uint64_t ns;
    assert_int_equal(config_parse_duration("5s", &ns), 0);
    assert_int_equal(ns, 5000000000ull);
    assert_int_equal(config_parse_duration("250ms", &ns), 0);
    assert_int_equal(ns, 250000000ull);
    assert_int_equal(config_parse_duration("2m", &ns), 0);
    assert_int_equal(ns, 120000000000ull);
    assert_int_equal(config_parse_duration("1m30s", &ns), 0);
    assert_int_equal(ns, 90000000000ull);
    assert_int_equal(config_parse_duration("50us", &ns), 0);
    assert_int_equal(ns, 50000ull);
    assert_int_equal(config_parse_duration("5", &ns), -1);
    assert_int_equal(config_parse_duration("", &ns), -1);
    assert_int_equal(config_parse_duration("s", &ns), -1);
    assert_int_equal(config_parse_duration("5x", &ns), -1);
    assert_int_equal(config_parse_duration("-5s", &ns), -1);
    assert_int_equal(config_parse_duration("99999999999999999999s", &ns), -1);
}

static const char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/spanwatch-cfg-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void loads_limits_and_keeps_defaults(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    const char *p = write_tmp("limits:\n  max_flows: 1234\n  dns_timeout: 2s\n");
    assert_int_equal(config_load(p, &c, err, sizeof err), 0);
    assert_int_equal(c.max_flows, 1234);
    assert_int_equal(c.dns_timeout_ns, 2000000000ull);
    assert_int_equal(c.max_servers, 1000);       /* default kept */
    assert_true(c.hash != 0);
    unlink(p);
}

static void error_names_file_line_and_column(void **state)
{
    (void)state;
    struct config c;
    char err[512], want[600];
    config_defaults(&c);
    c.max_flows = 77;
    const char *p = write_tmp("limits:\n  max_flows: 10\n  tcp_handshake_timeout: 0s\n");
    assert_int_equal(config_load(p, &c, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3:26: limits.tcp_handshake_timeout: must be greater than zero", p);
    assert_string_equal(err, want);
    assert_int_equal(c.max_flows, 77); /* all-or-nothing: nothing applied */
    unlink(p);
    p = write_tmp("limits:\n  max_servers: 0\n");
    assert_int_equal(config_load(p, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2:16: limits.max_servers: 0 is out of range"));
    unlink(p);
    p = write_tmp("- just\n- a list\n");
    assert_int_equal(config_load(p, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, ":1:1: top level: expected a mapping"));
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations_parse_with_units),
        cmocka_unit_test(loads_limits_and_keeps_defaults),
        cmocka_unit_test(error_names_file_line_and_column),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
