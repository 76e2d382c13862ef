//! Test clusters: N memkv nodes on free loopback ports, each started with
//! `self` and `peers` naming all of them; every node is killed on drop.

use super::{Server, free_port, temp_dir};

pub struct Cluster {
    pub nodes: Vec<Server>,
}

impl Cluster {
    /// Starts `n` nodes with `extra` directives added to each.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        for _attempt in 0..5 {
            let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
            let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
            let mut nodes = Vec::new();
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
                match Server::try_start_on(port, &dir, None, &args) {
                    Some(s) => nodes.push(s),
                    None => break,
                }
            }
            if nodes.len() == n {
                return Cluster { nodes };
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
