/*
 * main.c — spanwatch's table of contents: read the command line and the
 * configuration, open the capture back end, build the workers and the
 * alert engine, open the endpoint and the outputs, drop privileges, run,
 * report. No packet logic lives here (README "Layout").
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "app/cli.h"
#include "app/privdrop.h"
#include "app/web.h"
#include "capture/backends.h"
#include "config/config.h"
#include "decode/decode.h"
#include "metrics/report.h"

static int check_config(const char *path)
{
    struct config cfg;
    char err[1024];
    if (config_load(path, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "spanwatch: %s\n", err);
        return EXIT_USAGE;
    }
    printf("%s: OK (%u servers, %u rules)\n", path, cfg.n_servers, cfg.n_rules);
    return 0;
}

/* -c FILE (or the built-in defaults) and --web.config.file */
static int load_configs(const struct options *o, struct config *cfg, struct web_config *wc)
{
    char err[1024];
    if (!o->config)
        config_defaults(cfg);
    else if (config_load(o->config, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "spanwatch: %s\n", err);
        return EXIT_USAGE;
    }
    if (o->web_config && web_config_load(o->web_config, wc, err, sizeof err) != 0) {
        fprintf(stderr, "spanwatch: --web.config.file %s\n", err);
        return EXIT_USAGE;
    }
    return 0;
}

/* the back end --backend names; afxdp may set the worker count */
static int open_capture(struct options *o, const struct config *cfg, struct backends *be)
{
    char err[1024];
    struct backend_request r = {
        .name = o->backend, .read_file = o->read_file, .iface = o->iface, .filter = o->filter,
        .xdp_mode = o->xdp_mode, .dpdk_args = o->dpdk_args, .buffer_mb = o->buffer_mb,
        .workers = o->workers, .workers_given = o->workers_given, .quiet = o->quiet,
        .vxlan_ports = cfg->vxlan_ports, .n_vxlan_ports = cfg->n_vxlan_ports,
    };
    int rc = backends_open(&r, be, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "spanwatch: %s\n", err);
        return rc == -2 ? EXIT_USAGE : EXIT_RUNTIME;
    }
    o->workers = r.workers;
    struct source *src = be->src[0];
    if (!l2_linktype_supported(src->linktype))
        fprintf(stderr, "spanwatch: %s: link type %d (%s) is not supported; its packets are "
                        "counted in spanwatch_decode_errors_total{layer=\"link\","
                        "reason=\"unsupported_linktype\"} and skipped\n",
                src->name, src->linktype, src->linktype_name);
    return 0;
}

/* --alerts-out and --metrics-out ('-': stdout), opened before --user takes
 * root away */
static FILE *open_output(const char *opt, const char *path)
{
    if (!path)
        return NULL;
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f)
        fprintf(stderr, "spanwatch: %s %s: %s\n", opt, path, strerror(errno));
    return f;
}

/* the endpoint: always for live capture, for -r only when asked */
static int start_endpoint(struct app *a, const struct web_config *wc, struct web **web)
{
    const struct options *o = a->o;
    char err[1024];
    *web = NULL;
    if (!strcmp(o->listen, "none") || !(o->iface || o->listen_given))
        return 0;
    struct web_handlers h = { app_render, app_reload, app_ready, a };
    *web = web_start(o->listen, wc, NULL, &h, err, sizeof err);
    if (!*web) {
        fprintf(stderr, "spanwatch: %s\n", err);
        return EXIT_RUNTIME;
    }
    if (!o->quiet)
        fprintf(stderr, "spanwatch: serving /metrics on %s%s%s\n", o->listen,
                wc->cert_pem ? " (TLS)" : "", wc->nusers ? " (basic auth)" : "");
    return 0;
}

/* live capture started as root runs as nobody once capture is open, unless
 * --user says otherwise (--user root: stay root). Not for DPDK, whose EAL
 * keeps using root-only resources (hugepages, /var/run/dpdk) after
 * start-up, and not for replays, which need no privilege. */
static int drop_root(struct options *o)
{
    if (!o->user && o->iface && strcmp(o->backend, "dpdk") && geteuid() == 0)
        o->user = privdrop_default_user(o->quiet);
    if (!o->user)
        return 0;
    int xdp = !strcmp(o->backend, "afxdp") && strcmp(o->user, "root");
    return privdrop(o->user, xdp ? 1u << CAP_NET_ADMIN : 0, o->quiet) != 0 ? EXIT_RUNTIME : 0;
}

static int report(struct app *a, FILE *metrics_out)
{
    int rc = 0;
    if (metrics_out && app_write_metrics(a, a->o->metrics_out, metrics_out) != 0)
        rc = EXIT_RUNTIME;
    if (!a->o->quiet) {
        report_run(&a->totals, a->wall_s);
        alert_output_summary(&a->out, &a->engine, app_registry(a));
        alert_output_fault_domains(&a->engine, app_registry(a));
    }
    return rc;
}

int main(int argc, char **argv)
{
    static struct options o;
    static struct config cfg;
    static struct web_config wc;
    static struct app app;
    struct web *web = NULL;
    FILE *alerts_out = NULL, *metrics_out = NULL;

    int rc = cli_parse(argc, argv, &o);
    if (rc != 0)
        return rc;
    if (o.check_config)
        return check_config(o.check_config);
    if ((rc = load_configs(&o, &cfg, &wc)) != 0)
        return rc;
    /* before the capture is opened: a SIGTERM during set-up (DPDK's EAL,
     * large tables) then ends the run cleanly, with final metrics */
    app_install_signals();
    if ((rc = open_capture(&o, &cfg, &app.be)) != 0)
        return rc;
    if ((o.alerts_out && !(alerts_out = open_output("--alerts-out", o.alerts_out))) ||
        (rc = app_init(&app, &o, &cfg, alerts_out)) != 0 ||
        (rc = start_endpoint(&app, &wc, &web)) != 0 ||
        (o.metrics_out && !(metrics_out = open_output("--metrics-out", o.metrics_out))) ||
        (rc = drop_root(&o)) != 0) {
        if (!app.src)
            app.src = app.be.src[0];
        web_stop(web);
        app_free(&app);
        return rc ? rc : EXIT_RUNTIME;
    }

    rc = app_run(&app);
    if (report(&app, metrics_out) != 0)
        rc = EXIT_RUNTIME;
    if (web && o.linger && o.read_file)
        app_linger(&app);

    web_stop(web);
    web_config_free(&wc);
    app_free(&app);
    return rc;
}
