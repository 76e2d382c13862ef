//! MIGRATE through the real protocol: memkv -> real Redis 7.0, Redis ->
//! memkv and memkv -> memkv for every type and encoding (DEBUG
//! DIGEST-VALUE equal, TTL kept), COPY, REPLACE, BUSYKEY, KEYS with missing
//! keys, NOKEY, AUTH / AUTH2 and their errors, syntax errors and COMMAND
//! GETKEYS compared with Redis, a target that never answers (IOERR after
//! the timeout while memkv keeps serving), and the delete after success:
//! a DEL for notifications, none for a key written meanwhile.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use common::dataset::{digest, populate};
use common::{DEBUG, Server};
use redis::{Connection, Value as RV, cmd};

fn memkv() -> Server {
    Server::start(DEBUG)
}

fn redis_server(extra: &[&str]) -> Option<Server> {
    let mut args = DEBUG.to_vec();
    args.extend_from_slice(extra);
    Server::start_redis(&args)
}

/// MIGRATE to 127.0.0.1:`port` as a raw reply string (`+OK`, `-ERR ...`).
fn migrate(c: &mut Connection, port: u16, key: &str, db: i64, rest: &[&str]) -> String {
    let mut k = cmd("MIGRATE");
    k.arg("127.0.0.1").arg(port).arg(key).arg(db).arg(5000);
    for a in rest {
        k.arg(*a);
    }
    reply_text(k.query(c))
}

fn reply_text(r: redis::RedisResult<RV>) -> String {
    match r {
        Ok(RV::Okay) => "+OK".into(),
        Ok(RV::SimpleString(s)) => format!("+{s}"),
        Ok(v) => format!("{v:?}"),
        Err(e) => format!(
            "-{} {}",
            e.code().unwrap_or("?"),
            e.detail().unwrap_or_default()
        ),
    }
}

fn exists(c: &mut Connection, key: &str) -> bool {
    cmd("EXISTS").arg(key).query::<i64>(c).expect("exists") == 1
}

fn pttl(c: &mut Connection, key: &str) -> i64 {
    cmd("PTTL").arg(key).query(c).expect("pttl")
}

/// Every type and encoding moves from `src` to `dst` (db 3) with its value
/// and TTL; the source keeps nothing.
fn moves_everything(src: &Server, dst: &Server) {
    let (mut s, mut d) = (src.conn(), dst.conn());
    let keys = populate(&mut s);
    let _: () = cmd("PEXPIRE")
        .arg("l:big")
        .arg(100_000)
        .query(&mut s)
        .expect("pexpire");
    let want: Vec<String> = keys.iter().map(|k| digest(&mut s, k)).collect();
    // One key alone, the rest with KEYS (and a missing key among them).
    assert_eq!(migrate(&mut s, dst.port, &keys[0], 3, &[]), "+OK");
    let mut rest = vec!["KEYS", "no-such-key"];
    rest.extend(keys[1..].iter().map(|k| k.as_str()));
    assert_eq!(migrate(&mut s, dst.port, "", 3, &rest), "+OK");
    let _: () = cmd("SELECT").arg(3).query(&mut d).expect("select");
    for (k, w) in keys.iter().zip(&want) {
        assert!(!exists(&mut s, k), "{k} left on the source");
        assert_eq!(&digest(&mut d, k), w, "{k} on the target");
    }
    let ttl = pttl(&mut d, "l:big");
    assert!(ttl > 0 && ttl <= 100_000, "TTL kept: {ttl}");
    assert_eq!(pttl(&mut d, "s:int"), -1);
}

#[test]
fn memkv_to_redis_every_type() {
    let Some(redis) = redis_server(&[]) else {
        return;
    };
    moves_everything(&memkv(), &redis);
}

#[test]
fn redis_to_memkv_every_type() {
    let Some(redis) = redis_server(&[]) else {
        return;
    };
    moves_everything(&redis, &memkv());
}

#[test]
fn memkv_to_memkv_every_type() {
    moves_everything(&memkv(), &memkv());
}

/// COPY, REPLACE, BUSYKEY, NOKEY: the same replies from Redis and memkv as
/// sources, and the same effects.
#[test]
fn copy_replace_busykey_nokey_like_redis() {
    let Some(redis) = redis_server(&[]) else {
        return;
    };
    let target = memkv();
    let mut t = target.conn();
    let m = memkv();
    for (who, src) in [("redis", &redis), ("memkv", &m)] {
        let mut s = src.conn();
        let k = format!("k-{who}");
        let _: () = cmd("SET").arg(&k).arg("v1").query(&mut s).expect("set");
        let _: () = cmd("SET").arg("other").arg("x").query(&mut s).expect("set");
        assert_eq!(
            migrate(&mut s, target.port, &k, 0, &["COPY"]),
            "+OK",
            "{who}"
        );
        assert!(exists(&mut s, &k), "{who}: COPY keeps the key");
        assert_eq!(
            migrate(&mut s, target.port, &k, 0, &["COPY"]),
            "-ERR Target instance replied with error: BUSYKEY Target key name already exists.",
            "{who}"
        );
        let _: () = cmd("SET").arg(&k).arg("v2").query(&mut s).expect("set");
        assert_eq!(
            migrate(&mut s, target.port, &k, 0, &["REPLACE"]),
            "+OK",
            "{who}"
        );
        assert!(!exists(&mut s, &k), "{who}");
        let v: String = cmd("GET").arg(&k).query(&mut t).expect("get");
        assert_eq!(v, "v2", "{who}");
        assert_eq!(
            migrate(&mut s, target.port, "", 0, &["KEYS", "gone1", "gone2"]),
            "+NOKEY",
            "{who}"
        );
        assert_eq!(
            migrate(&mut s, target.port, "gone", 0, &[]),
            "+NOKEY",
            "{who}"
        );
        // BUSYKEY for one key of several: the others move, the error is
        // the answer.
        let _: () = cmd("SET").arg(&k).arg("v3").query(&mut s).expect("set");
        let _: () = cmd("SET").arg("fresh").arg("f").query(&mut s).expect("set");
        assert_eq!(
            migrate(&mut s, target.port, "", 0, &["KEYS", &k, "fresh"]),
            "-ERR Target instance replied with error: BUSYKEY Target key name already exists.",
            "{who}"
        );
        assert!(exists(&mut s, &k), "{who}: refused key stays");
        assert!(!exists(&mut s, "fresh"), "{who}: stored key leaves");
        let _: () = cmd("DEL").arg("fresh").query(&mut t).expect("del");
    }
}

/// AUTH and AUTH2 to a password-protected target; a wrong password is the
/// target's error text, and nothing is deleted.
#[test]
fn auth_to_protected_targets() {
    let Some(redis) = redis_server(&["--requirepass", "sesame"]) else {
        return;
    };
    let protected = Server::start(&["--requirepass", "sesame"]);
    let src = memkv();
    let Some(rsrc) = redis_server(&[]) else {
        return;
    };
    for target in [&redis, &protected] {
        let mut got = Vec::new();
        for s in [&src, &rsrc] {
            let mut c = s.conn();
            let _: () = cmd("SET").arg("a").arg("1").query(&mut c).expect("set");
            let wrong = migrate(&mut c, target.port, "a", 0, &["AUTH", "nope"]);
            assert!(exists(&mut c, "a"));
            let no_auth = migrate(&mut c, target.port, "a", 0, &["REPLACE"]);
            assert!(exists(&mut c, "a"));
            let ok = migrate(
                &mut c,
                target.port,
                "a",
                0,
                &["REPLACE", "AUTH2", "default", "sesame"],
            );
            assert!(!exists(&mut c, "a"));
            let _: () = cmd("SET").arg("b").arg("1").query(&mut c).expect("set");
            let ok2 = migrate(&mut c, target.port, "b", 0, &["REPLACE", "AUTH", "sesame"]);
            assert!(!exists(&mut c, "b"));
            got.push((wrong, no_auth, ok, ok2));
        }
        assert_eq!(got[0], got[1], "memkv and Redis as sources");
        assert_eq!(
            got[0].0,
            "-ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled."
        );
        assert_eq!(
            got[0].1,
            "-ERR Target instance replied with error: NOAUTH Authentication required."
        );
        assert_eq!((got[0].2.as_str(), got[0].3.as_str()), ("+OK", "+OK"));
    }
}

/// Argument errors, in Redis's order, with Redis's texts.
#[test]
fn argument_errors_and_getkeys_like_redis() {
    let Some(redis) = redis_server(&[]) else {
        return;
    };
    let m = memkv();
    let cases: &[&[&str]] = &[
        &["MIGRATE", "h", "1", "k", "0", "5", "KEYS", "a"],
        &["MIGRATE", "h", "1", "k", "0", "5", "FOO"],
        &["MIGRATE", "h", "1", "k", "0", "5", "AUTH"],
        &["MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "u"],
        &["MIGRATE", "h", "1", "k", "x", "y"],
        &["MIGRATE", "h", "1", "k", "x", "5"],
        &["MIGRATE", "h", "1", "k", "0", "5"],
        &["MIGRATE", "h", "1", "", "0", "5", "KEYS"],
        &["MIGRATE", "h", "1", "k", "0"],
        &["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "5"],
        &[
            "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b",
        ],
        &[
            "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "KEYS",
        ],
        &[
            "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "5", "KEYS", "a",
        ],
        &[
            "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "AUTH", "KEYS", "KEYS", "a",
        ],
        &[
            "COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "AUTH", "KEYS", "a",
        ],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "MIGRATE",
            "h",
            "1",
            "",
            "0",
            "5",
            "KEYS",
            "a",
        ],
    ];
    let (mut r, mut k) = (redis.raw(), m.raw());
    for case in cases {
        let argv: Vec<&[u8]> = case.iter().map(|s| s.as_bytes()).collect();
        let want = String::from_utf8_lossy(&r.cmd(&argv)).into_owned();
        let got = String::from_utf8_lossy(&k.cmd(&argv)).into_owned();
        assert_eq!(got, want, "{case:?}");
    }
    // The key specs as Redis 7.0 has them (the KEYS keyword spec too).
    let info = |raw: &mut common::Raw| {
        let b = raw.cmd(&[b"COMMAND", b"INFO", b"MIGRATE"]);
        let text = String::from_utf8_lossy(&b).into_owned();
        let a = text.find("$5\r\nflags\r\n*3").expect("key specs");
        text[a..].to_string()
    };
    assert_eq!(info(&mut k), info(&mut r));
}

#[test]
fn not_inside_multi_or_scripts() {
    let m = memkv();
    let mut r = m.raw();
    r.cmd(&[b"SET", b"k", b"v"]);
    r.cmd(&[b"MULTI"]);
    r.cmd(&[b"MIGRATE", b"127.0.0.1", b"1", b"k", b"0", b"100"]);
    // The network round trip cannot run inside a transaction's one step.
    let exec = String::from_utf8_lossy(&r.cmd(&[b"EXEC"])).into_owned();
    assert!(
        exec.contains("ERR MIGRATE is not supported inside MULTI/EXEC or scripts by memkv"),
        "{exec}"
    );
    assert_eq!(r.cmd(&[b"EXISTS", b"k"]), b":1\r\n");
    // Nor inside a script.
    let script = b"return redis.pcall('MIGRATE', '127.0.0.1', '1', 'k', '0', '100')";
    assert_eq!(
        r.cmd(&[b"EVAL", script, b"0"]),
        b"-ERR MIGRATE is not supported inside MULTI/EXEC or scripts by memkv\r\n"
    );
}

/// True once `buf` holds `n` complete RESP values.
fn complete(buf: &[u8], n: usize) -> bool {
    let mut pos = 0;
    for _ in 0..n {
        match common::resp_len(&buf[pos..]) {
            Some(len) => pos += len,
            None => return false,
        }
    }
    true
}

/// A fake target: accepts one connection, reports the request bytes it
/// read (until `expect` complete commands arrived) and answers `reply`
/// when told to (or never).
/// A fake target's port, the request it read, and the switch: send
/// `Some(reply)` to answer; dropping it closes the connection.
type Fake = (u16, mpsc::Receiver<Vec<u8>>, mpsc::Sender<Option<Vec<u8>>>);

fn fake_target(expect: usize) -> Fake {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let (got_tx, got_rx) = mpsc::channel();
    let (reply_tx, reply_rx) = mpsc::channel::<Option<Vec<u8>>>();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else {
            return;
        };
        let mut buf = Vec::new();
        while !complete(&buf, expect) {
            let mut b = [0u8; 65536];
            match s.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&b[..n]),
            }
        }
        let _ = got_tx.send(buf);
        // Hold the connection until told what to do.
        if let Ok(Some(reply)) = reply_rx.recv() {
            let _ = s.write_all(&reply);
            let _ = reply_rx.recv();
        }
        drop(s);
    });
    (port, got_rx, reply_tx)
}

/// MIGRATE 127.0.0.1 `args` from a connection of its own, on a thread.
fn spawn_migrate(s: &Server, args: &[&str]) -> std::thread::JoinHandle<String> {
    let url = s.url();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    std::thread::spawn(move || {
        let mut c = redis::Client::open(url)
            .expect("client")
            .get_connection()
            .expect("connect");
        let mut k = cmd("MIGRATE");
        k.arg("127.0.0.1").arg(&args);
        reply_text(k.query::<RV>(&mut c))
    })
}

/// A target that takes the request and never answers: IOERR after the
/// timeout, and meanwhile memkv serves other clients (the timeout is long
/// so that "meanwhile" holds on any machine); the key stays.
#[test]
fn silent_target_times_out_without_stalling_the_server() {
    let m = memkv();
    let mut c = m.conn();
    let _: () = cmd("SET").arg("k").arg("v").query(&mut c).expect("set");
    let (port, got, hold) = fake_target(2); // SELECT + RESTORE
    let worker = spawn_migrate(&m, &[&port.to_string(), "k", "0", "10000"]);
    let req = got.recv().expect("the target got the request");
    let text = String::from_utf8_lossy(&req);
    assert!(text.starts_with(
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*4\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n"
    ));
    // The target holds the reply: MIGRATE cannot have finished, yet
    // memkv answers another client.
    let pong: String = cmd("PING").query(&mut c).expect("ping");
    assert_eq!(pong, "PONG");
    let list: String = cmd("CLIENT").arg("LIST").query(&mut c).expect("list");
    assert!(
        list.contains("flags=b "),
        "the migrating client waits: {list}"
    );
    assert!(!worker.is_finished());
    assert_eq!(
        worker.join().expect("join"),
        "-IOERR error or timeout reading to target instance"
    );
    drop(hold);
    assert!(exists(&mut c, "k"));
}

/// Real Redis says the same for a silent target and an unreachable port.
#[test]
fn io_errors_like_redis() {
    let Some(redis) = redis_server(&[]) else {
        return;
    };
    let m = memkv();
    let closed = common::free_port();
    let mut got = Vec::new();
    for s in [&redis, &m] {
        let (port, _got, _hold) = fake_target(2);
        let mut c = s.conn();
        let _: () = cmd("SET").arg("k").arg("v").query(&mut c).expect("set");
        let mut k = cmd("MIGRATE");
        k.arg("127.0.0.1").arg(port).arg("k").arg(0).arg(300);
        let silent = reply_text(k.query(&mut c));
        let mut k = cmd("MIGRATE");
        k.arg("127.0.0.1").arg(closed).arg("k").arg(0).arg(300);
        let refused = reply_text(k.query(&mut c));
        let mut k = cmd("MIGRATE");
        k.arg("no-such-host.invalid")
            .arg(1)
            .arg("k")
            .arg(0)
            .arg(300);
        let unresolved = reply_text(k.query(&mut c));
        got.push((silent, refused, unresolved));
    }
    assert_eq!(got[0], got[1]);
    assert_eq!(got[1].2, "-IOERR error or timeout connecting to the client");
}

/// After the target stored a key, the source deletes it as a DEL
/// (keyspace event), unless it was written while the migration was in
/// flight: then the newer local value stays.
#[test]
fn delete_after_success_spares_keys_written_meanwhile() {
    let m = Server::start(&["--notify-keyspace-events", "Eg"]);
    let mut c = m.conn();
    for k in ["a", "b"] {
        let _: () = cmd("SET").arg(k).arg("old").query(&mut c).expect("set");
    }
    let mut sub = m.raw();
    sub.cmd(&[b"SUBSCRIBE", b"__keyevent@0__:del"]);
    let (port, got, reply) = fake_target(3); // SELECT + 2 RESTOREs
    let worker = spawn_migrate(&m, &[&port.to_string(), "", "0", "30000", "KEYS", "a", "b"]);
    got.recv().expect("request");
    let _: () = cmd("SET").arg("b").arg("new").query(&mut c).expect("set");
    reply
        .send(Some(b"+OK\r\n+OK\r\n+OK\r\n".to_vec()))
        .expect("reply");
    assert_eq!(worker.join().expect("join"), "+OK");
    drop(reply);
    assert!(!exists(&mut c, "a"));
    let b: String = cmd("GET").arg("b").query(&mut c).expect("get");
    assert_eq!(b, "new");
    let ev = sub.read_reply();
    assert!(
        String::from_utf8_lossy(&ev).ends_with("$1\r\na\r\n"),
        "{ev:?}"
    );
}

#[test]
fn cached_connection_is_reused() {
    let target = memkv();
    let m = memkv();
    let mut c = m.conn();
    for k in ["x", "y"] {
        let _: () = cmd("SET").arg(k).arg("1").query(&mut c).expect("set");
        assert_eq!(migrate(&mut c, target.port, k, 0, &[]), "+OK");
    }
    assert_eq!(
        common::info_field(&mut c, "stats", "migrate_cached_sockets").as_deref(),
        Some("1")
    );
    let mut t = target.conn();
    let clients: String = cmd("CLIENT").arg("LIST").query(&mut t).expect("list");
    assert_eq!(
        clients.lines().count(),
        2,
        "one MIGRATE connection: {clients}"
    );
}

/// In a memkv cluster MIGRATE moves keys of the node it is sent to; keys
/// another node owns are refused (relaying would hold a relay connection
/// for the whole transfer).
#[test]
fn cluster_migrates_own_keys_and_refuses_others() {
    let cluster = common::cluster::Cluster::start(2, &[]);
    let target = memkv();
    let mut c = cluster.nodes[0].conn();
    let mine = cluster.key_on(0, "mine");
    let theirs = cluster.key_on(1, "theirs");
    for k in [&mine, &theirs] {
        let _: () = cmd("SET").arg(k).arg("v").query(&mut c).expect("set");
    }
    assert_eq!(migrate(&mut c, target.port, &mine, 0, &[]), "+OK");
    assert!(!exists(&mut c, &mine));
    let refused = migrate(&mut c, target.port, &theirs, 0, &[]);
    assert!(refused.starts_with("-CROSSSLOT "), "{refused}");
    assert!(exists(&mut c, &theirs));
    let mut t = target.conn();
    assert!(exists(&mut t, &mine));
    assert!(!exists(&mut t, &theirs));
}
