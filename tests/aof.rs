//! AOF persistence through the real binary: no acknowledged write lost under
//! SIGKILL (appendfsync always; prefix consistency with everysec), SIGKILL
//! during a rewrite, rewrite correctness (point-in-time base, concurrent
//! writes, manifest and old-file cleanup), truncated and corrupt files,
//! interop with real Redis 7 AOF directories (both directions), CONFIG SET
//! appendonly at run time, deterministic propagation (absolute expiries),
//! and an `#[ignore]`d latency probe during a rewrite of 1,000,000 keys.
//!
//! Randomized tests print their seed; set `MEMKV_SEED` to replay one.
//! Knobs: `MEMKV_CRASH_ROUNDS` (SIGKILL rounds, default 10),
//! `MEMKV_CRASH_FSYNC` (policy of the "always" crash test: `everysec` shows
//! that the test catches lost acknowledgements), `MEMKV_REWRITE_KILL_ROUNDS`
//! and `MEMKV_REWRITE_KEYS` (SIGKILL during a rewrite), `MEMKV_LATENCY_KEYS`
//! and `MEMKV_LATENCY_REWRITES` (the ignored latency probe:
//! `cargo test --release --test aof -- --ignored --nocapture latency`).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Server, encode};

// ---------------------------------------------------------------------------
// RESP client that keeps pipelined replies (common::Raw drops extra bytes).
// ---------------------------------------------------------------------------

/// A parsed RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Arr(Vec<V>),
}

impl V {
    fn text(&self) -> String {
        match self {
            V::Simple(s) | V::Err(s) => s.clone(),
            V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            V::Int(i) => i.to_string(),
            V::Nil => "(nil)".into(),
            V::Arr(a) => format!("[{}]", a.iter().map(V::text).collect::<Vec<_>>().join(", ")),
        }
    }

    fn int(&self) -> i64 {
        match self {
            V::Int(i) => *i,
            other => panic!("expected an integer reply, got {other:?}"),
        }
    }

    fn is_err(&self) -> bool {
        matches!(self, V::Err(_))
    }
}

/// Parses one RESP2 value at the start of `b`: the value and its length.
fn parse_value(b: &[u8]) -> Option<(V, usize)> {
    let end = memfind(b, b"\r\n")?;
    let head = std::str::from_utf8(&b[1..end]).ok()?;
    let after = end + 2;
    match *b.first()? {
        b'+' => Some((V::Simple(head.to_string()), after)),
        b'-' => Some((V::Err(head.to_string()), after)),
        b':' => Some((V::Int(head.parse().ok()?), after)),
        b'$' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some((V::Nil, after));
            }
            let stop = after + n as usize;
            if b.len() < stop + 2 {
                return None;
            }
            Some((V::Bulk(b[after..stop].to_vec()), stop + 2))
        }
        b'*' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some((V::Nil, after));
            }
            let mut pos = after;
            let mut items = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let (v, len) = parse_value(&b[pos..])?;
                items.push(v);
                pos += len;
            }
            Some((V::Arr(items), pos))
        }
        other => panic!("unexpected RESP type byte {other:?}"),
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl Conn {
    fn connect(port: u16) -> io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            s,
            buf: Vec::new(),
            pos: 0,
        })
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.s.write_all(bytes)
    }

    fn read_value(&mut self) -> io::Result<V> {
        loop {
            if self.pos < self.buf.len()
                && let Some((v, n)) = parse_value(&self.buf[self.pos..])
            {
                self.pos += n;
                if self.pos == self.buf.len() {
                    self.buf.clear();
                    self.pos = 0;
                }
                return Ok(v);
            }
            if self.pos > (1 << 20) {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            let mut tmp = [0u8; 65536];
            let n = self.s.read(&mut tmp)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
            }
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    fn call(&mut self, parts: &[&[u8]]) -> io::Result<V> {
        self.send(&encode(parts))?;
        self.read_value()
    }

    /// A command from string parts; panics on I/O errors.
    fn q(&mut self, parts: &[&str]) -> V {
        let p: Vec<&[u8]> = parts.iter().map(|s| s.as_bytes()).collect();
        self.call(&p).expect("command I/O")
    }

    /// Sends encoded commands in chunks and returns every reply, in order.
    fn pipeline(&mut self, cmds: &[Vec<u8>]) -> io::Result<Vec<V>> {
        let mut out = Vec::with_capacity(cmds.len());
        for chunk in cmds.chunks(1000) {
            self.send(&chunk.concat())?;
            for _ in chunk {
                out.push(self.read_value()?);
            }
        }
        Ok(out)
    }

    /// Like `pipeline`, panicking on any error reply.
    fn pipe_ok(&mut self, cmds: &[Vec<u8>]) -> Vec<V> {
        let replies = self.pipeline(cmds).expect("pipeline I/O");
        for (i, r) in replies.iter().enumerate() {
            assert!(
                !r.is_err(),
                "command #{i} {:?} failed: {r:?}",
                String::from_utf8_lossy(&cmds[i])
            );
        }
        replies
    }
}

/// Encodes a command from string parts.
fn c(parts: &[&str]) -> Vec<u8> {
    let p: Vec<&[u8]> = parts.iter().map(|s| s.as_bytes()).collect();
    encode(&p)
}

/// Sends `n` encoded commands produced by `gen` on one connection as fast
/// as possible (a reader thread counts replies), returning the first error
/// replies seen.
fn bulk_load(port: u16, n: usize, mut make: impl FnMut(usize, &mut Vec<u8>)) -> Vec<String> {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).ok();
    let mut reader = s.try_clone().expect("clone");
    reader.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let counter = std::thread::spawn(move || {
        let mut buf: Vec<u8> = Vec::new();
        let mut pos = 0;
        let mut count = 0;
        let mut errors = Vec::new();
        let mut tmp = vec![0u8; 1 << 16];
        while count < n {
            while count < n && pos < buf.len() {
                match common::resp_len(&buf[pos..]) {
                    Some(len) => {
                        if buf[pos] == b'-' && errors.len() < 10 {
                            errors.push(String::from_utf8_lossy(&buf[pos..pos + len]).into_owned());
                        }
                        pos += len;
                        count += 1;
                    }
                    None => break,
                }
            }
            if count >= n {
                break;
            }
            if pos > 0 {
                buf.drain(..pos);
                pos = 0;
            }
            match reader.read(&mut tmp) {
                Ok(0) | Err(_) => {
                    errors.push(format!("connection ended after {count} of {n} replies"));
                    break;
                }
                Ok(k) => buf.extend_from_slice(&tmp[..k]),
            }
        }
        errors
    });
    let mut w = s;
    let mut out = Vec::with_capacity(1 << 20);
    for i in 0..n {
        make(i, &mut out);
        if out.len() >= 1 << 19 {
            w.write_all(&out).expect("bulk write");
            out.clear();
        }
    }
    w.write_all(&out).expect("bulk write");
    counter.join().expect("reader thread")
}

/// Appends one encoded command to `out`.
fn push_cmd(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.extend_from_slice(&encode(parts));
}

// ---------------------------------------------------------------------------
// Servers, directories, files.
// ---------------------------------------------------------------------------

/// A temp directory removed on drop.
struct TmpDir(PathBuf);

impl TmpDir {
    fn new(tag: &str) -> TmpDir {
        TmpDir(common::temp_dir(tag))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// memkv with `appendonly yes`, the given fsync policy and DEBUG enabled,
/// started on `dir` and waited for until loading finished.
fn start_aof(dir: &Path, fsync: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "--appendonly",
        "yes",
        "--appendfsync",
        fsync,
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    let mut s = Server::start_in(dir, &args);
    s.wait_loaded();
    s
}

/// Forgets the server without deleting its directory (kills the process).
fn release(mut s: Server) {
    s.dir = PathBuf::new();
    drop(s);
}

/// SIGKILL, keeping the directory.
fn kill9(mut s: Server) {
    s.kill9();
    release(s);
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// SHUTDOWN and wait for a clean exit, keeping the directory.
fn shutdown(mut s: Server) {
    let st = s.shutdown();
    assert!(st.success(), "memkv exited with {st} after SHUTDOWN");
    release(s);
}

fn aof_dir(dir: &Path) -> PathBuf {
    dir.join("appendonlydir")
}

/// (file name, seq, type char) lines of the manifest.
fn manifest(dir: &Path) -> Vec<(String, u64, char)> {
    let text =
        std::fs::read_to_string(aof_dir(dir).join("appendonly.aof.manifest")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            let get = |k: &str| {
                p.iter()
                    .position(|x| *x == k)
                    .and_then(|i| p.get(i + 1))
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| panic!("manifest line without {k}: {l}"))
            };
            let kind = get("type").chars().next().unwrap_or('?');
            (get("file"), get("seq").parse().expect("seq"), kind)
        })
        .collect()
}

fn base_seq(dir: &Path) -> u64 {
    manifest(dir).iter().find(|e| e.2 == 'b').map_or(0, |e| e.1)
}

fn base_path(dir: &Path) -> PathBuf {
    let m = manifest(dir);
    let b = m.iter().find(|e| e.2 == 'b').expect("manifest has a base");
    aof_dir(dir).join(&b.0)
}

fn last_incr(dir: &Path) -> PathBuf {
    let m = manifest(dir);
    let i = m
        .iter()
        .rev()
        .find(|e| e.2 == 'i')
        .expect("manifest has an incr file");
    aof_dir(dir).join(&i.0)
}

/// Every file in the AOF directory with its bytes.
fn snapshot_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(aof_dir(dir))
        .expect("read appendonlydir")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        out.insert(name, std::fs::read(e.path()).expect("read file"));
    }
    out
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(aof_dir(dir))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The file names the manifest implies should exist (plus the manifest).
fn expected_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = manifest(dir).into_iter().map(|e| e.0).collect();
    v.push("appendonly.aof.manifest".into());
    v.sort();
    v
}

fn info_field(c: &mut Conn, section: &str, field: &str) -> Option<String> {
    let info = c.q(&["INFO", section]).text();
    info.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

/// Waits until a rewrite installed a base newer than `prev_base_seq` and the
/// server says no rewrite is running or scheduled; also waits for the old
/// files to be gone (bounded).
fn wait_rewrite(c: &mut Conn, dir: &Path, prev_base_seq: u64) -> Duration {
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "rewrite did not finish: manifest {:?}, aof_rewrite_in_progress={:?}, aof_rewrite_scheduled={:?}",
            manifest(dir),
            info_field(c, "persistence", "aof_rewrite_in_progress"),
            info_field(c, "persistence", "aof_rewrite_scheduled")
        );
        if base_seq(dir) > prev_base_seq
            && info_field(c, "persistence", "aof_rewrite_in_progress").as_deref() == Some("0")
            && info_field(c, "persistence", "aof_rewrite_scheduled").as_deref() != Some("1")
        {
            return t0.elapsed();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The AOF directory holds exactly the manifest and the files it names
/// (old files removed, no temp files); polls, since removal follows the
/// manifest swap and its fsyncs, which a loaded disk can hold up for
/// seconds (5 s once ran out in a full test run at load 9).
fn assert_only_manifest_files(dir: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while dir_names(dir) != expected_names(dir) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        dir_names(dir),
        expected_names(dir),
        "{what}: files in appendonlydir vs the manifest {:?}",
        manifest(dir)
    );
}

fn digest(c: &mut Conn) -> String {
    match c.q(&["DEBUG", "DIGEST"]) {
        V::Simple(s) => s,
        other => panic!("DEBUG DIGEST: {other:?}"),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Parses an AOF (RESP multibulk commands, `#` annotation lines allowed).
/// Err(offset) at the first malformed byte or a truncated tail.
fn parse_aof(b: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, usize> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        if b[pos] == b'#' {
            match memfind(&b[pos..], b"\n") {
                Some(n) => {
                    pos += n + 1;
                    continue;
                }
                None => return Err(pos),
            }
        }
        let start = pos;
        let line = |p: usize| -> Result<(i64, usize), usize> {
            let e = memfind(&b[p..], b"\r\n").ok_or(start)?;
            let n = std::str::from_utf8(&b[p + 1..p + e])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(start)?;
            Ok((n, p + e + 2))
        };
        if b[pos] != b'*' {
            return Err(start);
        }
        let (n, mut p) = line(pos)?;
        let mut args = Vec::new();
        for _ in 0..n {
            if p >= b.len() || b[p] != b'$' {
                return Err(start);
            }
            let (len, q) = line(p)?;
            let stop = q + len as usize;
            if stop + 2 > b.len() || &b[stop..stop + 2] != b"\r\n" {
                return Err(start);
            }
            args.push(b[q..stop].to_vec());
            p = stop + 2;
        }
        out.push(args);
        pos = p;
    }
    Ok(out)
}

/// A small deterministic PRNG (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn seeded(test: &str) -> Rng {
    let seed = std::env::var("MEMKV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("{test}: seed {seed} (MEMKV_SEED={seed} replays it)");
    Rng(seed)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn redis_installed() -> bool {
    if common::which("redis-server").is_some() {
        return true;
    }
    println!("NOTE: redis-server is not installed; skipping the interop test");
    false
}

// ---------------------------------------------------------------------------
// Reading a whole dataset (for comparisons across restarts and servers).
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Other(String),
}

/// (db, key) -> (value, PEXPIRETIME).
type Dump = BTreeMap<(usize, Vec<u8>), (Val, i64)>;

fn bulk_bytes(v: &V) -> Vec<u8> {
    match v {
        V::Bulk(b) => b.clone(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn dump_all(c: &mut Conn, dbs: usize) -> Dump {
    let mut out = Dump::new();
    for db in 0..dbs {
        c.q(&["SELECT", &db.to_string()]);
        let keys: Vec<Vec<u8>> = match c.q(&["KEYS", "*"]) {
            V::Arr(a) => a.iter().map(bulk_bytes).collect(),
            other => panic!("KEYS: {other:?}"),
        };
        if keys.is_empty() {
            continue;
        }
        let types: Vec<V> = c
            .pipeline(
                &keys
                    .iter()
                    .map(|k| encode(&[b"TYPE", k]))
                    .collect::<Vec<_>>(),
            )
            .expect("TYPE");
        let mut reads = Vec::new();
        for (k, t) in keys.iter().zip(&types) {
            let cmd = match t.text().as_str() {
                "string" => encode(&[b"GET", k]),
                "list" => encode(&[b"LRANGE", k, b"0", b"-1"]),
                "hash" => encode(&[b"HGETALL", k]),
                "zset" => encode(&[b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"]),
                _ => encode(&[b"TYPE", k]),
            };
            reads.push(cmd);
            reads.push(encode(&[b"PEXPIRETIME", k]));
        }
        let vals = c.pipeline(&reads).expect("values");
        for (i, (k, t)) in keys.iter().zip(&types).enumerate() {
            let v = &vals[2 * i];
            let ttl = vals[2 * i + 1].int();
            let val = match (t.text().as_str(), v) {
                ("string", V::Bulk(b)) => Val::Str(b.clone()),
                ("list", V::Arr(a)) => Val::List(a.iter().map(bulk_bytes).collect()),
                ("hash", V::Arr(a)) => {
                    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = a
                        .chunks(2)
                        .map(|p| (bulk_bytes(&p[0]), bulk_bytes(&p[1])))
                        .collect();
                    pairs.sort();
                    Val::Hash(pairs)
                }
                (ty, v) => Val::Other(format!("{ty}: {v:?}")),
            };
            out.insert((db, k.clone()), (val, ttl));
        }
    }
    c.q(&["SELECT", "0"]);
    out
}

/// Describes the first differences between two dumps (None if equal).
/// `ttl_slack_ms`: allowed PEXPIRETIME difference.
fn diff_dumps(a: &Dump, b: &Dump, ttl_slack_ms: i64) -> Option<String> {
    let mut msgs = Vec::new();
    for (k, va) in a {
        match b.get(k) {
            None => msgs.push(format!(
                "db {} key {:?}: missing on the right",
                k.0,
                String::from_utf8_lossy(&k.1)
            )),
            Some(vb) => {
                let ttl_ok = if va.1 < 0 || vb.1 < 0 {
                    va.1 == vb.1
                } else {
                    (va.1 - vb.1).abs() <= ttl_slack_ms
                };
                if va.0 != vb.0 || !ttl_ok {
                    msgs.push(format!(
                        "db {} key {:?}: {:?} (pexpiretime {}) vs {:?} (pexpiretime {})",
                        k.0,
                        String::from_utf8_lossy(&k.1),
                        short(&va.0),
                        va.1,
                        short(&vb.0),
                        vb.1
                    ));
                }
            }
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            msgs.push(format!(
                "db {} key {:?}: extra on the right",
                k.0,
                String::from_utf8_lossy(&k.1)
            ));
        }
    }
    if msgs.is_empty() {
        return None;
    }
    let n = msgs.len();
    msgs.truncate(15);
    Some(format!(
        "{n} differences, first ones:\n  {}",
        msgs.join("\n  ")
    ))
}

fn short(v: &Val) -> String {
    let s = format!("{v:?}");
    if s.len() > 120 {
        format!("{}...", &s[..120])
    } else {
        s
    }
}

// ---------------------------------------------------------------------------
// 1. SIGKILL under a write load with appendfsync always.
// ---------------------------------------------------------------------------

/// The expected value of a key in the crash model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MV {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
}

type Model = HashMap<Vec<u8>, MV>;
type Op = Vec<Vec<Vec<u8>>>;

/// Applies one command to the model; returns the integer reply it implies
/// (INCR value, RPUSH length, HSET/DEL count) where there is one.
fn model_apply(m: &mut Model, cmd: &[Vec<u8>]) -> Option<i64> {
    let name = String::from_utf8_lossy(&cmd[0]).to_ascii_uppercase();
    match name.as_str() {
        "SET" => {
            m.insert(cmd[1].clone(), MV::Str(cmd[2].clone()));
            None
        }
        "INCR" => {
            let cur = match m.get(&cmd[1]) {
                Some(MV::Str(s)) => String::from_utf8_lossy(s).parse::<i64>().expect("counter"),
                _ => 0,
            };
            let n = cur + 1;
            m.insert(cmd[1].clone(), MV::Str(n.to_string().into_bytes()));
            Some(n)
        }
        "RPUSH" => {
            let e = m
                .entry(cmd[1].clone())
                .or_insert_with(|| MV::List(Vec::new()));
            let MV::List(l) = e else { panic!("model type") };
            l.push(cmd[2].clone());
            Some(l.len() as i64)
        }
        "HSET" => {
            let e = m
                .entry(cmd[1].clone())
                .or_insert_with(|| MV::Hash(BTreeMap::new()));
            let MV::Hash(h) = e else { panic!("model type") };
            Some(h.insert(cmd[2].clone(), cmd[3].clone()).is_none() as i64)
        }
        "DEL" => Some(m.remove(&cmd[1]).is_some() as i64),
        _ => None,
    }
}

fn gen_op(rng: &mut Rng, tid: usize, round: usize, seq: u64) -> Op {
    let key = |rng: &mut Rng, ns: &str| format!("t{tid}:{ns}:{}", rng.below(400)).into_bytes();
    let value = |rng: &mut Rng| {
        let mut v = format!("r{round}-s{seq}-{}", rng.next()).into_bytes();
        if rng.below(20) == 0 {
            v.resize(1500 + rng.below(3000) as usize, b'x');
        }
        v
    };
    let r = rng.below(100);
    let one = |parts: Vec<Vec<u8>>| vec![parts];
    match r {
        0..40 => one(vec![b"SET".to_vec(), key(rng, "s"), value(rng)]),
        40..55 => one(vec![b"INCR".to_vec(), key(rng, "c")]),
        55..70 => one(vec![b"RPUSH".to_vec(), key(rng, "l"), value(rng)]),
        70..85 => {
            let f = format!("f{}", rng.below(20)).into_bytes();
            one(vec![b"HSET".to_vec(), key(rng, "h"), f, value(rng)])
        }
        85..90 => {
            let ns = ["s", "c", "l", "h"][rng.below(4) as usize];
            one(vec![b"DEL".to_vec(), key(rng, ns)])
        }
        _ => vec![
            vec![b"MULTI".to_vec()],
            vec![b"SET".to_vec(), key(rng, "s"), value(rng)],
            vec![b"INCR".to_vec(), key(rng, "c")],
            vec![b"RPUSH".to_vec(), key(rng, "l"), value(rng)],
            vec![b"EXEC".to_vec()],
        ],
    }
}

struct WriterResult {
    model: Model,
    inflight: Option<Op>,
    acked: u64,
    problems: Vec<String>,
}

/// Sends ops one at a time (depth 1), applying each to the model once its
/// replies arrived; stops when the connection dies.
fn crash_writer(
    port: u16,
    db: usize,
    tid: usize,
    round: usize,
    seed: u64,
    model: Model,
) -> WriterResult {
    let mut res = WriterResult {
        model,
        inflight: None,
        acked: 0,
        problems: Vec::new(),
    };
    let mut rng = Rng(seed);
    let Ok(mut conn) = Conn::connect(port) else {
        return res;
    };
    match conn.call(&[b"SELECT", db.to_string().as_bytes()]) {
        Ok(V::Simple(_)) => {}
        _ => return res,
    }
    let mut seq = 0u64;
    loop {
        seq += 1;
        let op = gen_op(&mut rng, tid, round, seq);
        let bytes: Vec<u8> = op
            .iter()
            .flat_map(|cmd| {
                let p: Vec<&[u8]> = cmd.iter().map(|a| a.as_slice()).collect();
                encode(&p)
            })
            .collect();
        res.inflight = Some(op.clone());
        if conn.send(&bytes).is_err() {
            return res;
        }
        let mut replies = Vec::new();
        for _ in &op {
            match conn.read_value() {
                Ok(v) => replies.push(v),
                Err(_) => return res,
            }
        }
        // Acknowledged: it must survive.
        res.inflight = None;
        res.acked += 1;
        let exec_items = match replies.last() {
            Some(V::Arr(items)) if op.len() > 1 => items.clone(),
            _ => Vec::new(),
        };
        let cmds: Vec<&Vec<Vec<u8>>> = op
            .iter()
            .filter(|c| c[0] != b"MULTI" && c[0] != b"EXEC")
            .collect();
        let got: Vec<V> = if op.len() > 1 {
            exec_items
        } else {
            replies.clone()
        };
        if got.len() != cmds.len() || replies.iter().any(V::is_err) {
            res.problems.push(format!(
                "unexpected replies {replies:?} to {:?}",
                show_op(&op)
            ));
            continue;
        }
        for (cmd, reply) in cmds.iter().zip(&got) {
            let want = model_apply(&mut res.model, cmd);
            if let (Some(w), V::Int(g)) = (want, reply)
                && w != *g
                && res.problems.len() < 10
            {
                res.problems.push(format!(
                    "{} replied {g}, the model expects {w}",
                    show_op(&[(*cmd).clone()])
                ));
            }
        }
    }
}

fn show_mv(v: &MV) -> String {
    let s = |b: &[u8]| {
        let t = String::from_utf8_lossy(b);
        if t.len() > 40 {
            format!("{}..({} bytes)", &t[..40], b.len())
        } else {
            t.into_owned()
        }
    };
    match v {
        MV::Str(b) => format!("string {:?}", s(b)),
        MV::List(l) => format!(
            "list of {} (last {:?})",
            l.len(),
            l.last().map(|e| s(e)).unwrap_or_default()
        ),
        MV::Hash(h) => format!(
            "hash {{{}}}",
            h.iter()
                .map(|(f, v)| format!("{}={}", s(f), s(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn show_op(op: &[Vec<Vec<u8>>]) -> String {
    op.iter()
        .map(|c| {
            c.iter()
                .map(|a| {
                    let s = String::from_utf8_lossy(a);
                    if s.len() > 40 {
                        format!("{}..", &s[..40])
                    } else {
                        s.into_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads the current state of `keys` in `db`.
fn read_state(c: &mut Conn, db: usize, keys: &[Vec<u8>]) -> Model {
    c.q(&["SELECT", &db.to_string()]);
    let types = c
        .pipeline(
            &keys
                .iter()
                .map(|k| encode(&[b"TYPE", k]))
                .collect::<Vec<_>>(),
        )
        .expect("TYPE");
    let mut reads = Vec::new();
    for (k, t) in keys.iter().zip(&types) {
        match t.text().as_str() {
            "string" => reads.push(encode(&[b"GET", k])),
            "list" => reads.push(encode(&[b"LRANGE", k, b"0", b"-1"])),
            "hash" => reads.push(encode(&[b"HGETALL", k])),
            _ => {}
        }
    }
    let vals = c.pipeline(&reads).expect("values");
    let mut vals = vals.into_iter();
    let mut out = Model::new();
    for (k, t) in keys.iter().zip(&types) {
        let v = match t.text().as_str() {
            "string" => MV::Str(bulk_bytes(&vals.next().expect("value"))),
            "list" => match vals.next() {
                Some(V::Arr(a)) => MV::List(a.iter().map(bulk_bytes).collect()),
                other => panic!("LRANGE: {other:?}"),
            },
            "hash" => match vals.next() {
                Some(V::Arr(a)) => MV::Hash(
                    a.chunks(2)
                        .map(|p| (bulk_bytes(&p[0]), bulk_bytes(&p[1])))
                        .collect(),
                ),
                other => panic!("HGETALL: {other:?}"),
            },
            "none" => continue,
            other => panic!("unexpected type {other}"),
        };
        out.insert(k.clone(), v);
    }
    out
}

/// Checks the restarted server against the acknowledged model: equal to
/// it, or to it plus the one in-flight op. Returns the observed state.
fn verify_crash(c: &mut Conn, db: usize, r: &WriterResult) -> Result<Model, String> {
    let mut keys: Vec<Vec<u8>> = r.model.keys().cloned().collect();
    if let Some(op) = &r.inflight {
        for cmd in op {
            if cmd.len() > 1 && !keys.contains(&cmd[1]) {
                keys.push(cmd[1].clone());
            }
        }
    }
    let got = read_state(c, db, &keys);
    let size = c.q(&["DBSIZE"]).int() as usize;
    if size != got.len() {
        let all: Vec<String> = match c.q(&["KEYS", "*"]) {
            V::Arr(a) => a.iter().map(V::text).collect(),
            other => vec![format!("{other:?}")],
        };
        let extra: Vec<&String> = all
            .iter()
            .filter(|k| !keys.contains(&k.as_bytes().to_vec()))
            .take(10)
            .collect();
        return Err(format!(
            "db {db} holds {size} keys, {} expected ones present; unexpected keys: {extra:?}",
            got.len()
        ));
    }
    if got == r.model {
        return Ok(got);
    }
    if let Some(op) = &r.inflight {
        let mut with = r.model.clone();
        for cmd in op {
            model_apply(&mut with, cmd);
        }
        if got == with {
            return Ok(got);
        }
    }
    let mut msgs = Vec::new();
    for k in &keys {
        let (a, b) = (r.model.get(k), got.get(k));
        if a != b {
            msgs.push(format!(
                "{:?}: acknowledged {}, found {}",
                String::from_utf8_lossy(k),
                a.map_or("(absent)".into(), show_mv),
                b.map_or("(absent)".into(), show_mv)
            ));
        }
    }
    msgs.truncate(10);
    Err(format!(
        "db {db}: acknowledged writes lost or changed (in flight: {:?}):\n  {}",
        r.inflight.as_deref().map(show_op),
        msgs.join("\n  ")
    ))
}

/// A command propagated as sent reaches the AOF as the client's own bytes
/// when they are canonical RESP; odd separators (the byte after a `\r`,
/// which Redis and memkv skip unchecked) and inline commands are encoded:
/// the file is canonical either way.
#[test]
fn client_bytes_reach_the_aof_only_when_canonical() {
    let dir = TmpDir::new("aof-verbatim");
    let s = start_aof(dir.path(), "always", &[]);
    let mut r = s.raw();
    let sent: [&[u8]; 5] = [
        b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n",
        b"*3\r\n$3\r\nSET\rX$1\r\nb\r\n$1\r\n2XY",
        b"*3\rX$3\r\nSET\r\n$1\r\nc\r\n$1\r\n3\r\n",
        b"SET d 4\r\n",
        b"*2\r\n$4\r\nINCR\r\n$2\r\nnn\r\n",
    ];
    for (i, cmd) in sent.iter().enumerate() {
        r.send(cmd);
        let want: &[u8] = if i < 4 { b"+OK\r\n" } else { b":1\r\n" };
        assert_eq!(r.read_reply(), want, "reply to command #{i}");
    }
    // `always`: each reply came after its fsync.
    let got = std::fs::read(last_incr(dir.path())).expect("read the increment file");
    let mut want = c(&["SELECT", "0"]);
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")] {
        want.extend(c(&["SET", k, v]));
    }
    want.extend(c(&["INCR", "nn"]));
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
    shutdown(s);
}

#[test]
fn sigkill_under_load_always_keeps_every_acknowledged_write() {
    let rounds = env_usize("MEMKV_CRASH_ROUNDS", 10);
    let mut rng = seeded("sigkill_under_load_always");
    let dir = TmpDir::new("aof-crash");
    let dbs = [0usize, 3];
    let mut models: Vec<Model> = vec![Model::new(), Model::new()];
    // MEMKV_CRASH_FSYNC=everysec shows the test can catch lost acks.
    let fsync = std::env::var("MEMKV_CRASH_FSYNC").unwrap_or_else(|_| "always".into());
    let fsync = fsync.as_str();
    let mut s = start_aof(dir.path(), fsync, &[]);
    let t0 = Instant::now();
    for round in 0..rounds {
        let port = s.port;
        let mut handles = Vec::new();
        for (tid, db) in dbs.iter().copied().enumerate() {
            let model = std::mem::take(&mut models[tid]);
            let seed = rng.next();
            handles.push(std::thread::spawn(move || {
                crash_writer(port, db, tid, round, seed, model)
            }));
        }
        let delay = Duration::from_millis(50 + rng.below(450));
        std::thread::sleep(delay);
        kill9(s);
        let results: Vec<WriterResult> = handles
            .into_iter()
            .map(|h| h.join().expect("writer"))
            .collect();
        for r in &results {
            assert!(r.problems.is_empty(), "round {round}: {:?}", r.problems);
        }
        s = start_aof(dir.path(), fsync, &[]);
        let mut conn = Conn::connect(s.port).expect("connect");
        let mut applied = Vec::new();
        for (tid, r) in results.into_iter().enumerate() {
            match verify_crash(&mut conn, dbs[tid], &r) {
                Ok(m) => {
                    applied.push(format!(
                        "t{tid}: {} acked, in flight {}",
                        r.acked,
                        match (&r.inflight, m == r.model) {
                            (None, _) => "none",
                            (Some(_), true) => "lost",
                            (Some(_), false) => "applied",
                        }
                    ));
                    models[tid] = m;
                }
                Err(e) => panic!("round {round} (kill after {delay:?}): {e}"),
            }
        }
        println!(
            "round {round}: kill after {delay:?}; {}",
            applied.join(", ")
        );
    }
    println!("{rounds} rounds in {:?}", t0.elapsed());
    kill9(s);
}

// ---------------------------------------------------------------------------
// 1b. everysec: restart works and the state is a prefix of the history.
// ---------------------------------------------------------------------------

#[test]
fn sigkill_under_load_everysec_restarts_with_a_consistent_prefix() {
    let rounds = env_usize("MEMKV_CRASH_ROUNDS", 10).div_ceil(2).max(2);
    let mut rng = seeded("sigkill_everysec");
    let dir = TmpDir::new("aof-crash-es");
    let mut s = start_aof(dir.path(), "everysec", &[]);
    let mut next = 0u64;
    for round in 0..rounds {
        let port = s.port;
        let start = next;
        let writer = std::thread::spawn(move || {
            let mut acked = start;
            let Ok(mut w) = Conn::connect(port) else {
                return acked;
            };
            let mut n = start;
            loop {
                let ns = n.to_string();
                let big = vec![b'b'; 3000];
                let mut bytes = c(&["MULTI"]);
                bytes.extend(c(&["RPUSH", "log:a", &ns]));
                bytes.extend(c(&["RPUSH", "log:b", &ns]));
                bytes.extend(c(&["INCR", "cnt"]));
                bytes.extend(c(&["EXEC"]));
                bytes.extend(encode(&[b"SET", format!("big:{n}").as_bytes(), &big]));
                if w.send(&bytes).is_err() {
                    return acked;
                }
                for _ in 0..6 {
                    if w.read_value().is_err() {
                        return acked;
                    }
                }
                n += 1;
                acked = n;
            }
        });
        std::thread::sleep(Duration::from_millis(100 + rng.below(500)));
        kill9(s);
        let acked = writer.join().expect("writer");
        s = start_aof(dir.path(), "everysec", &[]);
        let mut conn = Conn::connect(s.port).expect("connect");
        let la = match conn.q(&["LRANGE", "log:a", "0", "-1"]) {
            V::Arr(a) => a.iter().map(V::text).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        let lb = match conn.q(&["LRANGE", "log:b", "0", "-1"]) {
            V::Arr(a) => a.iter().map(V::text).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(la, lb, "round {round}: a transaction was applied partially");
        let m = la.len() as u64;
        let want: Vec<String> = (0..m).map(|i| i.to_string()).collect();
        assert_eq!(
            la, want,
            "round {round}: the log is not a prefix of the history"
        );
        let cnt = conn.q(&["GET", "cnt"]);
        let cnt = if cnt == V::Nil {
            0
        } else {
            cnt.text().parse::<u64>().expect("cnt")
        };
        assert_eq!(cnt, m, "round {round}: counter and log disagree");
        assert!(
            m <= acked + 1,
            "round {round}: more entries ({m}) than were sent ({acked}+1)"
        );
        // big:j is written after transaction j: present for j < m-1, absent for j >= m.
        let mut checks = Vec::new();
        let lo = m.saturating_sub(3);
        for j in lo..m + 2 {
            checks.push((j, conn.q(&["EXISTS", &format!("big:{j}")]).int()));
        }
        for (j, e) in checks {
            if j + 1 < m {
                assert_eq!(
                    e,
                    1,
                    "round {round}: big:{j} missing although transaction {} is there",
                    j + 1
                );
            } else if j >= m {
                assert_eq!(
                    e, 0,
                    "round {round}: big:{j} present although transaction {j} is not"
                );
            }
        }
        println!("round {round}: {acked} acked in total, {m} persisted");
        // The next round's history continues from the persisted prefix.
        next = m;
    }
    kill9(s);
}

/// everysec: the reactor keeps rounds back while the writer is busy and
/// hands them over once it is idle; a burst followed by silence must still
/// reach the file without any later command or round to push it out.
#[test]
fn everysec_burst_then_silence_reaches_the_file() {
    let dir = TmpDir::new("aof-burst");
    let s = start_aof(dir.path(), "everysec", &[]);
    let n = 20_000;
    let mut w = Conn::connect(s.port).expect("connect");
    let mut bytes = Vec::new();
    for _ in 0..n {
        bytes.extend(c(&["INCR", "cnt"]));
    }
    w.send(&bytes).expect("send");
    for _ in 0..n {
        w.read_value().expect("reply");
    }
    // Nothing more is sent: the file must catch up on its own (a wait
    // with a generous limit, not a timing assertion).
    let incr = last_incr(dir.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let data = std::fs::read(&incr).unwrap_or_default();
        let count = data.windows(10).filter(|w| w == b"$4\r\nINCR\r\n").count();
        if count == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{count} of {n} INCRs in the file"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SIGKILL loses nothing that reached the file.
    kill9(s);
    let s = start_aof(dir.path(), "everysec", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(conn.q(&["GET", "cnt"]).text(), n.to_string());
}

// ---------------------------------------------------------------------------
// 2. SIGKILL during a rewrite of a large dataset.
// ---------------------------------------------------------------------------

/// The expected state of the large dataset of the rewrite-kill test.
struct BigModel {
    keys: Vec<Option<String>>,
    counters: Vec<i64>,
    lists: Vec<Vec<String>>,
    hashes: Vec<BTreeMap<String, String>>,
}

impl BigModel {
    fn new(n: usize) -> BigModel {
        BigModel {
            keys: (0..n).map(|i| Some(format!("val:{i}"))).collect(),
            counters: vec![0; 50],
            lists: (0..20)
                .map(|_| (0..1000).map(|j| format!("e{j}")).collect())
                .collect(),
            hashes: (0..20)
                .map(|_| {
                    (0..300)
                        .map(|f| (format!("f{f}"), format!("v{f}")))
                        .collect()
                })
                .collect(),
        }
    }

    fn live(&self) -> i64 {
        let strings = self.keys.iter().filter(|v| v.is_some()).count();
        let counters = self.counters.iter().filter(|&&c| c != 0).count();
        (strings + counters + self.lists.len() + self.hashes.len()) as i64
    }
}

fn load_big_dataset(port: u16, keys: usize) {
    let errors = bulk_load(port, keys, |i, out| {
        push_cmd(
            out,
            &[
                b"SET",
                format!("key:{i}").as_bytes(),
                format!("val:{i}").as_bytes(),
            ],
        );
    });
    assert!(errors.is_empty(), "bulk load: {errors:?}");
    let mut conn = Conn::connect(port).expect("connect");
    let mut cmds = Vec::new();
    for l in 0..20 {
        let key = format!("list:{l}");
        for chunk in 0..10 {
            let mut parts: Vec<String> = vec!["RPUSH".into(), key.clone()];
            parts.extend((0..100).map(|j| format!("e{}", chunk * 100 + j)));
            let p: Vec<&str> = parts.iter().map(String::as_str).collect();
            cmds.push(c(&p));
        }
    }
    for h in 0..20 {
        let key = format!("hash:{h}");
        let mut parts: Vec<String> = vec!["HSET".into(), key.clone()];
        for f in 0..300 {
            parts.push(format!("f{f}"));
            parts.push(format!("v{f}"));
        }
        let p: Vec<&str> = parts.iter().map(String::as_str).collect();
        cmds.push(c(&p));
    }
    conn.pipe_ok(&cmds);
}

/// Compares the whole dataset with the model (MGET in chunks: cheap even
/// for a debug build, unlike DEBUG DIGEST over 200k keys).
fn verify_big(conn: &mut Conn, m: &BigModel) -> Result<(), String> {
    let mut cmds = Vec::new();
    for chunk in (0..m.keys.len()).collect::<Vec<_>>().chunks(1000) {
        let mut parts = vec!["MGET".to_string()];
        parts.extend(chunk.iter().map(|i| format!("key:{i}")));
        let p: Vec<&str> = parts.iter().map(String::as_str).collect();
        cmds.push(c(&p));
    }
    let replies = conn.pipeline(&cmds).map_err(|e| e.to_string())?;
    let mut wrong = Vec::new();
    for (ci, r) in replies.iter().enumerate() {
        let V::Arr(items) = r else {
            return Err(format!("MGET: {r:?}"));
        };
        for (j, v) in items.iter().enumerate() {
            let i = ci * 1000 + j;
            let got = match v {
                V::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            };
            if got != m.keys[i] && wrong.len() < 10 {
                wrong.push(format!("key:{i}: want {:?}, got {got:?}", m.keys[i]));
            }
        }
    }
    for (j, want) in m.counters.iter().enumerate() {
        let got = conn.q(&["GET", &format!("ctr:{j}")]);
        let got = if got == V::Nil {
            0
        } else {
            got.text().parse().unwrap_or(-1)
        };
        if got != *want {
            wrong.push(format!("ctr:{j}: want {want}, got {got}"));
        }
    }
    for (l, want) in m.lists.iter().enumerate() {
        let got = match conn.q(&["LRANGE", &format!("list:{l}"), "0", "-1"]) {
            V::Arr(a) => a.iter().map(V::text).collect::<Vec<_>>(),
            other => return Err(format!("LRANGE: {other:?}")),
        };
        if &got != want {
            wrong.push(format!(
                "list:{l}: {} elements, want {}",
                got.len(),
                want.len()
            ));
        }
    }
    for (h, want) in m.hashes.iter().enumerate() {
        let got: BTreeMap<String, String> = match conn.q(&["HGETALL", &format!("hash:{h}")]) {
            V::Arr(a) => a.chunks(2).map(|p| (p[0].text(), p[1].text())).collect(),
            other => return Err(format!("HGETALL: {other:?}")),
        };
        if &got != want {
            wrong.push(format!("hash:{h} differs"));
        }
    }
    let size = conn.q(&["DBSIZE"]).int();
    if size != m.live() {
        wrong.push(format!("DBSIZE {size}, want {}", m.live()));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("\n  "))
    }
}

#[test]
fn sigkill_during_rewrite_of_a_large_dataset_loses_nothing() {
    let rounds = env_usize("MEMKV_REWRITE_KILL_ROUNDS", 3);
    let keys = env_usize("MEMKV_REWRITE_KEYS", 200_000);
    let mut rng = seeded("sigkill_during_rewrite");
    let dir = TmpDir::new("aof-rwkill");
    let mut s = start_aof(dir.path(), "always", &[]);
    let t0 = Instant::now();
    load_big_dataset(s.port, keys);
    println!("loaded {keys} keys in {:?}", t0.elapsed());
    let mut model = BigModel::new(keys);
    // DEBUG DIGEST of 200k keys takes seconds in a debug build: only in
    // release builds, on top of the model comparison.
    let use_digest = !cfg!(debug_assertions);
    let delays = [0u64, 0, 1, 5, 20, 50, 200, 1000];
    for round in 0..rounds {
        let mut conn = Conn::connect(s.port).expect("connect");
        // BGREWRITEAOF and writes in one packet: the writes land during the walk.
        let mut cmds = vec![c(&["BGREWRITEAOF"])];
        for i in 0..2000 {
            let r = rng.below(keys as u64) as usize;
            let k = format!("key:{r}");
            let op = match i % 5 {
                0 => {
                    let v = format!("r{round}-{i}");
                    model.keys[r] = Some(v.clone());
                    c(&["SET", &k, &v])
                }
                1 => {
                    model.keys[r] = None;
                    c(&["DEL", &k])
                }
                2 => {
                    model.counters[i % 50] += 1;
                    c(&["INCR", &format!("ctr:{}", i % 50)])
                }
                3 => {
                    let v = format!("r{round}-{i}");
                    model.lists[i % 20].push(v.clone());
                    c(&["RPUSH", &format!("list:{}", i % 20), &v])
                }
                _ => {
                    let (f, v) = (format!("f{}", i % 400), format!("r{round}"));
                    model.hashes[i % 20].insert(f.clone(), v.clone());
                    c(&["HSET", &format!("hash:{}", i % 20), &f, &v])
                }
            };
            cmds.push(op);
        }
        let replies = conn.pipe_ok(&cmds);
        assert_eq!(
            replies[0].text(),
            "Background append only file rewriting started"
        );
        let want = use_digest.then(|| digest(&mut conn));
        let delay = delays[rng.below(delays.len() as u64) as usize];
        std::thread::sleep(Duration::from_millis(delay));
        let manifest_before = manifest(dir.path());
        kill9(s);
        let t1 = Instant::now();
        s = start_aof(dir.path(), "always", &[]);
        let load = t1.elapsed();
        let mut conn = Conn::connect(s.port).expect("connect");
        println!(
            "round {round}: killed {delay} ms after BGREWRITEAOF (manifest then: {} files), reload took {load:?}",
            manifest_before.len()
        );
        if let Err(e) = verify_big(&mut conn, &model) {
            panic!(
                "round {round}: dataset differs after SIGKILL {delay} ms into a rewrite:\n  {e}"
            );
        }
        if let Some(want) = want {
            assert_eq!(
                digest(&mut conn),
                want,
                "round {round}: DEBUG DIGEST differs"
            );
        }
        assert!(
            !dir_names(dir.path()).iter().any(|n| n.starts_with("temp-")),
            "temp files left after restart: {:?}",
            dir_names(dir.path())
        );
        for (name, _, _) in manifest(dir.path()) {
            assert!(
                aof_dir(dir.path()).join(&name).exists(),
                "manifest names missing file {name}"
            );
        }
    }
    // A rewrite that completes cleans up whatever the killed ones left.
    let mut conn = Conn::connect(s.port).expect("connect");
    let prev = base_seq(dir.path());
    assert_eq!(
        conn.q(&["BGREWRITEAOF"]).text(),
        "Background append only file rewriting started"
    );
    wait_rewrite(&mut conn, dir.path(), prev);
    assert_only_manifest_files(dir.path(), "after a completed rewrite");
    let m = manifest(dir.path());
    assert_eq!(m.len(), 2, "one base and one incr expected: {m:?}");
    drop(conn);
    kill9(s);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    if let Err(e) = verify_big(&mut conn, &model) {
        panic!("after the final rewrite: {e}");
    }
    kill9(s);
}

/// SHUTDOWN while a rewrite walks a large dataset: the rewrite is
/// abandoned, the AOF flushed, and the restart loads everything.
#[test]
fn shutdown_during_rewrite_keeps_everything() {
    let keys = 100_000;
    let dir = TmpDir::new("aof-rwshut");
    let s = start_aof(dir.path(), "everysec", &[]);
    load_big_dataset(s.port, keys);
    let mut model = BigModel::new(keys);
    let mut conn = Conn::connect(s.port).expect("connect");
    let mut cmds = vec![c(&["BGREWRITEAOF"])];
    for i in 0..500usize {
        let r = (i * 197) % keys;
        let v = format!("late-{i}");
        model.keys[r] = Some(v.clone());
        cmds.push(c(&["SET", &format!("key:{r}"), &v]));
        model.lists[i % 20].push(v.clone());
        cmds.push(c(&["RPUSH", &format!("list:{}", i % 20), &v]));
    }
    cmds.push(c(&["SHUTDOWN"]));
    let bytes: Vec<u8> = cmds.concat();
    conn.send(&bytes).expect("send");
    let mut n = 0;
    while conn.read_value().is_ok() {
        n += 1;
    }
    assert_eq!(
        n,
        cmds.len() - 1,
        "replies before SHUTDOWN closed the connection"
    );
    let mut s = s;
    let st = wait_exit(&mut s.child, Duration::from_secs(60)).expect("no exit after SHUTDOWN");
    assert!(st.success(), "{st}");
    release(s);
    let s = start_aof(dir.path(), "everysec", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    if let Err(e) = verify_big(&mut conn, &model) {
        panic!("after SHUTDOWN during a rewrite: {e}");
    }
    kill9(s);
    assert!(
        !dir_names(dir.path()).iter().any(|n| n.starts_with("temp-")),
        "temp files left: {:?}",
        dir_names(dir.path())
    );
}

/// Redis 7 runs BGREWRITEAOF with appendonly no too: it writes a base and
/// a manifest, which a later start with appendonly yes loads.
#[test]
fn bgrewriteaof_with_aof_off_writes_a_loadable_aof_like_redis() {
    let dir = TmpDir::new("aof-off-rw");
    let s = Server::start_in(dir.path(), &["--enable-debug-command", "yes"]);
    let mut conn = Conn::connect(s.port).expect("connect");
    conn.pipe_ok(&[c(&["SET", "a", "1"]), c(&["RPUSH", "l", "x"])]);
    let reply = conn.q(&["BGREWRITEAOF"]);
    assert_eq!(
        reply,
        V::Simple("Background append only file rewriting started".into()),
        "Redis 7 answers this with appendonly no"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while base_seq(dir.path()) == 0 {
        assert!(
            Instant::now() < deadline,
            "no manifest with a base appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_no_rewrite(&mut conn);
    let want = dump_all(&mut conn, 16);
    drop(conn);
    shutdown(s);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    kill9(s);
    assert_eq!(diff_dumps(&want, &got, 0), None);
}

// ---------------------------------------------------------------------------
// 3. Rewrite correctness.
// ---------------------------------------------------------------------------

/// A mixed dataset over several databases; TTLs only in absolute forms so
/// PEXPIRETIME is comparable across restarts.
fn populate_mixed(conn: &mut Conn, n: usize, far: u64) {
    let mut cmds = Vec::new();
    cmds.push(c(&["SELECT", "0"]));
    for i in 0..n {
        cmds.push(c(&["SET", &format!("k:{i}"), &format!("v:{i}")]));
    }
    for i in 0..200 {
        let key = format!("l:{i}");
        let mut parts: Vec<String> = vec!["RPUSH".into(), key];
        parts.extend((0..100).map(|j| format!("l:{i}:{j}")));
        let p: Vec<&str> = parts.iter().map(String::as_str).collect();
        cmds.push(c(&p));
    }
    for i in 0..200 {
        let mut parts: Vec<String> = vec!["HSET".into(), format!("h:{i}")];
        for f in 0..150 {
            parts.push(format!("f{f}"));
            parts.push(format!("h:{i}:{f}"));
        }
        let p: Vec<&str> = parts.iter().map(String::as_str).collect();
        cmds.push(c(&p));
    }
    for i in 0..1000 {
        let at = (far + i as u64).to_string();
        cmds.push(c(&["SET", &format!("t:{i}"), "ttl", "PXAT", &at]));
    }
    for i in 0..100 {
        cmds.push(c(&["SET", &format!("c:{i}"), &i.to_string()]));
    }
    cmds.push(encode(&[
        b"SET",
        b"bin\r\n\0key",
        b"\0\r\n*1\r\n$4\r\nEXEC\r\n",
    ]));
    cmds.push(encode(&[b"HSET", b"bin\r\nhash", b"f\r\n", b"", b"", b"e"]));
    cmds.push(c(&["SET", "empty", ""]));
    for (db, count) in [(1usize, 5000usize), (2, 5000), (5, 3000)] {
        cmds.push(c(&["SELECT", &db.to_string()]));
        for i in 0..count {
            cmds.push(c(&["SET", &format!("d{db}:{i}"), &format!("{db}:{i}")]));
        }
    }
    cmds.push(c(&["SELECT", "9"]));
    let secs = (far / 1000).to_string();
    for i in 0..100 {
        cmds.push(c(&["SET", &format!("e:{i}"), "x"]));
        cmds.push(c(&["EXPIREAT", &format!("e:{i}"), &secs]));
    }
    cmds.push(c(&["SELECT", "0"]));
    conn.pipe_ok(&cmds);
}

/// Every kind of change, meant to run while the walk is in progress.
fn mutations_during_rewrite(n: usize, far: u64) -> Vec<Vec<u8>> {
    let f = |x: u64| (far + 7777 + x).to_string();
    let mut m = vec![
        c(&["SELECT", "0"]),
        c(&["SET", "k:0", "changed"]),
        c(&["SET", &format!("k:{}", n - 1), "changed-top"]),
        c(&["SET", &format!("k:{}", n / 2), "changed-mid"]),
        c(&["DEL", "k:1"]),
        c(&["DEL", &format!("k:{}", n - 2)]),
        c(&["UNLINK", &format!("k:{}", n / 3)]),
        c(&["APPEND", "k:3", "-appended"]),
        c(&["INCR", "c:0"]),
        c(&["INCRBY", "c:1", "10"]),
        c(&["DECR", "c:2"]),
        c(&["PEXPIREAT", "k:4", &f(1)]),
        c(&["PERSIST", "t:0"]),
        c(&["PEXPIREAT", "t:1", &f(2)]),
        c(&["SET", "k:5", "with-pxat", "PXAT", &f(3)]),
        c(&["RENAME", "k:6", "k:renamed"]),
        c(&["RENAME", "k:7", "k:8"]),
        c(&["RENAMENX", "k:9", "k:new9"]),
        c(&["RENAME", "t:2", "t:renamed"]),
        c(&["RPUSH", "l:0", "x", "y", "z"]),
        c(&["LPOP", "l:1"]),
        c(&["RPOP", "l:2", "2"]),
        c(&["LSET", "l:3", "0", "set"]),
        c(&["LTRIM", "l:4", "0", "9"]),
        c(&["LREM", "l:5", "0", "l:5:7"]),
        c(&["DEL", "l:6"]),
        c(&["HSET", "h:0", "f0", "new", "f200", "added"]),
        c(&["HDEL", "h:1", "f0", "f1"]),
        c(&["HINCRBY", "h:2", "cnt", "5"]),
        c(&["DEL", "h:3"]),
        c(&["MULTI"]),
        c(&["SET", "k:10", "tx"]),
        c(&["INCR", "c:3"]),
        c(&["RPUSH", "l:7", "tx"]),
        c(&["HSET", "h:4", "tx", "1"]),
        c(&["DEL", "k:11"]),
        c(&["EXEC"]),
        c(&["MOVE", "k:12", "1"]),
        c(&["COPY", "k:13", "k:copy13"]),
    ];
    for i in 0..100 {
        m.push(c(&["SET", &format!("new:{i}"), "after-epoch"]));
    }
    m.push(encode(&[b"SET", b"bin\r\n\0key", b"changed\0\r\n"]));
    m.push(encode(&[b"RPUSH", b"bin\r\nlist", b"", b"\r\n"]));
    m.push(c(&["DEL", "new:5"]));
    // Deletions deep in the unwalked region move later elements down.
    for i in 100..400 {
        m.push(c(&["DEL", &format!("k:{i}")]));
    }
    m.push(c(&["SET", "k:150", "recreated"]));
    m.extend([
        c(&["SELECT", "2"]),
        c(&["FLUSHDB"]),
        c(&["SET", "d2:after-flush", "1"]),
        c(&["SWAPDB", "1", "5"]),
        c(&["SELECT", "1"]),
        c(&["SET", "d5:0", "changed-after-swap"]),
        c(&["DEL", "d5:1"]),
        c(&["SELECT", "5"]),
        c(&["SET", "d1:0", "changed-after-swap"]),
        c(&["SELECT", "9"]),
        c(&["DEL", "e:0"]),
        c(&["SELECT", "0"]),
    ]);
    m
}

/// Loads only `base` (as the sole file of a manifest) into a fresh memkv
/// and returns its dump.
fn dump_of_base_alone(base: &Path) -> Dump {
    let d = TmpDir::new("aof-base-only");
    let ad = aof_dir(d.path());
    std::fs::create_dir_all(&ad).expect("mkdir");
    std::fs::copy(base, ad.join("appendonly.aof.1.base.aof")).expect("copy base");
    std::fs::write(
        ad.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\n",
    )
    .expect("write manifest");
    let s = start_aof(d.path(), "everysec", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let dump = dump_all(&mut conn, 16);
    kill9(s);
    dump
}

fn rewrite_scenario(fsync: &str, kill: bool) {
    let dir = TmpDir::new("aof-rw");
    let far = now_ms() + 3_600_000;
    let n = 20_000;
    let s = start_aof(dir.path(), fsync, &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    populate_mixed(&mut conn, n, far);
    let at_epoch = dump_all(&mut conn, 16);
    let base_before = base_seq(dir.path());
    let mut cmds = vec![c(&["BGREWRITEAOF"])];
    cmds.extend(mutations_during_rewrite(n, far));
    let replies = conn.pipe_ok(&cmds);
    assert_eq!(
        replies[0].text(),
        "Background append only file rewriting started"
    );
    // A second wave from another connection, while the walk may still run.
    let mut other = Conn::connect(s.port).expect("connect");
    let mut wave = Vec::new();
    let mut rng = Rng(42);
    for i in 0..3000 {
        let k = format!("k:{}", rng.below(n as u64));
        wave.push(match i % 4 {
            0 => c(&["SET", &k, &format!("wave-{i}")]),
            1 => c(&["DEL", &k]),
            2 => c(&["RPUSH", &format!("l:{}", rng.below(200)), "wave"]),
            _ => c(&[
                "HDEL",
                &format!("h:{}", rng.below(200)),
                &format!("f{}", rng.below(150)),
            ]),
        });
    }
    other.pipe_ok(&wave);
    let took = wait_rewrite(&mut conn, dir.path(), base_before);
    println!("rewrite finished {took:?} after the second wave");
    let m = manifest(dir.path());
    assert_eq!(
        m.iter().filter(|e| e.2 == 'b').count(),
        1,
        "manifest: {m:?}"
    );
    assert_eq!(
        m.iter().filter(|e| e.2 == 'i').count(),
        1,
        "manifest: {m:?}"
    );
    assert_only_manifest_files(dir.path(), "after BGREWRITEAOF");
    // The new base alone is the dataset as of the epoch.
    let base_only = dump_of_base_alone(&base_path(dir.path()));
    if let Some(d) = diff_dumps(&at_epoch, &base_only, 0) {
        panic!("the rewritten base is not the point-in-time dataset (epoch vs base alone): {d}");
    }
    // Some writes after the rewrite, into the new increment.
    conn.pipe_ok(&[
        c(&["SET", "after-rewrite", "1"]),
        c(&["SELECT", "3"]),
        c(&["RPUSH", "after-list", "a", "b"]),
        c(&["SELECT", "0"]),
        c(&["DEL", "k:20"]),
    ]);
    let want = dump_all(&mut conn, 16);
    let want_digest = digest(&mut conn);
    drop(conn);
    drop(other);
    if kill {
        kill9(s);
    } else {
        shutdown(s);
    }
    let s = start_aof(dir.path(), fsync, &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    if let Some(d) = diff_dumps(&want, &got, 0) {
        panic!("dataset differs after restart: {d}");
    }
    assert_eq!(digest(&mut conn), want_digest);
    kill9(s);
}

#[test]
fn rewrite_with_concurrent_changes_then_shutdown_restores_everything() {
    rewrite_scenario("everysec", false);
}

#[test]
fn rewrite_with_concurrent_changes_then_sigkill_restores_everything() {
    rewrite_scenario("always", true);
}

/// Random single commands, one per poll round (each round also walks a
/// slice of the snapshot), during several rewrites: each new base alone
/// must equal the dataset as of its BGREWRITEAOF, and a restart must give
/// the live dataset.
#[test]
fn rewrite_is_point_in_time_under_interleaved_random_writes() {
    let mut rng = seeded("rewrite_point_in_time");
    let dir = TmpDir::new("aof-rw-pit");
    let s = start_aof(dir.path(), "everysec", &[]);
    let n = 40_000u64;
    let errors = bulk_load(s.port, n as usize, |i, out| {
        push_cmd(out, &[b"SET", format!("k:{i}").as_bytes(), b"v"]);
    });
    assert!(errors.is_empty(), "{errors:?}");
    let mut conn = Conn::connect(s.port).expect("connect");
    let mut setup = Vec::new();
    for i in 0..50 {
        setup.push(c(&["RPUSH", &format!("l:{i}"), "a", "b", "c"]));
        setup.push(c(&["HSET", &format!("h:{i}"), "f", "v", "g", "w"]));
    }
    setup.push(c(&["SET", "strkey", "s"]));
    setup.push(c(&["SELECT", "1"]));
    setup.push(c(&["SET", "strkey", "s"]));
    for i in 0..2000 {
        setup.push(c(&["SET", &format!("k:{i}"), "db1"]));
    }
    setup.push(c(&["SELECT", "0"]));
    conn.pipe_ok(&setup);
    let far = now_ms() + 3_600_000;
    for round in 0..3 {
        let epoch = dump_all(&mut conn, 16);
        let prev = base_seq(dir.path());
        assert_eq!(
            conn.q(&["BGREWRITEAOF"]).text(),
            "Background append only file rewriting started"
        );
        let mut db = 0;
        for i in 0..150 {
            let k = format!("k:{}", rng.below(n));
            let k2 = format!("k:{}", rng.below(n));
            let l = format!("l:{}", rng.below(50));
            let h = format!("h:{}", rng.below(50));
            let v = format!("r{round}-{i}");
            let at = (far + rng.below(100_000)).to_string();
            let op: Vec<Vec<u8>> = match rng.below(100) {
                0..20 => vec![c(&["SET", &k, &v])],
                20..35 => vec![c(&["DEL", &k])],
                35..40 => vec![c(&["RENAME", &k, &k2])],
                40..45 => vec![c(&["PEXPIREAT", &k, &at])],
                45..48 => vec![c(&["PERSIST", &k])],
                48..55 => vec![c(&["RPUSH", &l, &v])],
                55..60 => vec![c(&["LPOP", &l])],
                60..66 => vec![c(&["HSET", &h, "f", &v])],
                66..70 => vec![c(&["HDEL", &h, "g"])],
                70..74 => vec![c(&["MOVE", &k, if db == 0 { "1" } else { "0" }])],
                74..77 => vec![c(&["COPY", &k, &format!("copy:{i}")])],
                77..85 => vec![c(&["SET", &format!("new:{round}:{i}"), &v])],
                85..87 => vec![c(&["SWAPDB", "0", "1"])],
                87..88 => vec![
                    c(&["SELECT", "2"]),
                    c(&["SET", "x", "1"]),
                    c(&["FLUSHDB"]),
                    c(&["SELECT", &db.to_string()]),
                ],
                88..92 => {
                    db = 1 - db;
                    vec![c(&["SELECT", &db.to_string()])]
                }
                // Rolled back by the failing LPUSH (multi-rollback yes).
                92..96 => vec![
                    c(&["MULTI"]),
                    c(&["SET", &k, &v]),
                    c(&["DEL", &k2]),
                    c(&["RPUSH", &l, &v]),
                    c(&["HSET", &h, "f", &v]),
                    c(&["SET", &format!("ghost:{i}"), &v]),
                    c(&["LPUSH", "strkey", "x"]),
                    c(&["EXEC"]),
                ],
                _ => vec![
                    c(&["MULTI"]),
                    c(&["SET", &k, &v]),
                    c(&["DEL", &k2]),
                    c(&["RPUSH", &l, &v]),
                    c(&["EXEC"]),
                ],
            };
            // One command per round trip: every command is its own poll round.
            for cmd in op {
                conn.send(&cmd).expect("send");
                let _ = conn.read_value().expect("reply");
            }
        }
        conn.q(&["SELECT", "0"]);
        wait_rewrite(&mut conn, dir.path(), prev);
        let base_only = dump_of_base_alone(&base_path(dir.path()));
        if let Some(d) = diff_dumps(&epoch, &base_only, 0) {
            panic!("round {round}: the base is not the dataset as of BGREWRITEAOF: {d}");
        }
    }
    let want = dump_all(&mut conn, 16);
    drop(conn);
    shutdown(s);
    let s = start_aof(dir.path(), "everysec", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    kill9(s);
    if let Some(d) = diff_dumps(&want, &got, 0) {
        panic!("dataset differs after restart: {d}");
    }
}

#[test]
fn flushall_during_rewrite() {
    let dir = TmpDir::new("aof-rw-flushall");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let cmds: Vec<Vec<u8>> = (0..20_000)
        .map(|i| c(&["SET", &format!("k:{i}"), "v"]))
        .chain([
            c(&["SELECT", "4"]),
            c(&["SET", "four", "4"]),
            c(&["SELECT", "0"]),
        ])
        .collect();
    conn.pipe_ok(&cmds);
    let at_epoch = dump_all(&mut conn, 16);
    conn.pipe_ok(&[
        c(&["BGREWRITEAOF"]),
        c(&["FLUSHALL"]),
        c(&["SET", "survivor", "1"]),
        c(&["SELECT", "4"]),
        c(&["SET", "four", "after"]),
        c(&["SELECT", "0"]),
    ]);
    wait_rewrite(&mut conn, dir.path(), 1);
    let base_only = dump_of_base_alone(&base_path(dir.path()));
    if let Some(d) = diff_dumps(&at_epoch, &base_only, 0) {
        panic!("base is not the dataset as of the epoch: {d}");
    }
    let want = dump_all(&mut conn, 16);
    assert_eq!(want.len(), 2);
    drop(conn);
    kill9(s);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    assert_eq!(diff_dumps(&want, &got, 0), None);
    kill9(s);
}

/// Redis answers an error for BGREWRITEAOF while one runs, and INFO shows
/// the rewrite in progress. Pipelined in one packet with a walk of 60k keys
/// the second command certainly arrives while the first rewrite runs.
#[test]
fn bgrewriteaof_while_running_and_info_persistence() {
    let dir = TmpDir::new("aof-rw-info");
    let s = start_aof(dir.path(), "everysec", &[]);
    let errors = bulk_load(s.port, 60_000, |i, out| {
        push_cmd(out, &[b"SET", format!("k:{i}").as_bytes(), b"v"]);
    });
    assert!(errors.is_empty(), "{errors:?}");
    let mut conn = Conn::connect(s.port).expect("connect");
    let replies = conn
        .pipeline(&[
            c(&["BGREWRITEAOF"]),
            c(&["INFO", "persistence"]),
            c(&["BGREWRITEAOF"]),
        ])
        .expect("pipeline");
    assert_eq!(
        replies[0].text(),
        "Background append only file rewriting started"
    );
    let info = replies[1].text();
    let field = |name: &str| {
        info.lines().find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_string())
        })
    };
    let in_progress = field("aof_rewrite_in_progress");
    let second = replies[2].clone();
    wait_rewrite(&mut conn, dir.path(), 1);
    let after = |name: &str, c: &mut Conn| info_field(c, "persistence", name);
    let enabled = after("aof_enabled", &mut conn);
    let status = after("aof_last_bgrewrite_status", &mut conn);
    let base_size = after("aof_base_size", &mut conn);
    let current = after("aof_current_size", &mut conn);
    let base_len = std::fs::metadata(base_path(dir.path()))
        .expect("base")
        .len();
    let incr_len = std::fs::metadata(last_incr(dir.path())).map_or(0, |m| m.len());
    kill9(s);
    assert_eq!(
        in_progress.as_deref(),
        Some("1"),
        "INFO aof_rewrite_in_progress during a rewrite"
    );
    assert_eq!(enabled.as_deref(), Some("1"));
    assert_eq!(status.as_deref(), Some("ok"));
    assert_eq!(base_size, Some(base_len.to_string()), "aof_base_size");
    assert_eq!(
        current,
        Some((base_len + incr_len).to_string()),
        "aof_current_size"
    );
    assert_eq!(
        second,
        V::Err("ERR Background append only file rewriting already in progress".into()),
        "BGREWRITEAOF while a rewrite runs (Redis 7 replies this error)"
    );
}

/// Waits (bounded) until no rewrite runs or is scheduled.
fn wait_no_rewrite(conn: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(conn, "persistence", "aof_rewrite_in_progress").as_deref() != Some("0")
        || info_field(conn, "persistence", "aof_rewrite_scheduled").as_deref() == Some("1")
    {
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every file the manifest names parses as complete RESP commands.
fn assert_files_well_formed(dir: &Path, what: &str) {
    for (name, _, _) in manifest(dir) {
        let bytes = std::fs::read(aof_dir(dir).join(&name)).unwrap_or_default();
        if name.ends_with(".rdb") {
            // An RDB base (aof-use-rdb-preamble): a complete, valid file.
            let mut store = memkv::store::Store::new(16);
            if let Err(e) = memkv::rdb::file::load_all(bytes, &mut store, &Default::default(), true)
            {
                panic!("{what}: {name} is not a valid RDB file: {e}");
            }
            continue;
        }
        if let Err(off) = parse_aof(&bytes) {
            let lo = off.saturating_sub(20);
            panic!(
                "{what}: {name} is malformed at offset {off}: {:?}",
                String::from_utf8_lossy(&bytes[lo..(off + 60).min(bytes.len())])
            );
        }
    }
}

/// BGREWRITEAOF queued in a transaction, with another command before MULTI
/// in the same poll round: the increment file must stay well formed (the
/// MULTI ... EXEC wrapper lands around the transaction's commands) and the
/// data must survive SIGKILL. Redis 7 never starts a rewrite inside EXEC:
/// it answers "scheduled" and starts it afterwards.
#[test]
fn bgrewriteaof_inside_multi_keeps_the_aof_well_formed() {
    let dir = TmpDir::new("aof-rw-multi");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let pad = "p".repeat(300);
    let big = "b".repeat(700);
    let replies = conn
        .pipeline(&[
            c(&["SET", "pad", &pad]),
            c(&["MULTI"]),
            c(&["SET", "a", "1"]),
            c(&["BGREWRITEAOF"]),
            c(&["SET", "b", &big]),
            c(&["EXEC"]),
        ])
        .expect("pipeline");
    // Acknowledged with appendfsync always: the files hold it now.
    assert_files_well_formed(dir.path(), "right after EXEC");
    wait_no_rewrite(&mut conn);
    let want = dump_all(&mut conn, 16);
    drop(conn);
    kill9(s);
    assert_files_well_formed(dir.path(), "after the rewrite");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    kill9(s);
    if let Some(d) = diff_dumps(&want, &got, 0) {
        panic!("dataset differs after restart (BGREWRITEAOF inside MULTI): {d}");
    }
    match &replies[5] {
        V::Arr(items) => assert_eq!(
            items.get(1).map(V::text).as_deref(),
            Some("Background append only file rewriting scheduled"),
            "Redis 7 schedules BGREWRITEAOF inside EXEC"
        ),
        other => panic!("EXEC: {other:?}"),
    }
}

/// A transaction with BGREWRITEAOF inside that is rolled back (runtime
/// error, multi-rollback yes), in db 3, followed by a write in db 3: after
/// SIGKILL and restart the rolled-back write is absent and the later write
/// is in db 3.
#[test]
fn bgrewriteaof_inside_a_rolled_back_multi() {
    let dir = TmpDir::new("aof-rw-multi-rb");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let replies = conn
        .pipeline(&[
            c(&["SELECT", "3"]),
            c(&["SET", "str", "s"]),
            c(&["MULTI"]),
            c(&["SET", "ghost", "1"]),
            c(&["BGREWRITEAOF"]),
            c(&["LPUSH", "str", "x"]),
            c(&["EXEC"]),
            c(&["SET", "c3", "in-db-3"]),
            c(&["SELECT", "0"]),
        ])
        .expect("pipeline");
    assert!(
        replies[6].is_err(),
        "the LPUSH on a string must fail the EXEC: {replies:?}"
    );
    wait_no_rewrite(&mut conn);
    let want = dump_all(&mut conn, 16);
    assert!(
        !want.contains_key(&(3, b"ghost".to_vec())),
        "rolled-back write visible"
    );
    assert!(want.contains_key(&(3, b"c3".to_vec())));
    drop(conn);
    kill9(s);
    assert_files_well_formed(dir.path(), "after the rewrite");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    kill9(s);
    if let Some(d) = diff_dumps(&want, &got, 0) {
        panic!("dataset differs after restart (rolled-back MULTI with BGREWRITEAOF): {d}");
    }
}

// ---------------------------------------------------------------------------
// 4. Truncated tail, incomplete MULTI, corruption.
// ---------------------------------------------------------------------------

/// Runs memkv on `dir` expecting it to exit by itself; returns the exit
/// status and everything it printed.
fn run_expect_exit(dir: &Path, extra: &[&str]) -> (ExitStatus, String) {
    let port = common::free_port().to_string();
    let mut args = vec!["--port", &port, "--bind", "127.0.0.1"];
    args.extend(["--dir", dir.to_str().expect("utf-8")]);
    args.extend(["--appendonly", "yes"]);
    args.extend(extra);
    common::exit::run_to_exit(dir, &args)
}

/// A server with a few acknowledged writes, shut down; returns the dir.
fn small_aof(tag: &str) -> TmpDir {
    let dir = TmpDir::new(tag);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    conn.pipe_ok(&[
        c(&["SET", "a", "1"]),
        c(&["RPUSH", "l", "x", "y"]),
        c(&["HSET", "h", "f", "v"]),
        c(&["SELECT", "2"]),
        c(&["SET", "two", "2"]),
        c(&["SELECT", "0"]),
        c(&["INCR", "n"]),
    ]);
    drop(conn);
    shutdown(s);
    dir
}

fn check_small_dataset(conn: &mut Conn) {
    assert_eq!(conn.q(&["GET", "a"]), V::Bulk(b"1".to_vec()));
    assert_eq!(
        conn.q(&["LRANGE", "l", "0", "-1"]),
        V::Arr(vec![V::Bulk(b"x".to_vec()), V::Bulk(b"y".to_vec())])
    );
    assert_eq!(conn.q(&["HGET", "h", "f"]), V::Bulk(b"v".to_vec()));
    assert_eq!(conn.q(&["GET", "n"]), V::Bulk(b"1".to_vec()));
    conn.q(&["SELECT", "2"]);
    assert_eq!(conn.q(&["GET", "two"]), V::Bulk(b"2".to_vec()));
    conn.q(&["SELECT", "0"]);
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(bytes).expect("append");
}

const PARTIAL: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nx";

#[test]
fn truncated_tail_is_cut_off_when_aof_load_truncated_yes() {
    let dir = small_aof("aof-trunc");
    let incr = last_incr(dir.path());
    let orig = std::fs::read(&incr).expect("incr");
    append(&incr, PARTIAL);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    check_small_dataset(&mut conn);
    assert_eq!(conn.q(&["EXISTS", "x"]).int(), 0);
    assert_eq!(
        std::fs::read(&incr).expect("incr"),
        orig,
        "file not truncated to the last complete command"
    );
    // Appending after the truncation point works and survives another restart.
    conn.q(&["SET", "after", "ok"]);
    drop(conn);
    shutdown(s);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    check_small_dataset(&mut conn);
    assert_eq!(conn.q(&["GET", "after"]), V::Bulk(b"ok".to_vec()));
    kill9(s);
}

#[test]
fn truncated_tail_refuses_to_start_when_aof_load_truncated_no() {
    let dir = small_aof("aof-trunc-no");
    let incr = last_incr(dir.path());
    append(&incr, PARTIAL);
    let before = snapshot_files(dir.path());
    let (st, out) = run_expect_exit(dir.path(), &["--aof-load-truncated", "no"]);
    assert!(!st.success(), "exit status {st}; output:\n{out}");
    let name = incr
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(out.contains(&name), "message does not name {name}:\n{out}");
    assert!(
        out.contains("aof-load-truncated"),
        "message does not mention aof-load-truncated:\n{out}"
    );
    assert_eq!(
        snapshot_files(dir.path()),
        before,
        "files changed by a refused start"
    );
}

#[test]
fn incomplete_multi_at_the_tail_is_dropped() {
    let dir = small_aof("aof-multi-tail");
    let incr = last_incr(dir.path());
    let orig = std::fs::read(&incr).expect("incr");
    let mut tail = c(&["MULTI"]);
    tail.extend(c(&["SET", "y", "1"]));
    tail.extend(c(&["INCR", "a"]));
    append(&incr, &tail);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    check_small_dataset(&mut conn);
    assert_eq!(
        conn.q(&["EXISTS", "y"]).int(),
        0,
        "a command of the incomplete MULTI was applied"
    );
    assert_eq!(
        std::fs::read(&incr).expect("incr"),
        orig,
        "file not truncated to before MULTI"
    );
    kill9(s);
    // An incomplete MULTI that is itself cut mid-command.
    let mut tail = c(&["MULTI"]);
    tail.extend(c(&["SET", "y", "1"]));
    tail.extend_from_slice(PARTIAL);
    append(&incr, &tail);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    check_small_dataset(&mut conn);
    assert_eq!(conn.q(&["EXISTS", "y"]).int(), 0);
    assert_eq!(std::fs::read(&incr).expect("incr"), orig);
    kill9(s);
}

#[test]
fn garbage_in_the_middle_refuses_to_start_and_leaves_files_untouched() {
    let dir = small_aof("aof-corrupt");
    let incr = last_incr(dir.path());
    let orig = std::fs::read(&incr).expect("incr");
    let cmds = parse_aof(&orig).expect("well-formed incr file");
    assert!(cmds.len() >= 3);
    // Offset of the second command.
    let first_len = {
        let p: Vec<&[u8]> = cmds[0].iter().map(Vec::as_slice).collect();
        encode(&p).len()
    };
    let mut bad = orig[..first_len].to_vec();
    bad.extend_from_slice(b"GARBAGE!!\r\n");
    bad.extend_from_slice(&orig[first_len..]);
    std::fs::write(&incr, &bad).expect("write");
    let before = snapshot_files(dir.path());
    for truncated in ["yes", "no"] {
        let (st, out) = run_expect_exit(dir.path(), &["--aof-load-truncated", truncated]);
        assert!(!st.success(), "exit status {st}; output:\n{out}");
        let name = incr
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(out.contains(&name), "message does not name {name}:\n{out}");
        assert!(
            out.contains(&format!("offset {first_len}")),
            "message does not give offset {first_len}:\n{out}"
        );
        assert_eq!(
            snapshot_files(dir.path()),
            before,
            "files changed by a refused start"
        );
    }
}

#[test]
fn truncated_base_file_refuses_to_start_even_with_aof_load_truncated_yes() {
    let dir = TmpDir::new("aof-corrupt-base");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let cmds: Vec<Vec<u8>> = (0..100)
        .map(|i| c(&["SET", &format!("k{i}"), "v"]))
        .collect();
    conn.pipe_ok(&cmds);
    conn.q(&["BGREWRITEAOF"]);
    wait_rewrite(&mut conn, dir.path(), 1);
    conn.q(&["SET", "later", "1"]);
    drop(conn);
    shutdown(s);
    let base = base_path(dir.path());
    let bytes = std::fs::read(&base).expect("base");
    std::fs::write(&base, &bytes[..bytes.len() - 4]).expect("truncate base");
    let before = snapshot_files(dir.path());
    let (st, out) = run_expect_exit(dir.path(), &[]);
    assert!(!st.success(), "exit status {st}; output:\n{out}");
    let name = base
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(out.contains(&name), "message does not name {name}:\n{out}");
    assert_eq!(
        snapshot_files(dir.path()),
        before,
        "files changed by a refused start"
    );
}

#[test]
fn manifest_naming_a_missing_base_refuses_to_start() {
    let dir = TmpDir::new("aof-missing");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    conn.q(&["SET", "a", "1"]);
    conn.q(&["BGREWRITEAOF"]);
    wait_rewrite(&mut conn, dir.path(), 1);
    drop(conn);
    shutdown(s);
    let base = base_path(dir.path());
    std::fs::remove_file(&base).expect("remove base");
    let before = snapshot_files(dir.path());
    let (st, out) = run_expect_exit(dir.path(), &[]);
    assert!(!st.success(), "exit status {st}; output:\n{out}");
    let name = base
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(out.contains(&name), "message does not name {name}:\n{out}");
    assert_eq!(snapshot_files(dir.path()), before);
}

/// Every damaged-manifest case redis-server 7.0.15 refuses to start on
/// (each message checked against it): memkv refuses too, says why, and
/// touches no file.
#[test]
fn damaged_manifests_refuse_to_start_with_redis_messages() {
    let dir = small_aof("aof-manifest-damage");
    let m = manifest(dir.path());
    let (base, incr) = (&m[0].0, &m[1].0);
    assert_eq!((m[0].2, m[1].2), ('b', 'i'), "layout {m:?}");
    let good = format!("file {base} seq 1 type b\nfile {incr} seq 1 type i\n");
    let path = aof_dir(dir.path()).join("appendonly.aof.manifest");
    let cases: Vec<(String, String, &str)> = vec![
        ("empty".into(), String::new(), "Found an empty AOF manifest"),
        (
            "blank line".into(),
            format!("file {base} seq 1 type b\n\nfile {incr} seq 1 type i\n"),
            "Reading the manifest file, at line 2\n>>> ''\nInvalid AOF manifest file format",
        ),
        (
            "unknown type".into(),
            format!("file {base} seq 1 type b\nfile {incr} seq 1 type x\n"),
            "at line 2\n>>> 'file appendonly.aof.1.incr.aof seq 1 type x'\nUnknown AOF file type",
        ),
        (
            "duplicate base".into(),
            format!("{good}file {base} seq 2 type b\n"),
            "at line 3\n>>> 'file appendonly.aof.1.base.aof seq 2 type b'\nFound duplicate base file information",
        ),
        (
            "non-monotonic".into(),
            format!("{good}file {incr} seq 1 type i\n"),
            "at line 3\n>>> 'file appendonly.aof.1.incr.aof seq 1 type i'\nFound a non-monotonic sequence number",
        ),
        (
            "odd parameters".into(),
            format!("file {base} seq 1 type b extra\n"),
            "at line 1\n>>> 'file appendonly.aof.1.base.aof seq 1 type b extra'\nInvalid AOF manifest file format",
        ),
        (
            "too few parameters".into(),
            format!("file {base} seq 1\n"),
            "Invalid AOF manifest file format",
        ),
        (
            "seq 0".into(),
            format!("file {base} seq 0 type b\n"),
            "Invalid AOF manifest file format",
        ),
        (
            "a path".into(),
            format!("file ../{base} seq 1 type b\n"),
            "File can't be a path, just a filename",
        ),
        (
            "no final newline".into(),
            good.trim_end().to_string(),
            "The AOF manifest file contains too long line",
        ),
        (
            "too long line".into(),
            format!("file {base} seq 1 type b {}\n", "x ".repeat(600)),
            "The AOF manifest file contains too long line",
        ),
        (
            "missing increment".into(),
            format!("{good}file appendonly.aof.7.incr.aof seq 7 type i\n"),
            "Unable to obtain the AOF file appendonly.aof.7.incr.aof length. stat: No such file or directory",
        ),
        (
            "missing base".into(),
            format!("file appendonly.aof.9.base.aof seq 9 type b\nfile {incr} seq 1 type i\n"),
            "Unable to obtain the AOF file appendonly.aof.9.base.aof length. stat: No such file or directory",
        ),
        (
            "an old single AOF that does not exist".into(),
            "file appendonly.aof seq 1 type b\n".into(),
            "Unable to obtain the AOF file appendonly.aof length. stat: No such file or directory",
        ),
    ];
    for (what, text, want) in cases {
        std::fs::write(&path, &text).expect("write manifest");
        let before = snapshot_files(dir.path());
        let (st, out) = run_expect_exit(dir.path(), &[]);
        assert!(!st.success(), "{what}: exit status {st}; output:\n{out}");
        assert!(out.contains(want), "{what}: expected {want:?} in:\n{out}");
        assert_eq!(snapshot_files(dir.path()), before, "{what}: files changed");
    }
    // The intact manifest still loads.
    std::fs::write(&path, &good).expect("write manifest");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    check_small_dataset(&mut conn);
    drop(conn);
    kill9(s);
}

/// Redis moves a legacy `appendonly.aof` into the directory after writing
/// a manifest naming it; a crash between the two leaves that manifest and
/// the file still in `dir`. Starting again finishes the upgrade.
#[test]
fn an_interrupted_legacy_upgrade_is_resumed() {
    let dir = TmpDir::new("aof-upgrade-resume");
    let mut legacy = c(&["SELECT", "0"]);
    legacy.extend(c(&["SET", "old", "1"]));
    std::fs::write(dir.path().join("appendonly.aof"), &legacy).expect("write legacy");
    std::fs::create_dir_all(aof_dir(dir.path())).expect("mkdir");
    std::fs::write(
        aof_dir(dir.path()).join("appendonly.aof.manifest"),
        "file appendonly.aof seq 1 type b\n",
    )
    .expect("write manifest");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(conn.q(&["GET", "old"]), V::Bulk(b"1".to_vec()));
    conn.q(&["SET", "new", "2"]);
    drop(conn);
    shutdown(s);
    assert!(
        !dir.path().join("appendonly.aof").exists(),
        "legacy file still in dir"
    );
    assert!(
        aof_dir(dir.path()).join("appendonly.aof").exists(),
        "legacy file not moved"
    );
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(conn.q(&["GET", "old"]), V::Bulk(b"1".to_vec()));
    assert_eq!(conn.q(&["GET", "new"]), V::Bulk(b"2".to_vec()));
    drop(conn);
    kill9(s);
}

/// `appendfilename` with a space: the manifest quotes the names as Redis
/// does (`file "my file.aof.1.incr.aof" ...`) and reads them back.
#[test]
fn appendfilename_with_spaces_round_trips() {
    let dir = TmpDir::new("aof-spaces");
    let extra = ["--appendfilename", "my file.aof"];
    let s = start_aof(dir.path(), "always", &extra);
    let mut conn = Conn::connect(s.port).expect("connect");
    conn.q(&["SET", "k", "v"]);
    drop(conn);
    shutdown(s);
    let text = std::fs::read_to_string(aof_dir(dir.path()).join("my file.aof.manifest"))
        .expect("manifest");
    assert!(
        text.contains("file \"my file.aof.1.incr.aof\" seq 1 type i\n"),
        "manifest:\n{text}"
    );
    let s = start_aof(dir.path(), "always", &extra);
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(conn.q(&["GET", "k"]), V::Bulk(b"v".to_vec()));
    drop(conn);
    kill9(s);
}

// ---------------------------------------------------------------------------
// Shutdown paths, legacy layout, automatic rewrite.
// ---------------------------------------------------------------------------

#[test]
fn sigterm_flushes_the_aof_with_appendfsync_no() {
    let dir = TmpDir::new("aof-sigterm");
    let mut s = start_aof(dir.path(), "no", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let cmds: Vec<Vec<u8>> = (0..5000)
        .map(|i| c(&["SET", &format!("k{i}"), &format!("v{i}")]))
        .collect();
    conn.pipe_ok(&cmds);
    let want = digest(&mut conn);
    drop(conn);
    let st = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(st.success());
    let st =
        wait_exit(&mut s.child, Duration::from_secs(30)).expect("memkv did not exit on SIGTERM");
    assert!(st.success(), "exit status {st}");
    release(s);
    let s = start_aof(dir.path(), "no", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(digest(&mut conn), want);
    kill9(s);
}

#[test]
fn legacy_appendonly_aof_is_loaded_and_upgraded() {
    let dir = TmpDir::new("aof-legacy");
    let mut legacy = c(&["SELECT", "0"]);
    legacy.extend(c(&["SET", "old", "1"]));
    legacy.extend(c(&["RPUSH", "ol", "a", "b"]));
    legacy.extend(c(&["SELECT", "1"]));
    legacy.extend(c(&["SET", "one", "1"]));
    std::fs::write(dir.path().join("appendonly.aof"), &legacy).expect("write legacy");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(conn.q(&["GET", "old"]), V::Bulk(b"1".to_vec()));
    conn.q(&["SET", "new", "2"]);
    let want = dump_all(&mut conn, 16);
    drop(conn);
    shutdown(s);
    assert!(
        !dir.path().join("appendonly.aof").exists(),
        "legacy file still in dir"
    );
    assert!(
        !manifest(dir.path()).is_empty(),
        "no manifest after the upgrade"
    );
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    kill9(s);
    assert_eq!(diff_dumps(&want, &got, 0), None);
}

#[test]
fn automatic_rewrite_by_growth() {
    let dir = TmpDir::new("aof-auto");
    let s = start_aof(
        dir.path(),
        "everysec",
        &[
            "--auto-aof-rewrite-percentage",
            "100",
            "--auto-aof-rewrite-min-size",
            "200000",
        ],
    );
    let mut conn = Conn::connect(s.port).expect("connect");
    let val = "x".repeat(100);
    let cmds: Vec<Vec<u8>> = (0..4000)
        .map(|i| c(&["SET", &format!("k{}", i % 1000), &val]))
        .collect();
    conn.pipe_ok(&cmds);
    let took = wait_rewrite(&mut conn, dir.path(), 1);
    println!("automatic rewrite done {took:?} after the writes");
    let want = digest(&mut conn);
    drop(conn);
    shutdown(s);
    let base_len = std::fs::metadata(base_path(dir.path()))
        .expect("base")
        .len();
    assert!(base_len < 200_000, "base of 1000 keys is {base_len} bytes");
    let s = start_aof(dir.path(), "everysec", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(digest(&mut conn), want);
    kill9(s);
}

/// While a big AOF loads, a client gets -LOADING and INFO (allowed while
/// loading) reports loading:1 in the same poll round.
#[test]
fn loading_is_reported_while_loading() {
    let dir = TmpDir::new("aof-loading");
    let ad = aof_dir(dir.path());
    std::fs::create_dir_all(&ad).expect("mkdir");
    let mut base = Vec::with_capacity(40 << 20);
    for i in 0..400_000 {
        push_cmd(
            &mut base,
            &[
                b"SET",
                format!("key:{i}").as_bytes(),
                format!("val:{i}").as_bytes(),
            ],
        );
    }
    std::fs::write(ad.join("appendonly.aof.1.base.aof"), &base).expect("write base");
    std::fs::write(ad.join("appendonly.aof.1.incr.aof"), b"").expect("write incr");
    std::fs::write(
        ad.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .expect("write manifest");
    let mut s = Server::start_loading(dir.path(), None, &["--appendonly", "yes"]);
    let mut saw = None;
    if let Ok(mut conn) = Conn::connect(s.port)
        && let Ok(r) = conn.pipeline(&[c(&["DBSIZE"]), c(&["INFO", "persistence"])])
    {
        saw = Some((r[0].clone(), r[1].text()));
    }
    let took = s.wait_loaded();
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(conn.q(&["DBSIZE"]).int(), 400_000);
    assert_eq!(
        conn.q(&["GET", "key:399999"]),
        V::Bulk(b"val:399999".to_vec())
    );
    kill9(s);
    println!("loaded 400k keys in about {took:?}");
    match saw {
        Some((V::Err(e), info)) => {
            assert!(e.starts_with("LOADING"), "{e}");
            assert!(
                info.contains("loading:1"),
                "INFO persistence while loading:\n{info}"
            );
        }
        Some((other, _)) => println!("NOTE: loading finished before the probe ({other:?})"),
        None => println!("NOTE: could not probe during loading"),
    }
}

// ---------------------------------------------------------------------------
// 5. Interop with real Redis 7.
// ---------------------------------------------------------------------------

/// A dataset written through commands whose propagation matters.
fn interop_writes(conn: &mut Conn, phase: &str) {
    let far = now_ms() + 7_200_000;
    let mut cmds = vec![c(&["SELECT", "0"])];
    for i in 0..300 {
        cmds.push(c(&[
            "SET",
            &format!("{phase}:s:{i}"),
            &format!("value {i} with spaces\r\n and bytes"),
        ]));
    }
    // Bitmaps and HyperLogLogs (sparse, dense, merged, cached count).
    cmds.push(c(&["SETBIT", &format!("{phase}:bits"), "100001", "1"]));
    cmds.push(c(&[
        "BITFIELD",
        &format!("{phase}:bits"),
        "OVERFLOW",
        "SAT",
        "INCRBY",
        "i8",
        "#3",
        "300",
    ]));
    cmds.push(c(&[
        "BITOP",
        "NOT",
        &format!("{phase}:notbits"),
        &format!("{phase}:bits"),
    ]));
    cmds.push(c(&["PFADD", &format!("{phase}:hll"), "a", "b", "c"]));
    let many: Vec<String> = (0..3000).map(|i| format!("e{i}")).collect();
    let mut pfadd = vec!["PFADD".to_string(), format!("{phase}:dense")];
    pfadd.extend(many);
    let pfadd: Vec<&str> = pfadd.iter().map(String::as_str).collect();
    cmds.push(c(&pfadd));
    cmds.push(c(&["PFCOUNT", &format!("{phase}:dense")]));
    cmds.push(c(&[
        "PFMERGE",
        &format!("{phase}:merged"),
        &format!("{phase}:hll"),
        &format!("{phase}:dense"),
    ]));
    for i in 0..50 {
        cmds.push(c(&["SET", &format!("{phase}:ex:{i}"), "v", "EX", "3600"]));
        cmds.push(c(&[
            "SET",
            &format!("{phase}:pxat:{i}"),
            "v",
            "PXAT",
            &(far + i).to_string(),
        ]));
        cmds.push(c(&["SET", &format!("{phase}:exp:{i}"), "v"]));
        cmds.push(c(&["EXPIRE", &format!("{phase}:exp:{i}"), "5000"]));
        cmds.push(c(&["SETEX", &format!("{phase}:setex:{i}"), "4000", "v"]));
    }
    for i in 0..30 {
        let mut parts: Vec<String> = vec!["RPUSH".into(), format!("{phase}:list:{i}")];
        parts.extend((0..(i * 7 + 1)).map(|j| format!("e{j}")));
        let p: Vec<&str> = parts.iter().map(String::as_str).collect();
        cmds.push(c(&p));
        cmds.push(c(&["LPUSH", &format!("{phase}:list:{i}"), "head"]));
        let mut parts: Vec<String> = vec!["HSET".into(), format!("{phase}:hash:{i}")];
        for f in 0..(i * 5 + 1) {
            parts.push(format!("f{f}"));
            parts.push(format!("v{f}"));
        }
        let p: Vec<&str> = parts.iter().map(String::as_str).collect();
        cmds.push(c(&p));
        let mut parts: Vec<String> = vec!["ZADD".into(), format!("{phase}:zset:{i}")];
        for m in 0..(i * 9 + 1) {
            parts.push(format!("{}.{}", m % 17, m));
            parts.push(format!("m{m}"));
        }
        let p: Vec<&str> = parts.iter().map(String::as_str).collect();
        cmds.push(c(&p));
    }
    cmds.extend([
        c(&["INCR", &format!("{phase}:counter")]),
        c(&["INCRBY", &format!("{phase}:counter"), "41"]),
        c(&["SET", &format!("{phase}:float"), "1.5"]),
        c(&["INCRBYFLOAT", &format!("{phase}:float"), "2.25"]),
        c(&["APPEND", &format!("{phase}:s:0"), "+appended"]),
        c(&["DEL", &format!("{phase}:s:1")]),
        c(&["LPOP", &format!("{phase}:list:3")]),
        c(&["HDEL", &format!("{phase}:hash:4"), "f0"]),
        c(&[
            "ZADD",
            &format!("{phase}:z"),
            "1",
            "a",
            "2.5",
            "b",
            "-inf",
            "c",
            "0.1",
            "d",
        ]),
        c(&["ZINCRBY", &format!("{phase}:z"), "0.2", "d"]),
        c(&["ZADD", &format!("{phase}:z"), "INCR", "1e-3", "a"]),
        c(&["ZPOPMAX", &format!("{phase}:z")]),
        c(&[
            "GEOADD",
            &format!("{phase}:geo"),
            "13.361389",
            "38.115556",
            "Palermo",
        ]),
        c(&[
            "ZUNIONSTORE",
            &format!("{phase}:zu"),
            "2",
            &format!("{phase}:z"),
            &format!("{phase}:geo"),
        ]),
        c(&["MULTI"]),
        c(&["SET", &format!("{phase}:tx"), "1"]),
        c(&["RPUSH", &format!("{phase}:txl"), "a", "b"]),
        c(&["EXEC"]),
        c(&["SELECT", "3"]),
        c(&["SET", &format!("{phase}:db3"), "three"]),
        c(&["HSET", &format!("{phase}:db3h"), "a", "1"]),
        c(&["PEXPIRE", &format!("{phase}:db3h"), "9000000"]),
        c(&["SELECT", "15"]),
        c(&["RPUSH", &format!("{phase}:db15l"), "x"]),
        c(&["SELECT", "0"]),
    ]);
    conn.pipe_ok(&cmds);
}

#[test]
fn interop_real_redis_loads_memkv_aof() {
    if !redis_installed() {
        return;
    }
    let dir = TmpDir::new("aof-interop-m2r");
    let s = start_aof(dir.path(), "everysec", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    interop_writes(&mut conn, "before");
    conn.q(&["BGREWRITEAOF"]);
    wait_rewrite(&mut conn, dir.path(), 1);
    interop_writes(&mut conn, "after");
    let want = dump_all(&mut conn, 16);
    drop(conn);
    shutdown(s);
    let rdir = TmpDir::new("aof-interop-redis");
    common::copy_dir(&aof_dir(dir.path()), &aof_dir(rdir.path()));
    let r = Server::start_redis(&[
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--dir",
        rdir.path().to_str().expect("utf-8"),
    ]);
    let Some(mut r) = r else {
        panic!(
            "real Redis refused memkv's appendonlydir (run redis-server --appendonly yes --dir {} to see why); files: {:?}",
            rdir.path().display(),
            dir_names(rdir.path())
        );
    };
    r.wait_loaded();
    let mut rc = Conn::connect(r.port).expect("connect redis");
    let got = dump_all(&mut rc, 16);
    drop(rc);
    drop(r);
    println!(
        "memkv wrote {} keys; real Redis loaded {} keys from {:?}",
        want.len(),
        got.len(),
        dir_names(rdir.path())
    );
    // Relative expiries replayed later would show as small drifts; 5 s of
    // slack keeps this test about the format (see the propagation test).
    if let Some(d) = diff_dumps(&want, &got, 5000) {
        panic!("real Redis loaded different data from memkv's AOF: {d}");
    }
}

#[test]
fn interop_memkv_loads_real_redis_aof() {
    memkv_loads_redis_aof(&[]);
}

/// Redis with `aof-timestamp-enabled yes` writes `#TS:...` annotations.
#[test]
fn interop_memkv_loads_real_redis_aof_with_timestamp_annotations() {
    memkv_loads_redis_aof(&["--aof-timestamp-enabled", "yes"]);
}

fn memkv_loads_redis_aof(extra: &[&str]) {
    if !redis_installed() {
        return;
    }
    let mut args = vec!["--appendonly", "yes", "--aof-use-rdb-preamble", "no"];
    args.extend_from_slice(extra);
    let Some(mut r) = Server::start_redis(&args) else {
        panic!("redis-server is installed but did not start");
    };
    let mut rc = Conn::connect(r.port).expect("connect redis");
    interop_writes(&mut rc, "before");
    assert_eq!(
        rc.q(&["BGREWRITEAOF"]).text(),
        "Background append only file rewriting started"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "Redis rewrite did not finish");
        if info_field(&mut rc, "persistence", "aof_rewrite_in_progress").as_deref() == Some("0")
            && info_field(&mut rc, "persistence", "aof_rewrite_scheduled").as_deref() == Some("0")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    interop_writes(&mut rc, "after");
    let want = dump_all(&mut rc, 16);
    let _ = rc.send(&c(&["SHUTDOWN"]));
    let _ = rc.read_value();
    wait_exit(&mut r.child, Duration::from_secs(30)).expect("redis did not exit");
    let mdir = TmpDir::new("aof-interop-memkv");
    common::copy_dir(&aof_dir(&r.dir), &aof_dir(mdir.path()));
    println!("Redis wrote: {:?}", dir_names(mdir.path()));
    if extra.contains(&"--aof-timestamp-enabled") {
        let annotated = snapshot_files(mdir.path())
            .values()
            .any(|b| memfind(b, b"#TS:").is_some());
        assert!(annotated, "Redis wrote no #TS: annotation");
    }
    drop(r);
    let s = start_aof(mdir.path(), "everysec", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    kill9(s);
    println!(
        "Redis wrote {} keys; memkv loaded {}",
        want.len(),
        got.len()
    );
    if let Some(d) = diff_dumps(&want, &got, 0) {
        panic!("memkv loaded different data from Redis's AOF: {d}");
    }
}

// ---------------------------------------------------------------------------
// 6. CONFIG SET appendonly at run time.
// ---------------------------------------------------------------------------

#[test]
fn config_set_appendonly_yes_at_runtime_then_restart() {
    let dir = TmpDir::new("aof-cfg-yes");
    let s = Server::start_in(
        dir.path(),
        &["--appendfsync", "always", "--enable-debug-command", "yes"],
    );
    let mut conn = Conn::connect(s.port).expect("connect");
    let far = (now_ms() + 3_600_000).to_string();
    let mut cmds: Vec<Vec<u8>> = (0..20_000)
        .map(|i| c(&["SET", &format!("k{i}"), &format!("v{i}")]))
        .collect();
    cmds.extend([
        c(&["RPUSH", "l", "a", "b", "c"]),
        c(&["SET", "ttl", "x", "PXAT", &far]),
        c(&["SELECT", "7"]),
        c(&["HSET", "h", "f", "v"]),
        c(&["SELECT", "0"]),
    ]);
    conn.pipe_ok(&cmds);
    assert_eq!(
        conn.q(&["CONFIG", "SET", "appendonly", "yes"]),
        V::Simple("OK".into())
    );
    // Writes continue right away, during the initial rewrite too.
    conn.pipe_ok(&[
        c(&["SET", "during", "1"]),
        c(&["DEL", "k5"]),
        c(&["RPUSH", "l", "d"]),
    ]);
    wait_rewrite(&mut conn, dir.path(), 0);
    assert_eq!(
        info_field(&mut conn, "persistence", "aof_enabled").as_deref(),
        Some("1")
    );
    conn.pipe_ok(&[c(&["SET", "after", "1"]), c(&["INCR", "n"])]);
    let want = dump_all(&mut conn, 16);
    drop(conn);
    kill9(s);
    let m = manifest(dir.path());
    assert_eq!(m.iter().filter(|e| e.2 == 'b').count(), 1, "{m:?}");
    assert_only_manifest_files(dir.path(), "after CONFIG SET appendonly yes");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    kill9(s);
    if let Some(d) = diff_dumps(&want, &got, 0) {
        panic!("dataset differs after enabling the AOF at run time and restarting: {d}");
    }
}

/// An older AOF in the directory (from an earlier appendonly run) must be
/// replaced, its files removed, when the AOF is turned on again at run time.
#[test]
fn config_set_appendonly_yes_replaces_an_older_aof() {
    let dir = TmpDir::new("aof-cfg-old");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    conn.pipe_ok(&[c(&["SET", "stale", "old"]), c(&["SET", "keep", "old"])]);
    drop(conn);
    shutdown(s);
    // Restart without AOF: a different dataset.
    let s = Server::start_in(
        dir.path(),
        &["--appendfsync", "always", "--enable-debug-command", "yes"],
    );
    let mut conn = Conn::connect(s.port).expect("connect");
    conn.pipe_ok(&[c(&["SET", "keep", "new"]), c(&["SET", "fresh", "1"])]);
    conn.q(&["CONFIG", "SET", "appendonly", "yes"]);
    wait_rewrite(&mut conn, dir.path(), 1);
    conn.q(&["SET", "after", "1"]);
    let want = dump_all(&mut conn, 16);
    drop(conn);
    shutdown(s);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    kill9(s);
    if let Some(d) = diff_dumps(&want, &got, 0) {
        panic!("dataset differs: {d}");
    }
    assert_only_manifest_files(
        dir.path(),
        "older AOF files after CONFIG SET appendonly yes",
    );
}

/// Redis turns the AOF on synchronously in CONFIG SET and refuses SHUTDOWN
/// while the initial AOF is being written ("Writing initial AOF, can't
/// exit"). Either way, a SHUTDOWN that succeeds must not lose the data.
#[test]
fn config_set_appendonly_yes_then_immediate_shutdown_keeps_data() {
    let dir = TmpDir::new("aof-cfg-shut");
    let mut s = Server::start_in(dir.path(), &["--appendfsync", "always"]);
    let errors = bulk_load(s.port, 100_000, |i, out| {
        push_cmd(out, &[b"SET", format!("k{i}").as_bytes(), b"v"]);
    });
    assert!(errors.is_empty(), "{errors:?}");
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(
        conn.q(&["CONFIG", "SET", "appendonly", "yes"]),
        V::Simple("OK".into())
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut refusals = 0;
    loop {
        assert!(Instant::now() < deadline, "SHUTDOWN refused for a minute");
        match conn.call(&[b"SHUTDOWN"]) {
            Ok(V::Err(_)) => {
                refusals += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => break,
        }
    }
    let st = wait_exit(&mut s.child, Duration::from_secs(60)).expect("no exit");
    assert!(st.success());
    release(s);
    println!("SHUTDOWN refused {refusals} times while the initial AOF was written");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let n = conn.q(&["DBSIZE"]).int();
    kill9(s);
    assert_eq!(
        n, 100_000,
        "SHUTDOWN right after CONFIG SET appendonly yes lost the dataset"
    );
}

#[test]
fn config_set_appendonly_no_stops_writing() {
    let dir = TmpDir::new("aof-cfg-no");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    conn.pipe_ok(&[c(&["SET", "before", "1"]), c(&["RPUSH", "l", "a"])]);
    assert_eq!(
        conn.q(&["CONFIG", "SET", "appendonly", "no"]),
        V::Simple("OK".into())
    );
    // Like Redis (stopAppendOnly runs inside CONFIG SET): nothing written
    // after the reply reaches the AOF.
    let files = snapshot_files(dir.path());
    conn.pipe_ok(&[c(&["SET", "after", "1"]), c(&["RPUSH", "l", "b"])]);
    conn.pipe_ok(&[c(&["SET", "later", "1"])]);
    std::thread::sleep(Duration::from_millis(300));
    conn.pipe_ok(&[c(&["SET", "even-later", "1"])]);
    let still = snapshot_files(dir.path());
    assert_eq!(
        info_field(&mut conn, "persistence", "aof_enabled").as_deref(),
        Some("0")
    );
    drop(conn);
    kill9(s);
    if still != files {
        let mut added = Vec::new();
        for (name, bytes) in &still {
            let old = files.get(name).map_or(0, Vec::len);
            if bytes.len() > old && name.ends_with(".aof") {
                let cmds = parse_aof(&bytes[old..]).unwrap_or_default();
                added.push(format!("{name}: {}", show_op(&cmds)));
            }
        }
        panic!("AOF files changed after the CONFIG SET appendonly no reply: {added:?}");
    }
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(conn.q(&["GET", "before"]), V::Bulk(b"1".to_vec()));
    assert_eq!(
        conn.q(&["LRANGE", "l", "0", "-1"]),
        V::Arr(vec![V::Bulk(b"a".to_vec())])
    );
    let after = conn.q(&["EXISTS", "after", "later", "even-later"]).int();
    kill9(s);
    assert_eq!(
        after, 0,
        "writes after CONFIG SET appendonly no reached the AOF"
    );
}

// ---------------------------------------------------------------------------
// 7. Propagation is deterministic on replay.
// ---------------------------------------------------------------------------

#[test]
fn propagation_uses_absolute_and_deterministic_forms() {
    let dir = TmpDir::new("aof-prop");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let future_secs = ((now_ms() + 3_600_000) / 1000).to_string();
    conn.pipe_ok(&[
        c(&["SET", "set-ex", "v", "EX", "100"]),
        c(&["SET", "set-px", "v", "PX", "100000"]),
        c(&["SET", "set-exat", "v", "EXAT", &future_secs]),
        c(&["SETEX", "setex", "100", "v"]),
        c(&["PSETEX", "psetex", "100000", "v"]),
        c(&["SET", "expire", "v"]),
        c(&["EXPIRE", "expire", "100"]),
        c(&["SET", "pexpire", "v"]),
        c(&["PEXPIRE", "pexpire", "100000"]),
        c(&["SET", "expireat", "v"]),
        c(&["EXPIREAT", "expireat", &future_secs]),
        c(&["SET", "getex", "v"]),
        c(&["GETEX", "getex", "EX", "100"]),
        c(&["SET", "getex-px", "v"]),
        c(&["GETEX", "getex-px", "PX", "100000"]),
        c(&["SET", "float", "1.5"]),
        c(&["EXPIRE", "float", "1000"]),
        c(&["INCRBYFLOAT", "float", "2"]),
        c(&["RPUSH", "q", "a", "b", "c", "d"]),
        c(&["BLPOP", "q", "0"]),
        c(&["BRPOP", "q", "0"]),
        c(&["BLMPOP", "0", "1", "q", "LEFT"]),
        // Changes nothing: must write nothing.
        c(&["DEL", "nokey-del"]),
        c(&["EXPIRE", "nokey-expire", "10"]),
        c(&["SET", "set-ex", "x", "NX"]),
        c(&["PERSIST", "nokey-persist"]),
        c(&["HDEL", "nokey-hdel", "f"]),
        c(&["LPOP", "nokey-lpop"]),
        c(&["SET", "lazy", "v", "PX", "20"]),
    ]);
    std::thread::sleep(Duration::from_millis(60));
    // The key expired: reading it deletes it, which must propagate as DEL.
    assert_eq!(conn.q(&["GET", "lazy"]), V::Nil);
    let ttl_keys = [
        "set-ex", "set-px", "set-exat", "setex", "psetex", "expire", "pexpire", "expireat",
        "getex", "getex-px", "float",
    ];
    let mut before = BTreeMap::new();
    for k in ttl_keys {
        before.insert(
            k,
            (
                conn.q(&["PEXPIRETIME", k]).int(),
                conn.q(&["GET", k]).text(),
            ),
        );
    }
    let q_before = conn.q(&["LRANGE", "q", "0", "-1"]);
    drop(conn);
    let mut violations = Vec::new();
    let mut cmds = Vec::new();
    for (name, _, _) in manifest(dir.path()) {
        let bytes = std::fs::read(aof_dir(dir.path()).join(&name)).unwrap_or_default();
        cmds.extend(parse_aof(&bytes).unwrap_or_else(|off| panic!("{name} malformed at {off}")));
    }
    let upper = |a: &[u8]| String::from_utf8_lossy(a).to_ascii_uppercase();
    for cmd in &cmds {
        let name = upper(&cmd[0]);
        let text = show_op(std::slice::from_ref(cmd));
        let rel_opt = cmd
            .iter()
            .skip(3)
            .any(|a| matches!(upper(a).as_str(), "EX" | "PX" | "EXAT"));
        match name.as_str() {
            "EXPIRE" | "PEXPIRE" | "SETEX" | "PSETEX" | "EXPIREAT" => {
                violations.push(format!("relative/second form propagated: {text}"))
            }
            "SET" | "GETEX" if rel_opt => {
                violations.push(format!("relative expiry option propagated: {text}"))
            }
            "GETEX" => violations.push(format!(
                "GETEX propagated (Redis writes PEXPIREAT/PERSIST): {text}"
            )),
            "INCRBYFLOAT" => violations.push(format!(
                "INCRBYFLOAT propagated (Redis writes SET ... KEEPTTL): {text}"
            )),
            "BLPOP" | "BRPOP" | "BLMPOP" | "BLMOVE" | "BRPOPLPUSH" => {
                violations.push(format!("blocking form propagated: {text}"))
            }
            _ => {}
        }
        if cmd.len() > 1 && upper(&cmd[1]).starts_with("NOKEY") {
            violations.push(format!(
                "a command that changed nothing was propagated: {text}"
            ));
        }
        if name == "SET" && cmd.len() > 3 && cmd[1] == b"set-ex" && cmd[2] == b"x" {
            violations.push(format!("SET NX that did nothing was propagated: {text}"));
        }
    }
    if !cmds
        .iter()
        .any(|c| upper(&c[0]) == "DEL" && c.get(1).map(Vec::as_slice) == Some(b"lazy"))
    {
        violations.push("lazily expired key 'lazy' not propagated as DEL".into());
    }
    // Replay later must give the same absolute expiries and values.
    std::thread::sleep(Duration::from_millis(50));
    kill9(s);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    for k in ttl_keys {
        let got = (
            conn.q(&["PEXPIRETIME", k]).int(),
            conn.q(&["GET", k]).text(),
        );
        if got != before[k] {
            violations.push(format!(
                "{k}: before restart (pexpiretime, value) = {:?}, after = {got:?}",
                before[k]
            ));
        }
    }
    let q_after = conn.q(&["LRANGE", "q", "0", "-1"]);
    if q_after != q_before {
        violations.push(format!(
            "list q: {q_before:?} before restart, {q_after:?} after"
        ));
    }
    kill9(s);
    assert!(
        violations.is_empty(),
        "non-deterministic propagation ({}):\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

/// BITFIELD propagates what Redis 7.0 propagates: only when a field
/// changed (or a write op succeeded on a created or grown string). One
/// whose every write failed still creates or pads the string, as Redis's
/// lookupStringForBitCommand does, but writes nothing to the AOF; GETs
/// alone create nothing. The increment files of both servers, compared.
#[test]
fn bitfield_propagates_like_redis() {
    if !redis_installed() {
        return;
    }
    let dir = TmpDir::new("aof-bitfield");
    let s = start_aof(dir.path(), "always", &[]);
    let Some(r) = Server::start_redis(&["--appendonly", "yes", "--appendfsync", "always"]) else {
        panic!("redis-server is installed but did not start");
    };
    let cmds = [
        c(&[
            "BITFIELD",
            "fail_missing",
            "OVERFLOW",
            "FAIL",
            "INCRBY",
            "u2",
            "0",
            "5",
        ]),
        c(&["SET", "short", "ab"]),
        c(&[
            "BITFIELD", "short", "OVERFLOW", "FAIL", "SET", "u2", "100", "9",
        ]),
        c(&["BITFIELD", "get_missing", "GET", "u8", "0"]),
        c(&["BITFIELD", "zero_missing", "SET", "u8", "0", "0"]),
        c(&["SET", "same", "A"]),
        c(&["BITFIELD", "same", "SET", "u8", "0", "65"]),
        c(&[
            "BITFIELD", "mixed", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5",
        ]),
        c(&[
            "BITFIELD", "mixed", "OVERFLOW", "WRAP", "INCRBY", "u8", "8", "1",
        ]),
        c(&["MULTI"]),
        c(&["BITFIELD", "tx", "OVERFLOW", "FAIL", "SET", "u2", "0", "9"]),
        c(&["SET", "marker", "1"]),
        // (Redis 7.0 leaves a transaction of one write unwrapped.)
        c(&["SET", "marker", "2"]),
        c(&["EXEC"]),
    ];
    let mut replies = Vec::new();
    let mut incrs = Vec::new();
    for server in [&s, &r] {
        let mut conn = Conn::connect(server.port).expect("connect");
        let mut got = conn.pipeline(&cmds).expect("pipeline");
        for k in ["fail_missing", "short", "get_missing", "zero_missing", "tx"] {
            got.push(conn.q(&["STRLEN", k]));
        }
        replies.push(got);
        let mut seen = Vec::new();
        for (name, _, kind) in manifest(&server.dir) {
            if kind == 'i' {
                let bytes = std::fs::read(aof_dir(&server.dir).join(&name)).unwrap_or_default();
                seen.extend(
                    parse_aof(&bytes).unwrap_or_else(|o| panic!("{name} malformed at {o}")),
                );
            }
        }
        incrs.push(seen);
    }
    assert_eq!(replies[0], replies[1], "replies and lengths: memkv, Redis");
    assert_eq!(
        show_op(&incrs[0]),
        show_op(&incrs[1]),
        "AOF increments: memkv, Redis"
    );
    // Nothing of the failed writes: BITFIELD goes to the file twice
    // (zero_missing, mixed's successful INCRBY).
    let bitfields = incrs[0].iter().filter(|c| c[0] == b"BITFIELD").count();
    assert_eq!(bitfields, 2, "{}", show_op(&incrs[0]));
    drop(r);
    kill9(s);
}

/// Waits until INFO clients reports `n` blocked clients.
fn wait_blocked(conn: &mut Conn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(conn, "clients", "blocked_clients") != Some(n.to_string()) {
        assert!(Instant::now() < deadline, "client did not block");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A blocked pop served later by another client's push must reach the AOF
/// as the pop that happened (Redis propagates LPOP / RPOP / LMPOP), or the
/// replay leaves the element in the list.
#[test]
fn blocked_pops_served_by_a_push_are_propagated() {
    let dir = TmpDir::new("aof-blocked");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    for (i, (block, served)) in [
        (c(&["BLPOP", "q0", "0"]), "x"),
        (c(&["BRPOP", "q1", "0"]), "z"),
        (c(&["BLMPOP", "0", "1", "q2", "LEFT", "COUNT", "2"]), "x"),
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("q{i}");
        let mut waiter = Conn::connect(s.port).expect("connect");
        waiter.send(&block).expect("send");
        wait_blocked(&mut conn, 1);
        conn.q(&["RPUSH", &key, "x", "y", "z"]);
        let got = waiter.read_value().expect("served");
        assert!(
            got.text().contains(served),
            "{key}: served {got:?}, expected {served}"
        );
    }
    let want = dump_all(&mut conn, 16);
    drop(conn);
    kill9(s);
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let got = dump_all(&mut conn, 16);
    kill9(s);
    if let Some(d) = diff_dumps(&want, &got, 0) {
        panic!("after restart, lists differ (served pops not propagated?): {d}");
    }
}

/// A key whose absolute expiry passed while the server was down is gone
/// after the restart (the AOF must carry absolute times).
#[test]
fn keys_that_expired_while_down_are_gone_after_restart() {
    let dir = TmpDir::new("aof-expired-down");
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    conn.pipe_ok(&[
        c(&["SET", "set-px", "v", "PX", "1000"]),
        c(&["SETEX", "setex", "1", "v"]),
        c(&["PSETEX", "psetex", "1000", "v"]),
        c(&["SET", "expire", "v"]),
        c(&["EXPIRE", "expire", "1"]),
        c(&["SET", "getex", "v"]),
        c(&["GETEX", "getex", "PX", "1000"]),
        c(&["SET", "forever", "v"]),
    ]);
    drop(conn);
    shutdown(s);
    std::thread::sleep(Duration::from_millis(1600));
    let s = start_aof(dir.path(), "always", &[]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let mut alive = Vec::new();
    for k in ["set-px", "setex", "psetex", "expire", "getex"] {
        if conn.q(&["EXISTS", k]).int() == 1 {
            alive.push(format!("{k} (pttl {})", conn.q(&["PTTL", k]).int()));
        }
    }
    assert_eq!(conn.q(&["EXISTS", "forever"]).int(), 1);
    kill9(s);
    assert!(
        alive.is_empty(),
        "keys whose expiry passed while down came back with a fresh TTL: {alive:?}"
    );
}

/// Active expiry (the cron, nobody reading the key) propagates a DEL.
#[test]
fn active_expiry_propagates_del() {
    let dir = TmpDir::new("aof-active-exp");
    let s = start_aof(dir.path(), "always", &["--hz", "50"]);
    let mut conn = Conn::connect(s.port).expect("connect");
    let at = (now_ms() + 100).to_string();
    conn.q(&["SET", "short", "v", "PXAT", &at]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let bytes = std::fs::read(last_incr(dir.path())).unwrap_or_default();
        let cmds = parse_aof(&bytes).unwrap_or_default();
        if cmds.iter().any(|c| {
            c[0].eq_ignore_ascii_case(b"DEL") && c.get(1).map(Vec::as_slice) == Some(b"short")
        }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no DEL short in the AOF after active expiry"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        info_field(&mut conn, "stats", "expired_keys").as_deref(),
        Some("1")
    );
    drop(conn);
    kill9(s);
}

/// appendfilename / appenddirname name the files the way Redis 7 does.
#[test]
fn custom_appendfilename_and_appenddirname() {
    let dir = TmpDir::new("aof-names");
    let args = ["--appendfilename", "my.aof", "--appenddirname", "mydir"];
    let s = start_aof(dir.path(), "always", &args);
    let mut conn = Conn::connect(s.port).expect("connect");
    conn.q(&["SET", "a", "1"]);
    drop(conn);
    shutdown(s);
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("mydir"))
        .expect("mydir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["my.aof.1.base.aof", "my.aof.1.incr.aof", "my.aof.manifest"]
    );
    let manifest =
        std::fs::read_to_string(dir.path().join("mydir/my.aof.manifest")).expect("manifest");
    assert_eq!(
        manifest,
        "file my.aof.1.base.aof seq 1 type b\nfile my.aof.1.incr.aof seq 1 type i\n"
    );
    let s = start_aof(dir.path(), "always", &args);
    let mut conn = Conn::connect(s.port).expect("connect");
    assert_eq!(conn.q(&["GET", "a"]), V::Bulk(b"1".to_vec()));
    kill9(s);
}

// ---------------------------------------------------------------------------
// 8. Latency probe during a rewrite of 1,000,000 keys (not asserted).
// ---------------------------------------------------------------------------

fn percentiles(mut v: Vec<u64>) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    v.sort_unstable();
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q) as usize] as f64 / 1000.0;
    format!(
        "n={} p50={:.3}ms p99={:.3}ms p99.9={:.3}ms max={:.3}ms",
        v.len(),
        p(0.5),
        p(0.99),
        p(0.999),
        *v.last().unwrap_or(&0) as f64 / 1000.0
    )
}

/// Probes GET latency until `stop`: (start, µs) samples.
fn probe(
    port: u16,
    keys: u64,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<(Instant, u64)>> {
    std::thread::spawn(move || {
        let mut conn = Conn::connect(port).expect("probe connect");
        let mut rng = Rng(7);
        let mut out = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let k = format!("key:{}", rng.below(keys));
            let t = Instant::now();
            let v = conn.call(&[b"GET", k.as_bytes()]).expect("probe GET");
            out.push((t, t.elapsed().as_micros() as u64));
            assert!(!v.is_err(), "{v:?}");
        }
        out
    })
}

#[test]
#[ignore]
fn latency_probe_during_rewrite_of_1m_keys() {
    let keys = env_usize("MEMKV_LATENCY_KEYS", 1_000_000);
    let rewrites = env_usize("MEMKV_LATENCY_REWRITES", 5);
    let dir = TmpDir::new("aof-latency");
    let s = start_aof(dir.path(), "everysec", &[]);
    let t0 = Instant::now();
    let errors = bulk_load(s.port, keys, |i, out| {
        push_cmd(
            out,
            &[
                b"SET",
                format!("key:{i}").as_bytes(),
                format!("val:{i}").as_bytes(),
            ],
        );
    });
    assert!(errors.is_empty(), "{errors:?}");
    println!("loaded {keys} keys via pipelined SET in {:?}", t0.elapsed());
    let mut conn = Conn::connect(s.port).expect("connect");
    let stop = Arc::new(AtomicBool::new(false));
    let h = probe(s.port, keys as u64, stop.clone());
    // Baseline: 3 s without a rewrite.
    std::thread::sleep(Duration::from_secs(3));
    let mut windows = Vec::new();
    for _ in 0..rewrites {
        let prev = base_seq(dir.path());
        let t1 = Instant::now();
        assert_eq!(
            conn.q(&["BGREWRITEAOF"]).text(),
            "Background append only file rewriting started"
        );
        while base_seq(dir.path()) <= prev {
            assert!(
                t1.elapsed() < Duration::from_secs(300),
                "rewrite did not finish"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let t2 = Instant::now();
        windows.push((t1, t2));
        wait_no_rewrite(&mut conn);
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::Relaxed);
    let samples = h.join().expect("probe");
    let (during, base): (Vec<_>, Vec<_>) = samples
        .into_iter()
        .partition(|(t, _)| windows.iter().any(|(a, b)| t >= a && t <= b));
    let base_len = std::fs::metadata(base_path(dir.path())).map_or(0, |m| m.len());
    let times: Vec<String> = windows
        .iter()
        .map(|(a, b)| format!("{:?}", b.duration_since(*a)))
        .collect();
    println!(
        "GET latency without rewrite: {}",
        percentiles(base.into_iter().map(|x| x.1).collect())
    );
    println!(
        "GET latency during rewrite:  {}",
        percentiles(during.into_iter().map(|x| x.1).collect())
    );
    println!(
        "{rewrites} rewrites of {keys} keys took {} (base {base_len} bytes)",
        times.join(", ")
    );
    drop(conn);
    shutdown(s);
    // Time to load the rewritten AOF: memkv vs real Redis on a copy.
    let t2 = Instant::now();
    let mut s = Server::start_in(dir.path(), &["--appendonly", "yes"]);
    let memkv_load = s.wait_loaded();
    println!(
        "memkv: AOF of {keys} keys loaded in {memkv_load:?} ({:?} incl. start)",
        t2.elapsed()
    );
    kill9(s);
    if common::which("redis-server").is_some() {
        let rdir = TmpDir::new("aof-latency-redis");
        common::copy_dir(&aof_dir(dir.path()), &aof_dir(rdir.path()));
        let t3 = Instant::now();
        if let Some(mut r) = Server::start_redis(&[
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            "no",
            "--dir",
            rdir.path().to_str().expect("utf-8"),
        ]) {
            let redis_load = r.wait_loaded();
            println!(
                "redis: same AOF loaded in {redis_load:?} ({:?} incl. start)",
                t3.elapsed()
            );
        }
    }
}
