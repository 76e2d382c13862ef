//! Pub/Sub across cluster nodes (issue 12): a PUBLISH through any node
//! reaches subscribers on every node and answers the receivers of the whole
//! cluster; SPUBLISH likewise for shard channels; PUBSUB CHANNELS / NUMSUB /
//! NUMPAT / SHARDCHANNELS / SHARDNUMSUB describe the whole cluster - the
//! same replies as one real Redis holding all the subscribers; a stopped
//! node costs at most the node timeout and then counts as nothing.

mod common;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{Raw, Server};

/// One subscription: (node index, command, names).
type Sub = (usize, &'static str, &'static [&'static str]);

const SUBS: &[Sub] = &[
    (0, "SUBSCRIBE", &["news", "other"]),
    (1, "SUBSCRIBE", &["news"]),
    (2, "PSUBSCRIBE", &["n*", "o*"]),
    (2, "SSUBSCRIBE", &["shard"]),
    (1, "SSUBSCRIBE", &["shard", "s2"]),
];

/// Subscribes on `ports[node]` for each entry; returns the connections
/// (confirmations read).
fn subscribe(ports: &[u16], subs: &[Sub]) -> Vec<Raw> {
    subs.iter()
        .map(|(node, cmd, names)| {
            let s = std::net::TcpStream::connect(("127.0.0.1", ports[*node])).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut r = Raw::from_stream(s);
            let mut argv: Vec<&[u8]> = vec![cmd.as_bytes()];
            argv.extend(names.iter().map(|n| n.as_bytes()));
            r.send(&common::encode(&argv));
            for _ in 0..names.len() {
                r.read_reply();
            }
            r
        })
        .collect()
}

fn q(r: &mut Raw, parts: &[&str]) -> String {
    let argv: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    String::from_utf8_lossy(&r.cmd(&argv)).into_owned()
}

/// Sorts the bulk strings of a flat array reply (CHANNELS order is the
/// order of a hash table in Redis: compare as sets).
fn sorted(reply: &str) -> Vec<String> {
    let mut lines: Vec<String> = reply
        .split("\r\n")
        .skip(1)
        .collect::<Vec<_>>()
        .chunks(2)
        .filter_map(|c| c.get(1).map(|s| s.to_string()))
        .collect();
    lines.sort();
    lines
}

fn msg(kind: &str, parts: &[&str]) -> Vec<u8> {
    let mut argv: Vec<&[u8]> = vec![kind.as_bytes()];
    argv.extend(parts.iter().map(|p| p.as_bytes()));
    common::encode(&argv)
}

#[test]
fn publish_reaches_every_nodes_subscribers_and_answers_like_one_redis() {
    let cluster = Cluster::start(3, &[]);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let mut subs = subscribe(&ports, SUBS);
    let redis = Server::start_redis(&[]);
    let mut redis_subs = redis
        .as_ref()
        .map(|r| subscribe(&[r.port, r.port, r.port], SUBS));

    // Through every entry node in turn.
    for entry in 0..3 {
        let mut p = cluster.nodes[entry].raw();
        let text = format!("hello{entry}");
        assert_eq!(q(&mut p, &["PUBLISH", "news", &text]), ":3\r\n");
        subs[0].expect(&msg("message", &["news", &text]));
        subs[1].expect(&msg("message", &["news", &text]));
        subs[2].expect(&msg("pmessage", &["n*", "news", &text]));
        assert_eq!(q(&mut p, &["PUBLISH", "nobody", "x"]), ":1\r\n");
        subs[2].expect(&msg("pmessage", &["n*", "nobody", "x"]));
        assert_eq!(q(&mut p, &["PUBLISH", "zzz", "x"]), ":0\r\n");
        assert_eq!(q(&mut p, &["SPUBLISH", "shard", &text]), ":2\r\n");
        subs[3].expect(&msg("smessage", &["shard", &text]));
        subs[4].expect(&msg("smessage", &["shard", &text]));
    }

    // Introspection covers the cluster: the same as one Redis holding all
    // the subscribers.
    let mut p = cluster.nodes[1].raw();
    let asks: &[&[&str]] = &[
        &["PUBLISH", "other", "m"],
        &["PUBSUB", "NUMSUB", "news", "other", "none", "news"],
        &["PUBSUB", "NUMSUB"],
        &["PUBSUB", "NUMPAT"],
        &["PUBSUB", "SHARDNUMSUB", "shard", "s2", "x"],
        &["PUBSUB", "CHANNELS", "n*", "extra"],
    ];
    let expected: Vec<String> = match (&redis, &mut redis_subs) {
        (Some(r), Some(_)) => {
            let mut rr = r.raw();
            asks.iter().map(|a| q(&mut rr, a)).collect()
        }
        _ => vec![
            ":2\r\n".into(),
            "*8\r\n$4\r\nnews\r\n:2\r\n$5\r\nother\r\n:1\r\n$4\r\nnone\r\n:0\r\n$4\r\nnews\r\n:2\r\n"
                .into(),
            "*0\r\n".into(),
            ":2\r\n".into(),
            "*6\r\n$5\r\nshard\r\n:2\r\n$2\r\ns2\r\n:1\r\n$1\r\nx\r\n:0\r\n".into(),
            "-ERR Unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n".into(),
        ],
    };
    for (a, want) in asks.iter().zip(&expected) {
        assert_eq!(&q(&mut p, a), want, "{a:?}");
    }
    subs[0].expect(&msg("message", &["other", "m"]));
    subs[2].expect(&msg("pmessage", &["o*", "other", "m"]));
    // RESP3: the same shapes as Redis too.
    if let Some(r) = &redis {
        let (mut p3, mut r3) = (cluster.nodes[2].raw(), r.raw());
        q(&mut p3, &["HELLO", "3"]);
        q(&mut r3, &["HELLO", "3"]);
        for a in &asks[1..] {
            assert_eq!(q(&mut p3, a), q(&mut r3, a), "RESP3 {a:?}");
        }
    }
    // CHANNELS / SHARDCHANNELS: the union of the nodes' names.
    for (ask, want) in [
        (&["PUBSUB", "CHANNELS"][..], vec!["news", "other"]),
        (&["PUBSUB", "CHANNELS", "o*"][..], vec!["other"]),
        (&["PUBSUB", "SHARDCHANNELS"][..], vec!["s2", "shard"]),
    ] {
        let got = sorted(&q(&mut p, ask));
        assert_eq!(got, want, "{ask:?}");
        if let Some(r) = &redis {
            assert_eq!(sorted(&q(&mut r.raw(), ask)), want, "Redis {ask:?}");
        }
    }
}

#[test]
fn publish_inside_multi_and_scripts_reaches_other_nodes() {
    let cluster = Cluster::start(2, &[]);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let mut subs = subscribe(&ports, &[(1, "SUBSCRIBE", &["ch"])]);
    let mut p = cluster.nodes[0].raw();
    assert_eq!(q(&mut p, &["MULTI"]), "+OK\r\n");
    assert_eq!(q(&mut p, &["PUBLISH", "ch", "in-multi"]), "+QUEUED\r\n");
    // The count covers this node only (documented): no subscriber here.
    assert_eq!(q(&mut p, &["EXEC"]), "*1\r\n:0\r\n");
    subs[0].expect(&msg("message", &["ch", "in-multi"]));
    assert_eq!(
        q(
            &mut p,
            &["EVAL", "return redis.call('PUBLISH', 'ch', 'lua')", "0"]
        ),
        ":0\r\n"
    );
    subs[0].expect(&msg("message", &["ch", "lua"]));
    // A pipeline of publishes arrives in order.
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.extend(common::encode(&[
            b"PUBLISH",
            b"ch",
            i.to_string().as_bytes(),
        ]));
    }
    p.send(&batch);
    for i in 0..50 {
        assert_eq!(p.read_reply(), b":1\r\n");
        subs[0].expect(&msg("message", &["ch", &i.to_string()]));
    }
}

#[test]
fn a_stopped_node_delays_publish_at_most_the_node_timeout_then_counts_as_nothing() {
    let cluster = Cluster::start(3, &["--cluster-node-timeout", "300"]);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let mut subs = subscribe(
        &ports,
        &[(1, "SUBSCRIBE", &["ch"]), (2, "SUBSCRIBE", &["ch"])],
    );
    let mut p = cluster.nodes[0].raw();
    assert_eq!(q(&mut p, &["PUBLISH", "ch", "a"]), ":2\r\n");
    subs[0].expect(&msg("message", &["ch", "a"]));
    subs[1].expect(&msg("message", &["ch", "a"]));
    cluster.signal(2, libc::SIGSTOP);
    // Answered (not hung), counting the live subscriber only.
    assert_eq!(q(&mut p, &["PUBLISH", "ch", "b"]), ":1\r\n");
    subs[0].expect(&msg("message", &["ch", "b"]));
    assert_eq!(
        q(&mut p, &["PUBSUB", "NUMSUB", "ch"]),
        "*2\r\n$2\r\nch\r\n:1\r\n"
    );
    // Other clients were served meanwhile.
    assert_eq!(q(&mut cluster.nodes[1].raw(), &["PING"]), "+PONG\r\n");
    cluster.signal(2, libc::SIGCONT);
    let end = Instant::now() + Duration::from_secs(30);
    let mut back = false;
    while Instant::now() < end {
        if q(&mut p, &["PUBSUB", "NUMSUB", "ch"]) == "*2\r\n$2\r\nch\r\n:2\r\n" {
            back = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(back, "the node counts again once it answers");
    assert_eq!(q(&mut p, &["PUBLISH", "ch", "c"]), ":2\r\n");
}

/// The same patterns subscribed on several nodes: PUBSUB NUMPAT through any
/// node counts distinct patterns over the cluster (what one Redis holding
/// all those subscribers answers), NUMSUB and CHANNELS likewise; a pattern
/// stays counted until its last subscriber on any node leaves.
#[test]
fn numpat_counts_each_pattern_once_across_nodes() {
    const SAME: &[Sub] = &[
        (0, "PSUBSCRIBE", &["n*", "a?"]),
        (1, "PSUBSCRIBE", &["n*"]),
        (2, "PSUBSCRIBE", &["n*", "x*"]),
        (2, "SUBSCRIBE", &["news"]),
        (0, "SUBSCRIBE", &["news"]),
    ];
    let cluster = Cluster::start(3, &[]);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let mut subs = subscribe(&ports, SAME);
    let redis = Server::start_redis(&[]);
    let mut redis_subs = redis.as_ref().map(|r| subscribe(&[r.port; 3], SAME));
    let asks: &[&[&str]] = &[
        &["PUBSUB", "NUMPAT"],
        &["PUBSUB", "NUMSUB", "news", "n*"],
        &["PUBSUB", "CHANNELS"],
    ];
    let want = |r: &Option<Server>, fallback: &[&str]| -> Vec<String> {
        match r {
            Some(r) => asks.iter().map(|a| q(&mut r.raw(), a)).collect(),
            None => fallback.iter().map(|s| s.to_string()).collect(),
        }
    };
    let expected = want(
        &redis,
        &[
            ":3\r\n",
            "*4\r\n$4\r\nnews\r\n:2\r\n$2\r\nn*\r\n:0\r\n",
            "*1\r\n$4\r\nnews\r\n",
        ],
    );
    assert_eq!(expected[0], ":3\r\n");
    for entry in 0..3 {
        let mut p = cluster.nodes[entry].raw();
        for (a, w) in asks.iter().zip(&expected) {
            assert_eq!(&q(&mut p, a), w, "through node {entry}: {a:?}");
        }
    }
    // n* leaves nodes 0 and 1: still subscribed on node 2.
    for (i, sub) in subs.iter_mut().enumerate().take(2) {
        let reply = sub.cmd(&[b"PUNSUBSCRIBE", b"n*"]);
        assert!(reply.starts_with(b"*3\r\n$12\r\npunsubscribe\r\n"), "{i}");
    }
    if let Some(rs) = redis_subs.as_mut() {
        for sub in rs.iter_mut().take(2) {
            sub.cmd(&[b"PUNSUBSCRIBE", b"n*"]);
        }
    }
    let expected = want(&redis, &[":3\r\n"]);
    assert_eq!(expected[0], ":3\r\n");
    assert_eq!(q(&mut cluster.nodes[1].raw(), asks[0]), expected[0]);
    // And leaves node 2 too: gone.
    subs[2].cmd(&[b"PUNSUBSCRIBE", b"n*"]);
    assert_eq!(q(&mut cluster.nodes[0].raw(), asks[0]), ":2\r\n");
}
