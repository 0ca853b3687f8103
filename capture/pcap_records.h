/*
 * pcap_records.h — classic pcap records read in place (pcap_file.c's
 * direct reader and the workers' shared reading of a mapped file, pool.c).
 *
 * A record is taken only when it is plainly well formed: its captured
 * length is within the file's snapshot length and 512 KiB, all its bytes
 * are there, and its header is not all zeros.
 * Anything else is left to libpcap (its behaviour and error messages),
 * positioned at that record.
 */
#ifndef SPANWATCH_PCAP_RECORDS_H
#define SPANWATCH_PCAP_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture/source.h"

#define PCAP_FILE_HEADER 24u
#define PCAP_RECORD_HEADER 16u
/* larger records go to libpcap (pcap_file.c reads in 512 KiB blocks, and
 * its libpcap path skips records over 1 MiB; DBUS and EBHSCR allow more) */
#define PCAP_RECORD_MAX_CAPLEN ((512u << 10) - PCAP_RECORD_HEADER)

struct pcap_format {
    uint32_t snap;      /* libpcap's snapshot length for the file */
    uint8_t swapped;    /* file byte order differs from ours */
    uint8_t nano;       /* nanosecond timestamps */
};

static inline uint32_t pcap_rec_u32(const struct pcap_format *f, const uint8_t *at)
{
    uint32_t v;
    memcpy(&v, at, 4);
    return f->swapped ? __builtin_bswap32(v) : v;
}

/* The record at rec (avail bytes from there): its packet in *p and its
 * size, or 0 when it is not plainly well formed or not all in avail. */
static inline size_t pcap_record(const struct pcap_format *f, const uint8_t *rec, size_t avail,
                                 struct sw_packet *p)
{
    if (avail < PCAP_RECORD_HEADER)
        return 0;
    uint32_t caplen = pcap_rec_u32(f, rec + 8), len = pcap_rec_u32(f, rec + 12);
    if (caplen > f->snap || caplen > PCAP_RECORD_MAX_CAPLEN ||
        caplen > avail - PCAP_RECORD_HEADER)
        return 0;
    uint32_t sec = pcap_rec_u32(f, rec), frac = pcap_rec_u32(f, rec + 4);
    /* a header of zeros: what a file cut short under a mapping reads as
     * past its end (the rest of its last page); libpcap takes it from here */
    if ((sec | frac | caplen | len) == 0)
        return 0;
    p->data = rec + PCAP_RECORD_HEADER;
    p->caplen = caplen;
    p->wirelen = len < caplen ? caplen : len;
    p->ts_ns = (uint64_t)sec * 1000000000ull + (f->nano ? frac : (uint64_t)frac * 1000u);
    return PCAP_RECORD_HEADER + (size_t)caplen;
}

/* pcap_record() took nothing because the record is not all in avail yet,
 * though its header is plainly well formed: read more and look again.
 * (Anything else it did not take goes to libpcap.) */
static inline int pcap_record_short(const struct pcap_format *f, const uint8_t *rec,
                                    size_t avail)
{
    if (avail < PCAP_RECORD_HEADER)
        return 0;
    uint32_t caplen = pcap_rec_u32(f, rec + 8);
    return caplen <= f->snap && caplen <= PCAP_RECORD_MAX_CAPLEN &&
           caplen > avail - PCAP_RECORD_HEADER;
}

#endif
