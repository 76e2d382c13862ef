//! String encodings against real Redis 7.0 (differential; skipped when
//! redis-server is not installed): OBJECT ENCODING, OBJECT REFCOUNT and
//! DEBUG OBJECT's refcount / encoding / serializedlength of strings made by
//! every command that writes one, where Redis decides by history, not by
//! the bytes (APPEND, SETRANGE, SETBIT, BITFIELD, BITOP and the HLL
//! commands leave `raw`, INCRBYFLOAT `embstr`, COPY an unshared integer),
//! then after DEBUG RELOAD (an RDB load re-derives them), after an AOF
//! replay and after an AOF rewrite; and a seeded random mix of string
//! writes with encodings checked after each.

mod common;

use common::DEBUG;
use common::diff::Diff;
use common::script::send;

/// DEBUG OBJECT's refcount, encoding and serializedlength (the address and
/// LRU fields differ between servers).
fn object_fields(line: &str) -> String {
    line.split(' ')
        .filter(|f| {
            ["refcount:", "encoding:", "serializedlength:"]
                .iter()
                .any(|p| f.starts_with(p))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything both servers say about `key`'s encoding, compared.
fn same_encoding(d: &mut Diff, key: &str) -> String {
    let enc = d.same(&format!("OBJECT ENCODING {key}"));
    d.same(&format!("OBJECT REFCOUNT {key}"));
    d.same(&format!("GET {key}"));
    let line = format!("DEBUG OBJECT {key}");
    let (ours, redis) = (send(&mut d.ours, &line), send(&mut d.redis, &line));
    if redis.starts_with('+') {
        assert_eq!(object_fields(&ours), object_fields(&redis), "{key}");
    } else {
        assert_eq!(ours, redis, "{key}");
    }
    enc
}

/// (key, the commands that make it, the encoding Redis reports).
fn cases() -> Vec<(&'static str, Vec<String>, &'static str)> {
    let a = |n: usize| "a".repeat(n);
    let c = |cmds: &[&str]| cmds.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        // tryObjectEncoding: by the bytes.
        ("set_int", c(&["SET set_int 12"]), "\"int\""),
        ("set_int_big", c(&["SET set_int_big 123456"]), "\"int\""),
        ("set_01", c(&["SET set_01 01"]), "\"embstr\""),
        (
            "set_44",
            vec![format!("SET set_44 {}", a(44))],
            "\"embstr\"",
        ),
        ("set_45", vec![format!("SET set_45 {}", a(45))], "\"raw\""),
        ("setnx", c(&["SETNX setnx 7"]), "\"int\""),
        ("setex", c(&["SETEX setex 100 7"]), "\"int\""),
        ("psetex", c(&["PSETEX psetex 100000 x"]), "\"embstr\""),
        ("mset", c(&["MSET mset 5 mset_b y"]), "\"int\""),
        ("msetnx", c(&["MSETNX msetnx 5"]), "\"int\""),
        ("getset", c(&["GETSET getset 9"]), "\"int\""),
        (
            "set_get_keepttl",
            c(&[
                "SET set_get_keepttl 1",
                "APPEND set_get_keepttl 2",
                "SET set_get_keepttl 3 KEEPTTL GET",
            ]),
            "\"int\"",
        ),
        (
            "append_missing",
            c(&["APPEND append_missing 12"]),
            "\"int\"",
        ),
        (
            "append_missing_empty",
            c(&["APPEND append_missing_empty \"\""]),
            "\"embstr\"",
        ),
        // dbUnshareStringValue: raw at any length.
        (
            "append_int",
            c(&["SET append_int 1", "APPEND append_int 2"]),
            "\"raw\"",
        ),
        (
            "append_empty",
            c(&["SET append_empty 5", "APPEND append_empty \"\""]),
            "\"raw\"",
        ),
        (
            "append_to_heap",
            vec![
                format!("SET append_to_heap {}", a(20)),
                format!("APPEND append_to_heap {}", a(10)),
            ],
            "\"raw\"",
        ),
        (
            "append_heap",
            vec![
                format!("SET append_heap {}", a(30)),
                "APPEND append_heap b".into(),
            ],
            "\"raw\"",
        ),
        (
            "setrange_missing",
            c(&["SETRANGE setrange_missing 0 12"]),
            "\"raw\"",
        ),
        (
            "setrange_missing_empty",
            c(&["SETRANGE setrange_missing_empty 3 \"\""]),
            "$-1",
        ),
        (
            "setrange_in_place",
            c(&["SET setrange_in_place a", "SETRANGE setrange_in_place 0 b"]),
            "\"raw\"",
        ),
        (
            "setrange_grow",
            c(&["SET setrange_grow 1", "SETRANGE setrange_grow 1 2"]),
            "\"raw\"",
        ),
        (
            "setrange_to_heap",
            c(&["SET setrange_to_heap 1", "SETRANGE setrange_to_heap 25 2"]),
            "\"raw\"",
        ),
        (
            "setrange_heap",
            vec![
                format!("SET setrange_heap {}", a(30)),
                "SETRANGE setrange_heap 0 b".into(),
            ],
            "\"raw\"",
        ),
        (
            "setrange_empty",
            c(&["SET setrange_empty 5", "SETRANGE setrange_empty 0 \"\""]),
            "\"int\"",
        ),
        (
            "setrange_too_long",
            c(&[
                "SET setrange_too_long 5",
                "SETRANGE setrange_too_long 600000000 x",
            ]),
            "\"int\"",
        ),
        ("setbit_new", c(&["SETBIT setbit_new 0 1"]), "\"raw\""),
        (
            "setbit_same",
            c(&["SET setbit_same 1", "SETBIT setbit_same 0 0"]),
            "\"raw\"",
        ),
        (
            "setbit_change",
            c(&["SET setbit_change 1", "SETBIT setbit_change 7 0"]),
            "\"raw\"",
        ),
        (
            "setbit_grow",
            c(&["SET setbit_grow 1", "SETBIT setbit_grow 100 1"]),
            "\"raw\"",
        ),
        (
            "setbit_bad",
            c(&["SET setbit_bad 1", "SETBIT setbit_bad 99999999999 1"]),
            "\"int\"",
        ),
        (
            "bitfield_get",
            c(&["SET bitfield_get 5", "BITFIELD bitfield_get GET u8 0"]),
            "\"int\"",
        ),
        (
            "bitfield_ro",
            c(&["SET bitfield_ro 5", "BITFIELD_RO bitfield_ro GET u8 0"]),
            "\"int\"",
        ),
        (
            "bitfield_same",
            c(&["SET bitfield_same 5", "BITFIELD bitfield_same SET u8 0 53"]),
            "\"raw\"",
        ),
        (
            "bitfield_fail",
            c(&[
                "SET bitfield_fail 5",
                "BITFIELD bitfield_fail OVERFLOW FAIL INCRBY u8 0 255",
            ]),
            "\"raw\"",
        ),
        (
            "bitfield_fail_missing",
            c(&["BITFIELD bitfield_fail_missing OVERFLOW FAIL INCRBY u2 0 5"]),
            "\"raw\"",
        ),
        (
            "bitfield_incr",
            c(&[
                "SET bitfield_incr 5",
                "BITFIELD bitfield_incr INCRBY u8 0 1",
            ]),
            "\"raw\"",
        ),
        (
            "bitop",
            c(&["SET bitop_src 1", "BITOP OR bitop bitop_src"]),
            "\"raw\"",
        ),
        (
            "bitop_not",
            c(&["SET bitop_not_src 1", "BITOP NOT bitop_not bitop_not_src"]),
            "\"raw\"",
        ),
        ("bitop_empty", c(&["BITOP AND bitop_empty nosuch"]), "$-1"),
        // Counters: a fresh integer object (shared 0..9999).
        (
            "incr_raw",
            c(&["SET incr_raw 1", "APPEND incr_raw 1", "INCR incr_raw"]),
            "\"int\"",
        ),
        (
            "incrby_zero",
            c(&[
                "SET incrby_zero 1",
                "APPEND incrby_zero 1",
                "INCRBY incrby_zero 0",
            ]),
            "\"int\"",
        ),
        (
            "decrby_big",
            c(&[
                "SET decrby_big 100000",
                "APPEND decrby_big 1",
                "DECRBY decrby_big 5",
            ]),
            "\"int\"",
        ),
        ("incr_missing", c(&["INCR incr_missing"]), "\"int\""),
        // INCRBYFLOAT: embstr even for an integer, raw past 44 bytes.
        (
            "incrbyfloat",
            c(&["SET incrbyfloat 1", "INCRBYFLOAT incrbyfloat 2"]),
            "\"embstr\"",
        ),
        (
            "incrbyfloat_big",
            c(&["INCRBYFLOAT incrbyfloat_big 1e20"]),
            "\"embstr\"",
        ),
        (
            "incrbyfloat_huge",
            c(&["INCRBYFLOAT incrbyfloat_huge 1.5e50"]),
            "\"raw\"",
        ),
        (
            "incrbyfloat_frac",
            c(&["INCRBYFLOAT incrbyfloat_frac 0.5"]),
            "\"embstr\"",
        ),
        // Reads and TTL changes leave the object alone.
        (
            "reads",
            c(&[
                "SET reads 12",
                "APPEND reads 3",
                "GETEX reads EX 100",
                "PERSIST reads",
                "EXPIRE reads 100",
                "GETRANGE reads 0 1",
                "STRLEN reads",
                "LCS reads reads",
                "GETBIT reads 3",
                "BITCOUNT reads",
                "BITPOS reads 1",
            ]),
            "\"raw\"",
        ),
        // Moved objects keep their encoding; copies keep it too, but an
        // integer's copy is its own object (refcount 1).
        (
            "renamed",
            c(&[
                "SET rename_src 1",
                "APPEND rename_src 1",
                "RENAME rename_src renamed",
            ]),
            "\"raw\"",
        ),
        (
            "copy_raw",
            c(&[
                "SET copy_src 1",
                "APPEND copy_src 1",
                "COPY copy_src copy_raw",
            ]),
            "\"raw\"",
        ),
        (
            "copy_int",
            c(&["SET copy_int_src 7", "COPY copy_int_src copy_int"]),
            "\"int\"",
        ),
        (
            "copy_float",
            c(&[
                "INCRBYFLOAT copy_float_src 3",
                "COPY copy_float_src copy_float",
            ]),
            "\"embstr\"",
        ),
        (
            "moved",
            c(&[
                "SET moved 1",
                "APPEND moved 1",
                "MOVE moved 1",
                "SELECT 1",
                "RENAME moved moved_tmp",
                "MOVE moved_tmp 0",
                "SELECT 0",
                "RENAME moved_tmp moved",
            ]),
            "\"raw\"",
        ),
        // RESTORE re-derives (tryObjectEncoding on the loaded string).
        (
            "restore_src",
            c(&["SET restore_src 1", "APPEND restore_src 1"]),
            "\"raw\"",
        ),
        // Transactions and scripts run the same commands.
        (
            "in_multi",
            c(&["SET in_multi 1", "MULTI", "APPEND in_multi 2", "EXEC"]),
            "\"raw\"",
        ),
        (
            "in_script",
            c(&["EVAL \"return redis.call('setrange', KEYS[1], 0, '1')\" 1 in_script"]),
            "\"raw\"",
        ),
        ("hll_new", c(&["PFADD hll_new a b c"]), "\"raw\""),
        ("hll_empty", c(&["PFADD hll_empty"]), "\"raw\""),
        ("hll_merge", c(&["PFMERGE hll_merge hll_new"]), "\"raw\""),
    ]
}

#[test]
fn string_encodings_follow_history_like_redis() {
    let Some(mut d) = Diff::start("object-encoding", DEBUG) else {
        return;
    };
    let cases = cases();
    for (_, cmds, _) in &cases {
        for cmd in cmds {
            d.same(cmd);
        }
    }
    for (key, _, enc) in &cases {
        assert_eq!(same_encoding(&mut d, key), *enc, "{key}");
    }
    // RESTORE of a raw "11" gives int, of a short raw string embstr.
    for (src, dst, want) in [
        ("restore_src", "restored", "\"int\""),
        ("append_heap", "restored_heap", "\"embstr\""),
    ] {
        let dump = d.ours.cmd(&[b"DUMP", src.as_bytes()]);
        let payload = bulk(&dump);
        for c in [&mut d.ours, &mut d.redis] {
            let r = c.cmd(&[b"RESTORE", dst.as_bytes(), b"0", payload, b"REPLACE"]);
            assert_eq!(r, b"+OK\r\n");
        }
        assert_eq!(same_encoding(&mut d, dst), want, "{dst}");
    }
    // An RDB load re-derives every string from its bytes.
    d.same("DEBUG RELOAD");
    for (key, _, _) in &cases {
        same_encoding(&mut d, key);
    }
}

/// The payload of a bulk-string reply.
fn bulk(reply: &[u8]) -> &[u8] {
    let nl = reply
        .iter()
        .position(|&b| b == b'\n')
        .expect("a bulk reply");
    let n: usize = std::str::from_utf8(&reply[1..nl - 1])
        .unwrap()
        .parse()
        .unwrap();
    &reply[nl + 1..nl + 1 + n]
}

#[test]
fn hll_commands_unshare_like_redis() {
    let Some(mut d) = Diff::start("object-encoding-hll", DEBUG) else {
        return;
    };
    d.same("PFADD src a b c");
    let bytes = bulk(&d.ours.cmd(&[b"GET", b"src"])).to_vec();
    d.same("PFCOUNT src");
    let cached = bulk(&d.ours.cmd(&[b"GET", b"src"])).to_vec();
    // SET makes each copy embstr (short, not an integer); then each command
    // that gets past the HLL check on one key makes it raw, written or not.
    let copies: &[(&str, &[u8], &str)] = &[
        ("pfadd_nothing", &bytes, "PFADD pfadd_nothing a"),
        ("pfadd_new", &bytes, "PFADD pfadd_new zz"),
        ("pfcount_fresh", &bytes, "PFCOUNT pfcount_fresh"),
        ("pfcount_cached", &cached, "PFCOUNT pfcount_cached"),
        ("pfcount_many", &bytes, "PFCOUNT pfcount_many src"),
        ("pfmerge_src", &bytes, "PFMERGE pfmerge_dst pfmerge_src"),
        ("pfmerge_self", &bytes, "PFMERGE pfmerge_self pfmerge_self"),
        ("pfdebug_enc", &bytes, "PFDEBUG ENCODING pfdebug_enc"),
        ("pfdebug_decode", &bytes, "PFDEBUG DECODE pfdebug_decode"),
        ("pfdebug_getreg", &bytes, "PFDEBUG GETREG pfdebug_getreg"),
        ("pfdebug_unknown", &bytes, "PFDEBUG NOSUCH pfdebug_unknown"),
        ("not_hll", b"12", "PFADD not_hll a"),
    ];
    for (key, value, cmd) in copies {
        for c in [&mut d.ours, &mut d.redis] {
            assert_eq!(c.cmd(&[b"SET", key.as_bytes(), value]), b"+OK\r\n");
        }
        same_encoding(&mut d, key);
        d.same(cmd);
    }
    for key in copies.iter().map(|c| c.0).chain(["pfmerge_dst"]) {
        same_encoding(&mut d, key);
    }
}

/// AOF replay runs the commands again (raw stays raw; INCRBYFLOAT was
/// propagated as SET, so it comes back an integer); a rewrite's RDB
/// preamble re-derives everything.
#[test]
fn aof_replay_and_rewrite_like_redis() {
    let dirs = ["--appendonly", "yes", "--enable-debug-command", "yes"];
    let Some(mut d) = Diff::start("object-encoding-aof", &dirs) else {
        return;
    };
    let cases = cases();
    for (_, cmds, _) in &cases {
        for cmd in cmds {
            d.same(cmd);
        }
    }
    d.same("DEBUG LOADAOF");
    for (key, _, _) in &cases {
        // (bitfield_fail_missing is gone on both: Redis creates the key
        // but propagates nothing, no field changed.)
        same_encoding(&mut d, key);
    }
    d.same("BGREWRITEAOF");
    common::wait_rewrite_done(&mut d.ours);
    common::wait_rewrite_done(&mut d.redis);
    d.same("SETRANGE after_rewrite 0 1");
    d.same("DEBUG LOADAOF");
    for key in cases.iter().map(|c| c.0).chain(["after_rewrite"]) {
        same_encoding(&mut d, key);
    }
}

/// A seeded random mix of string writes over a few keys, each key's
/// encoding and refcount checked along the way.
#[test]
fn random_string_writes_like_redis() {
    let Some(mut d) = Diff::start("object-encoding-random", DEBUG) else {
        return;
    };
    let values = [
        "0",
        "7",
        "9999",
        "10000",
        "-3",
        "01",
        "abc",
        "\"\"",
        "1.5",
        "3.0",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "12345678901234567890",
        "123456789012345678901",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ];
    d.run_lines(1500, |r| {
        let k = format!("k{}", r.below(4));
        let k2 = format!("k{}", r.below(4));
        let v = r.pick(&values);
        match r.below(22) {
            0..=1 => format!("SET {k} {v}"),
            2 => format!("APPEND {k} {v}"),
            3 => format!("SETRANGE {k} {} {v}", r.below(30)),
            4 => format!("SETBIT {k} {} {}", r.below(200), r.below(2)),
            5 => format!("BITFIELD {k} SET u8 {} {}", r.below(64), r.below(256)),
            6 => format!("BITFIELD {k} GET u8 {}", r.below(64)),
            7 => format!("INCRBY {k} {}", r.below(20_000) as i64 - 10_000),
            8 => format!("INCRBYFLOAT {k} {}", r.pick(&["1", "0.5", "-2", "1e3"])),
            9 => format!("GETSET {k} {v}"),
            10 => format!("MSET {k} {v} {k2} {}", r.pick(&values)),
            11 => format!("COPY {k} {k2} REPLACE"),
            12 => format!("RENAME {k} {k2}"),
            13 => format!("DEL {k}"),
            14 => format!("BITOP {} {k} {k2} {k}", r.pick(&["AND", "OR", "XOR"])),
            15 => format!("SETNX {k} {v}"),
            16 => format!("GETEX {k} PX 100000"),
            17..=18 => format!("OBJECT ENCODING {k}"),
            19 => format!("OBJECT REFCOUNT {k}"),
            20 => format!("STRLEN {k}"),
            _ => format!("GET {k}"),
        }
    });
    for k in 0..4 {
        same_encoding(&mut d, &format!("k{k}"));
    }
}

/// A rolled-back transaction gives a string back exactly, OBJECT ENCODING
/// included, also when a command of it changed the encoding without a
/// write (Redis's dbUnshareStringValue before a change that changed
/// nothing); with `multi-rollback no` nothing is undone, as in Redis.
#[test]
fn rollback_restores_an_encoding_changed_without_a_write() {
    let Some(mut d) = Diff::start("object-encoding-rollback", DEBUG) else {
        return;
    };
    d.same("PFADD src a b c");
    let hll = bulk(&d.ours.cmd(&[b"GET", b"src"])).to_vec();
    d.same("PFCOUNT src");
    let cached = bulk(&d.ours.cmd(&[b"GET", b"src"])).to_vec();
    // (key, value SET first, the command that only unshares it)
    let cases: &[(&str, &[u8], &str)] = &[
        ("setbit_same", b"12", "SETBIT setbit_same 0 0"),
        ("bitfield_same", b"12", "BITFIELD bitfield_same SET u8 0 49"),
        (
            "bitfield_fail",
            b"12",
            "BITFIELD bitfield_fail OVERFLOW FAIL INCRBY u8 0 255",
        ),
        ("setbit_embstr", b"hello", "SETBIT setbit_embstr 1 1"),
        ("pfadd_nothing", &hll, "PFADD pfadd_nothing a"),
        ("pfcount_cached", &cached, "PFCOUNT pfcount_cached"),
        ("pfdebug", &hll, "PFDEBUG ENCODING pfdebug"),
    ];
    send(&mut d.ours, "SET notalist x");
    send(&mut d.redis, "SET notalist x");
    let state = |c: &mut common::Raw, key: &str| {
        (
            send(c, &format!("OBJECT ENCODING {key}")),
            send(c, &format!("OBJECT REFCOUNT {key}")),
            send(c, &format!("GET {key}")),
            object_fields(&send(c, &format!("DEBUG OBJECT {key}"))),
        )
    };
    // `multi-rollback yes` (memkv's default): the key as before.
    for (key, value, cmd) in cases {
        assert_eq!(d.ours.cmd(&[b"SET", key.as_bytes(), value]), b"+OK\r\n");
        let before = state(&mut d.ours, key);
        assert_ne!(before.0, "\"raw\"", "{key}: not raw before");
        for line in ["MULTI", cmd, "LPUSH notalist x"] {
            send(&mut d.ours, line);
        }
        let exec = send(&mut d.ours, "EXEC");
        assert!(exec.starts_with("-EXECABORT"), "{key}: {exec}");
        assert_eq!(state(&mut d.ours, key), before, "{key} after a rollback");
    }
    // `multi-rollback no`: the command's effect stays, as in Redis.
    send(&mut d.ours, "CONFIG SET multi-rollback no");
    for (key, value, cmd) in cases {
        for c in [&mut d.ours, &mut d.redis] {
            assert_eq!(c.cmd(&[b"SET", key.as_bytes(), value]), b"+OK\r\n");
        }
        for line in ["MULTI", cmd, "LPUSH notalist x", "EXEC"] {
            d.same(line);
        }
        assert_eq!(same_encoding(&mut d, key), "\"raw\"", "{key}");
    }
}
