#!/usr/bin/env python3
"""Measures how long one client's heavy command stalls everyone else.

Starts memkv (release build) and real Redis on free loopback ports, and for
each scenario: loads the data, then runs a PING probe (one connection, one
PING at a time) while another connection issues the heavy command. Prints
the probe's p50 / p99 / max latency in ms for both servers.

Usage: scripts/stall_probe.py [path/to/memkv]   (default target/release/memkv)
       ONLY=<text> runs only the scenarios whose name contains it.
"""
import os, socket, subprocess, sys, tempfile, threading, time

MEMKV = sys.argv[1] if len(sys.argv) > 1 else "target/release/memkv"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def enc(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(1 << 16)
            if not d:
                raise EOFError
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(1 << 16)
            if not d:
                raise EOFError
            self.buf += d

    def reply(self):
        line = self._line()
        t = line[:1]
        if t in (b"+", b"-", b":"):
            return line
        if t == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            self._need(n + 2)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t == b"*":
            n = int(line[1:])
            return [self.reply() for _ in range(max(n, 0))]
        raise ValueError(line)

    def cmd(self, *args):
        self.s.sendall(enc(*args))
        return self.reply()

    def pipeline(self, cmds):
        self.s.sendall(b"".join(enc(*c) for c in cmds))
        for _ in cmds:
            self.reply()


def start(kind, port, d):
    if kind == "memkv":
        argv = [MEMKV, "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                "--enable-debug-command", "yes", "--loglevel", "warning"]
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                "--save", "", "--appendonly", "no", "--enable-debug-command", "yes"]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            Conn(port).cmd("PING")
            return p
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(kind + " did not start")


def probe(port, heavy):
    """Runs heavy() on its own connection while PINGing; returns latencies."""
    c = Conn(port)
    lat = []
    done = threading.Event()

    def run():
        try:
            heavy()
        finally:
            done.set()

    t = threading.Thread(target=run)
    start_t = time.perf_counter()
    t.start()
    while not done.is_set() or time.perf_counter() - start_t < 0.2:
        t0 = time.perf_counter()
        c.cmd("PING")
        lat.append((time.perf_counter() - t0) * 1000)
    t.join()
    return lat


def summary(lat):
    lat = sorted(lat)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    return "p50 %.2f  p99 %.2f  max %.1f ms (%d pings)" % (pick(0.5), pick(0.99), lat[-1], len(lat))


def scenarios(port):
    c = Conn(port)

    def flushall_1m():
        c.cmd("FLUSHALL")
        c.cmd("DEBUG", "POPULATE", 1000000)
        return lambda: Conn(port).cmd("FLUSHALL")

    def del_big_list():
        c.cmd("FLUSHALL")
        for i in range(0, 3000000, 100000):
            c.pipeline([("RPUSH", "big", *range(j, j + 1000)) for j in range(i, i + 100000, 1000)])
        return lambda: Conn(port).cmd("DEL", "big")

    def multi_rpush_big_list():
        c.cmd("FLUSHALL")
        for i in range(0, 3000000, 100000):
            c.pipeline([("RPUSH", "big", *range(j, j + 1000)) for j in range(i, i + 100000, 1000)])

        def heavy():
            h = Conn(port)
            h.pipeline([("MULTI",), ("RPUSH", "big", "x"), ("EXEC",)])
        return heavy

    def rewrite_then_flushall():
        c.cmd("FLUSHALL")
        c.cmd("DEBUG", "POPULATE", 1000000)
        for i in range(0, 3000000, 100000):
            c.pipeline([("RPUSH", "big", *range(j, j + 1000)) for j in range(i, i + 100000, 1000)])

        def heavy():
            h = Conn(port)
            h.cmd("BGREWRITEAOF")
            time.sleep(0.05)
            h.cmd("FLUSHALL")
            # Until the rewrite is over.
            while b"aof_rewrite_in_progress:1" in h.cmd("INFO", "persistence"):
                time.sleep(0.01)
        return heavy

    def rewrite_then_write_big():
        # The big values are created first, so the walk (top index down)
        # reaches them last: the writes hit values it still owes.
        c.cmd("FLUSHALL")
        for i in range(0, 3000000, 100000):
            c.pipeline([("RPUSH", "big", *range(j, j + 1000)) for j in range(i, i + 100000, 1000)])
        for i in range(0, 1000000, 100000):
            c.pipeline([("ZADD", "bigz", *[x for m in range(j, j + 1000) for x in (m, "m%d" % m)])
                        for j in range(i, i + 100000, 1000)])
        c.cmd("DEBUG", "POPULATE", 1000000)

        def heavy():
            h = Conn(port)
            h.cmd("BGREWRITEAOF")
            time.sleep(0.05)
            h.cmd("RPUSH", "big", "x")
            h.cmd("ZADD", "bigz", 1, "new")
            while b"aof_rewrite_in_progress:1" in h.cmd("INFO", "persistence"):
                time.sleep(0.01)
        return heavy

    def setbit_far_new_key():
        c.cmd("FLUSHALL")
        return lambda: Conn(port).cmd("SETBIT", "bits", 4294967295, 1)

    def setbit_far_growing():
        c.cmd("FLUSHALL")
        c.cmd("SETBIT", "bits", 7, 1)
        return lambda: Conn(port).cmd("SETBIT", "bits", 4294967295, 1)

    stuck = []

    def publish_flood(subscribed):
        def setup():
            c.cmd("FLUSHALL")
            for s in stuck:
                s.s.close()
            stuck.clear()
            if subscribed:
                # A subscriber that never reads, with a small receive window
                # so the kernel does not absorb the flood: dropped at the
                # pubsub hard limit (32 MB).
                sub = Conn(port)
                sub.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
                sub.cmd("SUBSCRIBE", "flood")
                stuck.append(sub)
            payload = b"x" * (1 << 20)

            def heavy():
                h = Conn(port)
                for _ in range(200):
                    h.cmd("PUBLISH", "flood", payload)
            return heavy
        return setup

    return [("PUBLISH 200 x 1 MB to a stuck subscriber", publish_flood(True)),
            ("PUBLISH 200 x 1 MB, no subscriber", publish_flood(False)),
            ("SETBIT 2^32-1 on a new key (512 MB)", setbit_far_new_key),
            ("SETBIT 2^32-1 growing a 1-byte string (512 MB)", setbit_far_growing),
            ("FLUSHALL of 1M keys", flushall_1m),
            ("BGREWRITEAOF of 1M keys + a 3M list, FLUSHALL during it", rewrite_then_flushall),
            ("BGREWRITEAOF of 1M keys + a 3M list + a 1M zset, both written during it",
             rewrite_then_write_big), ("DEL of a 3M-element list", del_big_list),
            ("MULTI RPUSH on a 3M-element list", multi_rpush_big_list)]


def main():
    results = {}
    for kind in ("memkv", "redis"):
        port = free_port()
        with tempfile.TemporaryDirectory() as d:
            p = start(kind, port, d)
            try:
                only = os.environ.get("ONLY", "")
                for name, setup in scenarios(port):
                    if only and only not in name:
                        continue
                    heavy = setup()
                    results.setdefault(name, {})[kind] = summary(probe(port, heavy))
            finally:
                p.kill()
                p.wait()
    for name, r in results.items():
        print(name)
        for kind in ("memkv", "redis"):
            print("  %-6s %s" % (kind, r.get(kind)))


if __name__ == "__main__":
    main()
