//! Hash commands through the real protocol: exact replies and error texts
//! for every command's edge cases in RESP2 and RESP3 (each script also runs
//! against real Redis when it is installed, which keeps the expectations
//! honest), WRONGTYPE across types, and a seeded differential run against
//! real Redis (`MEMKV_SEED` replays a seed). Replies whose order or content
//! Redis leaves unspecified (a hashtable's order, HRANDFIELD) are compared
//! sorted or by shape; a listpack's order is insertion order in both, so
//! its replies compare exactly. The listpack/hashtable encodings, their
//! conversions, DUMP/RESTORE against Redis, rollback and AOF restart have
//! their own tests at the end.

mod common;

use common::diff::Diff;
use common::script::*;
use common::{Raw, Server};

// ---------------------------------------------------------------------------
// Script helpers (shared shape with tests/list.rs).
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Edge cases.
// ---------------------------------------------------------------------------

#[test]
fn set_get_and_friends() {
    both(&[
        ("HSET h a 1 b 2", ":2"),
        ("HSET h a 10 c 3 c 4", ":1"),
        ("HGET h a", r#""10""#),
        ("HGET h c", r#""4""#),
        ("HGET h zz", "$-1"),
        ("HGET nokey a", "$-1"),
        (
            "HSET h a",
            "-ERR wrong number of arguments for 'hset' command",
        ),
        (
            "HSET h a 1 b",
            "-ERR wrong number of arguments for 'hset' command",
        ),
        (
            "HMSET h a 1 b",
            "-ERR wrong number of arguments for 'hmset' command",
        ),
        ("HMSET h d 5 e \"\"", "+OK"),
        ("HGET h e", r#""""#),
        ("HSTRLEN h e", ":0"),
        ("HSTRLEN h a", ":2"),
        ("HSTRLEN h zz", ":0"),
        ("HSTRLEN nokey a", ":0"),
        ("HLEN h", ":5"),
        ("HLEN nokey", ":0"),
        ("HEXISTS h a", ":1"),
        ("HEXISTS h zz", ":0"),
        ("HEXISTS nokey a", ":0"),
        ("HMGET h a zz b", r#"["10", $-1, "2"]"#),
        ("HMGET nokey a b", "[$-1, $-1]"),
        ("HSETNX h a 99", ":0"),
        ("HSETNX h f 6", ":1"),
        ("HSETNX new f 6", ":1"),
        ("HGET h a", r#""10""#),
        (
            "HGETALL h",
            r#"["a", "10", "b", "2", "c", "4", "d", "5", "e", "", "f", "6"]"#,
        ),
        ("HKEYS h", r#"["a", "b", "c", "d", "e", "f"]"#),
        ("HVALS h", r#"["10", "2", "4", "5", "", "6"]"#),
        ("HGETALL nokey", "[]"),
        ("HKEYS nokey", "[]"),
        ("HVALS nokey", "[]"),
        ("TYPE h", "+hash"),
        ("@resp3", ""),
        (
            "HGETALL h",
            r#"{"a": "10", "b": "2", "c": "4", "d": "5", "e": "", "f": "6"}"#,
        ),
        ("HGETALL nokey", "{}"),
        ("HMGET nokey a", "[_]"),
        ("HGET h zz", "_"),
        ("HKEYS nokey", "[]"),
    ]);
}

#[test]
fn hdel_keeps_order_and_removes_empty_hashes() {
    both(&[
        ("HDEL nokey a", ":0"),
        ("HSET h a 1 b 2 c 3 d 4", ":4"),
        ("HDEL h b zz b", ":1"),
        ("HKEYS h", r#"["a", "c", "d"]"#),
        ("HDEL h zz", ":0"),
        ("HSET h b 5", ":1"),
        ("HGETALL h", r#"["a", "1", "c", "3", "d", "4", "b", "5"]"#),
        ("HDEL h a c d b a", ":4"),
        ("EXISTS h", ":0"),
        (
            "HDEL h",
            "-ERR wrong number of arguments for 'hdel' command",
        ),
    ]);
}

#[test]
fn hincrby() {
    both(&[
        ("HINCRBY h f 5", ":5"),
        ("HINCRBY h f -7", ":-2"),
        ("HGET h f", r#""-2""#),
        ("HINCRBY h f x", NOTINT),
        ("HINCRBY h f 1.5", NOTINT),
        ("HINCRBY h f \"\"", NOTINT),
        (
            "HSET h s abc big 9223372036854775807 small -9223372036854775808 sp \" 1\" lead 01",
            ":5",
        ),
        ("HINCRBY h s 1", "-ERR hash value is not an integer"),
        ("HINCRBY h sp 1", "-ERR hash value is not an integer"),
        ("HINCRBY h lead 1", "-ERR hash value is not an integer"),
        (
            "HINCRBY h big 1",
            "-ERR increment or decrement would overflow",
        ),
        ("HINCRBY h big 0", ":9223372036854775807"),
        (
            "HINCRBY h small -1",
            "-ERR increment or decrement would overflow",
        ),
        ("HINCRBY h small 9223372036854775807", ":-1"),
        ("HINCRBY h new 9223372036854775808", NOTINT),
        (
            "HINCRBY h new -9223372036854775808",
            ":-9223372036854775808",
        ),
        ("HGET h new", r#""-9223372036854775808""#),
        ("SET str v", "+OK"),
        ("HINCRBY str f x", NOTINT),
        ("HINCRBY str f 1", WRONGTYPE),
        ("HINCRBY nokey f x", NOTINT),
        ("EXISTS nokey", ":0"),
    ]);
}

#[test]
fn hincrbyfloat_matches_long_double() {
    both(&[
        ("HINCRBYFLOAT h f 0.1", r#""0.1""#),
        ("HINCRBYFLOAT h f 0.2", r#""0.3""#),
        ("HINCRBYFLOAT h f -0.3", r#""0""#),
        (
            "HINCRBYFLOAT h g 1e30",
            r#""1000000000000000000024696061952""#,
        ),
        ("HINCRBYFLOAT h g2 1e-30", r#""0""#),
        ("HINCRBYFLOAT h g3 3.0", r#""3""#),
        ("HINCRBYFLOAT h g4 0x10", r#""16""#),
        ("HINCRBYFLOAT h g5 -0.0", r#""0""#),
        (
            "HINCRBYFLOAT h g6 12345678901234567890.123",
            r#""12345678901234567890""#,
        ),
        (
            "HINCRBYFLOAT h g7 0.000003814697265625",
            r#""0.00000381469726562""#,
        ),
        ("HINCRBYFLOAT h g8 10.5", r#""10.5""#),
        ("HINCRBYFLOAT h g8 1.2e2", r#""130.5""#),
        ("HINCRBYFLOAT h x abc", "-ERR value is not a valid float"),
        ("HINCRBYFLOAT h x \" 1\"", "-ERR value is not a valid float"),
        ("HINCRBYFLOAT h x 1e5000", "-ERR value is not a valid float"),
        ("HINCRBYFLOAT h x nan", "-ERR value is not a valid float"),
        ("HINCRBYFLOAT h x inf", "-ERR value is NaN or Infinity"),
        (
            "HINCRBYFLOAT h x -infinity",
            "-ERR value is NaN or Infinity",
        ),
        ("HSET h s abc big 1e4932 int 42", ":3"),
        ("HINCRBYFLOAT h s 1", "-ERR hash value is not a float"),
        (
            "HINCRBYFLOAT h big 1e4932",
            "-ERR increment would produce NaN or Infinity",
        ),
        ("HINCRBYFLOAT h int 0.5", r#""42.5""#),
        ("HEXISTS h x", ":0"),
        ("SET str v", "+OK"),
        ("HINCRBYFLOAT str f x", "-ERR value is not a valid float"),
        ("HINCRBYFLOAT str f 1", WRONGTYPE),
        ("@resp3", ""),
        ("HINCRBYFLOAT h f 2.5", r#""2.5""#),
    ]);
}

#[test]
fn hscan() {
    both(&[
        ("HSCAN nokey 0", r#"["0", []]"#),
        ("HSCAN nokey x", "-ERR invalid cursor"),
        ("HSCAN nokey 0 FOO", r#"["0", []]"#),
        ("HSET h a 1 b 2 ab 3", ":3"),
        ("HSCAN h 0", r#"["0", ["a", "1", "b", "2", "ab", "3"]]"#),
        ("HSCAN h 0 MATCH a*", r#"["0", ["a", "1", "ab", "3"]]"#),
        (
            "HSCAN h 0 match * count 1",
            r#"["0", ["a", "1", "b", "2", "ab", "3"]]"#,
        ),
        (
            "HSCAN h 123 COUNT 1",
            r#"["0", ["a", "1", "b", "2", "ab", "3"]]"#,
        ),
        ("HSCAN h 0 COUNT 0", SYNTAX),
        ("HSCAN h 0 COUNT x", NOTINT),
        ("HSCAN h 0 MATCH", SYNTAX),
        ("HSCAN h 0 TYPE string", SYNTAX),
        ("HSCAN h -1", r#"["0", ["a", "1", "b", "2", "ab", "3"]]"#),
        ("HSCAN h \" 1\"", "-ERR invalid cursor"),
        ("HSCAN h 18446744073709551616", "-ERR invalid cursor"),
        ("@resp3", ""),
        ("HSCAN h 0 MATCH b", r#"["0", ["b", "2"]]"#),
    ]);
}

#[test]
fn hscan_novalues_extension() {
    // NOVALUES is Redis 7.4's; memkv accepts it (Redis 7.0 says syntax error).
    let s = Server::start(&[]);
    run_script(
        &mut s.raw(),
        "memkv",
        &[
            ("HSET h a 1 b 2", ":2"),
            ("HSCAN h 0 NOVALUES", r#"["0", ["a", "b"]]"#),
            ("HSCAN h 0 novalues MATCH b", r#"["0", ["b"]]"#),
        ],
    );
}

#[test]
fn hscan_large_hash_returns_everything_exactly_once_when_unchanged() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    let n = 1000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"big".to_vec()];
        for i in chunk {
            args.push(format!("f{i}").into_bytes());
            args.push(format!("v{i}").into_bytes());
        }
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        raw.cmd(&refs);
    }
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        calls += 1;
        let reply = raw.cmd(&[b"HSCAN", b"big", cursor.as_bytes(), b"COUNT", b"37"]);
        let (next, items) = parse_scan(&reply);
        assert!(items.len() <= 2 * 37);
        for pair in items.chunks(2) {
            assert_eq!(pair[1], format!("v{}", &pair[0][1..]));
            seen.push(pair[0].clone());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
        // Deleting already returned fields and adding new ones must not
        // make the scan miss anything present throughout.
        if calls % 3 == 0 {
            let victim = seen[seen.len() / 2].clone();
            raw.cmd(&[b"HDEL", b"big", victim.as_bytes()]);
            raw.cmd(&[b"HSET", b"big", format!("new{calls}").as_bytes(), b"x"]);
        }
    }
    assert!(calls > 1);
    let mut uniq: Vec<String> = seen
        .iter()
        .filter(|f| !f.starts_with("new"))
        .cloned()
        .collect();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), n, "every original field is returned");
}

/// Parses an HSCAN reply into (cursor, flat items).
fn parse_scan(reply: &[u8]) -> (String, Vec<String>) {
    let text = render(reply);
    // ["cursor", ["a", "b", ...]] with plain field names.
    let inner = text.trim_start_matches('[').trim_end_matches(']');
    let (cur, rest) = inner.split_once(", [").expect("scan shape");
    let items = rest
        .trim_end_matches(']')
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_matches('"').to_string())
        .collect();
    (cur.trim_matches('"').to_string(), items)
}

#[test]
fn hrandfield() {
    both(&[
        ("HRANDFIELD nokey", "$-1"),
        ("HRANDFIELD nokey 5", "[]"),
        ("HRANDFIELD nokey x", NOTINT),
        ("HRANDFIELD nokey 1 x", SYNTAX),
        ("HSET h a 1", ":1"),
        ("HRANDFIELD h", r#""a""#),
        ("HRANDFIELD h 0", "[]"),
        ("HRANDFIELD h 0 withvalues", "[]"),
        ("HRANDFIELD h 5", r#"["a"]"#),
        ("HRANDFIELD h -3", r#"["a", "a", "a"]"#),
        ("HRANDFIELD h -2 WITHVALUES", r#"["a", "1", "a", "1"]"#),
        ("HRANDFIELD h 1 WITHVALUES x", SYNTAX),
        ("HRANDFIELD h 1 x", SYNTAX),
        (
            "HRANDFIELD h -4611686018427387904 withvalues",
            "-ERR value is out of range",
        ),
        (
            "HRANDFIELD h 4611686018427387904 withvalues",
            "-ERR value is out of range",
        ),
        ("HRANDFIELD h 9223372036854775807", r#"["a"]"#),
        ("@resp3", ""),
        ("HRANDFIELD h 1 WITHVALUES", r#"[["a", "1"]]"#),
        ("HRANDFIELD h -2 WITHVALUES", r#"[["a", "1"], ["a", "1"]]"#),
        ("HRANDFIELD h 3", r#"["a"]"#),
        ("HRANDFIELD nokey", "_"),
    ]);
}

#[test]
fn hrandfield_distinct_and_bounded() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"h".to_vec()];
    for i in 0..300 {
        args.push(format!("f{i}").into_bytes());
        args.push(format!("{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    raw.cmd(&refs);
    for count in [2usize, 50, 99, 100, 101, 250, 299, 300, 301] {
        let text = render(&raw.cmd(&[b"HRANDFIELD", b"h", count.to_string().as_bytes()]));
        let mut fields: Vec<&str> = text
            .trim_matches(|c| c == '[' || c == ']')
            .split(", ")
            .collect();
        assert_eq!(fields.len(), count.min(300), "count {count}");
        fields.sort();
        fields.dedup();
        assert_eq!(fields.len(), count.min(300), "distinct for count {count}");
    }
    let text = render(&raw.cmd(&[b"HRANDFIELD", b"h", b"-1000", b"WITHVALUES"]));
    assert_eq!(text.matches(", ").count() + 1, 2000);
    // Absurd repetition counts are refused instead of building gigabytes.
    assert_eq!(
        send(&mut raw, "HRANDFIELD h -1000000000"),
        "-ERR value is out of range"
    );
}

#[test]
fn wrongtype_everywhere() {
    both(&[
        ("SET s v", "+OK"),
        ("RPUSH l a", ":1"),
        ("HSET s f v", WRONGTYPE),
        ("HSET l f v", WRONGTYPE),
        ("HMSET s f v", WRONGTYPE),
        ("HSETNX s f v", WRONGTYPE),
        ("HGET s f", WRONGTYPE),
        ("HMGET l f", WRONGTYPE),
        ("HDEL s f", WRONGTYPE),
        ("HLEN l", WRONGTYPE),
        ("HSTRLEN s f", WRONGTYPE),
        ("HEXISTS l f", WRONGTYPE),
        ("HKEYS s", WRONGTYPE),
        ("HVALS l", WRONGTYPE),
        ("HGETALL s", WRONGTYPE),
        ("HINCRBY l f 1", WRONGTYPE),
        ("HINCRBYFLOAT s f 1", WRONGTYPE),
        ("HSCAN l 0", WRONGTYPE),
        ("HSCAN l x", "-ERR invalid cursor"),
        ("HRANDFIELD s", WRONGTYPE),
        ("HRANDFIELD l 2 WITHVALUES", WRONGTYPE),
        ("GET s", r#""v""#),
        ("LRANGE l 0 -1", r#"["a"]"#),
    ]);
}

// ---------------------------------------------------------------------------
// Differential run against real Redis.
// ---------------------------------------------------------------------------

const KEYS: &[&str] = &["h0", "h1", "h2", "s0", "l0"];
const FIELDS: &[&str] = &[
    "a",
    "b",
    "c",
    "d",
    "ab",
    "1",
    "\"\"",
    "ffffffffffffffffffffffffffffff",
];
const VALUES: &[&str] = &[
    "1",
    "-2",
    "x",
    "\"\"",
    "10.5",
    "9223372036854775807",
    "-9223372036854775808",
    "0.1",
    "1e3",
    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
    "inf",
];
const INCRS: &[&str] = &[
    "1",
    "-1",
    "0",
    "100",
    "-9223372036854775808",
    "9223372036854775807",
    "x",
    "1.5",
    "\"\"",
];
const FLOATS: &[&str] = &[
    "0.1",
    "-0.25",
    "1e3",
    "3",
    "-1.5e-3",
    "0x1p4",
    "x",
    "inf",
    "1e5000",
    "1234.5678",
    ".5",
    "7.",
    "-0",
    "1e-20",
];

/// How a reply must be compared: exactly, as a sorted collection, or only
/// by shape (random content).
#[derive(Clone, Copy, PartialEq)]
enum Cmp {
    Exact,
    SortedPairs,
    Shape,
    /// Exact on a listpack (see `canon_front_coded`).
    Ordered,
}

fn gen_hash_command(r: &mut Rng) -> (String, Cmp) {
    let key = |r: &mut Rng| r.pick(KEYS).to_string();
    let field = |r: &mut Rng| r.pick(FIELDS).to_string();
    match r.below(26) {
        0..=4 => {
            let n = 1 + r.below(3);
            let mut s = format!("{} {}", r.pick(&["HSET", "HSET", "HMSET"]), key(r));
            for _ in 0..n {
                s += &format!(" {} {}", field(r), r.pick(VALUES));
            }
            if r.chance(5) {
                s += " odd";
            }
            (s, Cmp::Exact)
        }
        5 => (
            format!("HSETNX {} {} {}", key(r), field(r), r.pick(VALUES)),
            Cmp::Exact,
        ),
        6..=7 => (format!("HGET {} {}", key(r), field(r)), Cmp::Exact),
        8 => {
            let n = 1 + r.below(3);
            let fields: Vec<String> = (0..n).map(|_| field(r)).collect();
            (format!("HMGET {} {}", key(r), fields.join(" ")), Cmp::Exact)
        }
        9..=10 => {
            let n = 1 + r.below(3);
            let fields: Vec<String> = (0..n).map(|_| field(r)).collect();
            (format!("HDEL {} {}", key(r), fields.join(" ")), Cmp::Exact)
        }
        11 => (format!("HLEN {}", key(r)), Cmp::Exact),
        12 => (format!("HSTRLEN {} {}", key(r), field(r)), Cmp::Exact),
        13 => (format!("HEXISTS {} {}", key(r), field(r)), Cmp::Exact),
        // Every hash here is a listpack (short values): insertion order in
        // both servers.
        14 => (format!("HKEYS {}", key(r)), Cmp::Exact),
        15 => (format!("HVALS {}", key(r)), Cmp::Exact),
        16 => (format!("HGETALL {}", key(r)), Cmp::Exact),
        17..=18 => (
            format!("HINCRBY {} {} {}", key(r), field(r), r.pick(INCRS)),
            Cmp::Exact,
        ),
        19..=20 => (
            format!("HINCRBYFLOAT {} {} {}", key(r), field(r), r.pick(FLOATS)),
            Cmp::Exact,
        ),
        21 => {
            let mut s = format!("HSCAN {} {}", key(r), r.pick(&["0", "0", "x", "5"]));
            if r.chance(50) {
                s += &format!(" MATCH {}", r.pick(&["a*", "*", "?", "[ab]*", "zz"]));
            }
            if r.chance(50) {
                s += &format!(" COUNT {}", r.pick(&["1", "100", "0", "x"]));
            }
            (s, Cmp::Exact)
        }
        22 => {
            let s = match r.below(4) {
                0 => format!("HRANDFIELD {}", key(r)),
                1 => format!(
                    "HRANDFIELD {} {}",
                    key(r),
                    r.pick(&["0", "1", "3", "-3", "10", "x"])
                ),
                2 => format!(
                    "HRANDFIELD {} {} WITHVALUES",
                    key(r),
                    r.pick(&["0", "1", "3", "-3", "10", "x", "-4611686018427387904"])
                ),
                _ => format!("HRANDFIELD {} 2 {}", key(r), r.pick(&["WITHVALUES x", "x"])),
            };
            (s, Cmp::Shape)
        }
        23 => (format!("SET {} {}", key(r), r.pick(VALUES)), Cmp::Exact),
        24 => (format!("DEL {}", key(r)), Cmp::Exact),
        _ => (
            format!("{} {}", r.pick(&["TYPE", "RPUSH", "EXISTS"]), key(r))
                + if r.chance(50) { " x" } else { "" },
            Cmp::Exact,
        ),
    }
}

/// Normalizes a rendered reply for comparison under `cmp`.
fn normalize(text: &str, cmp: Cmp) -> String {
    if text.starts_with('-') || cmp == Cmp::Exact {
        return text.to_string();
    }
    let is_agg = text.starts_with('[') || text.starts_with('{');
    match cmp {
        Cmp::Exact => text.to_string(),
        Cmp::SortedPairs if text.starts_with('{') => {
            let inner = &text[1..text.len() - 1];
            let mut v = items(&format!("[{inner}]"));
            v.sort();
            format!("map{v:?}")
        }
        Cmp::SortedPairs if text.starts_with('[') => {
            let v = items(text);
            let mut pairs: Vec<String> = v.chunks(2).map(|p| p.join(" => ")).collect();
            pairs.sort();
            format!("pairs{pairs:?}")
        }
        Cmp::Shape if is_agg => {
            let v = items(text);
            let inner: Vec<String> = v
                .iter()
                .map(|i| {
                    if i.starts_with('[') {
                        format!("pair{}", items(i).len())
                    } else {
                        "item".into()
                    }
                })
                .collect();
            format!("shape {} {:?}", v.len(), inner)
        }
        Cmp::Shape if text.starts_with('"') => "some bulk".into(),
        _ => text.to_string(),
    }
}

#[test]
fn differential_against_redis() {
    let Some(mut d) = Diff::start("hash", &[]) else {
        return;
    };
    d.run(5000, gen_hash_command, |_, &cmp, _, reply| {
        normalize(&reply, cmp)
    });
    for k in KEYS {
        let line = format!("HGETALL {k}");
        assert_eq!(
            normalize(&send(&mut d.ours, &line), Cmp::SortedPairs),
            normalize(&send(&mut d.redis, &line), Cmp::SortedPairs),
            "seed {}: final {line}",
            d.seed
        );
        d.same(&format!("TYPE {k}"));
    }
}

/// Fields and values for hash-table hashes: lengths on both sides of the
/// 21 bytes a table slot holds inline (field + value), so updates move
/// entries between the slot and their own allocation.
const TABLE_FIELDS: &[&str] = &["a", "f1", "field-0001", "ffffffffffffffffffff", "\"\""];
const TABLE_VALUES: &[&str] = &[
    "1",
    "\"\"",
    "123456789",
    "1234567890123456789",
    "vvvvvvvvvvvvvvvvvvvv",
    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
    "9223372036854775800",
    "-9223372036854775800",
    "0.5",
];

/// Commands on hash-table hashes only (`hash-max-listpack-entries 0`);
/// a table's order is unspecified, so whole-hash replies compare sorted.
fn gen_table_command(r: &mut Rng) -> (String, Cmp) {
    let key = r.pick(&["h0", "h1"]).to_string();
    let field = |r: &mut Rng| r.pick(TABLE_FIELDS).to_string();
    match r.below(14) {
        0..=3 => {
            let mut s = format!("HSET {key}");
            for _ in 0..1 + r.below(3) {
                s += &format!(" {} {}", field(r), r.pick(TABLE_VALUES));
            }
            (s, Cmp::Exact)
        }
        4..=5 => (
            format!(
                "HINCRBY {key} {} {}",
                field(r),
                r.pick(&["1", "-1", "1000000000", "-8", "x"])
            ),
            Cmp::Exact,
        ),
        6 => (
            format!(
                "HINCRBYFLOAT {key} {} {}",
                field(r),
                r.pick(&["0.1", "1e10", "-3", "1e-7"])
            ),
            Cmp::Exact,
        ),
        7 => (format!("HDEL {key} {} {}", field(r), field(r)), Cmp::Exact),
        8 => (format!("HGET {key} {}", field(r)), Cmp::Exact),
        9 => (format!("HMGET {key} {} {}", field(r), field(r)), Cmp::Exact),
        10 => (format!("HSTRLEN {key} {}", field(r)), Cmp::Exact),
        11 => (
            format!("HSETNX {key} {} {}", field(r), r.pick(TABLE_VALUES)),
            Cmp::Exact,
        ),
        12 => (format!("HGETALL {key}"), Cmp::SortedPairs),
        _ => (
            format!("{} {key}", r.pick(&["HLEN", "OBJECT ENCODING", "EXISTS"])),
            Cmp::Exact,
        ),
    }
}

#[test]
fn differential_on_hashtables() {
    let Some(mut d) = Diff::start(
        "hashtable",
        &[
            "--hash-max-listpack-entries",
            "0",
            "--enable-debug-command",
            "yes",
        ],
    ) else {
        return;
    };
    d.run(3000, gen_table_command, |_, &cmp, _, reply| {
        normalize(&reply, cmp)
    });
    for k in ["h0", "h1"] {
        let line = format!("HGETALL {k}");
        assert_eq!(
            normalize(&send(&mut d.ours, &line), Cmp::SortedPairs),
            normalize(&send(&mut d.redis, &line), Cmp::SortedPairs),
            "seed {}: final {line}",
            d.seed
        );
    }
    d.same_digest();
}

/// Fields and values that share prefixes with each other in every way the
/// pack's front coding cares about (store::hash): none, one byte, the whole
/// of a shorter one, a long common run; values at and past the 64-byte
/// listpack limit, integers that HINCRBY changes in their last digits.
const FC_FIELDS: &[&str] = &[
    "user:",
    "user:name",
    "user:name2",
    "user:nam",
    "user:email",
    "u",
    "\"\"",
    "created_at",
    "created_on",
    "updated_at",
    "field:0",
    "field:1",
    "field:10",
    "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp:1",
    "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp:2",
];
const FC_VALUES: &[&str] = &[
    "1700000000",
    "1700000001",
    "17",
    "1",
    "\"\"",
    "value:12:0",
    "value:12:1",
    "value:13",
    "x",
    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
];

/// Writes and reads on listpack hashes of prefix-sharing fields and values
/// (anchors updated, deleted first, middle and last entries, conversion by
/// a 65-byte value): every reply, the listpack order, DUMP's bytes and the
/// final digest as Redis's.
fn gen_front_coded(r: &mut Rng, fields: &[&str], values: &[&str], too_long: &str) -> (String, Cmp) {
    let key = r.pick(&["h0", "h1", "h2"]).to_string();
    let f = |r: &mut Rng| r.pick(fields).to_string();
    match r.below(20) {
        0..=5 => {
            let mut s = format!("HSET {key}");
            for _ in 0..1 + r.below(3) {
                // Rarely: a value that converts the hash.
                let v = if r.chance(2) {
                    too_long
                } else {
                    r.pick(values)
                };
                s += &format!(" {} {v}", f(r));
            }
            (s, Cmp::Exact)
        }
        6..=7 => (format!("HDEL {key} {} {}", f(r), f(r)), Cmp::Exact),
        8 => (
            format!(
                "HINCRBY {key} {} {}",
                f(r),
                r.pick(&["1", "-1", "9", "100000"])
            ),
            Cmp::Exact,
        ),
        9 => (
            format!("HSETNX {key} {} {}", f(r), r.pick(values)),
            Cmp::Exact,
        ),
        10 => (format!("HGET {key} {}", f(r)), Cmp::Exact),
        11 => (
            format!("HMGET {key} {} {} {}", f(r), f(r), f(r)),
            Cmp::Exact,
        ),
        12 => (format!("HSTRLEN {key} {}", f(r)), Cmp::Exact),
        13 => (format!("HEXISTS {key} {}", f(r)), Cmp::Exact),
        14 => (format!("HGETALL {key}"), Cmp::Ordered),
        15 => (format!("HKEYS {key}"), Cmp::Ordered),
        16 => (
            format!(
                "HSCAN {key} 0 MATCH {}",
                r.pick(&["*", "user:*", "*_at", "?"])
            ),
            Cmp::Ordered,
        ),
        17 => (format!("DUMP {key}"), Cmp::Ordered),
        18 => (format!("HRANDFIELD {key} -5 WITHVALUES"), Cmp::Shape),
        _ if r.chance(40) => (format!("DEL {key}"), Cmp::Exact),
        _ => (format!("OBJECT ENCODING {key}"), Cmp::Exact),
    }
}

/// A reply tagged `Ordered` compares exactly while the key is a listpack
/// (insertion order on both sides), and not at all once it is a table
/// (OBJECT ENCODING is compared on its own); counts the listpack ones.
fn canon_front_coded(
    packed: &mut usize,
) -> impl FnMut(&str, &Cmp, &mut Raw, String) -> String + '_ {
    |line, cmp, c, reply| {
        if *cmp != Cmp::Ordered {
            return normalize(&reply, *cmp);
        }
        let key = line.split(' ').nth(1).unwrap_or_default();
        if send(c, &format!("OBJECT ENCODING {key}")) == "\"hashtable\"" {
            return "a table".into();
        }
        *packed += 1;
        reply
    }
}

#[test]
fn front_coded_packs_match_redis() {
    let Some(mut d) = Diff::start("hash front coding", common::DEBUG) else {
        return;
    };
    let too_long = "v".repeat(65);
    let mut packed = 0;
    d.run(
        4000,
        |r| gen_front_coded(r, FC_FIELDS, FC_VALUES, &too_long),
        canon_front_coded(&mut packed),
    );
    d.same_digest();
    // (Both sides: twice per compared listpack reply.)
    assert!(packed > 400, "{packed} listpack replies compared");
}

/// Entries up to 400 bytes stay packed; DEBUG on (for the digest).
const LONG_ENTRIES: &[&str] = &[
    "--hash-max-listpack-value",
    "400",
    "--enable-debug-command",
    "yes",
];

/// The same with `hash-max-listpack-value 400`: shared prefixes longer than
/// the 255 bytes an entry records, rests past the 125 bytes of a short
/// coded entry, entries of 128 bytes and more.
#[test]
fn front_coded_long_entries_match_redis() {
    let Some(mut d) = Diff::start("hash front coding, long", LONG_ENTRIES) else {
        return;
    };
    let p = "q".repeat(300);
    let too_long = "w".repeat(401);
    let mut packed = 0;
    let fields: Vec<String> = ["a", "b", "ab"]
        .iter()
        .map(|s| format!("{p}{s}"))
        .chain(["q", "qq", "a"].iter().map(|s| s.to_string()))
        .collect();
    let values: Vec<String> = ["", "1", "12", "2"]
        .iter()
        .map(|s| format!("{}{s}", "w".repeat(200)))
        .chain(["w".repeat(126), "w".repeat(127), "1".into()])
        // After a 10-byte prefix, 125 / 126 / 150 bytes more.
        .chain([125, 126, 150].map(|n| format!("{}{}", "w".repeat(10), "x".repeat(n))))
        .collect();
    let fields: Vec<&str> = fields.iter().map(|s| s.as_str()).collect();
    let values: Vec<&str> = values.iter().map(|s| s.as_str()).collect();
    d.run(
        3000,
        |r| gen_front_coded(r, &fields, &values, &too_long),
        canon_front_coded(&mut packed),
    );
    assert!(packed > 300, "{packed} listpack replies compared");
    d.same_digest();
}

/// The first bytes that mean something in a hash pack (string lengths,
/// front-coded entries, the long-string mark), as data.
const MARKERS: [u8; 6] = [0x00, 0x7f, 0x80, 0xfd, 0xfe, 0xff];

/// Binary stems made of marker bytes: as an entry's first byte, inside the
/// prefixes entries share, up to rests past 125 bytes and entries of 128
/// bytes and more (under `hash-max-listpack-value 400`).
fn marker_stems() -> Vec<Vec<u8>> {
    let cycle =
        |n: usize, from: usize| -> Vec<u8> { (0..n).map(|i| MARKERS[(i + from) % 6]).collect() };
    vec![
        vec![],
        vec![0xff],
        vec![0x80, 0x80],
        vec![0xfe, 0xfd, 0x00],
        vec![0x00, 0x00, 0x00, 0x7f],
        b"12".to_vec(),
        cycle(40, 0),
        cycle(40, 3),
        cycle(140, 2),
        [cycle(260, 1), vec![0xff; 10]].concat(),
    ]
}

/// A stem and up to two marker bytes after it (at most 10 x 43 distinct
/// strings: a key stays below 512 fields, so a listpack on both sides).
fn marker_string(r: &mut Rng, stems: &[Vec<u8>]) -> Vec<u8> {
    let mut s = stems[r.below(stems.len())].clone();
    for _ in 0..r.below(3) {
        s.push(MARKERS[r.below(MARKERS.len())]);
    }
    s
}

/// Sends `argv` to memkv and Redis and asserts the same reply bytes.
fn same_bytes(d: &mut Diff, argv: &[&[u8]]) -> Vec<u8> {
    let got = d.ours.cmd(argv);
    let want = d.redis.cmd(argv);
    assert_eq!(got, want, "seed {}: {:?}", d.seed, argv);
    got
}

/// Front coding with binary fields and values whose bytes are the packs'
/// own markers: every reply (HGETALL and DUMP included: all keys stay
/// listpacks) is byte-identical to Redis's, and so are the hashes RESTOREd
/// from Redis's DUMPs.
#[test]
fn front_coded_binary_entries_match_redis() {
    let Some(mut d) = Diff::start("hash front coding, binary", LONG_ENTRIES) else {
        return;
    };
    let stems = marker_stems();
    // Fixed: each marker first, then shared prefixes ending in each.
    for (i, &m) in MARKERS.iter().enumerate() {
        let f = [vec![m], stems[6].clone(), vec![m]].concat();
        let v = [stems[8].clone(), vec![m; i + 1]].concat();
        same_bytes(&mut d, &[b"HSET", b"fixed", &[m], &[m, m]]);
        same_bytes(&mut d, &[b"HSET", b"fixed", &f, &v]);
    }
    same_bytes(&mut d, &[b"HDEL", b"fixed", &[0x00]]);
    same_bytes(&mut d, &[b"HSET", b"fixed", &[0x7f], &stems[9]]);
    for cmd in [&b"HGETALL"[..], b"DUMP", b"OBJECT"] {
        let argv: Vec<&[u8]> = if cmd == b"OBJECT" {
            vec![cmd, b"ENCODING", b"fixed"]
        } else {
            vec![cmd, b"fixed"]
        };
        same_bytes(&mut d, &argv);
    }
    let keys: [&[u8]; 3] = [b"h0", b"h1", b"h2"];
    d.run_argv(3000, |r| {
        let key = keys[r.below(3)].to_vec();
        let pick = r.below(17);
        let mut f = || marker_string(r, &stems);
        let (c, rest): (&[u8], Vec<Vec<u8>>) = match pick {
            0..=5 => (b"HSET", vec![f(), f(), f(), f()]),
            6..=7 => (b"HDEL", vec![f(), f()]),
            8 => (b"HSETNX", vec![f(), f()]),
            9 => (b"HGET", vec![f()]),
            10 => (b"HMGET", vec![f(), f(), f()]),
            11 => (b"HSTRLEN", vec![f()]),
            12 => (b"HINCRBY", vec![f(), b"3".to_vec()]),
            13 => (b"HGETALL", vec![]),
            14 => (b"DUMP", vec![]),
            15 => (
                b"HSCAN",
                vec![b"0".to_vec(), b"COUNT".to_vec(), b"5".to_vec()],
            ),
            _ => (b"HVALS", vec![]),
        };
        [vec![c.to_vec(), key], rest].concat()
    });
    // Every key is a listpack; RESTOREd from Redis's DUMP, it reads back
    // the same (the pack rebuilt whole by `from_pairs`).
    for key in [&b"fixed"[..], b"h0", b"h1", b"h2"] {
        let enc = same_bytes(&mut d, &[b"OBJECT", b"ENCODING", key]);
        assert!(
            enc == b"$8\r\nlistpack\r\n" || enc.starts_with(b"$-1"),
            "{enc:?}"
        );
        let dump = d.redis.cmd(&[b"DUMP", key]);
        if dump.starts_with(b"$-1") {
            continue;
        }
        let blob = bulk(&dump);
        let copy = [&b"r:"[..], key].concat();
        same_bytes(&mut d, &[b"RESTORE", &copy, b"0", &blob]);
        for c in [&b"HGETALL"[..], b"DUMP"] {
            let ours = same_bytes(&mut d, &[c, &copy]);
            assert_eq!(ours, same_bytes(&mut d, &[c, key]));
        }
    }
    d.same_digest();
}

// ---------------------------------------------------------------------------
// Encodings: listpack and hashtable, as Redis 7.0 converts them.
// ---------------------------------------------------------------------------

/// Runs `cmds` (whitespace-split lines) through the differential driver.
fn diff_lines(resp3: bool, cmds: &[String]) -> Vec<String> {
    let owned: Vec<Vec<String>> = cmds
        .iter()
        .map(|l| {
            split(l)
                .into_iter()
                .map(|a| String::from_utf8(a).expect("utf-8"))
                .collect()
        })
        .collect();
    let argv: Vec<Vec<&str>> = owned
        .iter()
        .map(|v| v.iter().map(|a| a.as_str()).collect())
        .collect();
    let refs: Vec<&[&str]> = argv.iter().map(|v| v.as_slice()).collect();
    differential(resp3, &refs)
}

/// Conversions at both thresholds (set through CONFIG SET, under the
/// listpack and the ziplist names), never back, and every command on a
/// listpack compared exactly with Redis: a listpack keeps insertion order,
/// so HKEYS/HVALS/HGETALL/HSCAN/HRANDFIELD-with-a-big-count replies are
/// byte-identical.
#[test]
fn encodings_convert_at_the_thresholds_like_redis() {
    let l8 = "x".repeat(8);
    let l9 = "y".repeat(9);
    let mut cmds: Vec<String> = [
        "CONFIG SET hash-max-listpack-entries 4",
        "CONFIG SET hash-max-ziplist-value 8",
        "CONFIG GET hash-max-ziplist-entries",
        "CONFIG GET hash-max-listpack-value",
        // Entries.
        "HSET h a 1 b 2 c 3",
        "OBJECT ENCODING h",
        "HSET h d 4",
        "OBJECT ENCODING h",
        "HGETALL h",
        "HSET h e 5",
        "OBJECT ENCODING h",
        "HDEL h a b c d",
        "OBJECT ENCODING h",
        "HGETALL h",
        // One HSET with more pairs than the limit.
        "HSET m a 1 b 2 c 3 d 4 e 5",
        "OBJECT ENCODING m",
        // Counting a repeated field once.
        "HMSET r a 1 a 2 a 3 b 1 c 1 d 1",
        "OBJECT ENCODING r",
        "HSET r d 5",
        "OBJECT ENCODING r",
        "HGETALL r",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cmds.extend([
        // Value and field length.
        format!("HSET v a {l8}"),
        "OBJECT ENCODING v".into(),
        format!("HSET v b {l9}"),
        "OBJECT ENCODING v".into(),
        format!("HSET w {l9} x"),
        "OBJECT ENCODING w".into(),
        format!("HSET w2 a 1 b {l9} c 3"),
        "OBJECT ENCODING w2".into(),
        // HSETNX converts only when it sets.
        "HSETNX n a 1".into(),
        format!("HSETNX n a {l9}"),
        "OBJECT ENCODING n".into(),
        format!("HSETNX n b {l9}"),
        "OBJECT ENCODING n".into(),
        // Increments whose result outgrows the value limit.
        "HINCRBY i a 99999999".into(),
        "OBJECT ENCODING i".into(),
        "HINCRBY i a 1".into(),
        "OBJECT ENCODING i".into(),
        "HINCRBYFLOAT f a 0.5".into(),
        "OBJECT ENCODING f".into(),
        "HINCRBYFLOAT f a 0.123456789".into(),
        "OBJECT ENCODING f".into(),
        // No listpack at all.
        "CONFIG SET hash-max-listpack-entries 0".into(),
        "HSET z a 1".into(),
        "OBJECT ENCODING z".into(),
        "CONFIG SET hash-max-ziplist-entries 128".into(),
        "CONFIG SET hash-max-listpack-value 64".into(),
        // Lowering the limits converts nothing that exists.
        "HSET keep a 1 b 2".into(),
        "CONFIG SET hash-max-listpack-entries 1".into(),
        "OBJECT ENCODING keep".into(),
        "HSET keep a 3".into(),
        "OBJECT ENCODING keep".into(),
        "HSET keep c 3".into(),
        "OBJECT ENCODING keep".into(),
        "CONFIG SET hash-max-listpack-entries 512".into(),
    ]);
    diff_lines(false, &cmds);
}

/// Every hash command on a listpack, replies compared exactly (both
/// protocols): integer-looking values, empty strings, updates in place,
/// deletions from the middle, HSCAN whatever the cursor and COUNT.
#[test]
fn every_command_on_a_listpack_matches_redis_exactly() {
    let cmds: Vec<String> = [
        "HSET p a 1 b -2 c 9223372036854775807 d 01 e \"\" f 3.5 g hello",
        "HSET p b 20 h -9223372036854775808",
        "HSETNX p a 5",
        "HSETNX p i 5",
        "HMSET p j x k y",
        "HDEL p c zz e",
        "OBJECT ENCODING p",
        "HGETALL p",
        "HKEYS p",
        "HVALS p",
        "HLEN p",
        "HGET p a",
        "HGET p h",
        "HMGET p a zz d g",
        "HSTRLEN p h",
        "HSTRLEN p d",
        "HEXISTS p g",
        "HEXISTS p c",
        "HINCRBY p a 41",
        "HINCRBY p g 1",
        "HINCRBYFLOAT p f 1.25",
        "HINCRBY p new 7",
        "HINCRBYFLOAT p newf 2.5",
        "HGETALL p",
        "HSCAN p 0",
        "HSCAN p 0 COUNT 1",
        "HSCAN p 17 COUNT 2",
        "HSCAN p 0 MATCH [ab]* COUNT 1",
        "HRANDFIELD p 100",
        "HRANDFIELD p 100 WITHVALUES",
        "HRANDFIELD p 0",
        "HDEL p a b d f g h i j k new newf",
        "EXISTS p",
        "HSET q only 1",
        "HRANDFIELD q",
        "HRANDFIELD q 1 WITHVALUES",
        "HRANDFIELD q -3 WITHVALUES",
        "DEBUG DIGEST-VALUE q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    diff_lines(false, &cmds);
    diff_lines(true, &cmds);
}

/// HRANDFIELD with 0 < count < size on a listpack gives distinct fields in
/// the listpack's order (Redis's lpRandomPairsUnique), and over many calls
/// every field comes up.
#[test]
fn hrandfield_on_a_listpack_keeps_the_listpack_order() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let fields: Vec<String> = (0..20).map(|i| format!("f{i:02}")).collect();
    let mut line = "HSET h".to_string();
    for f in &fields {
        line += &format!(" {f} v");
    }
    send(&mut r, &line);
    assert_eq!(send(&mut r, "OBJECT ENCODING h"), r#""listpack""#);
    let mut seen = std::collections::HashSet::new();
    for count in [1usize, 2, 5, 7, 13, 19] {
        for _ in 0..20 {
            let got = items(&send(&mut r, &format!("HRANDFIELD h {count}")));
            assert_eq!(got.len(), count);
            let mut sorted = got.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted, got, "distinct and in listpack order");
            seen.extend(got);
        }
    }
    assert_eq!(seen.len(), fields.len());
}

/// The bulk payload of a RESP bulk-string reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    let nl = reply.iter().position(|&b| b == b'\n').expect("header");
    let n: usize = std::str::from_utf8(&reply[1..nl - 1])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("bulk length");
    reply[nl + 1..nl + 1 + n].to_vec()
}

/// DUMP of a listpack hash is byte-identical with Redis 7.0.15's for the
/// same commands: every listpack integer and string width, LZF-compressed
/// blobs, updates and deletions in the middle.
#[test]
fn dump_of_a_listpack_is_byte_identical_with_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let ours = Server::start(&[]);
    let (mut m, mut r) = (ours.raw(), redis.raw());
    let big = "z".repeat(5000);
    let mid = "m".repeat(300);
    let setups: Vec<Vec<String>> = vec![
        vec!["HSET a f v".into()],
        vec![
            "HSET ints a 0 b 127 c 128 d -1 e -4096 f 4095 g 4096 h -32768 i 32767 j 8388607 \
             k -8388608 l 2147483647 m -2147483648 n 9223372036854775807 o -9223372036854775808 \
             p 01 q -0 r +1 s 1e3 t 9223372036854775808"
                .into(),
        ],
        vec![format!(
            "HSET s e \"\" one x s63 {} s64 {}",
            "a".repeat(63),
            "b".repeat(64)
        )],
        vec![format!(
            "HSET c aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb cf {}",
            "c".repeat(40)
        )],
        vec![
            "HSET u a 1 b 2 c 3 d 4".into(),
            "HDEL u b".into(),
            "HSET u a 100000 c three".into(),
            "HINCRBY u d 5".into(),
            "HINCRBYFLOAT u e 1.5".into(),
        ],
        vec![
            "CONFIG SET hash-max-listpack-value 6000".into(),
            format!("HSET long m {mid} b {big} x 1"),
            "CONFIG SET hash-max-listpack-value 64".into(),
        ],
        vec![
            "CONFIG SET rdbcompression no".into(),
            "HSET plain k aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
        ],
    ];
    for cmds in &setups {
        for c in cmds {
            let got = send(&mut m, c);
            assert!(!got.starts_with('-'), "{c}: {got}");
            assert_eq!(got, send(&mut r, c), "{c}");
        }
        let key = cmds
            .iter()
            .rev()
            .find(|c| c.starts_with('H'))
            .and_then(|c| c.split_whitespace().nth(1))
            .expect("a key");
        let args: [&[u8]; 2] = [b"DUMP", key.as_bytes()];
        let (dm, dr) = (m.cmd(&args), r.cmd(&args));
        assert_eq!(render(&dm), render(&dr), "DUMP {key} differs from Redis's");
        assert_eq!(
            send(&mut m, &format!("OBJECT ENCODING {key}")),
            r#""listpack""#,
            "{key}"
        );
    }
}

/// RESTORE of Redis's own DUMP payloads (listpack, hashtable, a listpack
/// holding values longer than the limit) under several limits: the same
/// encoding and contents as Redis gives them; and memkv's DUMP of a
/// hashtable restores into Redis.
#[test]
fn restore_of_redis_dumps_converts_like_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let ours = Server::start(&[]);
    let (mut m, mut r) = (ours.raw(), redis.raw());
    let mut sources: Vec<(&str, Vec<u8>)> = Vec::new();
    send(&mut r, "HSET small a 1 b 2 c 3");
    let mut line = "HSET table".to_string();
    for i in 0..600 {
        line += &format!(" field-{i} value-{i}");
    }
    send(&mut r, &line);
    send(&mut r, "CONFIG SET hash-max-listpack-value 200");
    send(&mut r, &format!("HSET longval a {} b 2", "x".repeat(100)));
    send(&mut r, "CONFIG SET hash-max-listpack-value 64");
    for k in ["small", "table", "longval"] {
        sources.push((k, bulk(&r.cmd(&[b"DUMP", k.as_bytes()]))));
    }
    let configs: [(&str, &str); 3] = [("512", "64"), ("2", "64"), ("512", "10")];
    for (entries, value) in configs {
        for c in [&mut m, &mut r] {
            send(
                c,
                &format!("CONFIG SET hash-max-listpack-entries {entries}"),
            );
            send(c, &format!("CONFIG SET hash-max-listpack-value {value}"));
        }
        for (k, payload) in &sources {
            let dst = format!("{k}-{entries}-{value}");
            let args: [&[u8]; 5] = [b"RESTORE", dst.as_bytes(), b"0", payload, b"REPLACE"];
            assert_eq!(render(&m.cmd(&args)), "+OK");
            assert_eq!(render(&r.cmd(&args)), "+OK");
            let enc = format!("OBJECT ENCODING {dst}");
            assert_eq!(send(&mut m, &enc), send(&mut r, &enc), "{dst}");
            let all = format!("HGETALL {dst}");
            let (mut a, mut b) = (items(&send(&mut m, &all)), items(&send(&mut r, &all)));
            if send(&mut m, &enc).contains("hashtable") {
                a.sort();
                b.sort();
            }
            assert_eq!(a, b, "{dst}");
        }
    }
    // memkv's hashtable DUMP restores into Redis with the same contents.
    let payload = bulk(&m.cmd(&[b"DUMP", b"table-2-64"]));
    let args: [&[u8]; 4] = [b"RESTORE", b"back", b"0", &payload];
    assert_eq!(render(&r.cmd(&args)), "+OK");
    let (mut a, mut b) = (
        items(&send(&mut m, "HGETALL table-2-64")),
        items(&send(&mut r, "HGETALL back")),
    );
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

/// A failed transaction leaves listpack and hashtable hashes exactly as
/// they were: contents, order and encoding (a conversion inside the
/// transaction is undone too).
#[test]
fn rollback_restores_both_encodings_exactly() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut line = "HSET t".to_string();
    for i in 0..600 {
        line += &format!(" f{i} v{i}");
    }
    send(&mut r, &line);
    send(&mut r, "HDEL t f3 f77");
    send(&mut r, "HSET p a 1 b 2 c 3 d 4");
    send(&mut r, "SET s x");
    let state = |r: &mut Raw| {
        [
            send(r, "HGETALL p"),
            send(r, "OBJECT ENCODING p"),
            send(r, "HGETALL t"),
            send(r, "OBJECT ENCODING t"),
            send(r, "DEBUG DIGEST"),
        ]
    };
    let before = state(&mut r);
    let long = "L".repeat(100);
    let cmds = [
        "MULTI".to_string(),
        "HSET p e 5 a 10".into(),
        "HDEL p b".into(),
        format!("HSET p big {long}"),
        "HDEL p c".into(),
        "HSET t f5 changed f9000 new".into(),
        "HDEL t f0 f1 f599 nofield".into(),
        "HINCRBY t f10 1".into(),
        "HSETNX t f20000 x".into(),
        "HINCRBY s x 1".into(),
        "EXEC".into(),
    ];
    let mut last = String::new();
    for c in &cmds {
        last = send(&mut r, c);
    }
    assert!(last.starts_with("-EXECABORT"), "{last}");
    assert_eq!(state(&mut r), before);
}

/// Listpack and hashtable hashes survive an AOF restart (with a rewrite
/// in between) and a DEBUG RELOAD with their contents, order and encoding.
#[test]
fn hashes_survive_aof_restart_and_reload() {
    let dir = common::temp_dir("hashpack-aof");
    let args = ["--appendonly", "yes", "--enable-debug-command", "yes"];
    let state = |r: &mut Raw| {
        let mut out = Vec::new();
        for k in ["p", "t", "lv"] {
            out.push(send(r, &format!("OBJECT ENCODING {k}")));
            let mut all = items(&send(r, &format!("HGETALL {k}")));
            if k == "t" {
                all.sort();
            }
            out.push(format!("{all:?}"));
        }
        out
    };
    let mut s = Server::start_in(&dir, &args);
    let mut r = s.raw();
    send(&mut r, "HSET p a 1 b 2 c 3");
    let mut line = "HSET t".to_string();
    for i in 0..700 {
        line += &format!(" f{i} v{i}");
    }
    send(&mut r, &line);
    send(&mut r, "BGREWRITEAOF");
    common::wait_rewrite_done(&mut r);
    send(&mut r, "HDEL p b");
    send(&mut r, "HSET p d 4 a 10");
    send(&mut r, "HSET lv a 1");
    send(&mut r, &format!("HSET lv b {}", "x".repeat(70)));
    let before = state(&mut r);
    assert_eq!(before[0], r#""listpack""#);
    assert_eq!(before[2], r#""hashtable""#);
    assert_eq!(before[4], r#""hashtable""#);
    // SHUTDOWN flushes and syncs the AOF; keep the directory.
    r.send(&common::encode(&[b"SHUTDOWN"]));
    let _ = s.child.wait();
    s.dir = std::path::PathBuf::new();
    drop(s);
    let s = Server::start_in(&dir, &args);
    let mut r = s.raw();
    until_loaded(&mut r);
    assert_eq!(state(&mut r), before);
    assert_eq!(send(&mut r, "DEBUG RELOAD"), "+OK");
    assert_eq!(state(&mut r), before);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
