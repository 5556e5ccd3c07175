#!/usr/bin/env python3
"""A delaying TCP proxy for the benchmarks: every chunk read from either side is
delivered to the other side DELAY ms later (order kept), so a client at
127.0.0.1:PORT sees 2 x DELAY of round-trip latency to the server behind it.

    latency_proxy.py --target 127.0.0.1:5432 [--delay-ms 0.5] [--log conns.jsonl]

Prints the port it listens on (127.0.0.1, a free port) as its first line of stdout,
then serves until killed.  For each connection, --log gets {"accepted": ID} when the
client connects and, when the client has sent its EOF, one JSON line (with its "id") with CLOCK_MONOTONIC stamps in ns (time.monotonic_ns, comparable with the
caller's) and what the client sent, read as PostgreSQL's wire protocol:

  t_accept, t_first_byte      connection accepted; first byte from the client
  t_first_query               first chunk holding a query message (Q, P, B or E)
  turns                       client->server turns: chunks the client sent after the
                              server had spoken (or first); each costs one round trip
  turns_after_query           the same, counted from the first query on: the round
                              trips after the connection was set up
  queries                     simple queries (Q) plus extended-protocol Syncs (S)
  c2s_bytes, s2c_bytes

Each direction is a queue: a chunk read at time t is written at t + DELAY, and
the reader never waits for the writer, so the delay is added once per chunk and
never multiplied by the bytes: a bulk transfer takes its direct time + DELAY, a
round trip 2 x DELAY (apply.py checks both at the start of every run).  asyncio,
one task per direction, on a select() selector: epoll's timeouts are whole
milliseconds, select()'s microseconds.  (The first version wrote each direction
through one growing buffer and re-sent it from a single select() loop, which
cost time per byte: 5,000 migrations, 7 MB of SQL, took 16.6 s through it at
5 ms against 5.2 s direct.)
"""
import argparse, asyncio, ctypes, json, selectors, sys, time

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

    def report(self, log, accepted=False):
        """One JSON line: {"accepted": id} when the client connects, the figures when it is
        done sending (its EOF: what comes after it is no client's concern)."""
        if not log:
            return
        rec = {"accepted": id(self)} if accepted else dict(
            id=id(self), **{k: getattr(self, k) for k in ("t_accept", "t_first_byte", "t_first_query", "turns",
                                                          "turns_after_query", "queries", "c2s_bytes",
                                                          "s2c_bytes")})
        with open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")


CHUNK = 1 << 20


async def pump(reader, writer, delay_ns, seen, eof=None):
    """Copy reader to writer, each chunk DELAY_NS after it was read; SEEN(data, now) on
    arrival, EOF() when the reader is done."""
    queue = asyncio.Queue()

    async def read():
        while True:
            try:
                data = await reader.read(CHUNK)
            except OSError:
                data = b""
            now = time.monotonic_ns()
            queue.put_nowait((now + delay_ns, data))
            if not data:
                if eof:
                    eof()
                return
            seen(data, now)

    async def write():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic_ns()
            if wait > 0:
                await asyncio.sleep(wait / 1e9)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
            except OSError:
                return

    await asyncio.gather(read(), write())


async def handle(creader, cwriter, target, delay_ns, log):
    conn = Conn(time.monotonic_ns())
    conn.report(log, accepted=True)
    try:
        sreader, swriter = await asyncio.open_connection(*target)
    except OSError as e:
        print("latency_proxy: connect %s:%d: %s" % (target + (e,)), file=sys.stderr)
        cwriter.close()
        return
    for w in (cwriter, swriter):
        w.transport.set_write_buffer_limits(high=4 * CHUNK)
    await asyncio.gather(pump(creader, swriter, delay_ns, conn.on_client_data, lambda: conn.report(log)),
                         pump(sreader, cwriter, delay_ns, conn.on_server_data))
    cwriter.close()
    swriter.close()


async def serve(target, delay_ns, log):
    server = await asyncio.start_server(lambda r, w: handle(r, w, target, delay_ns, log), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


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
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        loop.run_until_complete(serve((host, int(port)), int(a.delay_ms * 1e6), a.log))
    finally:
        loop.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
