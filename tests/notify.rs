//! Keyspace notifications through real subscribers, compared byte-for-byte
//! with the stream real Redis emits for the same scripted commands of every
//! family (strings, keys, lists, hashes, sets, SORT, expiry, new keys, key
//! misses), under several `notify-keyspace-events` settings; a rolled-back
//! transaction emits nothing.

mod common;

use common::script::split;
use common::{Raw, Server};

const EVERY_FAMILY: &[&str] = &[
    "set a 1",
    "set a 2 ex 100",
    "setnx a 3",
    "setnx b 3",
    "setex c 100 v",
    "psetex c 100000 v",
    "getset c w",
    "mset m1 1 m2 2",
    "msetnx m3 1 m4 1",
    "incr n",
    "incrby n 5",
    "decr n",
    "decrby n 2",
    "incrbyfloat f 1.5",
    "append s hello",
    "append s x",
    "setrange s 1 Z",
    "getdel s",
    "getdel s",
    "getex a ex 100",
    "getex a persist",
    "getex a",
    "expire a 100",
    "pexpire a 100000",
    "persist a",
    "expire a -1",
    "set e 1",
    "rename e e2",
    "renamenx e2 m1",
    "renamenx e2 e3",
    "copy e3 e4",
    "move e4 1",
    "del m1 m2 nokey",
    "unlink m3 m4",
    "get nokey",
    "lpush l a b c",
    "rpush l d",
    "lpushx nol a",
    "rpushx l e",
    "lpop l",
    "rpop l",
    "lset l 0 X",
    "linsert l before X Y",
    "lrem l 1 Y",
    "ltrim l 0 0",
    "rpoplpush l l2",
    "lmove l2 l3 left right",
    "lmove l3 l3 left right",
    "lpop l3",
    "lpush big 1 2 3 4 5",
    "lmpop 1 big right count 2",
    "lpop big 3",
    "hset h a 1 b 2",
    "hsetnx h a 5",
    "hsetnx h c 5",
    "hincrby h a 3",
    "hincrbyfloat h a 1.5",
    "hdel h a b nope",
    "hdel h c",
    "sadd st a b c",
    "srem st a",
    "sadd one z",
    "spop one",
    "sadd st2 x",
    "smove st st2 b",
    "sadd s1 a b",
    "sadd s2 b c",
    "sinterstore dst s1 s2",
    "sunionstore dst s1 s2",
    "sdiffstore dst s1 s1",
    "sdiffstore dst s1 s1",
    "rpush sl 3 1 2",
    "sort sl store sorted",
    "sort nosuch store sorted",
    "flushdb",
];

const READS: &[&str] = &[
    "get nokey",
    "exists nokey",
    "strlen nokey",
    "lrange nolist 0 -1",
    "hget noh f",
    "smembers nos",
    "type nokey",
    "ttl nokey",
    "set k v",
    "get k",
    "mget k nokey",
    "lpush l a",
    "lpop l",
    "lpop l",
    "incr cnt",
    "hset h f v",
    "hget h nofield",
    "sismember nos x",
    "scard nos",
    "llen nol",
    "getrange nokey 0 1",
];

const EXPIRY: &[&str] = &[
    "set px v pxat 1",
    "get px",
    "set px2 v pxat 1",
    "set px2 again",
    "set px3 v pxat 1",
    "lpush px3 x",
    "set e v",
    "expireat e 1",
    "pexpireat e 1",
    "set e v",
    "getex e pxat 1",
    "get e",
];

/// Commands that change nothing, keys given twice, replaced destinations.
const EDGES: &[&str] = &[
    "sadd s a b",
    "srem s zz",
    "sadd s a",
    "smove s s2 zz",
    "hset h f v",
    "hdel h nofield",
    "hset h f v",
    "hsetnx h f w",
    "rpush l a b c",
    "lrem l 0 zz",
    "ltrim l 0 -1",
    "ltrim l 5 10",
    "rpush l a",
    "linsert l before nopivot x",
    "lpushx nol a",
    "rpushx nol a",
    "set k v",
    "persist k",
    "expire nokey 10",
    "expire k 100 nx",
    "expire k 100 nx",
    "lpop nol",
    "spop nos",
    "getex k",
    "getdel nokey",
    "append k x",
    "setrange k 0 \"\"",
    "setrange nok 0 \"\"",
    "incrbyfloat f 0",
    "mset a 1 a 2",
    "lset l 0 Z",
    "sinterstore dst nos1 nos2",
    "copy k k2",
    "copy k k2",
    "copy k k2 replace",
    "move k 1",
    "move k2 0",
    "rename k2 k2",
    "hincrby h n 0",
    "sort l alpha store sl",
    "sunionstore s3 s",
    "sdiffstore s3 s s",
];

const RENAMES: &[&str] = &[
    "rename a b",
    "set a 1",
    "set b 2",
    "rename a b",
    "set c 3",
    "copy c b replace",
    "set x 1",
    "renamenx x b",
    "rename b b",
];

/// Sorted sets and geo.
const ZSETS: &[&str] = &[
    "zadd z 1 a 2 b 3 c",
    "zadd z incr 5 a",
    "zincrby z 1 b",
    "zrem z c",
    "zrem z nope",
    "zadd z2 1 x 2 y 3 z",
    "zremrangebyscore z2 1 1",
    "zremrangebyrank z2 0 0",
    "zadd z3 0 a 0 b",
    "zremrangebylex z3 [a [a",
    "zpopmin z",
    "zpopmax z",
    "zadd z4 1 a 2 b",
    "zmpop 1 z4 min",
    "zmpop 1 z4 max",
    "zadd s1 1 a 2 b",
    "zadd s2 1 b",
    "zunionstore u 2 s1 s2",
    "zinterstore i 2 s1 s2",
    "zdiffstore d 2 s1 s1",
    "zrangestore r s1 0 -1",
    "geoadd g 13.361389 38.115556 Palermo",
    "geoadd g 15.087269 37.502669 Catania",
    "geosearchstore gs g fromlonlat 15 37 byradius 200 km",
    "georadius g 15 37 200 km store gr",
    "bzpopmin s2 0",
];

/// Runs `cmds` on one connection while another listens on every
/// notification channel; returns each message's raw bytes, in order.
fn stream(s: &Server, flags: &str, cmds: &[&str]) -> Vec<Vec<u8>> {
    let mut sub = s.raw();
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"FLUSHALL"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[
            b"CONFIG",
            b"SET",
            b"notify-keyspace-events",
            flags.as_bytes()
        ]),
        b"+OK\r\n"
    );
    sub.cmd(&[b"PSUBSCRIBE", b"__key*__:*"]);
    for line in cmds {
        run(&mut c, line);
    }
    // A sentinel through the same delivery path marks the end.
    c.cmd(&[b"PUBLISH", b"__keyevent@0__:END", b"x"]);
    let mut out = Vec::new();
    loop {
        let m = sub.read_reply();
        if m.windows(18).any(|w| w == b"__keyevent@0__:END") {
            return out;
        }
        out.push(m);
    }
}

fn run(c: &mut Raw, line: &str) -> Vec<u8> {
    let parts = split(line);
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    c.cmd(&refs)
}

fn render(stream: &[Vec<u8>]) -> Vec<String> {
    stream
        .iter()
        .map(|m| String::from_utf8_lossy(m).replace("\r\n", " "))
        .collect()
}

/// memkv's stream for `cmds`, checked against real Redis when installed.
fn differential(flags: &str, cmds: &[&str]) -> Vec<String> {
    let s = Server::start(&[]);
    let mine = render(&stream(&s, flags, cmds));
    if let Some(r) = Server::start_redis(&[]) {
        let theirs = render(&stream(&r, flags, cmds));
        for (i, (a, b)) in mine.iter().zip(&theirs).enumerate() {
            assert_eq!(a, b, "message #{i} with flags {flags}");
        }
        assert_eq!(mine.len(), theirs.len(), "stream length with flags {flags}");
    }
    mine
}

fn has(stream: &[String], channel: &str, msg: &str) -> bool {
    let want = format!(
        "${}\r\n{channel}\r\n${}\r\n{msg}\r\n",
        channel.len(),
        msg.len()
    )
    .replace("\r\n", " ");
    stream.iter().any(|m| m.ends_with(&want))
}

#[test]
fn every_family_all_classes() {
    let s = differential("KEA", EVERY_FAMILY);
    assert!(has(&s, "__keyspace@0__:a", "set"));
    assert!(has(&s, "__keyevent@0__:rename_from", "e"));
    assert!(has(&s, "__keyevent@1__:move_to", "e4"));
    assert!(has(&s, "__keyevent@0__:del", "l"));
    assert!(has(&s, "__keyevent@0__:incrby", "n"));
    assert!(!has(&s, "__keyevent@0__:new", "b"));
}

#[test]
fn every_family_new_and_keymiss() {
    let s = differential("KEAmn", EVERY_FAMILY);
    assert!(has(&s, "__keyevent@0__:new", "b"));
    assert!(has(&s, "__keyevent@0__:keymiss", "nokey"));
}

#[test]
fn one_class_one_channel_kind() {
    let s = differential("Kl", EVERY_FAMILY);
    assert!(s.iter().all(|m| m.contains("__keyspace@")));
    assert!(has(&s, "__keyspace@0__:l", "lpush"));
    assert!(!has(&s, "__keyspace@0__:a", "set"));
    let s = differential("Eg$", EVERY_FAMILY);
    assert!(s.iter().all(|m| m.contains("__keyevent@")));
    assert!(!has(&s, "__keyevent@0__:lpush", "l"));
    assert!(has(&s, "__keyevent@0__:set", "a"));
}

#[test]
fn reads_and_misses() {
    let s = differential("KEAmn", READS);
    assert!(has(&s, "__keyevent@0__:keymiss", "nokey"));
    let s = differential("KEA", READS);
    assert!(!has(&s, "__keyevent@0__:keymiss", "nokey"));
}

#[test]
fn expiry_events() {
    let s = differential("KEAmn", EXPIRY);
    assert!(has(&s, "__keyevent@0__:expired", "px"));
    assert!(has(&s, "__keyevent@0__:del", "e"));
    let s = differential("Ex", EXPIRY);
    assert!(s.iter().all(|m| m.contains("__keyevent@0__:expired")));
    assert!(!s.is_empty());
}

#[test]
fn committed_transaction_announces_rolled_back_one_does_not() {
    let committed = ["MULTI", "SET a 1", "RPUSH l x", "EXEC"];
    let s = differential("KEA", &committed);
    assert!(has(&s, "__keyevent@0__:set", "a"));
    assert!(has(&s, "__keyevent@0__:rpush", "l"));
    // memkv rolls back a transaction whose command fails (multi-rollback
    // yes): nothing it did is announced. (Redis has no rollback.)
    let server = Server::start(&[]);
    let failing = [
        "SET a 1",
        "MULTI",
        "SET a 2",
        "SET b 2",
        "LPUSH a x",
        "EXEC",
        "SET c 3",
    ];
    let s = render(&stream(&server, "KEA", &failing));
    assert!(has(&s, "__keyevent@0__:set", "a"));
    assert!(!has(&s, "__keyevent@0__:set", "b"));
    assert!(!has(&s, "__keyevent@0__:lpush", "a"));
    assert!(has(&s, "__keyevent@0__:set", "c"));
    assert_eq!(s.len(), 4, "{s:?}");
}

#[test]
fn off_by_default_and_resp3_push() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    sub.cmd(&[b"HELLO", b"3"]);
    sub.cmd(&[b"PSUBSCRIBE", b"__key*__:*"]);
    let mut c = s.raw();
    c.cmd(&[b"SET", b"quiet", b"1"]);
    c.cmd(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"E$"]);
    c.cmd(&[b"SET", b"loud", b"1"]);
    assert_eq!(
        sub.read_reply(),
        b">4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$18\r\n__keyevent@0__:set\r\n$4\r\nloud\r\n"
    );
    // A RESP3 subscriber runs commands and sees its own writes announced
    // before the reply, as Redis 7.0 sends them.
    sub.send(&common::encode(&[b"SET", b"mine", b"1"]));
    assert_eq!(
        sub.read_reply(),
        b">4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$18\r\n__keyevent@0__:set\r\n$4\r\nmine\r\n"
    );
    assert_eq!(sub.read_reply(), b"+OK\r\n");
}

#[test]
fn no_op_writes_repeats_and_replaced_destinations() {
    // (Without `m`: memkv's set-operation sources do not count key misses.)
    let s = differential("KEAn", EDGES);
    assert!(!has(&s, "__keyevent@0__:srem", "s"));
    let sets = s
        .iter()
        .filter(|m| m.ends_with("$18 __keyevent@0__:set $1 a "))
        .count();
    assert_eq!(sets, 2, "{s:?}");
    let s = differential("KEAmn", RENAMES);
    assert!(has(&s, "__keyevent@0__:new", "b"));
    assert!(has(&s, "__keyevent@0__:copy_to", "b"));
}

#[test]
fn sorted_sets_and_geo() {
    let s = differential("KEAn", ZSETS);
    assert!(has(&s, "__keyevent@0__:zincr", "z"));
    assert!(has(&s, "__keyevent@0__:zadd", "g"));
    assert!(has(&s, "__keyevent@0__:zpopmin", "s2"));
}

/// Bitmaps and HyperLogLogs: SETBIT/BITFIELD announce `setbit` (also when
/// the bit keeps its value, as Redis 7.0 does), BITOP `set` or `del` for an
/// empty result, PFADD/PFMERGE `pfadd` only when a register changed, and
/// PFCOUNT refreshing its cache nothing.
const BITS_AND_HLL: &[&str] = &[
    "setbit b 7 1",
    "setbit b 7 1",
    "setbit b 100 0",
    "getbit b 3",
    "getbit nob 3",
    "bitfield f set u8 0 200 get u8 0",
    "bitfield f get u8 0",
    "bitfield f overflow fail incrby u8 0 100",
    // Every write failed: a missing key is created (`new` only), a short
    // string padded (nothing announced).
    "bitfield bf overflow fail incrby u2 0 5",
    "bitfield f overflow fail set u2 200 9",
    "bitfield_ro f get u4 0",
    "bitfield_ro nof get u4 0",
    "bitcount b",
    "bitpos b 1",
    "bitop and d b f",
    "bitop or d2 b nokey",
    "bitop xor d nokey nokey2",
    "bitop not d3 nokey",
    "pfadd h a b c",
    "pfadd h a",
    "pfadd h2",
    "pfcount h",
    "pfcount h h2 nokey",
    "pfmerge h3 h h2",
    "pfmerge h3",
    "pfdebug todense h",
];

#[test]
fn bitmaps_and_hyperloglog() {
    let s = differential("KEAmn", BITS_AND_HLL);
    assert!(has(&s, "__keyevent@0__:setbit", "b"));
    assert!(has(&s, "__keyevent@0__:setbit", "f"));
    assert!(has(&s, "__keyevent@0__:set", "d"));
    assert!(has(&s, "__keyevent@0__:del", "d"));
    assert!(has(&s, "__keyevent@0__:pfadd", "h3"));
    assert!(has(&s, "__keyevent@0__:new", "h2"));
    assert!(has(&s, "__keyevent@0__:new", "bf"));
}

/// A RESP3 client subscribed to its own keys' events runs a transaction:
/// Redis 7.0 writes each event into the EXEC reply, before the reply of
/// the command that caused it (a script's events before the script's
/// reply). memkv sends the same bytes, whether it could roll the
/// transaction back (`multi-rollback yes`, events held until the commit)
/// or not; with `no`, a failed command in the middle announces nothing and
/// the others do, as in Redis.
#[test]
fn own_events_inside_the_exec_reply() {
    let committed: &[&str] = &[
        "MULTI",
        "SET k v",
        "PUBLISH ch hi",
        "GET k",
        "EVAL \"redis.call('set', 'k', 'x') redis.call('del', 'k') return 7\" 0",
        "SET k w",
        "EXEC",
        "SET k z",
    ];
    let failing: &[&str] = &[
        "SET s str",
        "MULTI",
        "SET k 1",
        "LPUSH s x",
        "SET k 2",
        "EXEC",
    ];
    let session = |s: &Server, cmds: &[&str]| {
        let mut c = s.raw();
        c.cmd(&[b"HELLO", b"3"]);
        c.cmd(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA"]);
        c.cmd(&[b"SUBSCRIBE", b"__keyspace@0__:k"]);
        c.cmd(&[b"SUBSCRIBE", b"ch"]);
        common::push::exchange(&mut c, cmds)
    };
    let ev = |e: &str| {
        format!(
            ">3\r\n$7\r\nmessage\r\n$16\r\n__keyspace@0__:k\r\n${}\r\n{e}\r\n",
            e.len()
        )
    };
    let want = [
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*5\r\n".to_string(),
        ev("set"),
        "+OK\r\n>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n:1\r\n$1\r\nv\r\n".into(),
        ev("set"),
        ev("del"),
        ":7\r\n".into(),
        ev("set"),
        "+OK\r\n".into(),
        ev("set"),
        "+OK\r\n".into(),
    ]
    .concat();
    let memkv = Server::start(&[]);
    assert_eq!(session(&memkv, committed), want);
    let no_rollback = Server::start(&["--multi-rollback", "no"]);
    let mine = session(&no_rollback, failing);
    assert_eq!(session(&no_rollback, committed), want);
    if let Some(r) = Server::start_redis(&[]) {
        assert_eq!(session(&r, committed), want, "redis");
        assert_eq!(session(&r, failing), mine, "redis, a failed command");
    }
    // Rolled back: the client is told EXECABORT and sees no event.
    assert_eq!(
        session(&memkv, failing),
        "+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n-EXECABORT Transaction rolled back: command #2 (LPUSH) failed: WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}
