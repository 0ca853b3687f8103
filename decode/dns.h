/*
 * dns.h — DNS message header and first-question parser.
 *
 * Only what matching and metrics need is decoded: ID, QR, opcode, rcode,
 * section counts, and the first question (name hashed case-insensitively,
 * type, class). Name decompression is bounded: a pointer must point to an
 * earlier offset than the label that holds it (so it cannot loop), at most
 * DNS_MAX_HOPS pointers are followed, and a name longer than 255 bytes on
 * the wire format is rejected.
 */
#ifndef SPANWATCH_DNS_H
#define SPANWATCH_DNS_H

#include <stdint.h>

#include "decode/decode.h"

#define DNS_HEADER_LEN 12
#define DNS_MAX_NAME 255
#define DNS_MAX_HOPS 16

struct dns_msg {
    uint16_t id;
    uint8_t qr;
    uint8_t opcode;
    uint8_t rcode;
    uint8_t tc;
    uint16_t qdcount, ancount, nscount, arcount;
    uint8_t has_question;
    uint16_t qtype, qclass;
    uint16_t qname_len;        /* bytes of the dotted name (labels may contain any byte, NUL too) */
    uint64_t qhash;            /* of lowercased name, type and class; 0 if no question */
    char qname[DNS_MAX_NAME + 1 + 8]; /* + 8: room for word-sized stores */
};

enum decode_error dns_parse(struct bytes b, struct dns_msg *out);

#endif
