//! Atomic cross-node commands (lock, fetch, compute, commit): Redis's
//! replies and data for commands whose keys live on several nodes, readers
//! never see half a write, conflicting writers never deadlock, a dead
//! coordinator's locks expire, a dead participant costs an error, never a
//! hang or a torn acknowledged write.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::cluster::{Cluster, fingerprint};
use common::script::{render, split};
use common::{Raw, Server};

fn cmd(raw: &mut Raw, line: &str) -> String {
    let parts = split(line);
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    render(&raw.cmd(&refs))
}

/// Keys named like `prefix` + n, one on each node in turn (node = i % 3).
fn spread(cluster: &Cluster, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| cluster.key_on(i % cluster.nodes.len(), &format!("{prefix}{i}_")))
        .collect()
}

/// One reader per node reading `a` and `b` with MGET until `stop` (and at
/// least 50 times), asserting it never sees them differ (half a `what`);
/// each returns how many reads it made.
fn spawn_pair_readers(
    cluster: &Arc<Cluster>,
    a: &str,
    b: &str,
    stop: &Arc<AtomicBool>,
    what: &'static str,
) -> Vec<std::thread::JoinHandle<usize>> {
    (0..cluster.nodes.len())
        .map(|node| {
            let (cluster, a, b, stop) =
                (cluster.clone(), a.to_string(), b.to_string(), stop.clone());
            std::thread::spawn(move || {
                let mut raw = cluster.nodes[node].raw();
                let mut reads = 0;
                while !stop.load(Ordering::Acquire) || reads < 50 {
                    let got = cmd(&mut raw, &format!("MGET {a} {b}"));
                    let parts: Vec<&str> = got
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .split(", ")
                        .collect();
                    assert_eq!(parts.len(), 2, "{got}");
                    assert_eq!(parts[0], parts[1], "half a {what} seen via node {node}");
                    reads += 1;
                }
                reads
            })
        })
        .collect()
}

#[test]
fn cross_node_commands_answer_and_store_like_one_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        eprintln!("redis-server not installed; skipping");
        return;
    };
    let cluster = Cluster::start(3, &[]);
    // k[0] on node 0, k[1] on node 1, k[2] on node 2, k[3] on node 0...
    let k = spread(&cluster, "k", 9);
    let script = [
        format!("MSET {} 1 {} 2 {} 3", k[0], k[1], k[2]),
        format!("MGET {} {} {} {}", k[0], k[1], k[2], k[3]),
        format!("MSETNX {} x {} y", k[3], k[1]),
        format!("MSETNX {} x {} y", k[3], k[4]),
        format!("EXISTS {} {} {} {} {}", k[0], k[1], k[2], k[3], k[5]),
        format!("TOUCH {} {} {}", k[0], k[1], k[5]),
        format!("DEL {} {} {}", k[0], k[1], k[5]),
        format!("UNLINK {} {}", k[2], k[3]),
        format!("MGET {} {} {} {} {}", k[0], k[1], k[2], k[3], k[4]),
        format!("SET {} v PX 100000000", k[0]),
        format!("RENAME {} {}", k[0], k[1]),
        format!("TTL {}", k[1]),
        format!("EXISTS {}", k[0]),
        format!("RENAME {} {}", k[0], k[1]),
        format!("RENAMENX {} {}", k[1], k[4]),
        format!("RENAMENX {} {}", k[1], k[2]),
        format!("GET {}", k[2]),
        format!("RPUSH {} a b c", k[3]),
        format!("LMOVE {} {} LEFT RIGHT", k[3], k[4]),
        format!("LMOVE {} {} LEFT RIGHT", k[3], k[5]),
        format!("RPOPLPUSH {} {}", k[3], k[5]),
        format!("LRANGE {} 0 -1", k[5]),
        format!("LMOVE {} {} RIGHT LEFT", k[6], k[5]),
        format!("SADD {} a b c", k[6]),
        format!("SADD {} c d", k[7]),
        format!("SMOVE {} {} a", k[6], k[7]),
        format!("SMOVE {} {} zz", k[6], k[7]),
        format!("SMOVE {} {} a", k[2], k[7]),
        format!("SINTERSTORE {} {} {}", k[8], k[6], k[7]),
        format!("SORT {} ALPHA", k[8]),
        format!("SUNIONSTORE {} {} {}", k[0], k[6], k[7]),
        format!("SORT {} ALPHA", k[0]),
        format!("SDIFFSTORE {} {} {}", k[0], k[7], k[6]),
        format!("SORT {} ALPHA", k[0]),
        format!("SINTERCARD 2 {} {}", k[6], k[7]),
        format!("SUNION {} {}", k[6], k[8]).replace("SUNION", "SINTER"),
        format!("ZADD {} 1 a 2 b", k[1]),
        format!("ZADD {} 3 b 4 c", k[2]),
        format!("ZUNIONSTORE {} 2 {} {}", k[3], k[1], k[2]),
        format!("ZRANGE {} 0 -1 WITHSCORES", k[3]),
        format!("ZINTERSTORE {} 2 {} {} WEIGHTS 2 3", k[4], k[1], k[2]),
        format!("ZRANGE {} 0 -1 WITHSCORES", k[4]),
        format!("COPY {} {}", k[3], k[5]),
        format!("COPY {} {}", k[3], k[6]),
        format!("COPY {} {} REPLACE", k[3], k[6]),
        format!("ZRANGE {} 0 -1 WITHSCORES", k[6]),
        format!("SET {} str", k[7]),
        format!("SUNIONSTORE {} {} {}", k[0], k[7], k[8]),
        format!("LMOVE {} {} LEFT LEFT", k[7], k[8]),
        format!("MSET {} 1 {}", k[0], k[1]),
        format!("RENAME {} {}", k[7], k[7]),
        format!(
            "DEL {} {} {} {} {} {} {} {} {}",
            k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8]
        ),
    ];
    let mut r = redis.raw();
    let mut nodes: Vec<Raw> = cluster.nodes.iter().map(|n| n.raw()).collect();
    for (i, line) in script.iter().enumerate() {
        let node = i % 3;
        let want = cmd(&mut r, line);
        let got = cmd(&mut nodes[node], line);
        assert_eq!(got, want, "step {i} via node {node}: {line}");
    }
    // RESP3 replies of a cross-node read.
    let mut n3 = cluster.nodes[1].raw();
    n3.cmd(&[b"HELLO", b"3"]);
    let mut r3 = redis.raw();
    r3.cmd(&[b"HELLO", b"3"]);
    for line in [
        format!("MSET {} 1 {} 2", k[0], k[1]),
        format!("MGET {} {} {}", k[0], k[1], k[2]),
    ] {
        assert_eq!(cmd(&mut n3, &line), cmd(&mut r3, &line), "{line}");
    }
    // The data is where it belongs: each owner holds its key.
    assert_eq!(cmd(&mut cluster.nodes[0].raw(), "DBSIZE"), ":2");
}

/// Readers through every node never see half of an MSET.
#[test]
fn readers_never_see_half_a_cross_node_write() {
    let cluster = Arc::new(Cluster::start(3, &[]));
    let (a, b) = (cluster.key_on(1, "a"), cluster.key_on(2, "b"));
    cmd(
        &mut cluster.nodes[0].raw(),
        &format!("MSET {a} init {b} init"),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let (cluster, a, b) = (cluster.clone(), a.clone(), b.clone());
        writers.push(std::thread::spawn(move || {
            let mut raw = cluster.nodes[w].raw();
            for i in 0..300 {
                let v = format!("w{w}_{i}");
                assert_eq!(cmd(&mut raw, &format!("MSET {a} {v} {b} {v}")), "+OK");
            }
        }));
    }
    let readers = spawn_pair_readers(&cluster, &a, &b, &stop, "write");
    for w in writers {
        w.join().expect("writer");
    }
    stop.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().expect("reader") >= 50);
    }
}

/// Writers taking the same keys in opposite orders through different
/// nodes all finish (no deadlock), and every write is whole.
#[test]
fn conflicting_cross_node_writes_never_deadlock() {
    let cluster = Arc::new(Cluster::start(3, &[]));
    let (a, b, c) = (
        cluster.key_on(0, "a"),
        cluster.key_on(1, "b"),
        cluster.key_on(2, "c"),
    );
    let mut threads = Vec::new();
    for t in 0..4 {
        let (cluster, a, b, c) = (cluster.clone(), a.clone(), b.clone(), c.clone());
        threads.push(std::thread::spawn(move || {
            let mut raw = cluster.nodes[t % 3].raw();
            for i in 0..150 {
                let v = format!("t{t}_{i}");
                let line = match t {
                    0 => format!("MSET {a} {v} {b} {v} {c} {v}"),
                    1 => format!("MSET {c} {v} {b} {v} {a} {v}"),
                    2 => format!("MSET {b} {v} {a} {v} {c} {v}"),
                    _ => format!("MSET {c} {v} {a} {v} {b} {v}"),
                };
                assert_eq!(cmd(&mut raw, &line), "+OK", "{line}");
            }
        }));
    }
    for t in threads {
        t.join().expect("writer");
    }
    for n in &cluster.nodes {
        let got = cmd(&mut n.raw(), &format!("MGET {a} {b} {c}"));
        let parts: Vec<&str> = got.split(", ").collect();
        assert_eq!(parts.len(), 3, "{got}");
        assert_eq!(parts[0].trim_start_matches('['), parts[1]);
        assert_eq!(parts[1], parts[2].trim_end_matches(']'));
    }
}

/// A coordinator that locks a key and dies: the participant drops the
/// lock after cluster-node-timeout; the waiting client is then served.
#[test]
fn a_dead_coordinators_locks_expire() {
    let cluster = Cluster::start(2, &["--cluster-node-timeout", "800"]);
    let addrs = cluster.addrs();
    let key = cluster.key_on(0, "lk");
    cmd(&mut cluster.nodes[0].raw(), &format!("SET {key} old"));
    let mut coord = cluster.nodes[0].raw();
    let hello = format!("MEMKV.HELLO {} {}", fingerprint(&addrs), addrs[1]);
    assert_eq!(cmd(&mut coord, &hello), "+OK");
    // The participant answers the key's state (the commands that rebuild it).
    let state = coord.cmd(&[b"MEMKV.LOCK", b"tx1", b"w", b"0", b"0", key.as_bytes()]);
    let set = format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nold\r\n",
        key.len()
    );
    assert_eq!(
        state,
        format!("*1\r\n${}\r\n{set}\r\n", set.len()).into_bytes()
    );
    // A second transaction is refused at once (no waiting).
    assert_eq!(
        cmd(&mut coord, &format!("MEMKV.LOCK tx2 w 0 0 {key}")),
        "-TRYAGAIN memkv cluster: a key is locked by another cross-node transaction"
    );
    drop(coord); // the coordinator dies without a decision
    // A plain client waits for the lock, then runs: no hang, no loss.
    let mut c = cluster.nodes[0].raw();
    assert_eq!(cmd(&mut c, &format!("APPEND {key} +new")), ":7");
    assert_eq!(cmd(&mut c, &format!("GET {key}")), "\"old+new\"");
    // COMMIT after the timeout is refused: nothing applied.
    let mut late = cluster.nodes[0].raw();
    cmd(&mut late, &hello);
    let blob = "*3\r\n$3\r\nSET\r\n";
    let r = render(&late.cmd(&[
        b"MEMKV.COMMIT",
        b"tx1",
        b"0",
        key.as_bytes(),
        blob.as_bytes(),
    ]));
    assert_eq!(
        r,
        "-ERR memkv cluster: transaction tx1 holds no lock here (timed out or aborted)"
    );
    // A malformed state is refused and applies nothing.
    let r = cmd(&mut late, &format!("MEMKV.LOCK tx3 w 0 0 {key}"));
    assert!(r.starts_with("[\"*3"), "{r}");
    let r = render(&late.cmd(&[
        b"MEMKV.COMMIT",
        b"tx3",
        b"0",
        key.as_bytes(),
        b"*1\r\n$8\r\nFLUSHALL\r\n",
    ]));
    assert_eq!(r, "-ERR memkv cluster: malformed key state from a peer");
    assert_eq!(cmd(&mut c, &format!("GET {key}")), "\"old+new\"");
    // Not on a plain connection.
    let r = cmd(&mut c, &format!("MEMKV.LOCK tx4 w 0 0 {key}"));
    assert!(r.starts_with("-ERR unknown command 'MEMKV.LOCK'"), "{r}");
}

/// A participant SIGKILLed during a stream of cross-node writes: writes
/// fail with CLUSTERDOWN naming it (no hang); after its restart every
/// acknowledged write is there, whole.
#[test]
fn a_killed_participant_costs_errors_not_torn_acknowledged_writes() {
    let mut cluster = Cluster::start(
        3,
        &[
            "--cluster-node-timeout",
            "1000",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ],
    );
    let (a, b) = (cluster.key_on(1, "a"), cluster.key_on(2, "b"));
    let addr2 = cluster.addrs()[2].clone();
    let mut raw = cluster.nodes[0].raw();
    let mut last_ok = None;
    for i in 0..40 {
        if i == 20 {
            cluster.nodes[2].kill9();
        }
        let r = cmd(&mut raw, &format!("MSET {a} {i} {b} {i}"));
        if r == "+OK" {
            assert!(i < 20, "acknowledged after the kill: {i}");
            last_ok = Some(i);
        } else {
            assert!(
                r.starts_with(&format!("-CLUSTERDOWN node {addr2} is not reachable")),
                "{r}"
            );
        }
    }
    assert_eq!(last_ok, Some(19));
    // Keys of live nodes keep answering.
    assert_eq!(cmd(&mut raw, &format!("GET {a}")), "\"19\"");
    cluster.restart(2);
    let want = "[\"19\", \"19\"]";
    let mut ok = false;
    for _ in 0..100 {
        if cmd(&mut raw, &format!("MGET {a} {b}")) == want {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ok, "{}", cmd(&mut raw, &format!("MGET {a} {b}")));
    assert_eq!(cmd(&mut raw, &format!("MSET {a} z {b} z")), "+OK");
    assert_eq!(
        cmd(&mut cluster.nodes[2].raw(), &format!("GET {b}")),
        "\"z\""
    );
}

/// MULTI ... EXEC over keys of several nodes answers exactly as one memkv
/// node (same replies, same rollback and EXECABORT, SELECT inside).
#[test]
fn cross_node_transactions_answer_like_one_node() {
    let single = Server::start(&[]);
    let cluster = Cluster::start(3, &[]);
    let k = spread(&cluster, "t", 6);
    let script = [
        "MULTI".to_string(),
        format!("SET {} 1", k[0]),
        format!("INCRBY {} 5", k[1]),
        format!("RPUSH {} x y", k[2]),
        format!("RENAME {} {}", k[0], k[3]),
        format!("MGET {} {} {}", k[0], k[1], k[3]),
        "EXEC".to_string(),
        format!("MGET {} {} {}", k[0], k[1], k[3]),
        // A runtime error rolls everything back, on every node.
        "MULTI".to_string(),
        format!("SET {} changed", k[1]),
        format!("DEL {}", k[3]),
        format!("INCR {}", k[2]),
        format!("SET {} never", k[4]),
        "EXEC".to_string(),
        format!("MGET {} {} {} {}", k[1], k[3], k[4], k[2]),
        format!("LRANGE {} 0 -1", k[2]),
        // A queuing error: EXECABORT, nothing applied.
        "MULTI".to_string(),
        format!("SET {} a", k[0]),
        format!("SET {}", k[1]),
        format!("SET {} b", k[2]),
        "EXEC".to_string(),
        format!("EXISTS {} {}", k[0], k[2]),
        // SELECT inside moves the client, as locally.
        "MULTI".to_string(),
        format!("SET {} in0", k[4]),
        "SELECT 2".to_string(),
        format!("SET {} in2", k[5]),
        format!("MSET {} a {} b", k[4], k[0]),
        "EXEC".to_string(),
        format!("MGET {} {} {}", k[4], k[5], k[0]),
        "SELECT 0".to_string(),
        format!("MGET {} {} {}", k[4], k[5], k[0]),
        // Reads only.
        "MULTI".to_string(),
        format!("GET {}", k[4]),
        format!("LLEN {}", k[2]),
        "EXEC".to_string(),
    ];
    let mut one = single.raw();
    for (node, entry) in cluster.nodes.iter().enumerate() {
        let mut via = entry.raw();
        for line in &script {
            let want = cmd(&mut one, line);
            let got = cmd(&mut via, line);
            assert_eq!(got, want, "via node {node}: {line}");
        }
        cmd(&mut one, "FLUSHALL");
        cmd(&mut via, "FLUSHALL");
    }
    // MOVE / COPY ... DB inside a spanning transaction: refused, and as
    // single commands across nodes too.
    let mut raw = cluster.nodes[2].raw();
    assert_eq!(cmd(&mut raw, "MULTI"), "+OK");
    assert_eq!(cmd(&mut raw, &format!("SET {} 1", k[0])), "+QUEUED");
    assert_eq!(cmd(&mut raw, &format!("MOVE {} 3", k[1])), "+QUEUED");
    assert_eq!(
        cmd(&mut raw, "EXEC"),
        "-EXECABORT Transaction discarded because it runs MOVE or COPY ... DB and its keys live on several cluster nodes (memkv cluster: use a {hash tag})"
    );
    assert_eq!(cmd(&mut raw, &format!("EXISTS {}", k[0])), ":0");
    assert_eq!(
        cmd(&mut raw, &format!("COPY {} {} DB 1", k[0], k[1])),
        "-CROSSSLOT Keys in request don't hash to the same node (memkv: blocking commands and COPY ... DB across nodes are not supported; keep their keys on one node with a {hash tag})"
    );
    // WATCH through the key's owner, a write through another node, then a
    // cross-node EXEC: discarded (null), nothing applied.
    let mut w = cluster.nodes[0].raw();
    assert_eq!(cmd(&mut w, &format!("WATCH {}", k[0])), "+OK");
    assert_eq!(
        cmd(&mut cluster.nodes[1].raw(), &format!("SET {} other", k[0])),
        "+OK"
    );
    assert_eq!(cmd(&mut w, "MULTI"), "+OK");
    assert_eq!(
        cmd(&mut w, &format!("MSET {} 1 {} 1", k[0], k[1])),
        "+QUEUED"
    );
    assert_eq!(cmd(&mut w, "EXEC"), "*-1");
    assert_eq!(
        cmd(&mut w, &format!("MGET {} {}", k[0], k[1])),
        "[\"other\", $-1]"
    );
}

/// Readers never see half of a cross-node transaction.
#[test]
fn readers_never_see_half_a_cross_node_transaction() {
    let cluster = Arc::new(Cluster::start(3, &[]));
    let (a, b) = (cluster.key_on(1, "a"), cluster.key_on(2, "b"));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let (cluster, a, b) = (cluster.clone(), a.clone(), b.clone());
        writers.push(std::thread::spawn(move || {
            let mut raw = cluster.nodes[w].raw();
            for _ in 0..200 {
                assert_eq!(cmd(&mut raw, "MULTI"), "+OK");
                assert_eq!(cmd(&mut raw, &format!("INCR {a}")), "+QUEUED");
                assert_eq!(cmd(&mut raw, &format!("INCR {b}")), "+QUEUED");
                let r = cmd(&mut raw, "EXEC");
                assert!(r.starts_with("[:") && r.ends_with(']'), "{r}");
            }
        }));
    }
    let readers = spawn_pair_readers(&cluster, &a, &b, &stop, "transaction");
    for w in writers {
        w.join().expect("writer");
    }
    stop.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().expect("reader") >= 50);
    }
    assert_eq!(
        cmd(&mut cluster.nodes[0].raw(), &format!("MGET {a} {b}")),
        "[\"400\", \"400\"]"
    );
}

/// The coordinating node SIGKILLed in the middle of a stream of cross-node
/// writes: the owners' locks expire (reads through them do not hang), each
/// key holds the last acknowledged write or the one in flight, and the node
/// comes back.
#[test]
fn a_killed_coordinator_leaves_no_lock_behind() {
    let mut cluster = Cluster::start(3, &["--cluster-node-timeout", "1000"]);
    let (a, b) = (cluster.key_on(1, "a"), cluster.key_on(2, "b"));
    let acked = Arc::new(std::sync::atomic::AtomicI64::new(-1));
    let writer = {
        let (mut raw, a, b, acked) = (cluster.nodes[0].raw(), a.clone(), b.clone(), acked.clone());
        std::thread::spawn(move || {
            for i in 0..100_000i64 {
                let v = i.to_string();
                // After the kill the read gets EOF: an empty reply.
                let r = raw.cmd(&[
                    b"MSET",
                    a.as_bytes(),
                    v.as_bytes(),
                    b.as_bytes(),
                    v.as_bytes(),
                ]);
                if r != b"+OK\r\n" {
                    return;
                }
                acked.store(i, Ordering::Release);
            }
        })
    };
    while acked.load(Ordering::Acquire) < 50 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    cluster.nodes[0].kill9();
    writer.join().expect("writer");
    let last = acked.load(Ordering::Acquire);
    let allowed = [last.to_string(), (last + 1).to_string()];
    for node in [1, 2] {
        let mut raw = cluster.nodes[node].raw();
        for key in [&a, &b] {
            let got = cmd(&mut raw, &format!("GET {key}"));
            let v = got.trim_matches('"').to_string();
            assert!(
                allowed.contains(&v),
                "{key} = {got}, last acknowledged {last}"
            );
        }
    }
    // The keys are writable again (their locks expired).
    for (node, key) in [(1, &a), (2, &b)] {
        let mut raw = cluster.nodes[node].raw();
        assert_eq!(cmd(&mut raw, &format!("SET {key} n{node}")), "+OK");
    }
    cluster.restart(0);
    let mut raw = cluster.nodes[0].raw();
    let mut ok = false;
    for _ in 0..100 {
        if cmd(&mut raw, &format!("MSET {a} z {b} z")) == "+OK" {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ok);
    assert_eq!(cmd(&mut raw, &format!("MGET {a} {b}")), "[\"z\", \"z\"]");
}

/// WATCH of a key owned by another node: a write through any node makes
/// EXEC fail (null array, nothing applied); untouched, EXEC runs; UNWATCH
/// forgets it.
#[test]
fn watch_of_a_key_on_another_node_is_honoured() {
    let cluster = Cluster::start(3, &[]);
    let (w, x) = (cluster.key_on(1, "w"), cluster.key_on(2, "x"));
    let mut c = cluster.nodes[0].raw();
    let mut other = cluster.nodes[2].raw();
    // Changed through a third node: EXEC discards.
    assert_eq!(cmd(&mut c, &format!("WATCH {w} {x}")), "+OK");
    assert_eq!(cmd(&mut other, &format!("SET {w} changed")), "+OK");
    assert_eq!(cmd(&mut c, "MULTI"), "+OK");
    assert_eq!(cmd(&mut c, &format!("SET {w} mine")), "+QUEUED");
    assert_eq!(cmd(&mut c, "EXEC"), "*-1");
    assert_eq!(cmd(&mut c, &format!("GET {w}")), "\"changed\"");
    // Untouched: EXEC runs (a transaction on one other node's key too).
    assert_eq!(cmd(&mut c, &format!("WATCH {w}")), "+OK");
    assert_eq!(cmd(&mut c, "MULTI"), "+OK");
    assert_eq!(cmd(&mut c, &format!("SET {w} mine")), "+QUEUED");
    assert_eq!(cmd(&mut c, "EXEC"), "[+OK]");
    assert_eq!(cmd(&mut other, &format!("GET {w}")), "\"mine\"");
    // The watch ended with EXEC: a later change does not matter.
    assert_eq!(cmd(&mut other, &format!("SET {w} again")), "+OK");
    assert_eq!(cmd(&mut c, "MULTI"), "+OK");
    assert_eq!(cmd(&mut c, &format!("SET {x} 1")), "+QUEUED");
    assert_eq!(cmd(&mut c, "EXEC"), "[+OK]");
    // UNWATCH forgets; a watched key expiring counts as changed.
    assert_eq!(cmd(&mut c, &format!("WATCH {w}")), "+OK");
    assert_eq!(cmd(&mut c, "UNWATCH"), "+OK");
    assert_eq!(cmd(&mut other, &format!("SET {w} 3")), "+OK");
    assert_eq!(cmd(&mut c, "MULTI"), "+OK");
    assert_eq!(cmd(&mut c, &format!("INCR {w}")), "+QUEUED");
    assert_eq!(cmd(&mut c, "EXEC"), "[:4]");
    // Watched keys on two nodes, with keys written on a third: one
    // change anywhere discards the whole transaction.
    let local = cluster.key_on(0, "l");
    assert_eq!(cmd(&mut c, &format!("WATCH {w} {x} {local}")), "+OK");
    assert_eq!(cmd(&mut cluster.nodes[1].raw(), &format!("DEL {x}")), ":1");
    assert_eq!(cmd(&mut c, "MULTI"), "+OK");
    assert_eq!(cmd(&mut c, &format!("SET {local} v")), "+QUEUED");
    assert_eq!(cmd(&mut c, "EXEC"), "*-1");
    assert_eq!(cmd(&mut c, &format!("EXISTS {local}")), ":0");
    // DISCARD ends the watch too.
    assert_eq!(cmd(&mut c, &format!("WATCH {w}")), "+OK");
    assert_eq!(cmd(&mut c, "MULTI"), "+OK");
    assert_eq!(cmd(&mut c, "DISCARD"), "+OK");
    assert_eq!(cmd(&mut other, &format!("SET {w} 9")), "+OK");
    assert_eq!(cmd(&mut c, "MULTI"), "+OK");
    assert_eq!(cmd(&mut c, &format!("GET {w}")), "+QUEUED");
    assert_eq!(cmd(&mut c, "EXEC"), "[\"9\"]");
}
