/*
 * cli.h — the command line (README "Command line", spanwatch(1)).
 */
#ifndef SPANWATCH_CLI_H
#define SPANWATCH_CLI_H

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

struct options {
    const char *read_file;
    const char *iface;
    const char *config;
    const char *filter;
    const char *backend;
    const char *metrics_out;
    const char *alerts_out;
    const char *listen;
    int listen_given;
    const char *web_config;
    int linger;
    const char *user;
    const char *xdp_mode;
    const char *dpdk_args;
    const char *check_config;
    unsigned workers;
    int workers_given;        /* -w was on the command line (else a default) */
    unsigned buffer_mb;
    int quiet;
};

/* Fill o from argv: 0, or EXIT_USAGE after a message and the usage on
 * stderr. --version and --help print and exit(0). */
int cli_parse(int argc, char **argv, struct options *o);

#endif
