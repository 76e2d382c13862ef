//! Generic key commands, expiry, SCAN/KEYS, OBJECT and DEBUG through the
//! real protocol, plus a seeded differential run against real Redis.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use common::script::Rng;
use common::{Raw, eventually};

/// memkv with DEBUG enabled (Redis 7 refuses DEBUG by default).
fn server() -> common::Server {
    common::Server::start(&["--enable-debug-command", "yes"])
}

/// Sends argv and returns the raw reply as text.
fn c(r: &mut Raw, parts: &[&[u8]]) -> String {
    String::from_utf8_lossy(&r.cmd(parts)).into_owned()
}

/// Sends a space-separated command line and returns the raw reply as text.
fn q(r: &mut Raw, line: &str) -> String {
    let parts: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    c(r, &parts)
}

/// Asserts each (command line, exact reply) pair in order.
fn expect_all(r: &mut Raw, pairs: &[(&str, &str)]) {
    for (line, want) in pairs {
        assert_eq!(q(r, line), *want, "command: {line}");
    }
}

/// True if the server knows `name` (later families add list/hash commands).
fn has_command(r: &mut Raw, name: &str) -> bool {
    q(r, &format!("COMMAND INFO {name}")).contains(&format!("${}\r\n{name}\r\n", name.len()))
}

/// Parses an integer reply.
fn int(reply: &str) -> i64 {
    reply
        .strip_prefix(':')
        .and_then(|s| s.strip_suffix("\r\n"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {reply:?}"))
}

/// Splits a flat RESP array of bulk strings into its elements.
fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let text = reply;
    let mut pos = text.windows(2).position(|w| w == b"\r\n").expect("header") + 2;
    while pos < text.len() {
        assert_eq!(
            text[pos],
            b'$',
            "expected bulk in {:?}",
            String::from_utf8_lossy(reply)
        );
        let eol = pos
            + text[pos..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("eol");
        let n: usize = std::str::from_utf8(&text[pos + 1..eol])
            .expect("utf8")
            .parse()
            .expect("len");
        out.push(text[eol + 2..eol + 2 + n].to_vec());
        pos = eol + 2 + n + 2;
    }
    out
}

/// One SCAN call: (next cursor, keys).
fn scan_once(r: &mut Raw, cursor: &str, extra: &[&str]) -> (String, Vec<Vec<u8>>) {
    let mut parts: Vec<&[u8]> = vec![b"SCAN", cursor.as_bytes()];
    parts.extend(extra.iter().map(|s| s.as_bytes()));
    let reply = r.cmd(&parts);
    assert!(
        reply.starts_with(b"*2\r\n$"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    // *2, $len, cursor, then the key array.
    let after_hdr = 4;
    let eol = after_hdr
        + reply[after_hdr..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap();
    let n: usize = std::str::from_utf8(&reply[after_hdr + 1..eol])
        .unwrap()
        .parse()
        .unwrap();
    let cur = String::from_utf8(reply[eol + 2..eol + 2 + n].to_vec()).unwrap();
    let keys = bulks(&reply[eol + 2 + n + 2..]);
    (cur, keys)
}

/// A whole SCAN iteration as a sorted set of keys.
fn scan_all(r: &mut Raw, extra: &[&str]) -> BTreeSet<Vec<u8>> {
    let mut all = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, keys) = scan_once(r, &cursor, extra);
        all.extend(keys);
        if next == "0" {
            return all;
        }
        cursor = next;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn del_unlink_exists_touch_type() {
    let s = server();
    let mut r = s.raw();
    expect_all(
        &mut r,
        &[
            ("MSET a 1 b 2 c 3", "+OK\r\n"),
            ("EXISTS a a b nokey", ":3\r\n"),
            ("TOUCH a a nokey", ":2\r\n"),
            ("TYPE a", "+string\r\n"),
            ("TYPE nokey", "+none\r\n"),
            ("DEL a a nokey", ":1\r\n"),
            ("EXISTS a", ":0\r\n"),
            ("UNLINK b c c", ":2\r\n"),
            ("DBSIZE", ":0\r\n"),
            (
                "DEL",
                "-ERR wrong number of arguments for 'del' command\r\n",
            ),
            (
                "UNLINK",
                "-ERR wrong number of arguments for 'unlink' command\r\n",
            ),
            (
                "EXISTS",
                "-ERR wrong number of arguments for 'exists' command\r\n",
            ),
            (
                "TYPE a b",
                "-ERR wrong number of arguments for 'type' command\r\n",
            ),
        ],
    );
    // A big value goes to the lazy-free thread on UNLINK.
    if has_command(&mut r, "rpush") {
        let mut parts: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), b"l".to_vec()];
        parts.extend((0..1000).map(|i| format!("e{i}").into_bytes()));
        let argv: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        assert_eq!(c(&mut r, &argv), ":1000\r\n");
        expect_all(
            &mut r,
            &[
                ("TYPE l", "+list\r\n"),
                ("UNLINK l", ":1\r\n"),
                ("EXISTS l", ":0\r\n"),
            ],
        );
    }
}

#[test]
fn expire_family_edges() {
    let s = server();
    let mut r = s.raw();
    expect_all(
        &mut r,
        &[
            ("SET a 1", "+OK\r\n"),
            (
                "EXPIRE a 10 nx xx",
                "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
            ),
            (
                "EXPIRE a 10 NX GT",
                "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
            ),
            (
                "EXPIRE a 10 gt lt",
                "-ERR GT and LT options at the same time are not compatible\r\n",
            ),
            ("EXPIRE a 10 foo", "-ERR Unsupported option foo\r\n"),
            ("EXPIRE nokey 10 foo", "-ERR Unsupported option foo\r\n"),
            (
                "EXPIRE a abc",
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                "EXPIRE a 9223372036854775807",
                "-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                "EXPIRE a -9223372036854775808",
                "-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                "PEXPIRE a 9223372036854775807",
                "-ERR invalid expire time in 'pexpire' command\r\n",
            ),
            (
                "EXPIREAT a 9223372036854775807",
                "-ERR invalid expire time in 'expireat' command\r\n",
            ),
            (
                "EXPIRE a",
                "-ERR wrong number of arguments for 'expire' command\r\n",
            ),
            ("EXPIRE nokey 10", ":0\r\n"),
            ("TTL a", ":-1\r\n"),
            ("PTTL a", ":-1\r\n"),
            ("EXPIRETIME a", ":-1\r\n"),
            ("PEXPIRETIME a", ":-1\r\n"),
            ("TTL nokey", ":-2\r\n"),
            ("PTTL nokey", ":-2\r\n"),
            ("EXPIRETIME nokey", ":-2\r\n"),
            ("PEXPIRETIME nokey", ":-2\r\n"),
            // XX / GT on a key without TTL fail; LT succeeds (no TTL = infinite).
            ("EXPIRE a 100 XX", ":0\r\n"),
            ("EXPIRE a 100 GT", ":0\r\n"),
            ("PEXPIREAT a 4102444800123 LT", ":1\r\n"),
            ("PEXPIRETIME a", ":4102444800123\r\n"),
            ("EXPIRETIME a", ":4102444800\r\n"),
            ("EXPIRE a 100 NX", ":0\r\n"),
            ("PEXPIREAT a 4102444800000 GT", ":0\r\n"),
            ("PEXPIREAT a 4102444800123 GT", ":0\r\n"),
            ("PEXPIREAT a 4102444800124 GT", ":1\r\n"),
            ("PEXPIREAT a 4102444800124 LT", ":0\r\n"),
            ("EXPIREAT a 4102444801 XX", ":1\r\n"),
            ("PEXPIRETIME a", ":4102444801000\r\n"),
            ("PERSIST a", ":1\r\n"),
            ("PERSIST a", ":0\r\n"),
            ("PERSIST nokey", ":0\r\n"),
            ("TTL a", ":-1\r\n"),
            // The largest absolute time is accepted; EXPIRETIME rounds like Redis.
            ("PEXPIREAT a 9223372036854775807", ":1\r\n"),
            ("EXPIRETIME a", ":9223372036854776\r\n"),
            // A time in the past deletes the key and answers 1.
            ("EXPIRE a -1", ":1\r\n"),
            ("EXISTS a", ":0\r\n"),
            ("SET a 1", "+OK\r\n"),
            ("PEXPIREAT a 1", ":1\r\n"),
            ("EXISTS a", ":0\r\n"),
            ("SET a 1", "+OK\r\n"),
            ("EXPIREAT a 0 LT", ":1\r\n"),
            ("EXISTS a", ":0\r\n"),
            ("SET a 1", "+OK\r\n"),
            ("EXPIRE a 0", ":1\r\n"),
            ("EXISTS a", ":0\r\n"),
        ],
    );
    // Relative times: TTL rounds to the nearest second.
    expect_all(
        &mut r,
        &[("SET k v", "+OK\r\n"), ("EXPIRE k 100", ":1\r\n")],
    );
    let ttl = int(&q(&mut r, "TTL k"));
    assert!((99..=100).contains(&ttl), "{ttl}");
    let pttl = int(&q(&mut r, "PTTL k"));
    assert!((95_000..=100_000).contains(&pttl), "{pttl}");
    let at = int(&q(&mut r, "PEXPIRETIME k"));
    assert!((at - (now_ms() + 100_000)).abs() < 5_000, "{at}");
    assert_eq!(int(&q(&mut r, "PEXPIRE k 200000 GT")), 1);
    assert_eq!(int(&q(&mut r, "EXPIRE k 150 LT")), 1);
    let ttl = int(&q(&mut r, "TTL k"));
    assert!((149..=150).contains(&ttl), "{ttl}");
    // SET without KEEPTTL clears the TTL.
    expect_all(&mut r, &[("SET k w", "+OK\r\n"), ("TTL k", ":-1\r\n")]);
}

#[test]
fn key_with_short_ttl_disappears_without_access() {
    let s = server();
    let mut r = s.raw();
    expect_all(
        &mut r,
        &[
            ("SET keep v", "+OK\r\n"),
            ("SET gone v", "+OK\r\n"),
            ("PEXPIRE gone 100", ":1\r\n"),
            ("DBSIZE", ":2\r\n"),
        ],
    );
    // Only DBSIZE is asked: it does not touch keys, so only active expiry
    // can bring it down.
    assert!(
        eventually(Duration::from_secs(20), || q(&mut r, "DBSIZE") == ":1\r\n"),
        "active expiry did not remove the key"
    );
    let info = q(&mut r, "INFO stats");
    assert!(info.contains("expired_keys:1\r\n"), "{info}");
    assert_eq!(q(&mut r, "EXISTS keep"), ":1\r\n");
}

#[test]
fn set_active_expire_off_leaves_keys_for_lazy_expiry() {
    let s = server();
    let mut r = s.raw();
    expect_all(
        &mut r,
        &[
            ("DEBUG SET-ACTIVE-EXPIRE 0", "+OK\r\n"),
            ("SET a 1", "+OK\r\n"),
            ("SET b 1", "+OK\r\n"),
            ("PEXPIRE a 1", ":1\r\n"),
            ("PEXPIRE b 1", ":1\r\n"),
        ],
    );
    // The keys are logically expired after 1 ms; with active expiry off
    // nothing removes them until they are touched.
    std::thread::sleep(Duration::from_millis(300));
    expect_all(
        &mut r,
        &[
            ("DBSIZE", ":2\r\n"),
            ("KEYS *", "*0\r\n"),
            ("RANDOMKEY", "$-1\r\n"),
            ("DBSIZE", ":0\r\n"),
            ("DEBUG SET-ACTIVE-EXPIRE 1", "+OK\r\n"),
            ("SET c 1", "+OK\r\n"),
            ("PEXPIRE c 1", ":1\r\n"),
        ],
    );
    assert!(eventually(Duration::from_secs(20), || q(&mut r, "DBSIZE") == ":0\r\n"));
}

#[test]
fn scan_and_keys_basics() {
    let s = server();
    let mut r = s.raw();
    expect_all(
        &mut r,
        &[
            ("SCAN 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
            ("MSET a 1 b 2 c 3", "+OK\r\n"),
            ("SCAN abc", "-ERR invalid cursor\r\n"),
            ("SCAN 18446744073709551616", "-ERR invalid cursor\r\n"),
            ("SCAN 0 COUNT 0", "-ERR syntax error\r\n"),
            ("SCAN 0 COUNT -1", "-ERR syntax error\r\n"),
            (
                "SCAN 0 COUNT x",
                "-ERR value is not an integer or out of range\r\n",
            ),
            ("SCAN 0 MATCH", "-ERR syntax error\r\n"),
            ("SCAN 0 foo bar", "-ERR syntax error\r\n"),
            ("SCAN 0 TYPE nosuchtype", "*2\r\n$1\r\n0\r\n*0\r\n"),
            ("SCAN 0 MATCH b", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nb\r\n"),
            (
                "SCAN 0 MATCH b TYPE STRING",
                "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nb\r\n",
            ),
            ("SCAN 0 MATCH b TYPE list", "*2\r\n$1\r\n0\r\n*0\r\n"),
            (
                "KEYS",
                "-ERR wrong number of arguments for 'keys' command\r\n",
            ),
        ],
    );
    // " 1" (leading space) is refused, "" is cursor 0 (strtoul rules).
    assert_eq!(c(&mut r, &[b"SCAN", b" 1"]), "-ERR invalid cursor\r\n");
    let empty = c(&mut r, &[b"SCAN", b""]);
    assert!(empty.starts_with("*2\r\n$1\r\n0\r\n*3\r\n"), "{empty}");
    let abc: BTreeSet<Vec<u8>> = [b"a", b"b", b"c"].iter().map(|k| k.to_vec()).collect();
    assert_eq!(scan_all(&mut r, &[]), abc);
    assert_eq!(scan_all(&mut r, &["COUNT", "1"]), abc);
    assert_eq!(scan_all(&mut r, &["TYPE", "string", "COUNT", "2"]), abc);
    // COUNT bounds the work per call: one key per call with COUNT 1.
    let (cur, keys) = scan_once(&mut r, "0", &["COUNT", "1"]);
    assert_eq!(keys.len(), 1);
    assert_ne!(cur, "0");
    let mut keys = bulks(&r.cmd(&[b"KEYS", b"*"]));
    keys.sort();
    assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    // Expired keys are neither listed nor scanned.
    expect_all(
        &mut r,
        &[
            ("DEBUG SET-ACTIVE-EXPIRE 0", "+OK\r\n"),
            ("PEXPIRE c 1", ":1\r\n"),
        ],
    );
    std::thread::sleep(Duration::from_millis(50));
    let mut keys = bulks(&r.cmd(&[b"KEYS", b"*"]));
    keys.sort();
    assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(q(&mut r, "DBSIZE"), ":3\r\n");
    let ab: BTreeSet<Vec<u8>> = [b"a", b"b"].iter().map(|k| k.to_vec()).collect();
    assert_eq!(scan_all(&mut r, &[]), ab);
    // SCAN reclaimed the expired key it met.
    assert_eq!(q(&mut r, "DBSIZE"), ":2\r\n");
}

#[test]
fn scan_with_types() {
    let s = server();
    let mut r = s.raw();
    assert_eq!(q(&mut r, "SET s v"), "+OK\r\n");
    let mut want_list = BTreeSet::new();
    if has_command(&mut r, "rpush") {
        assert_eq!(q(&mut r, "RPUSH l a b"), ":2\r\n");
        want_list.insert(b"l".to_vec());
    }
    let mut want_hash = BTreeSet::new();
    if has_command(&mut r, "hset") {
        assert_eq!(q(&mut r, "HSET h f v"), ":1\r\n");
        want_hash.insert(b"h".to_vec());
    }
    assert_eq!(scan_all(&mut r, &["TYPE", "list"]), want_list);
    assert_eq!(scan_all(&mut r, &["TYPE", "HASH"]), want_hash);
    assert_eq!(
        scan_all(&mut r, &["TYPE", "string"]),
        BTreeSet::from([b"s".to_vec()])
    );
}

/// Redis's SCAN guarantee: keys present for the whole scan are returned,
/// whatever is added or removed between calls.
#[test]
fn scan_guarantee_under_writes() {
    let s = server();
    let mut r = s.raw();
    let stable: Vec<String> = (0..2000).map(|i| format!("stable:{i}")).collect();
    for chunk in stable.chunks(200) {
        let mut parts: Vec<&[u8]> = vec![b"MSET"];
        for k in chunk {
            parts.push(k.as_bytes());
            parts.push(b"x");
        }
        assert_eq!(c(&mut r, &parts), "+OK\r\n");
    }
    let mut transient: Vec<String> = Vec::new();
    let mut next = 0u64;
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    let mut rng = 0x2545_f491_u64;
    loop {
        let (cur, keys) = scan_once(&mut r, &cursor, &["COUNT", "17"]);
        seen.extend(keys);
        calls += 1;
        if cur == "0" {
            break;
        }
        cursor = cur;
        // Between calls: add a few keys and delete a few transient ones.
        for _ in 0..6 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            if !rng.is_multiple_of(3) || transient.is_empty() {
                let k = format!("tmp:{next}");
                next += 1;
                assert_eq!(q(&mut r, &format!("SET {k} y")), "+OK\r\n");
                transient.push(k);
            } else {
                let k = transient.swap_remove((rng as usize / 3) % transient.len());
                assert_eq!(q(&mut r, &format!("DEL {k}")), ":1\r\n");
            }
        }
        assert!(calls < 100_000, "scan does not terminate");
    }
    for k in &stable {
        assert!(seen.contains(k.as_bytes()), "{k} was never returned");
    }
}

#[test]
fn keys_glob_patterns() {
    let s = server();
    let mut r = s.raw();
    assert_eq!(
        q(
            &mut r,
            "MSET hello 1 hallo 1 hxllo 1 heeeello 1 hllo 1 h*llo 1 other 1"
        ),
        "+OK\r\n"
    );
    let mut keys = |p: &str| {
        let mut v: Vec<String> = bulks(&r.cmd(&[b"KEYS", p.as_bytes()]))
            .into_iter()
            .map(|k| String::from_utf8(k).unwrap())
            .collect();
        v.sort();
        v.join(",")
    };
    assert_eq!(keys("h?llo"), "h*llo,hallo,hello,hxllo");
    assert_eq!(keys("h*llo"), "h*llo,hallo,heeeello,hello,hllo,hxllo");
    assert_eq!(keys("h[ae]llo"), "hallo,hello");
    assert_eq!(keys("h[^e]llo"), "h*llo,hallo,hxllo");
    assert_eq!(keys("h[a-b]llo"), "hallo");
    assert_eq!(keys("h\\*llo"), "h*llo");
    assert_eq!(keys("*"), "h*llo,hallo,heeeello,hello,hllo,hxllo,other");
    assert_eq!(keys("nomatch*"), "");
    assert_eq!(keys("HELLO"), "");
    // SCAN MATCH uses the same matcher.
    let got: Vec<String> = scan_all(&mut r, &["MATCH", "h[ae]llo", "COUNT", "3"])
        .into_iter()
        .map(|k| String::from_utf8(k).unwrap())
        .collect();
    assert_eq!(got.join(","), "hallo,hello");
}

#[test]
fn randomkey() {
    let s = server();
    let mut r = s.raw();
    expect_all(
        &mut r,
        &[
            ("RANDOMKEY", "$-1\r\n"),
            ("SET only 1", "+OK\r\n"),
            ("RANDOMKEY", "$4\r\nonly\r\n"),
            (
                "RANDOMKEY x",
                "-ERR wrong number of arguments for 'randomkey' command\r\n",
            ),
        ],
    );
    assert_eq!(q(&mut r, "MSET a 1 b 2 c 3"), "+OK\r\n");
    let mut seen = HashSet::new();
    assert!(eventually(Duration::from_secs(10), || {
        seen.insert(q(&mut r, "RANDOMKEY"));
        seen.len() == 4
    }));
}

#[test]
fn rename_and_renamenx() {
    let s = server();
    let mut r = s.raw();
    expect_all(
        &mut r,
        &[
            ("RENAME nokey x", "-ERR no such key\r\n"),
            ("RENAMENX nokey x", "-ERR no such key\r\n"),
            ("SET a 1", "+OK\r\n"),
            ("RENAME a a", "+OK\r\n"),
            ("RENAMENX a a", ":0\r\n"),
            ("PEXPIREAT a 4102444800000", ":1\r\n"),
            ("RENAME a b", "+OK\r\n"),
            ("EXISTS a", ":0\r\n"),
            ("GET b", "$1\r\n1\r\n"),
            ("PEXPIRETIME b", ":4102444800000\r\n"),
            ("SET c 3", "+OK\r\n"),
            ("RENAMENX b c", ":0\r\n"),
            ("RENAMENX b d", ":1\r\n"),
            ("PEXPIRETIME d", ":4102444800000\r\n"),
            // Renaming a persistent key over one with a TTL drops that TTL.
            ("PEXPIREAT c 4102444800000", ":1\r\n"),
            ("SET e 5", "+OK\r\n"),
            ("RENAME e c", "+OK\r\n"),
            ("GET c", "$1\r\n5\r\n"),
            ("TTL c", ":-1\r\n"),
            (
                "RENAME c",
                "-ERR wrong number of arguments for 'rename' command\r\n",
            ),
        ],
    );
    if has_command(&mut r, "rpush") {
        expect_all(
            &mut r,
            &[
                ("RPUSH l x y", ":2\r\n"),
                ("RENAME l l2", "+OK\r\n"),
                ("TYPE l2", "+list\r\n"),
                ("LRANGE l2 0 -1", "*2\r\n$1\r\nx\r\n$1\r\ny\r\n"),
            ],
        );
    }
}

#[test]
fn copy_move_swapdb_flush() {
    let s = server();
    let mut r = s.raw();
    expect_all(
        &mut r,
        &[
            ("SET a 1", "+OK\r\n"),
            (
                "COPY a a",
                "-ERR source and destination objects are the same\r\n",
            ),
            ("COPY a b DB 100", "-ERR DB index is out of range\r\n"),
            ("COPY a b DB -1", "-ERR DB index is out of range\r\n"),
            (
                "COPY a b DB x",
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                "COPY a b DB 4294967296",
                "-ERR value is not an integer or out of range\r\n",
            ),
            ("COPY a b foo", "-ERR syntax error\r\n"),
            ("COPY a b DB", "-ERR syntax error\r\n"),
            (
                "COPY a a DB 0",
                "-ERR source and destination objects are the same\r\n",
            ),
            ("COPY nokey b", ":0\r\n"),
            ("PEXPIREAT a 4102444800000", ":1\r\n"),
            ("COPY a b", ":1\r\n"),
            ("PEXPIRETIME b", ":4102444800000\r\n"),
            ("SET b 2", "+OK\r\n"),
            ("COPY a b", ":0\r\n"),
            ("COPY a b REPLACE", ":1\r\n"),
            ("GET b", "$1\r\n1\r\n"),
            ("COPY a a DB 1", ":1\r\n"),
            ("COPY a a DB 1", ":0\r\n"),
            ("COPY a a DB 1 REPLACE", ":1\r\n"),
            ("MOVE a 100", "-ERR DB index is out of range\r\n"),
            ("MOVE a -1", "-ERR DB index is out of range\r\n"),
            (
                "MOVE a abc",
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                "MOVE a 0",
                "-ERR source and destination objects are the same\r\n",
            ),
            ("MOVE nokey 1", ":0\r\n"),
            ("MOVE a 1", ":0\r\n"),
            ("MOVE b 2", ":1\r\n"),
            ("EXISTS b", ":0\r\n"),
            ("SELECT 2", "+OK\r\n"),
            ("GET b", "$1\r\n1\r\n"),
            ("PEXPIRETIME b", ":4102444800000\r\n"),
            ("SELECT 1", "+OK\r\n"),
            ("PEXPIRETIME a", ":4102444800000\r\n"),
            ("SELECT 0", "+OK\r\n"),
            ("SWAPDB 0 x", "-ERR invalid second DB index\r\n"),
            ("SWAPDB x 0", "-ERR invalid first DB index\r\n"),
            ("SWAPDB 0 y", "-ERR invalid second DB index\r\n"),
            ("SWAPDB 0 100", "-ERR DB index is out of range\r\n"),
            ("SWAPDB -1 0", "-ERR DB index is out of range\r\n"),
            ("SWAPDB 0 0", "+OK\r\n"),
            ("SET only0 x", "+OK\r\n"),
            ("SWAPDB 0 2", "+OK\r\n"),
            ("GET b", "$1\r\n1\r\n"),
            ("EXISTS only0", ":0\r\n"),
            ("SELECT 2", "+OK\r\n"),
            ("EXISTS only0", ":1\r\n"),
            ("FLUSHDB foo", "-ERR syntax error\r\n"),
            ("FLUSHDB ASYNC SYNC", "-ERR syntax error\r\n"),
            ("FLUSHDB ASYNC", "+OK\r\n"),
            ("DBSIZE", ":0\r\n"),
            ("SELECT 0", "+OK\r\n"),
            ("DBSIZE", ":1\r\n"),
            ("FLUSHDB sync", "+OK\r\n"),
            ("DBSIZE", ":0\r\n"),
            ("SELECT 1", "+OK\r\n"),
            ("DBSIZE", ":1\r\n"),
            ("FLUSHALL foo", "-ERR syntax error\r\n"),
            ("FLUSHALL", "+OK\r\n"),
            ("DBSIZE", ":0\r\n"),
            ("SET z 1", "+OK\r\n"),
            ("FLUSHALL ASYNC", "+OK\r\n"),
            ("DBSIZE", ":0\r\n"),
        ],
    );
    if has_command(&mut r, "hset") {
        expect_all(
            &mut r,
            &[
                ("HSET h f v g w", ":2\r\n"),
                ("COPY h h2", ":1\r\n"),
                ("HSET h f changed", ":0\r\n"),
                ("HGET h2 f", "$1\r\nv\r\n"),
                ("MOVE h2 3", ":1\r\n"),
                ("SELECT 3", "+OK\r\n"),
                ("TYPE h2", "+hash\r\n"),
            ],
        );
    }
}

#[test]
fn object_subcommands() {
    let s = server();
    let mut r = s.raw();
    let big = "x".repeat(45);
    expect_all(
        &mut r,
        &[
            ("SET int 12345", "+OK\r\n"),
            ("SET small 100", "+OK\r\n"),
            ("SET emb hello", "+OK\r\n"),
            (&format!("SET raw {big}"), "+OK\r\n"),
            (&format!("SET emb44 {}", &big[..44]), "+OK\r\n"),
            ("SET notint 0123", "+OK\r\n"),
            ("OBJECT ENCODING int", "$3\r\nint\r\n"),
            ("OBJECT ENCODING emb", "$6\r\nembstr\r\n"),
            ("OBJECT ENCODING emb44", "$6\r\nembstr\r\n"),
            ("OBJECT ENCODING raw", "$3\r\nraw\r\n"),
            ("OBJECT ENCODING notint", "$6\r\nembstr\r\n"),
            ("OBJECT ENCODING nokey", "$-1\r\n"),
            ("OBJECT REFCOUNT small", ":2147483647\r\n"),
            ("OBJECT REFCOUNT int", ":1\r\n"),
            ("OBJECT REFCOUNT nokey", "$-1\r\n"),
            // IDLETIME's value: tests/memory.rs (seconds tick meanwhile).
            ("OBJECT IDLETIME nokey", "$-1\r\n"),
            (
                "OBJECT FREQ emb",
                "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n",
            ),
            ("OBJECT FREQ nokey", "$-1\r\n"),
            (
                "OBJECT foo",
                "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n",
            ),
            (
                "OBJECT ENCODING",
                "-ERR wrong number of arguments for 'object|encoding' command\r\n",
            ),
            (
                "OBJECT",
                "-ERR wrong number of arguments for 'object' command\r\n",
            ),
            ("CONFIG SET maxmemory-policy allkeys-lfu", "+OK\r\n"),
            // A key created under an LFU policy starts at LFU_INIT_VAL.
            ("SET lfu v", "+OK\r\n"),
            ("OBJECT FREQ lfu", ":5\r\n"),
            (
                "OBJECT IDLETIME emb",
                "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n",
            ),
        ],
    );
    let help = q(&mut r, "OBJECT HELP");
    assert!(
        help.starts_with(
            "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        ),
        "{help}"
    );
    if has_command(&mut r, "rpush") {
        expect_all(
            &mut r,
            &[
                ("RPUSH l a", ":1\r\n"),
                ("OBJECT ENCODING l", "$9\r\nquicklist\r\n"),
            ],
        );
    }
    if has_command(&mut r, "hset") {
        let long = "v".repeat(65);
        expect_all(
            &mut r,
            &[
                ("HSET h f v", ":1\r\n"),
                ("OBJECT ENCODING h", "$8\r\nlistpack\r\n"),
                (&format!("HSET h g {long}"), ":1\r\n"),
                ("OBJECT ENCODING h", "$9\r\nhashtable\r\n"),
            ],
        );
    }
}

#[test]
fn debug_command() {
    let s = server();
    let mut r = s.raw();
    let zeros = format!("+{}\r\n", "0".repeat(40));
    expect_all(
        &mut r,
        &[
            ("DEBUG DIGEST", zeros.as_str()),
            (
                "DEBUG",
                "-ERR wrong number of arguments for 'debug' command\r\n",
            ),
            (
                "DEBUG foo",
                "-ERR unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP.\r\n",
            ),
            (
                "DEBUG sleep",
                "-ERR unknown subcommand or wrong number of arguments for 'sleep'. Try DEBUG HELP.\r\n",
            ),
            (
                "DEBUG digest x",
                "-ERR unknown subcommand or wrong number of arguments for 'digest'. Try DEBUG HELP.\r\n",
            ),
            ("DEBUG OBJECT nokey", "-ERR no such key\r\n"),
            ("DEBUG SLEEP 0", "+OK\r\n"),
            ("DEBUG SLEEP 0.01", "+OK\r\n"),
            ("DEBUG SLEEP abc", "+OK\r\n"),
            ("DEBUG DIGEST-VALUE", "*0\r\n"),
            ("DEBUG ERROR boom", "-boom\r\n"),
            // Digests computed by Redis 7.0.15 for the same data.
            ("SET k hello", "+OK\r\n"),
            (
                "DEBUG DIGEST-VALUE k nokey",
                "*2\r\n+36b23a1456b2dce2c3ed252c456761301dba8060\r\n+0000000000000000000000000000000000000000\r\n",
            ),
            ("DEBUG POPULATE 3", "+OK\r\n"),
            ("GET key:2", "$7\r\nvalue:2\r\n"),
            ("DEBUG POPULATE 2 p 3", "+OK\r\n"),
            ("GET p:1", "$3\r\nval\r\n"),
            (
                "DEBUG POPULATE -1",
                "-ERR value is out of range, must be positive\r\n",
            ),
            ("DBSIZE", ":6\r\n"),
        ],
    );
    assert_eq!(
        c(&mut r, &[b"DEBUG", b"ERROR", b"ERR boom"]),
        "-ERR boom\r\n"
    );
    let obj = q(&mut r, "DEBUG OBJECT k");
    assert!(obj.starts_with("+Value at:0x"), "{obj}");
    assert!(
        obj.contains(" refcount:1 encoding:embstr serializedlength:6 lru:"),
        "{obj}"
    );
    let help = q(&mut r, "DEBUG HELP");
    assert!(
        help.contains("+DIGEST-VALUE <key> [<key> ...]\r\n"),
        "{help}"
    );
    // DEBUG is refused unless enabled, like Redis 7.
    let plain = common::Server::start(&[]);
    let mut p = plain.raw();
    assert_eq!(
        q(&mut p, "DEBUG DIGEST"),
        "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n"
    );
    let local = common::Server::start(&["--enable-debug-command", "local"]);
    assert_eq!(q(&mut local.raw(), "DEBUG SLEEP 0"), "+OK\r\n");
}

#[test]
fn debug_digest_is_order_independent() {
    let s = server();
    let mut a = s.raw();
    let t = server();
    let mut b = t.raw();
    for i in 0..200 {
        assert_eq!(q(&mut a, &format!("SET key{i} val{i}")), "+OK\r\n");
    }
    for i in (0..200).rev() {
        assert_eq!(q(&mut b, &format!("SET key{i} val{i}")), "+OK\r\n");
    }
    // Expiry presence is part of the digest (its value is not, like Redis).
    assert_eq!(q(&mut a, "PEXPIREAT key7 4102444800000"), ":1\r\n");
    assert_eq!(q(&mut b, "PEXPIREAT key7 4102444800001"), ":1\r\n");
    let da = q(&mut a, "DEBUG DIGEST");
    assert_eq!(da.len(), 43);
    assert_eq!(da, q(&mut b, "DEBUG DIGEST"));
    assert_ne!(da, format!("+{}\r\n", "0".repeat(40)));
    let changes = [
        ("SET key3 other", "SET key3 val3"),
        ("PERSIST key7", "PEXPIREAT key7 4102444800000"),
        ("RENAME key5 key5b", "RENAME key5b key5"),
        ("MOVE key9 1", "MOVE key9 0"),
    ];
    for (change, undo) in changes {
        q(&mut b, change);
        assert_ne!(da, q(&mut b, "DEBUG DIGEST"), "{change}");
        if undo.starts_with("MOVE") {
            q(&mut b, "SELECT 1");
            q(&mut b, undo);
            q(&mut b, "SELECT 0");
        } else {
            q(&mut b, undo);
        }
        assert_eq!(da, q(&mut b, "DEBUG DIGEST"), "{undo}");
    }
    if has_command(&mut b, "rpush") {
        q(&mut b, "DEL key1");
        q(&mut b, "RPUSH key1 val1");
        assert_ne!(da, q(&mut b, "DEBUG DIGEST"), "type change");
    }
}

// ------------------------------------------------------------ differential

/// 2100-01-01 in ms: absolute expiries start here, far beyond any relative
/// one, so GT/LT comparisons never depend on the two servers' clocks.
const ABS_BASE_MS: i64 = 4_102_444_800_000;

/// How a reply is compared.
enum Cmp {
    Exact,
    /// TTL / PTTL: only -2, -1 or "some non-negative value".
    TtlClass,
    /// EXPIRETIME / PEXPIRETIME: exact for absolute expiries, else class.
    ExpireTime {
        ms: bool,
    },
    /// RANDOMKEY: null or not.
    NullOrNot,
    /// KEYS: as a sorted set.
    Sorted,
}

fn normalize(reply: &[u8], how: &Cmp) -> Vec<u8> {
    let as_int = || -> Option<i64> {
        std::str::from_utf8(reply)
            .ok()?
            .strip_prefix(':')?
            .trim_end()
            .parse()
            .ok()
    };
    match how {
        Cmp::Exact => reply.to_vec(),
        Cmp::TtlClass => match as_int() {
            Some(n) if n >= 0 => b":nonneg".to_vec(),
            _ => reply.to_vec(),
        },
        Cmp::ExpireTime { ms } => {
            let base = if *ms { ABS_BASE_MS } else { ABS_BASE_MS / 1000 };
            match as_int() {
                Some(n) if n >= 0 && n < base => b":relative".to_vec(),
                _ => reply.to_vec(),
            }
        }
        Cmp::NullOrNot => {
            if reply.starts_with(b"$-1") {
                reply.to_vec()
            } else {
                b"$some".to_vec()
            }
        }
        Cmp::Sorted => {
            if !reply.starts_with(b"*") {
                return reply.to_vec();
            }
            let mut v = bulks(reply);
            v.sort();
            v.join(&b'\n')
        }
    }
}

/// Generates one random command. `n` is the command number, used to make
/// relative expiries distinct (no ties between two relative expiries).
fn gen_command(rng: &mut Rng, n: u64) -> (Vec<String>, Cmp) {
    let keys = [
        "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "n1", "n2",
    ];
    let mut k = || keys[rng.below(keys.len())].to_string();
    let k1 = k();
    let k2 = k();
    let k3 = k();
    let flag = |rng: &mut Rng| -> Vec<String> {
        match rng.below(8) {
            0 => vec!["NX".into()],
            1 => vec!["XX".into()],
            2 => vec!["GT".into()],
            3 => vec!["LT".into()],
            4 => vec![
                rng.pick(&["NX", "XX", "GT", "LT", "FOO"]).into(),
                rng.pick(&["xx", "gt", "lt", "nx"]).into(),
            ],
            _ => vec![],
        }
    };
    // Distinct relative amounts, at least 1 s apart.
    let rel_secs = 1000 + (n * 7919) % 1_000_003;
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let e = Cmp::Exact;
    match rng.below(40) {
        0..=4 => {
            let v = match rng.below(4) {
                0 => rng.below(100).to_string(),
                1 => format!("-{}", rng.below(50)),
                2 => "abc".to_string(),
                _ => format!("{}", rng.below(10_000)),
            };
            (s(&["SET", &k1, &v]), e)
        }
        5 | 6 => (s(&["GET", &k1]), e),
        7 => (s(&["INCR", &k1]), e),
        8 => (s(&["APPEND", &k1, rng.pick(&["1", "x", "22"])]), e),
        9 => (s(&["DEL", &k1, &k2]), e),
        10 => (s(&["UNLINK", &k1]), e),
        11 => (s(&["EXISTS", &k1, &k2, &k1]), e),
        12 => (s(&["TYPE", &k1]), e),
        13 => (s(&["RENAME", &k1, &k2]), e),
        14 => (s(&["RENAMENX", &k1, &k2]), e),
        15 | 16 => {
            let mut v = s(&[rng.pick(&["EXPIRE", "PEXPIRE"]), &k1]);
            let amount = if v[0] == "EXPIRE" {
                rel_secs
            } else {
                rel_secs * 1000
            };
            v.push(match rng.below(10) {
                0 => "-5".to_string(),
                1 => "notanumber".to_string(),
                _ => amount.to_string(),
            });
            v.extend(flag(rng));
            (v, e)
        }
        17 | 18 => {
            let at_ms = ABS_BASE_MS + rng.below(5) as i64 * 1000 + rng.below(3) as i64;
            let mut v = if rng.below(2) == 0 {
                s(&["PEXPIREAT", &k1, &at_ms.to_string()])
            } else {
                s(&["EXPIREAT", &k1, &(at_ms / 1000).to_string()])
            };
            if rng.below(10) == 0 {
                v[2] = "1".into(); // in the past: deletes
            }
            v.extend(flag(rng));
            (v, e)
        }
        19 => (s(&[rng.pick(&["TTL", "PTTL"]), &k1]), Cmp::TtlClass),
        20 => (s(&["EXPIRETIME", &k1]), Cmp::ExpireTime { ms: false }),
        21 => (s(&["PEXPIRETIME", &k1]), Cmp::ExpireTime { ms: true }),
        22 => (s(&["PERSIST", &k1]), e),
        23 => (s(&["TOUCH", &k1, &k2]), e),
        24 => {
            let mut v = s(&["COPY", &k1, &k2]);
            match rng.below(4) {
                0 => v.push("REPLACE".into()),
                1 => v.extend(s(&["DB", rng.pick(&["0", "1", "2", "16", "x"])])),
                2 => v.extend(s(&["DB", "1", "REPLACE"])),
                _ => {}
            }
            (v, e)
        }
        25 => (s(&["MOVE", &k1, rng.pick(&["0", "1", "2", "99", "-1"])]), e),
        26 => (s(&["SELECT", rng.pick(&["0", "0", "1", "2"])]), e),
        27 => (
            s(&[
                "SWAPDB",
                rng.pick(&["0", "1", "2"]),
                rng.pick(&["0", "1", "2", "x"]),
            ]),
            e,
        ),
        28 => (s(&["DBSIZE"]), e),
        29 => (
            s(&["KEYS", rng.pick(&["*", "k*", "k[0-4]", "?1", "n*"])]),
            Cmp::Sorted,
        ),
        30 => (s(&["RANDOMKEY"]), Cmp::NullOrNot),
        31 => (s(&["DEBUG", "DIGEST"]), e),
        32 => (s(&["DEBUG", "DIGEST-VALUE", &k1, &k2, &k3]), e),
        33 => {
            if rng.below(20) == 0 {
                (s(&[rng.pick(&["FLUSHDB", "FLUSHALL"])]), e)
            } else {
                (s(&["EXISTS", &k3]), e)
            }
        }
        34 => (s(&["OBJECT", "REFCOUNT", "nokey"]), e),
        35 => (s(&["SCAN", rng.pick(&["x", "-", " 1"])]), e),
        36 => (s(&["RENAME", &k1, &k1]), e),
        37 => (s(&["COPY", &k1, &k1]), e),
        38 => (s(&["SET", &k1, "12"]), e),
        _ => (s(&["INCR", &k2]), e),
    }
}

#[test]
fn differential_against_redis() {
    let Some(redis) = common::Server::start_redis(&["--enable-debug-command", "yes"]) else {
        eprintln!("redis-server not installed: differential test skipped");
        return;
    };
    let memkv = server();
    let seed: u64 = std::env::var("MEMKV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| now_ms() as u64);
    eprintln!("differential seed {seed} (set MEMKV_SEED={seed} to replay)");
    let mut rng = Rng(seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x2545_F491)
        | 1);
    let mut m = memkv.raw();
    let mut r = redis.raw();
    let mut history: Vec<String> = Vec::new();
    let compare_scan = |m: &mut Raw, r: &mut Raw, history: &[String], step: u64| {
        let a = scan_all(m, &["COUNT", "3"]);
        let b = scan_all(r, &[]);
        assert_eq!(
            a,
            b,
            "SCAN sets differ at step {step} (seed {seed}); last commands:\n{}",
            history.join("\n")
        );
    };
    for n in 0..4000u64 {
        let (argv, how) = gen_command(&mut rng, n);
        let parts: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        let a = m.cmd(&parts);
        let b = r.cmd(&parts);
        history.push(argv.join(" "));
        if history.len() > 30 {
            history.remove(0);
        }
        if normalize(&a, &how) != normalize(&b, &how) {
            panic!(
                "first divergence at command #{n} (seed {seed}): {}\n memkv: {:?}\n redis: {:?}\nlast commands:\n{}",
                argv.join(" "),
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b),
                history.join("\n")
            );
        }
        if n % 250 == 0 {
            compare_scan(&mut m, &mut r, &history, n);
        }
    }
    compare_scan(&mut m, &mut r, &history, 4000);
    let da = m.cmd(&[b"DEBUG", b"DIGEST"]);
    assert_eq!(
        String::from_utf8_lossy(&da),
        String::from_utf8_lossy(&r.cmd(&[b"DEBUG", b"DIGEST"]))
    );
}
