//! Test clusters: N memkv nodes on free loopback ports, each started with
//! `self` and `peers` naming all of them; every node is killed on drop.

use super::{Server, free_port, temp_dir};

pub struct Cluster {
    pub nodes: Vec<Server>,
    /// The directives each node was started with (for restarts).
    pub args: Vec<Vec<String>>,
}

impl Cluster {
    /// Starts `n` nodes with `extra` directives added to each.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        for _attempt in 0..5 {
            let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
            let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
            let mut nodes = Vec::new();
            let mut all_args = Vec::new();
            for (i, &port) in ports.iter().enumerate() {
                let peers: Vec<&str> = addrs
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, a)| a.as_str())
                    .collect();
                let peers = peers.join(",");
                let mut args = vec!["--self", addrs[i].as_str()];
                if !peers.is_empty() {
                    args.extend(["--peers", peers.as_str()]);
                }
                args.extend_from_slice(extra);
                let dir = temp_dir("cluster");
                all_args.push(args.iter().map(|a| a.to_string()).collect());
                match Server::try_start_on(port, &dir, None, &args) {
                    Some(s) => nodes.push(s),
                    None => break,
                }
            }
            if nodes.len() == n {
                return Cluster {
                    nodes,
                    args: all_args,
                };
            }
        }
        panic!("cluster did not start");
    }

    /// `host:port` of every node, in start order.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect()
    }
}

impl Cluster {
    /// The index of the node that owns `key` (asked of node 0: CLUSTER
    /// KEYSLOT, then CLUSTER SLOTS).
    pub fn owner(&self, key: &str) -> usize {
        let mut c = self.nodes[0].conn();
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut c)
            .expect("CLUSTER KEYSLOT");
        let slots: Vec<(i64, i64, (String, u16))> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query::<Vec<redis::Value>>(&mut c)
            .expect("CLUSTER SLOTS")
            .into_iter()
            .map(|v| {
                let redis::Value::Array(items) = v else {
                    panic!("slot range is not an array")
                };
                let lo: i64 = redis::from_redis_value(items[0].clone()).expect("start");
                let hi: i64 = redis::from_redis_value(items[1].clone()).expect("end");
                let redis::Value::Array(node) = items[2].clone() else {
                    panic!("node is not an array")
                };
                let host: String = redis::from_redis_value(node[0].clone()).expect("host");
                let port: u16 = redis::from_redis_value(node[1].clone()).expect("port");
                (lo, hi, (host, port))
            })
            .collect();
        let (_, _, (_, port)) = slots
            .iter()
            .find(|(lo, hi, _)| (*lo..=*hi).contains(&slot))
            .expect("slot covered");
        self.nodes
            .iter()
            .position(|n| n.port == *port)
            .expect("owner is a node")
    }

    /// A key (`prefix` + a number) owned by node `i`.
    pub fn key_on(&self, i: usize, prefix: &str) -> String {
        (0..10_000)
            .map(|n| format!("{prefix}{n}"))
            .find(|k| self.owner(k) == i)
            .expect("some key lands on every node")
    }

    /// SIGKILLs node `i` and starts it again on the same port and directory
    /// (so it reloads its AOF).
    pub fn restart(&mut self, i: usize) {
        let port = self.nodes[i].port;
        let dir = self.nodes[i].dir.clone();
        self.nodes[i].kill9();
        let args: Vec<&str> = self.args[i].iter().map(String::as_str).collect();
        for _ in 0..50 {
            if let Some(s) = Server::try_start_on(port, &dir, None, &args) {
                let mut old = std::mem::replace(&mut self.nodes[i], s);
                // The directory now belongs to the new process.
                old.dir = std::path::PathBuf::new();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("node {i} did not restart on port {port}");
    }

    /// Sends `sig` (libc::SIGSTOP, SIGCONT...) to node `i`.
    pub fn signal(&self, i: usize, sig: i32) {
        // SAFETY: kill(2) on a child process we own.
        let rc = unsafe { libc::kill(self.nodes[i].child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill({sig})");
    }
}

/// The member-set fingerprint as every node computes it (FNV-1a 64 of the
/// sorted addresses joined by newlines).
pub fn fingerprint(addrs: &[String]) -> u64 {
    let mut sorted = addrs.to_vec();
    sorted.sort();
    sorted
        .join("\n")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

impl Cluster {
    /// Starts one more node whose member list is every current node plus
    /// itself (the others keep their lists until `restart_with`); returns
    /// its index.
    pub fn add_node(&mut self, extra: &[&str]) -> usize {
        for _attempt in 0..5 {
            let port = free_port();
            let me = format!("127.0.0.1:{port}");
            let mut addrs = self.addrs();
            addrs.push(me.clone());
            let args = member_args(&me, &addrs, extra);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let dir = temp_dir("cluster");
            if let Some(s) = Server::try_start_on(port, &dir, None, &refs) {
                self.nodes.push(s);
                self.args.push(args);
                return self.nodes.len() - 1;
            }
        }
        panic!("the new node did not start");
    }

    /// SIGKILLs node `i` and starts it again (reloading its AOF) with
    /// `self` + `peers` naming exactly `addrs` (a membership change).
    pub fn restart_with(&mut self, i: usize, addrs: &[String], extra: &[&str]) {
        let me = format!("127.0.0.1:{}", self.nodes[i].port);
        self.args[i] = member_args(&me, addrs, extra);
        self.restart(i);
    }

    /// Which node owns each of `keys` under the member set `addrs`, as every
    /// node computes it (`memkv::cluster::Topology`).
    pub fn owners_under(&self, addrs: &[String], keys: &[String]) -> Vec<usize> {
        let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
        let t = memkv::cluster::Topology::new(&refs, refs[0]).expect("topology");
        keys.iter()
            .map(|k| {
                let m = &t.members[t.owner_of_key(k.as_bytes())];
                self.nodes
                    .iter()
                    .position(|n| n.port == m.port)
                    .expect("owner is a node")
            })
            .collect()
    }
}

/// `--self me --peers <addrs but me>` plus `extra`.
pub fn member_args(me: &str, addrs: &[String], extra: &[&str]) -> Vec<String> {
    let peers: Vec<&str> = addrs
        .iter()
        .map(String::as_str)
        .filter(|a| *a != me)
        .collect();
    let mut args = vec!["--self".to_string(), me.to_string()];
    if !peers.is_empty() {
        args.push("--peers".into());
        args.push(peers.join(","));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}
