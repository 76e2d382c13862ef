//! DEBUG OBJECT against real Redis 7.0 (differential; skipped when
//! redis-server is not installed): the same commands into both, then every
//! field of each key's DEBUG OBJECT line compared - encoding, refcount,
//! serializedlength (the RDB payload's length, LZF included) and for lists
//! the quicklist fields - except the value's address; the LRU clock and
//! idle time within the seconds the test has run. Lists of strings, of
//! integers of every listpack width, mixed, past a node, with big elements,
//! under other `list-max-listpack-size` / `list-compress-depth` /
//! `rdbcompression` settings (their DUMP payloads byte for byte too), and
//! every encoding of the other types (strings also as made by APPEND,
//! SETRANGE, SETBIT, PFADD, INCRBYFLOAT and COPY: tests/object.rs has the
//! rest).

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use common::DEBUG;
use common::diff::Diff;
use common::script::send;

/// The fields of a DEBUG OBJECT status line (`+Value at:... k:v ...`).
fn fields(line: &str) -> BTreeMap<String, String> {
    let body = line
        .strip_prefix("+Value ")
        .unwrap_or_else(|| panic!("not a DEBUG OBJECT line: {line}"));
    body.split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once(':').unwrap_or_else(|| panic!("{line}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Compares `key`'s DEBUG OBJECT on both servers: every field equal but
/// the address; the LRU fields within `slack` seconds (the servers start
/// and receive each command at slightly different times; shared integers
/// carry their server's start time).
fn same_object(d: &mut Diff, key: &str, slack: u64) -> BTreeMap<String, String> {
    let line = format!("DEBUG OBJECT {key}");
    let mut ours = fields(&send(&mut d.ours, &line));
    let mut redis = fields(&send(&mut d.redis, &line));
    for f in ["at", "lru", "lru_seconds_idle"] {
        let (a, b) = (ours.remove(f), redis.remove(f));
        assert!(a.is_some() && b.is_some(), "{key}: no {f}");
        if f != "at" {
            let (a, b): (u64, u64) = (a.unwrap().parse().unwrap(), b.unwrap().parse().unwrap());
            assert!(a.abs_diff(b) <= slack, "{key}: {f} {a} vs Redis {b}");
        }
    }
    assert_eq!(ours, redis, "{key}: memkv vs Redis");
    ours
}

/// Asserts `key`'s DUMP payloads are identical bytes.
fn same_dump(d: &mut Diff, key: &str) {
    let argv: [&[u8]; 2] = [b"DUMP", key.as_bytes()];
    let (a, b) = (d.ours.cmd(&argv), d.redis.cmd(&argv));
    assert!(a.first() == Some(&b'$') && a.len() > 5, "{key}: {a:?}");
    assert!(a == b, "{key}: DUMP differs from Redis's");
}

/// RPUSHes `items` to `key` on both, 500 at a time.
fn rpush(d: &mut Diff, key: &str, items: &[String]) {
    d.same(&format!("DEL {key}"));
    for chunk in items.chunks(500) {
        d.same(&format!("RPUSH {key} {}", chunk.join(" ")));
    }
}

fn slack(t0: Instant) -> u64 {
    t0.elapsed().as_secs() + 2
}

#[test]
fn lists_like_redis() {
    let t0 = Instant::now();
    let Some(mut d) = Diff::start("debug-object-lists", DEBUG) else {
        return;
    };
    let ints = |from: i64, to: i64, step: usize| -> Vec<String> {
        (from..to).step_by(step).map(|i| i.to_string()).collect()
    };
    let strs = |n: usize, f: &dyn Fn(usize) -> String| -> Vec<String> { (0..n).map(f).collect() };
    let mut lists: Vec<(&str, Vec<String>)> = vec![
        ("strings", vec!["a".into(), "bb".into(), "ccc".into()]),
        // Listpack integer widths: 7-bit unsigned, 13-bit, 16, 24, 32, 64.
        ("int7", ints(0, 128, 1)),
        ("int13", ints(-4096, 4096, 97)),
        ("int16", ints(-32768, 32768, 997)),
        ("int24", ints(-8_388_608, 8_388_608, 99_991)),
        ("int32", ints(-2_147_483_648, 2_147_483_647, 99_999_989)),
        (
            "int64",
            ints(
                i64::MIN,
                i64::MAX - 100_000_000_000_000_000,
                99_999_999_999_999_989,
            ),
        ),
        // Canonical integers next to strings that only look like numbers.
        (
            "mixed",
            [
                "a",
                "1",
                "-5",
                "007",
                "+1",
                "1.0",
                "-0",
                "300",
                "70000",
                "12345678901234",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain([
                "9223372036854775807".into(),
                "9223372036854775808".into(),
                "-9223372036854775808".into(),
                "x".repeat(70),
            ])
            .collect(),
        ),
        // Past one 8 KiB node: several nodes, LZF-compressed in the RDB.
        ("many_ints", ints(0, 5000, 1)),
        ("many_strings", strs(5000, &|i| format!("v{i}"))),
        (
            "long_strings",
            strs(1000, &|i| format!("{}{i}", "x".repeat(100))),
        ),
        // Elements near and past a node's size.
        ("big", strs(5, &|i| format!("{i}{}", "y".repeat(5000)))),
        ("bigger", strs(3, &|i| format!("{i}{}", "z".repeat(9000)))),
    ];
    for (k, items) in &lists {
        rpush(&mut d, k, items);
    }
    for (k, _) in &lists {
        let f = same_object(&mut d, k, slack(t0));
        assert_eq!(f["encoding"], "quicklist", "{k}");
        same_dump(&mut d, k);
    }
    let nodes = same_object(&mut d, "many_strings", slack(t0));
    assert_eq!(nodes["ql_nodes"], "5", "{nodes:?}");

    // Other fills and compress depths (a list takes them when created).
    for (fill, depth, rdbcompression) in [
        ("5", "0", "yes"),
        ("-1", "0", "yes"),
        ("-5", "0", "yes"),
        ("-7", "0", "yes"),
        ("100", "1", "yes"),
        ("40000", "0", "yes"),
        ("0", "0", "yes"),
        ("-2", "0", "no"),
        ("-2", "1", "no"),
        ("-1", "2", "no"),
        ("7", "3", "no"),
        // One element a node: `cfg_edges` makes nodes of exactly 64 and
        // 16384 bytes (where the RDB's string length prefix widens).
        ("1", "0", "no"),
    ] {
        d.same(&format!("CONFIG SET list-max-listpack-size {fill}"));
        d.same(&format!("CONFIG SET list-compress-depth {depth}"));
        d.same(&format!("CONFIG SET rdbcompression {rdbcompression}"));
        lists = vec![
            ("cfg_strings", strs(3000, &|i| format!("v{i}"))),
            ("cfg_ints", ints(0, 74_000, 37)),
            ("cfg_neg_ints", ints(-74_000, 0, 37)),
            // A node's byte limit is reached exactly where a wrong
            // weight (the sign left out of "-1"'s length) lets one more
            // element in.
            ("cfg_minus_ones", vec!["-1".to_string(); 3000]),
            (
                "cfg_edges",
                (50..60)
                    .chain(16_360..16_380)
                    .map(|n| "e".repeat(n))
                    .collect(),
            ),
            (
                "cfg_long",
                strs(200, &|i| format!("{}{i}", "x".repeat(300))),
            ),
        ];
        for (k, items) in &lists {
            rpush(&mut d, k, items);
            let f = same_object(&mut d, k, slack(t0));
            assert_eq!(
                f["ql_compressed"],
                if depth == "0" { "0" } else { "1" },
                "{k} {fill} {depth}"
            );
            same_dump(&mut d, k);
        }
    }
}

#[test]
fn other_types_like_redis() {
    let t0 = Instant::now();
    let Some(mut d) = Diff::start("debug-object-types", DEBUG) else {
        return;
    };
    let pairs = |n: usize, f: &dyn Fn(usize) -> String| -> String {
        (0..n).map(f).collect::<Vec<_>>().join(" ")
    };
    let setup = [
        // Strings: shared and unshared integers, embstr up to 44 bytes,
        // raw beyond, LZF-compressible.
        ("int_shared", "SET int_shared 12".to_string(), "int"),
        ("int_neg", "SET int_neg -5".into(), "int"),
        ("int_wide", "SET int_wide 123456".into(), "int"),
        ("int_long", "SET int_long 12345678901234".into(), "int"),
        ("embstr", "SET embstr hello".into(), "embstr"),
        (
            "embstr44",
            format!("SET embstr44 {}", "q".repeat(44)),
            "embstr",
        ),
        ("raw45", format!("SET raw45 {}", "q".repeat(45)), "raw"),
        // By history, not bytes: raw from APPEND (to the SETs below),
        // SETRANGE, SETBIT, PFADD; embstr from INCRBYFLOAT; an unshared
        // integer from COPY (refcount 1).
        ("raw_append", "APPEND raw_append 3".into(), "raw"),
        ("raw_append30", "APPEND raw_append30 xyz".into(), "raw"),
        ("raw_setrange", "SETRANGE raw_setrange 0 12".into(), "raw"),
        ("raw_setbit", "SETBIT raw_setbit 7 1".into(), "raw"),
        ("raw_hll", "PFADD raw_hll a b".into(), "raw"),
        (
            "embstr_float",
            "INCRBYFLOAT embstr_float 3".into(),
            "embstr",
        ),
        ("int_copy", "COPY int_shared int_copy".into(), "int"),
        (
            "raw_lzf",
            format!("SET raw_lzf {}", "ab".repeat(100)),
            "raw",
        ),
        ("hash_lp", "HSET hash_lp a 1 b 2 c hello".into(), "listpack"),
        (
            "hash_lp_ints",
            format!(
                "HSET hash_lp_ints {}",
                pairs(100, &|i| format!("f{i} {}", i * 1000))
            ),
            "listpack",
        ),
        (
            "hash_ht",
            format!("HSET hash_ht {}", pairs(600, &|i| format!("f{i} v{i}"))),
            "hashtable",
        ),
        (
            "hash_ht_long",
            format!("HSET hash_ht_long a {}", "x".repeat(100)),
            "hashtable",
        ),
        ("set_int", "SADD set_int 1 2 3 -70000".into(), "intset"),
        (
            "set_int_big",
            format!(
                "SADD set_int_big {}",
                pairs(100, &|i| (i as i64 * 100_000_000_000).to_string())
            ),
            "intset",
        ),
        (
            "set_int_many",
            format!("SADD set_int_many {}", pairs(600, &|i| i.to_string())),
            "hashtable",
        ),
        ("set_ht", "SADD set_ht a b c 1".into(), "hashtable"),
        (
            "zset_lp",
            "ZADD zset_lp 1 a 2 b 3.5 c -1 d".into(),
            "listpack",
        ),
        (
            "zset_lp_ints",
            format!("ZADD zset_lp_ints {}", pairs(100, &|i| format!("{i} {i}"))),
            "listpack",
        ),
        (
            "zset_sl",
            format!(
                "ZADD zset_sl {}",
                pairs(200, &|i| format!("{} m{i}", i as f64 * 0.5))
            ),
            "skiplist",
        ),
        (
            "zset_sl_long",
            format!("ZADD zset_sl_long 1 {}", "y".repeat(100)),
            "skiplist",
        ),
        ("stream", "XADD stream 1-1 a 1 b 2".into(), "stream"),
    ];
    d.same("SET raw_append 12");
    d.same(&format!("SET raw_append30 {}", "q".repeat(30)));
    for (_, line, _) in &setup {
        d.same(line);
    }
    for (k, _, encoding) in &setup {
        let f = same_object(&mut d, k, slack(t0));
        assert_eq!(f["encoding"], *encoding, "{k}");
    }
    // Byte for byte where the order is insertion order in both.
    for k in [
        "raw_lzf",
        "hash_lp",
        "hash_lp_ints",
        "set_int",
        "zset_lp",
        "zset_lp_ints",
    ] {
        same_dump(&mut d, k);
    }
}
