/*
 * bench-baseline.c — the reference point of scripts/bench: the cheapest
 * possible pass over a capture file with libpcap. Reads every record with
 * pcap_next_ex() and touches one byte of each packet, nothing else.
 * Built by scripts/bench (cc -O2 bench-baseline.c -lpcap).
 */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: bench-baseline FILE.pcap\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "bench-baseline: %s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned long long packets = 0;
    unsigned sum = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        if (h->caplen > 0)
            sum += data[h->caplen - 1];
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "bench-baseline: %s\n", pcap_geterr(p));
    printf("%llu packets (checksum %u)\n", packets, sum);
    pcap_close(p);
    return rc == PCAP_ERROR;
}
