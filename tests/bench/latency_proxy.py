#!/usr/bin/env python3
"""A delaying TCP proxy for the benchmarks: every chunk read from either side is
delivered to the other side DELAY ms later (order kept), so a client at
127.0.0.1:PORT sees 2 x DELAY of round-trip latency to the server behind it.

    latency_proxy.py --target 127.0.0.1:5432 [--delay-ms 0.5] [--log conns.jsonl]

Prints the port it listens on (127.0.0.1, a free port) as its first line of stdout,
then serves until killed.  For each connection, when it closes, one JSON line goes to
--log, with CLOCK_MONOTONIC stamps in ns (time.monotonic_ns, comparable with the
caller's) and what the client sent, read as PostgreSQL's wire protocol:

  t_accept, t_first_byte      connection accepted; first byte from the client
  t_first_query               first chunk holding a query message (Q, P, B or E)
  turns                       client->server turns: chunks the client sent after the
                              server had spoken (or first); each costs one round trip
  turns_after_query           the same, counted from the first query on: the round
                              trips after the connection was set up
  queries                     simple queries (Q) plus extended-protocol Syncs (S)
  c2s_bytes, s2c_bytes

One thread and select(), not asyncio: asyncio's epoll timeouts round up to whole
milliseconds, which would make 0.5 ms one way into 1 ms; select() takes microseconds.
Threads would add a GIL hand-off to every chunk.
"""
import argparse, collections, ctypes, json, select, socket, sys, time

SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102


class Conn:
    def __init__(self, now):
        self.t_accept = now
        self.t_first_byte = self.t_first_query = None
        self.turns = self.turns_after_query = self.queries = 0
        self.server_spoke = True      # so the first client chunk counts as a turn
        self.c2s_bytes = self.s2c_bytes = 0
        # client stream parser: untyped startup messages, then typed ones
        self.startup = True
        self.buf = b""                # header bytes not yet complete
        self.skip = 0                 # body bytes of the current message still to skip

    def parse_client(self, data):
        """Advance the wire-protocol parser over DATA; return True if it holds a query."""
        query = False
        i, n = 0, len(data)
        while i < n:
            if self.skip:
                k = min(self.skip, n - i)
                self.skip -= k
                i += k
                continue
            need = 8 if self.startup else 5
            take = min(need - len(self.buf), n - i)
            self.buf += data[i:i + take]
            i += take
            if len(self.buf) < need:
                break
            if self.startup:
                length = int.from_bytes(self.buf[0:4], "big")
                code = int.from_bytes(self.buf[4:8], "big")
                if code not in (SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST):
                    self.startup = False
                self.skip = length - 8
            else:
                kind = self.buf[0:1]
                length = int.from_bytes(self.buf[1:5], "big")
                if kind in (b"Q", b"P", b"B", b"E"):
                    query = True
                if kind in (b"Q", b"S"):
                    self.queries += 1
                self.skip = length - 4
            self.buf = b""
        return query

    def on_client_data(self, data, now):
        self.c2s_bytes += len(data)
        if self.t_first_byte is None:
            self.t_first_byte = now
        if self.server_spoke:
            self.turns += 1
            if self.t_first_query is not None:
                self.turns_after_query += 1
        self.server_spoke = False
        if self.parse_client(data) and self.t_first_query is None:
            self.t_first_query = now
            self.turns_after_query += 1

    def on_server_data(self, data, now):
        self.s2c_bytes += len(data)
        self.server_spoke = True

    def report(self, log):
        if not log:
            return
        rec = {k: getattr(self, k) for k in ("t_accept", "t_first_byte", "t_first_query", "turns",
                                             "turns_after_query", "queries", "c2s_bytes", "s2c_bytes")}
        with open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True, help="HOST:PORT of the server")
    ap.add_argument("--delay-ms", type=float, default=0.5, help="one-way delay (default 0.5)")
    ap.add_argument("--log", help="append one JSON line per closed connection")
    a = ap.parse_args()
    try:  # timer slack (50 us by default) would add to every delay
        ctypes.CDLL(None, use_errno=True).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK, 1 ns
    except (OSError, AttributeError):
        pass
    host, port = a.target.rsplit(":", 1)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    print(lsock.getsockname()[1], flush=True)
    serve(lsock, (host, int(port)), int(a.delay_ms * 1e6), a.log)


class Side:
    """One socket and what is queued for it: (deliver at, bytes), then bytes ready to send."""
    def __init__(self, sock, conn, is_client):
        self.sock, self.conn, self.is_client = sock, conn, is_client
        self.peer = None
        self.queue = collections.deque()
        self.out = bytearray()
        self.eof_in = False       # the peer's EOF is due: shut our write side once drained
        self.closed_in = False    # we read EOF from our socket
        self.shut = False


def serve(lsock, target, delay_ns, log):
    """One thread, select() (microsecond timeouts, unlike epoll's milliseconds)."""
    sides = []
    lsock.setblocking(False)
    while True:
        now = time.monotonic_ns()
        # move what is due into the output buffers
        due = None
        for s in sides:
            q = s.peer.queue
            while q and q[0][0] <= now:
                item = q.popleft()
                if item[1] is None:
                    s.eof_in = True
                else:
                    s.out += item[1]
            if q:
                due = q[0][0] if due is None else min(due, q[0][0])
        # write what we can
        for s in sides:
            if s.out:
                try:
                    k = s.sock.send(s.out)
                    del s.out[:k]
                except BlockingIOError:
                    pass
                except OSError:
                    s.out.clear()
            if not s.out and s.eof_in and not s.shut:
                s.shut = True
                try:
                    s.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        # close connections whose both directions are done
        for s in [s for s in sides if s.is_client and s.shut and s.peer.shut]:
            s.sock.close()
            s.peer.sock.close()
            sides.remove(s)
            sides.remove(s.peer)
            s.conn.report(log)
        rl = [lsock] + [s.sock for s in sides if not s.closed_in]
        wl = [s.sock for s in sides if s.out]
        timeout = None if due is None else max(0, (due - time.monotonic_ns()) / 1e9)
        r, w, _ = select.select(rl, wl, [], timeout)
        now = time.monotonic_ns()
        for sock in r:
            if sock is lsock:
                try:
                    client, _ = lsock.accept()
                except BlockingIOError:
                    continue
                try:
                    server = socket.create_connection(target)
                except OSError as e:
                    print("latency_proxy: connect %s:%d: %s" % (target + (e,)), file=sys.stderr)
                    client.close()
                    continue
                conn = Conn(now)
                cs, ss = Side(client, conn, True), Side(server, conn, False)
                cs.peer, ss.peer = ss, cs
                for x in (client, server):
                    x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    x.setblocking(False)
                sides += [cs, ss]
                continue
            s = next(x for x in sides if x.sock is sock)
            try:
                data = sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            # what this side reads goes to the peer, after the delay: queued on this side
            s.queue.append((now + delay_ns, data or None))
            if data:
                (s.conn.on_client_data if s.is_client else s.conn.on_server_data)(data, now)
            else:
                s.closed_in = True


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
