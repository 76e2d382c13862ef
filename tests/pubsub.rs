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
    let stats = String::from_utf8_lossy(&b.cmd(&[b"INFO", b"stats"])).into_owned();
    assert!(stats.contains("pubsub_channels:2\r\n"), "{stats}");
    assert!(stats.contains("pubsub_patterns:1\r\n"), "{stats}");
    assert!(stats.contains("pubsubshard_channels:1\r\n"), "{stats}");
    assert_eq!(b.cmd(&[b"CLIENT", b"KILL", b"TYPE", b"pubsub"]), b":1\r\n");
    assert!(a.is_closed());
    assert_eq!(
        b.cmd(&[b"PUBSUB", b"NUMSUB", b"x"]),
        b"*2\r\n$1\r\nx\r\n:0\r\n"
    );
}

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("kB");
    kb * 1024
}

/// One subscriber never reads while a publisher sends 200 MB: the
/// subscriber is dropped at the pubsub hard limit (Redis's default 32mb),
/// memory stays bounded, the drop is logged as Redis logs it, and another
/// client is served throughout.
#[test]
fn slow_subscriber_is_disconnected_at_the_limit() {
    let dir = common::temp_dir("slowsub");
    let log = dir.join("memkv.log");
    let s = Server::start_in(&dir, &["--logfile", log.to_str().expect("utf-8")]);
    let mut sub = s.raw();
    // A small receive window so the kernel does not absorb the flood.
    {
        use std::os::fd::AsRawFd;
        let size: libc::c_int = 64 * 1024;
        // SAFETY: a valid socket fd and a c_int that outlives the call.
        unsafe {
            libc::setsockopt(
                sub.s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    assert_eq!(
        sub.cmd(&[b"SUBSCRIBE", b"flood"]),
        b"*3\r\n$9\r\nsubscribe\r\n$5\r\nflood\r\n:1\r\n"
    );
    let mut publisher = s.raw();
    let mut other = s.raw();
    let payload = vec![b'x'; 1 << 20];
    let mut delivered_to = Vec::new();
    let mut pings = Vec::new();
    for _ in 0..200 {
        let r = publisher.cmd(&[b"PUBLISH", b"flood", &payload]);
        delivered_to.push(r.clone());
        let t = std::time::Instant::now();
        assert_eq!(other.cmd(&[b"PING"]), b"+PONG\r\n");
        pings.push(t.elapsed());
    }
    // Reported, not asserted (no timing assertions in tests).
    pings.sort();
    eprintln!(
        "PING p99 during the flood: {:?}",
        pings[pings.len() * 99 / 100]
    );
    // Delivered while under the limit, then nobody is subscribed anymore.
    assert_eq!(delivered_to[0], b":1\r\n");
    assert_eq!(delivered_to[199], b":0\r\n");
    assert_eq!(
        publisher.cmd(&[b"PUBSUB", b"NUMSUB", b"flood"]),
        b"*2\r\n$5\r\nflood\r\n:0\r\n"
    );
    let list = String::from_utf8_lossy(&other.cmd(&[b"CLIENT", b"LIST"])).into_owned();
    assert!(!list.contains("sub=1"), "{list}");
    // 200 MB went through; the server's peak memory stayed near the 32 MB
    // limit plus one message in flight per query buffer.
    let peak = peak_rss(s.child.id());
    eprintln!("peak RSS after a 200 MB flood: {} MB", peak >> 20);
    assert!(peak < 96 << 20, "peak RSS {peak}");
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("scheduled to be closed ASAP for overcoming of output buffer limits."),
        "{text}"
    );
    assert!(text.contains(" flags=P "), "{text}");
}

/// The normal class protects against a client that pipelines big replies
/// and never reads them; CONFIG SET changes the limits at run time.
#[test]
fn normal_class_limit_closes_a_pipelining_client() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"normal 1mb 512kb 10"
        ]),
        b"+OK\r\n"
    );
    assert_eq!(
        admin.cmd(&[b"CONFIG", b"GET", b"client-output-buffer-limit"]),
        b"*2\r\n$26\r\nclient-output-buffer-limit\r\n$79\r\nnormal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60\r\n"
    );
    let big = vec![b'v'; 100 * 1024];
    assert_eq!(admin.cmd(&[b"SET", b"big", &big]), b"+OK\r\n");
    // 20 GETs of 100 KB in one write: 2 MB of replies before any flush.
    let mut greedy = s.raw();
    let mut pipeline = Vec::new();
    for _ in 0..20 {
        pipeline.extend_from_slice(&common::encode(&[b"GET", b"big"]));
    }
    greedy.send(&pipeline);
    // Closed without a byte of output (Redis frees it asynchronously).
    let got = greedy.read_n(1);
    assert!(got.is_empty(), "got {} bytes", got.len());
    // Under the limit nothing happens.
    let mut fine = s.raw();
    let mut pipeline = Vec::new();
    for _ in 0..5 {
        pipeline.extend_from_slice(&common::encode(&[b"GET", b"big"]));
    }
    fine.send(&pipeline);
    let got = fine.read_n(5 * (big.len() + 11));
    assert_eq!(got.len(), 5 * (big.len() + 11));
    assert_eq!(admin.cmd(&[b"PING"]), b"+PONG\r\n");
}

/// The `redis` crate's Pub/Sub API (a real client library) in RESP2.
#[test]
fn redis_crate_pubsub() {
    let s = Server::start(&[]);
    let mut sub_conn = s.conn();
    let mut publisher = s.conn();
    let mut ps = sub_conn.as_pubsub();
    ps.subscribe("news").expect("subscribe");
    ps.psubscribe("n*").expect("psubscribe");
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hello")
        .query(&mut publisher)
        .expect("publish");
    assert_eq!(n, 2);
    let m = ps.get_message().expect("message");
    assert_eq!(m.get_channel_name(), "news");
    assert_eq!(m.get_payload::<String>().expect("payload"), "hello");
    assert!(!m.from_pattern());
    let m = ps.get_message().expect("pmessage");
    assert_eq!(m.get_pattern::<String>().expect("pattern"), "n*");
    assert_eq!(m.get_payload::<String>().expect("payload"), "hello");
    ps.unsubscribe("news").expect("unsubscribe");
    ps.punsubscribe("n*").expect("punsubscribe");
    drop(ps);
    // Out of subscribed mode the connection runs commands again.
    let pong: String = redis::cmd("PING").query(&mut sub_conn).expect("ping");
    assert_eq!(pong, "PONG");
}

/// The table rows as Redis describes them: flags, arity, key positions and
/// the not_key specs of shard channels (positions for cluster routing).
#[test]
fn command_info_matches_redis() {
    differential(
        &[
            (
                "a",
                "COMMAND INFO subscribe psubscribe unsubscribe punsubscribe publish",
            ),
            ("a", "COMMAND INFO ssubscribe sunsubscribe spublish"),
            (
                "a",
                "COMMAND INFO pubsub|channels pubsub|numsub pubsub|numpat pubsub|help",
            ),
            ("a", "COMMAND INFO pubsub|shardchannels pubsub|shardnumsub"),
            ("a", "COMMAND GETKEYS spublish ch m"),
            ("a", "COMMAND GETKEYS publish ch m"),
        ],
        &[(4, b"-ERR The command has no key arguments\r\n")],
    );
}

/// In a cluster, Pub/Sub is served by the node the client talks to: a
/// shard channel owned by another node is not relayed (the relay
/// connection would be the subscriber), so SSUBSCRIBE / SPUBLISH through
/// one node meet there.
#[test]
fn cluster_node_serves_its_own_subscribers() {
    let cluster = common::cluster::Cluster::start(2, &[]);
    let channel = cluster.key_on(1, "ch");
    let mut sub = cluster.nodes[0].raw();
    let ack = sub.cmd(&[b"SSUBSCRIBE", channel.as_bytes()]);
    assert_eq!(
        ack,
        format!(
            "*3\r\n$10\r\nssubscribe\r\n${}\r\n{channel}\r\n:1\r\n",
            channel.len()
        )
        .as_bytes()
    );
    let mut publisher = cluster.nodes[0].raw();
    assert_eq!(
        publisher.cmd(&[b"SPUBLISH", channel.as_bytes(), b"m"]),
        b":1\r\n"
    );
    assert_eq!(
        sub.read_reply(),
        format!(
            "*3\r\n$8\r\nsmessage\r\n${}\r\n{channel}\r\n$1\r\nm\r\n",
            channel.len()
        )
        .as_bytes()
    );
    // Keys still route: a write through node 0 to a key node 1 owns works.
    let key = cluster.key_on(1, "k");
    assert_eq!(publisher.cmd(&[b"SET", key.as_bytes(), b"v"]), b"+OK\r\n");
    assert_eq!(publisher.cmd(&[b"GET", key.as_bytes()]), b"$1\r\nv\r\n");
}

/// SUBSCRIBE / PSUBSCRIBE / UNSUBSCRIBE run inside MULTI in RESP2 and RESP3
/// as in Redis 7.0 (their confirmations are EXEC's elements); EXEC in RESP2
/// subscribed mode aborts as Redis's does.
/// When memkv rolls such a transaction back (`multi-rollback yes`) the
/// client is told EXECABORT, and its subscriptions are what they were:
/// not subscribed, not in subscribed mode, no messages.
#[test]
fn subscribe_inside_multi() {
    for resp3 in [false, true] {
        let mut steps: Vec<Step> = Vec::new();
        if resp3 {
            steps.push(("a", "@resp3"));
        }
        steps.extend_from_slice(&[
            ("a", "MULTI"),
            ("a", "SUBSCRIBE a b"),
            ("a", "PSUBSCRIBE p*"),
            ("a", "UNSUBSCRIBE a"),
            ("a", "EXEC"),
            ("a", "PING"),
            ("b", "PUBSUB NUMSUB a b"),
            ("b", "PUBSUB NUMPAT"),
            ("a", "EXEC"),
        ]);
        let steps: &'static [Step] = Vec::leak(steps);
        differential(steps, &[]);
    }
    // Rolled back: nothing of it stays.
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    a.cmd(&[b"HELLO", b"3"]);
    assert_eq!(a.cmd(&[b"SET", b"str", b"x"]), b"+OK\r\n");
    a.cmd(&[b"SUBSCRIBE", b"kept"]);
    let mut out = Vec::new();
    for cmd in [
        &[&b"MULTI"[..]][..],
        &[b"SUBSCRIBE", b"r1"],
        &[b"PSUBSCRIBE", b"r*"],
        &[b"UNSUBSCRIBE", b"kept"],
        &[b"LPUSH", b"str", b"x"],
        &[b"EXEC"],
    ] {
        out.extend(a.cmd(cmd));
    }
    assert_eq!(
        String::from_utf8_lossy(&out),
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n-EXECABORT Transaction rolled back: command #4 (LPUSH) failed: WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        b.cmd(&[b"PUBSUB", b"NUMSUB", b"r1", b"kept"]),
        b"*4\r\n$2\r\nr1\r\n:0\r\n$4\r\nkept\r\n:1\r\n"
    );
    assert_eq!(b.cmd(&[b"PUBSUB", b"NUMPAT"]), b":0\r\n");
    assert_eq!(b.cmd(&[b"PUBLISH", b"r1", b"m"]), b":0\r\n");
    assert_eq!(b.cmd(&[b"PUBLISH", b"kept", b"m"]), b":1\r\n");
    assert_eq!(
        a.read_reply(),
        b">3\r\n$7\r\nmessage\r\n$4\r\nkept\r\n$1\r\nm\r\n"
    );
    // RESP2: a rolled-back SUBSCRIBE leaves the client out of subscribed
    // mode, as it was told.
    let mut c = s.raw();
    for cmd in [
        &[&b"MULTI"[..]][..],
        &[b"SUBSCRIBE", b"r2"],
        &[b"LPUSH", b"str", b"x"],
    ] {
        c.cmd(cmd);
    }
    assert!(
        c.cmd(&[b"EXEC"])
            .starts_with(b"-EXECABORT Transaction rolled back")
    );
    assert_eq!(c.cmd(&[b"GET", b"str"]), b"$1\r\nx\r\n");
    assert_eq!(
        b.cmd(&[b"PUBSUB", b"NUMSUB", b"r2"]),
        b"*2\r\n$2\r\nr2\r\n:0\r\n"
    );
}

/// Big payloads (shared between the subscribers' output queues rather than
/// copied into each) arrive intact and in order with small ones, in RESP2
/// and RESP3, to channel and pattern subscribers and to a publisher
/// subscribed to its own channel - the same bytes as Redis sends.
#[test]
fn big_payloads_reach_every_subscriber_intact() {
    let run = |s: &Server| -> Vec<Vec<u8>> {
        let mut sub2 = s.raw();
        let mut sub3 = s.raw();
        let mut publisher = s.raw();
        sub2.cmd(&[b"SUBSCRIBE", b"big"]);
        sub3.cmd(&[b"HELLO", b"3"]);
        sub3.cmd(&[b"PSUBSCRIBE", b"b*"]);
        sub3.cmd(&[b"SUBSCRIBE", b"big"]);
        publisher.cmd(&[b"HELLO", b"3"]);
        publisher.cmd(&[b"SUBSCRIBE", b"big"]);
        let mut out = Vec::new();
        let sizes = [200_000usize, 5, 16 * 1024, 16 * 1024 - 1, 1 << 20];
        for (i, n) in sizes.iter().enumerate() {
            let payload: Vec<u8> = (0..*n).map(|j| b'a' + ((i + j) % 26) as u8).collect();
            publisher.send(&common::encode(&[b"PUBLISH", b"big", &payload]));
            // Its own message comes before PUBLISH's reply.
            out.push(publisher.read_reply());
            out.push(publisher.read_reply());
            out.push(sub2.read_reply());
            out.push(sub3.read_reply());
            out.push(sub3.read_reply());
        }
        out
    };
    let s = Server::start(&[]);
    let mine = run(&s);
    assert_eq!(mine[1], b":4\r\n");
    let payload: Vec<u8> = (0..200_000).map(|j| b'a' + (j % 26) as u8).collect();
    let mut want = b"*3\r\n$7\r\nmessage\r\n$3\r\nbig\r\n$200000\r\n".to_vec();
    want.extend_from_slice(&payload);
    want.extend_from_slice(b"\r\n");
    assert!(mine[2] == want, "RESP2 subscriber's first message");
    if let Some(r) = Server::start_redis(&[]) {
        let theirs = run(&r);
        for (i, (a, b)) in mine.iter().zip(&theirs).enumerate() {
            assert!(
                a == b,
                "message #{i}: memkv vs redis ({} vs {} bytes)",
                a.len(),
                b.len()
            );
        }
    }
}

/// With `multi-rollback yes` a PUBLISH inside a transaction or script waits
/// for the commit: a rolled-back one reaches nobody, a committed one
/// reaches every subscriber in order and its reply counts them. With `no`
/// it is sent at once and kept, as in Redis.
#[test]
fn publish_inside_a_rolled_back_transaction_is_not_sent() {
    for rollback in [true, false] {
        let s = Server::start(&["--multi-rollback", if rollback { "yes" } else { "no" }]);
        let mut sub = s.raw();
        let mut psub = s.raw();
        let mut c = s.raw();
        sub.cmd(&[b"SUBSCRIBE", b"ch"]);
        psub.cmd(&[b"PSUBSCRIBE", b"c*"]);
        c.cmd(&[b"SET", b"str", b"x"]);
        for cmd in [
            &[&b"MULTI"[..]][..],
            &[b"PUBLISH", b"ch", b"undone"],
            &[b"LPUSH", b"str", b"x"],
            &[b"EXEC"],
            &[
                b"EVAL",
                b"redis.call('publish', 'ch', 'undone2') return redis.call('lpush', 'str', 'x')",
                b"0",
            ],
            &[b"MULTI"],
            &[b"PUBLISH", b"ch", b"one"],
            &[b"PUBLISH", b"nobody", b"x"],
            &[b"PUBLISH", b"ch", b"two"],
        ] {
            c.cmd(cmd);
        }
        assert_eq!(c.cmd(&[b"EXEC"]), b"*3\r\n:2\r\n:0\r\n:2\r\n");
        assert_eq!(
            c.cmd(&[
                b"EVAL",
                b"return redis.call('publish', 'ch', 'three')",
                b"0"
            ]),
            b":2\r\n"
        );
        let mut want: Vec<&[u8]> = vec![b"one", b"two", b"three"];
        if !rollback {
            want.splice(0..0, [&b"undone"[..], b"undone2"]);
        }
        for m in &want {
            let got = sub.read_reply();
            assert!(
                got.ends_with(
                    &[b"$", m.len().to_string().as_bytes(), b"\r\n", m, b"\r\n"].concat()
                ),
                "{rollback}: {}",
                String::from_utf8_lossy(&got)
            );
        }
        assert!(
            psub.read_reply().ends_with(
                &[
                    b"$",
                    want[0].len().to_string().as_bytes(),
                    b"\r\n",
                    want[0],
                    b"\r\n"
                ]
                .concat()
            )
        );
        // Nothing else arrived before this marker.
        c.cmd(&[b"PUBLISH", b"ch", b"end"]);
        assert!(sub.read_reply().ends_with(b"$3\r\nend\r\n"));
    }
}
