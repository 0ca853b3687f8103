#!/usr/bin/python3
"""tls_client.py rst|hold HOST PORT SNI [SECONDS] — a TLS client that never
completes its handshake, for tls_test.sh: it sends a real ClientHello (made by
Python's ssl module through a memory BIO) and then either resets the
connection at once (rst: SO_LINGER 0, so close() sends RST) or waits SECONDS
without answering whatever comes back and closes normally (hold)."""
import socket
import ssl
import struct
import sys
import time

mode, host, port, sni = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname=sni)
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
s = socket.create_connection((host, port), timeout=5)
s.sendall(hello)
if mode == "rst":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
else:
    time.sleep(float(sys.argv[5]))
s.close()
