//! The CLUSTER command family and cluster-aware clients: KEYSLOT against
//! real Redis Cluster's, reply shapes byte-compared with a one-node Redis
//! cluster, topology agreement between nodes, and redis-rs's ClusterClient
//! routing every key straight to its owner.

mod common;

use std::collections::HashMap;

use common::cluster::Cluster;
use common::script::Rng;
use common::{Raw, Server};

/// Real Redis with cluster support on, owning every slot; None without
/// redis-server on PATH.
fn redis_cluster_node() -> Option<Server> {
    let conf = common::temp_dir("redis-nodes-conf").join("nodes.conf");
    let conf = conf.to_str()?.to_string();
    let r = Server::start_redis(&["--cluster-enabled", "yes", "--cluster-config-file", &conf])?;
    let mut raw = r.raw();
    assert_eq!(
        raw.cmd(&[b"CLUSTER", b"ADDSLOTSRANGE", b"0", b"16383"]),
        b"+OK\r\n"
    );
    // The state turns ok on the node's next cluster cron.
    for _ in 0..500 {
        let info = raw.cmd(&[b"CLUSTER", b"INFO"]);
        if String::from_utf8_lossy(&info).contains("cluster_state:ok") {
            return Some(r);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("redis cluster node did not become ok");
}

fn random_key(rng: &mut Rng) -> Vec<u8> {
    let alphabet = b"ab{}xyz019";
    let len = rng.below(12);
    (0..len)
        .map(|_| {
            if rng.below(20) == 0 {
                rng.below(256) as u8
            } else {
                alphabet[rng.below(alphabet.len())]
            }
        })
        .collect()
}

#[test]
fn keyslot_and_errors_match_redis_cluster() {
    let Some(redis) = redis_cluster_node() else {
        eprintln!("redis-server not installed; skipping");
        return;
    };
    let node = Server::start(&["--self", "127.0.0.1:7001"]);
    let (mut m, mut r) = (node.raw(), redis.raw());
    let mut rng = Rng(7);
    for _ in 0..3000 {
        let key = random_key(&mut rng);
        let req: &[&[u8]] = &[b"CLUSTER", b"KEYSLOT", &key];
        assert_eq!(m.cmd(req), r.cmd(req), "key {key:?}");
    }
    let cases: &[&[&[u8]]] = &[
        &[b"CLUSTER", b"KEYSLOT"],
        &[b"CLUSTER", b"KEYSLOT", b"a", b"b"],
        &[b"CLUSTER", b"COUNTKEYSINSLOT", b"16384"],
        &[b"CLUSTER", b"COUNTKEYSINSLOT", b"-1"],
        &[b"CLUSTER", b"COUNTKEYSINSLOT", b"x"],
        &[b"CLUSTER", b"COUNTKEYSINSLOT", b"12182"],
        &[b"CLUSTER", b"GETKEYSINSLOT", b"1", b"-1"],
        &[b"CLUSTER", b"GETKEYSINSLOT", b"16384", b"1"],
        &[b"CLUSTER", b"GETKEYSINSLOT", b"x", b"1"],
        &[b"CLUSTER", b"GETKEYSINSLOT", b"1", b"x"],
        &[b"CLUSTER", b"GETKEYSINSLOT", b"12182", b"0"],
        &[b"CLUSTER", b"NOSUCH"],
        &[b"CLUSTER"],
        &[b"READONLY"],
        &[b"READWRITE"],
        &[b"ASKING"],
        &[b"READONLY", b"x"],
    ];
    for req in cases {
        assert_eq!(m.cmd(req), r.cmd(req), "{req:?}");
    }
    // Keys in a slot, on the node that owns them.
    for (key, val) in [(&b"foo"[..], &b"1"[..]), (b"{foo}2", b"2"), (b"bar", b"3")] {
        assert_eq!(m.cmd(&[b"SET", key, val]), b"+OK\r\n");
        assert_eq!(r.cmd(&[b"SET", key, val]), b"+OK\r\n");
    }
    for req in [
        &[&b"CLUSTER"[..], b"COUNTKEYSINSLOT", b"12182"][..],
        &[b"CLUSTER", b"GETKEYSINSLOT", b"5061", b"10"],
        &[b"CLUSTER", b"GETKEYSINSLOT", b"12182", b"1"],
    ] {
        assert_eq!(m.cmd(req), r.cmd(req), "{req:?}");
    }
    let both = m.cmd(&[b"CLUSTER", b"GETKEYSINSLOT", b"12182", b"10"]);
    assert!(
        both.starts_with(b"*2\r\n"),
        "{}",
        String::from_utf8_lossy(&both)
    );
}

#[test]
fn cluster_commands_are_disabled_without_self_like_plain_redis() {
    let Some(redis) = Server::start_redis(&[]) else {
        return;
    };
    let node = Server::start(&[]);
    let (mut m, mut r) = (node.raw(), redis.raw());
    for req in [
        &[&b"CLUSTER"[..], b"INFO"][..],
        &[b"CLUSTER", b"SLOTS"],
        &[b"CLUSTER", b"KEYSLOT", b"x"],
        &[b"READONLY"],
        &[b"READWRITE"],
    ] {
        let got = m.cmd(req);
        assert_eq!(got, b"-ERR This instance has cluster support disabled\r\n");
        assert_eq!(got, r.cmd(req), "{req:?}");
    }
    // Redis answers ASKING with OK even without cluster support? It does
    // not: compare rather than assume.
    assert_eq!(m.cmd(&[b"ASKING"]), r.cmd(&[b"ASKING"]));
    let info = m.cmd(&[b"INFO", b"cluster"]);
    assert!(String::from_utf8_lossy(&info).contains("# Cluster\r\ncluster_enabled:0\r\n"));
}

/// Replaces each of `from` (as RESP bulk strings or integers) by a marker,
/// so replies of two servers with other ids and ports can be compared.
fn normalize(reply: &[u8], subs: &[(&str, &str)]) -> String {
    let mut s = String::from_utf8_lossy(reply).into_owned();
    for (from, to) in subs {
        s = s.replace(from, to);
    }
    s
}

fn myid(raw: &mut Raw) -> String {
    let r = raw.cmd(&[b"CLUSTER", b"MYID"]);
    let s = String::from_utf8_lossy(&r).into_owned();
    let id = s.lines().nth(1).unwrap_or_default().to_string();
    assert_eq!(id.len(), 40, "{s}");
    id
}

#[test]
fn one_node_replies_have_redis_shapes() {
    let Some(redis) = redis_cluster_node() else {
        return;
    };
    let cluster = Cluster::start(1, &[]);
    let node = &cluster.nodes[0];
    let (mut m, mut r) = (node.raw(), redis.raw());
    let (mid, rid) = (myid(&mut m), myid(&mut r));
    let mport = node.port.to_string();
    let rport = redis.port.to_string();
    // A lone Redis node does not know its own address: its ip is empty.
    let msubs = [
        (mid.as_str(), "ID"),
        ("$9\r\n127.0.0.1\r\n", "$0\r\n\r\n"),
        (mport.as_str(), "PORT"),
    ];
    let rsubs = [(rid.as_str(), "ID"), (rport.as_str(), "PORT")];
    for proto in [&b"2"[..], b"3"] {
        m.cmd(&[b"HELLO", proto]);
        r.cmd(&[b"HELLO", proto]);
        for req in [&[&b"CLUSTER"[..], b"SLOTS"][..], &[b"CLUSTER", b"SHARDS"]] {
            assert_eq!(
                normalize(&m.cmd(req), &msubs),
                normalize(&r.cmd(req), &rsubs),
                "{req:?} RESP{proto:?}"
            );
        }
        // CLUSTER INFO: Redis's fields, same order and reply type.
        let mi = normalize(&m.cmd(&[b"CLUSTER", b"INFO"]), &msubs);
        let ri = normalize(&r.cmd(&[b"CLUSTER", b"INFO"]), &rsubs);
        let fields = |s: &str| -> Vec<String> {
            s.split("\r\n")
                .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
                .collect()
        };
        assert_eq!(fields(&mi), fields(&ri));
        assert_eq!(mi.as_bytes()[0], ri.as_bytes()[0], "reply type");
        assert!(mi.contains("cluster_state:ok\r\n"), "{mi}");
    }
    m.cmd(&[b"HELLO", b"2"]);
    let nodes = m.cmd(&[b"CLUSTER", b"NODES"]);
    let want = format!(
        "{mid} 127.0.0.1:{mport}@{} myself,master - 0 0 1 connected 0-16383\n",
        node.port as u32 + 10000
    );
    assert_eq!(nodes, format!("${}\r\n{want}\r\n", want.len()).into_bytes());
    let hello = String::from_utf8_lossy(&m.cmd(&[b"HELLO", b"3"])).into_owned();
    assert!(hello.contains("$4\r\nmode\r\n$7\r\ncluster\r\n"), "{hello}");
    let info = String::from_utf8_lossy(&m.cmd(&[b"INFO", b"server"])).into_owned();
    assert!(info.contains("redis_mode:cluster\r\n"));
}

/// slot -> "host:port" from CLUSTER SLOTS.
fn slot_owners(conn: &mut redis::Connection) -> Vec<String> {
    use redis::Value;
    let reply: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(conn)
        .expect("CLUSTER SLOTS");
    let Value::Array(ranges) = reply else {
        panic!("CLUSTER SLOTS: {reply:?}")
    };
    let mut owners = vec![String::new(); 16384];
    for range in ranges {
        let Value::Array(r) = range else {
            panic!("range {range:?}")
        };
        let (Value::Int(first), Value::Int(last), Value::Array(node)) = (&r[0], &r[1], &r[2])
        else {
            panic!("range {r:?}")
        };
        let (Value::BulkString(host), Value::Int(port), Value::BulkString(id)) =
            (&node[0], &node[1], &node[2])
        else {
            panic!("node {node:?}")
        };
        assert_eq!((r.len(), node.len(), id.len()), (3, 4, 40));
        let addr = format!("{}:{port}", String::from_utf8_lossy(host));
        for o in &mut owners[*first as usize..=*last as usize] {
            assert!(o.is_empty(), "slot listed twice");
            *o = addr.clone();
        }
    }
    assert!(owners.iter().all(|o| !o.is_empty()), "every slot covered");
    owners
}

#[test]
fn three_nodes_agree_on_the_topology() {
    let cluster = Cluster::start(3, &[]);
    let addrs = cluster.addrs();
    let mut first = None;
    let mut ids = Vec::new();
    for node in &cluster.nodes {
        let mut c = node.conn();
        let owners = slot_owners(&mut c);
        let mut share: HashMap<&str, usize> = HashMap::new();
        for o in &owners {
            *share.entry(o.as_str()).or_default() += 1;
        }
        assert_eq!(share.len(), 3);
        for a in &addrs {
            let n = share[a.as_str()] as f64 / 16384.0;
            assert!((n - 1.0 / 3.0).abs() <= 0.03, "{a}: {n}");
        }
        match &first {
            None => first = Some(owners),
            Some(f) => assert_eq!(f, &owners, "nodes disagree"),
        }
        let id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut c).unwrap();
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).unwrap();
        assert_eq!(nodes.lines().count(), 3);
        let mine: Vec<&str> = nodes.lines().filter(|l| l.contains("myself")).collect();
        assert_eq!(mine.len(), 1);
        assert!(mine[0].starts_with(&id));
        assert!(mine[0].contains(&format!("127.0.0.1:{}@", node.port)));
        ids.push(id);
        let info: String = redis::cmd("INFO").arg("cluster").query(&mut c).unwrap();
        assert!(
            info.contains("cluster_enabled:1\r\ncluster_known_nodes:3\r\n"),
            "{info}"
        );
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[test]
fn cluster_client_sends_every_key_to_its_owner() {
    let cluster = Cluster::start(3, &[]);
    let urls: Vec<String> = cluster.nodes.iter().map(|n| n.url()).collect();
    let client = redis::cluster::ClusterClient::new(urls).expect("cluster client");
    let mut cc = client.get_connection().expect("cluster connection");
    let n = 600;
    for i in 0..n {
        let key = if i % 3 == 0 {
            format!("{{user{}}}:name", i % 7)
        } else {
            format!("key:{i}")
        };
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(i)
            .query(&mut cc)
            .expect("SET");
        let v: i64 = redis::cmd("GET").arg(&key).query(&mut cc).expect("GET");
        assert_eq!(v, i);
    }
    // Each key lives on exactly the node CLUSTER SLOTS names for its slot.
    let owners = slot_owners(&mut cluster.nodes[0].conn());
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    let mut plain = cluster.nodes[0].conn();
    for i in 0..n {
        let key = if i % 3 == 0 {
            format!("{{user{}}}:name", i % 7)
        } else {
            format!("key:{i}")
        };
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(&key)
            .query(&mut plain)
            .unwrap();
        expected
            .entry(owners[slot as usize].clone())
            .or_default()
            .push(key);
    }
    // Local views only (KEYS may gather from every node): the node's own
    // key count and its keys slot by slot.
    for node in &cluster.nodes {
        let mut c = node.conn();
        let mut want = expected
            .remove(&format!("127.0.0.1:{}", node.port))
            .unwrap_or_default();
        want.sort();
        want.dedup();
        let info: String = redis::cmd("INFO").arg("keyspace").query(&mut c).unwrap();
        assert!(
            info.contains(&format!("db0:keys={},", want.len())),
            "node {}: {info}",
            node.port
        );
        let mut slots: Vec<u16> = Vec::new();
        for k in &want {
            let s: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(k)
                .query(&mut c)
                .unwrap();
            slots.push(s);
        }
        slots.sort();
        slots.dedup();
        let mut keys: Vec<String> = Vec::new();
        for s in slots {
            let mut in_slot: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(s)
                .arg(1000)
                .query(&mut c)
                .unwrap();
            keys.append(&mut in_slot);
        }
        keys.sort();
        assert_eq!(keys, want, "node {}", node.port);
    }
}
