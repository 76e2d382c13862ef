//! The stream value: entries keyed by [`StreamId`] (ms-seq), the stream's
//! counters (last id, entries added, max deleted id, first id) and its
//! consumer groups with their pending entries lists, as Redis's `stream`
//! struct (src/t_stream.c) holds them.
//!
//! Layout: a `BTreeMap<StreamId, Box<[Sds]>>` (fields and values
//! flattened), not yet packed blocks. Beside it, `nodes` mirrors Redis's
//! radix tree of listpacks by entry count (`stream-node-max-entries`):
//! which entries would share a listpack, how many of them are live. That
//! is what makes `~` trimming (whole nodes only), LIMIT and XINFO's
//! radix-tree-keys answer as Redis does. The byte limit of a node
//! (`stream-node-max-bytes`) is not simulated.

use std::collections::{BTreeMap, BTreeSet};

use super::Sds;

/// An entry id: milliseconds and sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next id (Redis's streamIncrID); None past the last possible.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous id (Redis's streamDecrID); None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// `ms-seq`, as replies show it.
    pub fn to_text(self) -> String {
        format!("{}-{}", self.ms, self.seq)
    }
}

/// One pending entry of a group (Redis's streamNACK).
#[derive(Clone, Debug)]
pub struct Nack {
    pub consumer: Sds,
    pub delivery_time: u64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default)]
pub struct Consumer {
    pub seen_time: u64,
    /// Ids this consumer has pending (the group's PEL holds the details).
    pub pel: BTreeSet<StreamId>,
}

/// Redis's SCG_INVALID_ENTRIES_READ.
pub const ENTRIES_READ_INVALID: i64 = -1;

/// A consumer group.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    /// By name, in byte order as Redis's radix tree iterates them.
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

/// One simulated listpack: its entries (live and deleted) and the live ones.
#[derive(Clone, Copy, Debug)]
pub struct Node {
    pub total: u64,
    pub live: u64,
    /// The last id appended to it (a deleted one included, as in Redis).
    pub last: StreamId,
}

/// A stream value.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    pub entries: BTreeMap<StreamId, Box<[Sds]>>,
    /// Simulated listpacks by their master (first) id.
    pub nodes: BTreeMap<StreamId, Node>,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    /// By name, in byte order.
    pub groups: BTreeMap<Vec<u8>, Group>,
}

impl Stream {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends an entry whose id is greater than `last_id` (checked by the
    /// caller). `node_max` is stream-node-max-entries (0 = no limit).
    pub fn append(&mut self, id: StreamId, fields: Box<[Sds]>, node_max: u64) {
        let fresh = match self.nodes.iter_mut().next_back() {
            Some((_, n)) if node_max == 0 || n.total < node_max => {
                n.total += 1;
                n.live += 1;
                n.last = id;
                false
            }
            _ => true,
        };
        if fresh {
            self.nodes.insert(
                id,
                Node {
                    total: 1,
                    live: 1,
                    last: id,
                },
            );
        }
        self.entries.insert(id, fields);
        self.entries_added += 1;
        self.last_id = id;
        if self.entries.len() == 1 {
            self.first_id = id;
        }
    }

    /// Removes one entry (a node whose last live entry goes is dropped, as
    /// Redis frees an emptied listpack). True if it existed.
    pub fn remove(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        if let Some((&master, n)) = self.nodes.range_mut(..=id).next_back() {
            n.live = n.live.saturating_sub(1);
            if n.live == 0 {
                self.nodes.remove(&master);
            }
        }
        true
    }

    /// The first live id, or `empty` if none (Redis's streamGetEdgeID).
    pub fn first_live_or(&self, empty: StreamId) -> StreamId {
        self.entries.keys().next().copied().unwrap_or(empty)
    }

    /// The last live id (0-0 if empty).
    pub fn last_live(&self) -> StreamId {
        self.entries.keys().next_back().copied().unwrap_or_default()
    }

    /// Redis's streamTrim: by MAXLEN (`minid` None) or MINID, whole nodes
    /// first, then (unless `approx`) entries of the first node left;
    /// `limit` bounds the work (0 = none). Returns entries deleted.
    pub fn trim(&mut self, maxlen: u64, minid: Option<StreamId>, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some((&master, &node)) = self.nodes.iter().next() {
            let len = self.entries.len() as u64;
            if minid.is_none() && len <= maxlen {
                break;
            }
            if limit != 0 && deleted + node.live > limit {
                break;
            }
            let remove_node = match minid {
                None => len - node.live >= maxlen,
                Some(min) => node.last < min,
            };
            if remove_node {
                let end = self.nodes.range(master..).nth(1).map(|(k, _)| *k);
                let ids: Vec<StreamId> = match end {
                    Some(e) => self.entries.range(master..e).map(|(k, _)| *k).collect(),
                    None => self.entries.range(master..).map(|(k, _)| *k).collect(),
                };
                for id in ids {
                    self.entries.remove(&id);
                }
                self.nodes.remove(&master);
                deleted += node.live;
                continue;
            }
            if approx {
                break;
            }
            let end = self.nodes.range(master..).nth(1).map(|(k, _)| *k);
            let ids: Vec<StreamId> = match end {
                Some(e) => self.entries.range(master..e).map(|(k, _)| *k).collect(),
                None => self.entries.range(master..).map(|(k, _)| *k).collect(),
            };
            let mut gone = 0;
            for id in ids {
                let stop = match minid {
                    None => self.entries.len() as u64 <= maxlen,
                    Some(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.entries.remove(&id);
                gone += 1;
            }
            if let Some(n) = self.nodes.get_mut(&master) {
                n.live -= gone;
            }
            deleted += gone;
            break;
        }
        if deleted > 0 {
            self.first_id = self.first_live_or(StreamId::MIN);
        }
        deleted
    }

    /// Whether [`Stream::trim`] with these arguments would delete anything
    /// (its first step), so a no-op XTRIM need not pass the choke point.
    pub fn would_trim(
        &self,
        maxlen: u64,
        minid: Option<StreamId>,
        approx: bool,
        limit: u64,
    ) -> bool {
        let Some(node) = self.nodes.values().next() else {
            return false;
        };
        let len = self.entries.len() as u64;
        if minid.is_none() && len <= maxlen {
            return false;
        }
        if limit != 0 && node.live > limit {
            return false;
        }
        let remove_node = match minid {
            None => len - node.live >= maxlen,
            Some(min) => node.last < min,
        };
        if remove_node {
            return true;
        }
        if approx {
            return false;
        }
        match minid {
            None => true,
            Some(min) => self.entries.keys().next().is_some_and(|id| *id < min),
        }
    }

    /// Redis's streamRangeHasTombstones from `start` to the end.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.entries.is_empty() || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted
    }

    /// Redis's streamEstimateDistanceFromFirstEverEntry.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        let added = self.entries_added as i64;
        if self.entries.is_empty() && id <= self.last_id {
            return added;
        }
        if id == self.last_id {
            return added;
        } else if id > self.last_id {
            return ENTRIES_READ_INVALID;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            if id < self.first_id {
                return added - self.entries.len() as i64;
            } else if id == self.first_id {
                return added - self.entries.len() as i64 + 1;
            }
        }
        ENTRIES_READ_INVALID
    }

    /// A group's lag (XINFO), None when it cannot be known.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_INVALID && !self.has_tombstones_from(g.last_id) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        (read != ENTRIES_READ_INVALID).then(|| self.entries_added as i64 - read)
    }

    /// A group delivered `id` (new, beyond its last id): moves the group's
    /// last id and read counter as Redis's streamReplyWithRange does.
    pub fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != ENTRIES_READ_INVALID && !self.has_tombstones_from(id) {
            g.entries_read += 1;
        } else if self.entries_added != 0 {
            g.entries_read = self.estimate_distance(id);
        }
        g.last_id = id;
    }

    /// Approximate heap bytes (MEMORY USAGE, eviction accounting).
    pub fn heap_size(&self) -> usize {
        let mut n = 0;
        for f in self.entries.values() {
            n += 48 + f.len() * std::mem::size_of::<Sds>();
            n += f.iter().map(|s| s.heap_size()).sum::<usize>();
        }
        n + self.nodes.len() * 48 + self.groups.len() * 128
    }
}

/// The commands that recreate a stream (Redis's rewriteStreamObject): XADD
/// per entry (an empty stream via `XADD MAXLEN 0 0-1 x y`), XSETID with
/// the counters, then per group XGROUP CREATE ... ENTRIESREAD, and per
/// consumer XCLAIM ... FORCE for each pending entry, or XGROUP
/// CREATECONSUMER when it has none.
pub fn serialize(out: &mut Vec<u8>, key: &[u8], s: &Stream) {
    use crate::aof::propagate::encode_into;
    if s.entries.is_empty() {
        let parts: [&[u8]; 7] = [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"];
        encode_into(out, parts.into_iter());
    }
    for (id, fields) in &s.entries {
        let id = id.to_text();
        let head: [&[u8]; 3] = [b"XADD", key, id.as_bytes()];
        encode_into(out, head.into_iter().chain(fields.iter().map(|f| &f[..])));
    }
    let (last, added, maxdel) = (
        s.last_id.to_text(),
        s.entries_added.to_string(),
        s.max_deleted.to_text(),
    );
    let parts: [&[u8]; 7] = [
        b"XSETID",
        key,
        last.as_bytes(),
        b"ENTRIESADDED",
        added.as_bytes(),
        b"MAXDELETEDID",
        maxdel.as_bytes(),
    ];
    encode_into(out, parts.into_iter());
    for (name, g) in &s.groups {
        let (gid, read) = (g.last_id.to_text(), g.entries_read.to_string());
        let parts: [&[u8]; 7] = [
            b"XGROUP",
            b"CREATE",
            key,
            name,
            gid.as_bytes(),
            b"ENTRIESREAD",
            read.as_bytes(),
        ];
        encode_into(out, parts.into_iter());
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                let parts: [&[u8]; 5] = [b"XGROUP", b"CREATECONSUMER", key, name, cname];
                encode_into(out, parts.into_iter());
                continue;
            }
            for id in &c.pel {
                let Some(n) = g.pel.get(id) else { continue };
                let (id, time, count) = (
                    id.to_text(),
                    n.delivery_time.to_string(),
                    n.delivery_count.to_string(),
                );
                let parts: [&[u8]; 12] = [
                    b"XCLAIM",
                    key,
                    name,
                    cname,
                    b"0",
                    id.as_bytes(),
                    b"TIME",
                    time.as_bytes(),
                    b"RETRYCOUNT",
                    count.as_bytes(),
                    b"JUSTID",
                    b"FORCE",
                ];
                encode_into(out, parts.into_iter());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64) -> StreamId {
        StreamId::new(ms, 0)
    }

    fn filled(n: u64, node_max: u64) -> Stream {
        let mut s = Stream::default();
        for i in 1..=n {
            s.append(id(i), Box::new([Sds::new(b"f"), Sds::new(b"v")]), node_max);
        }
        s
    }

    #[test]
    fn approx_trim_removes_whole_nodes_only() {
        let mut s = filled(250, 100);
        assert_eq!(s.nodes.len(), 3);
        assert_eq!(s.trim(120, None, true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(10, None, false, 0), 140);
        assert_eq!(s.len(), 10);
        assert_eq!(s.first_id, id(241));
    }

    #[test]
    fn minid_trim_and_ids() {
        let mut s = filled(10, 4);
        assert_eq!(s.trim(0, Some(id(6)), false, 0), 5);
        assert_eq!(s.first_id, id(6));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(id(2)));
        assert_eq!(id(0).decr(), None);
    }

    #[test]
    fn would_trim_agrees_with_trim() {
        for (maxlen, minid, approx, limit) in [
            (5, None, false, 0),
            (20, None, false, 0),
            (5, None, true, 0),
            (3, None, true, 0),
            (0, Some(id(2)), true, 0),
            (0, Some(id(5)), true, 0),
            (0, Some(id(1)), false, 0),
            (0, None, true, 2),
        ] {
            let mut s = filled(10, 4);
            let predicted = s.would_trim(maxlen, minid, approx, limit);
            assert_eq!(predicted, s.trim(maxlen, minid, approx, limit) > 0);
        }
    }

    #[test]
    fn removing_last_live_entry_drops_node() {
        let mut s = filled(3, 100);
        assert!(s.remove(id(1)) && s.remove(id(2)) && s.remove(id(3)));
        assert!(s.nodes.is_empty());
        assert!(!s.remove(id(3)));
    }
}
