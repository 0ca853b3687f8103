/*
 * tls.h — the cleartext part of TLS (RFC 8446, RFC 5246): record headers,
 * handshake message headers, ClientHello, ServerHello / HelloRetryRequest,
 * the leaf of a TLS <= 1.2 Certificate message and alerts.
 *
 * Pure functions over a byte view, like http.h: every length field is
 * checked against the bytes that hold it, and a malformed message is an
 * error with a decode_error of layer "tls". Certificates themselves are not
 * parsed here (the analyzer hands the leaf's DER to GnuTLS).
 */
#ifndef SPANWATCH_TLS_H
#define SPANWATCH_TLS_H

#include <stdint.h>

#include "decode/decode.h"

#define TLS_RECORD_HEADER 5
/* the largest record any version allows: 2^14 plaintext + 2048 (RFC 5246 6.2.3) */
#define TLS_RECORD_MAX (16384 + 2048)
#define TLS_HS_HEADER 4

enum tls_content {
    TLS_CT_CCS = 20, TLS_CT_ALERT = 21, TLS_CT_HANDSHAKE = 22, TLS_CT_APPDATA = 23,
    TLS_CT_HEARTBEAT = 24,
};

enum tls_hs_type {
    TLS_HS_CLIENT_HELLO = 1, TLS_HS_SERVER_HELLO = 2, TLS_HS_NEW_SESSION_TICKET = 4,
    TLS_HS_CERTIFICATE = 11,
};

/* Protocol versions as label indices (spanwatch_tls_handshakes_total). */
enum tls_version { TLSV_UNKNOWN, TLSV_SSL3, TLSV_1_0, TLSV_1_1, TLSV_1_2, TLSV_1_3, TLSV_COUNT };
extern const char *const tls_version_name[TLSV_COUNT];
/* 0x0300..0x0304 -> TLSV_SSL3..TLSV_1_3, anything else TLSV_UNKNOWN */
enum tls_version tls_version_of(uint16_t wire);

/* Alert descriptions (RFC 8446 6, and the ones older versions defined) as
 * label indices; TLS_ALERT_OTHER for a code no RFC names. */
#define TLS_ALERT_LIST(X)                                                           \
    X(0, close_notify) X(10, unexpected_message) X(20, bad_record_mac)              \
    X(21, decryption_failed) X(22, record_overflow) X(30, decompression_failure)    \
    X(40, handshake_failure) X(41, no_certificate) X(42, bad_certificate)           \
    X(43, unsupported_certificate) X(44, certificate_revoked)                       \
    X(45, certificate_expired) X(46, certificate_unknown) X(47, illegal_parameter)  \
    X(48, unknown_ca) X(49, access_denied) X(50, decode_error) X(51, decrypt_error) \
    X(60, export_restriction) X(70, protocol_version) X(71, insufficient_security)  \
    X(80, internal_error) X(86, inappropriate_fallback) X(90, user_canceled)        \
    X(100, no_renegotiation) X(109, missing_extension) X(110, unsupported_extension) \
    X(111, certificate_unobtainable) X(112, unrecognized_name)                      \
    X(113, bad_certificate_status_response) X(114, bad_certificate_hash_value)      \
    X(115, unknown_psk_identity) X(116, certificate_required)                       \
    X(120, no_application_protocol)

enum tls_alert_kind {
#define X(code, name) TLS_ALERT_##name,
    TLS_ALERT_LIST(X)
#undef X
    TLS_ALERT_OTHER,
    TLS_ALERT_COUNT
};
extern const char *const tls_alert_name[TLS_ALERT_COUNT];
enum tls_alert_kind tls_alert_kind_of(uint8_t description);

struct tls_record {
    uint8_t type;            /* enum tls_content */
    uint16_t version;        /* legacy_record_version */
    uint16_t len;            /* fragment length */
};

enum tls_result { TLS_COMPLETE, TLS_NEED_MORE, TLS_ERROR };

/* The 5-byte record header at the start of b. */
enum tls_result tls_parse_record_header(struct bytes b, struct tls_record *r,
                                        enum decode_error *err);

/* Does b start like a TLS connection's first client bytes: a handshake
 * record (SSL 3.0 .. TLS 1.3 record version) whose first message is a
 * ClientHello? Needs only the first 6 bytes. */
int tls_looks_like_client_hello(struct bytes b);

struct tls_client_hello {
    uint16_t legacy_version;
    uint16_t max_version;    /* highest of supported_versions, else legacy_version */
    struct bytes sni;        /* the first host_name of server_name (empty: none) */
    struct bytes alpn;       /* the first protocol offered (empty: none) */
    uint8_t alpn_count;
};

struct tls_server_hello {
    uint16_t version;        /* supported_versions if present, else legacy_version */
    uint16_t cipher;
    uint8_t hrr;             /* a HelloRetryRequest (RFC 8446 4.1.3) */
};

/* A handshake message body (after its 4-byte header). */
enum tls_result tls_parse_client_hello(struct bytes body, struct tls_client_hello *ch,
                                       enum decode_error *err);
enum tls_result tls_parse_server_hello(struct bytes body, struct tls_server_hello *sh,
                                       enum decode_error *err);
/* The first (leaf) certificate of a TLS <= 1.2 Certificate message body,
 * which may be cut short after it (only the leaf must be whole). */
enum tls_result tls_leaf_certificate(struct bytes body, struct bytes *der,
                                     enum decode_error *err);

#endif
