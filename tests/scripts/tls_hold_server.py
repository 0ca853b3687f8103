#!/usr/bin/python3
"""tls_hold_server.py ADDR PORT — accepts connections and never answers
(a TLS server that hangs in its handshake), for tls_test.sh. Exits after 60 s."""
import socket
import sys
import time

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
s.settimeout(60)
held = []
deadline = time.time() + 60
while time.time() < deadline:
    try:
        c, _ = s.accept()
        held.append(c)
    except socket.timeout:
        break
