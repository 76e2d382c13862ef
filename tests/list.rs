//! List commands through the real protocol: exact replies and error texts
//! for every command's edge cases in RESP2 and RESP3 (each script also runs
//! against real Redis when it is installed, which keeps the expectations
//! honest), WRONGTYPE across types, and a seeded differential run against
//! real Redis (`MEMKV_SEED` replays a seed).

mod common;

use common::Server;
use common::diff::Diff;
use common::script::*;

// ---------------------------------------------------------------------------
// Script helpers (shared shape with tests/hash.rs).
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Edge cases.
// ---------------------------------------------------------------------------

#[test]
fn push_and_len() {
    both(&[
        ("LPUSH l a b c", ":3"),
        ("RPUSH l d", ":4"),
        ("LRANGE l 0 -1", r#"["c", "b", "a", "d"]"#),
        (r#"RPUSH l "" "x y""#, ":6"),
        ("LRANGE l -2 -1", r#"["", "x y"]"#),
        ("LLEN l", ":6"),
        ("LLEN nokey", ":0"),
        ("LPUSHX nokey a", ":0"),
        ("RPUSHX nokey a b", ":0"),
        ("EXISTS nokey", ":0"),
        ("LPUSHX l z1 z2", ":8"),
        ("RPUSHX l y", ":9"),
        ("LINDEX l 0", r#""z2""#),
        ("LINDEX l -1", r#""y""#),
        (
            "LPUSH l",
            "-ERR wrong number of arguments for 'lpush' command",
        ),
        (
            "RPUSHX l",
            "-ERR wrong number of arguments for 'rpushx' command",
        ),
        ("TYPE l", "+list"),
    ]);
}

#[test]
fn pop_with_and_without_count() {
    both(&[
        ("LPOP nokey", "$-1"),
        ("RPOP nokey", "$-1"),
        ("LPOP nokey 1", "*-1"),
        ("LPOP nokey 0", "*-1"),
        ("RPUSH l a b c d e", ":5"),
        ("LPOP l", r#""a""#),
        ("RPOP l", r#""e""#),
        ("LPOP l 0", "[]"),
        ("RPOP l 2", r#"["d", "c"]"#),
        ("LPOP l 10", r#"["b"]"#),
        ("EXISTS l", ":0"),
        ("LPOP l -1", "-ERR value is out of range, must be positive"),
        ("LPOP l abc", "-ERR value is out of range, must be positive"),
        ("LPOP l 01", "-ERR value is out of range, must be positive"),
        (
            "LPOP l 1 2",
            "-ERR wrong number of arguments for 'lpop' command",
        ),
        (
            "RPOP l 1 2",
            "-ERR wrong number of arguments for 'rpop' command",
        ),
        ("RPUSH l x", ":1"),
        ("RPOP l 9223372036854775807", r#"["x"]"#),
        (
            "RPOP l 9223372036854775808",
            "-ERR value is out of range, must be positive",
        ),
        ("@resp3", ""),
        ("LPOP nokey", "_"),
        ("LPOP nokey 1", "_"),
        ("RPOP nokey 0", "_"),
        ("RPUSH l a", ":1"),
        ("RPOP l 0", "[]"),
        ("RPOP l 1", r#"["a"]"#),
    ]);
}

#[test]
fn lindex_lset() {
    both(&[
        ("LINDEX nokey 0", "$-1"),
        ("LINDEX nokey abc", "$-1"),
        ("RPUSH l a b c", ":3"),
        ("LINDEX l 1", r#""b""#),
        ("LINDEX l -3", r#""a""#),
        ("LINDEX l -4", "$-1"),
        ("LINDEX l 3", "$-1"),
        ("LINDEX l 9223372036854775807", "$-1"),
        ("LINDEX l -9223372036854775808", "$-1"),
        ("LINDEX l abc", NOTINT),
        ("LINDEX l 1.0", NOTINT),
        ("LSET nokey 0 x", "-ERR no such key"),
        ("LSET nokey abc x", "-ERR no such key"),
        ("LSET l 1 B", "+OK"),
        ("LSET l -1 C", "+OK"),
        ("LSET l 3 x", "-ERR index out of range"),
        ("LSET l -4 x", "-ERR index out of range"),
        ("LSET l x x", NOTINT),
        ("LRANGE l 0 -1", r#"["a", "B", "C"]"#),
        ("@resp3", ""),
        ("LINDEX l 5", "_"),
        ("LINDEX nokey 5", "_"),
    ]);
}

#[test]
fn lrange_ltrim() {
    both(&[
        ("LRANGE nokey 0 -1", "[]"),
        ("LRANGE nokey x 1", NOTINT),
        ("RPUSH l a b c d e", ":5"),
        ("LRANGE l 0 0", r#"["a"]"#),
        ("LRANGE l -100 100", r#"["a", "b", "c", "d", "e"]"#),
        ("LRANGE l 3 1", "[]"),
        ("LRANGE l 5 10", "[]"),
        ("LRANGE l -1 -2", "[]"),
        ("LRANGE l 0 -9223372036854775808", "[]"),
        (
            "LRANGE l -9223372036854775808 9223372036854775807",
            r#"["a", "b", "c", "d", "e"]"#,
        ),
        ("LRANGE l 1 x", NOTINT),
        ("LTRIM nokey 0 1", "+OK"),
        ("LTRIM l x 1", NOTINT),
        ("LTRIM l 1 -2", "+OK"),
        ("LRANGE l 0 -1", r#"["b", "c", "d"]"#),
        ("LTRIM l -100 100", "+OK"),
        ("LLEN l", ":3"),
        ("LTRIM l 2 1", "+OK"),
        ("EXISTS l", ":0"),
        ("RPUSH l a b", ":2"),
        ("LTRIM l 5 10", "+OK"),
        ("EXISTS l", ":0"),
    ]);
}

#[test]
fn lrange_across_ring_buffer_wrap() {
    // Pushes at both ends make the deque wrap; ranges must still be right.
    let s = Server::start(&[]);
    let mut raw = s.raw();
    let mut model: std::collections::VecDeque<String> = Default::default();
    for i in 0..40 {
        let v = format!("v{i}");
        if i % 3 == 0 {
            send(&mut raw, &format!("LPUSH w {v}"));
            model.push_front(v);
        } else {
            send(&mut raw, &format!("RPUSH w {v}"));
            model.push_back(v);
        }
        if i % 7 == 0 {
            send(&mut raw, "LPOP w");
            model.pop_front();
        }
    }
    let n = model.len() as i64;
    for start in -n - 2..n + 2 {
        for stop in [start, start + 1, start + 5, -1, n + 3] {
            let got = send(&mut raw, &format!("LRANGE w {start} {stop}"));
            let s0 = if start < 0 { (n + start).max(0) } else { start };
            let e0 = if stop < 0 { n + stop } else { stop.min(n - 1) };
            let want: Vec<String> = if s0 > e0 || s0 >= n {
                vec![]
            } else {
                (s0..=e0)
                    .map(|i| format!("{:?}", model[i as usize]))
                    .collect()
            };
            assert_eq!(
                got,
                format!("[{}]", want.join(", ")),
                "LRANGE w {start} {stop}"
            );
        }
    }
}

#[test]
fn lrem_linsert() {
    both(&[
        ("LREM nokey 0 a", ":0"),
        ("LREM nokey x a", NOTINT),
        ("RPUSH l a b a c a b a", ":7"),
        ("LREM l 2 a", ":2"),
        ("LRANGE l 0 -1", r#"["b", "c", "a", "b", "a"]"#),
        ("LREM l -1 b", ":1"),
        ("LRANGE l 0 -1", r#"["b", "c", "a", "a"]"#),
        ("LREM l 0 a", ":2"),
        ("LREM l 0 zz", ":0"),
        ("LREM l -9223372036854775807 zz", ":0"),
        ("LREM l -9223372036854775808 b", ":1"),
        ("LREM l 1 c", ":1"),
        ("EXISTS l", ":0"),
        ("LINSERT nokey BEFORE a b", ":0"),
        ("LINSERT nokey middle a b", SYNTAX),
        ("RPUSH l a c", ":2"),
        ("LINSERT l before c b", ":3"),
        ("LINSERT l AFTER c d", ":4"),
        ("LINSERT l after zz x", ":-1"),
        ("LINSERT l BEFORE a _", ":5"),
        ("LRANGE l 0 -1", r#"["_", "a", "b", "c", "d"]"#),
        ("LINSERT l aft a b", SYNTAX),
    ]);
}

#[test]
fn lpos_options() {
    both(&[
        ("LPOS nokey a", "$-1"),
        ("LPOS nokey a COUNT 0", "[]"),
        (
            "LPOS nokey a RANK 0",
            "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
        ),
        ("RPUSH l a b c 1 2 3 c c", ":8"),
        ("LPOS l c", ":2"),
        ("LPOS l c RANK 2", ":6"),
        ("LPOS l c RANK -1", ":7"),
        ("LPOS l c RANK -3", ":2"),
        ("LPOS l c RANK 4", "$-1"),
        ("LPOS l c COUNT 2", "[:2, :6]"),
        ("LPOS l c COUNT 0", "[:2, :6, :7]"),
        ("LPOS l c COUNT 0 RANK -1", "[:7, :6, :2]"),
        ("LPOS l c COUNT 2 RANK 2", "[:6, :7]"),
        ("LPOS l c COUNT 0 MAXLEN 7", "[:2, :6]"),
        ("LPOS l c RANK -1 MAXLEN 1", ":7"),
        ("LPOS l c RANK -1 MAXLEN 1 COUNT 0", "[:7]"),
        ("LPOS l c MAXLEN 2", "$-1"),
        ("LPOS l zz COUNT 1", "[]"),
        ("LPOS l c COUNT -1", "-ERR COUNT can't be negative"),
        ("LPOS l c COUNT x", "-ERR COUNT can't be negative"),
        ("LPOS l c MAXLEN -1", "-ERR MAXLEN can't be negative"),
        ("LPOS l c RANK x", NOTINT),
        ("LPOS l c RANK -9223372036854775808", ":7"),
        ("LPOS l c RANK -9223372036854775808 COUNT 1", "[:7, :6, :2]"),
        (
            "LPOS l c RANK -9223372036854775808 COUNT 2 MAXLEN 2",
            "[:7, :6]",
        ),
        ("LPOS l c RANK -9223372036854775807 COUNT 0", "[]"),
        ("LPOS l c RANK 9223372036854775807", "$-1"),
        ("LPOS l c RANK", SYNTAX),
        ("LPOS l c FOO 1", SYNTAX),
        ("LPOS l c rank 1 count 1 maxlen 0", "[:2]"),
        ("@resp3", ""),
        ("LPOS l zz", "_"),
    ]);
}

#[test]
fn lmove_rpoplpush() {
    both(&[
        ("LMOVE nokey dst LEFT RIGHT", "$-1"),
        ("LMOVE nokey dst up RIGHT", SYNTAX),
        ("LMOVE nokey dst LEFT down", SYNTAX),
        ("RPUSH src a b c", ":3"),
        ("LMOVE src dst LEFT RIGHT", r#""a""#),
        ("LMOVE src dst right left", r#""c""#),
        ("LRANGE dst 0 -1", r#"["c", "a"]"#),
        ("RPOPLPUSH src dst", r#""b""#),
        ("EXISTS src", ":0"),
        ("LRANGE dst 0 -1", r#"["b", "c", "a"]"#),
        ("LMOVE dst dst LEFT RIGHT", r#""b""#),
        ("LRANGE dst 0 -1", r#"["c", "a", "b"]"#),
        ("RPOPLPUSH dst dst", r#""b""#),
        ("LRANGE dst 0 -1", r#"["b", "c", "a"]"#),
        ("RPUSH one x", ":1"),
        ("LMOVE one one LEFT LEFT", r#""x""#),
        ("LRANGE one 0 -1", r#"["x"]"#),
        ("SET str v", "+OK"),
        ("LMOVE dst str LEFT LEFT", WRONGTYPE),
        ("LRANGE dst 0 -1", r#"["b", "c", "a"]"#),
        ("LMOVE str dst LEFT LEFT", WRONGTYPE),
        ("LMOVE nokey str LEFT LEFT", "$-1"),
        ("RPOPLPUSH dst str", WRONGTYPE),
        ("@resp3", ""),
        ("RPOPLPUSH nokey dst", "_"),
    ]);
}

#[test]
fn lmpop() {
    both(&[
        ("LMPOP 0 a LEFT", "-ERR numkeys should be greater than 0"),
        ("LMPOP -1 a LEFT", "-ERR numkeys should be greater than 0"),
        ("LMPOP x a LEFT", "-ERR numkeys should be greater than 0"),
        ("LMPOP 2 a LEFT", SYNTAX),
        ("LMPOP 9223372036854775807 a LEFT", SYNTAX),
        ("LMPOP 1 a MIDDLE", SYNTAX),
        (
            "LMPOP 1 a LEFT COUNT 0",
            "-ERR count should be greater than 0",
        ),
        (
            "LMPOP 1 a LEFT COUNT x",
            "-ERR count should be greater than 0",
        ),
        ("LMPOP 1 a LEFT COUNT 1 COUNT 1", SYNTAX),
        ("LMPOP 1 a LEFT COUNT", SYNTAX),
        ("LMPOP 1 a LEFT FOO", SYNTAX),
        ("LMPOP 2 a b LEFT", "*-1"),
        ("RPUSH b 1 2 3", ":3"),
        ("LMPOP 2 a b LEFT", r#"["b", ["1"]]"#),
        ("LMPOP 2 a b RIGHT COUNT 5", r#"["b", ["3", "2"]]"#),
        ("EXISTS b", ":0"),
        ("SET s v", "+OK"),
        ("RPUSH c x", ":1"),
        ("LMPOP 3 a s c LEFT", WRONGTYPE),
        ("LMPOP 3 a c s left count 1", r#"["c", ["x"]]"#),
        (
            "LMPOP 1 a",
            "-ERR wrong number of arguments for 'lmpop' command",
        ),
        ("@resp3", ""),
        ("LMPOP 1 a LEFT", "_"),
    ]);
}

#[test]
fn blocking_forms_when_data_is_there() {
    both(&[
        ("RPUSH l a b c", ":3"),
        ("BLPOP nokey l 0", r#"["l", "a"]"#),
        ("BRPOP l 1.5", r#"["l", "c"]"#),
        ("BLPOP l x", "-ERR timeout is not a float or out of range"),
        ("BLPOP l -1", "-ERR timeout is negative"),
        ("BLPOP l inf", "-ERR timeout is negative"),
        ("BLPOP l 1e400", "-ERR timeout is negative"),
        ("BLPOP l nan", "-ERR timeout is not a float or out of range"),
        (
            "BLPOP l 1e5000",
            "-ERR timeout is not a float or out of range",
        ),
        (
            "BLPOP l \" 1\"",
            "-ERR timeout is not a float or out of range",
        ),
        (
            "BLPOP l",
            "-ERR wrong number of arguments for 'blpop' command",
        ),
        ("SET s v", "+OK"),
        ("BLPOP s l 0", WRONGTYPE),
        ("BLPOP nokey s 0", WRONGTYPE),
        ("RPUSH l x y", ":3"),
        ("BLPOP l s 0", r#"["l", "b"]"#),
        ("BRPOPLPUSH l dst 0", r#""y""#),
        ("BLMOVE l dst LEFT RIGHT 0", r#""x""#),
        ("LRANGE dst 0 -1", r#"["y", "x"]"#),
        ("EXISTS l", ":0"),
        ("BLMOVE dst s LEFT RIGHT 0", WRONGTYPE),
        ("BLMOVE s dst LEFT RIGHT 0", WRONGTYPE),
        ("BLMOVE dst x UP RIGHT 0", SYNTAX),
        ("BLMOVE dst x LEFT RIGHT -1", "-ERR timeout is negative"),
        (
            "BRPOPLPUSH dst x abc",
            "-ERR timeout is not a float or out of range",
        ),
        (
            "BLMPOP 0 2 nokey dst RIGHT COUNT 5",
            r#"["dst", ["x", "y"]]"#,
        ),
        (
            "BLMPOP x 1 dst LEFT",
            "-ERR timeout is not a float or out of range",
        ),
        (
            "BLMPOP x 0 dst LEFT",
            "-ERR numkeys should be greater than 0",
        ),
        (
            "BLMPOP -1 1 dst LEFT COUNT 0",
            "-ERR count should be greater than 0",
        ),
        ("BLMPOP -1 1 dst LEFT", "-ERR timeout is negative"),
        ("BLMPOP 0 1 s LEFT", WRONGTYPE),
    ]);
}

#[test]
fn wrongtype_everywhere() {
    both(&[
        ("SET s v", "+OK"),
        ("HSET h f v", ":1"),
        ("LPUSH s a", WRONGTYPE),
        ("RPUSH h a", WRONGTYPE),
        ("LPUSHX s a", WRONGTYPE),
        ("RPUSHX h a", WRONGTYPE),
        ("LPOP s", WRONGTYPE),
        ("RPOP h 2", WRONGTYPE),
        ("LPOP s 0", WRONGTYPE),
        ("LLEN s", WRONGTYPE),
        ("LINDEX h 0", WRONGTYPE),
        ("LSET s 0 x", WRONGTYPE),
        ("LRANGE h 0 -1", WRONGTYPE),
        ("LTRIM s 0 -1", WRONGTYPE),
        ("LREM h 0 x", WRONGTYPE),
        ("LINSERT s BEFORE a b", WRONGTYPE),
        ("LPOS h a", WRONGTYPE),
        ("LMOVE s d LEFT LEFT", WRONGTYPE),
        ("RPOPLPUSH h d", WRONGTYPE),
        ("LMPOP 1 s LEFT", WRONGTYPE),
        ("GET s", r#""v""#),
        ("HGET h f", r#""v""#),
    ]);
}

#[test]
fn big_counts_are_bounded_by_the_data() {
    both(&[
        ("RPUSH l a b", ":2"),
        ("LRANGE l 0 9223372036854775807", r#"["a", "b"]"#),
        ("LPOP l 9223372036854775807", r#"["a", "b"]"#),
        ("RPUSH l a", ":1"),
        (
            "LMPOP 1 l LEFT COUNT 9223372036854775807",
            r#"["l", ["a"]]"#,
        ),
        ("RPUSH l a", ":1"),
        (
            "LPOS l a COUNT 9223372036854775807 MAXLEN 9223372036854775807",
            "[:0]",
        ),
        ("LREM l 9223372036854775807 a", ":1"),
    ]);
}

// ---------------------------------------------------------------------------
// Differential run against real Redis.
// ---------------------------------------------------------------------------

const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "s0", "h0"];
const ELEMS: &[&str] = &[
    "a",
    "b",
    "c",
    "1",
    "-2",
    "\"\"",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "b",
];
const INDEXES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-1",
    "-2",
    "-3",
    "5",
    "-6",
    "100",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "x",
    "1.0",
    "\"\"",
    "+1",
    "01",
];
const COUNTS: &[&str] = &["0", "1", "2", "3", "10", "-1", "x", "9223372036854775807"];
const TIMEOUTS: &[&str] = &["0.01", "0.02", "-1", "abc", "inf", "1e400", "nan"];

fn gen_list_command(r: &mut Rng) -> String {
    let key = |r: &mut Rng| r.pick(KEYS).to_string();
    let elems = |r: &mut Rng, n: usize| (0..n).map(|_| r.pick(ELEMS)).collect::<Vec<_>>().join(" ");
    let side = |r: &mut Rng| {
        r.pick(&["LEFT", "RIGHT", "left", "right", "UP"])
            .to_string()
    };
    match r.below(30) {
        0..=3 => {
            let n = 1 + r.below(4);
            format!(
                "{} {} {}",
                r.pick(&["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]),
                key(r),
                elems(r, n)
            )
        }
        4..=6 => {
            let cmd = r.pick(&["LPOP", "RPOP"]);
            match r.below(4) {
                0 => format!("{cmd} {}", key(r)),
                1 => format!("{cmd} {} {} x", key(r), r.pick(COUNTS)),
                _ => format!("{cmd} {} {}", key(r), r.pick(COUNTS)),
            }
        }
        7 => format!("LLEN {}", key(r)),
        8 => format!("LINDEX {} {}", key(r), r.pick(INDEXES)),
        9 => format!("LSET {} {} {}", key(r), r.pick(INDEXES), r.pick(ELEMS)),
        10..=11 => format!("LRANGE {} {} {}", key(r), r.pick(INDEXES), r.pick(INDEXES)),
        12 => format!("LTRIM {} {} {}", key(r), r.pick(INDEXES), r.pick(INDEXES)),
        13 => format!("LREM {} {} {}", key(r), r.pick(INDEXES), r.pick(ELEMS)),
        14 => format!(
            "LINSERT {} {} {} {}",
            key(r),
            r.pick(&["BEFORE", "AFTER", "after", "x"]),
            r.pick(ELEMS),
            r.pick(ELEMS)
        ),
        15..=16 => {
            let mut s = format!("LPOS {} {}", key(r), r.pick(ELEMS));
            for _ in 0..r.below(4) {
                match r.below(7) {
                    0 | 1 => {
                        s += &format!(" RANK {}", r.pick(&["1", "2", "-1", "-2", "0", "x", "5"]))
                    }
                    2 | 3 => s += &format!(" COUNT {}", r.pick(&["0", "1", "2", "-1", "x"])),
                    4 | 5 => s += &format!(" MAXLEN {}", r.pick(&["0", "1", "3", "-1"])),
                    _ => s += r.pick(&[" FOO 1", " RANK"]),
                }
            }
            s
        }
        17..=18 => format!("LMOVE {} {} {} {}", key(r), key(r), side(r), side(r)),
        19 => format!("RPOPLPUSH {} {}", key(r), key(r)),
        20..=21 => {
            let n = 1 + r.below(3);
            let keys: Vec<String> = (0..n).map(|_| key(r)).collect();
            let numkeys = if r.chance(90) {
                n.to_string()
            } else {
                r.pick(&["0", "x", "9", "-1"]).to_string()
            };
            let mut s = format!("LMPOP {numkeys} {} {}", keys.join(" "), side(r));
            if r.chance(50) {
                s += &format!(" COUNT {}", r.pick(COUNTS));
            }
            s
        }
        22 => {
            let n = 1 + r.below(3);
            let keys: Vec<String> = (0..n).map(|_| key(r)).collect();
            format!(
                "{} {} {}",
                r.pick(&["BLPOP", "BRPOP"]),
                keys.join(" "),
                r.pick(TIMEOUTS)
            )
        }
        23 => format!(
            "BLMOVE {} {} {} {} {}",
            key(r),
            key(r),
            side(r),
            side(r),
            r.pick(TIMEOUTS)
        ),
        24 => format!("BRPOPLPUSH {} {} {}", key(r), key(r), r.pick(TIMEOUTS)),
        25 => {
            let n = 1 + r.below(2);
            let keys: Vec<String> = (0..n).map(|_| key(r)).collect();
            let mut s = format!(
                "BLMPOP {} {n} {} {}",
                r.pick(TIMEOUTS),
                keys.join(" "),
                side(r)
            );
            if r.chance(50) {
                s += &format!(" COUNT {}", r.pick(COUNTS));
            }
            s
        }
        26 => format!("SET {} {}", key(r), r.pick(ELEMS)),
        27 => format!("DEL {}", key(r)),
        28 => format!("TYPE {}", key(r)),
        _ => format!("HSET {} f {}", key(r), r.pick(ELEMS)),
    }
}

#[test]
fn differential_against_redis() {
    let Some(mut d) = Diff::start("list", &[]) else {
        return;
    };
    d.run_lines(4000, gen_list_command);
    // Final state.
    for k in KEYS {
        for line in [format!("TYPE {k}"), format!("LRANGE {k} 0 -1")] {
            d.same(&line);
        }
    }
}

/// Long lists (many chunks, elements past the 8 KB chunk limit): tail
/// pops with and without counts, LSET of big elements into full chunks and
/// back, LREM from either end, LINDEX at the tail, against real Redis.
#[test]
fn differential_long_lists() {
    let Some(mut d) = Diff::start("long list", &[]) else {
        return;
    };
    let elem = |r: &mut Rng| -> Vec<u8> {
        match r.below(100) {
            0 => vec![b'x'; 8200 + r.below(100)],
            1..=3 => vec![b'y'; 1000 + r.below(3000)],
            4..=40 => format!("e{}", r.below(1000)).into_bytes(),
            _ => r.pick(&["a", "b", "c", "dd"]).as_bytes().to_vec(),
        }
    };
    let idx = |r: &mut Rng| (r.below(1200) as i64 - 600).to_string().into_bytes();
    // Start long: four full chunks and a partial one.
    let start: Vec<String> = (0..600).map(|i| format!("s{}", i % 7)).collect();
    d.same(&format!("RPUSH L {}", start.join(" ")));
    let b = |s: &str| s.as_bytes().to_vec();
    let num = |n: i64| n.to_string().into_bytes();
    d.run_argv(3000, |r| match r.below(20) {
        0..=6 => {
            let mut argv = vec![b(r.pick(&["RPUSH", "LPUSH"])), b("L")];
            for _ in 0..1 + r.below(80) {
                argv.push(elem(r));
            }
            argv
        }
        7..=8 => {
            let mut argv = vec![b(r.pick(&["RPOP", "RPOP", "LPOP"])), b("L")];
            if r.chance(50) {
                argv.push(num(r.below(150) as i64));
            }
            argv
        }
        9 => vec![
            b("LMPOP"),
            b("1"),
            b("L"),
            b(r.pick(&["RIGHT", "LEFT"])),
            b("COUNT"),
            num(1 + r.below(200) as i64),
        ],
        10..=11 => vec![b("LSET"), b("L"), idx(r), elem(r)],
        12 if r.chance(50) => vec![b("LINDEX"), b("L"), b("-1")],
        12 => vec![b("LINDEX"), b("L"), idx(r)],
        13 => vec![
            b("LREM"),
            b("L"),
            num(r.below(11) as i64 - 5),
            b(r.pick(&["a", "b", "c", "dd"])),
        ],
        14 => vec![
            b("LINSERT"),
            b("L"),
            b(r.pick(&["BEFORE", "AFTER"])),
            b(r.pick(&["a", "b", "c", "dd"])),
            elem(r),
        ],
        15 => vec![b("LRANGE"), b("L"), idx(r), idx(r)],
        16 => vec![
            b("LPOS"),
            b("L"),
            b(r.pick(&["a", "b", "dd"])),
            b("RANK"),
            b(r.pick(&["-1", "-3", "2"])),
            b("COUNT"),
            b(r.pick(&["0", "5"])),
        ],
        17 if r.chance(20) => vec![b("LTRIM"), b("L"), idx(r), idx(r)],
        _ => vec![b("LLEN"), b("L")],
    });
    d.same("LRANGE L 0 -1");
    d.same("LLEN L");
}

/// Integer-looking elements (memkv stores canonical integers as integer
/// entries, like Redis's listpack): every width's bounds, and strings that
/// look like integers but are not canonical ("007", "+5", "-0", " 1",
/// "1e3", one past i64::MAX) must read back byte-identical; LREM, LPOS,
/// LINSERT's pivot and SORT compare them as Redis does ("10" equals the
/// integer 10, "010" does not). A short (packed) and a long (chunked) list,
/// then DUMP/RESTORE across the two servers both ways.
#[test]
fn differential_integer_elements() {
    let Some(mut d) = Diff::start("integer elements", &["--enable-debug-command", "yes"]) else {
        return;
    };
    const INTISH: &[&str] = &[
        "0",
        "1",
        "-1",
        "10",
        "63",
        "64",
        "127",
        "128",
        "-64",
        "-4096",
        "-4097",
        "4095",
        "4096",
        "524287",
        "524288",
        "-524289",
        "8388607",
        "8388608",
        "-8388609",
        "2147483647",
        "2147483648",
        "-2147483649",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-9223372036854775809",
        "007",
        "010",
        "+5",
        "-0",
        " 1",
        "1 ",
        "1e3",
        "1.0",
        "00",
        "-",
        "",
        "x",
    ];
    let elem = |r: &mut Rng| -> Vec<u8> {
        if r.chance(70) {
            r.pick(INTISH).as_bytes().to_vec()
        } else {
            // Random integers of 1 to 19 digits, either sign.
            let digits = 1 + r.below(19) as u32;
            let v = (r.next() % 10u64.pow(digits)) as i64;
            let v = if r.chance(30) { -v } else { v };
            v.to_string().into_bytes()
        }
    };
    let b = |s: &str| s.as_bytes().to_vec();
    let num = |n: i64| n.to_string().into_bytes();
    let long: Vec<String> = (0..700)
        .map(|i| ((i * 7919) % 100_000 - 500).to_string())
        .collect();
    d.same(&format!("RPUSH L {}", long.join(" ")));
    d.run_argv(3000, |r| {
        let key = b(r.pick(&["S", "S", "L"]));
        let idx = |r: &mut Rng| num(r.below(80) as i64 - 40);
        match r.below(16) {
            0..=3 => {
                let mut argv = vec![b(r.pick(&["RPUSH", "LPUSH"])), key];
                for _ in 0..1 + r.below(5) {
                    argv.push(elem(r));
                }
                argv
            }
            4 => vec![b(r.pick(&["RPOP", "LPOP"])), key, num(r.below(4) as i64)],
            5 => vec![b("LSET"), key, idx(r), elem(r)],
            6 => vec![
                b("LINSERT"),
                key,
                b(r.pick(&["BEFORE", "AFTER"])),
                elem(r),
                elem(r),
            ],
            7 => vec![b("LREM"), key, num(r.below(5) as i64 - 2), elem(r)],
            8 => vec![
                b("LPOS"),
                key,
                elem(r),
                b("RANK"),
                b(r.pick(&["1", "-1", "2"])),
                b("COUNT"),
                b("0"),
            ],
            9 => vec![b("LINDEX"), key, idx(r)],
            10 => vec![b("LRANGE"), key, idx(r), idx(r)],
            11 => vec![
                b("LMOVE"),
                key,
                b(r.pick(&["S", "L"])),
                b("LEFT"),
                b("RIGHT"),
            ],
            12 => vec![b("SORT"), b("S"), b(r.pick(&["ALPHA", "DESC"]))],
            13 if r.chance(10) => vec![b("LTRIM"), b("S"), b("0"), num(r.below(100) as i64)],
            _ => vec![b("LRANGE"), b("S"), b("0"), b("-1")],
        }
    });
    for k in ["S", "L"] {
        d.same(&format!("LRANGE {k} 0 -1"));
    }
    d.same_digest();
    // DUMP payloads cross over (each side's integer entries loaded by the
    // other) and read back the same.
    for k in ["S", "L"] {
        let from_redis = d.redis.cmd(&[b"DUMP", k.as_bytes()]);
        let from_ours = d.ours.cmd(&[b"DUMP", k.as_bytes()]);
        let payload = |reply: &[u8]| -> Vec<u8> {
            let nl = reply.iter().position(|&c| c == b'\n').unwrap();
            reply[nl + 1..reply.len() - 2].to_vec()
        };
        if from_redis.starts_with(b"$-1") {
            assert_eq!(from_ours, from_redis);
            continue;
        }
        let (pr, po) = (payload(&from_redis), payload(&from_ours));
        assert_eq!(
            d.ours.cmd(&[b"RESTORE", b"X", b"0", &pr, b"REPLACE"]),
            b"+OK\r\n"
        );
        assert_eq!(
            d.redis.cmd(&[b"RESTORE", b"X", b"0", &po, b"REPLACE"]),
            b"+OK\r\n"
        );
        d.same("LRANGE X 0 -1");
        d.same_digest();
    }
}
