//! Set commands through the real protocol: exact replies and error texts
//! in RESP2 and RESP3 (every script also runs against real Redis when it
//! is installed), encodings and their conversions, statistical checks of
//! SRANDMEMBER / SPOP, WATCH and rollback, AOF files that real Redis and
//! memkv load from each other (compared by DEBUG DIGEST, which is Redis's
//! algorithm bit for bit), and a seeded differential run against real
//! Redis (`MEMKV_SEED` replays a seed). Replies whose order Redis leaves
//! unspecified (hash-table sets) are compared sorted; random ones by shape.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use common::diff::Diff;
use common::script::*;

use common::{DEBUG, Raw, Server};

// ---------------------------------------------------------------------------
// Edge cases (intsets iterate in ascending order, so replies are exact).
// ---------------------------------------------------------------------------

#[test]
fn add_remove_and_membership() {
    both(&[
        ("SADD s 3 1 2", ":3"),
        ("SADD s 2 3 4", ":1"),
        ("SADD s 4", ":0"),
        ("SCARD s", ":4"),
        ("SCARD nokey", ":0"),
        ("SMEMBERS s", r#"["1", "2", "3", "4"]"#),
        ("SMEMBERS nokey", "[]"),
        ("SISMEMBER s 3", ":1"),
        ("SISMEMBER s 03", ":0"),
        ("SISMEMBER s x", ":0"),
        ("SISMEMBER nokey x", ":0"),
        ("SMISMEMBER s 1 x 4 +4", "[:1, :0, :1, :0]"),
        ("SMISMEMBER nokey a b", "[:0, :0]"),
        ("SREM s 1 9 2", ":2"),
        ("SREM s 9", ":0"),
        ("SREM nokey 1", ":0"),
        ("SMEMBERS s", r#"["3", "4"]"#),
        ("SREM s 3 4 5", ":2"),
        ("EXISTS s", ":0"),
        ("TYPE s", "+none"),
        (
            "SADD s",
            "-ERR wrong number of arguments for 'sadd' command",
        ),
        (
            "SREM s",
            "-ERR wrong number of arguments for 'srem' command",
        ),
        (
            "SCARD",
            "-ERR wrong number of arguments for 'scard' command",
        ),
        (
            "SISMEMBER s",
            "-ERR wrong number of arguments for 'sismember' command",
        ),
        (
            "SMISMEMBER s",
            "-ERR wrong number of arguments for 'smismember' command",
        ),
        (
            "SMEMBERS s x",
            "-ERR wrong number of arguments for 'smembers' command",
        ),
        ("SADD t \"\"", ":1"),
        ("SISMEMBER t \"\"", ":1"),
        ("SMEMBERS t", r#"[""]"#),
        ("TYPE t", "+set"),
        ("SADD big -9223372036854775808 9223372036854775807 0", ":3"),
        (
            "SMEMBERS big",
            r#"["-9223372036854775808", "0", "9223372036854775807"]"#,
        ),
        ("OBJECT ENCODING big", r#""intset""#),
        ("SADD big 9223372036854775808", ":1"),
        ("OBJECT ENCODING big", r#""hashtable""#),
        ("@resp3", ""),
        ("SADD r 5 -1", ":2"),
        ("SMEMBERS r", r#"~["-1", "5"]"#),
        ("SMEMBERS nokey", "~[]"),
        ("SMISMEMBER r 5 6", "[:1, :0]"),
        ("SISMEMBER r 5", ":1"),
    ]);
}

#[test]
fn wrongtype_everywhere() {
    let cmds = [
        "SADD str a",
        "SREM str a",
        "SCARD str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SMEMBERS str",
        "SRANDMEMBER str",
        "SRANDMEMBER str 2",
        "SRANDMEMBER str 0",
        "SPOP str",
        "SPOP str 2",
        "SPOP str 0",
        "SMOVE str s 1",
        "SMOVE s str 1",
        "SMOVE s str 9",
        "SINTER s str",
        "SINTER nokey str",
        "SINTERCARD 2 nokey str",
        "SINTERSTORE d nokey str",
        "SUNION s str",
        "SUNIONSTORE d nokey str",
        "SDIFF nokey str",
        "SDIFF s str",
        "SDIFFSTORE d s str",
        "SSCAN str 0",
    ];
    let mut script: Vec<(&str, &str)> = vec![("SET str x", "+OK"), ("SADD s 1", ":1")];
    for c in &cmds {
        script.push((c, WRONGTYPE));
    }
    script.extend([
        // A missing source answers 0 before the destination's type is seen.
        ("SMOVE nokey str 1", ":0"),
        ("LPUSH l a", ":1"),
        ("SADD l a", WRONGTYPE),
        ("GET s", WRONGTYPE),
        ("LPUSH s a", WRONGTYPE),
        ("HSET s a b", WRONGTYPE),
        ("EXISTS d", ":0"),
    ]);
    both(&script);
}

#[test]
fn srandmember_and_spop_edges() {
    both(&[
        ("SADD s 1 2 3", ":3"),
        ("SRANDMEMBER nokey", "$-1"),
        ("SRANDMEMBER nokey 3", "[]"),
        ("SRANDMEMBER nokey -3", "[]"),
        ("SRANDMEMBER s 0", "[]"),
        ("SRANDMEMBER s 3", r#"["1", "2", "3"]"#),
        ("SRANDMEMBER s 100", r#"["1", "2", "3"]"#),
        ("SRANDMEMBER s x", NOTINT),
        ("SRANDMEMBER s 1.5", NOTINT),
        (
            "SRANDMEMBER s -9223372036854775808",
            "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ),
        ("SRANDMEMBER s 1 2", SYNTAX),
        ("SPOP nokey", "$-1"),
        ("SPOP nokey 2", "[]"),
        ("SPOP s 0", "[]"),
        ("SPOP s -1", "-ERR value is out of range, must be positive"),
        ("SPOP s x", "-ERR value is out of range, must be positive"),
        (
            "SPOP nokey x",
            "-ERR value is out of range, must be positive",
        ),
        ("SPOP s 1 2", SYNTAX),
        ("SCARD s", ":3"),
        ("SPOP s 3", r#"["1", "2", "3"]"#),
        ("EXISTS s", ":0"),
        ("SADD s 7", ":1"),
        ("SPOP s", r#""7""#),
        ("EXISTS s", ":0"),
        ("SADD s 1 2", ":2"),
        ("@resp3", ""),
        ("SRANDMEMBER nokey", "_"),
        ("SPOP nokey", "_"),
        ("SPOP nokey 1", "~[]"),
        ("SPOP s 0", "~[]"),
        // Redis 7.0 answers SRANDMEMBER with a count as an array, SPOP as a set.
        ("SRANDMEMBER s 2", r#"["1", "2"]"#),
        ("SRANDMEMBER s 0", "[]"),
        ("SPOP s 5", r#"~["1", "2"]"#),
    ]);
}

#[test]
fn smove() {
    both(&[
        ("SADD a 1 2 x", ":3"),
        ("SMOVE a b 1", ":1"),
        ("SMOVE a b 1", ":0"),
        ("SMOVE nokey b 1", ":0"),
        ("SMEMBERS b", r#"["1"]"#),
        ("OBJECT ENCODING b", r#""intset""#),
        ("SMOVE a c x", ":1"),
        ("OBJECT ENCODING c", r#""hashtable""#),
        ("SMOVE a a 2", ":1"),
        ("SMOVE a a 9", ":0"),
        ("SMOVE a b 2", ":1"),
        ("EXISTS a", ":0"),
        ("SMEMBERS b", r#"["1", "2"]"#),
        ("SADD d 2", ":1"),
        ("SMOVE b d 2", ":1"),
        ("SMEMBERS d", r#"["2"]"#),
        (
            "SMOVE b",
            "-ERR wrong number of arguments for 'smove' command",
        ),
    ]);
}

#[test]
fn intersections_unions_differences() {
    both(&[
        ("SADD a 1 2 3 4 5", ":5"),
        ("SADD b 4 5 6", ":3"),
        ("SADD c 5 x", ":2"),
        ("SINTER a b", r#"["4", "5"]"#),
        ("SINTER a b c", r#"["5"]"#),
        ("SINTER a nokey", "[]"),
        ("SINTER a", r#"["1", "2", "3", "4", "5"]"#),
        ("SINTER a a", r#"["1", "2", "3", "4", "5"]"#),
        ("SUNION a b", r#"["1", "2", "3", "4", "5", "6"]"#),
        ("SUNION nokey b nokey", r#"["4", "5", "6"]"#),
        ("SUNION nokey", "[]"),
        ("SDIFF a b", r#"["1", "2", "3"]"#),
        ("SDIFF a b c", r#"["1", "2", "3"]"#),
        ("SDIFF a nokey", r#"["1", "2", "3", "4", "5"]"#),
        ("SDIFF nokey a", "[]"),
        ("SDIFF a a", "[]"),
        ("SDIFF c a", r#"["x"]"#),
        ("SINTERCARD 2 a b", ":2"),
        ("SINTERCARD 1 a", ":5"),
        ("SINTERCARD 1 a LIMIT 3", ":3"),
        ("SINTERCARD 1 a LIMIT 0", ":5"),
        ("SINTERCARD 1 a limit 9 LIMIT 1", ":1"),
        ("SINTERCARD 2 a nokey", ":0"),
        ("SINTERCARD 0 a", "-ERR numkeys should be greater than 0"),
        ("SINTERCARD -1 a", "-ERR numkeys should be greater than 0"),
        ("SINTERCARD x a", "-ERR numkeys should be greater than 0"),
        (
            "SINTERCARD 3 a b",
            "-ERR Number of keys can't be greater than number of args",
        ),
        ("SINTERCARD 1 a LIMIT -1", "-ERR LIMIT can't be negative"),
        ("SINTERCARD 1 a LIMIT x", "-ERR LIMIT can't be negative"),
        ("SINTERCARD 1 a LIMIT", SYNTAX),
        ("SINTERCARD 1 a FOO 1", SYNTAX),
        (
            "SINTERCARD 1",
            "-ERR wrong number of arguments for 'sintercard' command",
        ),
        ("SET d old", "+OK"),
        ("EXPIRE d 100", ":1"),
        ("SINTERSTORE d a b", ":2"),
        ("TTL d", ":-1"),
        ("SMEMBERS d", r#"["4", "5"]"#),
        ("OBJECT ENCODING d", r#""intset""#),
        ("SINTERSTORE d a nokey", ":0"),
        ("EXISTS d", ":0"),
        ("SUNIONSTORE d a b", ":6"),
        ("SUNIONSTORE d d c", ":7"),
        ("OBJECT ENCODING d", r#""hashtable""#),
        ("SDIFFSTORE d a b", ":3"),
        ("SMEMBERS d", r#"["1", "2", "3"]"#),
        ("OBJECT ENCODING d", r#""intset""#),
        ("SDIFFSTORE d a a", ":0"),
        ("EXISTS d", ":0"),
        ("SUNIONSTORE d nokey", ":0"),
        (
            "SINTERSTORE d",
            "-ERR wrong number of arguments for 'sinterstore' command",
        ),
        (
            "SINTER",
            "-ERR wrong number of arguments for 'sinter' command",
        ),
        ("@resp3", ""),
        ("SINTER a b", r#"~["4", "5"]"#),
        ("SUNION nokey", "~[]"),
        ("SDIFF a b c", r#"~["1", "2", "3"]"#),
        ("SINTER a nokey", "~[]"),
    ]);
}

#[test]
fn encodings_and_their_conversions() {
    script_both(&[
        (
            "CONFIG GET set-max-intset-entries",
            r#"["set-max-intset-entries", "512"]"#,
        ),
        ("CONFIG SET set-max-intset-entries 3", "+OK"),
        (
            "CONFIG GET set-max-intset-entries",
            r#"["set-max-intset-entries", "3"]"#,
        ),
        ("SADD s 1 2 3", ":3"),
        ("OBJECT ENCODING s", r#""intset""#),
        ("SADD s 4", ":1"),
        ("OBJECT ENCODING s", r#""hashtable""#),
        // A table never goes back to an intset by removals...
        ("SREM s 4 3 2", ":3"),
        ("OBJECT ENCODING s", r#""hashtable""#),
        // ...but SPOP of most of a set rebuilds it from the survivors.
        ("SADD s 2 3 4 5 6 7 8 9 10", ":9"),
        ("SPOP s 9", "$ignored"),
        ("OBJECT ENCODING s", r#""intset""#),
        ("SADD n x", ":1"),
        ("OBJECT ENCODING n", r#""hashtable""#),
        ("SADD n 1", ":1"),
        ("OBJECT ENCODING n", r#""hashtable""#),
        ("SADD z 01", ":1"),
        ("OBJECT ENCODING z", r#""hashtable""#),
        ("CONFIG SET set-max-intset-entries 0", "+OK"),
        ("SADD zero 1", ":1"),
        ("OBJECT ENCODING zero", r#""hashtable""#),
        (
            "CONFIG SET set-max-intset-entries x",
            "-ERR CONFIG SET failed (possibly related to argument 'set-max-intset-entries') - argument couldn't be parsed into an integer",
        ),
    ]);
}

/// `both` where a line whose reply is random (`$ignored`) is not checked.
fn script_both(script: &[(&str, &str)]) {
    let s = Server::start(&[]);
    run(&mut s.raw(), "memkv", script);
    if let Some(r) = Server::start_redis(&[]) {
        run(&mut r.raw(), "redis", script);
    }
}

fn run(raw: &mut Raw, who: &str, script: &[(&str, &str)]) {
    for (line, want) in script {
        if *want == "$ignored" {
            send(raw, line);
        } else {
            run_script(raw, who, &[(line, want)]);
        }
    }
}

#[test]
fn rename_copy_move_scan_type_and_digest_like_redis() {
    let script: &[(&str, &str)] = &[
        ("SADD s 1 2 x", ":3"),
        ("SADD i 1 2 3", ":3"),
        ("EXPIRE i 1000", ":1"),
        ("RENAME s s2", "+OK"),
        ("COPY s2 s3", ":1"),
        ("SADD s3 y", ":1"),
        ("SCARD s2", ":3"),
        ("MOVE i 1", ":1"),
        ("SELECT 1", "+OK"),
        ("SMEMBERS i", r#"["1", "2", "3"]"#),
        ("SELECT 0", "+OK"),
        ("SCAN 0 TYPE set COUNT 100", "$ignored"),
        ("SET str v", "+OK"),
    ];
    let s = Server::start(DEBUG);
    let mut a = s.raw();
    run(&mut a, "memkv", script);
    let got = send(&mut a, "SCAN 0 TYPE set COUNT 100");
    let mut keys = items(&items(&got)[1]);
    keys.sort();
    assert_eq!(keys, vec![r#""s2""#, r#""s3""#]);
    let Some(r) = Server::start_redis(DEBUG) else {
        return;
    };
    let mut b = r.raw();
    run(&mut b, "redis", script);
    for line in [
        "DEBUG DIGEST",
        "DEBUG DIGEST-VALUE s2 s3 nokey",
        "SELECT 1",
        "DEBUG DIGEST-VALUE i",
    ] {
        let got = send(&mut a, line);
        assert!(!got.starts_with('-'), "{line}: {got}");
        assert_eq!(got, send(&mut b, line), "{line}");
    }
    // DEBUG OBJECT: encoding and serialized length as Redis (the address
    // and LRU clock differ by nature).
    let strip = |s: String| -> String {
        s.split(' ')
            .filter(|w| !w.starts_with("\"Value") && !w.starts_with("at:") && !w.starts_with("lru"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    send(&mut a, "SELECT 0");
    send(&mut b, "SELECT 0");
    for line in [
        "SADD dbg:i 1 2 3",
        "SADD dbg:w 70000 -1",
        "SADD dbg:h a b 1",
        "SADD dbg:l 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
    ] {
        send(&mut a, line);
        send(&mut b, line);
    }
    for k in ["dbg:i", "dbg:w", "dbg:h", "dbg:l"] {
        let line = format!("DEBUG OBJECT {k}");
        let got = strip(send(&mut a, &line));
        assert!(got.contains("serializedlength:"), "{got}");
        assert_eq!(got, strip(send(&mut b, &line)), "{line}");
    }
}

#[test]
fn sscan() {
    both(&[
        ("SADD i 5 1 3 10 11", ":5"),
        ("SSCAN i 0", r#"["0", ["1", "3", "5", "10", "11"]]"#),
        ("SSCAN i 0 COUNT 1", r#"["0", ["1", "3", "5", "10", "11"]]"#),
        ("SSCAN i 0 MATCH 1*", r#"["0", ["1", "10", "11"]]"#),
        ("SSCAN i 0 MATCH 1* COUNT 2 MATCH 3", r#"["0", ["3"]]"#),
        ("SSCAN nokey 0", r#"["0", []]"#),
        ("SSCAN nokey x", "-ERR invalid cursor"),
        ("SSCAN i x", "-ERR invalid cursor"),
        ("SSCAN i 0 COUNT 0", SYNTAX),
        ("SSCAN i 0 COUNT x", NOTINT),
        ("SSCAN i 0 MATCH", SYNTAX),
        ("SSCAN i 0 TYPE set", SYNTAX),
        ("SSCAN nokey 0 COUNT 0", r#"["0", []]"#),
        (
            "SSCAN i",
            "-ERR wrong number of arguments for 'sscan' command",
        ),
    ]);
    // A hash-table set: a full iteration returns every member.
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut want = BTreeSet::new();
    for i in 0..1000 {
        send(&mut c, &format!("SADD t m{i}"));
        want.insert(format!("\"m{i}\""));
    }
    let mut cursor = "0".to_string();
    let mut got = BTreeSet::new();
    let mut calls = 0;
    loop {
        let reply = send(&mut c, &format!("SSCAN t {cursor} COUNT 37"));
        let parts = items(&reply);
        got.extend(items(&parts[1]));
        cursor = parts[0].trim_matches('"').to_string();
        calls += 1;
        if cursor == "0" {
            break;
        }
        assert!(calls < 1000, "SSCAN does not finish");
    }
    assert_eq!(got, want);
    assert!(calls > 10, "COUNT was not honoured ({calls} calls)");
}

// ---------------------------------------------------------------------------
// Random members: shapes and distributions.
// ---------------------------------------------------------------------------

/// Pearson's chi-square statistic of `counts` against a uniform law.
fn chi_square(counts: &HashMap<String, usize>, cells: usize, total: usize) -> f64 {
    let expected = total as f64 / cells as f64;
    let mut chi = 0.0;
    assert!(counts.len() <= cells, "more distinct values than members");
    let seen: usize = counts.values().sum();
    assert_eq!(seen, total);
    for n in counts.values() {
        let d = *n as f64 - expected;
        chi += d * d / expected;
    }
    // Members never drawn count too.
    chi += (cells - counts.len()) as f64 * expected;
    chi
}

/// Critical value of chi-square with 19 degrees of freedom at p = 1e-6
/// (a correct generator fails this once in a million runs).
const CHI2_19_P1E6: f64 = 58.0;

fn draw_counts(c: &mut Raw, line: &str, rounds: usize) -> (HashMap<String, usize>, usize) {
    let mut counts = HashMap::new();
    let mut total = 0;
    for _ in 0..rounds {
        let reply = send(c, line);
        let list = if reply.starts_with('[') {
            items(&reply)
        } else {
            vec![reply]
        };
        for m in list {
            *counts.entry(m).or_insert(0) += 1;
            total += 1;
        }
    }
    (counts, total)
}

#[test]
fn srandmember_distributions_are_uniform() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for (key, members) in [("ints", 20), ("strs", 20)] {
        for i in 0..members {
            let m = if key == "ints" {
                format!("{}", i * 7)
            } else {
                format!("m{i}")
            };
            send(&mut c, &format!("SADD {key} {m}"));
        }
        // Single, negative (repetitions), few distinct (< 1/3), many
        // distinct (> 1/3 of the set).
        for (line, rounds) in [
            (format!("SRANDMEMBER {key}"), 4000),
            (format!("SRANDMEMBER {key} -10"), 400),
            (format!("SRANDMEMBER {key} 3"), 1500),
            (format!("SRANDMEMBER {key} 15"), 300),
        ] {
            let (counts, total) = draw_counts(&mut c, &line, rounds);
            let chi = chi_square(&counts, 20, total);
            assert!(
                chi < CHI2_19_P1E6,
                "{line}: chi-square {chi:.1} over {total} draws: {counts:?}"
            );
        }
        // Distinct members for a positive count, exactly |count| with repetitions.
        for _ in 0..50 {
            let v = items(&send(&mut c, &format!("SRANDMEMBER {key} 15")));
            assert_eq!(v.iter().collect::<BTreeSet<_>>().len(), 15);
            let v = items(&send(&mut c, &format!("SRANDMEMBER {key} 5")));
            assert_eq!(v.iter().collect::<BTreeSet<_>>().len(), 5);
            assert_eq!(
                items(&send(&mut c, &format!("SRANDMEMBER {key} -50"))).len(),
                50
            );
        }
    }
}

#[test]
fn spop_distributions_are_uniform_and_pop_distinct_members() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let fill = |c: &mut Raw, key: &str, ints: bool| {
        send(c, &format!("DEL {key}"));
        let members: Vec<String> = (0..20)
            .map(|i| {
                if ints {
                    format!("{}", i * 3)
                } else {
                    format!("m{i}")
                }
            })
            .collect();
        send(c, &format!("SADD {key} {}", members.join(" ")));
    };
    for ints in [true, false] {
        // SPOP without count, with a small count (one by one) and with a
        // big one (the survivors are moved to a new set).
        for (count, rounds) in [(None, 4000), (Some(2), 2000), (Some(17), 300)] {
            let mut counts: HashMap<String, usize> = HashMap::new();
            let mut total = 0;
            for _ in 0..rounds {
                fill(&mut c, "p", ints);
                let reply = match count {
                    None => send(&mut c, "SPOP p"),
                    Some(n) => send(&mut c, &format!("SPOP p {n}")),
                };
                let popped = if reply.starts_with('[') {
                    items(&reply)
                } else {
                    vec![reply]
                };
                let n = count.unwrap_or(1);
                assert_eq!(popped.len(), n);
                assert_eq!(popped.iter().collect::<BTreeSet<_>>().len(), n);
                let card = send(&mut c, "SCARD p");
                assert_eq!(card, format!(":{}", 20 - n));
                for m in popped {
                    assert_eq!(
                        send(&mut c, &format!("SISMEMBER p {}", m.trim_matches('"'))),
                        ":0"
                    );
                    *counts.entry(m).or_insert(0) += 1;
                    total += 1;
                }
            }
            let chi = chi_square(&counts, 20, total);
            assert!(
                chi < CHI2_19_P1E6,
                "SPOP {count:?} (ints {ints}): chi-square {chi:.1}: {counts:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// WATCH and transactions.
// ---------------------------------------------------------------------------

#[test]
fn watch_sees_changes_but_not_no_ops() {
    let check = |s: &Server, who: &str| {
        let mut a = s.raw();
        let mut b = s.raw();
        send(&mut a, "SADD s 1 2");
        for (other, invalidates) in [
            ("SADD s 1", false),
            ("SREM s 9", false),
            ("SMOVE s s 1", false),
            ("SADD s 3", true),
            ("SREM s 3", true),
            ("SPOP s 0", false),
            ("SMOVE s t 1", true),
            ("SINTERSTORE s t", true),
            ("DEL s", true),
            // An empty result into a missing destination changes nothing.
            ("SUNIONSTORE s nokey", false),
            ("SINTERSTORE s nokey", false),
            ("SINTERSTORE s t t", true),
            ("DEL s", true),
            ("SDIFFSTORE s t t", false),
        ] {
            send(&mut a, "WATCH s");
            send(&mut b, other);
            send(&mut a, "MULTI");
            send(&mut a, "PING");
            let got = send(&mut a, "EXEC");
            let want = if invalidates { "*-1" } else { "[+PONG]" };
            assert_eq!(got, want, "[{who}] WATCH then {other}");
        }
    };
    let s = Server::start(&[]);
    check(&s, "memkv");
    if let Some(r) = Server::start_redis(&[]) {
        check(&r, "redis");
    }
}

#[test]
fn failed_transaction_rolls_back_set_changes() {
    let s = Server::start(DEBUG);
    let mut c = s.raw();
    send(&mut c, "SADD s 1 2 3 x");
    send(&mut c, "SADD i 1 2 3");
    send(&mut c, "SET str notanumber");
    let before = digest(&mut c);
    for line in [
        "MULTI",
        "SADD s y z",
        "SREM i 1 2 3",
        "SPOP s 2",
        "SMOVE s fresh x",
        "SUNIONSTORE u s i",
        "SINTERSTORE i s",
        "INCR str",
    ] {
        send(&mut c, line);
    }
    let got = send(&mut c, "EXEC");
    assert!(got.starts_with("-EXECABORT"), "{got}");
    assert_eq!(digest(&mut c), before);
    assert_eq!(send(&mut c, "SMEMBERS i"), r#"["1", "2", "3"]"#);
    assert_eq!(send(&mut c, "EXISTS fresh u"), ":0");
}

// ---------------------------------------------------------------------------
// AOF: memkv's files load in real Redis and the other way round.
// ---------------------------------------------------------------------------

/// Set commands covering every encoding and the propagated forms (SPOP ->
/// SREM / DEL, STORE results).
fn set_writes(c: &mut Raw, phase: &str) {
    let mut lines = Vec::new();
    for i in 0..40 {
        let ints: Vec<String> = (0..i * 20 + 1)
            .map(|j| (j * 37 - 500).to_string())
            .collect();
        lines.push(format!("SADD {phase}:i:{i} {}", ints.join(" ")));
        let strs: Vec<String> = (0..i * 3 + 1).map(|j| format!("m{j}")).collect();
        lines.push(format!("SADD {phase}:s:{i} {}", strs.join(" ")));
    }
    lines.extend([
        format!("SPOP {phase}:i:5"),
        format!("SPOP {phase}:i:6 3"),
        format!("SPOP {phase}:i:7 90"),
        format!("SPOP {phase}:s:8 100"),
        format!("SPOP {phase}:s:9 20"),
        format!("SREM {phase}:i:10 -500 -463"),
        format!("SMOVE {phase}:s:11 {phase}:moved m1"),
        format!("SINTERSTORE {phase}:inter {phase}:i:12 {phase}:i:13"),
        format!("SUNIONSTORE {phase}:union {phase}:s:12 {phase}:i:1"),
        format!("SDIFFSTORE {phase}:diff {phase}:i:30 {phase}:i:20"),
        format!("EXPIRE {phase}:i:14 100000"),
        "SELECT 2".to_string(),
        format!("SADD {phase}:db2 a 1"),
        "SELECT 0".to_string(),
    ]);
    for l in lines {
        let r = send(c, &l);
        assert!(!r.starts_with('-'), "{l}: {r}");
    }
}

fn wait_until(c: &mut Raw, what: &str, mut ok: impl FnMut(&mut Raw) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok(c) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rewrite_done(c: &mut Raw) -> bool {
    let info = send(c, "INFO persistence");
    info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0")
}

fn loaded(c: &mut Raw) -> bool {
    !send(c, "PING").contains("LOADING")
}

#[test]
fn aof_with_sets_loads_in_real_redis_and_back() {
    if common::which("redis-server").is_none() {
        eprintln!("redis-server not installed: interop skipped");
        return;
    }
    // memkv -> Redis (a rewritten base plus an increment).
    let mut m = Server::start(&["--appendonly", "yes", "--enable-debug-command", "yes"]);
    let mut c = m.raw();
    set_writes(&mut c, "before");
    send(&mut c, "BGREWRITEAOF");
    wait_until(&mut c, "memkv rewrite", rewrite_done);
    set_writes(&mut c, "after");
    let want = digest(&mut c);
    m.shutdown();
    let rdir = common::temp_dir("set-aof-redis");
    common::copy_dir(&m.dir.join("appendonlydir"), &rdir.join("appendonlydir"));
    let dir = rdir.to_str().expect("utf-8");
    let args = [
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--enable-debug-command",
        "yes",
        "--dir",
        dir,
    ];
    let r = Server::start_redis(&args).expect("Redis refused memkv's AOF");
    let mut rc = r.raw();
    wait_until(&mut rc, "redis load", loaded);
    assert_eq!(digest(&mut rc), want, "Redis loaded other data");
    drop(rc);
    drop(r);
    let _ = std::fs::remove_dir_all(&rdir);

    // memkv reloads its own files (SPOP replayed as SREM gives the same data).
    let mdir = common::temp_dir("set-aof-memkv-self");
    common::copy_dir(&m.dir.join("appendonlydir"), &mdir.join("appendonlydir"));
    let again = Server::start_in(
        &mdir,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut ac = again.raw();
    wait_until(&mut ac, "memkv load", loaded);
    assert_eq!(digest(&mut ac), want);
    assert_eq!(send(&mut ac, "OBJECT ENCODING before:i:1"), r#""intset""#);
    assert_eq!(
        send(&mut ac, "OBJECT ENCODING before:i:30"),
        r#""hashtable""#
    );
    drop(ac);
    drop(again);

    // Redis -> memkv.
    let mut r = Server::start_redis(&[
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--enable-debug-command",
        "yes",
    ])
    .expect("redis starts");
    let mut rc = r.raw();
    set_writes(&mut rc, "before");
    send(&mut rc, "BGREWRITEAOF");
    wait_until(&mut rc, "redis rewrite", rewrite_done);
    set_writes(&mut rc, "after");
    let want = digest(&mut rc);
    r.shutdown();
    let mdir = common::temp_dir("set-aof-memkv");
    common::copy_dir(&r.dir.join("appendonlydir"), &mdir.join("appendonlydir"));
    let s = Server::start_in(
        &mdir,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut sc = s.raw();
    wait_until(&mut sc, "memkv load", loaded);
    assert_eq!(digest(&mut sc), want, "memkv loaded other data");
}

// ---------------------------------------------------------------------------
// Differential run against real Redis.
// ---------------------------------------------------------------------------

const KEYS: &[&str] = &["s1", "s2", "s3", "s4", "str"];
/// Integers (some beyond 16 and 32 bits), their non-canonical spellings,
/// and strings: intsets, their widths and conversions all happen.
const MEMBERS: &[&str] = &[
    "1",
    "2",
    "3",
    "-7",
    "70000",
    "-9223372036854775808",
    "9223372036854775807",
    "01",
    "+2",
    "a",
    "b",
    "\"\"",
];

#[derive(Clone, Copy, PartialEq)]
enum Cmp {
    Exact,
    Sorted,
    Scan,
    Shape,
}

fn gen_set_command(r: &mut Rng) -> (String, Cmp) {
    let key = |r: &mut Rng| r.pick(KEYS).to_string();
    let members = |r: &mut Rng, n: usize| -> String {
        (0..n)
            .map(|_| r.pick(MEMBERS))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let keys = |r: &mut Rng| -> String {
        let n = 1 + r.below(3);
        (0..n).map(|_| r.pick(KEYS)).collect::<Vec<_>>().join(" ")
    };
    match r.below(24) {
        0..=4 => {
            let n = 1 + r.below(4);
            (format!("SADD {} {}", key(r), members(r, n)), Cmp::Exact)
        }
        5..=6 => {
            let n = 1 + r.below(3);
            (format!("SREM {} {}", key(r), members(r, n)), Cmp::Exact)
        }
        7 => (format!("SCARD {}", key(r)), Cmp::Exact),
        8 => (
            format!("SISMEMBER {} {}", key(r), r.pick(MEMBERS)),
            Cmp::Exact,
        ),
        9 => {
            let n = 1 + r.below(3);
            (
                format!("SMISMEMBER {} {}", key(r), members(r, n)),
                Cmp::Exact,
            )
        }
        10 => (format!("SMEMBERS {}", key(r)), Cmp::Sorted),
        11 => {
            let count = r.pick(&["", " 0", " 1", " 2", " -3", " 20", " x"]);
            (format!("SRANDMEMBER {}{count}", key(r)), Cmp::Shape)
        }
        12 => {
            // Only SPOPs whose outcome is not random.
            let count = r.pick(&["0", "100", "-1", "x"]);
            (format!("SPOP {} {count}", key(r)), Cmp::Sorted)
        }
        13 => (
            format!("SMOVE {} {} {}", key(r), key(r), r.pick(MEMBERS)),
            Cmp::Exact,
        ),
        14..=15 => (
            format!("{} {}", r.pick(&["SINTER", "SUNION", "SDIFF"]), keys(r)),
            Cmp::Sorted,
        ),
        16 => {
            let n = 1 + r.below(3);
            let ks: Vec<&str> = (0..n).map(|_| r.pick(KEYS)).collect();
            let numkeys = if r.chance(10) { n + 1 } else { n };
            let mut s = format!("SINTERCARD {numkeys} {}", ks.join(" "));
            if r.chance(40) {
                s += &format!(" LIMIT {}", r.pick(&["0", "1", "2", "-1"]));
            }
            (s, Cmp::Exact)
        }
        17..=18 => (
            format!(
                "{} {} {}",
                r.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]),
                key(r),
                keys(r)
            ),
            Cmp::Exact,
        ),
        19 => {
            let mut s = format!("SSCAN {} 0 COUNT 1000", key(r));
            if r.chance(50) {
                s += &format!(" MATCH {}", r.pick(&["1*", "*", "?", "[ab]*", "-*"]));
            }
            (s, Cmp::Scan)
        }
        20 => (format!("OBJECT ENCODING {}", key(r)), Cmp::Exact),
        21 => (
            format!("{} {}", r.pick(&["SET", "DEL", "TYPE", "EXISTS"]), key(r))
                + if r.chance(30) { " v" } else { "" },
            Cmp::Exact,
        ),
        _ => (
            format!("SORT {}{}", key(r), r.pick(&["", " ALPHA", " DESC ALPHA"])),
            Cmp::Exact,
        ),
    }
}

/// Normalizes a rendered reply for comparison under `cmp`.
fn normalize(text: &str, cmp: Cmp) -> String {
    if text.starts_with('-') || cmp == Cmp::Exact {
        return text.to_string();
    }
    let (tag, list) = match text.strip_prefix('~') {
        Some(rest) => ("set", rest),
        None => ("array", text),
    };
    if !list.starts_with('[') {
        return match cmp {
            Cmp::Shape if text.starts_with('"') => "some bulk".into(),
            _ => text.to_string(),
        };
    }
    let mut v = items(list);
    match cmp {
        Cmp::Sorted => {
            v.sort();
            format!("{tag} sorted {v:?}")
        }
        Cmp::Scan => {
            let mut elems = items(&v[1]);
            elems.sort();
            format!("scan {} {elems:?}", v[0])
        }
        _ => format!("{tag} of {}", v.len()),
    }
}

#[test]
fn differential_against_redis() {
    let Some(mut d) = Diff::start("set", DEBUG) else {
        return;
    };
    // A small intset limit, so conversions happen all the time.
    d.both("CONFIG SET set-max-intset-entries 4", "+OK");
    d.run(6000, gen_set_command, |_, &cmp, _, reply| {
        normalize(&reply, cmp)
    });
    d.same_digest();
}
