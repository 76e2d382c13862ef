#!/usr/bin/env python3
"""Cache hit rate of one server under a skewed (Zipf) GET/SET workload.

A seeded Zipf(s) stream of key ranks over KEYS keys drives a cache-aside
loop: GET key; on a miss, SET key <VALUE bytes>. Requests go out in
pipelined batches over one raw socket (no dependencies beyond Python 3).
The same seed gives the same stream for every server, so hit rates of
memkv and Redis under the same maxmemory and policy can be compared
(scripts/bench.sh ZIPF=1 does that).

Usage: zipf_hitrate.py PORT [--keys N] [--ops N] [--warmup N] [--s S]
                            [--value N] [--seed N] [--pipeline N]
Prints one line: `hits gets hit_rate_after_warmup hit_rate_overall`.
"""

import argparse
import bisect
import itertools
import random
import socket
import sys


def zipf_ranks(keys, s, ops, seed):
    """`ops` key ranks in 0..keys-1, rank r drawn with weight 1/(r+1)^s."""
    cdf = list(itertools.accumulate(1.0 / (r + 1) ** s for r in range(keys)))
    total = cdf[-1]
    rnd = random.Random(seed)
    return [bisect.bisect_left(cdf, rnd.random() * total) for _ in range(ops)]


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def _fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._fill()

    def reply(self):
        """One reply: None for a null bulk, bytes for a bulk, else the line
        (`-OOM ...` for a SET refused is counted as not stored)."""
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            val = self.buf[self.pos:self.pos + n]
            self.pos += n + 2
            return val
        return line

    def send(self, data):
        self.s.sendall(data)


def command(*parts):
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--ops", type=int, default=2_000_000)
    ap.add_argument("--warmup", type=int, default=500_000)
    ap.add_argument("--s", type=float, default=1.0)
    ap.add_argument("--value", type=int, default=100)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--pipeline", type=int, default=200)
    a = ap.parse_args()

    ranks = zipf_ranks(a.keys, a.s, a.ops, a.seed)
    c = Conn(a.port)
    value = b"v" * a.value
    hits = hits_warm = 0
    gets_warm = 0
    for start in range(0, a.ops, a.pipeline):
        batch = ranks[start:start + a.pipeline]
        names = [b"key:%d" % r for r in batch]
        c.send(b"".join(command(b"GET", k) for k in names))
        missed = []
        for i, k in enumerate(names):
            r = c.reply()
            if r is None:
                missed.append(k)
            elif r[:1] == b"-":
                raise RuntimeError(r.decode(errors="replace"))
            else:
                hits += 1
                if start + i >= a.warmup:
                    hits_warm += 1
            if start + i >= a.warmup:
                gets_warm += 1
        if missed:
            c.send(b"".join(command(b"SET", k, value) for k in missed))
            for _ in missed:
                c.reply()
    warm = hits_warm / gets_warm if gets_warm else 0.0
    print(hits, a.ops, f"{warm:.4f}", f"{hits / a.ops:.4f}")


if __name__ == "__main__":
    sys.exit(main())
