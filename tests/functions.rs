//! Redis 7.0 Functions through the real protocol: FUNCTION LOAD's errors
//! for every kind of bad library, FCALL / FCALL_RO rules, FUNCTION LIST /
//! STATS in RESP2 and RESP3, compared byte for byte with real Redis 7.0;
//! FUNCTION DUMP payloads restored across Redis and memkv in both
//! directions; libraries surviving a restart and an AOF rewrite.

mod common;

use common::script::{Cmd, differential, send_argv as send, until_loaded};
use std::path::{Path, PathBuf};

use common::{Raw, Server, encode, temp_dir};

const LIB1: &str = "#!lua name=lib1\n\
local function w(keys, args) return redis.call('set', keys[1], args[1]) end\n\
redis.register_function('w', w)\n\
redis.register_function{function_name='r', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}}\n\
redis.register_function{function_name='rw', callback=function(keys, args) return redis.call('set', keys[1], 'z') end, flags={'no-writes'}}\n\
redis.register_function('e', function(keys, args) error('boom') end)\n\
redis.register_function('e2', function(keys, args) return redis.error_reply('MY bad') end)\n\
redis.register_function('g', function(keys, args) return KEYS end)\n\
redis.register_function('t', function(keys, args) return {keys[1], args[1], #keys, #args} end)\n\
redis.register_function('c', function(keys, args) return redis.call('nosuch') end)\n\
redis.register_function('m', function(keys, args) redis.setresp(3) return redis.call('hgetall', keys[1]) end)\n";

const ONE_FLAGGED: &str = "#!lua name=flagged\n\
redis.register_function{function_name='f3', callback=function(k, a) return 1 end, \
flags={'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}, description='hi'}";

/// Every reply equal to Redis's (function order inside a library is
/// Redis's hash order, so listed libraries hold one function each).
const CORPUS: &[Cmd] = &[
    // Metadata and engine.
    &["FUNCTION", "LOAD", "return 1"],
    &["FUNCTION", "LOAD", "#!lua\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=a b\n"],
    &["FUNCTION", "LOAD", "#!lua name=a"],
    &["FUNCTION", "LOAD", "#!py name=a\n"],
    &["FUNCTION", "LOAD", "#!lua name=bb   name=cc\n"],
    &["FUNCTION", "LOAD", "#!lua \"name=b b\"\n"],
    &["FUNCTION", "LOAD", "#!lua \"name=b\n"],
    &["FUNCTION", "LOAD", "#!lua name=b-c\nlocal x = 1"],
    &[
        "FUNCTION",
        "LOAD",
        "#!LUA NAME=a\nredis.register_function('f1', function(k, a) return 1 end)",
    ],
    // The load environment: only redis.register_function / log / LOG_* / versions.
    &["FUNCTION", "LOAD", "#!lua name=b\nreturn string.len('x')"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.call('set', 'x', 1)",
    ],
    &["FUNCTION", "LOAD", "#!lua name=b\nerror('boom')"],
    &["FUNCTION", "LOAD", "#!lua name=b\nx = 1"],
    &["FUNCTION", "LOAD", "#!lua name=b\nreturn +"],
    &["FUNCTION", "LOAD", "#!lua name=b\nlocal x = 1"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function('x', function() end)\nreturn redis.REDIS_VERSION .. redis.setresp",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function('x', function() end)\nreturn tostring(1)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function('x', function() end)\nwhile true do end",
    ],
    // register_function's argument errors.
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function()",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function(1)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function('x', function() end, 3)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function({}, function() end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function('x', 1)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function('f-1', function() end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function('', function() end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function{function_name='x'}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function{callback=function() end}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function{function_name='x', callback=function() end, foo=1}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function{function_name='x', callback=1}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function{function_name='x', callback=function() end, flags='no-writes'}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function{function_name='x', callback=function() end, flags={1}}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function{function_name='x', callback=function() end, flags={'no-writes','bad'}}",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function('f2', function() end)\nredis.register_function('f2', function() end)",
    ],
    // Collisions and REPLACE.
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=a\nredis.register_function('f1', function(k, a) return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=b\nredis.register_function('F1', function(k, a) return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=a\nredis.register_function('f1', function(k, a) return 2 end)",
    ],
    &["FCALL", "f1", "0"],
    &["FCALL", "F1", "0"],
    &[
        "FUNCTION",
        "LOAD",
        "replace",
        "#!lua name=a\nredis.register_function('f9', function(k, a) return 9 end)\nreturn 1",
    ],
    &["FCALL", "f1", "0"],
    &["FCALL", "f9", "0"],
    &["FUNCTION", "LOAD", "replace", "#!lua name=a\nlocal x = 1"],
    &["FCALL", "f9", "0"],
    &["FUNCTION", "LOAD", "replace"],
    &["FUNCTION", "LOAD", "foo", "bar"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "a", "WITHCODE"],
    &["FUNCTION", "LOAD", ONE_FLAGGED],
    &["FUNCTION", "LIST", "libraryname", "fl*"],
    &["FUNCTION", "LIST", "libraryname", "FL*", "withcode"],
    &["FUNCTION", "LIST", "libraryname", "none*"],
    &["FUNCTION", "STATS"],
    &["FUNCTION", "FLUSH"],
    &["FUNCTION", "LIST"],
    // FCALL / FCALL_RO.
    &["FUNCTION", "LOAD", LIB1],
    &["FCALL", "nope", "0"],
    &["FCALL", "w", "x"],
    &["FCALL", "w", "5"],
    &["FCALL", "w", "-1"],
    &["FCALL", "w"],
    &["FCALL", "w", "1", "k", "v"],
    &["FCALL", "r", "1", "k"],
    &["FCALL_RO", "r", "1", "k"],
    &["FCALL_RO", "w", "1", "k", "v"],
    &["FCALL", "rw", "1", "k"],
    &["FCALL", "e", "0"],
    &["FCALL", "e2", "0"],
    &["FCALL", "g", "0"],
    &["FCALL", "t", "1", "a", "b"],
    &["FCALL", "c", "0"],
    &["HSET", "h", "f", "v"],
    &["FCALL", "m", "1", "h"],
    &["FUNCTION", "STATS"],
    &["SCRIPT", "FLUSH"],
    &["FCALL", "r", "1", "k"],
    // Subcommand errors.
    &["FUNCTION", "DELETE", "nope"],
    &["FUNCTION", "DELETE"],
    &["FUNCTION", "FLUSH", "bad"],
    &["FUNCTION", "FLUSH", "sync", "x"],
    &["FUNCTION", "LIST", "x"],
    &["FUNCTION", "LIST", "libraryname"],
    &["FUNCTION", "LIST", "withcode", "withcode"],
    &["FUNCTION", "LIST", "libraryname", "l*", "libraryname", "x"],
    &["FUNCTION", "KILL"],
    &["FUNCTION", "RESTORE", "abc"],
    &["FUNCTION", "RESTORE", "abc", "bad"],
    &["FUNCTION", "RESTORE", "a", "b", "c"],
    &["FUNCTION", "STATS", "x"],
    &["FUNCTION", "DUMP", "x"],
    &["FUNCTION", "HELP"],
    &["FUNCTION"],
    &["FUNCTION", "foo"],
    &["FUNCTION", "DELETE", "lib1"],
    &["FCALL", "w", "0"],
    &["FUNCTION", "FLUSH", "ASYNC"],
    &["FUNCTION", "STATS"],
];

#[test]
fn corpus_matches_redis_resp2() {
    let out = differential(false, CORPUS);
    // Exact texts too, so the test fails without Redis installed.
    let at = |cmd: Cmd| {
        let i = CORPUS.iter().position(|c| *c == cmd).expect("in corpus");
        out[i].clone()
    };
    assert_eq!(
        at(&["FUNCTION", "LOAD", "return 1"]),
        "-ERR Missing library metadata"
    );
    assert_eq!(
        at(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=b\nredis.call('set', 'x', 1)"
        ]),
        "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"
    );
    assert_eq!(
        at(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=b\nredis.register_function('x', function() end)\nwhile true do end",
        ]),
        "-ERR Error registering functions: ERR FUNCTION LOAD timeout"
    );
    assert_eq!(
        at(&["FCALL_RO", "w", "1", "k", "v"]),
        "-ERR Can not execute a script with write flag using *_ro command."
    );
    assert_eq!(
        at(&["FCALL", "e", "0"]),
        "-ERR user_function:6: boom script: e, on @user_function:6."
    );
    assert_eq!(at(&["FCALL", "t", "1", "a", "b"]), r#"["a", "b", :1, :1]"#);
}

#[test]
fn corpus_matches_redis_resp3() {
    let out = differential(true, CORPUS);
    let i = CORPUS
        .iter()
        .position(|c| *c == ["FUNCTION", "LIST", "libraryname", "fl*"])
        .expect("in corpus");
    assert!(
        out[i].contains("~[+no-writes, +allow-oom"),
        "flags are a set: {}",
        out[i]
    );
}

/// Raw argv with binary arguments.
fn cmd(r: &mut Raw, parts: &[&[u8]]) -> Vec<u8> {
    r.cmd(parts)
}

/// The bulk payload of a `$n\r\n...\r\n` reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    assert_eq!(reply[0], b'$', "{}", String::from_utf8_lossy(reply));
    let nl = reply.iter().position(|&b| b == b'\n').expect("header");
    reply[nl + 1..reply.len() - 2].to_vec()
}

/// A library long and repetitive enough that Redis LZF-compresses it.
fn long_library(name: &str, fname: &str) -> String {
    let mut code = format!("#!lua name={name}\n");
    for i in 0..20 {
        code.push_str(&format!(
            "local unused_{i} = 'padding padding padding {i}'\n"
        ));
    }
    code.push_str(&format!(
        "redis.register_function('{fname}', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)\n"
    ));
    code
}

/// FUNCTION DUMP of Redis restores into memkv and memkv's into Redis; the
/// restore policies and payload errors behave the same on both.
#[test]
fn dump_restore_between_redis_and_memkv() {
    let m = Server::start(&[]);
    let mut mr = m.raw();
    let a = long_library("liba", "fa");
    let b = long_library("libb", "fb");
    assert_eq!(
        cmd(&mut mr, &[b"FUNCTION", b"LOAD", a.as_bytes()]),
        b"$4\r\nliba\r\n"
    );
    let mine = bulk(&cmd(&mut mr, &[b"FUNCTION", b"DUMP"]));
    // Our own payload: FUNCTION2 opcode, RDB version 10, CRC64 trailer.
    assert_eq!(mine[0], 245);
    assert_eq!(&mine[mine.len() - 10..mine.len() - 8], &[10, 0]);
    let Some(redis) = Server::start_redis(&[]) else {
        // Without Redis: a round trip through memkv alone.
        assert_eq!(cmd(&mut mr, &[b"FUNCTION", b"FLUSH"]), b"+OK\r\n");
        assert_eq!(cmd(&mut mr, &[b"FUNCTION", b"RESTORE", &mine]), b"+OK\r\n");
        assert_eq!(send(&mut mr, &["FCALL", "fa", "1", "n", "2"]), ":2");
        return;
    };
    let mut rr = redis.raw();
    // memkv -> Redis.
    assert_eq!(cmd(&mut rr, &[b"FUNCTION", b"RESTORE", &mine]), b"+OK\r\n");
    assert_eq!(send(&mut rr, &["FCALL", "fa", "1", "n", "5"]), ":5");
    assert_eq!(
        send(&mut rr, &["FUNCTION", "LIST", "WITHCODE"]),
        send(&mut mr, &["FUNCTION", "LIST", "WITHCODE"])
    );
    // Redis (LZF-compressed strings) -> memkv.
    assert_eq!(
        cmd(&mut rr, &[b"FUNCTION", b"LOAD", b.as_bytes()]),
        b"$4\r\nlibb\r\n"
    );
    let theirs = bulk(&cmd(&mut rr, &[b"FUNCTION", b"DUMP"]));
    assert!(theirs.contains(&0xc3), "Redis compressed the code");
    // Both servers hold liba only; the payload has liba and libb.
    assert_eq!(send(&mut rr, &["FUNCTION", "DELETE", "libb"]), "+OK");
    let both = |c: &[&[u8]], mr: &mut Raw, rr: &mut Raw| {
        let got = cmd(mr, c);
        let want = cmd(rr, c);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{:?}",
            c.iter()
                .map(|p| String::from_utf8_lossy(p))
                .collect::<Vec<_>>()
        );
        String::from_utf8_lossy(&got).into_owned()
    };
    assert_eq!(
        both(&[b"FUNCTION", b"RESTORE", &theirs], &mut mr, &mut rr),
        "-ERR Library liba already exists\r\n"
    );
    assert_eq!(
        both(
            &[b"FUNCTION", b"RESTORE", &theirs, b"APPEND"],
            &mut mr,
            &mut rr
        ),
        "-ERR Library liba already exists\r\n"
    );
    assert_eq!(
        both(
            &[b"FUNCTION", b"RESTORE", &theirs, b"REPLACE"],
            &mut mr,
            &mut rr
        ),
        "+OK\r\n"
    );
    for lib in ["liba", "libb"] {
        assert_eq!(
            send(
                &mut mr,
                &["FUNCTION", "LIST", "LIBRARYNAME", lib, "WITHCODE"]
            ),
            send(
                &mut rr,
                &["FUNCTION", "LIST", "LIBRARYNAME", lib, "WITHCODE"]
            )
        );
    }
    assert_eq!(send(&mut mr, &["FCALL", "fb", "1", "n", "3"]), ":3");
    // A library whose function another library already has.
    let clash = "#!lua name=other\nredis.register_function('fb', function() return 1 end)";
    both(&[b"FUNCTION", b"DELETE", b"libb"], &mut mr, &mut rr);
    both(&[b"FUNCTION", b"LOAD", clash.as_bytes()], &mut mr, &mut rr);
    assert_eq!(
        both(
            &[b"FUNCTION", b"RESTORE", &theirs, b"REPLACE"],
            &mut mr,
            &mut rr
        ),
        "-ERR Function fb already exists\r\n"
    );
    assert_eq!(
        both(
            &[b"FUNCTION", b"RESTORE", &theirs, b"FLUSH"],
            &mut mr,
            &mut rr
        ),
        "+OK\r\n"
    );
    both(
        &[b"FUNCTION", b"LIST", b"LIBRARYNAME", b"other"],
        &mut mr,
        &mut rr,
    );
    // Damaged payloads.
    let mut bad = theirs.clone();
    bad[5] ^= 0x20;
    assert_eq!(
        both(&[b"FUNCTION", b"RESTORE", &bad], &mut mr, &mut rr),
        "-ERR DUMP payload version or checksum are wrong\r\n"
    );
    let mut newer = theirs.clone();
    let n = newer.len();
    newer[n - 10] = 11;
    both(&[b"FUNCTION", b"RESTORE", &newer], &mut mr, &mut rr);
    both(&[b"FUNCTION", b"RESTORE", &theirs[..9]], &mut mr, &mut rr);
    // A well-formed payload holding something else than a library.
    let mut other = vec![0u8, 1, b'x'];
    other.extend_from_slice(&[10, 0]);
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&other);
    other.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        both(&[b"FUNCTION", b"RESTORE", &other], &mut mr, &mut rr),
        "-ERR given type is not a function\r\n"
    );
    // An empty registry dumps to just the trailer, on both.
    both(&[b"FUNCTION", b"FLUSH"], &mut mr, &mut rr);
    both(&[b"FUNCTION", b"DUMP"], &mut mr, &mut rr);
}

/// A new directory holding a copy of `dir`'s appendonlydir (a server's
/// directory goes when it stops; appendfsync always: the files are whole).
fn carry(dir: &Path, tag: &str) -> PathBuf {
    let to = temp_dir(tag);
    std::fs::create_dir_all(to.join("appendonlydir")).expect("mkdir");
    for e in std::fs::read_dir(dir.join("appendonlydir")).expect("aof dir") {
        let p = e.expect("entry").path();
        std::fs::copy(
            &p,
            to.join("appendonlydir").join(p.file_name().expect("name")),
        )
        .expect("copy");
    }
    to
}

/// Libraries are in the AOF as Redis writes them (FUNCTION LOAD / DELETE
/// / FLUSH verbatim, FUNCTION LOAD in the rewritten base): they survive a
/// restart and a rewrite, and the files load in real Redis too.
#[test]
fn libraries_survive_restart_and_rewrite() {
    let args = common::AOF_ALWAYS;
    let keep = long_library("keep", "bump");
    let gone = "#!lua name=gone\nredis.register_function('g', function() return 1 end)";
    let first = Server::start(args);
    let mut r = first.raw();
    assert_eq!(send(&mut r, &["FUNCTION", "LOAD", gone]), r#""gone""#);
    assert_eq!(send(&mut r, &["FUNCTION", "FLUSH"]), "+OK");
    assert_eq!(send(&mut r, &["FUNCTION", "LOAD", gone]), r#""gone""#);
    assert_eq!(send(&mut r, &["FUNCTION", "LOAD", &keep]), r#""keep""#);
    assert_eq!(send(&mut r, &["FUNCTION", "DELETE", "gone"]), "+OK");
    assert_eq!(send(&mut r, &["FCALL", "bump", "1", "n", "4"]), ":4");
    let listing = send(&mut r, &["FUNCTION", "LIST", "WITHCODE"]);
    let dir = carry(&first.dir, "functions-aof-1");
    drop(first);
    let second = Server::start_in(&dir, args);
    let mut r = second.raw();
    until_loaded(&mut r);
    assert_eq!(send(&mut r, &["FUNCTION", "LIST", "WITHCODE"]), listing);
    assert_eq!(send(&mut r, &["FCALL", "bump", "1", "n", "1"]), ":5");
    assert_eq!(
        send(&mut r, &["FCALL", "g", "0"]),
        "-ERR Function not found"
    );
    assert_eq!(
        send(&mut r, &["BGREWRITEAOF"]),
        "+Background append only file rewriting started"
    );
    // Converges: wait for the rewrite to be installed (no timing asserts).
    for _ in 0..600 {
        let info = send(&mut r, &["INFO", "persistence"]);
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            let files: Vec<String> = std::fs::read_dir(second.dir.join("appendonlydir"))
                .expect("aof dir")
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
            if files.iter().any(|f| f.contains(".base.")) {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let base: Vec<u8> = std::fs::read_dir(second.dir.join("appendonlydir"))
        .expect("aof dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(".base."))
        .flat_map(|p| std::fs::read(p).expect("read base"))
        .collect();
    let text = String::from_utf8_lossy(&base);
    // An RDB base (aof-use-rdb-preamble yes, the default) carries the
    // library as a FUNCTION2 record, an AOF base as FUNCTION LOAD.
    assert!(
        (text.starts_with("REDIS0010") || text.contains("FUNCTION")) && text.contains("name=keep"),
        "{text}"
    );
    assert!(!text.contains("name=gone"), "{text}");
    let dir = carry(&second.dir, "functions-aof-2");
    drop(second);
    let third = Server::start_in(&dir, args);
    let mut r = third.raw();
    until_loaded(&mut r);
    assert_eq!(send(&mut r, &["FUNCTION", "LIST", "WITHCODE"]), listing);
    assert_eq!(send(&mut r, &["GET", "n"]), r#""5""#);
    let rdir = carry(&third.dir, "functions-aof-redis");
    drop(third);
    if let Some(redis) =
        Server::start_redis(&["--appendonly", "yes", "--dir", rdir.to_str().expect("dir")])
    {
        let mut r = redis.raw();
        until_loaded(&mut r);
        assert_eq!(send(&mut r, &["FUNCTION", "LIST", "WITHCODE"]), listing);
        assert_eq!(send(&mut r, &["FCALL", "bump", "1", "n", "1"]), ":6");
    }
    let _ = std::fs::remove_dir_all(&rdir);
}

/// FCALL's keys come from numkeys (COMMAND GETKEYS, so cluster routing
/// sees them); a function inside MULTI runs in EXEC; SCRIPT FLUSH leaves
/// libraries alone; INFO counts them.
#[test]
fn keys_transactions_and_info() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        send(
            &mut r,
            &["COMMAND", "GETKEYS", "FCALL", "f", "2", "a", "b", "c"]
        ),
        r#"["a", "b"]"#
    );
    assert_eq!(
        send(&mut r, &["COMMAND", "GETKEYS", "FCALL_RO", "f", "1", "k"]),
        r#"["k"]"#
    );
    assert_eq!(send(&mut r, &["FUNCTION", "LOAD", LIB1]), r#""lib1""#);
    assert_eq!(send(&mut r, &["MULTI"]), "+OK");
    assert_eq!(send(&mut r, &["FCALL", "w", "1", "k", "v1"]), "+QUEUED");
    assert_eq!(send(&mut r, &["FCALL_RO", "r", "1", "k"]), "+QUEUED");
    assert_eq!(send(&mut r, &["EXEC"]), r#"[+OK, "v1"]"#);
    assert_eq!(send(&mut r, &["SCRIPT", "FLUSH"]), "+OK");
    assert_eq!(send(&mut r, &["FCALL", "r", "1", "k"]), r#""v1""#);
    let info = send(&mut r, &["INFO", "memory"]);
    assert!(info.contains("number_of_functions:9"), "{info}");
    assert!(info.contains("number_of_cached_scripts:0"), "{info}");
    assert_eq!(send(&mut r, &["FUNCTION", "FLUSH"]), "+OK");
    let info = send(&mut r, &["INFO", "memory"]);
    assert!(info.contains("number_of_functions:0"), "{info}");
}

/// With `multi-rollback yes` a failing EXEC undoes its library changes
/// (FUNCTION RESTORE's binary payload included) like its data changes;
/// with `no` they stay, as in Redis.
#[test]
fn rolled_back_exec_restores_libraries() {
    let lib = |name: &str, f: &str| {
        format!("#!lua name={name}\nredis.register_function('{f}', function() return '{f}' end)")
    };
    for rollback in ["yes", "no"] {
        let s = Server::start(&["--multi-rollback", rollback]);
        let mut r = s.raw();
        assert_eq!(
            send(&mut r, &["FUNCTION", "LOAD", &lib("keep", "k")]),
            r#""keep""#
        );
        let payload = bulk(&cmd(&mut r, &[b"FUNCTION", b"DUMP"]));
        assert_eq!(send(&mut r, &["HSET", "h", "f", "v"]), ":1");
        let queue: Vec<Vec<u8>> = vec![
            encode(&[b"MULTI"]),
            encode(&[b"FUNCTION", b"LOAD", lib("added", "a").as_bytes()]),
            encode(&[b"FUNCTION", b"DELETE", b"keep"]),
            encode(&[b"FUNCTION", b"RESTORE", &payload]),
            encode(&[b"FUNCTION", b"FLUSH"]),
            encode(&[b"FUNCTION", b"LOAD", lib("other", "o").as_bytes()]),
            encode(&[b"INCR", b"h"]),
            encode(&[b"EXEC"]),
        ];
        r.send(&queue.concat());
        let replies: Vec<String> = (0..queue.len())
            .map(|_| common::script::render(&r.read_reply()))
            .collect();
        let exec = &replies[replies.len() - 1];
        let listing = send(&mut r, &["FUNCTION", "LIST"]);
        if rollback == "yes" {
            assert!(
                exec.starts_with("-EXECABORT Transaction rolled back: command #6 (INCR)"),
                "{exec}"
            );
            assert!(
                listing.contains("\"keep\"") && !listing.contains("\"other\""),
                "{listing}"
            );
            assert_eq!(send(&mut r, &["FCALL", "k", "0"]), r#""k""#);
        } else {
            assert!(exec.contains("WRONGTYPE"), "{exec}");
            assert!(
                listing.contains("\"other\"") && !listing.contains("\"keep\""),
                "{listing}"
            );
        }
    }
}

/// FCALL over maxmemory follows the function's flags as Redis 7.0: a
/// function that may write and lacks `allow-oom` is refused (a denyoom
/// command), `no-writes` and `allow-oom` ones run.
#[test]
fn fcall_over_maxmemory_matches_redis() {
    const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.";
    let lib = "#!lua name=oomlib\n\
redis.register_function('fw', function(keys, args) return redis.call('set', keys[1], 'x') end)\n\
redis.register_function{function_name='fro', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}}\n\
redis.register_function{function_name='foom', callback=function(keys, args) return redis.call('set', keys[1], 'y') end, flags={'allow-oom'}}";
    let cmds: &[Cmd] = &[
        &["SET", "k", "v"],
        &["FUNCTION", "LOAD", lib],
        &["CONFIG", "SET", "maxmemory", "1"],
        &["FCALL", "fw", "1", "k"],
        &["FCALL", "fro", "1", "k"],
        &["FCALL_RO", "fro", "1", "k"],
        &["FCALL_RO", "fw", "1", "k"],
        &["FCALL", "foom", "1", "k2"],
        &["FCALL", "nosuch", "0"],
        &["CONFIG", "SET", "maxmemory", "0"],
        &["GET", "k2"],
    ];
    let got = differential(false, cmds);
    assert_eq!(got[3], OOM);
    assert_eq!(got[4], "\"v\"");
    assert_eq!(got[5], "\"v\"");
    assert_eq!(got[6], OOM);
    assert_eq!(got[7], "+OK");
    assert_eq!(got[8], "-ERR Function not found");
    assert_eq!(got[10], "\"y\"");
}
