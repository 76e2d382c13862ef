//! Streams in RDB (Redis 7.0's rdbSaveObject / rdbLoadObject for
//! OBJ_STREAM): writing RDB_TYPE_STREAM_LISTPACKS_2 and reading types 15
//! (Redis 5-6), 19 (7.0) and 21 (7.2: consumers carry an active time,
//! which memkv's 7.0 model has no place for and drops).
//!
//! The value is the radix tree of listpacks - key: the node's master id as
//! 128-bit big-endian, value: a listpack with the master entry (live count,
//! deleted count, master field names, 0) and the entries (flags, ms-diff,
//! seq-diff, [field count, fields] values, lp-count) - then the length, last
//! id, first id, max deleted id, entries added and the consumer groups
//! (name, last id, entries read, PEL of id + delivery time + count,
//! consumers with seen time and their PEL ids).
//!
//! memkv's stream nodes are Redis's listpacks in another byte layout (the
//! same entries, deleted ones included, the same master fields and
//! SAMEFIELDS decisions, split by the same limits), so a node is written as
//! exactly the listpack Redis would hold, and a loaded listpack becomes
//! one node with the same entries.
//!
//! Loading checks everything Redis's deep sanitization checks, plus what
//! memkv's model needs (ids ascending, counts matching the entries, every
//! pending entry owned by one consumer), and builds the stream through
//! `Stream::push` / `mark_deleted`.

use std::collections::BTreeMap;

use super::load::Decoder;
use super::pack::{self, Entry, ListpackWriter};
use super::save::{write_len, write_string};
use super::{Error, TYPE_STREAM_LISTPACKS_2, TYPE_STREAM_LISTPACKS_3};
use crate::number::parse_i64;
use crate::store::Sds;
use crate::store::stream::{Consumer, Group, Nack, Node, Stream, StreamId};

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// An id as a radix tree key: ms then seq, big-endian.
fn id_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

fn id_from_key(k: &[u8]) -> Option<StreamId> {
    let ms = u64::from_be_bytes(k.get(..8)?.try_into().ok()?);
    let seq = u64::from_be_bytes(k.get(8..16)?.try_into().ok()?);
    Some(StreamId::new(ms, seq))
}

/// A node's listpack exactly as streamAppendItem built it: the master
/// entry (live count, deleted count, master field names, 0), then every
/// entry, deleted ones included (flags, ms-diff, seq-diff, [field count,
/// fields] values, lp-count). memkv's node blocks hold the same entries.
fn node_listpack(master: StreamId, n: &Node) -> Vec<u8> {
    let mut lp = ListpackWriter::default();
    lp.push_int(n.live as i64);
    lp.push_int(n.total.saturating_sub(n.live) as i64);
    let names = n.master_fields();
    lp.push_int(names.len() as i64);
    for f in names {
        lp.push(f);
    }
    lp.push_int(0);
    for e in n.entries(master) {
        let same = e.fields.same_fields();
        let pairs = e.fields.len() / 2;
        let mut flags = if same { FLAG_SAMEFIELDS } else { 0 };
        if e.deleted {
            flags |= FLAG_DELETED;
        }
        lp.push_int(flags);
        lp.push_int(e.id.ms.wrapping_sub(master.ms) as i64);
        lp.push_int(e.id.seq.wrapping_sub(master.seq) as i64);
        if !same {
            lp.push_int(pairs as i64);
        }
        for (i, f) in e.fields.iter().enumerate() {
            if !same || i % 2 == 1 {
                lp.push(f);
            }
        }
        let count = if same { pairs + 3 } else { 2 * pairs + 4 };
        lp.push_int(count as i64);
    }
    lp.finish()
}

/// The payload of a stream (after the type byte), as
/// RDB_TYPE_STREAM_LISTPACKS_2.
pub fn write(out: &mut Vec<u8>, s: &Stream, compress: bool) {
    write_len(out, s.nodes.len() as u64);
    for (master, n) in &s.nodes {
        write_string(out, &id_key(*master), compress);
        write_string(out, &node_listpack(*master, n), compress);
    }
    write_len(out, s.len() as u64);
    for id in [s.last_id, s.first_id, s.max_deleted] {
        write_len(out, id.ms);
        write_len(out, id.seq);
    }
    write_len(out, s.entries_added);
    write_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        write_string(out, name, compress);
        write_len(out, g.last_id.ms);
        write_len(out, g.last_id.seq);
        write_len(out, g.entries_read as u64);
        write_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            out.extend_from_slice(&id_key(*id));
            out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            write_len(out, nack.delivery_count);
        }
        write_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            write_string(out, cname, compress);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            write_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id_key(*id));
            }
        }
    }
}

// ------------------------------------------------------------------ loading

fn lp_corrupt() -> Error {
    Error::corrupt("Stream listpack integrity check failed.")
}

/// One listpack read back: every entry (id, deleted, fields) in order.
struct NodeIn {
    entries: Vec<(StreamId, bool, Vec<Vec<u8>>)>,
}

/// Redis's lpGetIntegerIfValid: an integer entry, or a string that is one.
fn int_of(e: Option<&Entry>) -> Result<i64, Error> {
    match e {
        Some(Entry::Int(v)) => Ok(*v),
        Some(Entry::Str(s)) => parse_i64(s).ok_or_else(lp_corrupt),
        None => Err(lp_corrupt()),
    }
}

/// A count read from the listpack that must fit in what is left of it.
fn bounded(v: i64, left: usize) -> Result<usize, Error> {
    usize::try_from(v)
        .ok()
        .filter(|n| *n <= left)
        .ok_or_else(lp_corrupt)
}

/// Reads a node's listpack as streamValidateListpackIntegrity walks it
/// (deep).
fn read_node(blob: &[u8], master: StreamId) -> Result<NodeIn, Error> {
    let e = pack::listpack_entries(blob).ok_or_else(lp_corrupt)?;
    if e.is_empty() {
        return Err(Error::corrupt("Empty listpack inside stream"));
    }
    let mut p = 0usize;
    let next = |p: &mut usize| {
        let x = e.get(*p);
        *p += 1;
        x
    };
    let live = int_of(next(&mut p))?;
    let deleted = int_of(next(&mut p))?;
    let nmaster = bounded(int_of(next(&mut p))?, e.len())?;
    let mut master_fields = Vec::with_capacity(nmaster);
    for _ in 0..nmaster {
        master_fields.push(next(&mut p).ok_or_else(lp_corrupt)?.to_vec());
    }
    if int_of(next(&mut p))? != 0 {
        return Err(lp_corrupt());
    }
    let total = live
        .checked_add(deleted)
        .filter(|t| live >= 0 && deleted >= 0 && *t as u64 <= e.len() as u64)
        .ok_or_else(lp_corrupt)? as u64;
    let mut entries = Vec::new();
    let mut live_seen = 0i64;
    for _ in 0..total {
        let flags = int_of(next(&mut p))?;
        let ms = int_of(next(&mut p))?;
        let seq = int_of(next(&mut p))?;
        let id = StreamId::new(
            master.ms.wrapping_add(ms as u64),
            master.seq.wrapping_add(seq as u64),
        );
        let same = flags & FLAG_SAMEFIELDS != 0;
        let (nfields, mut extra) = if same {
            (nmaster, 3)
        } else {
            let n = bounded(int_of(next(&mut p))?, e.len())?;
            (n, 3 + n + 1)
        };
        // Field, value pairs; values only under SAMEFIELDS.
        let mut fields = Vec::with_capacity(nfields * 2);
        for j in 0..nfields {
            let name = match master_fields.get(j).filter(|_| same) {
                Some(m) => m.clone(),
                None => next(&mut p).ok_or_else(lp_corrupt)?.to_vec(),
            };
            fields.push(name);
            fields.push(next(&mut p).ok_or_else(lp_corrupt)?.to_vec());
        }
        extra += nfields;
        if int_of(next(&mut p))? != extra as i64 {
            return Err(lp_corrupt());
        }
        // memkv's model: ids ascend from the master id; a live entry has at
        // least one field.
        let deleted = flags & FLAG_DELETED != 0;
        let after = entries.last().is_none_or(|(prev, _, _)| *prev < id);
        if (nfields == 0 && !deleted) || id < master || !after {
            return Err(lp_corrupt());
        }
        if !deleted {
            live_seen += 1;
        }
        entries.push((id, deleted, fields));
    }
    if p != e.len() || live_seen != live {
        return Err(lp_corrupt());
    }
    Ok(NodeIn { entries })
}

/// Adds a loaded node, deleted entries included, so its layout (master
/// fields, SAMEFIELDS, counts, last id) is the file's.
fn add_node(s: &mut Stream, n: NodeIn) {
    s.start_node();
    for (id, deleted, fields) in &n.entries {
        s.push(*id, fields.iter().map(|f| &f[..]), 0, 0);
        if *deleted {
            s.mark_deleted(*id);
        }
    }
}

fn read_id(d: &mut Decoder) -> Result<StreamId, Error> {
    Ok(StreamId::new(d.length()?, d.length()?))
}

fn read_raw_id(d: &mut Decoder) -> Result<StreamId, Error> {
    id_from_key(d.take(16)?).ok_or(Error::Short)
}

fn read_ms(d: &mut Decoder) -> Result<u64, Error> {
    d.le(8)
}

/// A stream of RDB type `ty` (15, 19 or 21), the type byte already read.
pub fn read(d: &mut Decoder, ty: u8) -> Result<Stream, Error> {
    let mut s = Stream::default();
    // A node is at least a 17-byte key and an 8-byte listpack string.
    let nodes = d.count(25)?;
    let mut prev: Option<StreamId> = None;
    for _ in 0..nodes {
        let key = d.string()?;
        let master = id_from_key(&key)
            .filter(|_| key.len() == 16)
            .ok_or_else(|| {
                Error::corrupt("Stream node key entry is not the size of a stream ID")
            })?;
        let blob = d.string()?;
        if prev.is_some_and(|p| master <= p) {
            // Redis writes its radix tree in order; a repeated or
            // descending key is damage (Redis: "Listpack re-added").
            return Err(Error::corrupt("Listpack re-added with existing key"));
        }
        let n = read_node(&blob, master)?;
        if let (Some(p), Some((first, _, _))) = (prev, n.entries.first())
            && *first <= p
        {
            return Err(lp_corrupt());
        }
        prev = Some(n.entries.last().map_or(master, |e| e.0).max(master));
        add_node(&mut s, n);
    }
    let length = d.length()?;
    let last_id = read_id(d)?;
    if length != s.len() as u64 {
        return Err(Error::corrupt(
            "Stream length inconsistent with rax entries",
        ));
    }
    if last_id < s.last_live() {
        return Err(Error::corrupt("Stream last ID smaller than its last entry"));
    }
    s.last_id = last_id;
    if ty >= TYPE_STREAM_LISTPACKS_2 {
        s.first_id = read_id(d)?;
        s.max_deleted = read_id(d)?;
        s.entries_added = d.length()?;
    } else {
        // Redis 5/6: as Redis 7.0 upgrades such a stream.
        s.max_deleted = StreamId::MIN;
        s.entries_added = length;
        s.first_id = s.first_live_or(StreamId::MAX);
    }
    let groups = d.count(5)?;
    for _ in 0..groups {
        let name = d.string()?.into_owned();
        let last_id = read_id(d)?;
        let entries_read = if ty >= TYPE_STREAM_LISTPACKS_2 {
            d.length()? as i64
        } else {
            s.estimate_distance(last_id)
        };
        if s.groups.contains_key(&name) {
            return Err(Error::corrupt(format!(
                "Duplicated consumer group name {}",
                String::from_utf8_lossy(&name)
            )));
        }
        let group = read_group(d, ty, last_id, entries_read)?;
        s.groups.insert(name, group);
    }
    Ok(s)
}

/// A group's PEL and consumers; every pending entry must end up owned by
/// exactly one consumer.
fn read_group(
    d: &mut Decoder,
    ty: u8,
    last_id: StreamId,
    entries_read: i64,
) -> Result<Group, Error> {
    let mut pel: BTreeMap<StreamId, (u64, u64, Option<Sds>)> = BTreeMap::new();
    for _ in 0..d.count(25)? {
        let id = read_raw_id(d)?;
        let time = read_ms(d)?;
        let count = d.length()?;
        if pel.insert(id, (time, count, None)).is_some() {
            return Err(Error::corrupt(
                "Duplicated global PEL entry loading stream consumer group",
            ));
        }
    }
    let mut consumers = BTreeMap::new();
    for _ in 0..d.count(10)? {
        let cname = d.string()?.into_owned();
        let seen_time = read_ms(d)?;
        if ty == TYPE_STREAM_LISTPACKS_3 {
            // 7.2's active time: memkv's consumer has only the seen time.
            read_ms(d)?;
        }
        if consumers.contains_key(&cname) {
            return Err(Error::corrupt("Duplicate stream consumer detected."));
        }
        let mut c = Consumer {
            seen_time,
            ..Consumer::default()
        };
        for _ in 0..d.count(16)? {
            let id = read_raw_id(d)?;
            let Some(nack) = pel.get_mut(&id) else {
                return Err(Error::corrupt(
                    "Consumer entry not found in group global PEL",
                ));
            };
            if nack.2.is_some() {
                return Err(Error::corrupt(
                    "Duplicated consumer PEL entry  loading a stream consumer group",
                ));
            }
            nack.2 = Some(Sds::new(&cname));
            c.pel.insert(id);
        }
        consumers.insert(cname, c);
    }
    let mut g = Group {
        last_id,
        entries_read,
        consumers,
        ..Group::default()
    };
    for (id, (delivery_time, delivery_count, owner)) in pel {
        let consumer =
            owner.ok_or_else(|| Error::corrupt("Stream CG PEL entry without consumer"))?;
        g.pel.insert(
            id,
            Nack {
                consumer,
                delivery_time,
                delivery_count,
            },
        );
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::{TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2, TYPE_STREAM_LISTPACKS_3};

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn fields(v: &[&str]) -> Box<[Sds]> {
        v.iter().map(|s| Sds::new(s.as_bytes())).collect()
    }

    /// Three nodes of 3, the first and last entries of node 2 deleted,
    /// mixed field sets, a group with pending entries and an idle consumer.
    fn sample() -> Stream {
        let mut s = Stream::default();
        for i in 1..=8u64 {
            let f = if i % 3 == 0 {
                fields(&["other", "12345678901", "x", ""])
            } else {
                fields(&["a", &i.to_string(), "b", &"v".repeat(i as usize * 10)])
            };
            s.append(id(i, i), f, 3, 4096);
        }
        s.remove(id(4, 4));
        s.remove(id(6, 6));
        s.max_deleted = id(6, 6);
        let mut g = Group {
            last_id: id(5, 5),
            entries_read: 5,
            ..Group::default()
        };
        for (i, who) in [(2, "alice"), (5, "bob"), (4, "alice")] {
            g.pel.insert(
                id(i, i),
                Nack {
                    consumer: Sds::new(who.as_bytes()),
                    delivery_time: 1_700_000_000_000 + i,
                    delivery_count: i,
                },
            );
            g.consumers
                .entry(who.as_bytes().to_vec())
                .or_default()
                .pel
                .insert(id(i, i));
        }
        g.consumers.insert(
            b"idle".to_vec(),
            Consumer {
                seen_time: 42,
                ..Consumer::default()
            },
        );
        s.groups.insert(b"g1".to_vec(), g);
        s.groups.insert(
            b"empty".to_vec(),
            Group {
                entries_read: -1,
                ..Group::default()
            },
        );
        s
    }

    /// Redis's digest of the entries (ids, fields, values, in order).
    fn digest(s: &Stream) -> [u8; 20] {
        let mut d = [0u8; 20];
        let v = crate::store::Value::Stream(Box::new(s.clone()));
        crate::store::digest::mix_value(&mut d, &v, false);
        d
    }

    fn same(a: &Stream, b: &Stream) {
        assert_eq!(digest(a), digest(b));
        assert_eq!(a.len(), b.len());
        let nodes = |s: &Stream| -> Vec<_> {
            s.nodes
                .iter()
                .map(|(k, n)| (*k, n.total, n.live, n.last))
                .collect()
        };
        assert_eq!(nodes(a), nodes(b));
        assert_eq!(
            (a.last_id, a.first_id, a.max_deleted, a.entries_added),
            (b.last_id, b.first_id, b.max_deleted, b.entries_added)
        );
        assert_eq!(a.groups.len(), b.groups.len());
        for ((an, ag), (bn, bg)) in a.groups.iter().zip(&b.groups) {
            assert_eq!(an, bn);
            assert_eq!((ag.last_id, ag.entries_read), (bg.last_id, bg.entries_read));
            let pel = |g: &Group| -> Vec<_> {
                g.pel
                    .iter()
                    .map(|(k, n)| (*k, n.consumer.clone(), n.delivery_time, n.delivery_count))
                    .collect()
            };
            assert_eq!(pel(ag), pel(bg));
            let cons = |g: &Group| -> Vec<_> {
                g.consumers
                    .iter()
                    .map(|(k, c)| (k.clone(), c.seen_time, c.pel.clone()))
                    .collect()
            };
            assert_eq!(cons(ag), cons(bg));
        }
    }

    fn payload(s: &Stream, compress: bool) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, s, compress);
        out
    }

    #[test]
    fn round_trip_keeps_nodes_tombstones_and_groups() {
        let s = sample();
        assert_eq!(s.nodes.len(), 3);
        for compress in [false, true] {
            let p = payload(&s, compress);
            let mut d = Decoder::new(&p);
            let back = read(&mut d, TYPE_STREAM_LISTPACKS_2).expect("read");
            assert_eq!(d.pos, p.len());
            same(&s, &back);
            // And byte-identical when written again.
            assert_eq!(payload(&back, compress), p);
        }
        // An empty stream with a group.
        let mut e = Stream::default();
        e.append(id(1, 0), fields(&["f", "v"]), 100, 4096);
        e.remove(id(1, 0));
        e.groups.insert(b"g".to_vec(), Group::default());
        let p = payload(&e, true);
        let back = read(&mut Decoder::new(&p), TYPE_STREAM_LISTPACKS_2).expect("read");
        same(&e, &back);
    }

    /// The version-1 layout (Redis 5/6): no first id, max deleted id,
    /// entries added or group read counters; Redis 7.0 derives them.
    #[test]
    fn listpacks_1_and_3_load() {
        let mut s = Stream::default();
        for i in 1..=3 {
            s.append(id(i, 0), fields(&["f", "v"]), 100, 4096);
        }
        let p = payload(&s, false);
        // Tail of `p`: len 3, last 3 0, first 1 0, max deleted 0 0, added
        // 3, groups 0 (one byte each).
        let n = p.len();
        let mut v1 = p[..n - 6].to_vec();
        v1.push(1); // one group
        v1.extend_from_slice(&[1, b'g', 3, 0]); // "g", last id 3-0
        v1.push(0); // empty PEL
        v1.push(1); // one consumer
        v1.extend_from_slice(&[1, b'c']);
        v1.extend_from_slice(&7u64.to_le_bytes());
        v1.push(0);
        let mut d = Decoder::new(&v1);
        let got = read(&mut d, TYPE_STREAM_LISTPACKS).expect("v1");
        assert_eq!(d.pos, v1.len());
        assert_eq!(got.entries_added, 3);
        assert_eq!(got.first_id, id(1, 0));
        assert_eq!(got.max_deleted, StreamId::MIN);
        let g = &got.groups[&b"g".to_vec()];
        assert_eq!((g.last_id, g.entries_read), (id(3, 0), 3));
        assert_eq!(g.consumers[&b"c".to_vec()].seen_time, 7);
        // Version 3 (7.2): each consumer also has an active time.
        let mut v3 = p[..n - 1].to_vec();
        v3.push(1);
        v3.extend_from_slice(&[1, b'g', 2, 0, 2]); // entries read 2
        v3.push(0);
        v3.push(1);
        v3.extend_from_slice(&[1, b'c']);
        v3.extend_from_slice(&7u64.to_le_bytes());
        v3.extend_from_slice(&9u64.to_le_bytes());
        v3.push(0);
        let mut d = Decoder::new(&v3);
        let got = read(&mut d, TYPE_STREAM_LISTPACKS_3).expect("v3");
        assert_eq!(d.pos, v3.len());
        assert_eq!(
            got.groups[&b"g".to_vec()].consumers[&b"c".to_vec()].seen_time,
            7
        );
        // An empty version-1 stream's first id is the maximum id.
        let empty = [0u8, 0, 0, 0, 0];
        let got = read(&mut Decoder::new(&empty), TYPE_STREAM_LISTPACKS).expect("empty");
        assert_eq!(got.first_id, StreamId::MAX);
    }

    /// Every truncation and every single-byte change of a payload reads
    /// as an error or a value, never a panic; the inconsistent ones are
    /// refused.
    #[test]
    fn damaged_payloads_are_refused_without_panics() {
        let p = payload(&sample(), false);
        for cut in 0..p.len() {
            assert!(read(&mut Decoder::new(&p[..cut]), TYPE_STREAM_LISTPACKS_2).is_err());
        }
        for i in 0..p.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut q = p.clone();
                q[i] ^= x;
                let _ = read(&mut Decoder::new(&q), TYPE_STREAM_LISTPACKS_2);
            }
        }
        let mut p = payload(&sample(), false);
        // Length 6 entries (after the nodes); say 7.
        let mut d = Decoder::new(&p);
        for _ in 0..d.length().expect("nodes") * 2 {
            d.string().expect("node");
        }
        let at = d.pos;
        assert_eq!(p[at], 6);
        p[at] = 7;
        assert_eq!(
            read(&mut Decoder::new(&p), TYPE_STREAM_LISTPACKS_2).err(),
            Some(Error::corrupt(
                "Stream length inconsistent with rax entries"
            ))
        );
    }
}
