/*
 * bench-sender.c — the traffic source of `scripts/bench scale`'s live part:
 * THREADS threads, each pinned to its own CPU (FIRST_CPU, FIRST_CPU + 1, ...),
 * send Ethernet/IPv4/UDP frames of SIZE bytes (default 64) out of IFACE as
 * fast as sendmmsg(2) on an AF_PACKET socket allows, for SECONDS. Each
 * thread cycles through 4,096 flows of its own (source ports), so a fanout
 * has something to spread. Prints one line: "sent N packets in S s by T
 * threads" (the sum over threads). Root (CAP_NET_RAW).
 *
 *   bench-sender IFACE THREADS SECONDS [SIZE] [FIRST_CPU]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOWS 4096
#define BATCH 64

static int ifindex;
static unsigned size = 64, seconds;
static int first_cpu;

struct thr {
    pthread_t t;
    unsigned id;
    uint64_t sent;
};

static uint16_t ip_csum(const uint8_t *h)
{
    uint32_t s = 0;
    for (int i = 0; i < 20; i += 2)
        s += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void frame(uint8_t *f, unsigned thread, unsigned flow)
{
    static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 }, src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
    memset(f, 0, size);
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    unsigned iplen = size - 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(iplen >> 8);
    ip[3] = (uint8_t)iplen;
    ip[8] = 64;
    ip[9] = 17;
    ip[12] = 10, ip[13] = 200, ip[14] = (uint8_t)thread, ip[15] = 1;
    ip[16] = 10, ip[17] = 201, ip[18] = 0, ip[19] = 1;
    uint16_t c = ip_csum(ip);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    uint8_t *udp = ip + 20;
    unsigned sport = 10000 + flow, ulen = iplen - 20;
    udp[0] = (uint8_t)(sport >> 8), udp[1] = (uint8_t)sport;
    udp[2] = 0x13, udp[3] = 0x89; /* 5001 */
    udp[4] = (uint8_t)(ulen >> 8), udp[5] = (uint8_t)ulen;
}

static void *run(void *arg)
{
    struct thr *t = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((first_cpu + (int)t->id) % CPU_SETSIZE, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) {
        perror("bench-sender: socket");
        return NULL;
    }
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };
    uint8_t *frames = malloc((size_t)FLOWS * size);
    if (!frames)
        return NULL;
    for (unsigned i = 0; i < FLOWS; i++)
        frame(frames + (size_t)i * size, t->id, i);
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += seconds;
    unsigned next = 0;
    for (;;) {
        for (unsigned i = 0; i < BATCH; i++) {
            iov[i].iov_base = frames + (size_t)next * size;
            iov[i].iov_len = size;
            next = (next + 1) % FLOWS;
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_name = &sll;
            msgs[i].msg_hdr.msg_namelen = sizeof sll;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = sendmmsg(fd, msgs, BATCH, 0);
        if (n > 0)
            t->sent += (uint64_t)n;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            break;
    }
    close(fd);
    free(frames);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench-sender IFACE THREADS SECONDS [SIZE] [FIRST_CPU]\n");
        return 2;
    }
    ifindex = (int)if_nametoindex(argv[1]);
    unsigned n = (unsigned)atoi(argv[2]);
    seconds = (unsigned)atoi(argv[3]);
    if (argc > 4)
        size = (unsigned)atoi(argv[4]);
    if (argc > 5)
        first_cpu = atoi(argv[5]);
    if (!ifindex || n < 1 || n > 256 || size < 60 || size > 1514 || seconds < 1) {
        fprintf(stderr, "bench-sender: bad arguments\n");
        return 2;
    }
    struct thr *t = calloc(n, sizeof *t);
    if (!t)
        return 1;
    for (unsigned i = 0; i < n; i++) {
        t[i].id = i;
        pthread_create(&t[i].t, NULL, run, &t[i]);
    }
    uint64_t sum = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(t[i].t, NULL);
        sum += t[i].sent;
    }
    printf("sent %llu packets in %u s by %u threads\n", (unsigned long long)sum, seconds, n);
    free(t);
    return 0;
}
