//! Pub/Sub through raw sockets, byte-exact against real Redis in RESP2 and
//! RESP3: subscribe/unsubscribe sequences, patterns, counts, subscribed-mode
//! rules, PING in subscribed mode, RESET/QUIT leaving subscriptions, PUBSUB
//! introspection; output buffer limits with a subscriber that never reads.

mod common;

use std::collections::HashMap;

use common::script::split;
use common::{Raw, Server};

/// One step of a multi-connection script: `(connection, command)`.
/// `@read` reads one pushed message, `@resp3` switches to RESP3 (HELLO 3,
/// reply discarded: it carries the client id).
type Step = (&'static str, &'static str);

/// Runs the steps and returns every reply's raw bytes, in order.
fn run(server: &Server, steps: &[Step]) -> Vec<(String, Vec<u8>)> {
    let mut conns: HashMap<&str, Raw> = HashMap::new();
    let mut out = Vec::new();
    for (who, line) in steps {
        let raw = conns.entry(who).or_insert_with(|| server.raw());
        let got = match *line {
            "@read" => raw.read_reply(),
            "@resp3" => {
                raw.cmd(&[b"HELLO", b"3"]);
                continue;
            }
            _ => {
                let parts = split(line);
                let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
                raw.cmd(&refs)
            }
        };
        out.push((format!("[{who}] {line}"), got));
    }
    out
}

/// Runs `steps` on memkv and real Redis and compares every reply
/// byte-for-byte; `expect` pins some of memkv's replies by index so the
/// test means something without Redis installed.
fn differential(steps: &[Step], expect: &[(usize, &[u8])]) {
    let s = Server::start(&[]);
    let mine = run(&s, steps);
    for (i, want) in expect {
        assert_eq!(
            String::from_utf8_lossy(&mine[*i].1),
            String::from_utf8_lossy(want),
            "{}",
            mine[*i].0
        );
    }
    let Some(r) = Server::start_redis(&[]) else {
        return;
    };
    let theirs = run(&r, steps);
    for ((what, a), (_, b)) in mine.iter().zip(&theirs) {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "{what}: memkv vs redis"
        );
    }
}

const SUBSCRIBED_ERR: &str =
    "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

#[test]
fn resp2_subscribe_publish_unsubscribe() {
    differential(
        &[
            ("a", "SUBSCRIBE c1 c2"),
            ("a", "@read"),
            ("a", "PING"),
            ("a", "PING hi"),
            ("a", "GET x"),
            ("a", "CLIENT LIST"),
            ("a", "PSUBSCRIBE c* x?"),
            ("a", "@read"),
            ("b", "PUBLISH c1 hello"),
            ("a", "@read"),
            ("a", "@read"),
            ("b", "PUBLISH nobody hello"),
            ("b", "PUBLISH xy m"),
            ("a", "@read"),
            ("b", "PUBSUB NUMSUB c1 c3"),
            ("b", "PUBSUB NUMPAT"),
            ("b", "PUBSUB CHANNELS c1"),
            ("b", "PUBSUB CHANNELS a b"),
            ("b", "PUBSUB NUMSUB"),
            ("a", "UNSUBSCRIBE c1 zz"),
            ("a", "@read"),
            ("a", "PUNSUBSCRIBE x?"),
            ("a", "PUNSUBSCRIBE"),
            ("a", "PUNSUBSCRIBE"),
            ("a", "UNSUBSCRIBE"),
            ("a", "UNSUBSCRIBE"),
            ("a", "PING"),
            ("a", "GET x"),
        ],
        &[
            (0, b"*3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n"),
            (1, b"*3\r\n$9\r\nsubscribe\r\n$2\r\nc2\r\n:2\r\n"),
            (2, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
            (
                4,
                format!("-ERR Can't execute 'get': {SUBSCRIBED_ERR}\r\n").as_bytes(),
            ),
            (
                5,
                format!("-ERR Can't execute 'client|list': {SUBSCRIBED_ERR}\r\n").as_bytes(),
            ),
            (8, b":2\r\n"),
            (9, b"*3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$5\r\nhello\r\n"),
            (
                10,
                b"*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nc1\r\n$5\r\nhello\r\n",
            ),
            (11, b":0\r\n"),
            (23, b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:1\r\n"),
            (25, b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"),
            (26, b"+PONG\r\n"),
        ],
    );
}

#[test]
fn shard_channels() {
    differential(
        &[
            ("a", "SSUBSCRIBE s1 s2"),
            ("a", "@read"),
            ("a", "GET x"),
            ("b", "SPUBLISH s1 m"),
            ("a", "@read"),
            ("b", "PUBLISH s1 not-for-shard"),
            ("b", "PUBSUB SHARDNUMSUB s1 s9"),
            ("b", "PUBSUB SHARDCHANNELS s1"),
            ("b", "PUBSUB CHANNELS"),
            ("a", "SUNSUBSCRIBE s1"),
            ("a", "SUNSUBSCRIBE"),
            ("a", "SUNSUBSCRIBE"),
            ("a", "GET x"),
        ],
        &[
            (0, b"*3\r\n$10\r\nssubscribe\r\n$2\r\ns1\r\n:1\r\n"),
            (3, b":1\r\n"),
            (4, b"*3\r\n$8\r\nsmessage\r\n$2\r\ns1\r\n$1\r\nm\r\n"),
            (5, b":0\r\n"),
            (11, b"*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n"),
            (12, b"$-1\r\n"),
        ],
    );
}

#[test]
fn resp3_push_and_normal_commands() {
    differential(
        &[
            ("c", "@resp3"),
            ("c", "SUBSCRIBE c1"),
            ("c", "GET x"),
            ("c", "PING"),
            ("b", "PUBLISH c1 m2"),
            ("c", "@read"),
            // The publisher subscribed to its own channel: message first.
            ("c", "PUBLISH c1 self"),
            ("c", "@read"),
            ("c", "UNSUBSCRIBE"),
            ("c", "UNSUBSCRIBE"),
            ("c", "PSUBSCRIBE x"),
            ("c", "RESET"),
            ("b", "PUBSUB NUMPAT"),
        ],
        &[
            (0, b">3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n"),
            (1, b"_\r\n"),
            (2, b"+PONG\r\n"),
            (4, b">3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$2\r\nm2\r\n"),
            (5, b">3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$4\r\nself\r\n"),
            (6, b":1\r\n"),
            (8, b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"),
            (10, b"+RESET\r\n"),
            (11, b":0\r\n"),
        ],
    );
}

#[test]
fn quit_and_reset_leave_subscriptions() {
    differential(
        &[
            ("d", "SUBSCRIBE q"),
            ("d", "PSUBSCRIBE q*"),
            ("d", "MULTI"),
            ("d", "RESET"),
            ("d", "GET x"),
            ("b", "PUBSUB NUMSUB q"),
            ("b", "PUBSUB NUMPAT"),
            ("e", "SUBSCRIBE q"),
            ("e", "QUIT"),
            ("b", "PUBLISH q gone"),
            ("b", "PUBSUB NUMSUB q"),
            ("b", "PUBSUB HELP x"),
            ("b", "SUBSCRIBE"),
        ],
        &[
            (
                2,
                format!("-ERR Can't execute 'multi': {SUBSCRIBED_ERR}\r\n").as_bytes(),
            ),
            (3, b"+RESET\r\n"),
            (4, b"$-1\r\n"),
            (5, b"*2\r\n$1\r\nq\r\n:0\r\n"),
            (9, b":0\r\n"),
            (
                12,
                b"-ERR wrong number of arguments for 'subscribe' command\r\n",
            ),
        ],
    );
}

#[test]
fn client_list_shows_subscriptions() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    a.cmd(&[b"HELLO", b"3"]);
    a.cmd(&[b"SUBSCRIBE", b"x", b"y"]);
    a.read_reply();
    a.cmd(&[b"PSUBSCRIBE", b"p*"]);
    a.cmd(&[b"SSUBSCRIBE", b"s"]);
    let info = String::from_utf8_lossy(&a.cmd(&[b"CLIENT", b"INFO"])).into_owned();
    assert!(info.contains(" flags=P "), "{info}");
    assert!(info.contains(" sub=2 psub=1 ssub=1 "), "{info}");
    let mut b = s.raw();
    assert_eq!(b.cmd(&[b"CLIENT", b"KILL", b"TYPE", b"pubsub"]), b":1\r\n");
    assert!(a.is_closed());
    assert_eq!(
        b.cmd(&[b"PUBSUB", b"NUMSUB", b"x"]),
        b"*2\r\n$1\r\nx\r\n:0\r\n"
    );
}
