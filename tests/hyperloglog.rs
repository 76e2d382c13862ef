//! HyperLogLog commands through the real protocol: replies and error
//! texts against real Redis, a seeded differential run whose GETs compare
//! the values byte for byte (sparse, dense, promotion, cached cardinality),
//! HLLs moved between Redis and memkv in both directions, Redis's
//! corruption cases, random corruption that must never take the server
//! down, WATCH and AOF.

mod common;

use common::diff::Diff;
use common::script::*;
use common::{Raw, Server};

const NOT_HLL: &str = "-WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "-INVALIDOBJ Corrupted HLL object detected";

#[test]
fn basics_and_errors() {
    both(&[
        ("pfadd h a b c", ":1"),
        ("pfadd h a", ":0"),
        ("pfadd h", ":0"),
        ("pfadd new", ":1"),
        ("pfcount h", ":3"),
        ("pfcount new", ":0"),
        ("pfcount nokey", ":0"),
        ("pfcount h new nokey", ":3"),
        ("pfadd h2 c d e", ":1"),
        ("pfcount h h2", ":5"),
        ("pfmerge m h h2", "+OK"),
        ("pfcount m", ":5"),
        ("pfmerge m", "+OK"),
        ("pfmerge m2 nokey", "+OK"),
        ("pfcount m2", ":0"),
        ("set s hello", "+OK"),
        ("pfadd s a", NOT_HLL),
        ("pfcount s", NOT_HLL),
        ("pfcount h s", NOT_HLL),
        ("pfmerge m s", NOT_HLL),
        ("pfmerge s h", NOT_HLL),
        ("lpush l a", ":1"),
        ("pfadd l a", WRONGTYPE),
        ("pfcount l", WRONGTYPE),
        ("pfcount h l", WRONGTYPE),
        ("pfmerge h l", WRONGTYPE),
        ("pfdebug encoding h", "+sparse"),
        (
            "pfdebug decode h",
            "\"Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603\"",
        ),
        (
            "pfdebug getreg nokey",
            "-ERR The specified key does not exist",
        ),
        ("pfdebug what h", "-ERR Unknown PFDEBUG subcommand 'what'"),
        (
            "pfdebug what nokey",
            "-ERR The specified key does not exist",
        ),
        ("pfdebug encoding s", NOT_HLL),
        ("pfdebug todense h", ":1"),
        ("pfdebug todense h", ":0"),
        ("pfdebug encoding h", "+dense"),
        ("pfdebug decode h", "-ERR HLL encoding is not sparse"),
        ("pfcount h", ":3"),
        ("pfadd h d", ":1"),
        ("pfcount h", ":4"),
        ("pfmerge m3 h new", "+OK"),
        ("pfdebug encoding m3", "+dense"),
        ("@resp3", ""),
        ("pfcount h h2", ":5"),
        ("pfdebug encoding new", "+sparse"),
    ]);
}

/// Raw argv of a command line (spaces separate, no quoting needed here).
fn argv(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

fn cmd(c: &mut Raw, parts: &[&[u8]]) -> Vec<u8> {
    c.cmd(parts)
}

/// The bulk payload of a raw `$n\r\n...\r\n` reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    let nl = reply
        .iter()
        .position(|&b| b == b'\n')
        .expect("reply header");
    reply[nl + 1..reply.len() - 2].to_vec()
}

const KEYS: &[&str] = &["h1", "h2", "h3", "str", "lst"];

fn gen_hll_command(r: &mut Rng) -> Vec<Vec<u8>> {
    let key = |r: &mut Rng| r.pick(KEYS).to_string();
    let elem = |r: &mut Rng| format!("e{}", r.below(20_000));
    let line = match r.below(100) {
        0..=44 => {
            let n = if r.chance(8) { 300 } else { r.below(6) };
            let mut v = vec!["PFADD".to_string(), key(r)];
            v.extend((0..n).map(|_| elem(r)));
            v.join(" ")
        }
        45..=59 => {
            let n = 1 + r.below(3);
            let mut v = vec!["PFCOUNT".to_string()];
            v.extend((0..n).map(|_| key(r)));
            v.join(" ")
        }
        60..=67 => {
            let n = r.below(3);
            let mut v = vec!["PFMERGE".to_string(), key(r)];
            v.extend((0..n).map(|_| key(r)));
            v.join(" ")
        }
        68..=82 => format!("GET {}", key(r)),
        83..=88 => format!(
            "PFDEBUG {} {}",
            r.pick(&["ENCODING", "decode", "todense", "GETREG", "nope"]),
            key(r)
        ),
        89..=90 => format!(
            "CONFIG SET hll-sparse-max-bytes {}",
            r.pick(&["0", "40", "300", "3000", "12000"])
        ),
        91..=93 => format!("DEL {}", key(r)),
        94..=95 => "SET str abcdefghijklmnopqrstuvwxyz".to_string(),
        96 => "RPUSH lst x".to_string(),
        _ => format!("STRLEN {}", key(r)),
    };
    argv(&line)
}

#[test]
fn differential_against_redis() {
    let Some(mut d) = Diff::start("hyperloglog", &[]) else {
        return;
    };
    d.run_argv(3000, gen_hll_command);
    for k in KEYS {
        let get: [&[u8]; 2] = [b"GET", k.as_bytes()];
        assert_eq!(
            cmd(&mut d.ours, &get),
            cmd(&mut d.redis, &get),
            "seed {}: final GET {k}",
            d.seed
        );
    }
}

/// An HLL built by one server is SET into the other: both count it the
/// same, and after the same PFADDs on both the values are byte-equal.
#[test]
fn values_move_between_redis_and_memkv() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let ours = Server::start(&[]);
    let (mut m, mut r) = (ours.raw(), redis.raw());
    for (size, from_redis) in [
        (10, true),
        (2000, true),
        (30_000, true),
        (10, false),
        (5000, false),
    ] {
        let (src, dst) = if from_redis {
            (&mut r, &mut m)
        } else {
            (&mut m, &mut r)
        };
        cmd(src, &[b"DEL", b"x"]);
        for chunk in (0..size).collect::<Vec<u32>>().chunks(500) {
            let mut parts: Vec<Vec<u8>> = vec![b"PFADD".to_vec(), b"x".to_vec()];
            parts.extend(chunk.iter().map(|i| format!("item:{i}").into_bytes()));
            let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
            cmd(src, &refs);
        }
        let value = bulk(&cmd(src, &[b"GET", b"x"]));
        assert_eq!(cmd(dst, &[b"SET", b"x", &value]), b"+OK\r\n");
        let counts = (cmd(src, &[b"PFCOUNT", b"x"]), cmd(dst, &[b"PFCOUNT", b"x"]));
        assert_eq!(counts.0, counts.1, "size {size}");
        for side in [&mut m, &mut r] {
            cmd(side, &[b"PFADD", b"x", b"one", b"more", b"element"]);
            cmd(side, &[b"PFMERGE", b"y", b"x"]);
        }
        for k in [&b"x"[..], b"y"] {
            let get: [&[u8]; 2] = [b"GET", k];
            assert_eq!(cmd(&mut m, &get), cmd(&mut r, &get), "size {size}");
        }
        let regs: [&[u8]; 3] = [b"PFDEBUG", b"GETREG", b"x"];
        assert_eq!(cmd(&mut m, &regs), cmd(&mut r, &regs), "size {size}");
    }
}

/// Redis's own corruption cases (tests/unit/hyperloglog.tcl).
#[test]
fn corrupt_values_as_redis() {
    let run = |c: &mut Raw| -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut go = |parts: &[&[u8]]| out.push(c.cmd(parts));
        // Additional bytes at the tail of a sparse HLL.
        go(&[b"DEL", b"hll"]);
        go(&[b"PFADD", b"hll", b"a", b"b", b"c"]);
        go(&[b"APPEND", b"hll", b"hello"]);
        go(&[b"PFCOUNT", b"hll"]);
        go(&[b"PFCOUNT", b"hll", b"hll"]);
        go(&[b"PFMERGE", b"x", b"hll"]);
        // Broken magic.
        go(&[b"DEL", b"hll"]);
        go(&[b"PFADD", b"hll", b"a", b"b", b"c"]);
        go(&[b"SETRANGE", b"hll", b"0", b"0123"]);
        go(&[b"PFCOUNT", b"hll"]);
        go(&[b"PFADD", b"hll", b"x"]);
        // Invalid encoding.
        go(&[b"DEL", b"hll"]);
        go(&[b"PFADD", b"hll", b"a", b"b", b"c"]);
        go(&[b"SETRANGE", b"hll", b"4", b"x"]);
        go(&[b"PFCOUNT", b"hll"]);
        // Dense with the wrong length.
        go(&[b"DEL", b"hll"]);
        go(&[b"PFADD", b"hll", b"a", b"b", b"c"]);
        go(&[b"SETRANGE", b"hll", b"4", b"\x00"]);
        go(&[b"PFCOUNT", b"hll"]);
        go(&[b"PFDEBUG", b"GETREG", b"hll"]);
        // A sparse run past the 16384 registers (an extra XZERO).
        go(&[b"DEL", b"hll"]);
        go(&[b"PFADD", b"hll", b"a"]);
        go(&[b"APPEND", b"hll", b"\x40\x05"]);
        go(&[b"PFCOUNT", b"hll"]);
        go(&[b"PFDEBUG", b"TODENSE", b"hll"]);
        // Too short to hold a header.
        go(&[b"SET", b"hll", b"HYLL"]);
        go(&[b"PFCOUNT", b"hll"]);
        // A sparse value covering only 100 registers: PFADD and PFCOUNT
        // answer INVALIDOBJ, leave it raw (unshared first) and write
        // nothing (the WATCH holds).
        let bad: &[u8] = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x40\x63";
        go(&[b"SET", b"hll", bad]);
        go(&[b"WATCH", b"hll"]);
        go(&[b"PFADD", b"hll", b"x"]);
        go(&[b"OBJECT", b"ENCODING", b"hll"]);
        go(&[b"MULTI"]);
        go(&[b"PING"]);
        go(&[b"EXEC"]);
        go(&[b"SET", b"hll", bad]);
        go(&[b"PFCOUNT", b"hll"]);
        go(&[b"OBJECT", b"ENCODING", b"hll"]);
        out
    };
    let s = Server::start(&[]);
    let mine = run(&mut s.raw());
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    assert_eq!(text(&mine[3]), format!("{CORRUPT}\r\n"));
    assert_eq!(text(&mine[9]), format!("{NOT_HLL}\r\n"));
    assert_eq!(text(&mine[14]), format!("{NOT_HLL}\r\n"));
    assert_eq!(text(&mine[18]), format!("{NOT_HLL}\r\n"));
    assert_eq!(text(&mine[29]), format!("{CORRUPT}\r\n"));
    assert_eq!(text(&mine[30]), "$3\r\nraw\r\n");
    assert_eq!(text(&mine[33]), "*1\r\n+PONG\r\n");
    assert_eq!(text(&mine[35]), format!("{CORRUPT}\r\n"));
    assert_eq!(text(&mine[36]), "$3\r\nraw\r\n");
    if let Some(r) = Server::start_redis(&[]) {
        let theirs = run(&mut r.raw());
        for (i, (a, b)) in mine.iter().zip(&theirs).enumerate() {
            assert_eq!(text(a), text(b), "step {i}");
        }
    }
}

/// Random corruption of sparse and dense values: every reply is an
/// integer, OK or one of the HLL errors, and the server keeps serving.
#[test]
fn random_corruption_never_takes_the_server_down() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let seed = seed();
    let mut r = Rng(seed);
    for round in 0..300 {
        let n = if r.chance(30) { 3000 } else { 1 + r.below(60) };
        cmd(&mut c, &[b"DEL", b"h"]);
        let mut parts: Vec<Vec<u8>> = vec![b"PFADD".to_vec(), b"h".to_vec()];
        parts.extend((0..n).map(|i| format!("{round}:{i}").into_bytes()));
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        cmd(&mut c, &refs);
        let mut v = bulk(&cmd(&mut c, &[b"GET", b"h"]));
        for _ in 0..1 + r.below(4) {
            let at = 16 + r.below(v.len() - 16);
            v[at] = r.next() as u8;
        }
        if r.chance(20) {
            let cut = 16 + r.below(v.len() - 16);
            v.truncate(cut);
        }
        cmd(&mut c, &[b"SET", b"h", &v]);
        for parts in [
            &[&b"PFCOUNT"[..], b"h"][..],
            &[b"PFADD", b"h", b"p", b"q", b"r", b"s"],
            &[b"PFCOUNT", b"h", b"h"],
            &[b"PFMERGE", b"m", b"h"],
            &[b"PFDEBUG", b"DECODE", b"h"],
            &[b"PFDEBUG", b"TODENSE", b"h"],
        ] {
            let reply = String::from_utf8_lossy(&cmd(&mut c, parts)).into_owned();
            let ok = reply.starts_with(':')
                || reply.starts_with("+OK")
                || reply.starts_with('$')
                || reply.starts_with(CORRUPT)
                || reply.starts_with("-ERR HLL encoding is not sparse")
                || reply.starts_with(NOT_HLL);
            assert!(ok, "seed {seed} round {round}: {parts:?} -> {reply}");
        }
    }
    assert_eq!(cmd(&mut c, &[b"PING"]), b"+PONG\r\n");
}

#[test]
fn watch_and_the_cached_cardinality() {
    let s = Server::start(&[]);
    let (mut a, mut b) = (s.raw(), s.raw());
    send(&mut a, "pfadd h x y");
    // PFADD that changes no register does not touch the key.
    send(&mut a, "watch h");
    send(&mut b, "pfadd h x");
    send(&mut a, "multi");
    send(&mut a, "ping");
    assert_eq!(send(&mut a, "exec"), "[+PONG]");
    // PFCOUNT refreshing a stale cache modifies the value (as in Redis).
    send(&mut a, "watch h");
    assert_eq!(send(&mut b, "pfcount h"), ":2");
    send(&mut a, "multi");
    send(&mut a, "ping");
    assert_eq!(send(&mut a, "exec"), "*-1");
    // The cache is valid now: PFCOUNT reads it without writing.
    send(&mut a, "watch h");
    assert_eq!(send(&mut b, "pfcount h"), ":2");
    send(&mut a, "multi");
    send(&mut a, "ping");
    assert_eq!(send(&mut a, "exec"), "[+PONG]");
}

#[test]
fn aof_replays_hll_values_with_their_cache() {
    let dir = common::temp_dir("hll-aof");
    let mut first = Server::start_in(&dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let before = {
        let mut a = first.raw();
        let mut parts: Vec<Vec<u8>> = vec![b"PFADD".to_vec(), b"d".to_vec()];
        parts.extend((0..4000).map(|i| format!("{i}").into_bytes()));
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        cmd(&mut a, &refs);
        for line in [
            "PFADD s a b c",
            "PFCOUNT s",
            "PFCOUNT d",
            "PFMERGE m s d",
            "PFDEBUG TODENSE s",
        ] {
            a.cmd(&argv(line).iter().map(|p| p.as_slice()).collect::<Vec<_>>());
        }
        ["s", "d", "m"].map(|k| cmd(&mut a, &[b"GET", k.as_bytes()]))
    };
    first.kill9();
    let s = Server::start_in(&dir, &["--appendonly", "yes"]);
    let mut a = s.raw();
    until_loaded(&mut a);
    let after = ["s", "d", "m"].map(|k| cmd(&mut a, &[b"GET", k.as_bytes()]));
    assert_eq!(before, after);
}

#[test]
fn failed_transaction_rolls_hll_writes_back() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    send(&mut a, "pfadd h a b c");
    send(&mut a, "pfadd h2 x y");
    let before = cmd(&mut a, &[b"GET", b"h"]);
    send(&mut a, "multi");
    send(&mut a, "pfadd h d e f");
    send(&mut a, "pfcount h");
    send(&mut a, "pfmerge h h2");
    send(&mut a, "pfmerge h3 h");
    send(&mut a, "pfdebug todense h");
    send(&mut a, "lpush h x");
    let exec = send(&mut a, "exec");
    assert!(exec.contains("WRONGTYPE"), "{exec}");
    assert_eq!(cmd(&mut a, &[b"GET", b"h"]), before);
    assert_eq!(send(&mut a, "exists h3"), ":0");
}
