//! Memory limits through the real protocol: eviction per maxmemory policy
//! against a small limit (which keys go), -OOM refusals (compared with real
//! Redis), OBJECT FREQ / IDLETIME touch rules (compared with real Redis),
//! MEMORY USAGE against Redis's answers and against the memory memkv's
//! allocator really counts, MEMORY subcommand replies, INFO memory fields.

mod common;

use common::script::*;
use common::{Server, info_field};
use redis::Connection;

fn used(c: &mut Connection) -> u64 {
    info_field(c, "memory", "used_memory")
        .and_then(|v| v.parse().ok())
        .expect("used_memory")
}

fn evicted(c: &mut Connection) -> u64 {
    info_field(c, "stats", "evicted_keys")
        .and_then(|v| v.parse().ok())
        .expect("evicted_keys")
}

fn cfg(c: &mut Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(c)
        .expect("config set");
}

/// Writes `n` keys `prefix:i` with a 100-byte value (and a TTL if asked),
/// pipelined.
fn fill(c: &mut Connection, prefix: &str, n: usize, ttl: Option<u64>) {
    let value = "v".repeat(100);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut p = redis::pipe();
        for i in chunk {
            let cmd = p.cmd("SET").arg(format!("{prefix}:{i}")).arg(&value);
            if let Some(t) = ttl {
                cmd.arg("EX").arg(t);
            }
            cmd.ignore();
        }
        let _: () = p.query(c).expect("fill");
    }
}

/// How many of `prefix:0..n` still exist.
fn alive(c: &mut Connection, prefix: &str, n: usize) -> usize {
    let mut p = redis::pipe();
    for i in 0..n {
        p.cmd("EXISTS").arg(format!("{prefix}:{i}"));
    }
    let v: Vec<i64> = p.query(c).expect("exists");
    v.iter().filter(|&&x| x == 1).count()
}

/// Sets maxmemory to what is used now plus `extra` bytes.
fn limit_to_now_plus(c: &mut Connection, extra: u64) -> u64 {
    let max = used(c) + extra;
    cfg(c, "maxmemory", &max.to_string());
    max
}

/// After eviction the counted memory is back under the limit, give or take
/// what one command's reply and bookkeeping may add.
fn assert_under(c: &mut Connection, max: u64) {
    let u = used(c);
    assert!(u <= max + 64 * 1024, "used {u} > maxmemory {max}");
}

#[test]
fn allkeys_lru_keeps_recently_used_keys() {
    let s = Server::start(&["--maxmemory-policy", "allkeys-lru"]);
    let mut c = s.conn();
    // Sized so the keyspace table does not grow (a doubling is one big
    // allocation that eviction must absorb): 7,200 keys fit in 8,192.
    fill(&mut c, "cold", 4500, None);
    fill(&mut c, "hot", 200, None);
    // LRU clocks tick in seconds: make the cold keys older.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    for _ in 0..3 {
        let mut p = redis::pipe();
        for i in 0..200 {
            p.cmd("GET").arg(format!("hot:{i}")).ignore();
        }
        let _: () = p.query(&mut c).unwrap();
    }
    let max = limit_to_now_plus(&mut c, 150 * 1024);
    fill(&mut c, "new", 2500, None);
    assert!(evicted(&mut c) > 1000, "evicted {}", evicted(&mut c));
    assert_under(&mut c, max);
    assert_eq!(
        alive(&mut c, "hot", 200),
        200,
        "a recently read key was evicted"
    );
    assert!(alive(&mut c, "new", 2500) >= 2475, "new keys were evicted");
    assert!(alive(&mut c, "cold", 4500) < 4500 - 1000);
}

#[test]
fn allkeys_lfu_keeps_the_hot_set() {
    let s = Server::start(&[
        "--maxmemory-policy",
        "allkeys-lfu",
        "--lfu-log-factor",
        "0",
        "--lfu-decay-time",
        "0",
    ]);
    let mut c = s.conn();
    fill(&mut c, "hot", 100, None);
    fill(&mut c, "cold", 5000, None);
    for _ in 0..20 {
        let mut p = redis::pipe();
        for i in 0..100 {
            p.cmd("GET").arg(format!("hot:{i}")).ignore();
        }
        let _: () = p.query(&mut c).unwrap();
    }
    let f: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("hot:7")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, 25, "log factor 0: every access counts");
    let max = limit_to_now_plus(&mut c, 200 * 1024);
    fill(&mut c, "more", 5000, None);
    assert!(evicted(&mut c) > 1000);
    assert_under(&mut c, max);
    assert_eq!(
        alive(&mut c, "hot", 100),
        100,
        "a frequently used key was evicted"
    );
}

#[test]
fn volatile_policies_only_evict_keys_with_a_ttl() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let s = Server::start(&["--maxmemory-policy", policy]);
        let mut c = s.conn();
        fill(&mut c, "keep", 2000, None);
        fill(&mut c, "long", 1500, Some(100_000));
        fill(&mut c, "short", 1500, Some(1000));
        let max = limit_to_now_plus(&mut c, 100 * 1024);
        fill(&mut c, "vol", 2000, Some(50_000));
        assert!(evicted(&mut c) > 500, "{policy}");
        assert_under(&mut c, max);
        assert_eq!(
            alive(&mut c, "keep", 2000),
            2000,
            "{policy} evicted a persistent key"
        );
        if policy == "volatile-ttl" {
            // The soonest expiries go first - approximately, as in Redis:
            // the pool only sees `maxmemory-samples` keys per round, so a
            // round that sampled only long-lived keys evicts one of them.
            let long = alive(&mut c, "long", 1500);
            assert!(
                long >= 1400,
                "{policy}: only {long} of 1500 long-lived keys left"
            );
            assert!(alive(&mut c, "short", 1500) < 1000, "{policy}");
        }
        // Only persistent keys left to add: once the volatile ones are
        // gone, writes are refused.
        let mut refused = None;
        for i in 0..200_000 {
            let r: redis::RedisResult<()> = redis::cmd("SET")
                .arg(format!("p:{i}"))
                .arg("x".repeat(100))
                .query(&mut c);
            if let Err(e) = r {
                refused = Some(e.to_string());
                break;
            }
        }
        let e = refused.unwrap_or_else(|| panic!("{policy}: never refused"));
        assert!(
            e.contains("command not allowed when used memory > 'maxmemory'"),
            "{e}"
        );
        assert_eq!(alive(&mut c, "keep", 2000), 2000, "{policy}");
        let vol = alive(&mut c, "vol", 2000) + alive(&mut c, "long", 1500);
        assert_eq!(
            vol + alive(&mut c, "short", 1500),
            0,
            "{policy}: volatile keys left"
        );
        let got: Option<String> = redis::cmd("GET").arg("keep:1").query(&mut c).unwrap();
        assert!(got.is_some(), "reads still work");
    }
}

#[test]
fn allkeys_random_gets_under_the_limit() {
    let s = Server::start(&["--maxmemory-policy", "allkeys-random"]);
    let mut c = s.conn();
    fill(&mut c, "a", 3000, None);
    let max = limit_to_now_plus(&mut c, 100 * 1024);
    fill(&mut c, "b", 3000, None);
    assert!(evicted(&mut c) > 1000);
    assert_under(&mut c, max);
    // Random: both old and new keys went.
    assert!(alive(&mut c, "a", 3000) < 3000);
    assert!(alive(&mut c, "b", 3000) < 3000);
}

/// Evicted keys announce `evicted` and reach the AOF as DEL.
#[test]
fn eviction_notifies_and_propagates_del() {
    let dir = common::temp_dir("evict-aof");
    std::fs::create_dir_all(&dir).unwrap();
    let s = Server::start_in(
        &dir,
        &[
            "--maxmemory-policy",
            "allkeys-random",
            "--appendonly",
            "yes",
            "--notify-keyspace-events",
            "Ee",
        ],
    );
    let mut c = s.conn();
    let mut sub = s.conn();
    let mut ps = sub.as_pubsub();
    ps.subscribe("__keyevent@0__:evicted").unwrap();
    fill(&mut c, "a", 1500, None);
    limit_to_now_plus(&mut c, 100 * 1024);
    // One command per round trip: a pipeline's query buffer, AOF batch and
    // the subscriber's unsent events would all count against the limit.
    for i in 0..600 {
        let _: () = redis::cmd("SET")
            .arg(format!("b:{i}"))
            .arg("v".repeat(100))
            .query(&mut c)
            .unwrap();
    }
    let n = evicted(&mut c);
    assert!(n > 0);
    ps.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let msg = ps.get_message().expect("an evicted event");
    let key: String = msg.get_payload().unwrap();
    assert!(key.starts_with("a:") || key.starts_with("b:"), "{key}");
    let exists: i64 = redis::cmd("EXISTS").arg(&key).query(&mut c).unwrap();
    assert_eq!(exists, 0);
    // The DEL reached the AOF (the writer thread writes it within a poll
    // round or so).
    let del = format!("*2\r\n$3\r\nDEL\r\n${}\r\n{}\r\n", key.len(), key);
    let mut found = false;
    for _ in 0..600 {
        let aof_dir = dir.join("appendonlydir");
        found = std::fs::read_dir(&aof_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
            .any(|e| {
                std::fs::read(e.path())
                    .map(|b| String::from_utf8_lossy(&b).contains(&del))
                    .unwrap_or(false)
            });
        if found {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(found, "no DEL of {key} in the AOF");
}

/// Runs a script over two connections ("2:" lines go to the second).
fn run_two(s: &Server, who: &str, script: &[(&str, &str)]) {
    let (mut one, mut two) = (s.raw(), s.raw());
    for (line, want) in script {
        let got = match line.strip_prefix("2:") {
            Some(l) => send(&mut two, l),
            None => send(&mut one, line),
        };
        assert_eq!(got, *want, "[{who}] {line}");
    }
}

/// -OOM under noeviction, also inside MULTI and for EXEC, as Redis.
#[test]
fn oom_errors_like_redis() {
    const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.";
    let script: &[(&str, &str)] = &[
        ("SET a 1", "+OK"),
        ("2:CONFIG SET maxmemory 1", "+OK"),
        ("SET b 1", OOM),
        ("RPUSH l x", OOM),
        ("APPEND a x", OOM),
        ("INCR a", OOM),
        ("GET a", r#""1""#),
        ("EXPIRE a 100", ":1"),
        ("MULTI", "+OK"),
        ("GET a", OOM),
        ("DEL a", OOM),
        (
            "EXEC",
            "-EXECABORT Transaction discarded because of previous errors.",
        ),
        ("MULTI", "+OK"),
        ("DISCARD", "+OK"),
        ("DEL a", ":1"),
        ("2:CONFIG SET maxmemory 0", "+OK"),
        ("MULTI", "+OK"),
        ("SET d 1", "+QUEUED"),
        ("GET d", "+QUEUED"),
        ("2:CONFIG SET maxmemory 1", "+OK"),
        (
            "EXEC",
            "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.",
        ),
        ("2:CONFIG SET maxmemory 0", "+OK"),
        ("MULTI", "+OK"),
        ("GET d", "+QUEUED"),
        ("2:CONFIG SET maxmemory 1", "+OK"),
        ("EXEC", "[$-1]"),
        ("2:CONFIG SET maxmemory 0", "+OK"),
        ("SET b 1", "+OK"),
    ];
    run_two(&Server::start(&[]), "memkv", script);
    if let Some(r) = Server::start_redis(&[]) {
        run_two(&r, "redis", script);
    }
}

/// An evicted key invalidates WATCH (eviction passes the choke point), and
/// only keys with a TTL go under volatile-ttl, as in Redis.
#[test]
fn eviction_invalidates_watch_like_redis() {
    let script: &[(&str, &str)] = &[
        ("SET keep v", "+OK"),
        ("SET w v EX 1000", "+OK"),
        ("2:CONFIG SET maxmemory-policy volatile-ttl", "+OK"),
        ("WATCH w", "+OK"),
        ("2:CONFIG SET maxmemory 1", "+OK"),
        ("2:GET keep", r#""v""#),
        (
            "2:SET other v",
            "-OOM command not allowed when used memory > 'maxmemory'.",
        ),
        ("2:CONFIG SET maxmemory 0", "+OK"),
        ("EXISTS w", ":0"),
        ("MULTI", "+OK"),
        ("SET w 1", "+QUEUED"),
        ("EXEC", "*-1"),
        ("GET keep", r#""v""#),
    ];
    run_two(&Server::start(&[]), "memkv", script);
    if let Some(r) = Server::start_redis(&[]) {
        run_two(&r, "redis", script);
    }
}

/// OBJECT FREQ / IDLETIME: errors by policy, and which commands count as
/// an access (TTL, TYPE, EXISTS, OBJECT do not), as Redis.
#[test]
fn object_freq_touch_rules_like_redis() {
    let lfu_err = "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    let lru_err = "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    both(&[
        ("SET k v", "+OK"),
        ("OBJECT FREQ k", lfu_err),
        ("OBJECT FREQ missing", "$-1"),
        ("OBJECT IDLETIME missing", "$-1"),
        ("CONFIG SET maxmemory-policy allkeys-lfu", "+OK"),
        ("CONFIG SET lfu-log-factor 0", "+OK"),
        ("CONFIG SET lfu-decay-time 0", "+OK"),
        ("OBJECT IDLETIME k", lru_err),
        ("SET n v", "+OK"),
        ("OBJECT FREQ n", ":5"),
        ("GET n", r#""v""#),
        ("OBJECT FREQ n", ":6"),
        ("TTL n", ":-1"),
        ("PTTL n", ":-1"),
        ("EXPIRETIME n", ":-1"),
        ("TYPE n", "+string"),
        ("EXISTS n", ":1"),
        ("OBJECT ENCODING n", r#""embstr""#),
        ("OBJECT REFCOUNT n", ":1"),
        ("OBJECT FREQ n", ":6"),
        ("TOUCH n", ":1"),
        ("OBJECT FREQ n", ":7"),
        ("STRLEN n", ":1"),
        ("APPEND n x", ":2"),
        ("OBJECT FREQ n", ":9"),
        ("RPUSH l a", ":1"),
        ("OBJECT FREQ l", ":5"),
        ("LRANGE l 0 -1", "[\"a\"]"),
        ("LPUSH l b", ":2"),
        ("OBJECT FREQ l", ":7"),
        ("HSET h f v", ":1"),
        ("HGET h f", r#""v""#),
        ("OBJECT FREQ h", ":6"),
        // Writes to small (listpack / intset) values are accesses too.
        ("HSET h g w", ":1"),
        ("OBJECT FREQ h", ":7"),
        ("SADD s 1", ":1"),
        ("SADD s 2", ":1"),
        ("OBJECT FREQ s", ":6"),
        ("ZADD z 1 a", ":1"),
        ("ZADD z 2 b", ":1"),
        ("OBJECT FREQ z", ":6"),
        ("CONFIG SET maxmemory-policy allkeys-lru", "+OK"),
        ("OBJECT FREQ n", lfu_err),
    ]);
}

/// IDLETIME grows while only non-touching commands run, and a read
/// resets it.
#[test]
fn object_idletime_follows_touch_rules() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("t").arg("v").query(&mut c).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let idle = |c: &mut Connection, k: &str| -> i64 {
        redis::cmd("OBJECT")
            .arg("IDLETIME")
            .arg(k)
            .query(c)
            .unwrap()
    };
    for cmd in ["TTL", "TYPE", "EXISTS", "PTTL"] {
        let _: redis::Value = redis::cmd(cmd).arg("k").query(&mut c).unwrap();
    }
    assert!(
        idle(&mut c, "k") >= 2,
        "a non-touching command reset the clock"
    );
    let _: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert!(idle(&mut c, "k") <= 1, "GET did not touch");
    // CLIENT NO-TOUCH: this client's reads leave the clock alone; TOUCH
    // still touches.
    let _: () = redis::cmd("CLIENT")
        .arg("NO-TOUCH")
        .arg("ON")
        .query(&mut c)
        .unwrap();
    let _: String = redis::cmd("GET").arg("t").query(&mut c).unwrap();
    assert!(idle(&mut c, "t") >= 2, "NO-TOUCH client touched");
    let _: i64 = redis::cmd("TOUCH").arg("t").query(&mut c).unwrap();
    assert!(idle(&mut c, "t") <= 1, "TOUCH must touch");
}

/// The datasets of the MEMORY USAGE comparison: (key, commands).
fn usage_dataset() -> Vec<(&'static str, Vec<Vec<String>>)> {
    let one = |parts: &[&str]| parts.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let many = |cmd: &str, key: &str, n: usize, f: &dyn Fn(usize) -> Vec<String>| {
        (0..n)
            .map(|i| {
                let mut v = vec![cmd.to_string(), key.to_string()];
                v.extend(f(i));
                v
            })
            .collect::<Vec<_>>()
    };
    vec![
        // Short keys, where the keyspace slot is most of the cost: integer
        // strings with a 2-, 5- and 16-byte key, an embstr with a 1-byte key.
        ("i2", vec![one(&["SET", "i2", "12345"])]),
        ("s_int", vec![one(&["SET", "s_int", "12345"])]),
        (
            "int_key_16_bytes",
            vec![one(&["SET", "int_key_16_bytes", "12345"])],
        ),
        ("a", vec![one(&["SET", "a", "bar"])]),
        ("s_embstr", vec![one(&["SET", "s_embstr", "bar"])]),
        ("s_raw", vec![one(&["SET", "s_raw", &"a".repeat(300)])]),
        // Short strings Redis holds raw (OBJECT ENCODING says so on both):
        // memkv keeps them inline up to 22 bytes, exactly sized up to 32
        // after APPEND, greedy beyond, in place under SETRANGE.
        (
            "r_app",
            vec![one(&["SET", "r_app", "1"]), one(&["APPEND", "r_app", "2"])],
        ),
        ("r_bit", vec![one(&["SETBIT", "r_bit", "7", "1"])]),
        ("r_rng", vec![one(&["SETRANGE", "r_rng", "3", "abc"])]),
        (
            "r_app30",
            vec![
                one(&["SET", "r_app30", &"a".repeat(20)]),
                one(&["APPEND", "r_app30", &"b".repeat(10)]),
            ],
        ),
        (
            "r_app32",
            vec![
                one(&["SET", "r_app32", &"a".repeat(31)]),
                one(&["APPEND", "r_app32", "b"]),
            ],
        ),
        (
            "r_rng31",
            vec![
                one(&["SET", "r_rng31", &"a".repeat(31)]),
                one(&["SETRANGE", "r_rng31", "0", "b"]),
            ],
        ),
        ("r_hll", vec![one(&["PFADD", "r_hll", "a", "b", "c"])]),
        (
            "k_long_key_name_more_than_22_bytes",
            vec![one(&["SET", "k_long_key_name_more_than_22_bytes", "v"])],
        ),
        (
            "set_table",
            many("SADD", "set_table", 600, &|i| vec![format!("member-{i}")]),
        ),
        (
            "z_listpack",
            vec![one(&["ZADD", "z_listpack", "1", "a", "2", "b", "3", "c"])],
        ),
        (
            "z_skiplist",
            many("ZADD", "z_skiplist", 300, &|i| {
                vec![i.to_string(), format!("member-{i}")]
            }),
        ),
        // A hashtable hash of one field (its value is over
        // hash-max-listpack-value): Redis 248; memkv's table allocates no
        // index and one slot until a second field (store/table.rs).
        (
            "h_table_one_field",
            vec![one(&["HSET", "h_table_one_field", "f", &"v".repeat(65)])],
        ),
        (
            "h_listpack",
            vec![one(&[
                "HSET",
                "h_listpack",
                "f0",
                "v0",
                "f1",
                "v1",
                "f2",
                "v2",
                "f3",
                "v3",
                "f4",
                "v4",
                "f5",
                "v5",
                "f6",
                "v6",
                "f7",
                "v7",
                "f8",
                "v8",
                "f9",
                "v9",
            ])],
        ),
        (
            "h_listpack_300",
            many("HSET", "h_listpack_300", 300, &|i| {
                vec![format!("field-{i}"), format!("value-{i}")]
            }),
        ),
        // Hash tables (one slot per field, field and value together):
        // short pairs held in the slot, longer ones in one allocation,
        // 100-byte values, and a small table converted by one long value.
        (
            "h_table_short",
            many("HSET", "h_table_short", 600, &|i| {
                vec![format!("f{i}"), format!("v{i}")]
            }),
        ),
        (
            "h_table_36b",
            many("HSET", "h_table_36b", 600, &|i| {
                vec![format!("field-{i}"), format!("value-{i}-xxxxxxxxxxxxxxxx")]
            }),
        ),
        (
            "h_table_100b",
            many("HSET", "h_table_100b", 600, &|i| {
                vec![format!("field-{i}"), format!("{i:0100}")]
            }),
        ),
        (
            "h_table_converted",
            vec![
                one(&["HSET", "h_table_converted", "a", "1", "b", "2", "c", "3"]),
                one(&["HSET", "h_table_converted", "big", &"x".repeat(100)]),
            ],
        ),
        (
            "set_intset_big",
            many("SADD", "set_intset_big", 500, &|i| {
                vec![(i * 7).to_string()]
            }),
        ),
        // Long lists of short elements: chunks against quicklist nodes.
        (
            "l_long_10b",
            many("RPUSH", "l_long_10b", 200, &|i| {
                (0..100).map(|j| format!("v{:09}", i * 100 + j)).collect()
            }),
        ),
        (
            "l_long_30b_lpush",
            many("LPUSH", "l_long_30b_lpush", 100, &|i| {
                (0..50)
                    .map(|j| format!("element-of-a-long-list-{:06}", i * 50 + j))
                    .collect()
            }),
        ),
        // MEMORY USAGE samples the first chunks / quicklist nodes (SAMPLES
        // 5) or counts them all (SAMPLES 0): long lists of 2-3 byte
        // elements (not integers: Redis packs those tighter) and of mixed
        // lengths (0-600 bytes).
        (
            "l_long_short",
            many("RPUSH", "l_long_short", 300, &|i| {
                (0..200)
                    .map(|j| format!("e{}", (i * 200 + j) % 100))
                    .collect()
            }),
        ),
        (
            "l_long_mixed",
            many("RPUSH", "l_long_mixed", 100, &|i| {
                (0..50)
                    .map(|j| "m".repeat((i * 50 + j) * 7919 % 601))
                    .collect()
            }),
        ),
        // Lists of integers (integer entries on both sides; memkv's are
        // smaller, see `INT_LISTS`): a packed list of 0..99, a long list of
        // 5-6 digit numbers.
        (
            "l_small_ints",
            vec![{
                let mut v = vec!["RPUSH".to_string(), "l_small_ints".to_string()];
                v.extend((0..100).map(|i| i.to_string()));
                v
            }],
        ),
        (
            "l_long_5_6_digits",
            many("RPUSH", "l_long_5_6_digits", 100, &|i| {
                (0..100)
                    .map(|j| ((i * 100 + j) * 7919 % 990_000 + 10_000).to_string())
                    .collect()
            }),
        ),
    ]
}

/// Lists of integers cost memkv less than Redis (an integer entry has no
/// back-length byte and 0..63 takes one byte, where Redis's listpack spends
/// 2 bytes on 0..127 and 4-5 on 5-6 digits); measured 0.58 and 0.70 of
/// Redis's MEMORY USAGE. `memory_usage_matches_counted_memory`'s "int list"
/// shape checks that the smaller figure is what memkv really allocates.
const INT_LISTS: [&str; 2] = ["l_small_ints", "l_long_5_6_digits"];

/// A listpack hash whose fields and values share prefixes (`field-N`,
/// `value-N`) costs memkv less than Redis: its pack codes each entry against
/// the last one written whole (`store::hash`), 5 bytes for `field-123`
/// where Redis's listpack spends 11; measured 0.39 of Redis's MEMORY USAGE.
const FRONT_CODED_HASH: &str = "h_listpack_300";

fn run_cmds(c: &mut Connection, cmds: &[Vec<String>]) {
    let mut p = redis::pipe();
    for cmd in cmds {
        let mut r = redis::cmd(&cmd[0]);
        for a in &cmd[1..] {
            r.arg(a);
        }
        p.add_command(r).ignore();
    }
    let _: () = p.query(c).unwrap();
}

/// MEMORY USAGE within 20% of Redis's answer where memkv stores a value
/// the way Redis does (strings, long keys, hashtable sets, both sorted-set
/// encodings, listpack hashes, intsets, long lists of short elements).
#[test]
fn memory_usage_close_to_redis() {
    let Some(r) = Server::start_redis(&[]) else {
        return;
    };
    let s = Server::start(&[]);
    let (mut mc, mut rc) = (s.conn(), r.conn());
    for (key, cmds) in usage_dataset() {
        run_cmds(&mut mc, &cmds);
        run_cmds(&mut rc, &cmds);
        let enc = |c: &mut Connection| -> String {
            redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(key)
                .query(c)
                .unwrap()
        };
        assert_eq!(enc(&mut mc), enc(&mut rc), "{key}");
        for samples in ["5", "0"] {
            let usage = |c: &mut Connection| -> i64 {
                redis::cmd("MEMORY")
                    .arg("USAGE")
                    .arg(key)
                    .arg("SAMPLES")
                    .arg(samples)
                    .query(c)
                    .unwrap()
            };
            let (m, rd) = (usage(&mut mc), usage(&mut rc));
            let ratio = m as f64 / rd as f64;
            // An integer under a key of up to 7 bytes costs Redis 48 (its
            // dictEntry 24, robj 16 and key sds in jemalloc's 8-byte class);
            // memkv's slot is 52 (Key 24 + Value 24 + clock 4): 1.08.
            let max = 1.2;
            // A short set member costs Redis 48 (dictEntry 24, bucket 8,
            // sds 16) and memkv 24 + 5 (its inline Key slot in the table's
            // entries, a u32 index slot and a control byte, at the load
            // factor): ~0.74. memory_usage_matches_counted_memory checks
            // that this is what the allocator really counts.
            // A short string under a key of 8-16 bytes costs Redis 72 (its key's
            // sds and the embstr robj in bigger classes) and memkv 52 (key
            // and value inline in the slot): 0.72.
            let min = if ["set_table", "int_key_16_bytes", "s_embstr"].contains(&key) {
                0.65
            } else if INT_LISTS.contains(&key) {
                0.5
            } else if key == FRONT_CODED_HASH {
                0.3
            } else {
                0.8
            };
            assert!(
                (min..=max).contains(&ratio),
                "{key} SAMPLES {samples}: memkv {m} vs Redis {rd}"
            );
        }
    }
}

/// Builds the commands that create one key of a shape.
type MakeCmds = dyn Fn(&str) -> Vec<Vec<String>>;

/// MEMORY USAGE says what a key really costs: adding N keys shaped like
/// one grows the allocator's count by about N times its MEMORY USAGE (big
/// values, where the keyspace slot's amortized growth does not matter).
#[test]
fn memory_usage_matches_counted_memory() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let shapes: Vec<(&str, Box<MakeCmds>)> = vec![
        (
            "hash",
            Box::new(|k| {
                (0..300)
                    .map(|i| {
                        vec![
                            "HSET".into(),
                            k.into(),
                            format!("field-{i}"),
                            format!("value-{i}"),
                        ]
                    })
                    .collect()
            }),
        ),
        (
            "hash_table",
            Box::new(|k| {
                (0..600)
                    .map(|i| {
                        vec![
                            "HSET".into(),
                            k.into(),
                            format!("field-{i}"),
                            format!("value-{i}-xxxxxxxxxxxxxxxx"),
                        ]
                    })
                    .collect()
            }),
        ),
        (
            "set_table",
            Box::new(|k| {
                (0..600)
                    .map(|i| vec!["SADD".into(), k.into(), format!("member-{i}")])
                    .collect()
            }),
        ),
        (
            "set_table_long",
            Box::new(|k| {
                (0..300)
                    .map(|i| {
                        vec![
                            "SADD".into(),
                            k.into(),
                            format!("a-longer-set-member-{i}-past-the-inline-key"),
                        ]
                    })
                    .collect()
            }),
        ),
        (
            "list",
            Box::new(|k| {
                (0..300)
                    .map(|i| {
                        vec![
                            "RPUSH".into(),
                            k.into(),
                            format!("element-number-{i}-of-the-list"),
                        ]
                    })
                    .collect()
            }),
        ),
        (
            "int list",
            Box::new(|k| {
                (0..30)
                    .map(|i| {
                        let mut v = vec!["RPUSH".to_string(), k.to_string()];
                        v.extend((0..100).map(|j| ((i * 100 + j) * 7919 % 990_000).to_string()));
                        v
                    })
                    .collect()
            }),
        ),
        (
            "zset",
            Box::new(|k| {
                (0..300)
                    .map(|i| vec!["ZADD".into(), k.into(), i.to_string(), format!("m-{i}")])
                    .collect()
            }),
        ),
        (
            "string",
            Box::new(|k| vec![vec!["SET".into(), k.into(), "x".repeat(4000)]]),
        ),
    ];
    for (name, make) in shapes {
        let n = 40;
        run_cmds(&mut c, &make(&format!("{name}:probe")));
        let before = used(&mut c);
        for i in 0..n {
            run_cmds(&mut c, &make(&format!("{name}:{i}")));
        }
        let grown = (used(&mut c) - before) as f64 / n as f64;
        let usage: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(format!("{name}:probe"))
            .arg("SAMPLES")
            .arg("0")
            .query(&mut c)
            .unwrap();
        let ratio = usage as f64 / grown;
        assert!(
            (0.8..=1.2).contains(&ratio),
            "{name}: MEMORY USAGE {usage} vs {grown:.0} counted per key"
        );
    }
}

#[test]
fn memory_subcommands_like_redis() {
    both(&[
        ("SET k v", "+OK"),
        ("MEMORY USAGE missing", "$-1"),
        ("MEMORY USAGE k SAMPLES", SYNTAX),
        ("MEMORY USAGE k SAMPLES -1", SYNTAX),
        ("MEMORY USAGE k SAMPLES x", NOTINT),
        ("MEMORY USAGE k FOO 1", SYNTAX),
        (
            "MEMORY USAGE",
            "-ERR wrong number of arguments for 'memory|usage' command",
        ),
        (
            "MEMORY STATS x",
            "-ERR wrong number of arguments for 'memory|stats' command",
        ),
        (
            "MEMORY NOPE",
            "-ERR unknown subcommand 'NOPE'. Try MEMORY HELP.",
        ),
        ("MEMORY PURGE", "+OK"),
        (
            "MEMORY DOCTOR",
            r#""Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n""#,
        ),
    ]);
    let s = Server::start(&[]);
    let r = Server::start_redis(&[]);
    let help = send(&mut s.raw(), "MEMORY HELP");
    assert!(help.contains("USAGE <key> [SAMPLES <count>]"), "{help}");
    if let Some(r) = r {
        assert_eq!(help, send(&mut r.raw(), "MEMORY HELP"));
        // MEMORY STATS and INFO memory: the same fields in the same order.
        for srv in [&s, &r] {
            let _: () = redis::cmd("SET")
                .arg("k")
                .arg("v")
                .query(&mut srv.conn())
                .unwrap();
        }
        let names = |srv: &Server| -> Vec<String> {
            let v: Vec<redis::Value> = redis::cmd("MEMORY")
                .arg("STATS")
                .query(&mut srv.conn())
                .unwrap();
            v.iter()
                .step_by(2)
                .map(|x| match x {
                    redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(names(&s), names(&r));
        let fields = |srv: &Server| -> Vec<String> {
            let t: String = redis::cmd("INFO")
                .arg("memory")
                .query(&mut srv.conn())
                .unwrap();
            t.lines()
                .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
                .collect()
        };
        assert_eq!(fields(&s), fields(&r));
    }
    // INFO memory reports the limit and the policy.
    let mut c = s.conn();
    cfg(&mut c, "maxmemory", "100mb");
    cfg(&mut c, "maxmemory-policy", "allkeys-lfu");
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory").unwrap(),
        "104857600"
    );
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_human").unwrap(),
        "100.00M"
    );
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_policy").unwrap(),
        "allkeys-lfu"
    );
    let u = used(&mut c);
    assert!(u > 0 && u < 100 << 20);
}

/// maxmemory-clients: the biggest evictable clients are closed until the
/// clients' buffers are under the limit; CLIENT NO-EVICT clients are
/// spared (as in Redis, even when that means evicting every other client).
#[test]
fn client_eviction_spares_no_evict_clients() {
    let s = Server::start(&["--maxmemory-clients", "1mb"]);
    let partial = |n: usize| {
        let mut b = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", n + 10).into_bytes();
        b.extend(std::iter::repeat_n(b'x', n));
        b
    };
    let mut keep = s.raw();
    assert_eq!(send(&mut keep, "CLIENT NO-EVICT ON"), "+OK");
    keep.send(&partial(600 << 10));
    // The server may close it while it is still sending: ignore write
    // errors, then expect end of stream (or a reset).
    let mut big = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    big.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let _ = std::io::Write::write_all(&mut big, &partial(1500 << 10));
    let mut small = s.raw();
    let mut b = [0u8; 16];
    let closed = match std::io::Read::read(&mut big, &mut b) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    };
    assert!(closed, "the big client was not evicted");
    assert_eq!(send(&mut small, "PING"), "+PONG");
    keep.send(&[b'y'; 10]);
    keep.send(b"\r\n");
    assert_eq!(render(&keep.read_reply()), "+OK");
    let mut c = s.conn();
    assert_eq!(info_field(&mut c, "stats", "evicted_clients").unwrap(), "1");
}

/// A full keyspace under churn (every new key evicts one) keeps holding as
/// many keys: the key table's index is rebuilt in place when deleted slots
/// fill it, not doubled (which cost ~10% of the keys that fit at 20mb;
/// with the rebuilds and make_room's evictions taken out this test counts
/// 94.6%).
#[test]
fn eviction_churn_does_not_shrink_the_keyspace() {
    let s = Server::start(&[
        "--maxmemory",
        "20mb",
        "--maxmemory-policy",
        "allkeys-random",
        // The cron's idle rehashing (1 ms a tick) finishes a migration fast.
        "--hz",
        "100",
    ]);
    let mut c = s.conn();
    // Filled until the first eviction, before any churn could have grown
    // the index.
    let mut step = 0;
    while evicted(&mut c) == 0 {
        assert!(step < 1000, "20mb never filled");
        fill(&mut c, &format!("a{step}"), 500, None);
        step += 1;
    }
    let before: u64 = redis::cmd("DBSIZE").query(&mut c).expect("dbsize");
    fill(&mut c, "b", 600_000, None);
    // Under churn the count swings by a few percent: a rebuild of the
    // index while it migrates holds the old index too (~6% of 20mb here,
    // as Redis holds both tables while it rehashes) and the keys evicted
    // for it come back only as later writes refill the space. So the
    // churn goes on in steps and the best count is kept: a doubled index
    // would keep every step ~5% lower.
    let mut after = 0u64;
    for step in 0..40 {
        fill(&mut c, &format!("c{step}"), 500, None);
        let n: u64 = redis::cmd("DBSIZE").query(&mut c).expect("dbsize");
        after = after.max(n);
    }
    assert!(
        after * 100 >= before * 97,
        "{before} keys after the fill, {after} after the churn"
    );
}

fn usage(c: &mut Connection, key: &str) -> u64 {
    redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(key)
        .arg("SAMPLES")
        .arg(0)
        .query(c)
        .expect("memory usage")
}

/// A hash, a set and a sorted set grown past a doubling of their index
/// (1024 -> 2048 buckets at the 897th element: an incremental migration
/// that their next ~500 writes would finish) and then left idle: with
/// `activerehashing no` the old index stays; with `yes` the cron (hz 100)
/// finishes the migration and MEMORY USAGE drops by at least the old
/// table (1024 4-byte slots + 1024 control bytes), every element kept.
#[test]
fn cron_finishes_idle_collections_index_migration() {
    let s = Server::start(&["--hz", "100"]);
    let mut c = s.conn();
    cfg(&mut c, "activerehashing", "no");
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("activerehashing")
        .query(&mut c)
        .expect("config get");
    assert_eq!(got, ["activerehashing", "no"]);
    const N: usize = 1000;
    for kind in ["hash", "set", "zset"] {
        let key = format!("idle:{kind}");
        let mut p = redis::pipe();
        for i in 0..N {
            let m = format!("member:{i}");
            match kind {
                "hash" => p.cmd("HSET").arg(&key).arg(&m).arg("v"),
                "set" => p.cmd("SADD").arg(&key).arg(&m),
                _ => p.cmd("ZADD").arg(&key).arg(i).arg(&m),
            }
            .ignore();
        }
        let _: () = p.query(&mut c).expect("fill");
        let before = usage(&mut c, &key);
        // 30 cron ticks without active rehashing: nothing moves.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(usage(&mut c, &key), before, "{kind}");
        cfg(&mut c, "activerehashing", "yes");
        let mut after = before;
        let dropped = common::eventually(std::time::Duration::from_secs(10), || {
            after = usage(&mut c, &key);
            after + 4096 <= before
        });
        assert!(dropped, "{kind}: MEMORY USAGE {before} -> {after}");
        cfg(&mut c, "activerehashing", "no");
        let mut p = redis::pipe();
        for i in 0..N {
            let m = format!("member:{i}");
            match kind {
                "hash" => p.cmd("HEXISTS").arg(&key).arg(&m),
                "set" => p.cmd("SISMEMBER").arg(&key).arg(&m),
                _ => p.cmd("ZSCORE").arg(&key).arg(&m),
            };
        }
        let found: Vec<Option<String>> = p.query(&mut c).expect("lookups");
        let want = |i: usize| {
            Some(if kind == "zset" {
                i.to_string()
            } else {
                "1".into()
            })
        };
        for (i, f) in found.into_iter().enumerate() {
            assert_eq!(f, want(i), "{kind} member:{i}");
        }
    }
}

/// A collection renamed, moved, swapped to another db or replaced while
/// its index migrates: the cron's note of its old name is dropped (or
/// finds another value), the value stays whole and the cron or its next
/// writes finish the migration.
#[test]
fn migrating_collection_survives_rename_move_and_flush() {
    let s = Server::start(&["--hz", "100"]);
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("HSET").arg("h").arg(format!("f{i}")).arg(i).ignore();
        p.cmd("SADD").arg("s").arg(format!("m{i}")).ignore();
        p.cmd("ZADD").arg("z").arg(i).arg(format!("m{i}")).ignore();
    }
    p.cmd("RENAME").arg("h").arg("h2").ignore();
    // The noted name now holds another type.
    p.cmd("SET").arg("h").arg("x").ignore();
    p.cmd("MOVE").arg("s").arg(1).ignore();
    p.cmd("SWAPDB").arg(0).arg(2).ignore();
    let _: () = p.query(&mut c).expect("fill");
    // Some cron ticks (hz 100) over the stale notes.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let fields: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
    let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let want: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let select = |c: &mut Connection, db: i64| {
        let _: () = redis::cmd("SELECT").arg(db).query(c).expect("select");
    };
    select(&mut c, 2);
    let got: Vec<String> = redis::cmd("HMGET")
        .arg("h2")
        .arg(&fields)
        .query(&mut c)
        .expect("hmget");
    assert_eq!(got, want);
    let got: String = redis::cmd("GET").arg("h").query(&mut c).expect("get");
    assert_eq!(got, "x");
    let got: Vec<Option<String>> = redis::cmd("ZMSCORE")
        .arg("z")
        .arg(&members)
        .query(&mut c)
        .expect("zmscore");
    assert_eq!(got, want.iter().cloned().map(Some).collect::<Vec<_>>());
    select(&mut c, 1);
    let got: Vec<i64> = redis::cmd("SMISMEMBER")
        .arg("s")
        .arg(&members)
        .query(&mut c)
        .expect("smismember");
    assert_eq!(got, vec![1; 1000]);
    let _: () = redis::cmd("FLUSHALL").query(&mut c).expect("flushall");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let pong: String = redis::cmd("PING").query(&mut c).expect("ping");
    assert_eq!(pong, "PONG");
}

/// A big collection that still gets a write now and then (fewer than a
/// cron batch between two ticks) is helped by the cron too: its own
/// writes move 4 buckets each, so on its own a 16384-bucket old index
/// would take ~4000 more writes.
#[test]
fn cron_helps_a_slowly_written_collection() {
    // hz 10: every 100 ms tick sees a few of the writes below (one per
    // ~20 ms), which once made the cron leave the hash to them.
    let s = Server::start(&[]);
    let mut c = s.conn();
    // 14,337 fields: the 16384-bucket index is full at 14,336 and starts
    // migrating into 32768 buckets.
    let mut p = redis::pipe();
    for i in 0..14_337 {
        p.cmd("HSET").arg("h").arg(format!("f{i}")).arg(i).ignore();
    }
    let _: () = p.query(&mut c).expect("fill");
    let before = usage(&mut c, "h");
    let mut after = before;
    let mut i = 14_337;
    let dropped = common::eventually(std::time::Duration::from_secs(10), || {
        let _: () = redis::cmd("HSET")
            .arg("h")
            .arg(format!("f{i}"))
            .arg(i)
            .query(&mut c)
            .expect("hset");
        i += 1;
        after = usage(&mut c, "h");
        // The old index: 16384 4-byte slots and control bytes.
        after + 60_000 <= before
    });
    assert!(dropped, "MEMORY USAGE {before} -> {after} after {i} fields");
    assert!(
        i < 14_337 + 2000,
        "{i} fields: the writes did it, not the cron"
    );
}

/// A hash table or set cut down to one element by HDEL / SREM gives its
/// memory back like Redis's dict resize below 10% fill: MEMORY USAGE
/// within 20% of Redis's (memkv kept the peak's index and entries: 26,820
/// bytes for one field vs Redis's 304). A rolled-back HDEL restores every
/// field of the shrunk table.
#[test]
fn collections_cut_to_one_element_give_memory_back() {
    let Some(r) = Server::start_redis(&[]) else {
        return;
    };
    let s = Server::start(&[]);
    let (mut mc, mut rc) = (s.conn(), r.conn());
    for c in [&mut mc, &mut rc] {
        let mut p = redis::pipe();
        for i in 0..600 {
            p.cmd("HSET").arg("h").arg(format!("f{i}")).arg(i).ignore();
            p.cmd("SADD").arg("s").arg(format!("m{i}")).ignore();
        }
        let fields: Vec<String> = (1..600).map(|i| format!("f{i}")).collect();
        let members: Vec<String> = (1..600).map(|i| format!("m{i}")).collect();
        p.cmd("HDEL").arg("h").arg(&fields).ignore();
        p.cmd("SREM").arg("s").arg(&members).ignore();
        let _: () = p.query(c).expect("fill and cut");
    }
    // Redis's shrunk dict finishes rehashing only as lookups step it, and
    // how far its removals' resizes got depends on its random hash seed (a
    // one-member set read 9,352, 1,224 or 168 bytes run to run): step it
    // to the end of the resize it is in.
    let mut p = redis::pipe();
    for _ in 0..2000 {
        p.cmd("HEXISTS").arg("h").arg("f0").ignore();
        p.cmd("SISMEMBER").arg("s").arg("m0").ignore();
    }
    let _: () = p.query(&mut rc).expect("rehash steps");
    for key in ["h", "s"] {
        let (m, rd) = (usage(&mut mc, key), usage(&mut rc, key));
        // Within 20%, or 80 bytes for these one-element values (memkv
        // 228 each; Redis's 4-bucket dicts 168 for the set, 176 the hash).
        assert!(
            m * 10 <= rd * 12 || m <= rd + 80,
            "{key}: MEMORY USAGE memkv {m} vs Redis {rd}"
        );
    }
    // Rollback over a shrink: every field back, with its value.
    let mut p = redis::pipe();
    for i in 1..600 {
        p.cmd("HSET").arg("h").arg(format!("f{i}")).arg(i).ignore();
    }
    let _: () = p.query(&mut mc).expect("refill");
    let fields: Vec<String> = (1..600).map(|i| format!("f{i}")).collect();
    let mut tx = redis::pipe();
    tx.atomic()
        .cmd("HDEL")
        .arg("h")
        .arg(&fields)
        .cmd("INCR")
        .arg("h");
    // EXEC answers the rollback's error (tests/transaction.rs asserts its
    // text); here only its effect matters.
    assert!(tx.query::<redis::Value>(&mut mc).is_err());
    let all: Vec<String> = (0..600).map(|i| format!("f{i}")).collect();
    let got: Vec<String> = redis::cmd("HMGET")
        .arg("h")
        .arg(&all)
        .query(&mut mc)
        .expect("hmget");
    let want: Vec<String> = (0..600).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
}

/// A skiplist sorted set cut down by ZREM, ZPOPMIN, ZREMRANGEBYSCORE (to
/// one member) or ZREM of random members (to 60, scattered over the arena)
/// gives its memory back like Redis's dict resize in zsetDel: MEMORY USAGE
/// within 20% of Redis's (memkv kept the peak's nodes, upper levels and
/// index: 64,596 bytes for one member vs Redis's 936-10,088). A
/// rolled-back ZREM that crossed the shrink restores every member and score.
#[test]
fn sorted_sets_cut_down_give_memory_back() {
    let Some(r) = Server::start_redis(&[]) else {
        return;
    };
    let s = Server::start(&[]);
    let (mut mc, mut rc) = (s.conn(), r.conn());
    let all: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
    // A fixed shuffle: 540 members to remove, 60 to keep.
    let mut order: Vec<usize> = (0..600).collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..600).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let scattered: Vec<&String> = order[..540].iter().map(|&i| &all[i]).collect();
    let keys = ["zrem", "zpopmin", "zrangebyscore", "zscattered"];
    for c in [&mut mc, &mut rc] {
        let mut p = redis::pipe();
        for key in keys {
            for (i, m) in all.iter().enumerate() {
                p.cmd("ZADD").arg(key).arg(i).arg(m).ignore();
            }
        }
        p.cmd("ZREM").arg("zrem").arg(&all[1..]).ignore();
        p.cmd("ZPOPMIN").arg("zpopmin").arg(599).ignore();
        p.cmd("ZREMRANGEBYSCORE")
            .arg("zrangebyscore")
            .arg(1)
            .arg(599)
            .ignore();
        p.cmd("ZREM").arg("zscattered").arg(&scattered).ignore();
        let _: () = p.query(c).expect("fill and cut");
    }
    for key in keys {
        let enc: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(key)
            .query(&mut mc)
            .expect("encoding");
        assert_eq!(enc, "skiplist");
        let (m, rd) = (usage(&mut mc, key), usage(&mut rc, key));
        assert!(
            m * 10 <= rd * 12,
            "{key}: MEMORY USAGE memkv {m} vs Redis {rd}"
        );
    }
    // Rollback over the shrink: every member back, with its score.
    let mut p = redis::pipe();
    for (i, m) in all.iter().enumerate().skip(1) {
        p.cmd("ZADD").arg("zrem").arg(i).arg(m).ignore();
    }
    let _: () = p.query(&mut mc).expect("refill");
    let before = usage(&mut mc, "zrem");
    let mut tx = redis::pipe();
    tx.atomic()
        .cmd("ZREM")
        .arg("zrem")
        .arg(&all[1..])
        .cmd("INCR")
        .arg("zrem");
    // EXEC answers the rollback's error (tests/transaction.rs asserts its
    // text); here only its effect matters.
    assert!(tx.query::<redis::Value>(&mut mc).is_err());
    let got: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg("zrem")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut mc)
        .expect("zrange");
    let want: Vec<(String, f64)> = all
        .iter()
        .enumerate()
        .map(|(i, m)| (m.clone(), i as f64))
        .collect();
    assert_eq!(got, want);
    // The same ZREM (its shrink ran in the transaction too) outside one.
    let _: i64 = redis::cmd("ZREM")
        .arg("zrem")
        .arg(&all[1..])
        .query(&mut mc)
        .expect("zrem");
    let after = usage(&mut mc, "zrem");
    assert!(after * 10 < before, "{after} of {before} bytes");
}

/// A sorted set bigger than the 16K members compacted at once, cut down
/// part way gives its node slots back in steps, MEMORY USAGE within 20%
/// of Redis's (memkv kept every node slot before: 69.8 MB for 1M members
/// cut to 100K vs Redis's 18.6 MB): cut by ZPOPMIN one member a command
/// or by ZREM of scattered members, the commands' own steps keep up (the
/// cron's rehashing is off); cut by one ZREMRANGEBYRANK, or after inserts
/// filled every free slot of a compaction in progress, the cron finishes
/// the idle set. A ZSCAN stepped across the cut returns every member kept.
#[test]
fn big_sorted_sets_cut_part_way_compact_in_steps() {
    let Some(r) = Server::start_redis(&[]) else {
        return;
    };
    // A fast cron for the idle sets' steps, off until they come.
    let s = Server::start(&["--hz", "500", "--activerehashing", "no"]);
    let (mut mc, mut rc) = (s.conn(), r.conn());
    const N: usize = 100_000;
    const LEFT: usize = 20_000;
    // The refilled set's first cut (a compaction starts at a quarter free).
    const FIRST: usize = 30_000;
    let member = |i: usize| format!("member:{i}");
    let fill = |c: &mut Connection, key: &str, from: usize| {
        let mut p = redis::pipe();
        for chunk in (from..N).collect::<Vec<_>>().chunks(1000) {
            let cmd = p.cmd("ZADD").arg(key);
            for &i in chunk {
                cmd.arg(((i * 7919) % N) as f64 / 3.0).arg(member(i));
            }
            cmd.ignore();
        }
        let _: () = p.query(c).expect("fill");
    };
    let within = |mc: &mut Connection, rc: &mut Connection, key: &str| {
        let (m, rd) = (usage(mc, key), usage(rc, key));
        (
            m * 10 <= rd * 12,
            format!("{key}: MEMORY USAGE memkv {m} vs Redis {rd}"),
        )
    };
    // The scattered removals: a fixed shuffle, the first N - LEFT go.
    let mut order: Vec<usize> = (0..N).collect();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for i in (1..N).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let keys = ["zpop", "zscattered", "zonce", "zrefilled"];
    for c in [&mut mc, &mut rc] {
        for key in keys {
            fill(c, key, 0);
        }
        let mut p = redis::pipe();
        for _ in 0..N - LEFT {
            p.cmd("ZPOPMIN").arg("zpop").ignore();
        }
        let _: () = p.query(c).expect("cut");
    }
    // The scattered cut in batches of 100, a ZSCAN step between batches.
    let (mut cursor, mut seen) = ("0".to_string(), std::collections::HashSet::new());
    let mut scanning = true;
    for batch in order[..N - LEFT].chunks(100) {
        let members: Vec<String> = batch.iter().map(|&i| member(i)).collect();
        for c in [&mut mc, &mut rc] {
            let n: usize = redis::cmd("ZREM")
                .arg("zscattered")
                .arg(&members)
                .query(c)
                .expect("zrem");
            assert_eq!(n, batch.len());
        }
        if scanning {
            let (next, items): (String, Vec<String>) = redis::cmd("ZSCAN")
                .arg("zscattered")
                .arg(&cursor)
                .arg("COUNT")
                .arg(20)
                .query(&mut mc)
                .expect("zscan");
            seen.extend(items.into_iter().step_by(2));
            scanning = next != "0";
            cursor = next;
        }
    }
    while scanning {
        let (next, items): (String, Vec<String>) = redis::cmd("ZSCAN")
            .arg("zscattered")
            .arg(&cursor)
            .arg("COUNT")
            .arg(100)
            .query(&mut mc)
            .expect("zscan");
        seen.extend(items.into_iter().step_by(2));
        scanning = next != "0";
        cursor = next;
    }
    for &i in &order[N - LEFT..] {
        assert!(seen.contains(&member(i)), "ZSCAN missed {}", member(i));
    }
    // The commands' own steps, no cron.
    for key in ["zpop", "zscattered"] {
        let (ok, msg) = within(&mut mc, &mut rc, key);
        assert!(ok, "{msg}");
    }
    // A cut of 30%, a refill of every freed slot (which ends that
    // compaction), then one big cut; later (alone, so that nothing else
    // notes it for the cron) one big cut: both left idle.
    for c in [&mut mc, &mut rc] {
        let mut p = redis::pipe();
        p.cmd("ZREMRANGEBYRANK")
            .arg("zrefilled")
            .arg(0)
            .arg(FIRST - 1)
            .ignore();
        let _: () = p.query(c).expect("cut");
    }
    for c in [&mut mc, &mut rc] {
        let mut p = redis::pipe();
        let cmd = p.cmd("ZADD").arg("zrefilled");
        for i in 0..FIRST {
            cmd.arg(-(i as f64)).arg(format!("refill:{i}"));
        }
        cmd.ignore();
        p.cmd("ZREMRANGEBYRANK")
            .arg("zrefilled")
            .arg(0)
            .arg(N - LEFT - 1)
            .ignore();
        let _: () = p.query(c).expect("refill and cut");
    }
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("activerehashing")
        .arg("yes")
        .query(&mut mc)
        .expect("config set");
    for key in ["zrefilled", "zonce"] {
        if key == "zonce" {
            for c in [&mut mc, &mut rc] {
                let _: usize = redis::cmd("ZREMRANGEBYRANK")
                    .arg(key)
                    .arg(0)
                    .arg(N - LEFT - 1)
                    .query(c)
                    .expect("cut");
            }
        }
        // The cron finishes the idle set (a few seconds at most).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let (mut ok, mut msg) = within(&mut mc, &mut rc, key);
        while !ok && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
            (ok, msg) = within(&mut mc, &mut rc, key);
        }
        assert!(ok, "{msg}");
    }
    // The members and scores kept, as Redis has them.
    for key in keys {
        let card: usize = redis::cmd("ZCARD").arg(key).query(&mut mc).expect("zcard");
        assert_eq!(card, LEFT, "{key}");
        let got: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query(&mut mc)
            .expect("zrange");
        let want: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query(&mut rc)
            .expect("zrange");
        assert_eq!(got, want, "{key}");
    }
}
