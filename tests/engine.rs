//! The engine's promises under hostile or unusual clients: work that
//! arrives with the client's end-of-file is still done and answered, and
//! commands whose size is chosen by the client cost time linear in it.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::Server;

/// Runs `cmds` in a transaction that then fails (INCR of the non-integer
/// `s`) and is rolled back, asserting each reply.
fn failing_tx(raw: &mut common::Raw, cmds: &[&[&[u8]]]) {
    assert_eq!(raw.cmd(&[b"MULTI"]), b"+OK\r\n");
    for cmd in cmds {
        assert_eq!(raw.cmd(cmd), b"+QUEUED\r\n");
    }
    assert_eq!(raw.cmd(&[b"INCR", b"s"]), b"+QUEUED\r\n");
    let exec = raw.cmd(&[b"EXEC"]);
    assert!(
        exec.starts_with(b"-EXECABORT Transaction rolled back"),
        "{}",
        String::from_utf8_lossy(&exec)
    );
}

/// Sends `bytes`, half-closes, and reads everything until the server
/// closes.
fn send_and_half_close(srv: &Server, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .expect("server closes after answering");
    out
}

#[test]
fn commands_sent_with_the_fin_are_run_and_answered() {
    let srv = Server::start(&[]);
    let got = send_and_half_close(&srv, b"SET k v\r\nINCR n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    assert_eq!(got, b"+OK\r\n:1\r\n$1\r\nv\r\n");
    let mut c = srv.conn();
    let n: i64 = redis::cmd("GET").arg("n").query(&mut c).unwrap();
    assert_eq!(n, 1);
    // A command cut short by the FIN is dropped, what came before it runs.
    let got = send_and_half_close(&srv, b"INCR n\r\n*2\r\n$4\r\nINCR\r\n$1\r\n");
    assert_eq!(got, b":2\r\n");
    // Nothing to answer: the connection just closes.
    assert_eq!(send_and_half_close(&srv, b""), b"");
    // A big pipeline whose replies do not fit the socket buffers at once.
    let mut req = Vec::new();
    for _ in 0..20_000 {
        req.extend_from_slice(b"INCR big\r\n");
    }
    let got = send_and_half_close(&srv, &req);
    assert!(got.ends_with(b":20000\r\n"), "{}", got.len());
    let mut c = srv.conn();
    let n: i64 = redis::cmd("GET").arg("big").query(&mut c).unwrap();
    assert_eq!(n, 20_000);
}

#[test]
fn fin_behaviour_matches_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let memkv = Server::start(&[]);
    let req = b"SET a 1\r\nPING\r\nGET a\r\nQUIT\r\nPING\r\n";
    assert_eq!(
        send_and_half_close(&memkv, req),
        send_and_half_close(&redis, req)
    );
    let req = b"BLPOP nolist 0\r\n";
    assert_eq!(
        send_and_half_close(&memkv, req),
        send_and_half_close(&redis, req)
    );
}

/// `cmd key0 ... key{n-1} tail...` as one RESP request.
fn many_keys_request(cmd: &str, n: usize, tail: &[&str]) -> Vec<u8> {
    let mut req = format!("*{}\r\n${}\r\n{cmd}\r\n", n + 1 + tail.len(), cmd.len()).into_bytes();
    for i in 0..n {
        let k = format!("key:{i}");
        req.extend_from_slice(format!("${}\r\n{k}\r\n", k.len()).as_bytes());
    }
    for t in tail {
        req.extend_from_slice(format!("${}\r\n{t}\r\n", t.len()).as_bytes());
    }
    req
}

/// WATCH and BLPOP of 300,000 keys: each key costs O(1) (a set), where a
/// scan of the keys seen so far made these ~4.5e10 comparisons - minutes
/// on the reactor, during which no other client was served.
#[test]
fn watch_and_block_on_many_keys_cost_linear_time() {
    const N: usize = 300_000;
    let srv = Server::start(&[]);
    let mut w = srv.raw();
    w.send(&many_keys_request("WATCH", N, &[]));
    assert_eq!(w.read_reply(), b"+OK\r\n");
    // Watching the same keys again adds nothing.
    w.send(&many_keys_request("WATCH", N, &[]));
    assert_eq!(w.read_reply(), b"+OK\r\n");
    let mut other = srv.conn();
    let _: () = redis::cmd("SET")
        .arg(format!("key:{}", N - 1))
        .arg(1)
        .query(&mut other)
        .unwrap();
    assert_eq!(w.cmd(&[b"MULTI"]), b"+OK\r\n");
    assert_eq!(w.cmd(&[b"PING"]), b"+QUEUED\r\n");
    assert_eq!(
        w.cmd(&[b"EXEC"]),
        b"*-1\r\n",
        "the watched write aborts EXEC"
    );

    let _: () = redis::cmd("FLUSHALL").query(&mut other).unwrap();
    let mut b = srv.raw();
    b.send(&many_keys_request("BLPOP", N, &["0"]));
    // Served from the last key once it gets an element.
    let last = format!("key:{}", N - 2);
    let mut c = srv.conn();
    // The blocked client is registered once BLPOP ran: wait for it.
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
        if info.contains("blocked_clients:1\r\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _: i64 = redis::cmd("RPUSH")
        .arg(&last)
        .arg("x")
        .query(&mut c)
        .unwrap();
    let want = format!("*2\r\n${}\r\n{last}\r\n$1\r\nx\r\n", last.len());
    assert_eq!(b.read_reply(), want.as_bytes());
}

/// A handler that panics (DEBUG PANIC does on purpose) costs that command
/// an error; the server, its data and the other clients carry on.
#[test]
fn a_panicking_command_is_answered_with_an_error_and_the_server_lives() {
    let srv = Server::start(&["--enable-debug-command", "yes"]);
    let mut a = srv.raw();
    let mut b = srv.raw();
    assert_eq!(a.cmd(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    assert_eq!(a.cmd(&[b"DEBUG", b"PANIC"]), b"-ERR internal error\r\n");
    assert_eq!(a.cmd(&[b"GET", b"k"]), b"$1\r\nv\r\n");
    assert_eq!(b.cmd(&[b"PING"]), b"+PONG\r\n");
    // Inside a transaction the panic is a failed command: rolled back.
    assert_eq!(a.cmd(&[b"MULTI"]), b"+OK\r\n");
    assert_eq!(a.cmd(&[b"SET", b"k", b"changed"]), b"+QUEUED\r\n");
    assert_eq!(a.cmd(&[b"DEBUG", b"PANIC"]), b"+QUEUED\r\n");
    let exec = a.cmd(&[b"EXEC"]);
    assert_eq!(
        exec,
        &b"-EXECABORT Transaction rolled back: command #2 (DEBUG) failed: ERR internal error\r\n"[..],
        "{}",
        String::from_utf8_lossy(&exec)
    );
    assert_eq!(b.cmd(&[b"GET", b"k"]), b"$1\r\nv\r\n");
    let info = String::from_utf8_lossy(&b.cmd(&[b"INFO", b"stats"])).into_owned();
    assert!(info.contains("total_commands_processed:"), "{info}");
}

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in {info}"))
}

/// Waits until the lazy-free thread has freed `n` objects in all.
fn wait_freed(c: &mut redis::Connection, n: u64) {
    while info_field(c, "memory", "lazyfreed_objects") < n {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Big values leave the keyspace without being freed on the reactor: by
/// DEL, by overwriting, by expiry and by a synchronous FLUSHDB / FLUSHALL.
#[test]
fn big_values_and_flushed_databases_are_freed_off_the_reactor() {
    let srv = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = srv.conn();
    let big = |c: &mut redis::Connection, key: &str| {
        let items: Vec<u32> = (0..1000).collect();
        let _: i64 = redis::cmd("RPUSH").arg(key).arg(&items).query(c).unwrap();
    };
    assert_eq!(info_field(&mut c, "memory", "lazyfreed_objects"), 0);
    big(&mut c, "l1");
    let _: i64 = redis::cmd("DEL").arg("l1").query(&mut c).unwrap();
    wait_freed(&mut c, 1);
    big(&mut c, "l2");
    let _: () = redis::cmd("SET").arg("l2").arg("x").query(&mut c).unwrap();
    wait_freed(&mut c, 2);
    big(&mut c, "l3");
    let _: i64 = redis::cmd("PEXPIRE")
        .arg("l3")
        .arg(1)
        .query(&mut c)
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let n: i64 = redis::cmd("EXISTS").arg("l3").query(&mut c).unwrap();
    assert_eq!(n, 0);
    wait_freed(&mut c, 3);
    // A small value is freed inline: nothing is sent to the thread.
    let _: () = redis::cmd("SET").arg("s").arg("x").query(&mut c).unwrap();
    let _: i64 = redis::cmd("DEL").arg("s").query(&mut c).unwrap();
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("FLUSHALL").arg("SYNC").query(&mut c).unwrap();
    wait_freed(&mut c, 4);
    assert_eq!(info_field(&mut c, "memory", "lazyfreed_objects"), 4);
    assert_eq!(info_field(&mut c, "memory", "lazyfree_pending_objects"), 0);
}

/// Rollback of in-place changes to big containers undoes them by their
/// inverses (no copy of the value) and restores the exact order, also for
/// hashes past the size where deletion swaps the last field into the hole.
#[test]
fn rollback_of_big_containers_restores_them_exactly() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    let fields: Vec<(String, String)> = (0..500)
        .map(|i| (format!("f{i}"), format!("v{i}")))
        .collect();
    let _: () = redis::cmd("HSET")
        .arg("big")
        .arg(&fields)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("small")
        .arg(&fields[..5])
        .query(&mut c)
        .unwrap();
    let items: Vec<u32> = (0..1000).collect();
    let _: () = redis::cmd("RPUSH")
        .arg("l")
        .arg(&items)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("text")
        .query(&mut c)
        .unwrap();
    let snapshot = |c: &mut redis::Connection| -> (Vec<String>, Vec<String>, Vec<String>) {
        let big: Vec<String> = redis::cmd("HGETALL").arg("big").query(c).unwrap();
        let small: Vec<String> = redis::cmd("HGETALL").arg("small").query(c).unwrap();
        let l: Vec<String> = redis::cmd("LRANGE")
            .arg("l")
            .arg(0)
            .arg(-1)
            .query(c)
            .unwrap();
        (big, small, l)
    };
    let before = snapshot(&mut c);
    let mut raw = srv.raw();
    failing_tx(
        &mut raw,
        &[
            &[b"HDEL", b"big", b"f10", b"f499", b"f0", b"nope"],
            &[
                b"HSET", b"big", b"new", b"1", b"f30", b"changed", b"new", b"2",
            ],
            &[b"HINCRBY", b"big", b"n", b"5"],
            &[b"HDEL", b"small", b"f1", b"f3"],
            &[b"HSET", b"small", b"f1", b"back"],
            &[b"RPUSH", b"l", b"a", b"b"],
            &[b"LPOP", b"l", b"7"],
            &[b"RPOP", b"l"],
            &[b"LPUSH", b"l", b"c"],
        ],
    );
    assert_eq!(snapshot(&mut c), before);
    // Emptying a big list and then failing puts every element back.
    failing_tx(
        &mut raw,
        &[&[b"LPOP", b"l", b"600"], &[b"RPOP", b"l", b"600"]],
    );
    assert_eq!(snapshot(&mut c), before);
}

/// CONFIG SET appendonly no while the initial rewrite of a big dataset runs
/// abandons it (as Redis kills its rewrite child) instead of finishing the
/// whole dataset on the reactor before answering.
#[test]
fn appendonly_no_during_the_initial_rewrite_abandons_it() {
    let srv = Server::start(&["--enable-debug-command", "yes"]);
    let mut c = srv.conn();
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(300_000)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query(&mut c)
        .unwrap();
    assert_eq!(info_field(&mut c, "persistence", "aof_enabled"), 0);
    assert_eq!(
        info_field(&mut c, "persistence", "aof_rewrite_in_progress"),
        0
    );
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    // No base was installed: the directory has no manifest.
    std::thread::sleep(Duration::from_millis(200));
    let manifest = srv
        .dir
        .join("appendonlydir")
        .join("appendonly.aof.manifest");
    assert!(!manifest.exists(), "{manifest:?} was written");
}

/// Reads whatever arrives within `ms` milliseconds (empty if nothing).
fn read_for(r: &mut common::Raw, ms: u64) -> Vec<u8> {
    r.s.set_read_timeout(Some(Duration::from_millis(ms)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let got = match r.s.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(_) => Vec::new(),
    };
    r.s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    got
}

/// CLIENT PAUSE WRITE, step by step on memkv and on real Redis: reads go
/// on, writes (also queued inside MULTI) wait for UNPAUSE and then run in
/// order, and expiry is paused (an expired key looks missing but is not
/// deleted until the pause ends).
#[test]
fn client_pause_write_matches_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let memkv = Server::start(&[]);
    let run = |srv: &Server| -> Vec<Vec<u8>> {
        let (mut a, mut b) = (srv.raw(), srv.raw());
        let mut out = Vec::new();
        out.push(b.cmd(&[b"SET", b"k", b"v", b"PX", b"50"]));
        out.push(b.cmd(&[b"CLIENT", b"PAUSE", b"20000", b"WRITE"]));
        std::thread::sleep(Duration::from_millis(120));
        out.push(b.cmd(&[b"GET", b"k"]));
        out.push(b.cmd(&[b"DBSIZE"]));
        out.push(b.cmd(&[b"EXISTS", b"k"]));
        out.push(a.cmd(&[b"MULTI"]));
        a.send(&common::encode(&[b"SET", b"x", b"1"]));
        a.send(&common::encode(&[b"GET", b"x"]));
        a.send(&common::encode(&[b"SET", b"y", b"2"]));
        // Postponed: nothing arrives while the pause lasts.
        out.push(read_for(&mut a, 300));
        out.push(b.cmd(&[b"GET", b"y"]));
        out.push(b.cmd(&[b"CLIENT", b"UNPAUSE"]));
        out.push(a.read_reply());
        out.push(a.read_reply());
        out.push(a.cmd(&[b"EXEC"]));
        out.push(a.read_reply());
        out.push(b.cmd(&[b"MGET", b"x", b"y"]));
        out.push(b.cmd(&[b"DBSIZE"]));
        out
    };
    // RANDOMKEY when every key is expired and expiry is paused: Redis 7.0
    // loops forever (dbRandomKey); memkv answers one of the keys.
    let mut c = memkv.raw();
    assert_eq!(c.cmd(&[b"SET", b"k", b"v", b"PX", b"1"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[b"CLIENT", b"PAUSE", b"20000", b"WRITE"]),
        b"+OK\r\n"
    );
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(c.cmd(&[b"RANDOMKEY"]), b"$1\r\nk\r\n");
    assert_eq!(c.cmd(&[b"CLIENT", b"UNPAUSE"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"RANDOMKEY"]), b"$-1\r\n");
    assert_eq!(c.cmd(&[b"FLUSHALL"]), b"+OK\r\n");
    let (m, r) = (run(&memkv), run(&redis));
    for (i, (m, r)) in m.iter().zip(&r).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(m),
            String::from_utf8_lossy(r),
            "step {i}"
        );
    }
}

/// CLIENT PAUSE ALL with a timeout postpones every command (PING too) and
/// lets them run, in order, when the time is up.
#[test]
fn client_pause_all_postpones_everything_until_the_timeout() {
    let srv = Server::start(&[]);
    let (mut a, mut b) = (srv.raw(), srv.raw());
    assert_eq!(a.cmd(&[b"CLIENT", b"PAUSE", b"400", b"ALL"]), b"+OK\r\n");
    b.send(&common::encode(&[b"PING"]));
    b.send(&common::encode(&[b"INCR", b"n"]));
    assert_eq!(read_for(&mut b, 150), b"", "answered during the pause");
    assert_eq!(b.read_reply(), b"+PONG\r\n");
    assert_eq!(b.read_reply(), b":1\r\n");
    for (req, err) in [
        (
            &[&b"CLIENT"[..], b"PAUSE", b"x"][..],
            "-ERR timeout is not an integer or out of range\r\n",
        ),
        (
            &[b"CLIENT", b"PAUSE", b"-1"],
            "-ERR timeout is negative\r\n",
        ),
        (
            &[b"CLIENT", b"PAUSE", b"10", b"foo"],
            "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n",
        ),
    ] {
        assert_eq!(String::from_utf8_lossy(&a.cmd(req)), err);
    }
}

/// One field of the CLIENT LIST line of the client named `name`.
fn client_field(c: &mut redis::Connection, name: &str, field: &str) -> Option<u64> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(c).unwrap();
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))?;
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
        .and_then(|v| v.parse().ok())
}

fn set_sndbuf(s: &TcpStream, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket fd and a c_int that outlives the call.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            &bytes as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// A client that sent megabytes of pipelined commands gets one slice read
/// per round (16 KiB, Redis's PROTO_IOBUF_LEN), not its whole socket:
/// another client's command that became readable at the same time is
/// answered after a few thousand of them, not after all. (The reactor is
/// held in DEBUG SLEEP while both send, so both are readable at once.)
#[test]
fn a_big_pipeline_is_read_a_slice_per_round() {
    let srv = Server::start(&["--enable-debug-command", "yes"]);
    let mut sleeper = srv.raw();
    let mut a = srv.raw();
    let mut b = srv.raw();
    set_sndbuf(&a.s, 8 << 20);
    assert_eq!(a.cmd(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(b.cmd(&[b"PING"]), b"+PONG\r\n");
    sleeper.send(&common::encode(&[b"DEBUG", b"SLEEP", b"2"]));
    std::thread::sleep(Duration::from_millis(200));
    const N: usize = 600_000;
    let req = b"INCR a\r\n".repeat(N);
    let writer = std::thread::spawn(move || {
        a.send(&req);
        a
    });
    // Ordering only (no timing is asserted): A's bytes are queued first.
    std::thread::sleep(Duration::from_millis(500));
    let got = b.cmd(&[b"GET", b"a"]);
    assert_eq!(sleeper.read_reply(), b"+OK\r\n");
    let text = String::from_utf8_lossy(&got).into_owned();
    let seen: usize = text
        .lines()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        seen < 10_000,
        "{seen} of A's {N} commands ran before B's GET: A was read whole"
    );
    // Nothing of A's pipeline is lost or reordered.
    let mut a = writer.join().unwrap();
    for i in 1..=N {
        let r = a.read_reply();
        if i % 100_000 == 0 || i == N {
            assert_eq!(r, format!(":{i}\r\n").into_bytes());
        }
    }
    assert_eq!(
        b.cmd(&[b"GET", b"a"]),
        format!("${}\r\n{N}\r\n", N.to_string().len()).into_bytes()
    );
}

/// A client that pipelines GETs of a big value and never reads: its
/// commands stop running while its unsent output is over the limit (16
/// MiB), so the server's memory for it stays bounded (Redis's normal class
/// has no limit: it would buffer all 200 MB). Once it reads, the rest runs
/// and every reply arrives, in order.
#[test]
fn a_client_that_does_not_read_stops_being_served_until_it_does() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    let value = vec![b'v'; 1 << 20];
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&value)
        .query(&mut c)
        .unwrap();
    let mut p = srv.raw();
    assert_eq!(p.cmd(&[b"CLIENT", b"SETNAME", b"piper"]), b"+OK\r\n");
    const N: usize = 200;
    p.send(&common::encode(&[b"GET", b"big"]).repeat(N));
    let bound = (16 << 20) + (2 << 20);
    let mut last = (0, 0);
    let mut stable = 0;
    while stable < 5 {
        std::thread::sleep(Duration::from_millis(50));
        let out = client_field(&mut c, "piper", "omem").unwrap()
            + client_field(&mut c, "piper", "obl").unwrap();
        let qbuf = client_field(&mut c, "piper", "qbuf").unwrap();
        assert!(out <= bound, "unsent output {out} over the bound");
        if (out, qbuf) == last {
            stable += 1;
        } else {
            stable = 0;
            last = (out, qbuf);
        }
    }
    // Paused with commands left: it was not served them all.
    assert!(last.1 > 0, "every GET ran: {last:?}");
    let mut header = format!("${}\r\n", value.len()).into_bytes();
    header.extend_from_slice(&value);
    header.extend_from_slice(b"\r\n");
    for _ in 0..N {
        assert!(p.read_reply() == header);
    }
    assert_eq!(p.cmd(&[b"PING"]), b"+PONG\r\n");
}

/// The same before AUTH: each -NOAUTH reply is longer than the command, and
/// a client that never authenticates nor reads is bounded much lower.
#[test]
fn an_unauthenticated_client_that_does_not_read_stays_small() {
    let srv = Server::start(&["--requirepass", "pw"]);
    let mut c = srv.conn();
    let _: () = redis::cmd("AUTH").arg("pw").query(&mut c).unwrap();
    let mut p = srv.raw();
    p.send(b"CLIENT SETNAME noauth\r\n");
    // Sends as much as the socket takes without ever reading.
    p.s.set_nonblocking(true).unwrap();
    let chunk = b"GET x\r\n".repeat(10_000);
    let mut sent = 0usize;
    let mut idle = 0;
    while idle < 50 && sent < (64 << 20) {
        let off = sent % chunk.len();
        match p.s.write(&chunk[off..]) {
            Ok(n) => {
                sent += n;
                idle = 0;
            }
            Err(_) => {
                idle += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    p.s.set_nonblocking(false).unwrap();
    // The unauthenticated client cannot set a name: find it by its flags.
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    let line = list
        .lines()
        .find(|l| l.contains("cmd=NULL") || l.contains("cmd=client|setname"))
        .map(str::to_owned)
        .unwrap_or_default();
    let field = |f: &str| -> u64 {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{f}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX)
    };
    let out = field("omem") + field("obl");
    assert!(
        out < 256 << 10,
        "unsent {out} after {sent} bytes sent: {line}"
    );
    assert!(field("qbuf") < 256 << 10, "{line}");
    assert!(sent < 32 << 20, "the server kept reading: {sent} bytes");
    // Everything it sent is answered once it reads.
    let first = p.read_reply();
    assert!(first.starts_with(b"-NOAUTH"), "{first:?}");
    let n = sent / 7;
    for _ in 1..n {
        assert_eq!(p.read_reply(), b"-NOAUTH Authentication required.\r\n");
    }
}

/// Commands queued in MULTI count against client-query-buffer-limit with
/// the query buffer (Redis 7.2+; 7.0 lets the queue grow without limit):
/// the client is closed when they pass it.
#[test]
fn a_multi_queue_is_bounded_by_the_query_buffer_limit() {
    let srv = Server::start(&["--client-query-buffer-limit", "1mb"]);
    let mut p = srv.raw();
    assert_eq!(p.cmd(&[b"MULTI"]), b"+OK\r\n");
    let value = vec![b'x'; 100_000];
    let mut closed_at = None;
    for i in 0..30 {
        p.send(&common::encode(&[
            b"SET",
            format!("k{i}").as_bytes(),
            &value,
        ]));
        let r = p.read_reply();
        if r.is_empty() {
            closed_at = Some(i);
            break;
        }
        assert_eq!(r, b"+QUEUED\r\n");
    }
    let at = closed_at.expect("30 x 100 KB queued under a 1 MB limit");
    assert!((9..=11).contains(&at), "closed at command {at}");
    let mut c = srv.conn();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 0);
}

/// With the AOF writer stalled (DEBUG AOF-STALL, a disk that does not keep
/// up) write commands wait once 32 MB are queued for it - the queue stays
/// bounded instead of growing with every write - while reads are still
/// served; when the disk is back every write runs, in order, and all of
/// them are in the AOF.
#[test]
fn a_stalled_aof_writer_slows_writers_without_losing_writes() {
    let dir = common::temp_dir("aofstall");
    let srv = Server::start_in(
        &dir,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut c = srv.conn();
    let _: () = redis::cmd("SET").arg("r").arg("1").query(&mut c).unwrap();
    let _: () = redis::cmd("DEBUG")
        .arg("AOF-STALL")
        .arg(1)
        .query(&mut c)
        .unwrap();
    const N: usize = 5_000;
    let value = vec![b'w'; 10_000];
    let mut w = srv.raw();
    let mut req = Vec::new();
    for i in 0..N {
        let mut elem = format!("{i}:").into_bytes();
        elem.extend_from_slice(&value);
        req.extend_from_slice(&common::encode(&[b"RPUSH", b"l", &elem]));
    }
    let writer = std::thread::spawn(move || {
        w.send(&req);
        w
    });
    let mut last = (0, 0);
    let mut stable = 0;
    while stable < 5 {
        std::thread::sleep(Duration::from_millis(50));
        let queued = info_field(&mut c, "persistence", "aof_buffer_length");
        assert!(queued <= 40 << 20, "AOF queue {queued}");
        let len: u64 = redis::cmd("LLEN").arg("l").query(&mut c).unwrap();
        if (queued, len) == last {
            stable += 1;
        } else {
            stable = 0;
            last = (queued, len);
        }
    }
    assert!(last.0 >= 32 << 20, "{last:?}");
    assert!((last.1 as usize) < N, "every write ran: {last:?}");
    // Reads are served meanwhile.
    let r: String = redis::cmd("GET").arg("r").query(&mut c).unwrap();
    assert_eq!(r, "1");
    let _: () = redis::cmd("DEBUG")
        .arg("AOF-STALL")
        .arg(0)
        .query(&mut c)
        .unwrap();
    let mut w = writer.join().unwrap();
    for i in 1..=N {
        assert_eq!(w.read_reply(), format!(":{i}\r\n").into_bytes());
    }
    let digest: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
    drop(c);
    // SHUTDOWN (the writer writes and fsyncs everything), keeping the dir.
    let mut srv = srv;
    let mut s = srv.raw();
    s.send(b"SHUTDOWN\r\n");
    let _ = s.is_closed();
    for _ in 0..6000 {
        if let Ok(Some(_)) = srv.child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    srv.dir = std::path::PathBuf::new();
    drop(srv);
    // Everything reached the AOF, in order.
    let srv = Server::start_in(
        &dir,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut c = srv.conn();
    while info_field(&mut c, "persistence", "loading") == 1 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let again: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
    assert_eq!(again, digest);
    let first: Vec<u8> = redis::cmd("LINDEX").arg("l").arg(0).query(&mut c).unwrap();
    assert!(first.starts_with(b"0:"));
    let last: Vec<u8> = redis::cmd("LINDEX").arg("l").arg(-1).query(&mut c).unwrap();
    assert!(last.starts_with(format!("{}:", N - 1).as_bytes()));
}

/// Rollback of sets (hash-table encoded) and sorted sets (skiplist) undoes
/// each change by its inverse, restoring them exactly: member order of the
/// set (SMEMBERS), scores, encodings - through every write command and
/// SPOP's two strategies (pop one by one / rebuild the remainder).
#[test]
fn rollback_of_big_sets_and_sorted_sets_restores_them_exactly() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let _: () = redis::cmd("SADD")
        .arg("set")
        .arg(&members)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SADD")
        .arg("set2")
        .arg(&members[..600])
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SADD")
        .arg("ints")
        .arg(&[1, 2, 3])
        .query(&mut c)
        .unwrap();
    let mut zargs = Vec::new();
    for (i, m) in members.iter().enumerate().take(400) {
        zargs.push(((i % 37) as f64 / 4.0).to_string());
        zargs.push(m.clone());
    }
    let _: () = redis::cmd("ZADD")
        .arg("z")
        .arg(&zargs)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("text")
        .query(&mut c)
        .unwrap();
    let snapshot = |c: &mut redis::Connection| -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for k in ["set", "set2", "ints", "dst"] {
            out.push(redis::cmd("SMEMBERS").arg(k).query(c).unwrap());
        }
        out.push(
            redis::cmd("ZRANGE")
                .arg("z")
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(c)
                .unwrap(),
        );
        for k in ["set", "set2", "ints", "z"] {
            out.push(vec![
                redis::cmd("OBJECT")
                    .arg("ENCODING")
                    .arg(k)
                    .query(c)
                    .unwrap(),
            ]);
        }
        out
    };
    let before = snapshot(&mut c);
    let mut raw = srv.raw();
    failing_tx(
        &mut raw,
        &[
            &[b"SADD", b"set", b"new1", b"m5", b"new2"],
            &[b"SREM", b"set", b"m0", b"m999", b"m500", b"nope", b"new1"],
            &[b"SPOP", b"set"],
            &[b"SPOP", b"set", b"5"],
            &[b"SMOVE", b"set", b"set2", b"m700"],
            &[b"SMOVE", b"set2", b"dst", b"m1"],
            &[b"SPOP", b"set2", b"550"],
            &[b"SADD", b"ints", b"70000", b"x"],
            &[b"ZADD", b"z", b"1.5", b"m3", b"2", b"new", b"-1", b"m399"],
            &[b"ZINCRBY", b"z", b"10", b"m7"],
            &[b"ZREM", b"z", b"m8", b"m9", b"nope"],
            &[b"ZPOPMIN", b"z", b"3"],
            &[b"ZPOPMAX", b"z"],
            &[b"ZREMRANGEBYRANK", b"z", b"10", b"20"],
            &[b"ZREMRANGEBYSCORE", b"z", b"2", b"3"],
        ],
    );
    assert_eq!(snapshot(&mut c), before);
    // Emptying them and then failing puts every member back.
    failing_tx(
        &mut raw,
        &[
            &[b"SPOP", b"set", b"999"],
            &[b"SPOP", b"set", b"999"],
            &[b"ZREMRANGEBYRANK", b"z", b"0", b"-1"],
        ],
    );
    assert_eq!(snapshot(&mut c), before);
}

fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// `MULTI; SADD bigset x; ...; EXEC` on a 300k-member set and sorted set
/// journals inverse ops, not a copy of the whole value: the server's peak
/// memory barely moves (a copy would add the values' size again).
#[test]
fn a_transaction_on_a_big_set_does_not_copy_it() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    for chunk in 0..30 {
        let mut p = redis::pipe();
        let ms: Vec<String> = (0..10_000)
            .map(|i| format!("member:{}", chunk * 10_000 + i))
            .collect();
        p.cmd("SADD").arg("set").arg(&ms).ignore();
        let mut z = redis::cmd("ZADD");
        z.arg("z");
        for m in &ms {
            z.arg(1).arg(m);
        }
        p.add_command(z).ignore();
        let _: () = p.query(&mut c).unwrap();
    }
    let used = info_field(&mut c, "memory", "used_memory_rss");
    let peak_before = peak_rss(srv.child.id());
    let (added, moved, zadded, zrem): (i64, i64, i64, i64) = redis::pipe()
        .atomic()
        .cmd("SADD")
        .arg("set")
        .arg("x")
        .cmd("SREM")
        .arg("set")
        .arg("member:5")
        .cmd("ZADD")
        .arg("z")
        .arg(2)
        .arg("x")
        .cmd("ZREM")
        .arg("z")
        .arg("member:5")
        .query(&mut c)
        .unwrap();
    assert_eq!((added, moved, zadded, zrem), (1, 1, 1, 1));
    let peak_after = peak_rss(srv.child.id());
    let growth = peak_after.saturating_sub(peak_before);
    assert!(
        growth < used / 10,
        "peak RSS grew by {growth} bytes (dataset ~{used}): the values were copied"
    );
}

/// Writes to big values a rewrite walk still owes (not reached yet) wait
/// while the walk writes them in slices, then run: the rewritten AOF (RDB
/// preamble or AOF commands) plus the increment hold exactly the data,
/// and other clients are answered meanwhile.
#[test]
fn writes_to_big_values_during_a_rewrite_lose_nothing() {
    for preamble in ["yes", "no"] {
        let dir = common::temp_dir("bigwalk");
        let args = [
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--aof-use-rdb-preamble",
            preamble,
            "--enable-debug-command",
            "yes",
        ];
        let mut srv = Server::start_in(&dir, &args);
        let mut r = srv.raw();
        common::wait_rewrite_done(&mut r);
        // Created first: the walk (top index down) reaches them last.
        let mut load = Vec::new();
        for chunk in 0..20 {
            let base = chunk * 1000;
            let elems: Vec<String> = (base..base + 1000).map(|i| format!("e{i}")).collect();
            let mut l: Vec<&[u8]> = vec![b"RPUSH", b"list"];
            l.extend(elems.iter().map(|e| e.as_bytes()));
            load.extend(common::encode(&l));
            let mut h: Vec<&[u8]> = vec![b"HSET", b"hash"];
            let mut s: Vec<&[u8]> = vec![b"SADD", b"set"];
            let mut z: Vec<&[u8]> = vec![b"ZADD", b"zset"];
            for e in &elems {
                h.extend([e.as_bytes(), e.as_bytes()]);
                s.push(e.as_bytes());
                z.extend([&e.as_bytes()[1..], e.as_bytes()]);
            }
            load.extend(common::encode(&h));
            load.extend(common::encode(&s));
            load.extend(common::encode(&z));
        }
        r.send(&load);
        for _ in 0..80 {
            r.read_reply();
        }
        r.cmd(&[b"DEBUG", b"POPULATE", b"200000"]);
        // The rewrite starts, and in the same pipeline every big value is
        // written (alone, inside MULTI, and deleted).
        let mut req = common::encode(&[b"BGREWRITEAOF"]);
        for parts in [
            &[&b"RPUSH"[..], b"list", b"tail"][..],
            &[b"LPOP", b"list"],
            &[b"HSET", b"hash", b"e5", b"changed", b"new", b"1"],
            &[b"SREM", b"set", b"e7"],
            &[b"MULTI"],
            &[b"ZADD", b"zset", b"-1", b"first"],
            &[b"ZREM", b"zset", b"e9"],
            &[b"EXEC"],
            &[b"DEL", b"list"],
            &[b"RPUSH", b"list", b"again"],
        ] {
            req.extend(common::encode(parts));
        }
        let mut w = srv.raw();
        w.send(&req);
        // Others are served while the writer waits.
        let mut other = srv.raw();
        assert_eq!(other.cmd(&[b"PING"]), b"+PONG\r\n");
        for _ in 0..11 {
            w.read_reply();
        }
        common::wait_rewrite_done(&mut other);
        let digest = other.cmd(&[b"DEBUG", b"DIGEST"]);
        assert_eq!(
            other.cmd(&[b"LRANGE", b"list", b"0", b"-1"]),
            b"*1\r\n$5\r\nagain\r\n"
        );
        assert_eq!(other.cmd(&[b"ZSCORE", b"zset", b"first"]), b"$2\r\n-1\r\n");
        assert_eq!(other.cmd(&[b"HGET", b"hash", b"e5"]), b"$7\r\nchanged\r\n");
        assert_eq!(other.cmd(&[b"SCARD", b"set"]), b":19999\r\n");
        // Everything acknowledged is in the new base + increment.
        srv.kill9();
        srv.dir = std::path::PathBuf::new();
        drop(srv);
        let srv = Server::start_in(&dir, &args);
        let mut r = srv.raw();
        while String::from_utf8_lossy(&r.cmd(&[b"INFO", b"persistence"])).contains("loading:1") {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(r.cmd(&[b"DEBUG", b"DIGEST"]), digest, "preamble {preamble}");
    }
}
