//! Client-side caching (CLIENT TRACKING) through raw sockets, byte-exact
//! against real Redis: default mode, OPTIN/OPTOUT with CLIENT CACHING,
//! NOLOOP, BCAST with prefixes, REDIRECT to a RESP2 client subscribed to
//! `__redis__:invalidate` and to a RESP3 client, broken redirects, flushes
//! (a null key list), expiry, TRACKINGINFO / GETREDIR and every error text.

mod common;

use std::collections::HashMap;

use common::script::split;
use common::{Raw, Server};

/// `(connection, command)`; `@read` reads one pushed message, `@resp3`
/// switches the connection to RESP3 (its reply is not compared: it holds
/// the id). Reply `i` belongs to step `i`. `$x` in a command is connection x's
/// client id; ids in replies are rendered back as `$x`.
type Step = (&'static str, &'static str);

fn run(server: &Server, steps: &[Step]) -> Vec<(String, String)> {
    let mut conns: HashMap<&str, Raw> = HashMap::new();
    let mut ids: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for (who, line) in steps {
        if !conns.contains_key(who) {
            let mut raw = server.raw();
            let id = String::from_utf8_lossy(&raw.cmd(&[b"CLIENT", b"ID"])).into_owned();
            let id = id.trim_start_matches(':').trim_end().to_string();
            ids.push((format!("${who}"), id));
            conns.insert(who, raw);
        }
        let Some(raw) = conns.get_mut(who) else {
            continue;
        };
        let got = match *line {
            "@read" => raw.read_reply(),
            "@resp3" => {
                raw.cmd(&[b"HELLO", b"3"]);
                Vec::new()
            }
            _ => {
                let mut l = line.to_string();
                for (name, id) in &ids {
                    l = l.replace(name.as_str(), id);
                }
                let parts = split(&l);
                let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
                raw.cmd(&refs)
            }
        };
        let mut text = String::from_utf8_lossy(&got).into_owned();
        if *line == "@resp3" {
            text.clear();
        }
        // An id is a whole integer reply line, never part of a bulk.
        for (name, id) in &ids {
            let (from, to) = (format!(":{id}\r\n"), format!(":{name}\r\n"));
            if text.starts_with(&from) {
                text = text.replacen(&from, &to, 1);
            }
            text = text.replace(&format!("\r\n{from}"), &format!("\r\n{to}"));
        }
        out.push((format!("[{who}] {line}"), text));
    }
    out
}

/// memkv's replies (checked against Redis when installed).
fn differential(steps: &[Step]) -> Vec<String> {
    let s = Server::start(&[]);
    let mine = run(&s, steps);
    if let Some(r) = Server::start_redis(&[]) {
        let theirs = run(&r, steps);
        for ((what, a), (_, b)) in mine.iter().zip(&theirs) {
            assert_eq!(a, b, "{what}: memkv vs redis");
        }
    }
    mine.into_iter().map(|(_, r)| r).collect()
}

fn push_invalidate(keys: &[&str]) -> String {
    let mut s = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s.push_str(&format!("${}\r\n{k}\r\n", k.len()));
    }
    s
}

#[test]
fn default_mode_resp3() {
    let r = differential(&[
        ("a", "@resp3"),
        ("a", "CLIENT TRACKING on"),
        ("a", "CLIENT TRACKINGINFO"),
        ("a", "CLIENT GETREDIR"),
        ("a", "GET k1"),
        ("a", "MGET k2 k3"),
        ("b", "SET k1 v"),
        ("a", "@read"),
        // Invalidated once: the key left the table.
        ("b", "SET k1 v2"),
        ("a", "GET k1"),
        // Its own write is announced after the reply (no NOLOOP).
        ("a", "SET k1 own"),
        ("a", "@read"),
        ("b", "MSET k2 1 k3 1"),
        ("a", "@read"),
        ("a", "@read"),
        ("a", "GET k1"),
        ("b", "FLUSHALL"),
        ("a", "@read"),
        ("a", "CLIENT TRACKING off"),
        ("a", "CLIENT TRACKINGINFO"),
        ("a", "CLIENT GETREDIR"),
    ]);
    assert_eq!(r[1], "+OK\r\n");
    assert_eq!(
        r[2],
        "%3\r\n$5\r\nflags\r\n~1\r\n$2\r\non\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n"
    );
    assert_eq!(r[7], push_invalidate(&["k1"]));
    assert_eq!(r[10], "+OK\r\n");
    assert_eq!(r[11], push_invalidate(&["k1"]));
    assert_eq!(r[13], push_invalidate(&["k2"]));
    assert_eq!(r[14], push_invalidate(&["k3"]));
    assert_eq!(r[17], ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    assert_eq!(r[20], ":-1\r\n");
}

#[test]
fn optin_optout_noloop_and_caching() {
    let r = differential(&[
        ("a", "@resp3"),
        ("a", "CLIENT CACHING yes"),
        ("a", "CLIENT TRACKING on optin noloop"),
        ("a", "CLIENT CACHING no"),
        ("a", "CLIENT CACHING maybe"),
        ("a", "CLIENT CACHING yes"),
        ("a", "CLIENT TRACKINGINFO"),
        ("a", "GET x1"),
        ("a", "GET x2"),
        ("a", "CLIENT CACHING yes"),
        ("a", "GET x3"),
        // NOLOOP: its own write is not announced.
        ("a", "SET x1 mine"),
        ("b", "MSET x1 1 x2 2 x3 3"),
        ("a", "@read"),
        ("a", "CLIENT TRACKING on optout"),
        ("a", "CLIENT TRACKING off"),
        ("a", "CLIENT TRACKING on optout"),
        ("a", "CLIENT CACHING no"),
        ("a", "GET y1"),
        ("a", "GET y2"),
        ("b", "MSET y1 1 y2 2"),
        ("a", "@read"),
        ("a", "CLIENT TRACKINGINFO"),
    ]);
    assert_eq!(
        r[1],
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n"
    );
    assert_eq!(
        r[3],
        "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"
    );
    assert_eq!(r[13], push_invalidate(&["x3"]));
    assert_eq!(r[21], push_invalidate(&["y2"]));
}

#[test]
fn bcast_prefixes() {
    let r = differential(&[
        ("a", "@resp3"),
        ("a", "CLIENT TRACKING on prefix a"),
        ("a", "CLIENT TRACKING on bcast prefix a prefix ab"),
        ("a", "CLIENT TRACKING on bcast prefix user: prefix obj:"),
        ("a", "CLIENT TRACKING on bcast prefix us"),
        ("a", "CLIENT TRACKING on optin"),
        ("a", "CLIENT TRACKINGINFO"),
        ("b", "SET user:1 x"),
        ("a", "@read"),
        ("b", "MSET obj:1 x other y user:2 z"),
        ("a", "@read"),
        ("a", "@read"),
        ("a", "CLIENT TRACKING on bcast optin"),
        ("a", "CLIENT TRACKING off"),
        ("a", "CLIENT TRACKING on bcast noloop"),
        ("a", "SET mine 1"),
        ("b", "SET theirs 1"),
        ("a", "@read"),
    ]);
    assert_eq!(
        r[1],
        "-ERR PREFIX option requires BCAST mode to be enabled\r\n"
    );
    assert_eq!(
        r[2],
        "-ERR Prefix 'a' overlaps with another provided prefix 'ab'. Prefixes for a single client must not overlap.\r\n"
    );
    assert_eq!(
        r[4],
        "-ERR Prefix 'us' overlaps with an existing prefix 'user:'. Prefixes for a single client must not overlap.\r\n"
    );
    assert_eq!(r[8], push_invalidate(&["user:1"]));
    assert_eq!(r[17], push_invalidate(&["theirs"]));
}

#[test]
fn redirect_resp2_pubsub_and_resp3() {
    let r = differential(&[
        ("r", "SUBSCRIBE __redis__:invalidate"),
        ("a", "CLIENT TRACKING on redirect $r"),
        ("a", "CLIENT GETREDIR"),
        ("a", "GET k"),
        ("b", "SET k 1"),
        ("r", "@read"),
        ("a", "CLIENT TRACKINGINFO"),
        ("b", "FLUSHDB"),
        ("r", "@read"),
        ("a", "CLIENT TRACKING on redirect 99999999"),
        ("a", "CLIENT TRACKING on redirect $r redirect $r"),
        ("a", "CLIENT TRACKING on foo"),
        ("a", "CLIENT TRACKING maybe"),
        ("a", "CLIENT TRACKING on optin optout"),
        ("a", "CLIENT TRACKING on redirect notanumber"),
        // A RESP3 redirect target gets pushes without subscribing.
        ("t", "@resp3"),
        ("c", "CLIENT TRACKING on redirect $t"),
        ("c", "GET j"),
        ("b", "SET j 1"),
        ("t", "@read"),
        // The target goes away: a RESP3 tracker learns of it.
        ("d", "@resp3"),
        ("x", "PING"),
        ("d", "CLIENT TRACKING on redirect $x"),
        ("d", "GET z"),
        ("x", "QUIT"),
        ("b", "SET z 1"),
        ("d", "@read"),
        ("d", "CLIENT TRACKINGINFO"),
    ]);
    assert_eq!(r[2], ":$r\r\n");
    assert_eq!(
        r[5],
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    assert_eq!(
        r[8],
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
    );
    assert_eq!(
        r[9],
        "-ERR The client ID you want redirect to does not exist\r\n"
    );
    assert_eq!(r[19], push_invalidate(&["j"]));
    assert_eq!(r[26], ">2\r\n$21\r\ntracking-redir-broken\r\n:$x\r\n");
}

#[test]
fn expiry_invalidates() {
    let r = differential(&[
        ("a", "@resp3"),
        ("b", "SET e v PXAT 1"),
        ("a", "CLIENT TRACKING on"),
        ("a", "GET e"),
        ("b", "SET f v"),
        ("a", "GET f"),
        ("b", "PEXPIREAT f 1"),
        ("a", "@read"),
    ]);
    assert_eq!(r[7], push_invalidate(&["f"]));
}

#[test]
fn tracking_table_max_keys_evicts() {
    let s = Server::start(&["--tracking-table-max-keys", "2"]);
    let mut a = s.raw();
    a.cmd(&[b"HELLO", b"3"]);
    assert_eq!(a.cmd(&[b"CLIENT", b"TRACKING", b"on"]), b"+OK\r\n");
    a.cmd(&[b"GET", b"k1"]);
    a.cmd(&[b"GET", b"k2"]);
    // A third key overflows the table: one tracked key is invalidated.
    a.send(&common::encode(&[b"GET", b"k3"]));
    let first = a.read_reply();
    let second = a.read_reply();
    assert_eq!(first, b"_\r\n");
    let info = String::from_utf8_lossy(&a.cmd(&[b"INFO"])).into_owned();
    assert!(info.contains("tracking_clients:1\r\n"), "{info}");
    assert!(info.contains("tracking_total_keys:2\r\n"), "{info}");
    let me = String::from_utf8_lossy(&a.cmd(&[b"CLIENT", b"INFO"])).into_owned();
    assert!(me.contains(" flags=t ") && me.contains(" redir=0 "), "{me}");
    let text = String::from_utf8_lossy(&second).into_owned();
    assert!(
        text.starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk"),
        "{text}"
    );
}

/// A tracking client's own invalidations caused inside EXEC follow the
/// whole EXEC reply (Redis 7.0 defers them while it executes a command),
/// a key read after being written in the same transaction stays tracked,
/// and a script's writes invalidate after the script's reply.
#[test]
fn own_invalidations_follow_the_exec_reply() {
    let cmds: &[&str] = &[
        "GET k",
        "MULTI",
        "SET k v",
        "GET k",
        "SET k w",
        "SET k2 x",
        "GET k2",
        "EXEC",
        "EVAL \"redis.call('set', 'k2', 'y') return 1\" 0",
        "GET k",
        "FLUSHALL",
    ];
    let session = |s: &Server| {
        let mut c = s.raw();
        c.cmd(&[b"HELLO", b"3"]);
        c.cmd(&[b"CLIENT", b"TRACKING", b"on"]);
        common::push::exchange(&mut c, cmds)
    };
    let want = [
        "_\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n",
        "*5\r\n+OK\r\n$1\r\nv\r\n+OK\r\n+OK\r\n$1\r\nx\r\n",
        &push_invalidate(&["k"]),
        &push_invalidate(&["k"]),
        ":1\r\n",
        &push_invalidate(&["k2"]),
        "$1\r\nw\r\n+OK\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n",
    ]
    .concat();
    let s = Server::start(&[]);
    assert_eq!(session(&s), want);
    let no_rollback = Server::start(&["--multi-rollback", "no"]);
    assert_eq!(session(&no_rollback), want);
    if let Some(r) = Server::start_redis(&[]) {
        assert_eq!(session(&r), want, "redis");
    }
}

/// With `multi-rollback yes` a rolled-back transaction or script changed
/// nothing: no invalidation reaches the reading client, a BCAST client or
/// the client itself, and the key stays tracked (a later real write
/// invalidates it). With `no` the writes stay and are invalidated as Redis
/// does.
#[test]
fn rolled_back_writes_invalidate_nothing() {
    let run = |s: &Server, rollback: bool| {
        let mut c = s.raw();
        let mut bcast = s.raw();
        c.cmd(&[b"HELLO", b"3"]);
        bcast.cmd(&[b"HELLO", b"3"]);
        c.cmd(&[b"CLIENT", b"TRACKING", b"on"]);
        bcast.cmd(&[b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"k"]);
        let mut out = common::push::exchange(
            &mut c,
            &[
                "SET s str",
                "GET k",
                "MULTI",
                "SET k 1",
                "LPUSH s x",
                "EXEC",
                "EVAL \"redis.call('set', 'k', '2') return redis.call('lpush', 's', 'x')\" 0",
            ],
        );
        // The BCAST client: a PING ends what it got (nothing, or the
        // kept writes).
        out.push_str(&common::push::exchange(&mut bcast, &[]));
        if rollback {
            // A real write now still invalidates k for both.
            let mut other = s.raw();
            other.cmd(&[b"SET", b"k", b"3"]);
            out.push_str(&common::push::exchange(&mut c, &[]));
            out.push_str(&common::push::exchange(&mut bcast, &[]));
        }
        out
    };
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    let s = Server::start(&[]);
    let sha = String::from_utf8_lossy(&s.raw().cmd(&[
        b"SCRIPT",
        b"LOAD",
        b"redis.call('set', 'k', '2') return redis.call('lpush', 's', 'x')",
    ]))
    .into_owned();
    let sha = sha.split("\r\n").nth(1).unwrap_or_default().to_string();
    assert_eq!(
        run(&s, true),
        [
            "+OK\r\n_\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n",
            &format!(
                "-EXECABORT Transaction rolled back: command #2 (LPUSH) failed: {wrongtype}\r\n"
            ),
            &format!("-{wrongtype} script: {sha}, on @user_script:1.\r\n"),
            &push_invalidate(&["k"]),
            &push_invalidate(&["k"]),
        ]
        .concat()
    );
    let kept = Server::start(&["--multi-rollback", "no"]);
    let mine = run(&kept, false);
    assert!(mine.contains(&push_invalidate(&["k"])), "{mine}");
    if let Some(r) = Server::start_redis(&[]) {
        assert_eq!(run(&r, false), mine, "redis");
    }
}

/// BCAST invalidations are collected over an event-loop round and sent once
/// per prefix, each key once and sorted (Redis's radix tree): a pipeline of
/// 100 SETs brings one push (a few if the pipeline arrives in pieces), not
/// 100.
#[test]
fn bcast_is_sent_once_per_round() {
    let mut cmds: Vec<String> = (0..100).map(|i| format!("SET p{i} x")).collect();
    cmds.push("SET p7 y".into());
    cmds.push("SET other 1".into());
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let check = |s: &Server, who: &str| {
        let mut c = s.raw();
        c.cmd(&[b"HELLO", b"3"]);
        c.cmd(&[b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"p"]);
        let out = common::push::exchange(&mut c, &refs);
        let values = common::push::values(out.as_bytes());
        let replies: Vec<&[u8]> = values.iter().copied().filter(|v| v[0] != b'>').collect();
        assert_eq!(replies, vec![&b"+OK\r\n"[..]; 102], "[{who}]");
        let pushes: Vec<String> = values
            .iter()
            .filter(|v| v[0] == b'>')
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        assert!(
            !pushes.is_empty() && pushes.len() <= 3,
            "[{who}] {pushes:?}"
        );
        let mut all = Vec::new();
        for p in &pushes {
            let keys: Vec<String> = p
                .split("\r\n")
                .skip(5)
                .step_by(2)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect();
            let mut sorted = keys.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(keys, sorted, "[{who}] keys in one push: sorted, once");
            all.extend(keys);
        }
        all.sort();
        all.dedup();
        let mut want: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
        want.sort();
        assert_eq!(all, want, "[{who}]");
        if pushes.len() == 1 {
            assert_eq!(
                pushes[0],
                push_invalidate(&want.iter().map(String::as_str).collect::<Vec<_>>())
            );
        }
    };
    check(&Server::start(&[]), "memkv");
    if let Some(r) = Server::start_redis(&[]) {
        check(&r, "redis");
    }
}

/// Scripts and tracking as Redis 7.0 has them: EVAL_RO's own keys are not
/// remembered, a script's read-only command remembers the keys its caller
/// declared (Redis takes them from the caller's argv), a read after a
/// write in the same script tracks the key again.
#[test]
fn script_reads_remember_the_declared_keys() {
    let r = differential(&[
        ("a", "@resp3"),
        ("a", "CLIENT TRACKING on"),
        ("a", "EVAL_RO \"return 1\" 1 rk2"),
        ("a", "EVAL_RO \"return redis.call('get', KEYS[1])\" 1 rk"),
        ("a", "EVAL \"return redis.call('get', 'zz')\" 0"),
        (
            "a",
            "EVAL \"redis.call('get', KEYS[1]) redis.call('set', KEYS[1], 'v') return redis.call('get', KEYS[1])\" 1 rk3",
        ),
        ("a", "@read"),
        ("b", "MSET rk2 1 rk 1 zz 1 rk3 1"),
        ("a", "@read"),
        ("a", "@read"),
        ("a", "PING"),
    ]);
    assert_eq!(r[6], push_invalidate(&["rk3"]));
    assert_eq!(r[8], push_invalidate(&["rk"]));
    assert_eq!(r[9], push_invalidate(&["rk3"]));
    assert_eq!(r[10], "+PONG\r\n");
}
