//! Cluster mode: the members named by `self` and `peers`, and which of them
//! owns each hash slot ([`Topology`]). Placement itself is in [`slots`];
//! the CLUSTER command family that describes it to cluster-aware clients is
//! in `commands::cluster`.
//!
//! Every node derives the same topology from the same member *set*: members
//! are sorted by address, so member indexes, node ids, the slot table and the
//! fingerprint agree across nodes whatever order each config file lists them
//! in.

pub mod handover;
pub mod pubsub;
pub mod relay;
pub mod route;
pub mod slots;
pub mod tx;

pub use slots::{SLOTS, key_slot};

use crate::config::Config;

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `host:port` exactly as configured (the member's identity).
    pub addr: String,
    pub host: String,
    pub port: u16,
    /// A Redis-style 40-hex-digit node id, derived from `addr` so every node
    /// names every member alike.
    pub id: String,
}

impl Member {
    fn new(addr: &str) -> Result<Member, String> {
        let (host, port) = addr
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| format!("'{addr}' is not a valid host:port address"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Member {
            addr: addr.to_string(),
            host: host.to_string(),
            port,
            id: node_id(addr),
        })
    }
}

/// 160 bits of stable hash as 40 hex digits (the shape of a Redis node id).
fn node_id(addr: &str) -> String {
    let mut h = slots::fnv1a(addr.as_bytes());
    let mut out = String::with_capacity(40);
    while out.len() < 40 {
        h = slots::mix64(h.wrapping_add(0x9e37_79b9_7f4a_7c15));
        out.push_str(&format!("{h:016x}"));
    }
    out.truncate(40);
    out
}

/// The members and the slot table, fixed at start-up.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Sorted by address; indexes are the same on every node.
    pub members: Vec<Member>,
    /// Index of this node in `members`.
    pub me: usize,
    /// Same on every node with the same member set; compared when two nodes
    /// first connect so nodes that disagree refuse each other.
    pub fingerprint: u64,
    /// Whether each member is reachable, as the relay last saw it (self is
    /// always up). CLUSTER INFO / NODES and INFO report it.
    pub up: Vec<bool>,
    /// slot -> member index.
    table: Vec<u16>,
    /// Keys locked by cross-node transactions (see [`tx`]).
    pub locks: tx::Locks,
    /// Keys moving to their new owners after a membership change.
    pub handover: handover::Handover,
}

impl Topology {
    /// The topology `self` / `peers` describe; `None` when `self` is not
    /// set (a plain server).
    pub fn from_config(cfg: &Config) -> Result<Option<Topology>, String> {
        let Some(me) = cfg.self_addr.as_deref() else {
            if !cfg.peers.is_empty() {
                return Err("'peers' needs 'self' (this node's host:port)".into());
            }
            return Ok(None);
        };
        let mut addrs: Vec<&str> = std::iter::once(me)
            .chain(cfg.peers.iter().map(String::as_str))
            .collect();
        addrs.sort_unstable();
        addrs.dedup();
        Topology::new(&addrs, me).map(Some)
    }

    /// A topology over `addrs` (any order, duplicates ignored) seen from
    /// the member `me`. An address written `-host:port` is a member that is
    /// leaving: it owns no slots (the table is the one the other members
    /// alone would build) and hands its keys over (`handover`).
    pub fn new(addrs: &[&str], me: &str) -> Result<Topology, String> {
        let me = me.strip_prefix('-').unwrap_or(me);
        let mut marked: Vec<(&str, bool)> = addrs
            .iter()
            .map(|a| match a.strip_prefix('-') {
                Some(rest) => (rest, true),
                None => (*a, false),
            })
            .collect();
        marked.sort_unstable();
        let mut merged: Vec<(&str, bool)> = Vec::with_capacity(marked.len());
        for (a, leaving) in marked {
            match merged.last_mut() {
                Some(last) if last.0 == a => last.1 |= leaving,
                _ => merged.push((a, leaving)),
            }
        }
        let addrs: Vec<&str> = merged.iter().map(|m| m.0).collect();
        let active: Vec<usize> = (0..merged.len()).filter(|&i| !merged[i].1).collect();
        if active.is_empty() {
            return Err("every cluster member is marked as leaving".into());
        }
        if addrs.len() > u16::MAX as usize {
            return Err("too many cluster members".into());
        }
        let members = addrs
            .iter()
            .map(|a| Member::new(a))
            .collect::<Result<Vec<_>, _>>()?;
        let me = addrs
            .iter()
            .position(|a| *a == me)
            .ok_or_else(|| format!("'{me}' is not a member"))?;
        // Leaving members are part of the fingerprint (all nodes must agree).
        let named: Vec<String> = merged
            .iter()
            .map(|(a, leaving)| format!("{}{a}", if *leaving { "-" } else { "" }))
            .collect();
        let fingerprint = slots::fnv1a(named.join("\n").as_bytes());
        let active_addrs: Vec<&str> = active.iter().map(|&i| addrs[i]).collect();
        let table = slots::build_table(&active_addrs)
            .into_iter()
            .map(|j| active[j as usize] as u16)
            .collect();
        Ok(Topology {
            up: vec![true; members.len()],
            table,
            locks: tx::Locks::new(me),
            handover: handover::Handover::new(members.len(), me),
            members,
            me,
            fingerprint,
        })
    }

    /// The member that owns `slot`.
    #[inline]
    pub fn owner(&self, slot: u16) -> usize {
        self.table[slot as usize & (SLOTS - 1)] as usize
    }

    /// The member that owns `key`'s slot.
    #[inline]
    pub fn owner_of_key(&self, key: &[u8]) -> usize {
        self.owner(key_slot(key))
    }

    #[inline]
    pub fn is_me(&self, member: usize) -> bool {
        member == self.me
    }

    /// This node.
    pub fn myself(&self) -> &Member {
        &self.members[self.me]
    }

    /// Contiguous slot ranges: (first, last, member), in slot order.
    pub fn ranges(&self) -> Vec<(u16, u16, u16)> {
        slots::ranges(&self.table)
    }

    /// How many slots each member owns.
    pub fn slot_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.members.len()];
        for &m in &self.table {
            counts[m as usize] += 1;
        }
        counts
    }

    /// Members currently reachable (self included).
    pub fn members_up(&self) -> usize {
        self.up.iter().filter(|u| **u).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_derives_the_same_topology() {
        let a = Topology::new(&["127.0.0.1:7002", "127.0.0.1:7001"], "127.0.0.1:7001").unwrap();
        let b = Topology::new(&["127.0.0.1:7001", "127.0.0.1:7002"], "127.0.0.1:7002").unwrap();
        assert_eq!(a.members, b.members);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_eq!((a.me, b.me), (0, 1));
        assert_eq!(a.ranges(), b.ranges());
        for slot in 0..SLOTS as u16 {
            assert_eq!(a.owner(slot), b.owner(slot));
        }
        let c = Topology::new(&["127.0.0.1:7001", "127.0.0.1:7003"], "127.0.0.1:7001").unwrap();
        assert_ne!(a.fingerprint, c.fingerprint);
    }

    #[test]
    fn a_leaving_member_owns_nothing_and_the_others_keep_their_table() {
        let rest = Topology::new(&["h:1", "h:2"], "h:1").unwrap();
        let t = Topology::new(&["h:1", "h:2", "-h:3"], "h:1").unwrap();
        let own = Topology::new(&["h:1", "h:2"], "-h:3");
        assert!(own.is_err(), "a node that is not listed is no member");
        let me = Topology::new(&["h:3", "-h:3", "h:1", "h:2"], "h:3").unwrap();
        assert_eq!(t.members.len(), 3);
        assert_eq!(t.slot_counts()[2], 0);
        assert_eq!((me.me, me.fingerprint), (2, t.fingerprint));
        for slot in 0..SLOTS as u16 {
            assert_eq!(t.owner(slot), rest.owner(slot));
            assert_eq!(me.owner(slot), rest.owner(slot));
        }
        let plain = Topology::new(&["h:1", "h:2", "h:3"], "h:1").unwrap();
        assert_ne!(plain.fingerprint, t.fingerprint);
        assert!(Topology::new(&["-h:1"], "h:1").is_err());
    }

    #[test]
    fn node_ids_are_forty_hex_digits_and_distinct() {
        let t = Topology::new(&["h:1", "h:2", "h:3"], "h:1").unwrap();
        for m in &t.members {
            assert_eq!(m.id.len(), 40);
            assert!(m.id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(t.members[0].id, t.members[1].id);
        assert_eq!(t.members[2].id, node_id("h:3"));
    }

    #[test]
    fn from_config_needs_self_for_peers() {
        let mut cfg = Config::default();
        assert!(Topology::from_config(&cfg).unwrap().is_none());
        cfg.peers = vec!["127.0.0.1:7002".into()];
        assert!(Topology::from_config(&cfg).is_err());
        cfg.self_addr = Some("127.0.0.1:7001".into());
        let t = Topology::from_config(&cfg).unwrap().unwrap();
        assert_eq!(t.members.len(), 2);
        assert_eq!(t.myself().port, 7001);
        assert_eq!(t.slot_counts().iter().sum::<usize>(), SLOTS);
    }
}
