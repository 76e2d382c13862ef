#!/usr/bin/env python3
"""Fairness and per-client bounds under hostile load (issue 18, items 5/6).

Like stall_probe.py (whose helpers it uses): starts memkv and real Redis and
measures another client's PING p50/p99/max while one client
  - streams a 64 MB pipeline of SETs in one go (read fairness),
  - publishes 200 x 1 MB to subscribers that read slowly or never (write
    fairness, the issue 12 flood),
and reports the server's peak RSS after a client pipelines 2 M GETs of a
1 KB value without reading its replies (bounded output).

Usage: scripts/fairness_probe.py [path/to/memkv]
"""
import multiprocessing, os, socket, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stall_probe as sp  # noqa: E402


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return -1


def in_process(body, *args):
    """Runs body(*args) in another process (the probe's PING thread must not
    share a GIL with the load) and waits for it."""
    def heavy():
        p = multiprocessing.Process(target=body, args=args)
        p.start()
        p.join()
    return heavy


def scenarios(port):
    def pipeline_64mb():
        cmd = sp.enc("SET", "k", "v" * 100)
        n = (64 << 20) // len(cmd)
        data = cmd * n

        def heavy():
            h = sp.Conn(port)
            reader_done = threading.Event()

            def drain():
                got = 0
                want = n * 5  # "+OK\r\n"
                while got < want:
                    d = h.s.recv(1 << 20)
                    if not d:
                        break
                    got += len(d)
                reader_done.set()
            t = threading.Thread(target=drain)
            t.start()
            h.s.sendall(data)
            t.join()
        return in_process(heavy)

    def flood(readers):
        def heavy():
            subs = []
            for i in range(readers + 1):
                s = sp.Conn(port)
                s.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
                s.s.sendall(sp.enc("SUBSCRIBE", "flood"))
                s.reply()
                subs.append(s)
            stop = threading.Event()

            def slow_read(s):
                # Reads 64 KB every millisecond: ~64 MB/s, slower than the flood.
                try:
                    while not stop.is_set():
                        if not s.s.recv(64 * 1024):
                            return
                        time.sleep(0.001)
                except OSError:
                    pass
            ts = [threading.Thread(target=slow_read, args=(s,)) for s in subs[1:]]
            for t in ts:
                t.start()
            pub = sp.Conn(port)
            payload = b"x" * (1 << 20)
            for _ in range(200):
                pub.cmd("PUBLISH", "flood", payload)
            stop.set()
            for s in subs:
                s.s.close()
            for t in ts:
                t.join()
        return in_process(heavy)

    return [("64 MB pipeline of SETs in one write", pipeline_64mb),
            ("PUBLISH 200 x 1 MB, 1 stuck subscriber", lambda: flood(0)),
            ("PUBLISH 200 x 1 MB, 1 stuck + 4 slow subscribers", lambda: flood(4))]


def unread_gets(port, pid):
    c = sp.Conn(port)
    c.cmd("SET", "v", "x" * 1024)
    h = socket.create_connection(("127.0.0.1", port))
    h.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    h.setblocking(False)
    req = sp.enc("GET", "v") * 10000
    sent = 0
    deadline = time.time() + 20
    while sent < 2000000 and time.time() < deadline:
        try:
            h.send(req)
            sent += 10000
        except BlockingIOError:
            time.sleep(0.01)
    time.sleep(0.5)
    rss = peak_rss_mb(pid)
    h.close()
    return "%d GETs sent in 20 s, peak RSS %d MB" % (sent, rss)


def main():
    multiprocessing.set_start_method("fork")
    results = {}
    for kind in ("memkv", "redis"):
        port = sp.free_port()
        with tempfile.TemporaryDirectory() as d:
            p = sp.start(kind, port, d)
            try:
                for name, setup in scenarios(port):
                    heavy = setup()
                    results.setdefault(name, {})[kind] = sp.summary(sp.probe(port, heavy))
                    sp.Conn(port).cmd("FLUSHALL")
            finally:
                p.kill()
                p.wait()
        port = sp.free_port()
        with tempfile.TemporaryDirectory() as d:
            p = sp.start(kind, port, d)
            try:
                results.setdefault("2 M GETs of 1 KB pipelined, never read", {})[kind] = unread_gets(port, p.pid)
            finally:
                p.kill()
                p.wait()
    for name, r in results.items():
        print(name)
        for kind in ("memkv", "redis"):
            print("  %-6s %s" % (kind, r.get(kind)))


if __name__ == "__main__":
    main()
