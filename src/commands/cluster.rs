//! The CLUSTER command family (KEYSLOT, SLOTS, SHARDS, NODES, INFO, MYID,
//! COUNTKEYSINSLOT, GETKEYSINSLOT, HELP) and READONLY / READWRITE / ASKING,
//! with Redis 7.0's reply shapes: they describe memkv's slot table
//! (`crate::cluster::Topology`) so cluster-aware clients (redis-py's
//! RedisCluster, go-redis's ClusterClient, redis-rs `cluster`, `redis-cli
//! -c`) send each command straight to the owner of its keys.
//!
//! memkv nodes have no replicas and no failover: every member is a master,
//! config epochs are the members' positions, and the membership comes from
//! redis.conf, so the commands that change it (MEET, ADDSLOTS, ...) are not
//! offered. Without `self` configured every CLUSTER command answers Redis's
//! "cluster support disabled" error, as a plain Redis does.

use std::fmt::Write as _;

use super::flags::{FAST, LOADING, STALE};
use super::{Args, CmdError, CmdResult, CommandSpec};
use crate::cluster::{SLOTS, Topology, key_slot};
use crate::number::parse_i64;
use crate::server::{Client, Server};

const G: &str = "cluster";
const DISABLED: &str = "ERR This instance has cluster support disabled";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cluster", -2, 0, (0, 0, 0), cluster_help, G)
        .doc("3.0.0", "A container for Redis Cluster commands", "")
        .subs(CLUSTER_SUBCOMMANDS),
    CommandSpec::new(
        "readonly",
        1,
        FAST | LOADING | STALE,
        (0, 0, 0),
        readonly,
        G,
    )
    .doc(
        "3.0.0",
        "Enables read queries for a connection to a cluster replica node",
        "",
    ),
    CommandSpec::new(
        "readwrite",
        1,
        FAST | LOADING | STALE,
        (0, 0, 0),
        readonly,
        G,
    )
    .doc(
        "3.0.0",
        "Disables read queries for a connection to a cluster replica node",
        "",
    ),
    CommandSpec::new("asking", 1, FAST, (0, 0, 0), readonly, G).doc(
        "3.0.0",
        "Sent by cluster clients after an -ASK redirect",
        "",
    ),
];

static CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "cluster|countkeysinslot",
        3,
        STALE,
        (0, 0, 0),
        countkeysinslot,
        G,
    )
    .doc(
        "3.0.0",
        "Return the number of local keys in the specified hash slot",
        "slot",
    ),
    CommandSpec::new(
        "cluster|getkeysinslot",
        4,
        STALE,
        (0, 0, 0),
        getkeysinslot,
        G,
    )
    .doc(
        "3.0.0",
        "Return local key names in the specified hash slot",
        "slot count",
    ),
    CommandSpec::new(
        "cluster|help",
        2,
        LOADING | STALE,
        (0, 0, 0),
        cluster_help,
        G,
    )
    .doc(
        "5.0.0",
        "Show helpful text about the different subcommands",
        "",
    ),
    CommandSpec::new("cluster|info", 2, STALE, (0, 0, 0), info, G).doc(
        "3.0.0",
        "Provides info about Redis Cluster node state",
        "",
    ),
    CommandSpec::new("cluster|keyslot", 3, STALE, (0, 0, 0), keyslot, G).doc(
        "3.0.0",
        "Returns the hash slot of the specified key",
        "key",
    ),
    CommandSpec::new("cluster|myid", 2, STALE, (0, 0, 0), myid, G).doc(
        "3.0.0",
        "Return the node id",
        "",
    ),
    CommandSpec::new("cluster|nodes", 2, STALE, (0, 0, 0), nodes, G).doc(
        "3.0.0",
        "Get Cluster config for the node",
        "",
    ),
    CommandSpec::new("cluster|shards", 2, STALE, (0, 0, 0), shards, G).doc(
        "7.0.0",
        "Get array of cluster slots to node mappings",
        "",
    ),
    CommandSpec::new("cluster|slots", 2, LOADING | STALE, (0, 0, 0), slots, G).doc(
        "3.0.0",
        "Get array of Cluster slot to node mappings",
        "",
    ),
];

const HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "HELP",
    "    Prints this help.",
];

/// The topology, or Redis's error for a server without cluster support.
fn topology(srv: &Server) -> Result<&Topology, CmdError> {
    srv.cluster.as_ref().ok_or(CmdError::Static(DISABLED))
}

fn cluster_help(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    topology(srv)?;
    c.reply.array(HELP.len());
    for line in HELP {
        c.reply.simple(line);
    }
    Ok(())
}

/// READONLY, READWRITE and ASKING: accepted in cluster mode. Every memkv
/// node serves reads and writes for the keys it owns, so there is no
/// replica state to switch.
fn readonly(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    topology(srv)?;
    c.reply.ok();
    Ok(())
}

fn keyslot(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    topology(srv)?;
    c.reply.int(key_slot(&args[2]) as i64);
    Ok(())
}

fn myid(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let id = topology(srv)?.myself().id.clone();
    c.reply.bulk(id.as_bytes());
    Ok(())
}

/// Parses a slot argument: an integer (Redis's integer error) in range
/// (`invalid` otherwise).
fn parse_slot(arg: &[u8], invalid: &'static str) -> Result<u16, CmdError> {
    let n = parse_i64(arg).ok_or(CmdError::NotInteger)?;
    if !(0..SLOTS as i64).contains(&n) {
        return Err(CmdError::Static(invalid));
    }
    Ok(n as u16)
}

/// Live keys of the client's database that hash to `slot`, up to `limit`,
/// newest first as Redis lists a slot's keys. A walk of the database: Redis
/// keeps a slot index instead; clients do not call these on a hot path.
fn keys_in_slot(srv: &Server, db: usize, slot: u16, limit: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if limit == 0 {
        return out;
    }
    for key in srv.store.db(db).keys().keys().rev() {
        if key_slot(key) == slot && !srv.store.is_expired(db, key) {
            out.push(key.to_vec());
            if out.len() >= limit {
                break;
            }
        }
    }
    out
}

fn countkeysinslot(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    topology(srv)?;
    let slot = parse_slot(&args[2], "ERR Invalid slot")?;
    let n = keys_in_slot(srv, c.db, slot, usize::MAX).len();
    c.reply.int(n as i64);
    Ok(())
}

fn getkeysinslot(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    topology(srv)?;
    const BAD: &str = "ERR Invalid slot or number of keys";
    let slot = parse_i64(&args[2]).ok_or(CmdError::NotInteger)?;
    let count = parse_i64(&args[3]).ok_or(CmdError::NotInteger)?;
    if !(0..SLOTS as i64).contains(&slot) || count < 0 {
        return Err(CmdError::Static(BAD));
    }
    let keys = keys_in_slot(srv, c.db, slot as u16, count as usize);
    c.reply.array(keys.len());
    for k in &keys {
        c.reply.bulk(k);
    }
    Ok(())
}

/// Masters serving at least one slot.
fn cluster_size(t: &Topology) -> usize {
    t.slot_counts().iter().filter(|&&n| n > 0).count()
}

/// The CLUSTER INFO text (also used by INFO's Cluster section fields).
fn info_text(t: &Topology) -> String {
    let counts = t.slot_counts();
    let down: usize = counts
        .iter()
        .zip(&t.up)
        .filter(|(_, up)| !**up)
        .map(|(n, _)| *n)
        .sum();
    let state = if down == 0 { "ok" } else { "fail" };
    let mut s = String::new();
    let _ = write!(
        s,
        "cluster_state:{state}\r\n\
         cluster_slots_assigned:{SLOTS}\r\n\
         cluster_slots_ok:{}\r\n\
         cluster_slots_pfail:0\r\n\
         cluster_slots_fail:{down}\r\n\
         cluster_known_nodes:{}\r\n\
         cluster_size:{}\r\n\
         cluster_current_epoch:{}\r\n\
         cluster_my_epoch:{}\r\n\
         cluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_received:0\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n",
        SLOTS - down,
        t.members.len(),
        cluster_size(t),
        t.members.len(),
        t.me + 1,
    );
    s
}

fn info(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let text = info_text(topology(srv)?);
    c.reply.verbatim(text.as_bytes());
    Ok(())
}

/// CLUSTER NODES: one line per member, Redis's format
/// `<id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv>
/// <config-epoch> <link-state> <slot ranges...>`.
fn nodes_text(t: &Topology, now_ms: u64) -> String {
    let ranges = t.ranges();
    let mut s = String::new();
    for (i, m) in t.members.iter().enumerate() {
        let me = t.is_me(i);
        let up = t.up[i];
        let flags = match (me, up) {
            (true, _) => "myself,master",
            (false, true) => "master",
            (false, false) => "master,fail",
        };
        let pong = if me { 0 } else { now_ms };
        let link = if up { "connected" } else { "disconnected" };
        let cport = m.port as u32 + 10000;
        let _ = write!(
            s,
            "{} {}:{}@{} {flags} - 0 {pong} {} {link}",
            m.id,
            m.host,
            m.port,
            cport,
            i + 1
        );
        for &(first, last, owner) in &ranges {
            if owner as usize != i {
                continue;
            }
            if first == last {
                let _ = write!(s, " {first}");
            } else {
                let _ = write!(s, " {first}-{last}");
            }
        }
        s.push('\n');
    }
    s
}

fn nodes(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let text = nodes_text(topology(srv)?, crate::store::unix_ms());
    c.reply.verbatim(text.as_bytes());
    Ok(())
}

/// CLUSTER SLOTS: `[first, last, [host, port, id, {}]]` per range; the
/// fourth element of a node is its (empty) metadata map, as in Redis 7.0.
fn slots(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let t = topology(srv)?;
    let ranges = t.ranges();
    let r = &mut c.reply;
    r.array(ranges.len());
    for &(first, last, owner) in &ranges {
        let m = &t.members[owner as usize];
        r.array(3);
        r.int(first as i64);
        r.int(last as i64);
        r.array(4);
        r.bulk(m.host.as_bytes());
        r.int(m.port as i64);
        r.bulk(m.id.as_bytes());
        r.map(0);
    }
    Ok(())
}

/// CLUSTER SHARDS: one shard per member: its slot ranges as a flat list of
/// integers and its one node.
fn shards(srv: &mut Server, c: &mut Client, _args: &Args) -> CmdResult {
    let t = topology(srv)?;
    let ranges = t.ranges();
    let r = &mut c.reply;
    r.array(t.members.len());
    for (i, m) in t.members.iter().enumerate() {
        let mine: Vec<_> = ranges.iter().filter(|x| x.2 as usize == i).collect();
        r.map(2);
        r.bulk(b"slots");
        r.array(mine.len() * 2);
        for &&(first, last, _) in &mine {
            r.int(first as i64);
            r.int(last as i64);
        }
        r.bulk(b"nodes");
        r.array(1);
        r.map(7);
        r.bulk(b"id");
        r.bulk(m.id.as_bytes());
        r.bulk(b"port");
        r.int(m.port as i64);
        r.bulk(b"ip");
        r.bulk(m.host.as_bytes());
        r.bulk(b"endpoint");
        r.bulk(m.host.as_bytes());
        r.bulk(b"role");
        r.bulk(b"master");
        r.bulk(b"replication-offset");
        r.int(0);
        r.bulk(b"health");
        r.bulk(if t.up[i] { b"online" } else { b"failed" });
    }
    Ok(())
}

/// INFO's `# Cluster` section: Redis's `cluster_enabled`, then memkv's
/// view of the members (known, up, and each member's slots and state).
pub fn info_section(srv: &Server, kv: &mut dyn FnMut(&str, String)) {
    let Some(t) = srv.cluster.as_ref() else {
        kv("cluster_enabled", "0".into());
        return;
    };
    kv("cluster_enabled", "1".into());
    kv("cluster_known_nodes", t.members.len().to_string());
    kv("cluster_nodes_up", t.members_up().to_string());
    let h = &t.handover;
    kv("cluster_handover_keys_left", h.keys_left().to_string());
    kv("cluster_handover_keys_sent", h.sent.to_string());
    kv("cluster_handover_keys_received", h.received.to_string());
    kv(
        "cluster_handover_peers_pending",
        h.peers_pending().to_string(),
    );
    let counts = t.slot_counts();
    for (i, m) in t.members.iter().enumerate() {
        kv(
            &format!("cluster_node{i}"),
            format!(
                "addr={},id={},slots={},state={},myself={}",
                m.addr,
                m.id,
                counts[i],
                if t.up[i] { "up" } else { "down" },
                t.is_me(i) as u8
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_lines_list_every_slot_once() {
        let t = Topology::new(&["127.0.0.1:7001", "127.0.0.1:7002"], "127.0.0.1:7002").unwrap();
        let text = nodes_text(&t, 42);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains(" 127.0.0.1:7001@17001 master - 0 42 1 connected "));
        assert!(lines[1].contains(" 127.0.0.1:7002@17002 myself,master - 0 0 2 connected "));
        let mut seen = vec![false; SLOTS];
        for line in &lines {
            for range in line.split(' ').skip(8) {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                let (a, b) = (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap());
                for s in &mut seen[a..=b] {
                    assert!(!*s);
                    *s = true;
                }
            }
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn info_reports_failed_slots_of_a_down_member() {
        let mut t = Topology::new(&["a:1", "b:2", "c:3"], "a:1").unwrap();
        assert!(info_text(&t).starts_with("cluster_state:ok\r\n"));
        t.up[1] = false;
        let text = info_text(&t);
        let failed = t.slot_counts()[1];
        assert!(text.starts_with("cluster_state:fail\r\n"));
        assert!(text.contains(&format!("cluster_slots_fail:{failed}\r\n")));
        assert!(text.contains("cluster_known_nodes:3\r\ncluster_size:3\r\n"));
    }
}
