//! Membership change (issue 9, item 8): nodes restarted with a different
//! member set hand the keys they no longer own to the new owners in the
//! background; every key stays readable and writable through every node
//! while it moves, writes made meanwhile win, deleted keys stay deleted,
//! TTLs travel with the values, and a big key moves without stopping the
//! server.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::AOF_ALWAYS as AOF;
use common::cluster::Cluster;
use common::{eventually, info_field};

/// How long the background hand-over may take (convergence, not a timing
/// assertion).
const HANDOVER: Duration = Duration::from_secs(60);

/// Keys in db 0 of one node (INFO keyspace is per node).
fn local_keys(c: &mut redis::Connection) -> usize {
    info_field(c, "keyspace", "db0")
        .and_then(|v| {
            v.split(',')
                .find_map(|p| p.strip_prefix("keys="))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// True once no node holds keys of another and every node walked its peers.
fn settled(cluster: &Cluster) -> bool {
    cluster.nodes.iter().all(|n| {
        let mut c = n.conn();
        info_field(&mut c, "cluster", "cluster_handover_keys_left").as_deref() == Some("0")
            && info_field(&mut c, "cluster", "cluster_handover_peers_pending").as_deref()
                == Some("0")
    })
}

fn get(c: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(c).expect("GET")
}

/// Pauses (false) or resumes the walk by which node `i` collects its keys.
fn walk(cluster: &Cluster, i: usize, on: bool) {
    let _: () = redis::cmd("DEBUG")
        .arg("CLUSTER-HANDOVER")
        .arg(on as i32)
        .query(&mut cluster.nodes[i].conn())
        .expect("DEBUG CLUSTER-HANDOVER");
}

fn counter(cluster: &Cluster, i: usize, field: &str) -> u64 {
    info_field(&mut cluster.nodes[i].conn(), "cluster", field)
        .and_then(|v| v.parse().ok())
        .expect("INFO cluster field")
}

/// Grows a 2-node cluster (AOF on) to 3: the new node starts with all
/// three members, then each old node restarts with the new list and
/// reloads its AOF, now holding keys the new node owns. With `paused`, the
/// new node does not walk the others, so keys move only when a command
/// needs them (until `walk(.., 2, true)`).
fn grow(cluster: &mut Cluster, paused: bool) -> Vec<String> {
    let c = cluster.add_node(AOF);
    if paused {
        walk(cluster, c, false);
    }
    let addrs = cluster.addrs();
    for i in 0..c {
        cluster.restart_with(i, &addrs, AOF);
    }
    all_up(cluster);
    addrs
}

/// Waits until every node sees every member up (a restarted node's peers
/// reconnect with backoff).
fn all_up(cluster: &Cluster) {
    let n = cluster.nodes.len().to_string();
    let up = || {
        cluster.nodes.iter().all(|s| {
            info_field(&mut s.conn(), "cluster", "cluster_nodes_up").as_deref() == Some(&n[..])
        })
    };
    assert!(eventually(HANDOVER, up), "every node sees every member");
}

#[test]
fn growing_two_to_three_moves_keys_to_the_new_node_and_loses_none() {
    let mut cluster = Cluster::start(2, AOF);
    let n = 3000;
    let keys: Vec<String> = (0..n).map(|i| format!("k:{i}")).collect();
    {
        let mut c = cluster.nodes[0].conn();
        let mut p = redis::pipe();
        for (i, k) in keys.iter().enumerate() {
            if i % 10 == 0 {
                p.cmd("SET")
                    .arg(k)
                    .arg(format!("v{i}"))
                    .arg("EX")
                    .arg(100_000);
            } else {
                p.cmd("SET").arg(k).arg(format!("v{i}"));
            }
            p.ignore();
        }
        p.cmd("RPUSH").arg("list").arg(&["a", "b", "c"]).ignore();
        p.cmd("HSET")
            .arg("hash")
            .arg(&["f", "1", "g", "2"])
            .ignore();
        p.cmd("SADD").arg("set").arg(&["x", "y"]).ignore();
        p.cmd("ZADD")
            .arg("zset")
            .arg(&["1.5", "m", "2", "n"])
            .ignore();
        p.query::<()>(&mut c).expect("load");
    }
    let addrs = grow(&mut cluster, true);
    let owners = cluster.owners_under(&addrs, &keys);
    let moved = owners.iter().filter(|&&o| o == 2).count();
    assert!(
        moved > n / 5,
        "the new node owns a share of the keys ({moved})"
    );
    let typed = ["list", "hash", "set", "zset"].map(String::from);
    let typed_moved = cluster
        .owners_under(&addrs, &typed)
        .iter()
        .filter(|&&o| o == 2)
        .count();
    let held = counter(&cluster, 0, "cluster_handover_keys_left")
        + counter(&cluster, 1, "cluster_handover_keys_left");
    assert_eq!(
        held as usize,
        moved + typed_moved,
        "the old nodes count what they hold"
    );

    // While keys move: writes and deletes through every node.
    let mut conns: Vec<redis::Connection> = cluster.nodes.iter().map(|s| s.conn()).collect();
    let mut want: HashMap<String, Option<String>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), Some(format!("v{i}"))))
        .collect();
    for (i, k) in keys.iter().enumerate().filter(|(i, _)| i % 7 == 3) {
        let c = &mut conns[i % 3];
        if i % 2 == 0 {
            let _: () = redis::cmd("SET").arg(k).arg("new").query(c).expect("SET");
            want.insert(k.clone(), Some("new".into()));
        } else {
            let d: i64 = redis::cmd("DEL").arg(k).query(c).expect("DEL");
            assert_eq!(d, 1, "DEL {k} finds the key wherever it is");
            want.insert(k.clone(), None);
        }
    }
    // Every key readable through every node, during and after.
    for round in 0..2 {
        for (i, k) in keys.iter().enumerate() {
            let c = &mut conns[(i + round) % 3];
            assert_eq!(get(c, k), want[k], "{k} through node {}", (i + round) % 3);
        }
        if round == 0 {
            // Only what commands needed has moved so far: every string
            // key (read, written or deleted), not the four typed keys.
            let pulled = counter(&cluster, 2, "cluster_handover_keys_received");
            assert_eq!(pulled as usize, moved);
            let held = counter(&cluster, 0, "cluster_handover_keys_left")
                + counter(&cluster, 1, "cluster_handover_keys_left");
            assert_eq!(held as usize, typed_moved);
            assert_eq!(counter(&cluster, 2, "cluster_handover_peers_pending"), 2);
            assert!(!settled(&cluster));
            walk(&cluster, 2, true);
            assert!(
                eventually(HANDOVER, || settled(&cluster)),
                "hand-over finished"
            );
            assert_eq!(
                counter(&cluster, 2, "cluster_handover_keys_received") as usize,
                moved + typed_moved,
            );
        }
    }
    // TTLs travelled with the values.
    for (i, k) in keys.iter().enumerate() {
        if i % 10 == 0 && want[k].as_deref() == Some(&format!("v{i}")[..]) {
            let ttl: i64 = redis::cmd("TTL").arg(k).query(&mut conns[0]).expect("TTL");
            assert!(ttl > 99_000 && ttl <= 100_000, "{k} TTL {ttl}");
        }
    }
    let c = &mut conns[1];
    let l: Vec<String> = redis::cmd("LRANGE")
        .arg("list")
        .arg(0)
        .arg(-1)
        .query(c)
        .unwrap();
    assert_eq!(l, ["a", "b", "c"]);
    let h: Vec<String> = redis::cmd("HMGET")
        .arg("hash")
        .arg("f")
        .arg("g")
        .query(c)
        .unwrap();
    assert_eq!(h, ["1", "2"]);
    let s: i64 = redis::cmd("SCARD").arg("set").query(c).unwrap();
    assert_eq!(s, 2);
    let z: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg("zset")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(c)
        .unwrap();
    assert_eq!(z, [("m".to_string(), 1.5), ("n".to_string(), 2.0)]);

    // Every key is on its owner: each node holds exactly the keys it owns.
    let all: Vec<String> = keys
        .iter()
        .filter(|k| want[*k].is_some())
        .cloned()
        .chain(["list", "hash", "set", "zset"].map(String::from))
        .collect();
    let owners = cluster.owners_under(&addrs, &all);
    for (i, conn) in conns.iter_mut().enumerate() {
        let owned = owners.iter().filter(|&&o| o == i).count();
        assert_eq!(local_keys(conn), owned, "keys held by node {i}");
    }
    let total: i64 = redis::cmd("DBSIZE").query(&mut conns[2]).unwrap();
    assert_eq!(total as usize, all.len());
    let sent: u64 = cluster
        .nodes
        .iter()
        .map(|s| {
            info_field(&mut s.conn(), "cluster", "cluster_handover_keys_sent")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        })
        .sum();
    assert!(sent > 0, "keys were handed over");

    // Deleted keys stay deleted after another restart of every node.
    for i in 0..3 {
        cluster.restart(i);
    }
    all_up(&cluster);
    let mut c = cluster.nodes[2].conn();
    for k in &keys {
        assert_eq!(get(&mut c, k), want[k], "{k} after restarts");
    }
}

#[test]
fn a_big_key_moves_while_other_clients_are_served() {
    let mut cluster = Cluster::start(2, AOF);
    // The new node first (the others still run as a 2-node cluster), so
    // the test knows which names it will own.
    let new = cluster.add_node(AOF);
    let addrs = cluster.addrs();
    let names: Vec<String> = (0..64).map(|i| format!("big:{i}")).collect();
    let owners = cluster.owners_under(&addrs, &names);
    let mine = owners
        .iter()
        .position(|&o| o == new)
        .expect("a name for it");
    let other = owners
        .iter()
        .position(|&o| o != new)
        .expect("a name for the others");
    let written = [names[mine].clone(), names[other].clone()];
    let elements = 200_000;
    let mut c = cluster.nodes[0].conn();
    for name in &written {
        let mut p = redis::pipe();
        for chunk in 0..elements / 10_000 {
            let items: Vec<String> = (0..10_000)
                .map(|j| format!("e{}", chunk * 10_000 + j))
                .collect();
            p.cmd("RPUSH").arg(name).arg(items).ignore();
        }
        p.query::<()>(&mut c).expect("RPUSH");
    }
    for i in 0..new {
        cluster.restart_with(i, &addrs, AOF);
    }
    all_up(&cluster);
    let mut conns: Vec<redis::Connection> = cluster.nodes.iter().map(|s| s.conn()).collect();
    // Other clients keep being answered while the value moves.
    for _ in 0..20 {
        for c in conns.iter_mut() {
            let pong: String = redis::cmd("PING").query(c).unwrap();
            assert_eq!(pong, "PONG");
        }
    }
    assert!(
        eventually(HANDOVER, || settled(&cluster)),
        "hand-over finished"
    );
    assert_eq!(counter(&cluster, new, "cluster_handover_keys_received"), 1);
    for k in &written {
        let len: i64 = redis::cmd("LLEN").arg(k).query(&mut conns[0]).unwrap();
        assert_eq!(len, elements as i64, "{k}");
        let last: String = redis::cmd("LINDEX")
            .arg(k)
            .arg(-1)
            .query(&mut conns[1])
            .unwrap();
        assert_eq!(last, format!("e{}", elements - 1));
    }
    // Each node holds exactly the big key it owns.
    let owners = cluster.owners_under(&addrs, &written);
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(
            local_keys(c),
            owners.iter().filter(|&&o| o == i).count(),
            "node {i}"
        );
    }
}

#[test]
fn a_cross_node_write_on_keys_still_moving_is_atomic_and_complete() {
    let mut cluster = Cluster::start(2, AOF);
    let keys: Vec<String> = (0..400).map(|i| format!("m:{i}")).collect();
    let mut c = cluster.nodes[0].conn();
    for k in &keys {
        let _: () = redis::cmd("SET").arg(k).arg("old").query(&mut c).unwrap();
    }
    let addrs = grow(&mut cluster, true);
    let owners = cluster.owners_under(&addrs, &keys);
    // MSET / MGET / RENAME spanning nodes while keys move (the new node
    // pulls what the commands need: its LOCKs wait for the pulls).
    let mut c = cluster.nodes[1].conn();

    for pair in keys.chunks(2) {
        let got: Vec<Option<String>> = redis::cmd("MGET").arg(pair).query(&mut c).unwrap();
        assert_eq!(got, [Some("old".to_string()), Some("old".to_string())]);
        let _: () = redis::cmd("MSET")
            .arg(&pair[0])
            .arg("a")
            .arg(&pair[1])
            .arg("b")
            .query(&mut c)
            .unwrap();
    }
    let r: String = redis::cmd("RENAME")
        .arg(&keys[0])
        .arg("renamed")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, "OK");
    walk(&cluster, 2, true);
    assert!(
        eventually(HANDOVER, || settled(&cluster)),
        "hand-over finished"
    );
    let mut c = cluster.nodes[2].conn();
    assert_eq!(get(&mut c, &keys[0]), None);
    assert_eq!(get(&mut c, "renamed").as_deref(), Some("a"));
    for (i, k) in keys.iter().enumerate().skip(1) {
        let v = if i % 2 == 0 { "a" } else { "b" };
        assert_eq!(
            get(&mut c, k).as_deref(),
            Some(v),
            "{k} (owner {})",
            owners[i]
        );
    }
}

#[test]
fn a_leaving_node_hands_every_key_to_the_others() {
    let mut cluster = Cluster::start(3, AOF);
    let keys: Vec<String> = (0..1500).map(|i| format!("r:{i}")).collect();
    {
        let mut c = cluster.nodes[0].conn();
        let mut p = redis::pipe();
        for (i, k) in keys.iter().enumerate() {
            p.cmd("SET").arg(k).arg(i).arg("EX").arg(100_000).ignore();
        }
        p.query::<()>(&mut c).expect("load");
    }
    // Every node restarts with node 2 marked as leaving (`-host:port`).
    let mut addrs = cluster.addrs();
    addrs[2] = format!("-{}", addrs[2]);
    for i in 0..3 {
        cluster.restart_with(i, &addrs, AOF);
    }
    all_up(&cluster);
    let mut conns: Vec<redis::Connection> = cluster.nodes.iter().map(|s| s.conn()).collect();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(get(&mut conns[i % 3], k), Some(i.to_string()), "{k}");
    }
    assert!(
        eventually(HANDOVER, || settled(&cluster)),
        "hand-over finished"
    );
    assert_eq!(
        local_keys(&mut conns[2]),
        0,
        "the leaving node holds nothing"
    );
    let owners = cluster.owners_under(&addrs, &keys);
    assert!(owners.iter().all(|&o| o != 2));
    for (i, conn) in conns.iter_mut().enumerate().take(2) {
        let owned = owners.iter().filter(|&&o| o == i).count();
        assert_eq!(local_keys(conn), owned, "node {i}");
    }
    // Then the two others restart without it, and it stops: nothing moves,
    // nothing is missing, TTLs kept.
    cluster.nodes[2].kill9();
    let two = cluster.addrs()[..2].to_vec();
    for i in 0..2 {
        cluster.restart_with(i, &two, AOF);
    }
    let up = || {
        (0..2).all(|i| {
            info_field(&mut cluster.nodes[i].conn(), "cluster", "cluster_nodes_up").as_deref()
                == Some("2")
        })
    };
    assert!(eventually(HANDOVER, up), "the two nodes see each other");
    let mut c = cluster.nodes[1].conn();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(get(&mut c, k), Some(i.to_string()), "{k}");
    }
    let ttl: i64 = redis::cmd("TTL").arg(&keys[7]).query(&mut c).unwrap();
    assert!(ttl > 99_000, "TTL {ttl}");
    assert_eq!(counter(&cluster, 0, "cluster_handover_keys_left"), 0);
    let total: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(total as usize, keys.len());
}
