//! Byte-level protocol tests over raw sockets: inline commands, pipelines
//! split at every byte, protocol errors and limits, connection limits, idle
//! timeout, and start-up with the real Debian /etc/redis/redis.conf.
//!
//! Every test that does not depend on memkv-only behaviour runs against
//! memkv and, when `redis-server` is installed, against real Redis with the
//! same assertions, so the expected bytes are checked against Redis itself.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Raw, Server, encode};

/// memkv with `extra`, plus real Redis with the same directives if installed.
fn servers(extra: &[&str]) -> Vec<(&'static str, Server)> {
    let mut v = vec![("memkv", Server::start(extra))];
    match Server::start_redis(extra) {
        Some(r) => v.push(("redis", r)),
        None => eprintln!("note: redis-server not installed; checked memkv only"),
    }
    v
}

/// Reads until the peer closes the connection (EOF or reset) or `within`
/// passes. Returns whether it closed and any bytes that arrived meanwhile.
fn wait_closed(raw: &mut Raw, within: Duration) -> (bool, Vec<u8>) {
    let deadline = Instant::now() + within;
    let mut extra = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (false, extra);
        }
        raw.s.set_read_timeout(Some(left)).unwrap();
        match raw.s.read(&mut buf) {
            Ok(0) => return (true, extra),
            Ok(n) => extra.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                return (true, extra);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn assert_closed(raw: &mut Raw, who: &str) {
    let (closed, extra) = wait_closed(raw, Duration::from_secs(10));
    assert!(
        extra.is_empty(),
        "{who}: unexpected bytes before close: {:?}",
        String::from_utf8_lossy(&extra)
    );
    assert!(closed, "{who}: connection was not closed");
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Sends `bytes` and asserts the exact reply bytes come back.
fn roundtrip(raw: &mut Raw, bytes: &[u8], expected: &[u8], who: &str) {
    raw.send(bytes);
    let got = raw.read_n(expected.len());
    assert_eq!(
        show(&got),
        show(expected),
        "{who}: reply to {:?}",
        show(bytes)
    );
}

fn ping_ok(srv: &Server, who: &str) {
    let mut c = srv.raw();
    roundtrip(&mut c, b"PING\r\n", b"+PONG\r\n", who);
}

// ---------------------------------------------------------------------------
// Inline commands

#[test]
fn inline_commands() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"PING\r\n", b"+PONG\r\n"),
        (b"PING\n", b"+PONG\r\n"),
        (b"ping hello\n", b"$5\r\nhello\r\n"),
        (b"ECHO \"hello world\"\r\n", b"$11\r\nhello world\r\n"),
        (b"ECHO hello\r\n", b"$5\r\nhello\r\n"),
        (b"   ECHO    spaced   \r\n", b"$6\r\nspaced\r\n"),
        (
            b"ECHO \"a\\x41\\n\\t\\\"\\\\\"\r\n",
            b"$6\r\naA\n\t\"\\\r\n",
        ),
        (b"ECHO 'it\\'s'\r\n", b"$4\r\nit's\r\n"),
        (b"ECHO 'no\\nescape'\r\n", b"$10\r\nno\\nescape\r\n"),
        (b"ECHO \"\"\r\n", b"$0\r\n\r\n"),
        // A blank line is skipped without a reply.
        (b"\r\n\nPING\r\n", b"+PONG\r\n"),
        (
            b"ECHO\r\n",
            b"-ERR wrong number of arguments for 'echo' command\r\n",
        ),
    ];
    for (who, srv) in servers(&[]) {
        let mut c = srv.raw();
        for (req, rep) in cases {
            roundtrip(&mut c, req, rep, who);
        }
        // Inline and multibulk mixed in one write.
        roundtrip(
            &mut c,
            b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO x\n",
            b"+PONG\r\n$2\r\nhi\r\n$1\r\nx\r\n",
            who,
        );
    }
}

#[test]
fn command_names_are_case_insensitive() {
    for (who, srv) in servers(&[]) {
        let mut c = srv.raw();
        assert_eq!(show(&c.cmd(&[b"pInG"])), "+PONG\r\n", "{who}");
        assert_eq!(show(&c.cmd(&[b"ping"])), "+PONG\r\n", "{who}");
        assert_eq!(show(&c.cmd(&[b"EcHo", b"x"])), "$1\r\nx\r\n", "{who}");
        roundtrip(&mut c, b"eChO y\r\n", b"$1\r\ny\r\n", who);
    }
}

#[test]
fn unknown_command_and_arity_errors() {
    for (who, srv) in servers(&[]) {
        let mut c = srv.raw();
        assert_eq!(
            show(&c.cmd(&[b"foo", b"a", b"b"])),
            "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n",
            "{who}"
        );
        // The name keeps the client's spelling.
        assert_eq!(
            show(&c.cmd(&[b"FOO"])),
            "-ERR unknown command 'FOO', with args beginning with: \r\n",
            "{who}"
        );
        roundtrip(
            &mut c,
            b"foo a b c\r\n",
            b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' 'c' \r\n",
            who,
        );
        // Arity errors name the command in lower case.
        assert_eq!(
            show(&c.cmd(&[b"GET"])),
            "-ERR wrong number of arguments for 'get' command\r\n",
            "{who}"
        );
        assert_eq!(
            show(&c.cmd(&[b"gEt", b"a", b"b"])),
            "-ERR wrong number of arguments for 'get' command\r\n",
            "{who}"
        );
        assert_eq!(
            show(&c.cmd(&[b"ECHO", b"a", b"b"])),
            "-ERR wrong number of arguments for 'echo' command\r\n",
            "{who}"
        );
        // Errors do not close the connection.
        assert_eq!(show(&c.cmd(&[b"PING"])), "+PONG\r\n", "{who}");
    }
}

// ---------------------------------------------------------------------------
// Pipelines

/// One request of a pipeline with its expected reply (empty: no reply).
struct Step {
    req: &'static [u8],
    rep: &'static [u8],
}

const PIPELINE: &[Step] = &[
    Step {
        req: b"*1\r\n$4\r\nPING\r\n",
        rep: b"+PONG\r\n",
    },
    // Binary-safe payload containing CR LF.
    Step {
        req: b"*2\r\n$4\r\nECHO\r\n$5\r\nhe\r\nl\r\n",
        rep: b"$5\r\nhe\r\nl\r\n",
    },
    Step {
        req: b"ECHO \"a b\"\r\n",
        rep: b"$3\r\na b\r\n",
    },
    Step {
        req: b"\r\n",
        rep: b"",
    },
    Step {
        req: b"PING\n",
        rep: b"+PONG\r\n",
    },
    Step {
        req: b"*2\r\n$4\r\nPING\r\n$0\r\n\r\n",
        rep: b"$0\r\n\r\n",
    },
    Step {
        req: b"*0\r\n",
        rep: b"",
    },
    Step {
        req: b"*3\r\n$4\r\nECHO\r\n$1\r\nx\r\n$1\r\ny\r\n",
        rep: b"-ERR wrong number of arguments for 'echo' command\r\n",
    },
    Step {
        req: b"*2\r\n$4\r\necho\r\n$12\r\n0123456789ab\r\n",
        rep: b"$12\r\n0123456789ab\r\n",
    },
];

#[test]
fn pipeline_split_at_every_byte() {
    let all: Vec<u8> = PIPELINE
        .iter()
        .flat_map(|s| s.req.iter().copied())
        .collect();
    let all_replies: Vec<u8> = PIPELINE
        .iter()
        .flat_map(|s| s.rep.iter().copied())
        .collect();
    for (who, srv) in servers(&[]) {
        let mut c = srv.raw();
        for split in 0..=all.len() {
            // Replies to the requests wholly inside the first part; reading
            // them before sending the rest proves the server saw the split.
            let mut end = 0;
            let mut early = Vec::new();
            for s in PIPELINE {
                end += s.req.len();
                if end <= split {
                    early.extend_from_slice(s.rep);
                }
            }
            c.send(&all[..split]);
            let got = c.read_n(early.len());
            assert_eq!(
                show(&got),
                show(&early),
                "{who}: split at {split}, first part"
            );
            // A short pause makes it likely that an incomplete tail is
            // read on its own; the result does not depend on it.
            std::thread::sleep(Duration::from_millis(1));
            c.send(&all[split..]);
            let got = c.read_n(all_replies.len() - early.len());
            assert_eq!(
                show(&got),
                show(&all_replies[early.len()..]),
                "{who}: split at {split}, second part"
            );
        }
        assert_eq!(show(&c.cmd(&[b"PING"])), "+PONG\r\n", "{who}");
    }
}

#[test]
fn pipeline_byte_by_byte() {
    let all: Vec<u8> = PIPELINE
        .iter()
        .flat_map(|s| s.req.iter().copied())
        .collect();
    let all_replies: Vec<u8> = PIPELINE
        .iter()
        .flat_map(|s| s.rep.iter().copied())
        .collect();
    for (who, srv) in servers(&[]) {
        let mut c = srv.raw();
        for b in &all {
            c.send(std::slice::from_ref(b));
        }
        let got = c.read_n(all_replies.len());
        assert_eq!(show(&got), show(&all_replies), "{who}");
    }
}

/// Writes `req` from a second thread (so neither side can block the other
/// on full socket buffers) and reads exactly `expected.len()` bytes.
fn big_roundtrip(raw: &mut Raw, req: Vec<u8>, expected: &[u8], who: &str) {
    let mut w = raw.s.try_clone().unwrap();
    // Bounded, so a server that stops reading fails the test, not hangs it.
    w.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let writer = std::thread::spawn(move || w.write_all(&req).unwrap());
    raw.s
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let got = raw.read_n(expected.len());
    writer.join().unwrap();
    assert_eq!(got.len(), expected.len(), "{who}: reply length");
    assert!(got == expected, "{who}: replies differ from expected");
}

#[test]
fn large_pipelines_answered_in_order() {
    for (who, srv) in servers(&[]) {
        let mut c = srv.raw();
        // 10,000 inline PINGs in one write.
        big_roundtrip(
            &mut c,
            b"PING\r\n".repeat(10_000),
            &b"+PONG\r\n".repeat(10_000),
            who,
        );
        // 10,000 numbered multibulk ECHOs in one write: order is visible.
        let mut req = Vec::new();
        let mut rep = Vec::new();
        for i in 0..10_000 {
            let s = i.to_string();
            req.extend_from_slice(&encode(&[b"ECHO", s.as_bytes()]));
            rep.extend_from_slice(format!("${}\r\n{}\r\n", s.len(), s).as_bytes());
        }
        big_roundtrip(&mut c, req, &rep, who);
        assert_eq!(show(&c.cmd(&[b"PING"])), "+PONG\r\n", "{who}");
    }
}

// ---------------------------------------------------------------------------
// Protocol errors: exact text, then only that client is closed.

fn check_protocol_error(srv: &Server, who: &str, request: &[u8], expected: &str) {
    let mut other = srv.raw();
    assert_eq!(show(&other.cmd(&[b"PING"])), "+PONG\r\n", "{who}");
    let mut c = srv.raw();
    c.send(request);
    let got = c.read_n(expected.len());
    assert_eq!(
        show(&got),
        expected,
        "{who}: reply to {:?}",
        show(&request[..request.len().min(40)])
    );
    assert_closed(&mut c, who);
    assert_eq!(
        show(&other.cmd(&[b"PING"])),
        "+PONG\r\n",
        "{who}: other client"
    );
    ping_ok(srv, who);
}

#[test]
fn protocol_errors_close_only_that_client() {
    let big_inline = vec![b'a'; 64 * 1024 + 1];
    let mut big_mbulk = b"*".to_vec();
    big_mbulk.extend(std::iter::repeat_n(b'1', 64 * 1024));
    let mut big_bulk = b"*1\r\n$".to_vec();
    big_bulk.extend(std::iter::repeat_n(b'1', 64 * 1024));
    let cases: Vec<(&[u8], &str)> = vec![
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\nfoo\r\n",
            "-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$abc\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*2\r\n$4\r\nECHO\r\n:1\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"*9999999999\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"ECHO \"hello\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"ECHO 'hello\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"ECHO \"a\"b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            &big_inline,
            "-ERR Protocol error: too big inline request\r\n",
        ),
        (
            &big_mbulk,
            "-ERR Protocol error: too big mbulk count string\r\n",
        ),
        (
            &big_bulk,
            "-ERR Protocol error: too big bulk count string\r\n",
        ),
        // Commands before the bad one in the same write are answered first.
        (
            b"PING\r\nECHO x\r\n*abc\r\nPING\r\n",
            "+PONG\r\n$1\r\nx\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
    ];
    for (who, srv) in servers(&[]) {
        for (req, expected) in &cases {
            check_protocol_error(&srv, who, req, expected);
        }
    }
}

#[test]
fn proto_max_bulk_len_limit() {
    for (who, srv) in servers(&["--proto-max-bulk-len", "1mb"]) {
        // Exactly the limit is accepted.
        let mut c = srv.raw();
        let payload = vec![b'x'; 1024 * 1024];
        let mut expected = b"$1048576\r\n".to_vec();
        expected.extend_from_slice(&payload);
        expected.extend_from_slice(b"\r\n");
        big_roundtrip(&mut c, encode(&[b"ECHO", &payload]), &expected, who);
        // One byte more (here: 2 MiB) is refused as soon as the header
        // arrives, before any payload.
        check_protocol_error(
            &srv,
            who,
            b"*2\r\n$4\r\nECHO\r\n$2097152\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        );
        check_protocol_error(
            &srv,
            who,
            b"*2\r\n$4\r\nECHO\r\n$1048577\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        );
    }
}

#[test]
fn client_query_buffer_limit_closes_client() {
    for (who, srv) in servers(&["--client-query-buffer-limit", "1mb"]) {
        let mut other = srv.raw();
        assert_eq!(show(&other.cmd(&[b"PING"])), "+PONG\r\n", "{who}");
        let mut c = srv.raw();
        // A 100 MB bulk (allowed by proto-max-bulk-len) that never
        // completes: the buffered part passes the 1 MB limit.
        c.send(b"*2\r\n$4\r\nECHO\r\n$104857600\r\n");
        c.s.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..48 {
            // The server may close (and reset) mid-way: stop writing then.
            if c.s.write_all(&chunk).is_err() {
                break;
            }
        }
        assert_closed(&mut c, who);
        assert_eq!(
            show(&other.cmd(&[b"PING"])),
            "+PONG\r\n",
            "{who}: other client"
        );
    }
}

// ---------------------------------------------------------------------------
// Connection limits

#[test]
fn maxclients_rejects_extra_connection() {
    for (who, srv) in servers(&["--maxclients", "2"]) {
        let mut a = srv.raw();
        assert_eq!(show(&a.cmd(&[b"PING"])), "+PONG\r\n", "{who}");
        // The harness's readiness probe may still count as a client for a
        // moment: retry the second connection until it is accepted.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut b = loop {
            let mut b = srv.raw();
            let r = b.cmd(&[b"PING"]);
            if r == b"+PONG\r\n" {
                break b;
            }
            assert_eq!(show(&r), "-ERR max number of clients reached\r\n", "{who}");
            assert!(
                Instant::now() < deadline,
                "{who}: second client never accepted"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut c = srv.raw();
        let got = c.read_n("-ERR max number of clients reached\r\n".len());
        assert_eq!(
            show(&got),
            "-ERR max number of clients reached\r\n",
            "{who}"
        );
        assert_closed(&mut c, who);
        // The two admitted clients keep working.
        assert_eq!(show(&a.cmd(&[b"PING"])), "+PONG\r\n", "{who}");
        assert_eq!(show(&b.cmd(&[b"PING"])), "+PONG\r\n", "{who}");
        // A slot frees up when a client leaves.
        drop(a);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut d = srv.raw();
            if d.cmd(&[b"PING"]) == b"+PONG\r\n" {
                break;
            }
            assert!(Instant::now() < deadline, "{who}: freed slot never reused");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn idle_timeout_closes_client() {
    for (who, srv) in servers(&["--timeout", "1"]) {
        let mut c = srv.raw();
        assert_eq!(show(&c.cmd(&[b"PING"])), "+PONG\r\n", "{who}");
        let started = Instant::now();
        let (closed, extra) = wait_closed(&mut c, Duration::from_secs(20));
        assert!(extra.is_empty(), "{who}: unexpected {:?}", show(&extra));
        assert!(closed, "{who}: idle client not closed");
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "{who}: closed too early"
        );
        ping_ok(&srv, who);
    }
}

// ---------------------------------------------------------------------------
// Start-up with the real Redis config file Debian ships.

const DEBIAN_CONF: &str = "/etc/redis/redis.conf";

fn debian_conf() -> Option<PathBuf> {
    let p = Path::new(DEBIAN_CONF);
    if p.is_file() {
        Some(p.to_path_buf())
    } else {
        eprintln!("note: {DEBIAN_CONF} not found (apt-get install redis-server); test skipped");
        None
    }
}

#[test]
fn starts_with_debian_redis_conf() {
    let Some(conf) = debian_conf() else { return };
    let dir = common::temp_dir("debian-conf");
    let pidfile = dir.join("memkv.pid");
    // The Debian file daemonizes and logs/pids under /var and /run: keep
    // this run in the foreground and inside its temp dir.
    let srv = Server::start_with_config(
        &dir,
        Some(&conf),
        &[
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--pidfile",
            pidfile.to_str().unwrap(),
        ],
    );
    let mut c = srv.raw();
    assert_eq!(show(&c.cmd(&[b"PING"])), "+PONG\r\n");
    roundtrip(&mut c, b"PING\r\n", b"+PONG\r\n", "memkv");
    // redis-server writes the pidfile whenever one is configured.
    let pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
    assert_eq!(pid.trim(), srv.child.id().to_string(), "pidfile content");
}

/// Kills a daemonized memkv (which is not our child) on drop.
struct Daemon {
    pid: i32,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.pid > 0 {
            // SAFETY: plain kill(2) of the daemon this test started.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
    }
}

#[test]
fn debian_redis_conf_daemonizes() {
    let Some(conf) = debian_conf() else { return };
    let dir = common::temp_dir("debian-daemon");
    let pidfile = dir.join("memkv.pid");
    let logfile = dir.join("memkv.log");
    let port = common::free_port();
    // The file's own `bind 127.0.0.1 -::1` and `daemonize yes` apply.
    let status = Command::new(env!("CARGO_BIN_EXE_memkv"))
        .arg(&conf)
        .args(["--port", &port.to_string()])
        .args(["--dir", dir.to_str().unwrap()])
        .args(["--pidfile", pidfile.to_str().unwrap()])
        .args(["--logfile", logfile.to_str().unwrap()])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("run memkv");
    assert!(status.success(), "foreground process exits 0 after forking");
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        let s = std::fs::read_to_string(&pidfile).unwrap_or_default();
        if let Ok(pid) = s.trim().parse::<i32>() {
            break pid;
        }
        assert!(Instant::now() < deadline, "pidfile never written");
        std::thread::sleep(Duration::from_millis(20));
    };
    let daemon = Daemon { pid };
    let stream = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(Instant::now() < deadline, "daemon never listened");
        std::thread::sleep(Duration::from_millis(20));
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut c = Raw::from_stream(stream);
    assert_eq!(show(&c.cmd(&[b"PING"])), "+PONG\r\n");
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}
