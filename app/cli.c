/*
 * cli.c — see cli.h.
 */
#include "app/cli.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/backends.h"

#ifndef SPANWATCH_VERSION
#define SPANWATCH_VERSION "0.0.0-dev"
#endif
#define MAX_WORKERS 256

static const char usage_text[] =
    "usage: spanwatch -i IFACE [--backend afpacket|pcap|afxdp|dpdk] [-w N] [-c FILE]\n"
    "                          [--web.listen-address ADDR] [--web.config.file FILE]\n"
    "                          [-f 'BPF filter']\n"
    "       spanwatch -r FILE.pcap [-c FILE] [-f 'BPF filter'] [--metrics-out FILE]\n"
    "                          [--alerts-out FILE] [--web.listen-address ADDR]\n"
    "       spanwatch --check-config FILE\n"
    "       spanwatch --version | --help\n";

static const char help_text[] =
    "\n"
    "Passive DNS/TCP/HTTP monitor for a SPAN port, TAP or capture file.\n"
    "\n"
    "Input (one of):\n"
    "  -r, --read FILE            replay a pcap or pcapng file as fast as possible;\n"
    "                             all timing follows packet timestamps\n"
    "  -i, --interface IFACE      capture live from IFACE\n"
    "\n"
    "Capture:\n"
    "      --backend NAME         live capture back end: afpacket (default:\n"
    "                             TPACKET_V3 fanout), pcap (libpcap, one reader\n"
    "                             and a dispatcher), afxdp (XDP +\n"
    "                             AF_XDP, one worker per RX queue), dpdk (EAL\n"
    "                             ports from --dpdk-args; -i not needed)\n"
    "  -w, --workers N            worker threads, flows hashed to them (-r of a\n"
    "                             pcap file: each reads the mapped file; else a\n"
    "                             dispatcher's lock-free rings or the kernel's\n"
    "                             fanout) (default: the CPUs for -i, 1 for -r)\n"
    "  -f, --filter EXPR          BPF capture filter, tcpdump syntax\n"
    "      --buffer-size MIB      pcap: kernel buffer; afpacket: ring per worker\n"
    "                             (default 64)\n"
    "      --xdp-mode MODE        afxdp: native, skb or auto (native, else skb)\n"
    "      --dpdk-args 'ARGS'     dpdk: EAL arguments, e.g. '--no-huge --no-pci -m 512\n"
    "                             --vdev=net_af_packet0,iface=eth1' (one RX queue\n"
    "                             per worker on the first port)\n"
    "\n"
    "Configuration and output:\n"
    "  -c, --config FILE          YAML configuration (default: built-in limits)\n"
    "      --check-config FILE    validate FILE and exit (0 valid, 2 invalid)\n"
    "      --metrics-out FILE     write the final Prometheus exposition to FILE\n"
    "                             when the run ends ('-' = stdout)\n"
    "      --alerts-out FILE      write alert transitions as JSON lines to FILE\n"
    "  -q, --quiet                no progress line and no end-of-run summary\n"
    "\n"
    "HTTP endpoint (/metrics, /-/healthy, /-/ready, POST /-/reload):\n"
    "      --web.listen-address A [HOST]:PORT to serve on (default :9560, all\n"
    "                             addresses); with -r only when given; 'none'\n"
    "                             disables it\n"
    "      --web.config.file FILE TLS certificate/key and basic-auth users\n"
    "                             (Prometheus exporter-toolkit format)\n"
    "      --linger               with -r: keep serving the final metrics after\n"
    "                             the replay, until SIGINT/SIGTERM\n"
    "\n"
    "Privileges:\n"
    "      --user NAME            after opening capture, the endpoint and output\n"
    "                             files, run as NAME with no capabilities (live\n"
    "                             capture started as root: default nobody, except\n"
    "                             dpdk; afxdp keeps CAP_NET_ADMIN; 'root' = stay)\n"
    "\n"
    "  -V, --version              print version and compiled-in back ends, exit\n"
    "  -h, --help                 this text\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure, 2 bad usage or invalid config.\n"
    "See spanwatch(1) and README.md for the configuration format and metrics.\n";

enum long_only {
    OPT_BACKEND = 256,
    OPT_METRICS_OUT,
    OPT_ALERTS_OUT,
    OPT_LISTEN,
    OPT_CHECK_CONFIG,
    OPT_WEB_CONFIG,
    OPT_LINGER,
    OPT_USER,
    OPT_XDP_MODE,
    OPT_DPDK_ARGS,
    OPT_BUFFER_SIZE,
};

static int usage_error(const char *fmt, const char *arg)
{
    fputs("spanwatch: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n", stderr);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* what the options mean together: one input, a back end that can read it */
static int check_options(struct options *o)
{
    /* live: AF_PACKET fanout, which beat libpcap's reader + dispatcher in
     * every measurement (README "Workers"); a file: libpcap's reader */
    if (!o->backend)
        o->backend = o->iface ? "afpacket" : "pcap";
    if (o->check_config)
        return 0;
#ifdef HAVE_DPDK
    /* DPDK takes its ports from --dpdk-args (a PCI device or a --vdev) */
    if (!strcmp(o->backend, "dpdk") && !o->iface && !o->read_file)
        o->iface = "dpdk";
#endif
    if (!!o->read_file + !!o->iface != 1)
        return usage_error("%s", "give exactly one of -r FILE or -i IFACE");
    if (!o->workers) {
        cpu_set_t set;
        long n = 1;
        if (o->iface && sched_getaffinity(0, sizeof set, &set) == 0)
            n = CPU_COUNT(&set);
        o->workers = n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
    }
    if (o->linger && (!o->read_file || !o->listen_given || !strcmp(o->listen, "none")))
        return usage_error("%s", "--linger needs -r FILE and --web.listen-address");
    if (strcmp(o->backend, "pcap") != 0) {
        if (strcmp(o->backend, "afpacket") && strcmp(o->backend, "afxdp") &&
            strcmp(o->backend, "dpdk"))
            return usage_error("--backend: unknown back end '%s' (pcap, afpacket, afxdp, dpdk)",
                               o->backend);
        if (!strcmp(o->backend, "afpacket")) {
            if (!o->iface)
                return usage_error("%s", "--backend afpacket captures live: use it with -i IFACE");
            return 0;
        }
#ifdef HAVE_DPDK
        if (!strcmp(o->backend, "dpdk")) {
            if (o->read_file)
                return usage_error("%s", "--backend dpdk: give the ports in --dpdk-args "
                                         "(e.g. --vdev=net_pcap0,rx_pcap=FILE), not -r");
            if (!o->dpdk_args)
                return usage_error("%s", "--backend dpdk needs --dpdk-args 'EAL arguments'");
            return 0;
        }
#endif
#ifdef HAVE_AFXDP
        if (!strcmp(o->backend, "afxdp")) {
            if (!o->iface)
                return usage_error("%s", "--backend afxdp captures live: use it with -i IFACE");
            return 0;
        }
#endif
        fprintf(stderr, "spanwatch: --backend %s is not available in this version; "
                        "use --backend pcap\n", o->backend);
        return EXIT_USAGE;
    }
    return 0;
}

int cli_parse(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "read", required_argument, NULL, 'r' },
        { "interface", required_argument, NULL, 'i' },
        { "config", required_argument, NULL, 'c' },
        { "filter", required_argument, NULL, 'f' },
        { "workers", required_argument, NULL, 'w' },
        { "quiet", no_argument, NULL, 'q' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { "backend", required_argument, NULL, OPT_BACKEND },
        { "metrics-out", required_argument, NULL, OPT_METRICS_OUT },
        { "alerts-out", required_argument, NULL, OPT_ALERTS_OUT },
        { "web.listen-address", required_argument, NULL, OPT_LISTEN },
        { "check-config", required_argument, NULL, OPT_CHECK_CONFIG },
        { "web.config.file", required_argument, NULL, OPT_WEB_CONFIG },
        { "linger", no_argument, NULL, OPT_LINGER },
        { "user", required_argument, NULL, OPT_USER },
        { "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
        { "dpdk-args", required_argument, NULL, OPT_DPDK_ARGS },
        { "buffer-size", required_argument, NULL, OPT_BUFFER_SIZE },
        { NULL, 0, NULL, 0 },
    };
    int c;
    char *end;

    memset(o, 0, sizeof *o);
    o->backend = NULL; /* afpacket live, pcap for -r (check_options) */
    o->buffer_mb = 64;
    o->listen = ":9560";
    o->workers = 0; /* auto: the CPUs we may run on for live capture, 1 for a replay */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:i:c:f:w:qVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': o->read_file = optarg; break;
        case 'i': o->iface = optarg; break;
        case 'c': o->config = optarg; break;
        case 'f': o->filter = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'w': {
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (*end || errno || n < 1 || n > MAX_WORKERS || optarg[0] == '-')
                return usage_error("-w: expected a worker count from 1 to 256, got '%s'", optarg);
            o->workers = (unsigned)n;
            o->workers_given = 1;
            break;
        }
        case 'V':
            printf("spanwatch %s (backends: %s)\n", SPANWATCH_VERSION, BACKENDS);
            exit(0);
        case 'h':
            fputs(usage_text, stdout);
            fputs(help_text, stdout);
            exit(0);
        case OPT_BACKEND: o->backend = optarg; break;
        case OPT_METRICS_OUT: o->metrics_out = optarg; break;
        case OPT_ALERTS_OUT: o->alerts_out = optarg; break;
        case OPT_LISTEN: o->listen = optarg; o->listen_given = 1; break;
        case OPT_WEB_CONFIG: o->web_config = optarg; break;
        case OPT_LINGER: o->linger = 1; break;
        case OPT_USER: o->user = optarg; break;
        case OPT_DPDK_ARGS: o->dpdk_args = optarg; break;
        case OPT_BUFFER_SIZE: {
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (*end || errno || n < 1 || n > 4096 || optarg[0] == '-')
                return usage_error("--buffer-size: expected MiB from 1 to 4096, got '%s'", optarg);
            o->buffer_mb = (unsigned)n;
            break;
        }
        case OPT_XDP_MODE:
            if (strcmp(optarg, "auto") && strcmp(optarg, "native") && strcmp(optarg, "skb"))
                return usage_error("--xdp-mode: expected auto, native or skb, got '%s'", optarg);
            o->xdp_mode = optarg;
            break;
        case OPT_CHECK_CONFIG: o->check_config = optarg; break;
        case ':':
            return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return check_options(o);
}
