//! String command family through the real protocol: exact reply bytes and
//! error texts for every command and its edge cases (RESP2 and RESP3), plus
//! a seeded differential run against real Redis when it is installed.

mod common;

use common::diff::Diff;
use common::script::Rng;
use common::{Raw, Server};

/// Sends one command and returns the raw reply as text.
fn c(r: &mut Raw, parts: &[&str]) -> String {
    let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    String::from_utf8_lossy(&r.cmd(&parts)).into_owned()
}

/// Same with binary arguments.
fn cb(r: &mut Raw, parts: &[&[u8]]) -> Vec<u8> {
    r.cmd(parts)
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

fn int(n: i64) -> String {
    format!(":{}\r\n", n)
}

const OK: &str = "+OK\r\n";
const NIL: &str = "$-1\r\n";
const NIL3: &str = "_\r\n";
const EMPTY: &str = "$0\r\n\r\n";
const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const OVERFLOW: &str = "-ERR increment or decrement would overflow\r\n";
const NAN_INF: &str = "-ERR increment would produce NaN or Infinity\r\n";

fn arity(cmd: &str) -> String {
    format!("-ERR wrong number of arguments for '{}' command\r\n", cmd)
}

fn bad_expire(cmd: &str) -> String {
    format!("-ERR invalid expire time in '{}' command\r\n", cmd)
}

/// Makes `key` a list if the server has RPUSH (another family); false if
/// not, so wrong-type assertions can be skipped until it exists.
fn make_list(r: &mut Raw, key: &str) -> bool {
    c(r, &["DEL", key]);
    c(r, &["RPUSH", key, "x"]) == int(1)
}

/// PTTL if the server has it (another family).
fn pttl(r: &mut Raw, key: &str) -> Option<i64> {
    let rep = c(r, &["PTTL", key]);
    rep.strip_prefix(':')?.trim_end().parse().ok()
}

#[test]
fn get_set_basics() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, &["GET", "k"]), NIL);
    assert_eq!(c(&mut r, &["SET", "k", "v"]), OK);
    assert_eq!(c(&mut r, &["GET", "k"]), bulk("v"));
    assert_eq!(c(&mut r, &["SET", "k", ""]), OK);
    assert_eq!(c(&mut r, &["GET", "k"]), EMPTY);
    // Binary safe, and longer than the inline representation.
    let v: &[u8] = b"a\r\nb\0c-and-some-more-bytes-to-go-past-inline";
    assert_eq!(cb(&mut r, &[b"SET", b"bin", v]), OK.as_bytes());
    let mut want = format!("${}\r\n", v.len()).into_bytes();
    want.extend_from_slice(v);
    want.extend_from_slice(b"\r\n");
    assert_eq!(cb(&mut r, &[b"GET", b"bin"]), want);
    assert_eq!(c(&mut r, &["get"]), arity("get"));
    assert_eq!(c(&mut r, &["GET", "a", "b"]), arity("get"));
    assert_eq!(c(&mut r, &["SET", "k"]), arity("set"));
    if make_list(&mut r, "l") {
        assert_eq!(c(&mut r, &["GET", "l"]), WRONGTYPE);
        // Plain SET overwrites any type.
        assert_eq!(c(&mut r, &["SET", "l", "s"]), OK);
        assert_eq!(c(&mut r, &["GET", "l"]), bulk("s"));
    }

    let mut r3 = s.raw3();
    assert_eq!(c(&mut r3, &["GET", "missing"]), NIL3);
    assert_eq!(c(&mut r3, &["GET", "k"]), EMPTY);
}

#[test]
fn set_options() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // NX / XX.
    assert_eq!(c(&mut r, &["SET", "k", "1", "XX"]), NIL);
    assert_eq!(c(&mut r, &["GET", "k"]), NIL);
    assert_eq!(c(&mut r, &["SET", "k", "1", "nx"]), OK);
    assert_eq!(c(&mut r, &["SET", "k", "2", "NX"]), NIL);
    assert_eq!(c(&mut r, &["SET", "k", "3", "XX"]), OK);
    assert_eq!(c(&mut r, &["GET", "k"]), bulk("3"));
    assert_eq!(c(&mut r, &["SET", "k", "3", "NX", "NX"]), NIL);
    // GET returns the old value; with NX/XX the reply is the old value
    // whether or not the set happened.
    assert_eq!(c(&mut r, &["SET", "k", "4", "GET"]), bulk("3"));
    assert_eq!(c(&mut r, &["SET", "new", "1", "GET"]), NIL);
    assert_eq!(c(&mut r, &["GET", "new"]), bulk("1"));
    assert_eq!(c(&mut r, &["SET", "k", "5", "NX", "GET"]), bulk("4"));
    assert_eq!(c(&mut r, &["GET", "k"]), bulk("4"));
    assert_eq!(c(&mut r, &["SET", "nope", "5", "XX", "GET"]), NIL);
    assert_eq!(c(&mut r, &["GET", "nope"]), NIL);
    assert_eq!(c(&mut r, &["SET", "k", "6", "get", "GET"]), bulk("4"));
    // Conflicts and malformed options.
    for bad in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "XX", "NX"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "PX", "10", "EXAT", "100"],
        &["SET", "k", "v", "EXAT", "10", "PXAT", "100"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
        &["SET", "k", "v", "NXX"],
    ] {
        assert_eq!(c(&mut r, bad), SYNTAX, "{bad:?}");
    }
    assert_eq!(c(&mut r, &["GET", "k"]), bulk("6"));
    // A repeated compatible expiry option: the last one wins.
    assert_eq!(c(&mut r, &["SET", "k", "v", "EX", "10", "EX", "20"]), OK);
    // Invalid expiries.
    for (opt, val) in [
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "0"),
        ("EXAT", "0"),
        ("PXAT", "-5"),
        ("EX", "9223372036854775"),
        ("EX", "9223372036854776"),
        ("PX", "9223372036854775807"),
        ("EXAT", "9223372036854776"),
    ] {
        assert_eq!(
            c(&mut r, &["SET", "k", "v", opt, val]),
            bad_expire("set"),
            "{opt} {val}"
        );
    }
    assert_eq!(c(&mut r, &["SET", "k", "v", "EX", "1.5"]), NOT_INT);
    assert_eq!(c(&mut r, &["SET", "k", "v", "EX", "abc"]), NOT_INT);
    // Far-future absolute expiry is fine.
    assert_eq!(
        c(&mut r, &["SET", "k", "v", "EXAT", "9223372036854775"]),
        OK
    );
    assert_eq!(
        c(&mut r, &["SET", "k", "v", "PXAT", "9223372036854775807"]),
        OK
    );
    // An absolute expiry in the past: set, then gone.
    assert_eq!(c(&mut r, &["SET", "past", "v", "PXAT", "1"]), OK);
    assert_eq!(c(&mut r, &["GET", "past"]), NIL);
    assert_eq!(c(&mut r, &["SET", "past", "v", "EXAT", "1", "GET"]), NIL);
    assert_eq!(c(&mut r, &["GET", "past"]), NIL);
    // TTL handling.
    assert_eq!(c(&mut r, &["SET", "t", "v", "EX", "100"]), OK);
    if let Some(ttl) = pttl(&mut r, "t") {
        assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
        assert_eq!(c(&mut r, &["SET", "t", "w", "KEEPTTL"]), OK);
        let ttl = pttl(&mut r, "t").unwrap();
        assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
        assert_eq!(c(&mut r, &["SET", "t", "x"]), OK);
        assert_eq!(pttl(&mut r, "t"), Some(-1));
        assert_eq!(
            c(&mut r, &["SET", "t", "x", "PX", "5000", "GET"]),
            bulk("x")
        );
        let ttl = pttl(&mut r, "t").unwrap();
        assert!(ttl > 4000 && ttl <= 5000, "{ttl}");
        assert_eq!(c(&mut r, &["SET", "t", "y", "PXAT", "99999999999999"]), OK);
        assert!(pttl(&mut r, "t").unwrap() > 1_000_000_000);
    }
    assert_eq!(c(&mut r, &["GET", "t"]), bulk("y"));
    // Option words are compared as C strings.
    assert_eq!(
        cb(&mut r, &[b"SET", b"z", b"1", b"NX\0junk"]),
        OK.as_bytes()
    );
    assert_eq!(
        cb(&mut r, &[b"SET", b"z", b"1", b"NX\0junk"]),
        NIL.as_bytes()
    );
    // Wrong type.
    if make_list(&mut r, "l") {
        assert_eq!(c(&mut r, &["SET", "l", "v", "GET"]), WRONGTYPE);
        // The expiry is validated before GET.
        assert_eq!(
            c(&mut r, &["SET", "l", "v", "EX", "0", "GET"]),
            bad_expire("set")
        );
        assert_eq!(c(&mut r, &["SET", "l", "v", "NX"]), NIL);
        assert_eq!(c(&mut r, &["SET", "l", "v", "XX"]), OK);
        assert_eq!(c(&mut r, &["GET", "l"]), bulk("v"));
    }

    let mut r3 = s.raw3();
    assert_eq!(c(&mut r3, &["SET", "k", "v", "XX", "GET"]), bulk("v"));
    assert_eq!(c(&mut r3, &["SET", "k3", "v", "XX"]), NIL3);
    assert_eq!(c(&mut r3, &["SET", "k3", "v", "GET"]), NIL3);
}

#[test]
fn setnx_setex_psetex_getset() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, &["SETNX", "k", "1"]), int(1));
    assert_eq!(c(&mut r, &["SETNX", "k", "2"]), int(0));
    assert_eq!(c(&mut r, &["GET", "k"]), bulk("1"));
    assert_eq!(c(&mut r, &["SETNX", "k"]), arity("setnx"));

    assert_eq!(c(&mut r, &["SETEX", "e", "100", "v"]), OK);
    assert_eq!(c(&mut r, &["GET", "e"]), bulk("v"));
    if let Some(t) = pttl(&mut r, "e") {
        assert!(t > 90_000 && t <= 100_000);
    }
    assert_eq!(c(&mut r, &["SETEX", "e", "0", "v"]), bad_expire("setex"));
    assert_eq!(c(&mut r, &["SETEX", "e", "-10", "v"]), bad_expire("setex"));
    assert_eq!(
        c(&mut r, &["SETEX", "e", "9223372036854775", "v"]),
        bad_expire("setex")
    );
    assert_eq!(c(&mut r, &["SETEX", "e", "x", "v"]), NOT_INT);
    assert_eq!(c(&mut r, &["SETEX", "e", "10"]), arity("setex"));
    assert_eq!(c(&mut r, &["PSETEX", "p", "100000", "v"]), OK);
    assert_eq!(c(&mut r, &["GET", "p"]), bulk("v"));
    if let Some(t) = pttl(&mut r, "p") {
        assert!(t > 90_000 && t <= 100_000);
    }
    assert_eq!(c(&mut r, &["PSETEX", "p", "0", "v"]), bad_expire("psetex"));
    assert_eq!(
        c(&mut r, &["PSETEX", "p", "9223372036854775807", "v"]),
        bad_expire("psetex")
    );
    assert_eq!(c(&mut r, &["PSETEX", "p", "1"]), arity("psetex"));

    assert_eq!(c(&mut r, &["GETSET", "g", "1"]), NIL);
    assert_eq!(c(&mut r, &["GETSET", "g", "2"]), bulk("1"));
    assert_eq!(c(&mut r, &["GET", "g"]), bulk("2"));
    // GETSET clears the TTL.
    assert_eq!(c(&mut r, &["GETSET", "e", "w"]), bulk("v"));
    if pttl(&mut r, "e").is_some() {
        assert_eq!(pttl(&mut r, "e"), Some(-1));
    }
    assert_eq!(c(&mut r, &["GETSET", "g"]), arity("getset"));
    if make_list(&mut r, "l") {
        assert_eq!(c(&mut r, &["GETSET", "l", "v"]), WRONGTYPE);
        assert_eq!(c(&mut r, &["SETNX", "l", "v"]), int(0));
        assert_eq!(c(&mut r, &["SETEX", "l", "10", "v"]), OK);
        assert_eq!(c(&mut r, &["GET", "l"]), bulk("v"));
    }
    let mut r3 = s.raw3();
    assert_eq!(c(&mut r3, &["GETSET", "g3", "1"]), NIL3);
}

#[test]
fn getdel_and_getex() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, &["GETDEL", "k"]), NIL);
    c(&mut r, &["SET", "k", "v"]);
    assert_eq!(c(&mut r, &["GETDEL", "k"]), bulk("v"));
    assert_eq!(c(&mut r, &["GET", "k"]), NIL);
    assert_eq!(c(&mut r, &["GETDEL"]), arity("getdel"));
    assert_eq!(c(&mut r, &["GETDEL", "a", "b"]), arity("getdel"));

    assert_eq!(c(&mut r, &["GETEX", "k"]), NIL);
    // A missing key answers null before the expiry is validated.
    assert_eq!(c(&mut r, &["GETEX", "k", "EX", "-1"]), NIL);
    // Syntax is checked first.
    assert_eq!(c(&mut r, &["GETEX", "k", "NX"]), SYNTAX);
    c(&mut r, &["SET", "k", "v"]);
    assert_eq!(c(&mut r, &["GETEX", "k"]), bulk("v"));
    assert_eq!(c(&mut r, &["GETEX", "k", "EX", "100"]), bulk("v"));
    if let Some(t) = pttl(&mut r, "k") {
        assert!(t > 90_000 && t <= 100_000);
    }
    assert_eq!(c(&mut r, &["GETEX", "k", "PERSIST"]), bulk("v"));
    if pttl(&mut r, "k").is_some() {
        assert_eq!(pttl(&mut r, "k"), Some(-1));
    }
    assert_eq!(c(&mut r, &["GETEX", "k", "PX", "100000"]), bulk("v"));
    assert_eq!(c(&mut r, &["GETEX", "k", "EXAT", "99999999999"]), bulk("v"));
    assert_eq!(
        c(&mut r, &["GETEX", "k", "PXAT", "99999999999999"]),
        bulk("v")
    );
    for bad in [
        &["GETEX", "k", "XX"][..],
        &["GETEX", "k", "GET"],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "EX"],
        &["GETEX", "k", "EX", "10", "PX", "10"],
        &["GETEX", "k", "PERSIST", "EX", "10"],
        &["GETEX", "k", "EX", "10", "PERSIST"],
        &["GETEX", "k", "FOO"],
    ] {
        assert_eq!(c(&mut r, bad), SYNTAX, "{bad:?}");
    }
    for (opt, val) in [
        ("EX", "0"),
        ("PX", "-1"),
        ("EXAT", "0"),
        ("PXAT", "0"),
        ("EX", "9223372036854775"),
        ("EXAT", "9223372036854776"),
    ] {
        assert_eq!(
            c(&mut r, &["GETEX", "k", opt, val]),
            bad_expire("getex"),
            "{opt} {val}"
        );
    }
    assert_eq!(c(&mut r, &["GETEX", "k", "EX", "ten"]), NOT_INT);
    assert_eq!(c(&mut r, &["GET", "k"]), bulk("v"));
    // An absolute time in the past deletes the key (after replying).
    assert_eq!(c(&mut r, &["GETEX", "k", "PXAT", "1"]), bulk("v"));
    assert_eq!(c(&mut r, &["GET", "k"]), NIL);
    assert_eq!(c(&mut r, &["GETEX"]), arity("getex"));
    if make_list(&mut r, "l") {
        assert_eq!(c(&mut r, &["GETEX", "l"]), WRONGTYPE);
        assert_eq!(c(&mut r, &["GETEX", "l", "EX", "0"]), WRONGTYPE);
        assert_eq!(c(&mut r, &["GETDEL", "l"]), WRONGTYPE);
    }
    let mut r3 = s.raw3();
    assert_eq!(c(&mut r3, &["GETEX", "nokey", "PERSIST"]), NIL3);
    assert_eq!(c(&mut r3, &["GETDEL", "nokey"]), NIL3);
}

#[test]
fn mget_mset_msetnx() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, &["MSET", "a", "1", "b", "2"]), OK);
    assert_eq!(
        c(&mut r, &["MGET", "a", "nokey", "b"]),
        format!("*3\r\n{}{}{}", bulk("1"), NIL, bulk("2"))
    );
    assert_eq!(c(&mut r, &["MSET", "a", "1", "b"]), arity("mset"));
    assert_eq!(c(&mut r, &["MSET", "a"]), arity("mset"));
    assert_eq!(c(&mut r, &["MGET"]), arity("mget"));
    // Later pairs win.
    assert_eq!(c(&mut r, &["MSET", "x", "1", "x", "2"]), OK);
    assert_eq!(c(&mut r, &["GET", "x"]), bulk("2"));
    assert_eq!(c(&mut r, &["MSETNX", "a", "9", "c", "3"]), int(0));
    assert_eq!(c(&mut r, &["GET", "c"]), NIL);
    assert_eq!(c(&mut r, &["MSETNX", "c", "3", "d", "4"]), int(1));
    assert_eq!(
        c(&mut r, &["MGET", "c", "d"]),
        format!("*2\r\n{}{}", bulk("3"), bulk("4"))
    );
    assert_eq!(c(&mut r, &["MSETNX", "c", "3", "d"]), arity("msetnx"));
    if make_list(&mut r, "l") {
        assert_eq!(
            c(&mut r, &["MGET", "l", "a"]),
            format!("*2\r\n{}{}", NIL, bulk("1"))
        );
        assert_eq!(c(&mut r, &["MSETNX", "l", "1"]), int(0));
        assert_eq!(c(&mut r, &["MSET", "l", "1"]), OK);
        assert_eq!(c(&mut r, &["GET", "l"]), bulk("1"));
    }
    // MSET clears TTLs.
    c(&mut r, &["SET", "t", "v", "EX", "100"]);
    assert_eq!(c(&mut r, &["MSET", "t", "w"]), OK);
    if pttl(&mut r, "t").is_some() {
        assert_eq!(pttl(&mut r, "t"), Some(-1));
    }
    let mut r3 = s.raw3();
    assert_eq!(
        c(&mut r3, &["MGET", "a", "nokey"]),
        format!("*2\r\n{}{}", bulk("1"), NIL3)
    );
}

#[test]
fn incr_decr_family() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, &["INCR", "n"]), int(1));
    assert_eq!(c(&mut r, &["INCR", "n"]), int(2));
    assert_eq!(c(&mut r, &["DECR", "n"]), int(1));
    assert_eq!(c(&mut r, &["DECR", "m"]), int(-1));
    assert_eq!(c(&mut r, &["INCRBY", "n", "10"]), int(11));
    assert_eq!(c(&mut r, &["INCRBY", "n", "-20"]), int(-9));
    assert_eq!(c(&mut r, &["DECRBY", "n", "-9"]), int(0));
    assert_eq!(c(&mut r, &["GET", "n"]), bulk("0"));
    assert_eq!(c(&mut r, &["DECRBY", "n", "5"]), int(-5));
    assert_eq!(c(&mut r, &["GET", "n"]), bulk("-5"));
    // Values must be canonical integers.
    for bad in [
        " 1",
        "1 ",
        "01",
        "+1",
        "-0",
        "1.0",
        "",
        "abc",
        "9223372036854775808",
        "1\0",
    ] {
        c(&mut r, &["SET", "b", bad]);
        assert_eq!(c(&mut r, &["INCR", "b"]), NOT_INT, "{bad:?}");
        assert_eq!(c(&mut r, &["GET", "b"]), bulk(bad), "{bad:?}");
    }
    assert_eq!(c(&mut r, &["INCRBY", "n", "1.5"]), NOT_INT);
    assert_eq!(c(&mut r, &["INCRBY", "n", "99999999999999999999"]), NOT_INT);
    assert_eq!(c(&mut r, &["DECRBY", "n", " 1"]), NOT_INT);
    // The increment is validated before the key.
    c(&mut r, &["SET", "b", "x"]);
    assert_eq!(c(&mut r, &["INCRBY", "b", "y"]), NOT_INT);
    // Overflow.
    c(&mut r, &["SET", "big", "9223372036854775807"]);
    assert_eq!(c(&mut r, &["INCR", "big"]), OVERFLOW);
    assert_eq!(c(&mut r, &["INCRBY", "big", "0"]), int(i64::MAX));
    assert_eq!(c(&mut r, &["DECRBY", "big", "-1"]), OVERFLOW);
    c(&mut r, &["SET", "small", "-9223372036854775808"]);
    assert_eq!(c(&mut r, &["DECR", "small"]), OVERFLOW);
    assert_eq!(c(&mut r, &["INCRBY", "small", "-1"]), OVERFLOW);
    assert_eq!(c(&mut r, &["GET", "small"]), bulk("-9223372036854775808"));
    assert_eq!(
        c(&mut r, &["INCRBY", "small", "9223372036854775807"]),
        int(-1)
    );
    assert_eq!(
        c(&mut r, &["DECRBY", "x", "-9223372036854775808"]),
        "-ERR decrement would overflow\r\n"
    );
    assert_eq!(
        c(&mut r, &["INCRBY", "x", "-9223372036854775808"]),
        int(i64::MIN)
    );
    assert_eq!(c(&mut r, &["INCR"]), arity("incr"));
    assert_eq!(c(&mut r, &["INCRBY", "x"]), arity("incrby"));
    assert_eq!(c(&mut r, &["DECRBY", "x", "1", "2"]), arity("decrby"));
    // INCR keeps the TTL.
    c(&mut r, &["SET", "t", "5", "EX", "100"]);
    assert_eq!(c(&mut r, &["INCR", "t"]), int(6));
    if let Some(t) = pttl(&mut r, "t") {
        assert!(t > 90_000 && t <= 100_000, "{t}");
    }
    if make_list(&mut r, "l") {
        assert_eq!(c(&mut r, &["INCR", "l"]), WRONGTYPE);
        assert_eq!(c(&mut r, &["DECRBY", "l", "1"]), WRONGTYPE);
    }
}

#[test]
fn incrbyfloat_like_long_double() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, &["SET", "f", "10.5"]), OK);
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "f", "0.1"]), bulk("10.6"));
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "f", "-10.6"]), bulk("0"));
    // Extended precision: three 0.1 steps give exactly 0.3.
    for want in ["0.1", "0.2", "0.3"] {
        assert_eq!(c(&mut r, &["INCRBYFLOAT", "h", "0.1"]), bulk(want));
    }
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "i", "3.0e3"]), bulk("3000"));
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "i", "5.0e3"]), bulk("8000"));
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "i", "-8000.5"]), bulk("-0.5"));
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "z", "0x10"]), bulk("16"));
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "z", "-0"]), bulk("16"));
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "neg", "-0"]), bulk("0"));
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "tiny", "1e-4940"]), bulk("0"));
    assert_eq!(
        c(&mut r, &["INCRBYFLOAT", "e", "1.5e-7"]),
        bulk("0.00000015")
    );
    assert_eq!(
        c(&mut r, &["INCRBYFLOAT", "e", "1e-20"]),
        bulk("0.00000015")
    );
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "int", "5"]), bulk("5"));
    assert_eq!(c(&mut r, &["INCR", "int"]), int(6));
    // Beyond double range, but finite as a long double.
    let big = "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880";
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "g", "1e400"]), bulk(big));
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "g", "1e308"]), bulk(big));
    // Errors.
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "x", "inf"]), NAN_INF);
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "x", "-Infinity"]), NAN_INF);
    c(&mut r, &["SET", "x", "1.18973149535723176502e+4932"]);
    assert_eq!(
        c(
            &mut r,
            &["INCRBYFLOAT", "x", "1.18973149535723176502e+4932"]
        ),
        NAN_INF
    );
    for bad in [
        "nan", "abc", " 1", "1 ", "1e", "", "1e-5000", "1e5000", "0x", "--1",
    ] {
        assert_eq!(c(&mut r, &["INCRBYFLOAT", "y", bad]), NOT_FLOAT, "{bad:?}");
    }
    assert_eq!(c(&mut r, &["GET", "y"]), NIL);
    c(&mut r, &["SET", "y", "one"]);
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "y", "1"]), NOT_FLOAT);
    let long = "1".repeat(5120);
    c(&mut r, &["SET", "y", &long]);
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "y", "1"]), NOT_FLOAT);
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "y"]), arity("incrbyfloat"));
    // TTL kept.
    c(&mut r, &["SET", "t", "1.5", "EX", "100"]);
    assert_eq!(c(&mut r, &["INCRBYFLOAT", "t", "1"]), bulk("2.5"));
    if let Some(t) = pttl(&mut r, "t") {
        assert!(t > 90_000 && t <= 100_000, "{t}");
    }
    if make_list(&mut r, "l") {
        assert_eq!(c(&mut r, &["INCRBYFLOAT", "l", "1"]), WRONGTYPE);
    }
}

#[test]
fn append_strlen_ranges() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(c(&mut r, &["STRLEN", "k"]), int(0));
    assert_eq!(c(&mut r, &["APPEND", "k", "Hello"]), int(5));
    assert_eq!(c(&mut r, &["APPEND", "k", " World"]), int(11));
    assert_eq!(c(&mut r, &["GET", "k"]), bulk("Hello World"));
    assert_eq!(c(&mut r, &["STRLEN", "k"]), int(11));
    let long = "x".repeat(100);
    assert_eq!(c(&mut r, &["APPEND", "k", &long]), int(111));
    assert_eq!(c(&mut r, &["APPEND", "k", ""]), int(111));
    assert_eq!(c(&mut r, &["APPEND", "e", ""]), int(0));
    assert_eq!(c(&mut r, &["GET", "e"]), EMPTY);
    c(&mut r, &["SET", "n", "12"]);
    assert_eq!(c(&mut r, &["APPEND", "n", "3"]), int(3));
    assert_eq!(c(&mut r, &["INCR", "n"]), int(124));
    assert_eq!(c(&mut r, &["APPEND", "n"]), arity("append"));
    assert_eq!(c(&mut r, &["STRLEN"]), arity("strlen"));

    c(&mut r, &["SET", "s", "This is a string"]);
    for (a, b, want) in [
        ("0", "3", "This"),
        ("-3", "-1", "ing"),
        ("0", "-1", "This is a string"),
        ("10", "100", "string"),
        ("5", "3", ""),
        ("-100", "2", "Thi"),
        ("-100", "-200", ""),
        ("-1", "-5", ""),
        ("16", "20", ""),
        ("0", "0", "T"),
        (
            "-9223372036854775808",
            "9223372036854775807",
            "This is a string",
        ),
    ] {
        assert_eq!(c(&mut r, &["GETRANGE", "s", a, b]), bulk(want), "{a} {b}");
        assert_eq!(c(&mut r, &["SUBSTR", "s", a, b]), bulk(want), "{a} {b}");
    }
    assert_eq!(c(&mut r, &["GETRANGE", "nokey", "0", "-1"]), EMPTY);
    assert_eq!(c(&mut r, &["GETRANGE", "e", "0", "-1"]), EMPTY);
    assert_eq!(c(&mut r, &["GETRANGE", "s", "a", "1"]), NOT_INT);
    assert_eq!(c(&mut r, &["GETRANGE", "nokey", "0", "x"]), NOT_INT);
    assert_eq!(c(&mut r, &["GETRANGE", "s", "0"]), arity("getrange"));
    assert_eq!(c(&mut r, &["SUBSTR", "s", "0"]), arity("substr"));

    // SETRANGE.
    c(&mut r, &["SET", "k1", "Hello World"]);
    assert_eq!(c(&mut r, &["SETRANGE", "k1", "6", "Redis"]), int(11));
    assert_eq!(c(&mut r, &["GET", "k1"]), bulk("Hello Redis"));
    assert_eq!(c(&mut r, &["SETRANGE", "k2", "6", "Redis"]), int(11));
    assert_eq!(
        cb(&mut r, &[b"GET", b"k2"]),
        b"$11\r\n\0\0\0\0\0\0Redis\r\n".to_vec()
    );
    assert_eq!(c(&mut r, &["SETRANGE", "k1", "13", "!"]), int(14));
    assert_eq!(
        cb(&mut r, &[b"GET", b"k1"]),
        b"$14\r\nHello Redis\0\0!\r\n".to_vec()
    );
    assert_eq!(c(&mut r, &["SETRANGE", "k1", "0", "J"]), int(14));
    // Empty value: the length, and no key created.
    assert_eq!(c(&mut r, &["SETRANGE", "k1", "100", ""]), int(14));
    assert_eq!(c(&mut r, &["SETRANGE", "k3", "100", ""]), int(0));
    assert_eq!(c(&mut r, &["GET", "k3"]), NIL);
    assert_eq!(
        c(&mut r, &["SETRANGE", "k1", "-1", "x"]),
        "-ERR offset is out of range\r\n"
    );
    assert_eq!(c(&mut r, &["SETRANGE", "k1", "x", "x"]), NOT_INT);
    let too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    assert_eq!(c(&mut r, &["SETRANGE", "k1", "536870912", "x"]), too_big);
    assert_eq!(c(&mut r, &["SETRANGE", "k4", "536870911", "xx"]), too_big);
    assert_eq!(
        c(&mut r, &["SETRANGE", "k4", "9223372036854775807", "x"]),
        too_big
    );
    assert_eq!(c(&mut r, &["SETRANGE", "k1", "536870912", ""]), int(14));
    assert_eq!(c(&mut r, &["SETRANGE", "k1", "0"]), arity("setrange"));
    // SETRANGE and APPEND keep the TTL.
    c(&mut r, &["SET", "t", "abc", "EX", "100"]);
    assert_eq!(c(&mut r, &["SETRANGE", "t", "1", "X"]), int(3));
    assert_eq!(c(&mut r, &["APPEND", "t", "d"]), int(4));
    assert_eq!(c(&mut r, &["GET", "t"]), bulk("aXcd"));
    if let Some(t) = pttl(&mut r, "t") {
        assert!(t > 90_000 && t <= 100_000, "{t}");
    }
    if make_list(&mut r, "l") {
        assert_eq!(c(&mut r, &["APPEND", "l", "x"]), WRONGTYPE);
        assert_eq!(c(&mut r, &["STRLEN", "l"]), WRONGTYPE);
        assert_eq!(c(&mut r, &["GETRANGE", "l", "0", "1"]), WRONGTYPE);
        assert_eq!(c(&mut r, &["SETRANGE", "l", "0", "x"]), WRONGTYPE);
        assert_eq!(c(&mut r, &["SETRANGE", "l", "0", ""]), WRONGTYPE);
        // The offset is checked before the type.
        assert_eq!(
            c(&mut r, &["SETRANGE", "l", "-1", "x"]),
            "-ERR offset is out of range\r\n"
        );
    }
}

#[test]
fn lcs_replies() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    c(&mut r, &["MSET", "key1", "ohmytext", "key2", "mynewtext"]);
    assert_eq!(c(&mut r, &["LCS", "key1", "key2"]), bulk("mytext"));
    assert_eq!(c(&mut r, &["LCS", "key1", "key2", "LEN"]), int(6));
    let m = |a: (i64, i64), b: (i64, i64), len: Option<i64>| {
        let mut s = format!(
            "*{}\r\n*2\r\n:{}\r\n:{}\r\n*2\r\n:{}\r\n:{}\r\n",
            if len.is_some() { 3 } else { 2 },
            a.0,
            a.1,
            b.0,
            b.1
        );
        if let Some(l) = len {
            s.push_str(&int(l));
        }
        s
    };
    let idx = format!(
        "*4\r\n{}*2\r\n{}{}{}{}",
        bulk("matches"),
        m((4, 7), (5, 8), None),
        m((2, 3), (0, 1), None),
        bulk("len"),
        int(6)
    );
    assert_eq!(c(&mut r, &["LCS", "key1", "key2", "IDX"]), idx);
    let idx_min = format!(
        "*4\r\n{}*1\r\n{}{}{}",
        bulk("matches"),
        m((4, 7), (5, 8), None),
        bulk("len"),
        int(6)
    );
    assert_eq!(
        c(&mut r, &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"]),
        idx_min
    );
    let idx_wml = format!(
        "*4\r\n{}*1\r\n{}{}{}",
        bulk("matches"),
        m((4, 7), (5, 8), Some(4)),
        bulk("len"),
        int(6)
    );
    assert_eq!(
        c(
            &mut r,
            &[
                "LCS",
                "key1",
                "key2",
                "idx",
                "minmatchlen",
                "4",
                "withmatchlen"
            ]
        ),
        idx_wml
    );
    // MINMATCHLEN below zero means no minimum; WITHMATCHLEN alone is ignored.
    assert_eq!(
        c(&mut r, &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-5"]),
        idx
    );
    assert_eq!(
        c(&mut r, &["LCS", "key1", "key2", "WITHMATCHLEN"]),
        bulk("mytext")
    );
    // Missing keys are empty strings.
    assert_eq!(c(&mut r, &["LCS", "no1", "no2"]), EMPTY);
    assert_eq!(c(&mut r, &["LCS", "key1", "no2", "LEN"]), int(0));
    assert_eq!(
        c(&mut r, &["LCS", "no1", "no2", "IDX"]),
        format!("*4\r\n{}*0\r\n{}{}", bulk("matches"), bulk("len"), int(0))
    );
    assert_eq!(c(&mut r, &["LCS", "key1", "key1"]), bulk("ohmytext"));
    // Errors.
    assert_eq!(
        c(&mut r, &["LCS", "key1", "key2", "LEN", "IDX"]),
        "-ERR If you want both the length and indexes, please just use IDX.\r\n"
    );
    assert_eq!(c(&mut r, &["LCS", "key1", "key2", "MINMATCHLEN"]), SYNTAX);
    assert_eq!(
        c(&mut r, &["LCS", "key1", "key2", "MINMATCHLEN", "x"]),
        NOT_INT
    );
    assert_eq!(c(&mut r, &["LCS", "key1", "key2", "FOO"]), SYNTAX);
    assert_eq!(c(&mut r, &["LCS", "key1"]), arity("lcs"));
    if make_list(&mut r, "l") {
        let e = "-ERR The specified keys must contain string values\r\n";
        assert_eq!(c(&mut r, &["LCS", "l", "key1"]), e);
        assert_eq!(c(&mut r, &["LCS", "key1", "l", "FOO"]), e);
    }

    let mut r3 = s.raw3();
    let idx3 = format!(
        "%2\r\n{}*2\r\n{}{}{}{}",
        bulk("matches"),
        m((4, 7), (5, 8), Some(4)),
        m((2, 3), (0, 1), Some(2)),
        bulk("len"),
        int(6)
    );
    assert_eq!(
        c(&mut r3, &["LCS", "key1", "key2", "IDX", "WITHMATCHLEN"]),
        idx3
    );
}

#[test]
fn lcs_transient_memory_is_bounded() {
    let s = Server::start(&["--proto-max-bulk-len", "1mb"]);
    let mut r = s.raw();
    let a = "a".repeat(600);
    c(&mut r, &["MSET", "a", &a, "b", &a]);
    assert_eq!(
        c(&mut r, &["LCS", "a", "b", "LEN"]),
        "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
    );
    let b = "a".repeat(400);
    c(&mut r, &["SET", "b", &b]);
    assert_eq!(c(&mut r, &["LCS", "a", "b", "LEN"]), int(400));
    assert_eq!(c(&mut r, &["LCS", "a", "b"]), bulk(&b));
}

// ---------------------------------------------------------------------------
// Differential run against real Redis
// ---------------------------------------------------------------------------

const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "k4", "k5"];

const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "7",
    "42",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775806",
    "-9223372036854775807",
    "9223372036854775808",
    "99999999999999999999",
    " 1",
    "1 ",
    "01",
    "+1",
    "-0",
    "1.5",
    "10.5",
    "0.1",
    "-0.1",
    "3.0e3",
    "5.0e3",
    "1e3",
    "1E-3",
    ".5",
    "5.",
    "1e",
    "inf",
    "-inf",
    "Infinity",
    "nan",
    "0x10",
    "0x1.8p1",
    "1e400",
    "-1e400",
    "1e-5000",
    "1e5000",
    "1e-4940",
    "1.7976931348623157e308",
    "123456789.123456789",
    "0.333333333333333333333",
    "abc",
    "hello world",
    "ohmytext",
    "mynewtext",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\u{0}bin\r\nary",
];

const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "5",
    "-3",
    "10",
    "-10",
    "100",
    "1000",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775",
    "9223372036854776",
    "4611686018427387904",
    "abc",
    "1.5",
    "",
    " 1",
];

fn rand_string(rng: &mut Rng) -> String {
    let n = rng.below(12);
    (0..n)
        .map(|_| (b'a' + rng.below(4) as u8) as char)
        .collect()
}

fn rand_float(rng: &mut Rng) -> String {
    let sign = if rng.chance(30) { "-" } else { "" };
    let int = rng.below(100_000);
    let frac = rng.below(1000);
    match rng.below(4) {
        0 => format!("{sign}{int}.{frac:03}"),
        1 => format!("{sign}{int}e{}", rng.below(40) as i64 - 20),
        2 => format!("{sign}0.{frac}"),
        _ => format!("{sign}{int}.{frac}e-{}", rng.below(10)),
    }
}

fn rand_value(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 | 1 => rng.pick(VALUES).to_string(),
        2 => rand_string(rng),
        _ => rand_float(rng),
    }
}

fn rand_int(rng: &mut Rng) -> String {
    if rng.chance(70) {
        (rng.below(61) as i64 - 30).to_string()
    } else {
        rng.pick(INTS).to_string()
    }
}

/// Expiry options whose outcome does not depend on timing: far future,
/// long relative, or already past; plus invalid ones.
fn rand_expiry(rng: &mut Rng) -> Vec<String> {
    let (opt, val) = match rng.below(10) {
        0 => ("EX", "100000"),
        1 => ("PX", "100000000"),
        2 => ("EXAT", "99999999999"),
        3 => ("PXAT", "99999999999999"),
        4 => ("EXAT", "1"),
        5 => ("PXAT", "1"),
        6 => ("EX", "0"),
        7 => ("PX", "-5"),
        8 => ("EX", "9223372036854775"),
        _ => ("EX", "notanint"),
    };
    vec![opt.to_string(), val.to_string()]
}

fn rand_command(rng: &mut Rng) -> Vec<String> {
    let k = |rng: &mut Rng| rng.pick(KEYS).to_string();
    let mut cmd: Vec<String> = match rng.below(26) {
        0 | 1 => vec!["GET".into(), k(rng)],
        2 | 3 => {
            let mut v = vec!["SET".into(), k(rng), rand_value(rng)];
            for _ in 0..rng.below(4) {
                match rng.below(7) {
                    0 => v.push("NX".into()),
                    1 => v.push("XX".into()),
                    2 => v.push("GET".into()),
                    3 => v.push("KEEPTTL".into()),
                    4 => v.push(rng.pick(&["PERSIST", "ex", "Px", "FOO"]).into()),
                    _ => v.extend(rand_expiry(rng)),
                }
            }
            v
        }
        4 => vec!["SETNX".into(), k(rng), rand_value(rng)],
        5 => {
            let (name, t) = if rng.chance(50) {
                (
                    "SETEX",
                    rng.pick(&["100000", "0", "-1", "x", "9223372036854775"]),
                )
            } else {
                (
                    "PSETEX",
                    rng.pick(&["100000000", "0", "-1", "x", "9223372036854775807"]),
                )
            };
            vec![name.into(), k(rng), t.into(), rand_value(rng)]
        }
        6 => vec!["GETSET".into(), k(rng), rand_value(rng)],
        7 => vec!["GETDEL".into(), k(rng)],
        8 => {
            let mut v = vec!["GETEX".into(), k(rng)];
            for _ in 0..rng.below(3) {
                match rng.below(4) {
                    0 => v.push("PERSIST".into()),
                    1 => v.push(rng.pick(&["NX", "GET", "KEEPTTL", "EX"]).into()),
                    _ => v.extend(rand_expiry(rng)),
                }
            }
            v
        }
        9 => {
            let mut v = vec!["MGET".into()];
            for _ in 0..rng.below(5) {
                v.push(k(rng));
            }
            v
        }
        10 | 11 => {
            let name = if rng.chance(50) { "MSET" } else { "MSETNX" };
            let mut v = vec![name.into()];
            for _ in 0..rng.below(4) {
                v.push(k(rng));
                v.push(rand_value(rng));
            }
            if rng.chance(15) {
                v.push(k(rng));
            }
            v
        }
        12 => vec!["INCR".into(), k(rng)],
        13 => vec!["DECR".into(), k(rng)],
        14 => vec!["INCRBY".into(), k(rng), rand_int(rng)],
        15 => vec!["DECRBY".into(), k(rng), rand_int(rng)],
        16 | 17 => {
            let by = if rng.chance(60) {
                rand_float(rng)
            } else {
                rand_value(rng)
            };
            vec!["INCRBYFLOAT".into(), k(rng), by]
        }
        18 => vec!["APPEND".into(), k(rng), rand_value(rng)],
        19 => vec!["STRLEN".into(), k(rng)],
        20 | 21 => {
            let name = if rng.chance(70) { "GETRANGE" } else { "SUBSTR" };
            vec![name.into(), k(rng), rand_int(rng), rand_int(rng)]
        }
        22 => {
            let off = match rng.below(6) {
                0 => "-1".to_string(),
                1 => "536870912".to_string(),
                2 => "x".to_string(),
                _ => rng.below(40).to_string(),
            };
            let v = if rng.chance(20) {
                String::new()
            } else {
                rand_string(rng)
            };
            vec!["SETRANGE".into(), k(rng), off, v]
        }
        _ => {
            let mut v = vec!["LCS".into(), k(rng), k(rng)];
            for _ in 0..rng.below(4) {
                match rng.below(6) {
                    0 => v.push("LEN".into()),
                    1 | 2 => v.push("IDX".into()),
                    3 => v.push("WITHMATCHLEN".into()),
                    4 => {
                        v.push("MINMATCHLEN".into());
                        v.push(rng.pick(&["0", "1", "2", "3", "-1", "x"]).into());
                    }
                    _ => v.push(rng.pick(&["FOO", "MINMATCHLEN"]).into()),
                }
            }
            v
        }
    };
    // Occasionally a wrong arity: drop or add an argument.
    if rng.chance(4) {
        if rng.chance(50) && cmd.len() > 1 {
            cmd.pop();
        } else {
            cmd.push("extra".into());
        }
    }
    cmd
}

#[test]
fn differential_against_redis() {
    let Some(mut d) = Diff::start("string", &[]) else {
        return;
    };
    d.run_argv(4000, |rng| {
        let cmd = rand_command(rng);
        cmd.into_iter().map(String::into_bytes).collect()
    });
    // Same final contents.
    for k in KEYS {
        let want = d.redis.cmd(&[b"GET", k.as_bytes()]);
        let got = d.ours.cmd(&[b"GET", k.as_bytes()]);
        assert_eq!(
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(&got),
            "final value of {k} (MEMKV_SEED={})",
            d.seed
        );
    }
}

/// Every file under `dir`, recursively.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn aof_replays_what_executed() {
    let dir = common::temp_dir("string-aof");
    let extra = ["--appendonly", "yes", "--appendfsync", "always"];
    {
        let mut s = Server::start_in(&dir, &extra);
        let mut r = s.raw();
        assert_eq!(c(&mut r, &["SET", "ex", "v", "EX", "1000"]), OK);
        assert_eq!(c(&mut r, &["SETEX", "se", "1000", "v"]), OK);
        assert_eq!(c(&mut r, &["PSETEX", "pse", "1000000", "v"]), OK);
        assert_eq!(c(&mut r, &["SET", "sg", "v1"]), OK);
        assert_eq!(
            c(&mut r, &["SET", "sg", "v2", "GET", "PX", "1000000"]),
            bulk("v1")
        );
        assert_eq!(c(&mut r, &["SET", "nx", "v", "NX", "EX", "1000"]), OK);
        assert_eq!(c(&mut r, &["SET", "nx", "w", "NX", "EX", "1"]), NIL);
        assert_eq!(c(&mut r, &["INCRBYFLOAT", "f", "10.5"]), bulk("10.5"));
        assert_eq!(c(&mut r, &["INCRBYFLOAT", "f", "0.1"]), bulk("10.6"));
        assert_eq!(c(&mut r, &["SET", "gx", "v"]), OK);
        assert_eq!(c(&mut r, &["GETEX", "gx", "EX", "1000"]), bulk("v"));
        assert_eq!(c(&mut r, &["SET", "gp", "v", "EX", "1000"]), OK);
        assert_eq!(c(&mut r, &["GETEX", "gp", "PERSIST"]), bulk("v"));
        assert_eq!(c(&mut r, &["SET", "gd", "v"]), OK);
        assert_eq!(c(&mut r, &["GETEX", "gd", "PXAT", "1"]), bulk("v"));
        assert_eq!(c(&mut r, &["SET", "del", "v"]), OK);
        assert_eq!(c(&mut r, &["GETDEL", "del"]), bulk("v"));
        assert_eq!(c(&mut r, &["GETSET", "gs", "v"]), NIL);
        assert_eq!(c(&mut r, &["INCRBY", "n", "5"]), int(5));
        assert_eq!(c(&mut r, &["APPEND", "n", "0"]), int(2));
        assert_eq!(c(&mut r, &["SETRANGE", "sr", "2", "x"]), int(3));
        assert_eq!(c(&mut r, &["MSET", "m1", "a", "m2", "b"]), OK);
        s.kill9();
        // What was logged: absolute expiries and resulting values only.
        let mut log = Vec::new();
        for e in walk(&dir) {
            if e.to_string_lossy().ends_with(".incr.aof") {
                log.extend(std::fs::read(&e).unwrap_or_default());
            }
        }
        let log = String::from_utf8_lossy(&log).to_ascii_uppercase();
        assert!(log.contains("PXAT"), "{log}");
        assert!(log.contains("PEXPIREAT"), "{log}");
        for absent in [
            "SETEX",
            "GETEX",
            "INCRBYFLOAT",
            "GETDEL",
            "GETSET",
            "\r\nGET\r\n",
        ] {
            assert!(!log.contains(absent), "{absent} in {log}");
        }
        // Keep the directory for the restart.
        s.dir = std::path::PathBuf::new();
    }
    let s = Server::start_in(&dir, &extra);
    let mut r = s.raw();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while c(&mut r, &["GET", "ex"]).starts_with("-LOADING") {
        assert!(std::time::Instant::now() < deadline, "AOF never loaded");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for (k, v) in [
        ("ex", "v"),
        ("se", "v"),
        ("pse", "v"),
        ("sg", "v2"),
        ("nx", "v"),
        ("f", "10.6"),
        ("gx", "v"),
        ("gp", "v"),
        ("gs", "v"),
        ("n", "50"),
        ("m1", "a"),
        ("m2", "b"),
    ] {
        assert_eq!(c(&mut r, &["GET", k]), bulk(v), "{k}");
    }
    assert_eq!(c(&mut r, &["GET", "gd"]), NIL);
    assert_eq!(c(&mut r, &["GET", "del"]), NIL);
    assert_eq!(cb(&mut r, &[b"GET", b"sr"]), b"$3\r\n\0\0x\r\n".to_vec());
    for (k, lo, hi) in [
        ("ex", 900_000, 1_000_000),
        ("se", 900_000, 1_000_000),
        ("pse", 900_000, 1_000_000),
        ("sg", 900_000, 1_000_000),
        ("nx", 900_000, 1_000_000),
        ("gx", 900_000, 1_000_000),
        ("gp", -1, -1),
        ("f", -1, -1),
    ] {
        let t = pttl(&mut r, k).expect("PTTL");
        assert!(t >= lo && t <= hi, "{k}: {t}");
    }
}
