#!/usr/bin/env python3
"""Holds N idle TLS keep-alive connections to HOST:PORT, each presenting a client
certificate and having made one request: the reference for the server's memory per
idle agent connection (bench/connection_memory measures nginx with it).
Usage: idle_tls_clients.py HOST PORT N CERT KEY   -- prints "ready N" then waits for
stdin to close (or a signal), and closes everything."""
import socket
import ssl
import sys


def main():
    host, port, n, cert, key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the reference server's identity is not what is measured
    ctx.load_cert_chain(cert, key)
    request = f"POST /v1/checkin HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n\r\n{{}}".encode()
    held = []
    for _ in range(n):
        raw = socket.create_connection((host, port), timeout=30)
        tls = ctx.wrap_socket(raw, server_hostname=host)
        tls.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = tls.recv(4096)
            if not chunk:
                sys.exit(f"idle_tls_clients: {host}:{port} closed a connection")
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 200"):
            sys.exit(f"idle_tls_clients: unexpected answer {answer[:40]!r}")
        held.append(tls)
    print(f"ready {len(held)}", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
