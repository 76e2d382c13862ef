//! A dataset of every type and encoding Redis 7.0 has (made by commands),
//! and DEBUG DIGEST-VALUE to compare keys across servers: shared by the
//! DUMP/RESTORE and MIGRATE tests.

use redis::{Connection, Value as RV, cmd};

/// Keys of every type and encoding Redis 7.0 has, made by commands.
pub fn populate(c: &mut Connection) -> Vec<String> {
    let mut keys = Vec::new();
    let mut run = |key: &str, args: Vec<String>| {
        let mut k = cmd(&args[0]);
        for a in &args[1..] {
            k.arg(a);
        }
        let _: RV = k.query(c).expect(key);
        keys.push(key.to_string());
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    run("s:int", s(&["SET", "s:int", "12345"]));
    run("s:neg", s(&["SET", "s:neg", "-2147483648"]));
    run("s:emb", s(&["SET", "s:emb", "hello"]));
    run(
        "s:raw",
        vec!["SET".into(), "s:raw".into(), "ab".repeat(150)],
    );
    let noise: String = (0..500u32)
        .map(|i| (b'!' + (i * 7919 % 89) as u8) as char)
        .collect();
    run("s:noise", vec!["SET".into(), "s:noise".into(), noise]);
    run("s:empty", s(&["SET", "s:empty", ""]));
    run(
        "l:small",
        s(&["RPUSH", "l:small", "a", "1", "-3", "300", "-70000", "bb"]),
    );
    let mut big = vec!["RPUSH".to_string(), "l:big".into()];
    big.extend((0..3000).map(|i| format!("element-{i}-{}", "x".repeat(i % 50))));
    run("l:big", big);
    run(
        "h:lp",
        s(&["HSET", "h:lp", "f1", "v1", "f2", "2", "f3", ""]),
    );
    let mut hh = vec!["HSET".to_string(), "h:ht".into()];
    for i in 0..300 {
        hh.push(format!("field:{i}"));
        hh.push(format!("{}", i * 3));
    }
    run("h:ht", hh);
    run(
        "h:long",
        vec!["HSET".into(), "h:long".into(), "f".into(), "v".repeat(100)],
    );
    run(
        "st:int",
        s(&["SADD", "st:int", "1", "2", "3", "-100000", "5000000000"]),
    );
    run("st:ht", s(&["SADD", "st:ht", "a", "b", "c", "10"]));
    let mut bigset = vec!["SADD".to_string(), "st:bigint".into()];
    bigset.extend((0..600).map(|i| (i * 7).to_string()));
    run("st:bigint", bigset);
    run(
        "z:lp",
        s(&[
            "ZADD", "z:lp", "1", "a", "2.5", "b", "-inf", "c", "1e300", "d", "0", "e",
        ]),
    );
    let mut zz = vec!["ZADD".to_string(), "z:sk".into()];
    for i in 0..300 {
        zz.push(format!("{}", i as f64 / 3.0));
        zz.push(format!("member:{i}"));
    }
    run("z:sk", zz);
    run(
        "z:long",
        vec!["ZADD".into(), "z:long".into(), "1".into(), "m".repeat(100)],
    );
    run("x:s", s(&["XADD", "x:s", "1-1", "a", "1", "b", "2"]));
    // A second entry, a group with a pending entry, a deleted entry.
    for args in [
        &["XADD", "x:s", "2-5", "a", "3", "b", "4"][..],
        &["XADD", "x:s", "3-0", "c", "5"],
        &["XGROUP", "CREATE", "x:s", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "x:s",
            ">",
        ],
        &["XDEL", "x:s", "2-5"],
    ] {
        let mut k = cmd(args[0]);
        for a in &args[1..] {
            k.arg(*a);
        }
        let _: RV = k.query(c).expect("stream");
    }
    keys
}

pub fn digest(c: &mut Connection, key: &str) -> String {
    let v: Vec<String> = cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg(key)
        .query(c)
        .expect("digest");
    v[0].clone()
}
