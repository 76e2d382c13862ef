//! Test harness: starts memkv (the real binary) or real Redis on a free
//! loopback port, hands out clients, and kills the process on drop.
#![allow(dead_code)]

pub mod blocking;
pub mod cluster;
pub mod dataset;
pub mod diff;
pub mod exit;
pub mod push;
pub mod script;
pub mod tls;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A server process under test; killed (and reaped) on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

/// Enables DEBUG (refused by default: Redis's `enable-debug-command no`).
pub const DEBUG: &[&str] = &["--enable-debug-command", "yes"];

/// AOF on, fsync on every write, DEBUG enabled: what the restart tests run.
pub const AOF_ALWAYS: &[&str] = &[
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--enable-debug-command",
    "yes",
];

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("memkv-test-{}-{}-{}", tag, std::process::id(), n));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind ephemeral port")
}

fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            // Another test's server may hold the port we picked: make sure
            // the one answering is our child.
            return answers_as(s, child.id()) && matches!(child.try_wait(), Ok(None));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// True if the server on `s` reports process id `pid` (INFO server), or
/// cannot say because it wants a password.
fn answers_as(s: TcpStream, pid: u32) -> bool {
    let Some(text) = info(s, "server") else {
        return false;
    };
    text.starts_with("-NOAUTH") || text.contains(&format!("process_id:{pid}\r\n"))
}

/// One INFO `section` reply as text (None if the connection failed).
fn info(mut s: TcpStream, section: &str) -> Option<String> {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let req = format!("*2\r\n$4\r\nINFO\r\n${}\r\n{section}\r\n", section.len());
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while resp_len(&buf).is_none() {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Waits while the server on `port` reports `loading:1` (it loads its AOF
/// or RDB and answers most commands -LOADING meanwhile), so a test's first
/// command meets the loaded data; any other answer ends the wait.
fn settle_loading(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        let Some(text) = TcpStream::connect(("127.0.0.1", port))
            .ok()
            .and_then(|s| info(s, "persistence"))
        else {
            return;
        };
        if !text.contains("loading:1\r\n") {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Server {
    /// memkv with default settings plus `extra` directives (`--name value`).
    pub fn start(extra: &[&str]) -> Server {
        let dir = temp_dir("memkv");
        Self::start_in(&dir, extra)
    }

    /// memkv with its working dir (and `dir`) set to `dir`.
    pub fn start_in(dir: &Path, extra: &[&str]) -> Server {
        Self::start_with_config(dir, None, extra)
    }

    /// memkv with an optional config file, then `extra` overrides; returns
    /// once it has loaded its data.
    pub fn start_with_config(dir: &Path, config: Option<&Path>, extra: &[&str]) -> Server {
        let s = Self::start_loading(dir, config, extra);
        settle_loading(s.port);
        s
    }

    /// Like `start_with_config`, but returns as soon as memkv answers, while
    /// it may still be loading (for tests of the loading state itself).
    pub fn start_loading(dir: &Path, config: Option<&Path>, extra: &[&str]) -> Server {
        for _attempt in 0..5 {
            if let Some(s) = Self::try_start_on_loading(free_port(), dir, config, extra) {
                return s;
            }
        }
        panic!("memkv did not start");
    }

    /// memkv on `port` (None if it did not come up there, e.g. the port was
    /// taken meanwhile), once it has loaded its data.
    pub fn try_start_on(
        port: u16,
        dir: &Path,
        config: Option<&Path>,
        extra: &[&str],
    ) -> Option<Server> {
        let s = Self::try_start_on_loading(port, dir, config, extra)?;
        settle_loading(port);
        Some(s)
    }

    fn try_start_on_loading(
        port: u16,
        dir: &Path,
        config: Option<&Path>,
        extra: &[&str],
    ) -> Option<Server> {
        let port_s = port.to_string();
        let mut args: Vec<&str> = config
            .map(|c| c.to_str().expect("utf-8 config path"))
            .into_iter()
            .collect();
        args.extend(["--port", &port_s, "--bind", "127.0.0.1"]);
        args.extend(["--dir", dir.to_str().expect("utf-8 dir")]);
        args.extend(["--loglevel", "warning"]);
        args.extend(extra);
        let mut child = spawn_memkv(dir, &args);
        if wait_ready(&mut child, port) {
            return Some(Server {
                child,
                port,
                dir: dir.to_path_buf(),
            });
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Real Redis (`redis-server` on PATH) with persistence off, or None if
    /// it is not installed.
    pub fn start_redis(extra: &[&str]) -> Option<Server> {
        Self::start_redis_with_config(None, extra)
    }

    /// Real Redis reading `config` first (like memkv's `start_with_config`).
    pub fn start_redis_with_config(config: Option<&Path>, extra: &[&str]) -> Option<Server> {
        let bin = which("redis-server")?;
        let dir = temp_dir("redis");
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(config)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--dir", dir.to_str()?])
                .args(extra)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            if wait_ready(&mut child, port) {
                settle_loading(port);
                return Some(Server { child, port, dir });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A RESP2 connection through the `redis` crate.
    pub fn conn(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).expect("client");
        client.get_connection().expect("connect")
    }

    /// A RESP3 connection through the `redis` crate.
    pub fn conn3(&self) -> redis::Connection {
        let url = format!("redis://127.0.0.1:{}/?protocol=resp3", self.port);
        let client = redis::Client::open(url).expect("client");
        client.get_connection().expect("connect")
    }

    /// A raw TCP connection for byte-level protocol tests.
    pub fn raw(&self) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("raw connect");
        // Generous: a debug build on a loaded 2-core machine can take
        // seconds for DEBUG DIGEST of a big dataset.
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        s.set_nodelay(true).ok();
        Raw {
            s,
            pending: Vec::new(),
        }
    }

    /// A raw connection switched to RESP3 (HELLO 3, answered with a map).
    pub fn raw3(&self) -> Raw {
        let mut r = self.raw();
        let hello = r.cmd(&[b"HELLO", b"3"]);
        assert!(
            hello.starts_with(b"%"),
            "HELLO 3 -> {}",
            String::from_utf8_lossy(&hello)
        );
        r
    }

    /// Polls DBSIZE until the server stops answering -LOADING (a failure
    /// means it never finished or exited, not that it was slow); returns
    /// how long it took.
    pub fn wait_loaded(&mut self) -> Duration {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(180);
        let mut conn: Option<Raw> = None;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("server exited while loading: {st}");
            }
            if conn.is_none() {
                conn = TcpStream::connect(("127.0.0.1", self.port))
                    .ok()
                    .map(Raw::from_stream);
            }
            if let Some(c) = conn.as_mut() {
                let reply = c.cmd(&[b"DBSIZE"]);
                match reply.first() {
                    Some(b':') => return t0.elapsed(),
                    Some(b'-') if reply.starts_with(b"-LOADING") => {}
                    // Closed (or not yet accepted): connect again.
                    None => conn = None,
                    Some(_) => panic!(
                        "unexpected DBSIZE reply while loading: {}",
                        String::from_utf8_lossy(&reply)
                    ),
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("loading did not finish");
    }

    /// SHUTDOWN (default: saves/syncs as configured) and waits for the
    /// exit; the directory stays until drop. Returns the exit status.
    pub fn shutdown(&mut self) -> std::process::ExitStatus {
        let mut c = self.raw();
        c.send(&encode(&[b"SHUTDOWN"]));
        // The reply, if any: the connection closes as the server exits.
        let _ = c.read_n(1);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            assert!(Instant::now() < deadline, "no exit after SHUTDOWN");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGKILL and waits for the process.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Copies the files of `from` into `to` (created; not recursive).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

/// memkv spawned in `dir` with exactly `args` (stdin closed, stdout
/// discarded, stderr shown); waiting until it serves is the caller's.
pub fn spawn_memkv(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_memkv"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn memkv")
}

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// A raw socket speaking bytes.
pub struct Raw {
    pub s: TcpStream,
    /// Bytes read past the last complete reply (pipelined replies).
    pending: Vec<u8>,
}

impl Raw {
    /// Wraps an already connected socket.
    pub fn from_stream(s: TcpStream) -> Raw {
        Raw {
            s,
            pending: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("write");
    }

    /// Reads until at least `n` bytes arrived (or the peer closed).
    pub fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.pending);
        let mut buf = [0u8; 65536];
        while out.len() < n {
            match self.s.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => out.extend_from_slice(&buf[..k]),
                Err(_) => break,
            }
        }
        if out.len() > n {
            self.pending = out.split_off(n);
        }
        out
    }

    /// Reads exactly the bytes of `expected` and returns what came.
    pub fn expect(&mut self, expected: &[u8]) -> Vec<u8> {
        let got = self.read_n(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
        got
    }

    /// Reads one complete RESP reply (any type, nested) and returns its bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.pending);
        loop {
            if let Some(n) = resp_len(&buf) {
                self.pending = buf.split_off(n);
                return buf;
            }
            let mut b = [0u8; 4096];
            match self.s.read(&mut b) {
                Ok(k) if k > 0 => buf.extend_from_slice(&b[..k]),
                // A timeout must not pass for an empty reply: every later
                // reply would be read one command late.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!(
                        "no complete reply within the read timeout (got {:?})",
                        String::from_utf8_lossy(&buf)
                    )
                }
                Ok(_) | Err(_) => return buf,
            }
        }
    }

    /// True if the server closed the connection (read returns EOF).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.s.read(&mut b), Ok(0))
    }

    /// Sends a command in RESP multibulk form.
    pub fn cmd(&mut self, parts: &[&[u8]]) -> Vec<u8> {
        self.send(&encode(parts));
        self.read_reply()
    }
}

/// Encodes argv as a RESP multibulk request.
pub fn encode(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the first complete RESP value in `b`, if complete.
pub fn resp_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let head = &b[1..line_end];
    let after = line_end + 2;
    let num = || -> Option<i64> { std::str::from_utf8(head).ok()?.parse().ok() };
    match *b.first()? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let items = if matches!(b[0], b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..items {
                pos += resp_len(&b[pos..])?;
            }
            Some(pos)
        }
        _ => None,
    }
}

/// Polls `f` until it returns true or `limit` passes (then asks once
/// more): waiting for convergence, never a timing assertion.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// One field of an INFO section, through a `redis` crate connection.
pub fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let text: String = redis::cmd("INFO").arg(section).query(c).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// Polls INFO persistence until no AOF rewrite runs or is scheduled (a
/// failure means never, not slow).
pub fn wait_rewrite_done(r: &mut Raw) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let info = String::from_utf8_lossy(&r.cmd(&[b"INFO", b"persistence"])).into_owned();
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("rewrite did not finish");
}
