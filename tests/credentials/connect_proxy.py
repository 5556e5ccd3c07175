#!/usr/bin/env python3
"""A tiny HTTP CONNECT proxy for tests/credentials.sh: what an HTTPS_PROXY in a
VPC does for the AWS calls.

    connect_proxy.py --log LOG      prints "port N" once listening on 127.0.0.1

Each CONNECT host:port is answered "200 Connection established" and the bytes
are relayed both ways (the TLS inside stays end to end); any other request gets
405.  One JSON line per tunnel goes to LOG: {"connect": "host:port"}.
"""
import argparse
import json
import socket
import sys
import threading


def relay(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, log, lock):
    head = b""
    while b"\r\n\r\n" not in head:
        d = conn.recv(4096)
        if not d:
            conn.close()
            return
        head += d
    line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(line) < 2 or line[0] != "CONNECT":
        conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        conn.close()
        return
    host, _, port = line[1].rpartition(":")
    with lock, open(log, "a") as f:
        f.write(json.dumps({"connect": line[1]}) + "\n")
    try:
        up = socket.create_connection((host, int(port)), timeout=10)
        up.settimeout(None)
    except OSError:
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        conn.close()
        return
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    rest = head.split(b"\r\n\r\n", 1)[1]
    if rest:
        up.sendall(rest)
    threading.Thread(target=relay, args=(up, conn), daemon=True).start()
    relay(conn, up)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    print("port %d" % srv.getsockname()[1], flush=True)
    lock = threading.Lock()
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c, args.log, lock), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
