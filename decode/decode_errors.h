/*
 * decode_errors.h — every reason a packet can be rejected, as (layer, reason)
 * pairs. Each one is a label set of spanwatch_decode_errors_total. The list is
 * an X-macro so the enum and its string table cannot drift apart.
 */
#ifndef SPANWATCH_DECODE_ERRORS_H
#define SPANWATCH_DECODE_ERRORS_H

#define DECODE_ERROR_LIST(X)                                       \
    X(TS_BACKWARDS, "capture", "timestamp_backwards")              \
    X(TS_JUMP, "capture", "timestamp_jump")                        \
    X(TS_LATE, "capture", "late_for_window")                       \
    X(LINK_UNSUPPORTED, "link", "unsupported_linktype")            \
    X(LINK_TRUNCATED, "link", "truncated")                         \
    X(LINK_BAD_FAMILY, "link", "bad_family")                       \
    X(ETH_TRUNCATED, "ethernet", "truncated")                      \
    X(VLAN_TRUNCATED, "vlan", "truncated")                         \
    X(VLAN_TOO_DEEP, "vlan", "too_many_tags")                      \
    X(MPLS_TRUNCATED, "mpls", "truncated")                         \
    X(MPLS_TOO_MANY_LABELS, "mpls", "too_many_labels")             \
    X(MPLS_BAD_PAYLOAD, "mpls", "bad_payload")                     \
    X(PPPOE_TRUNCATED, "pppoe", "truncated")                       \
    X(PPPOE_BAD_HEADER, "pppoe", "bad_header")                     \
    X(IPV4_TRUNCATED, "ipv4", "truncated")                         \
    X(IPV4_BAD_VERSION, "ipv4", "bad_version")                     \
    X(IPV4_BAD_HLEN, "ipv4", "bad_header_length")                  \
    X(IPV4_BAD_TOTLEN, "ipv4", "bad_total_length")                 \
    X(IPV4_BAD_OPTION, "ipv4", "bad_option")                       \
    X(IPV6_TRUNCATED, "ipv6", "truncated")                         \
    X(IPV6_BAD_VERSION, "ipv6", "bad_version")                     \
    X(IPV6_BAD_PLEN, "ipv6", "bad_payload_length")                 \
    X(IPV6_BAD_EXTHDR, "ipv6", "bad_extension_header")             \
    X(IPV6_TOO_MANY_EXT, "ipv6", "too_many_extension_headers")     \
    X(GRE_TRUNCATED, "gre", "truncated")                           \
    X(GRE_BAD_VERSION, "gre", "bad_version")                       \
    X(GRE_BAD_FLAGS, "gre", "bad_flags")                           \
    X(ERSPAN_TRUNCATED, "erspan", "truncated")                     \
    X(ERSPAN_BAD_VERSION, "erspan", "bad_version")                 \
    X(VXLAN_TRUNCATED, "vxlan", "truncated")                       \
    X(VXLAN_BAD_FLAGS, "vxlan", "bad_flags")                       \
    X(GENEVE_TRUNCATED, "geneve", "truncated")                     \
    X(GENEVE_BAD_VERSION, "geneve", "bad_version")                 \
    X(GENEVE_BAD_OPTIONS, "geneve", "bad_options_length")          \
    X(GTPU_TRUNCATED, "gtpu", "truncated")                         \
    X(GTPU_BAD_VERSION, "gtpu", "bad_version")                     \
    X(GTPU_BAD_EXTENSION, "gtpu", "bad_extension_header")          \
    X(ENCAP_TOO_DEEP, "encap", "too_deep")                         \
    X(ENCAP_FRAGMENTED_TWICE, "encap", "fragmented_twice")         \
    X(FRAG_BAD_OFFSET, "ipfrag", "bad_offset")                     \
    X(FRAG_TOO_LARGE, "ipfrag", "too_large")                       \
    X(FRAG_TIMEOUT, "ipfrag", "timeout")                           \
    X(FRAG_NO_MEMORY, "ipfrag", "memory_cap")                      \
    X(TCP_TRUNCATED, "tcp", "truncated")                           \
    X(TCP_BAD_OFFSET, "tcp", "bad_data_offset")                    \
    X(TCP_BAD_OPTION, "tcp", "bad_option")                         \
    X(UDP_TRUNCATED, "udp", "truncated")                           \
    X(UDP_BAD_LENGTH, "udp", "bad_length")                         \
    X(DNS_TRUNCATED, "dns", "truncated")                           \
    X(DNS_BAD_NAME, "dns", "bad_name")                             \
    X(DNS_NAME_LOOP, "dns", "compression_loop")                    \
    X(DNS_NAME_TOO_LONG, "dns", "name_too_long")                   \
    X(DNS_TCP_BAD_LENGTH, "dns", "bad_tcp_length")                 \
    X(DNS_PENDING_FULL, "dns", "pending_table_full")               \
    X(HTTP_BAD_START_LINE, "http", "bad_start_line")               \
    X(HTTP_BAD_HEADER, "http", "bad_header")                       \
    X(HTTP_HEADER_TOO_LARGE, "http", "header_too_large")           \
    X(HTTP_BAD_LENGTH, "http", "bad_content_length")               \
    X(HTTP_BAD_CHUNK, "http", "bad_chunk")                         \
    X(HTTP_PIPELINE_FULL, "http", "pipeline_full")                 \
    X(TLS_BAD_RECORD, "tls", "bad_record")                         \
    X(TLS_RECORD_TOO_LONG, "tls", "record_too_long")               \
    X(TLS_BAD_HANDSHAKE, "tls", "bad_handshake")                   \
    X(TLS_BAD_CLIENT_HELLO, "tls", "bad_client_hello")             \
    X(TLS_BAD_SERVER_HELLO, "tls", "bad_server_hello")             \
    X(TLS_BAD_EXTENSION, "tls", "bad_extension")                   \
    X(TLS_BAD_CERTIFICATE, "tls", "bad_certificate")               \
    X(TLS_BAD_ALERT, "tls", "bad_alert")                           \
    X(STREAM_NO_MEMORY, "tcp_stream", "buffer_cap")

enum decode_error {
#define X(id, layer, reason) DERR_##id,
    DECODE_ERROR_LIST(X)
#undef X
    DERR_COUNT
};

extern const char *const decode_error_layer[DERR_COUNT];
extern const char *const decode_error_reason[DERR_COUNT];

#endif
