//! Bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
//! BITFIELD_RO) through the real protocol: exact replies and error texts
//! of the edge cases (each script also runs against real Redis), a seeded
//! differential run of random commands compared byte for byte with real
//! Redis (`MEMKV_SEED` replays a seed), WATCH, rollback, AOF and the far
//! offset bound.

mod common;

use common::Server;
use common::diff::Diff;
use common::script::*;

const BAD_OFFSET: &str = "-ERR bit offset is not an integer or out of range";
const BAD_TYPE: &str = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[test]
fn setbit_getbit_edges() {
    both(&[
        ("setbit k 7 1", ":0"),
        ("get k", "\"\\u{1}\""),
        ("setbit k 7 1", ":1"),
        ("setbit k 7 0", ":1"),
        ("getbit k 7", ":0"),
        ("setbit k 0 1", ":0"),
        ("getbit k 0", ":1"),
        ("getbit k 100000", ":0"),
        ("getbit nokey 3", ":0"),
        ("setbit k 15 1", ":0"),
        ("strlen k", ":2"),
        ("setbit k -1 1", BAD_OFFSET),
        ("setbit k abc 1", BAD_OFFSET),
        ("setbit k 4294967296 1", BAD_OFFSET),
        ("getbit k 4294967296", BAD_OFFSET),
        ("getbit k -1", BAD_OFFSET),
        ("setbit k 1 2", "-ERR bit is not an integer or out of range"),
        (
            "setbit k 1 -1",
            "-ERR bit is not an integer or out of range",
        ),
        ("setbit k 1 x", "-ERR bit is not an integer or out of range"),
        ("lpush l a", ":1"),
        ("setbit l 1 1", WRONGTYPE),
        ("getbit l 1", WRONGTYPE),
        ("getbit l -1", BAD_OFFSET),
        ("set n 1", "+OK"),
        ("getbit n 2", ":1"),
        ("setbit n 7 0", ":1"),
        ("get n", "\"0\""),
        ("@resp3", ""),
        ("setbit k 1 1", ":0"),
    ]);
}

#[test]
fn bitcount_and_bitpos_ranges() {
    both(&[
        ("set s foobar", "+OK"),
        ("bitcount s", ":26"),
        ("bitcount s 0 0", ":4"),
        ("bitcount s 1 1", ":6"),
        ("bitcount s 1 1 byte", ":6"),
        ("bitcount s 5 30 bit", ":17"),
        ("bitcount s -1 -1 BIT", ":0"),
        ("bitcount s -2 -3", ":0"),
        ("bitcount s 0 -1 bad", SYNTAX),
        ("bitcount s 0", SYNTAX),
        ("bitcount s a 1", NOTINT),
        ("bitcount nokey", ":0"),
        ("bitcount nokey 0", ":0"),
        ("bitcount s 100 200", ":0"),
        ("bitcount s 9223372036854775807 -1", ":0"),
        ("bitcount s 9223372036854775807 -1 bit", ":0"),
        ("bitcount s -9223372036854775808 9223372036854775807", ":26"),
        (
            "bitcount s -9223372036854775808 9223372036854775807 bit",
            ":26",
        ),
        ("bitpos s 1 9223372036854775807", ":-1"),
        ("bitpos s 0 9223372036854775807 -1 bit", ":-1"),
        ("bitpos s 1 -9223372036854775808 9223372036854775807", ":1"),
        (
            "bitpos s 0 -9223372036854775808 9223372036854775807 bit",
            ":0",
        ),
        ("set z \"\"", "+OK"),
        ("bitcount z 0 -1", ":0"),
        ("bitpos s 1", ":1"),
        ("bitpos s 0", ":0"),
        ("bitpos nokey 1", ":-1"),
        ("bitpos nokey 0", ":0"),
        ("bitpos s 2", "-ERR The bit argument must be 1 or 0."),
        ("bitpos s 1 2 -1 bit", ":2"),
        ("bitpos s 1 7 15 bit", ":9"),
        ("bitpos s 0 0 -1 byte", ":0"),
        ("bitpos s 1 1 0", ":-1"),
        ("bitpos s 1 0 0 bad", SYNTAX),
        ("bitpos s 1 0 0 bit x", SYNTAX),
        ("bitpos s 1 x", NOTINT),
        ("set f \"\"", "+OK"),
        ("bitpos f 0", ":-1"),
        ("lpush l a", ":1"),
        ("bitcount l", WRONGTYPE),
        ("bitpos l 1", WRONGTYPE),
    ]);
}

#[test]
fn bitop_edges() {
    both(&[
        ("set a abc", "+OK"),
        ("set b AB", "+OK"),
        ("bitop and d a b", ":3"),
        ("get d", "\"AB\\0\""),
        ("bitop or d a b nokey", ":3"),
        ("bitop xor d a a", ":3"),
        ("get d", "\"\\0\\0\\0\""),
        ("bitop not d a", ":3"),
        (
            "bitop not d a b",
            "-ERR BITOP NOT must be called with a single source key.",
        ),
        ("bitop nand d a b", SYNTAX),
        ("expire d 100", ":1"),
        ("bitop and d nokey nokey2", ":0"),
        ("exists d", ":0"),
        ("bitop or d a", ":3"),
        ("ttl d", ":-1"),
        ("lpush l x", ":1"),
        ("bitop and d a l", WRONGTYPE),
        ("bitop and l a", ":3"),
        ("type l", "+string"),
    ]);
}

#[test]
fn bitfield_edges() {
    both(&[
        (
            "bitfield k set i8 0 -100 get i8 0 incrby u4 3 20",
            "[:0, :-100, :2]",
        ),
        (
            "bitfield k get i64 0 get u63 1 get i1 7",
            "[:-8935141660703064064, :288230376151711744, :0]",
        ),
        (
            "bitfield k overflow sat incrby i8 0 -100 incrby u2 100 10",
            "[:-128, :3]",
        ),
        (
            "bitfield k overflow fail incrby i8 0 -1 incrby i8 0 1",
            "[$-1, :-127]",
        ),
        ("bitfield k overflow wrap incrby u8 8 300", "[:44]"),
        (
            "bitfield k set u8 #2 255 get u8 16 get u8 #2",
            "[:0, :255, :255]",
        ),
        (
            "bitfield k set i64 0 -9223372036854775808 incrby i64 0 -1",
            "[:-9138649168376496128, :9223372036854775807]",
        ),
        (
            "bitfield k overflow sat set u8 0 -1 get u8 0",
            "[:127, :255]",
        ),
        ("bitfield k get u64 0", BAD_TYPE),
        ("bitfield k get i65 0", BAD_TYPE),
        ("bitfield k get i0 0", BAD_TYPE),
        ("bitfield k get x8 0", BAD_TYPE),
        ("bitfield k get i8 -1", BAD_OFFSET),
        ("bitfield k get i8 4294967296", BAD_OFFSET),
        ("bitfield k get i8 #536870912", BAD_OFFSET),
        ("bitfield k set i8 0 x", NOTINT),
        (
            "bitfield k overflow maybe",
            "-ERR Invalid OVERFLOW type specified",
        ),
        ("bitfield k bogus", SYNTAX),
        ("bitfield k get i8", SYNTAX),
        ("bitfield k set i8 0", SYNTAX),
        ("bitfield k", "[]"),
        ("bitfield nokey get i8 0", "[:0]"),
        ("exists nokey", ":0"),
        ("bitfield_ro k get u8 0 get i4 4", "[:255, :-1]"),
        (
            "bitfield_ro k set u8 0 1",
            "-ERR BITFIELD_RO only supports the GET subcommand",
        ),
        (
            "bitfield_ro k get u8 0 incrby u8 0 1",
            "-ERR BITFIELD_RO only supports the GET subcommand",
        ),
        ("bitfield_ro k get u99 0", BAD_TYPE),
        ("lpush l a", ":1"),
        ("bitfield l get u8 0", WRONGTYPE),
        ("bitfield l set u8 0 1", WRONGTYPE),
        ("bitfield_ro l get u8 0", WRONGTYPE),
        ("@resp3", ""),
        ("bitfield k overflow fail incrby u8 0 1", "[_]"),
    ]);
}

// ---------------------------------------------------------------------------
// Differential run.
// ---------------------------------------------------------------------------

const KEYS: &[&str] = &["b1", "b2", "b3", "{b}4", "str", "lst"];

fn gen_bit_command(r: &mut Rng) -> Vec<Vec<u8>> {
    let key = |r: &mut Rng| r.pick(KEYS).to_string();
    let small = |r: &mut Rng| match r.below(30) {
        0 => i64::MAX.to_string(),
        1 => i64::MIN.to_string(),
        2 => "-1099511627776".to_string(),
        _ => (r.below(60) as i64 - 30).to_string(),
    };
    let offset = |r: &mut Rng| match r.below(20) {
        0 => "-1".to_string(),
        1 => "x".to_string(),
        2 => "4294967296".to_string(),
        3 => (r.below(200_000)).to_string(),
        _ => r.below(300).to_string(),
    };
    let unit = |r: &mut Rng| r.pick(&["BIT", "byte", "bit", "BYTE", "bits"]).to_string();
    let ftype = |r: &mut Rng| {
        r.pick(&[
            "i1", "i5", "i8", "i16", "i32", "i63", "i64", "u1", "u7", "u8", "u16", "u33", "u63",
            "u64", "i0", "i65", "x8",
        ])
        .to_string()
    };
    let fval = |r: &mut Rng| match r.below(8) {
        0 => "9223372036854775807".to_string(),
        1 => "-9223372036854775808".to_string(),
        2 => "z".to_string(),
        3 => (r.next() as i64).to_string(),
        _ => (r.below(1200) as i64 - 600).to_string(),
    };
    let foff = |r: &mut Rng| {
        if r.chance(20) {
            format!("#{}", r.below(20))
        } else if r.chance(3) {
            "-3".to_string()
        } else {
            r.below(140).to_string()
        }
    };
    let s = |v: &[String]| v.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    let line: Vec<String> = match r.below(100) {
        0..=19 => {
            let v = r.pick(&["0", "1", "1", "0", "2", "-1", "x"]).to_string();
            vec!["SETBIT".into(), key(r), offset(r), v]
        }
        20..=29 => vec!["GETBIT".into(), key(r), offset(r)],
        30..=41 => {
            let mut v = vec!["BITCOUNT".into(), key(r)];
            match r.below(5) {
                0 => {}
                1 => v.push(small(r)),
                2 => {
                    v.push(small(r));
                    v.push(small(r));
                }
                _ => {
                    v.push(small(r));
                    v.push(small(r));
                    v.push(unit(r));
                }
            }
            v
        }
        42..=55 => {
            let bit = r.pick(&["0", "1", "1", "0", "2"]).to_string();
            let mut v = vec!["BITPOS".into(), key(r), bit];
            let extra = r.below(5);
            if extra >= 1 {
                v.push(small(r));
            }
            if extra >= 2 {
                v.push(small(r));
            }
            if extra >= 3 {
                v.push(unit(r));
            }
            if extra == 4 && r.chance(30) {
                v.push("x".into());
            }
            v
        }
        56..=65 => {
            let op = r
                .pick(&["AND", "or", "XOR", "not", "NOT", "and", "nand"])
                .to_string();
            let mut v = vec!["BITOP".into(), op, key(r)];
            for _ in 0..1 + r.below(3) {
                v.push(if r.chance(15) {
                    "missing".into()
                } else {
                    key(r)
                });
            }
            v
        }
        66..=82 => {
            let ro = r.chance(20);
            let mut v = vec![
                if ro { "BITFIELD_RO" } else { "BITFIELD" }.to_string(),
                key(r),
            ];
            for _ in 0..r.below(4) {
                match r.below(10) {
                    0..=2 => v.extend(["GET".into(), ftype(r), foff(r)]),
                    3..=5 => v.extend(["SET".into(), ftype(r), foff(r), fval(r)]),
                    6..=8 => v.extend(["INCRBY".into(), ftype(r), foff(r), fval(r)]),
                    _ => v.extend([
                        "OVERFLOW".into(),
                        r.pick(&["WRAP", "sat", "FAIL", "fail", "nope"]).to_string(),
                    ]),
                }
            }
            if r.chance(3) {
                v.push("GET".into());
            }
            v
        }
        83..=86 => {
            let val = r
                .pick(&["foobar", "\u{7f}", "", "12345", "abc"])
                .to_string();
            vec!["SET".into(), key(r), val]
        }
        87..=89 => vec!["APPEND".into(), key(r), "xy".into()],
        90..=92 => vec!["DEL".into(), key(r)],
        93..=94 => vec!["RPUSH".into(), "lst".into(), "e".into()],
        _ => vec!["GET".into(), key(r)],
    };
    s(&line)
}

#[test]
fn differential_against_redis() {
    let Some(mut d) = Diff::start("bitmap", &[]) else {
        return;
    };
    d.run_argv(6000, gen_bit_command);
    for k in KEYS {
        let argv: [&[u8]; 2] = [b"GET", k.as_bytes()];
        assert_eq!(
            d.ours.cmd(&argv),
            d.redis.cmd(&argv),
            "seed {}: final GET {k}",
            d.seed
        );
    }
}

// ---------------------------------------------------------------------------
// Around the commands: WATCH, rollback, AOF, far offsets.
// ---------------------------------------------------------------------------

#[test]
fn watch_sees_bit_writes_but_not_no_ops() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    send(&mut a, "setbit k 3 1");
    // A SETBIT that changes nothing does not touch the key (as Redis).
    send(&mut a, "watch k");
    send(&mut b, "setbit k 3 1");
    send(&mut b, "bitfield k set u1 3 1");
    send(&mut a, "multi");
    send(&mut a, "get k");
    assert_eq!(send(&mut a, "exec"), "[\"\\u{10}\"]");
    // Nor does a BITFIELD whose writes all fail, though it pads the
    // string or creates the key (Redis 7.0.15 does not signal that).
    send(&mut a, "setbit pad 3 1");
    send(&mut a, "watch pad new");
    send(&mut b, "bitfield pad overflow fail set u2 30 9");
    send(&mut b, "bitfield new overflow fail incrby u2 0 5");
    send(&mut a, "multi");
    send(&mut a, "strlen pad");
    send(&mut a, "strlen new");
    assert_eq!(send(&mut a, "exec"), "[:4, :1]");
    // Also inside another client's transaction, unless a write follows.
    for (then, want) in [("ping", "[:8]"), ("setbit pad 0 1", "*-1")] {
        send(&mut a, "watch pad");
        send(&mut b, "multi");
        send(&mut b, "bitfield pad overflow fail set u2 60 9");
        send(&mut b, then);
        send(&mut b, "exec");
        send(&mut a, "multi");
        send(&mut a, "strlen pad");
        assert_eq!(send(&mut a, "exec"), want, "{then}");
    }
    for w in [
        "setbit k 4 1",
        "bitfield k incrby u8 0 1",
        "bitop or k k other",
    ] {
        send(&mut a, "watch k");
        send(&mut b, w);
        send(&mut a, "multi");
        send(&mut a, "get k");
        assert_eq!(send(&mut a, "exec"), "*-1", "{w}");
    }
    send(&mut b, "set other \"\\x01\"");
}

/// A key written, then - after a FLUSHDB or SWAPDB, which start the
/// journal's key records anew - changed again by a BITFIELD whose writes
/// all fail, in one transaction or script: the first change still touches
/// another client's WATCH at commit (the quiet record is the second one
/// only), as in Redis 7.0.15.
#[test]
fn a_quiet_bitfield_after_a_flush_keeps_the_earlier_write_signalled() {
    let Some(r) = Server::start_redis(&[]) else {
        return;
    };
    let s = Server::start(&[]);
    for srv in [&s, &r] {
        let mut a = srv.raw();
        let mut b = srv.raw();
        for between in ["flushdb", "swapdb 0 1"] {
            for script in [false, true] {
                send(&mut a, "set k v");
                send(&mut a, "watch k");
                if script {
                    let call = |c: &str| format!("redis.call({c})");
                    let body = [
                        call("'del', KEYS[1]"),
                        call(
                            &between
                                .split(' ')
                                .map(|w| format!("'{w}'"))
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
                        call("'bitfield', KEYS[1], 'overflow', 'fail', 'incrby', 'u8', 0, 300"),
                    ]
                    .join(" ");
                    send(&mut b, &format!("eval \"{body}\" 1 k"));
                } else {
                    send(&mut b, "multi");
                    send(&mut b, "del k");
                    send(&mut b, between);
                    send(&mut b, "bitfield k overflow fail incrby u8 0 300");
                    send(&mut b, "exec");
                }
                send(&mut a, "multi");
                send(&mut a, "ping");
                assert_eq!(send(&mut a, "exec"), "*-1", "{between}, script {script}");
                send(&mut a, "flushall");
            }
        }
    }
}

#[test]
fn failed_transaction_rolls_bit_writes_back() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    send(&mut a, "setbit k 1 1");
    send(&mut a, "multi");
    send(&mut a, "setbit k 100 1");
    send(&mut a, "bitfield k set u8 0 255");
    send(&mut a, "bitop not k2 k");
    send(&mut a, "lpush k x");
    let exec = send(&mut a, "exec");
    assert!(exec.contains("WRONGTYPE"), "{exec}");
    assert_eq!(send(&mut a, "get k"), "\"@\"");
    assert_eq!(send(&mut a, "exists k2"), ":0");
}

#[test]
fn aof_replays_bit_writes() {
    let dir = common::temp_dir("bitmap-aof");
    let mut first = Server::start_in(&dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let final_state = {
        let mut a = first.raw();
        for c in [
            "setbit k 10 1",
            "setbit k 10 1",
            "setbit k 1000 1",
            "bitfield k overflow sat incrby i8 0 200 set u4 #3 9",
            "bitfield k overflow fail incrby u8 8 300",
            "bitop xor d k nokey",
            "bitop and gone nokey",
        ] {
            send(&mut a, c);
        }
        (send(&mut a, "get k"), send(&mut a, "get d"))
    };
    first.kill9();
    let s = Server::start_in(&dir, &["--appendonly", "yes"]);
    let mut a = s.raw();
    assert_eq!((send(&mut a, "get k"), send(&mut a, "get d")), final_state);
    assert_eq!(send(&mut a, "exists gone"), ":0");
}

#[test]
fn far_offsets_follow_proto_max_bulk_len() {
    // A smaller limit shows the bound without allocating 512 MB.
    for server in [Some(Server::start(&[])), Server::start_redis(&[])]
        .into_iter()
        .flatten()
    {
        let mut a = server.raw();
        assert_eq!(send(&mut a, "config set proto-max-bulk-len 1mb"), "+OK");
        assert_eq!(send(&mut a, "setbit k 8388607 1"), ":0");
        assert_eq!(send(&mut a, "strlen k"), ":1048576");
        assert_eq!(send(&mut a, "setbit k 8388608 1"), BAD_OFFSET);
        assert_eq!(send(&mut a, "bitfield k get u8 8388608"), BAD_OFFSET);
        assert_eq!(send(&mut a, "bitfield k get u8 #1048576"), BAD_OFFSET);
        assert_eq!(send(&mut a, "bitfield k set u8 #1048575 7"), "[:1]");
        assert_eq!(send(&mut a, "bitcount k"), ":3");
        assert_eq!(send(&mut a, "bitpos k 1 -1"), ":8388605");
    }
}

#[test]
fn setbit_at_the_last_offset() {
    // 2^32-1: a 512 MB string on a missing key; memkv's zeroed pages stay
    // untouched (calloc), and other clients are served afterwards.
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(send(&mut a, "setbit big 4294967295 1"), ":0");
    assert_eq!(send(&mut b, "ping"), "+PONG");
    assert_eq!(send(&mut a, "strlen big"), ":536870912");
    assert_eq!(send(&mut a, "getbit big 4294967295"), ":1");
    assert_eq!(send(&mut a, "bitpos big 1"), ":4294967295");
    assert_eq!(send(&mut a, "del big"), ":1");
}

/// In a cluster, BITOP's destination and sources (and PFMERGE/PFCOUNT's
/// keys) may live on different nodes: the command runs as an atomic
/// cross-node write and answers as one Redis would; each owner then holds
/// its key.
#[test]
fn cross_node_bitop_and_pfmerge_in_a_cluster() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let cluster = common::cluster::Cluster::start(3, &[]);
    let k: Vec<String> = (0..6)
        .map(|i| cluster.key_on(i % 3, &format!("bits{i}_")))
        .collect();
    let script = [
        format!("SETBIT {} 3 1", k[0]),
        format!("SET {} foobar", k[1]),
        format!("BITOP OR {} {} {}", k[2], k[0], k[1]),
        format!("GET {}", k[2]),
        format!("BITOP AND {} {} {} {}", k[3], k[0], k[1], k[5]),
        format!("GET {}", k[3]),
        format!("BITOP NOT {} {}", k[4], k[1]),
        format!("BITOP XOR {} {} {}", k[4], k[5], k[5]),
        format!("EXISTS {}", k[4]),
        format!("PFADD {} a b c", k[0].replace("bits", "h")),
        format!("PFADD {} c d", k[1]),
        format!("PFADD {} c d", k[5]),
        format!("PFADD {} x y z", k[4]),
        format!("PFMERGE {} {} {}", k[2], k[4], k[5]),
        format!("PFCOUNT {} {}", k[4], k[5]),
        format!("PFMERGE {} {}", k[3], k[5]),
        format!("GET {}", k[3]),
        format!("BITCOUNT {}", k[3]),
    ];
    let mut r = redis.raw();
    let mut nodes: Vec<common::Raw> = cluster.nodes.iter().map(|n| n.raw()).collect();
    for (i, line) in script.iter().enumerate() {
        let node = (i + 1) % 3;
        let want = send(&mut r, line);
        let got = send(&mut nodes[node], line);
        assert_eq!(got, want, "step {i} via node {node}: {line}");
    }
    // BITOP's result lives on the destination's owner.
    let owner = cluster.owner(&k[3]);
    assert_eq!(
        send(&mut cluster.nodes[owner].raw(), &format!("STRLEN {}", k[3])),
        send(&mut r, &format!("STRLEN {}", k[3]))
    );
}
