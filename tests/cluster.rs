//! Cluster mode through plain clients: every node serves the whole keyspace
//! (relay, gathers, whole-keyspace commands, SCAN across nodes), pipelines
//! keep their order, the database and protocol travel with a relay, a
//! random command stream through random entry nodes answers exactly as one
//! real Redis, and peer failure (SIGSTOP, SIGKILL + restart, member-set
//! mismatch) gives CLUSTERDOWN errors, never hangs or wrong data.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::cluster::{Cluster, fingerprint};
use common::script::{Rng, render, seed, split};
use common::{Raw, Server, eventually};

/// How long a peer may take to come back (convergence, not a timing
/// assertion).
const PEER_BACK: Duration = Duration::from_secs(30);

fn cmd(raw: &mut Raw, line: &str) -> String {
    let parts = split(line);
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    render(&raw.cmd(&refs))
}

#[test]
fn every_node_reads_and_writes_every_key() {
    let cluster = Cluster::start(3, &[]);
    let mut conns: Vec<redis::Connection> = cluster.nodes.iter().map(|n| n.conn()).collect();
    let n = 150;
    for i in 0..n {
        let c = &mut conns[i % 3];
        let _: () = redis::cmd("SET")
            .arg(format!("s:{i}"))
            .arg(i)
            .query(c)
            .unwrap();
        let _: i64 = redis::cmd("RPUSH")
            .arg(format!("l:{i}"))
            .arg(i)
            .arg("x")
            .query(c)
            .unwrap();
    }
    // Keys landed on every node.
    for node in &cluster.nodes {
        let info: String = redis::cmd("INFO")
            .arg("keyspace")
            .query(&mut node.conn())
            .unwrap();
        assert!(info.contains("db0:keys="), "a node holds no keys: {info}");
    }
    let all: BTreeSet<String> = (0..n)
        .flat_map(|i| [format!("s:{i}"), format!("l:{i}")])
        .collect();
    for c in conns.iter_mut() {
        for i in 0..n {
            let v: i64 = redis::cmd("GET").arg(format!("s:{i}")).query(c).unwrap();
            assert_eq!(v, i as i64);
            let l: Vec<String> = redis::cmd("LRANGE")
                .arg(format!("l:{i}"))
                .arg(0)
                .arg(-1)
                .query(c)
                .unwrap();
            assert_eq!(l, [i.to_string(), "x".to_string()]);
        }
        let size: usize = redis::cmd("DBSIZE").query(c).unwrap();
        assert_eq!(size, 2 * n);
        let keys: BTreeSet<String> = redis::cmd("KEYS")
            .arg("*")
            .query::<Vec<String>>(c)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(keys, all);
        // One SCAN cursor walks every node.
        let mut seen = BTreeSet::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(7)
                .query(c)
                .unwrap();
            seen.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, all);
        let typed: Vec<String> = scan_all(c, &["TYPE", "list"]);
        assert_eq!(typed.len(), n);
        let random: String = redis::cmd("RANDOMKEY").query(c).unwrap();
        assert!(all.contains(&random), "{random}");
        // MGET / EXISTS / TOUCH gather from every owner, in request order.
        let names: Vec<String> = (0..n)
            .map(|i| format!("s:{i}"))
            .chain(["nokey".into()])
            .collect();
        let vals: Vec<Option<i64>> = redis::cmd("MGET").arg(&names).query(c).unwrap();
        let want: Vec<Option<i64>> = (0..n as i64).map(Some).chain([None]).collect();
        assert_eq!(vals, want);
        let exists: usize = redis::cmd("EXISTS")
            .arg(&names)
            .arg("s:0")
            .query(c)
            .unwrap();
        assert_eq!(exists, n + 1);
        let touched: usize = redis::cmd("TOUCH").arg(&names).query(c).unwrap();
        assert_eq!(touched, n);
    }
    // SWAPDB through one node swaps on every node.
    let _: () = redis::cmd("SWAPDB")
        .arg(0)
        .arg(2)
        .query(&mut conns[2])
        .unwrap();
    let size: usize = redis::cmd("DBSIZE").query(&mut conns[0]).unwrap();
    assert_eq!(size, 0);
    let _: () = redis::cmd("SELECT").arg(2).query(&mut conns[1]).unwrap();
    let size: usize = redis::cmd("DBSIZE").query(&mut conns[1]).unwrap();
    assert_eq!(size, 2 * n);
    let v: i64 = redis::cmd("GET").arg("s:3").query(&mut conns[1]).unwrap();
    assert_eq!(v, 3);
    let _: () = redis::cmd("SELECT").arg(0).query(&mut conns[1]).unwrap();
    let _: () = redis::cmd("SWAPDB")
        .arg(2)
        .arg(0)
        .query(&mut conns[0])
        .unwrap();
    // FLUSHALL through one node empties them all.
    let _: () = redis::cmd("FLUSHALL")
        .arg("ASYNC")
        .query(&mut conns[1])
        .unwrap();
    for c in conns.iter_mut() {
        let size: usize = redis::cmd("DBSIZE").query(c).unwrap();
        assert_eq!(size, 0);
        let r: Option<String> = redis::cmd("RANDOMKEY").query(c).unwrap();
        assert_eq!(r, None);
    }
}

fn scan_all(c: &mut redis::Connection, opts: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg(opts).query(c).unwrap();
        out.extend(batch);
        cursor = next;
        if cursor == 0 {
            return out;
        }
    }
}

#[test]
fn a_pipeline_through_a_relaying_node_keeps_its_order() {
    let cluster = Cluster::start(3, &[]);
    let keys: Vec<String> = (0..3).map(|i| cluster.key_on(i, "ctr")).collect();
    let mut c = cluster.nodes[0].conn();
    let mut pipe = redis::pipe();
    let mut want = Vec::new();
    let mut counts = [0i64; 3];
    for i in 0..300 {
        let k = (i * 7 + i / 5) % 3;
        counts[k] += 1;
        pipe.cmd("INCR").arg(&keys[k]);
        want.push(counts[k]);
    }
    let got: Vec<i64> = pipe.query(&mut c).unwrap();
    assert_eq!(got, want);
    // A raw pipeline mixing local, relayed and gathered commands.
    let mut raw = cluster.nodes[0].raw();
    let mut bytes = Vec::new();
    let lines = [
        format!("GET {}", keys[1]),
        format!("GET {}", keys[0]),
        format!("MGET {} {} {}", keys[2], keys[0], keys[1]),
        "DBSIZE".to_string(),
        format!("GET {}", keys[2]),
        "PING".to_string(),
    ];
    for l in &lines {
        let parts = split(l);
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        bytes.extend(common::encode(&refs));
    }
    raw.send(&bytes);
    let replies: Vec<String> = lines.iter().map(|_| render(&raw.read_reply())).collect();
    let (a, b, d) = (counts[0], counts[1], counts[2]);
    assert_eq!(
        replies,
        [
            format!("\"{b}\""),
            format!("\"{a}\""),
            format!("[\"{d}\", \"{a}\", \"{b}\"]"),
            ":3".to_string(),
            format!("\"{d}\""),
            "+PONG".to_string(),
        ]
    );
}

#[test]
fn the_selected_database_and_resp3_travel_with_a_relay() {
    let cluster = Cluster::start(2, &[]);
    let remote = cluster.key_on(1, "h");
    let mut raw = cluster.nodes[0].raw();
    assert_eq!(cmd(&mut raw, "SELECT 5"), "+OK");
    assert_eq!(cmd(&mut raw, &format!("HSET {remote} f v g w")), ":2");
    assert_eq!(cmd(&mut raw, "SELECT 0"), "+OK");
    assert_eq!(cmd(&mut raw, &format!("EXISTS {remote}")), ":0");
    let mut owner = cluster.nodes[1].raw();
    assert_eq!(cmd(&mut owner, "SELECT 5"), "+OK");
    assert_eq!(cmd(&mut owner, &format!("HGET {remote} f")), "\"v\"");
    // RESP3 through the relay: the same bytes as from the owner.
    let mut r3 = cluster.nodes[0].raw();
    let mut o3 = cluster.nodes[1].raw();
    for r in [&mut r3, &mut o3] {
        r.cmd(&[b"HELLO", b"3"]);
        assert_eq!(cmd(r, "SELECT 5"), "+OK");
    }
    for line in [
        format!("HGETALL {remote}"),
        format!("HGET {remote} nofield"),
        format!("GET {remote}"),
        "GET nokey".to_string(),
    ] {
        let parts = split(&line);
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        assert_eq!(r3.cmd(&refs), o3.cmd(&refs), "{line}");
    }
    assert_eq!(
        cmd(&mut r3, &format!("HGETALL {remote}")),
        "{\"f\": \"v\", \"g\": \"w\"}"
    );
}

#[test]
fn transactions_run_on_their_node_and_spanning_ones_are_refused() {
    let cluster = Cluster::start(3, &[]);
    // A hash tag owned by node 1: both keys live there.
    let tag = (0..1000)
        .map(|i| format!("{{t{i}}}"))
        .find(|t| cluster.owner(t) == 1)
        .expect("a tag on node 1");
    let (a, b) = (format!("{tag}a"), format!("{tag}b"));
    let mut raw = cluster.nodes[0].raw();
    assert_eq!(cmd(&mut raw, "MULTI"), "+OK");
    assert_eq!(cmd(&mut raw, &format!("SET {a} 1")), "+QUEUED");
    assert_eq!(cmd(&mut raw, &format!("INCRBY {a} 5")), "+QUEUED");
    assert_eq!(cmd(&mut raw, &format!("RPUSH {b} x y")), "+QUEUED");
    assert_eq!(cmd(&mut raw, &format!("GET {a}")), "+QUEUED");
    assert_eq!(cmd(&mut raw, "EXEC"), "[+OK, :6, :2, \"6\"]");
    assert_eq!(cmd(&mut raw, &format!("LRANGE {b} 0 -1")), "[\"x\", \"y\"]");
    // A runtime error inside the relayed transaction rolls it back, with
    // the same EXECABORT as on one node.
    assert_eq!(cmd(&mut raw, "MULTI"), "+OK");
    assert_eq!(cmd(&mut raw, &format!("SET {a} 7")), "+QUEUED");
    assert_eq!(cmd(&mut raw, &format!("INCR {b}")), "+QUEUED");
    let got = cmd(&mut raw, "EXEC");
    assert!(
        got.starts_with("-EXECABORT Transaction rolled back: command #2 (INCR) failed: WRONGTYPE"),
        "{got}"
    );
    assert_eq!(cmd(&mut raw, &format!("GET {a}")), "\"6\"");
    // SELECT inside a relayed transaction moves the client, as locally.
    assert_eq!(cmd(&mut raw, "MULTI"), "+OK");
    assert_eq!(cmd(&mut raw, "SELECT 3"), "+QUEUED");
    assert_eq!(cmd(&mut raw, &format!("SET {a} in3")), "+QUEUED");
    assert_eq!(cmd(&mut raw, "EXEC"), "[+OK, +OK]");
    assert_eq!(cmd(&mut raw, &format!("GET {a}")), "\"in3\"");
    assert_eq!(cmd(&mut raw, "SELECT 0"), "+OK");
    assert_eq!(cmd(&mut raw, &format!("GET {a}")), "\"6\"");
    // Keys on two nodes in one transaction: one atomic cross-node
    // transaction (more in tests/cluster_atomic.rs).
    let other = cluster.key_on(2, "o");
    assert_eq!(cmd(&mut raw, "MULTI"), "+OK");
    assert_eq!(cmd(&mut raw, &format!("SET {a} 9")), "+QUEUED");
    assert_eq!(cmd(&mut raw, &format!("SET {other} 9")), "+QUEUED");
    assert_eq!(cmd(&mut raw, "EXEC"), "[+OK, +OK]");
    assert_eq!(
        cmd(&mut raw, &format!("MGET {a} {other}")),
        "[\"9\", \"9\"]"
    );
    // With a whole-keyspace command it is refused, nothing applied.
    assert_eq!(cmd(&mut raw, "MULTI"), "+OK");
    assert_eq!(cmd(&mut raw, &format!("SET {a} 6")), "+QUEUED");
    assert_eq!(cmd(&mut raw, &format!("SET {other} 6")), "+QUEUED");
    assert_eq!(cmd(&mut raw, "DBSIZE"), "+QUEUED");
    assert_eq!(
        cmd(&mut raw, "EXEC"),
        "-EXECABORT Transaction discarded because it runs a whole-keyspace command (DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL, SWAPDB) and its keys live on several cluster nodes (memkv cluster)"
    );
    assert_eq!(
        cmd(&mut raw, &format!("MGET {a} {other}")),
        "[\"9\", \"9\"]"
    );
    // Multi-node writes outside MULTI are atomic (tests/cluster_atomic.rs).
    assert_eq!(cmd(&mut raw, &format!("MSET {a} 1 {other} 2")), "+OK");
    assert_eq!(
        cmd(&mut raw, &format!("MGET {a} {other}")),
        "[\"1\", \"2\"]"
    );
    assert_eq!(cmd(&mut raw, &format!("MSET {a} 1 {b}2 2")), "+OK");
}

#[test]
fn a_blocked_relay_does_not_hold_up_other_clients() {
    let cluster = Cluster::start(2, &["--cluster-node-timeout", "1000"]);
    let list = cluster.key_on(1, "q");
    let other = cluster.key_on(1, "k");
    let port = cluster.nodes[0].port;
    let list2 = list.clone();
    let waiter = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        // Longer than the node timeout: the relay re-issues it in slices.
        let r: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(&list2)
            .arg(0)
            .query(&mut c)
            .unwrap();
        r
    });
    let mut c = cluster.nodes[0].conn();
    for i in 0..50 {
        let _: () = redis::cmd("SET").arg(&other).arg(i).query(&mut c).unwrap();
        let v: i64 = redis::cmd("GET").arg(&other).query(&mut c).unwrap();
        assert_eq!(v, i);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let _: i64 = redis::cmd("RPUSH")
        .arg(&list)
        .arg("hello")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        waiter.join().unwrap(),
        Some((list.clone(), "hello".to_string()))
    );
    // A timeout on a remote key answers the null of the client's protocol.
    let mut raw = cluster.nodes[0].raw();
    assert_eq!(raw.cmd(&[b"BLPOP", list.as_bytes(), b"0.1"]), b"*-1\r\n");
    raw.cmd(&[b"HELLO", b"3"]);
    assert_eq!(raw.cmd(&[b"BLPOP", list.as_bytes(), b"0.1"]), b"_\r\n");
}

#[test]
fn a_stopped_peer_costs_at_most_the_node_timeout_and_comes_back() {
    let cluster = Cluster::start(3, &["--cluster-node-timeout", "500"]);
    let remote = cluster.key_on(1, "r");
    let local = cluster.key_on(0, "l");
    let third = cluster.key_on(2, "t");
    let mut c = cluster.nodes[0].raw();
    for k in [&remote, &local, &third] {
        assert_eq!(cmd(&mut c, &format!("SET {k} v")), "+OK");
    }
    cluster.signal(1, libc::SIGSTOP);
    let addr = format!("127.0.0.1:{}", cluster.nodes[1].port);
    let got = cmd(&mut c, &format!("GET {remote}"));
    assert!(
        got.starts_with("-CLUSTERDOWN ") && got.contains(&addr),
        "{got}"
    );
    // While it is down: fail fast, and every other key answers normally.
    let again = cmd(&mut c, &format!("GET {remote}"));
    assert!(
        again.starts_with("-CLUSTERDOWN ") && again.contains(&addr),
        "{again}"
    );
    let mut other = cluster.nodes[2].raw();
    for _ in 0..20 {
        assert_eq!(cmd(&mut c, &format!("GET {local}")), "\"v\"");
        assert_eq!(cmd(&mut c, &format!("GET {third}")), "\"v\"");
        assert_eq!(cmd(&mut other, &format!("GET {local}")), "\"v\"");
    }
    let size = cmd(&mut c, "DBSIZE");
    assert!(size.starts_with("-CLUSTERDOWN "), "{size}");
    cluster.signal(1, libc::SIGCONT);
    assert!(
        eventually(PEER_BACK, || cmd(&mut c, &format!("GET {remote}"))
            == "\"v\""),
        "the peer is served again after SIGCONT"
    );
    assert_eq!(cmd(&mut c, "DBSIZE"), ":3");
}

#[test]
fn a_killed_node_restarts_from_its_aof_and_is_served_again() {
    let mut cluster = Cluster::start(3, &["--appendonly", "yes", "--appendfsync", "always"]);
    let keys: Vec<String> = (0..60).map(|i| format!("p:{i}")).collect();
    let mut c = cluster.nodes[0].raw();
    for k in &keys {
        assert_eq!(cmd(&mut c, &format!("SET {k} {k}")), "+OK");
    }
    let victim_keys: Vec<&String> = keys.iter().filter(|k| cluster.owner(k) == 2).collect();
    assert!(!victim_keys.is_empty());
    cluster.nodes[2].kill9();
    let got = cmd(&mut c, &format!("GET {}", victim_keys[0]));
    assert!(got.starts_with("-CLUSTERDOWN "), "{got}");
    cluster.restart(2);
    assert!(
        eventually(PEER_BACK, || cmd(
            &mut c,
            &format!("GET {}", victim_keys[0])
        ) == format!("\"{}\"", victim_keys[0])),
        "served again after restart"
    );
    for k in &keys {
        assert_eq!(cmd(&mut c, &format!("GET {k}")), format!("\"{k}\""));
    }
}

#[test]
fn nodes_with_different_member_sets_refuse_each_other() {
    let (pa, pb, pc) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let (a, b, c) = (
        format!("127.0.0.1:{pa}"),
        format!("127.0.0.1:{pb}"),
        format!("127.0.0.1:{pc}"),
    );
    let dir_a = common::temp_dir("mismatch-a");
    let dir_b = common::temp_dir("mismatch-b");
    let na = Server::try_start_on(pa, &dir_a, None, &["--self", &a, "--peers", &b]).expect("a");
    let pb_peers = format!("{a},{c}");
    let _nb =
        Server::try_start_on(pb, &dir_b, None, &["--self", &b, "--peers", &pb_peers]).expect("b");
    let mut raw = na.raw();
    // A key node A thinks node B owns.
    let mut conn = na.conn();
    let key = (0..10_000)
        .map(|i| format!("m{i}"))
        .find(|k| {
            let slot: i64 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(k)
                .query(&mut conn)
                .unwrap();
            let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut conn).unwrap();
            nodes.lines().any(|l| {
                l.contains(&format!("{b}@"))
                    && l.split(' ').skip(8).any(|r| {
                        let (lo, hi) = r.split_once('-').unwrap_or((r, r));
                        lo.parse::<i64>().is_ok_and(|lo| {
                            hi.parse::<i64>().is_ok_and(|hi| (lo..=hi).contains(&slot))
                        })
                    })
            })
        })
        .expect("a key owned by b");
    let got = cmd(&mut raw, &format!("SET {key} v"));
    assert!(
        got.starts_with("-CLUSTERDOWN ") && got.contains(&b) && got.contains("member set"),
        "{got}"
    );
    // Node B never stored it (and refuses A's fan-out of DBSIZE too).
    let info: String = redis::cmd("INFO")
        .arg("keyspace")
        .query(&mut _nb.conn())
        .unwrap();
    assert!(!info.contains("db0:"), "{info}");
    let size = cmd(&mut _nb.raw(), "DBSIZE");
    assert!(size.starts_with("-CLUSTERDOWN "), "{size}");
}

/// Keys for the differential stream: a few per node, plus hash-tagged
/// groups so multi-key writes stay on one node.
fn diff_keys() -> Vec<String> {
    let mut v: Vec<String> = (0..12).map(|i| format!("k{i}")).collect();
    v.extend((0..4).map(|i| format!("{{g}}m{i}")));
    v
}

fn random_command(rng: &mut Rng, keys: &[String]) -> String {
    let k = |rng: &mut Rng| keys[rng.below(keys.len())].clone();
    let g = |rng: &mut Rng| format!("{{g}}m{}", rng.below(4));
    let val = |rng: &mut Rng| {
        rng.pick(&["1", "2", "abc", "-5", "x y", "10"])
            .replace(' ', "_")
    };
    match rng.below(36) {
        // Keys on several nodes: the atomic cross-node path.
        24 => format!("MSET {} {} {} {}", k(rng), val(rng), k(rng), val(rng)),
        25 => format!("DEL {} {} {}", k(rng), k(rng), k(rng)),
        26 => format!("RENAME {} {}", k(rng), k(rng)),
        27 => format!("LMOVE {} {} RIGHT LEFT", k(rng), k(rng)),
        28 => format!("SADD {} {} {}", k(rng), val(rng), val(rng)),
        29 => format!("SMOVE {} {} {}", k(rng), k(rng), val(rng)),
        30 => format!("SUNIONSTORE {} {} {}", k(rng), k(rng), k(rng)),
        31 => format!("MSETNX {} {} {} {}", k(rng), val(rng), k(rng), val(rng)),
        32 => format!("COPY {} {}", k(rng), k(rng)),
        33 => format!("RPOPLPUSH {} {}", k(rng), k(rng)),
        34 => format!("RENAMENX {} {}", k(rng), k(rng)),
        35 => format!("SCARD {}", k(rng)),
        0 => format!("SET {} {}", k(rng), val(rng)),
        1 => format!("GET {}", k(rng)),
        2 => format!("INCR {}", k(rng)),
        3 => format!("APPEND {} {}", k(rng), val(rng)),
        4 => format!("DEL {}", k(rng)),
        5 => format!("EXISTS {} {} {}", k(rng), k(rng), k(rng)),
        6 => format!("MGET {} {} {} {}", k(rng), k(rng), k(rng), k(rng)),
        7 => format!("RPUSH {} {} {}", k(rng), val(rng), val(rng)),
        8 => format!("LPOP {}", k(rng)),
        9 => format!("LRANGE {} 0 -1", k(rng)),
        10 => format!("HSET {} f{} {}", k(rng), rng.below(3), val(rng)),
        11 => format!("HGETALL {}", k(rng)),
        12 => format!("TYPE {}", k(rng)),
        13 => format!("STRLEN {}", k(rng)),
        14 => format!("MSET {} {} {} {}", g(rng), val(rng), g(rng), val(rng)),
        15 => format!("DEL {} {}", g(rng), g(rng)),
        16 => format!("LMOVE {} {} LEFT RIGHT", g(rng), g(rng)),
        17 => format!("RENAME {} {}", g(rng), g(rng)),
        18 => "DBSIZE".to_string(),
        19 => format!("TOUCH {} {}", k(rng), k(rng)),
        20 => format!("GETSET {} {}", k(rng), val(rng)),
        21 => format!("HINCRBY {} f{} 3", k(rng), rng.below(3)),
        22 => format!("SETNX {} {}", k(rng), val(rng)),
        _ => format!("DECRBY {} 2", k(rng)),
    }
}

#[test]
fn random_commands_through_random_nodes_answer_like_one_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        eprintln!("redis-server not installed; skipping");
        return;
    };
    // Redis's own EXEC semantics (errors in their slots, no rollback).
    let cluster = Cluster::start(3, &["--multi-rollback", "no"]);
    let seed = seed();
    let mut rng = Rng(seed);
    let keys = diff_keys();
    let mut r = redis.raw();
    let mut nodes: Vec<Raw> = cluster.nodes.iter().map(|n| n.raw()).collect();
    let mut r3 = redis.raw();
    let mut n3: Vec<Raw> = cluster.nodes.iter().map(|n| n.raw()).collect();
    r3.cmd(&[b"HELLO", b"3"]);
    for n in n3.iter_mut() {
        n.cmd(&[b"HELLO", b"3"]);
    }
    for step in 0..1500 {
        let line = random_command(&mut rng, &keys);
        let i = rng.below(3);
        let (want, got) = if rng.chance(25) {
            (cmd(&mut r3, &line), cmd(&mut n3[i], &line))
        } else {
            (cmd(&mut r, &line), cmd(&mut nodes[i], &line))
        };
        assert_eq!(got, want, "seed {seed} step {step} via node {i}: {line}");
        if rng.chance(3) {
            // A transaction on one hash-tagged group, or (every other
            // time) on keys of several nodes, through a random node.
            let i = rng.below(3);
            let mut script = vec!["MULTI".to_string()];
            let span = if rng.chance(50) {
                &keys[..]
            } else {
                &keys[12..]
            };
            for _ in 0..rng.below(4) + 1 {
                let c = random_command(&mut rng, span);
                if c != "DBSIZE" {
                    script.push(c);
                }
            }
            script.push(format!("GET {{g}}m{}", rng.below(4)));
            script.push("EXEC".to_string());
            for l in &script {
                assert_eq!(
                    cmd(&mut nodes[i], l),
                    cmd(&mut r, l),
                    "seed {seed} step {step} via node {i}: {l}"
                );
            }
        }
    }
    // Same data in the end, read through every node.
    for n in nodes.iter_mut() {
        for k in &keys {
            assert_eq!(
                cmd(n, &format!("TYPE {k}")),
                cmd(&mut r, &format!("TYPE {k}")),
                "{k}"
            );
        }
    }
}

#[test]
fn redis_cli_c_works_against_the_cluster() {
    let Some(cli) = common::which("redis-cli") else {
        eprintln!("redis-cli not installed; skipping");
        return;
    };
    let cluster = Cluster::start(3, &[]);
    let run = |port: u16, args: &[&str]| -> String {
        let out = std::process::Command::new(&cli)
            .args(["-c", "-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    for i in 0..20 {
        let port = cluster.nodes[i % 3].port;
        assert_eq!(
            run(port, &["SET", &format!("cli{i}"), &format!("v{i}")]),
            "OK"
        );
    }
    for i in 0..20 {
        let port = cluster.nodes[(i + 1) % 3].port;
        assert_eq!(run(port, &["GET", &format!("cli{i}")]), format!("v{i}"));
        // Plain redis-cli (no -c) through the relay reads the same.
        let out = std::process::Command::new(&cli)
            .args([
                "-p",
                &cluster.nodes[(i + 2) % 3].port.to_string(),
                "GET",
                &format!("cli{i}"),
            ])
            .output()
            .expect("redis-cli");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("v{i}"));
    }
}

#[test]
fn random_pipelines_through_random_nodes_answer_like_one_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        eprintln!("redis-server not installed; skipping");
        return;
    };
    let cluster = Cluster::start(3, &["--multi-rollback", "no"]);
    let seed = seed();
    let mut rng = Rng(seed);
    let keys = diff_keys();
    let mut r = redis.raw();
    let mut nodes: Vec<Raw> = cluster.nodes.iter().map(|n| n.raw()).collect();
    for round in 0..150 {
        // Relayed, local, gathered and barrier commands (DBSIZE, PING)
        // interleaved in one pipeline: replies must come back in order.
        let mut lines: Vec<String> = (0..rng.below(40) + 1)
            .map(|_| {
                if rng.chance(5) {
                    "PING".to_string()
                } else {
                    random_command(&mut rng, &keys)
                }
            })
            .collect();
        if rng.chance(20) {
            lines.push("MULTI".to_string());
            lines.push(random_command(&mut rng, &keys[12..]).replace("DBSIZE", "PING"));
            lines.push("EXEC".to_string());
        }
        let mut bytes = Vec::new();
        for l in &lines {
            let parts = split(l);
            let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
            bytes.extend(common::encode(&refs));
        }
        let i = rng.below(3);
        nodes[i].send(&bytes);
        r.send(&bytes);
        for l in &lines {
            let got = render(&nodes[i].read_reply());
            let want = render(&r.read_reply());
            assert_eq!(got, want, "seed {seed} round {round} via node {i}: {l}");
        }
    }
}

#[test]
fn requests_for_a_down_peer_pile_up_no_threads_or_connections() {
    let cluster = Cluster::start(2, &["--cluster-node-timeout", "300"]);
    let remote = cluster.key_on(1, "r");
    let list = cluster.key_on(1, "q");
    let pid = cluster.nodes[0].child.id();
    let count = |what: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{what}"))
            .map(|d| d.count())
            .expect("procfs")
    };
    let mut clients: Vec<Raw> = (0..4).map(|_| cluster.nodes[0].raw()).collect();
    assert_eq!(cmd(&mut clients[0], &format!("SET {remote} v")), "+OK");
    let (threads, fds) = (count("task"), count("fd"));
    cluster.signal(1, libc::SIGSTOP);
    let first = cmd(&mut clients[0], &format!("GET {remote}"));
    assert!(first.starts_with("-CLUSTERDOWN "), "{first}");
    // Many plain and blocking requests while it is down: all answered with
    // CLUSTERDOWN, none queued, no thread or connection per request.
    for c in clients.iter_mut() {
        let mut bytes = Vec::new();
        for i in 0..500 {
            let line = if i % 10 == 0 {
                format!("BLPOP {list} 0")
            } else {
                format!("GET {remote}")
            };
            let parts = split(&line);
            let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
            bytes.extend(common::encode(&refs));
        }
        c.send(&bytes);
        for _ in 0..500 {
            let r = render(&c.read_reply());
            assert!(r.starts_with("-CLUSTERDOWN "), "{r}");
        }
    }
    assert!(
        count("task") <= threads,
        "threads grew while the peer was down"
    );
    // The prober may hold one connection attempt open.
    assert!(
        count("fd") <= fds + 1,
        "connections grew while the peer was down"
    );
    cluster.signal(1, libc::SIGCONT);
    assert!(eventually(PEER_BACK, || cmd(
        &mut clients[1],
        &format!("GET {remote}")
    ) == "\"v\""));
}

#[test]
fn a_cluster_client_and_plain_clients_see_the_same_data() {
    let cluster = Cluster::start(3, &[]);
    let urls: Vec<String> = cluster.nodes.iter().map(|n| n.url()).collect();
    let client = redis::cluster::ClusterClient::new(urls).expect("cluster client");
    let mut cc = client.get_connection().expect("cluster connection");
    let keys: Vec<String> = (0..90).map(|i| format!("cc:{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        let _: () = redis::cmd("SET").arg(k).arg(i).query(&mut cc).unwrap();
    }
    let _: () = redis::cmd("MSET")
        .arg("{u}a")
        .arg("1")
        .arg("{u}b")
        .arg("2")
        .query(&mut cc)
        .unwrap();
    for (n, node) in cluster.nodes.iter().enumerate() {
        let mut c = node.conn();
        let vals: Vec<i64> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
        let mut want: Vec<i64> = (0..90).collect();
        want[7] += 100 * n as i64;
        assert_eq!(vals, want);
        let tagged: Vec<i64> = redis::cmd("MGET")
            .arg("{u}a")
            .arg("{u}b")
            .query(&mut c)
            .unwrap();
        assert_eq!(tagged, [1, 2]);
        // A plain client's write is what the cluster client reads next.
        let _: () = redis::cmd("INCRBY")
            .arg(&keys[7])
            .arg(100)
            .query(&mut c)
            .unwrap();
    }
    let v: i64 = redis::cmd("GET").arg(&keys[7]).query(&mut cc).unwrap();
    assert_eq!(v, 307);
}

#[test]
fn one_scan_cursor_returns_every_key_present_for_the_whole_walk() {
    let cluster = Cluster::start(3, &[]);
    let mut writer = cluster.nodes[1].conn();
    let stable: BTreeSet<String> = (0..300).map(|i| format!("stable:{i}")).collect();
    for k in &stable {
        let _: () = redis::cmd("SET").arg(k).arg(1).query(&mut writer).unwrap();
    }
    let mut c = cluster.nodes[0].conn();
    let mut seen = BTreeSet::new();
    let mut cursor = 0u64;
    let mut step = 0;
    loop {
        // Churn through another node while the walk goes on.
        for j in 0..5 {
            let k = format!("churn:{step}:{j}");
            let _: () = redis::cmd("SET").arg(&k).arg(1).query(&mut writer).unwrap();
            if step > 0 {
                let _: i64 = redis::cmd("DEL")
                    .arg(format!("churn:{}:{j}", step - 1))
                    .query(&mut writer)
                    .unwrap();
            }
        }
        step += 1;
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("stable:*")
            .arg("COUNT")
            .arg(10)
            .query(&mut c)
            .unwrap();
        assert!(batch.iter().all(|k| k.starts_with("stable:")), "{batch:?}");
        seen.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
        assert!(step < 10_000, "the walk ends");
    }
    assert_eq!(seen, stable);
}

#[test]
fn the_receiving_side_checks_the_handshake_and_never_relays_again() {
    let cluster = Cluster::start(2, &[]);
    let addrs = cluster.addrs();
    let mine = cluster.key_on(0, "m");
    let theirs = cluster.key_on(1, "t");
    let mut raw = cluster.nodes[0].raw();
    // Not a peer yet: MEMKV.RELAY is an unknown command.
    let r = cmd(&mut raw, &format!("MEMKV.RELAY 0 2 GET {mine}"));
    assert!(r.starts_with("-ERR unknown command 'MEMKV.RELAY'"), "{r}");
    let wrong = format!("MEMKV.HELLO {} 127.0.0.1:1", fingerprint(&addrs) ^ 1);
    assert_eq!(
        cmd(&mut raw, &wrong),
        format!(
            "-ERR memkv cluster: member set mismatch (node {} has a different `self`/`peers` member set)",
            addrs[0]
        )
    );
    let hello = format!("MEMKV.HELLO {} {}", fingerprint(&addrs), addrs[1]);
    assert_eq!(cmd(&mut raw, &hello), "+OK");
    assert_eq!(
        cmd(&mut raw, &format!("MEMKV.RELAY 0 2 SET {mine} v")),
        "+OK"
    );
    // A key this node does not own is refused, never relayed on.
    assert_eq!(
        cmd(&mut raw, &format!("MEMKV.RELAY 0 2 SET {theirs} v")),
        format!(
            "-ERR memkv cluster: key '{theirs}' is owned by {}, not by this node",
            addrs[1]
        )
    );
    let r = cmd(&mut raw, &format!("MEMKV.RELAY 0 2 GET {theirs}"));
    assert!(r.starts_with("-ERR memkv cluster: key"), "{r}");
    // Database and protocol come with each request.
    assert_eq!(
        raw.cmd(&[b"MEMKV.RELAY", b"3", b"3", b"GET", mine.as_bytes()]),
        b"_\r\n"
    );
    assert_eq!(
        raw.cmd(&[b"MEMKV.RELAY", b"0", b"2", b"GET", mine.as_bytes()]),
        b"$1\r\nv\r\n"
    );
    assert_eq!(
        cmd(&mut raw, &format!("MEMKV.RELAY 99 2 GET {mine}")),
        "-ERR DB index is out of range"
    );
    assert_eq!(
        cmd(&mut raw, "MEMKV.RELAY 0 2"),
        "-ERR memkv cluster: malformed relay request"
    );
    // The owner of `theirs` never got it.
    assert_eq!(
        cmd(&mut cluster.nodes[1].raw(), &format!("EXISTS {theirs}")),
        ":0"
    );
}
